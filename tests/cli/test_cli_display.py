"""Run display and summary: the log path on its own line, the iteration bar's budget, the
headline gradient error; the sweep display (phases, overall row); gradcheck --sweep-eps one
table per representation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from typer.testing import CliRunner

from insr.cli import app
from insr.cli import run as cli_run
from insr.cli.app import console
from insr.cli.progress import RunProgress, gradient_error_note
from insr.verdict import RunVerdict


@dataclass
class _Result:
    log_path: Path
    status: str = "complete"
    completed_steps: int = 3
    seconds: float = 1.5
    last_metrics: dict = field(default_factory=lambda: {"field_max_error": 1e-3})
    verdict: RunVerdict = field(default_factory=lambda: RunVerdict("ok", -1))


def test_summary_prints_the_log_path_on_its_own_line_untruncated():
    path = Path("/tmp") / ("deep-" * 30) / "advection1d" / "siren-20260101-000000" / "run.h5"
    with console.capture() as cap:
        cli_run._print_run_summary(_Result(path), quiet=False)
    lines = cap.get().splitlines()
    assert f"log: {path}" in lines  # whole, on one line of its own


def test_iteration_bar_total_is_the_current_budget():
    p = RunProgress(total_steps=3, first_step=0, max_iters=100, quiet=False, init_iters=500)
    with p:
        task = lambda: p.progress.tasks[p.iters]  # noqa: E731
        p("step", {"step": 0, "t": 0.0})
        assert task().total == 500
        p("iter", {"name": "fit", "iteration": 500, "loss": 1e-3})
        assert task().completed == task().total  # a spent budget fills the bar
        p("step", {"step": 1, "t": 0.05})
        assert task().total == 100 and task().completed == 0


def test_live_display_shows_the_first_logged_gradient_error():
    m = {"loss": 1.0, "gradient_rel_error_fd": 0.25, "gradient_rel_error_autodiff": 0.5}
    assert gradient_error_note(m) == "∇err(fd) 25%"
    assert gradient_error_note({"gradient_rel_error_autodiff": 0.02981}) == "∇err(autodiff) 2.98%"
    assert gradient_error_note({"loss": 1.0}) == ""
    p = RunProgress(total_steps=3, first_step=0, max_iters=10, quiet=False)
    with p:
        p("done", {"step": 0, "metrics": {"field_max_error": 1e-3, **m}})
        info = p.progress.tasks[p.steps].fields["info"]
    assert info.startswith("∇err(fd) 25%")


def test_the_default_runs_gradient_error_fits_an_80_column_display(monkeypatch):
    """The info column at 80 columns holds the whole note of the default strategy."""
    from insr.cli import progress

    monkeypatch.setattr(progress.err_console, "_width", 80)
    assert progress.err_console.width == 80
    note = gradient_error_note({"gradient_rel_error_autodiff": 0.1234})
    assert len(note) <= progress.info_width(), (note, progress.info_width())


def test_sweep_eps_prints_one_table_per_representation():
    from insr.fields import field_kinds

    res = CliRunner().invoke(
        app, ["gradcheck", "--sweep-eps", "--dim", "1", "--points", "2"], terminal_width=200
    )
    assert res.exit_code == 0, res.output
    lines = [ln.strip() for ln in res.output.splitlines()]
    kinds = field_kinds()
    for k in kinds:
        assert lines.count(k) == 1  # the title of its own table
    assert sum(ln.startswith("┏") for ln in lines) == len(kinds)
    assert max(len(ln) for ln in res.output.splitlines()) <= 120  # no 16-column table


def test_sweep_display_shows_phases_and_an_overall_row_sized_to_the_remaining_work():
    from insr.cli.progress import SweepProgress
    from insr.compare import MemberOutcome

    p = SweepProgress(quiet=True)
    p("plan", {"members": [("alpha", 3), ("b", 3)]})
    tasks = {t.description.strip(): t for t in p.progress.tasks}
    assert set(tasks) == {"all members", "alpha", "b"}
    assert tasks["all members"].total == 6 and tasks["alpha"].fields["info"] == "queued"
    assert {len(t.description) for t in p.progress.tasks} == {12}  # one fixed label width
    p("phase", {"name": "alpha", "phase": "fitting step 0"})
    assert tasks["alpha"].fields["info"] == "fitting step 0"
    p("step", {"name": "alpha", "step": 0})
    assert tasks["alpha"].completed == 1 and tasks["alpha"].fields["info"] == "step 0/2"
    p("end", {"outcome": MemberOutcome("b", "siren", "failed", "boom", 2.0)})
    # b ended after no step: the overall bar now waits only for alpha's 3 rows
    assert tasks["all members"].total == 3 and tasks["all members"].completed == 1
    assert tasks["all members"].fields["info"] == "1/2 members ended"
    assert tasks["b"].fields["info"] == "failed (2 s)"
