"""`insr study` end to end on a user-written study: shared runs, report, resume."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
from typer.testing import CliRunner

from insr.cli import app

TINY = (
    '"eval.resolution=33", "solver.max_iters=20", "solver.init.max_iters=30", '
    '"solver.check_every=10", "solver.samples=200", "run.threads=1", "run.device=cpu", '
    '"run.on_poor_fit=continue"'  # tiny budgets: not about fit quality
)
STUDY = f"""
[study]
name = "tiny"
description = "two claims sharing one run"

[run.w5]
case = "advection1d"
steps = 2
set = ["representation.siren.omega0=5.0", {TINY}]

[run.w30]
case = "advection1d"
steps = 2
set = ["representation.siren.omega0=30.0", {TINY}]

[[claim]]
id = "A"
text = "omega0 = 30 is noisier than omega0 = 5 at step 2"
kind = "compare"
left = "w30:gradient_noise_autodiff@2"
op = ">"
factor = 1.0
right = "w5:gradient_noise_autodiff@2"

[[claim]]
id = "B"
text = "the omega0 = 5 field error grows from step 0 to step 2"
kind = "growth"
quantity = "w5:field_max_error@0"
to_step = "2"
op = ">"
threshold = 0.0
"""


def _metric(run_dir: Path, name: str, step: int) -> float:
    with h5py.File(run_dir / "run.h5", "r", locking=False) as h5:
        row = int(np.nonzero(h5["step"][()] == step)[0][0])
        return float(h5[f"metrics/{name}"][row])


def test_study_runs_each_run_once_reports_and_resumes(tmp_path: Path) -> None:
    spec = tmp_path / "tiny.toml"
    spec.write_text(STUDY)
    out = tmp_path / "study"
    r = CliRunner().invoke(app, ["study", str(spec), "--out", str(out), "--workers", "1", "-q"])
    assert r.exit_code == 0, r.output
    runs = sorted(
        p.name
        for p in (out / "runs" / "advection1d").iterdir()
        if p.is_dir() and not p.name.startswith(".")
    )
    assert runs == ["w30", "w5"]  # w5 is named by both claims and run once
    summary = json.loads((out / "summary.json").read_text())
    by_id = {c["id"]: c for c in summary["claims"]}
    w5, w30 = out / "runs" / "advection1d" / "w5", out / "runs" / "advection1d" / "w30"
    a, b = _metric(w30, "gradient_noise_autodiff", 2), _metric(w5, "gradient_noise_autodiff", 2)
    assert by_id["A"]["verdict"] == ("reproduced" if a > b else "not reproduced")
    assert [v["value"] for v in by_id["A"]["values"]] == [a, b]
    e0, e2 = _metric(w5, "field_max_error", 0), _metric(w5, "field_max_error", 2)
    assert by_id["B"]["verdict"] == ("reproduced" if e2 > e0 else "not reproduced")
    report = (out / "report.md").read_text()
    assert "## A:" in report and "## B:" in report
    assert (out / "claim-A.png").stat().st_size > 1000 and (out / "claim-B.png").exists()

    before = {n: (out / "runs/advection1d" / n / "run.h5").stat().st_mtime_ns for n in runs}
    r = CliRunner().invoke(
        app, ["study", str(spec), "--out", str(out), "--workers", "1", "-q", "--resume"]
    )
    assert r.exit_code == 0, r.output
    after = {n: (out / "runs/advection1d" / n / "run.h5").stat().st_mtime_ns for n in runs}
    assert after == before  # complete runs with the same config are not run again
    assert (
        json.loads((out / "summary.json").read_text())["claims"][0]["values"]
        == by_id["A"]["values"]
    )


def test_unknown_study_is_one_line(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["study", "noisy-gradient"])
    assert r.exit_code == 2
    assert "did you mean 'noisy-gradients'" in r.output


def test_shipped_study_parses_with_every_claim_of_the_study() -> None:
    from insr.study.execute import resolve_study

    s = resolve_study("noisy-gradients")
    ids = {c.id.split("-")[0] for c in s.claims}
    assert ids == {f"C{i}" for i in range(1, 9)}


ONE_CLAIM = f"""
[study]
name = "my-one-claim"
description = "one claim, step-0 fits only"

[run.w5]
case = "advection1d"
steps = 0
set = ["representation.siren.omega0=5.0", {TINY}]

[run.w30]
case = "advection1d"
steps = 0
set = ["representation.siren.omega0=30.0", {TINY}]

[run.broken]
case = "advection1d"
steps = 0
set = ["representation.kind=grid", {TINY}]

[[claim]]
id = "S0"
text = "at the step-0 fit, omega0 = 30 is noisier than omega0 = 5"
kind = "compare"
left = "w30:gradient_noise_autodiff@0"
op = ">"
right = "w5:gradient_noise_autodiff@0"

[[claim]]
id = "X"
text = "needs the broken run"
kind = "compare"
left = "broken:field_max_error@0"
right = "w5:field_max_error@0"
"""


def test_user_study_in_working_directory_step0_only_and_a_failed_run(
    tmp_path: Path, monkeypatch
) -> None:
    """A study in ./configs/study/ of the working directory, found by name; runs with
    steps = 0 (the initial fit only); a run that fails makes its claim inconclusive with
    the run's reason, is named in the report, and makes `insr study` exit 1."""
    (tmp_path / "configs" / "study").mkdir(parents=True)
    (tmp_path / "configs" / "study" / "my_one_claim.toml").write_text(ONE_CLAIM)
    monkeypatch.chdir(tmp_path)
    listed = CliRunner().invoke(app, ["study", "list"])
    assert listed.exit_code == 0 and "my-one-claim" in listed.output
    out = tmp_path / "o"
    r = CliRunner().invoke(app, ["study", "my-one-claim", "--out", str(out), "-j", "1", "-q"])
    assert r.exit_code == 1, r.output
    assert "1 run(s) did not complete: broken" in r.output
    summary = json.loads((out / "summary.json").read_text())
    by_id = {c["id"]: c for c in summary["claims"]}
    w5, w30 = out / "runs/advection1d/w5", out / "runs/advection1d/w30"
    a, b = _metric(w30, "gradient_noise_autodiff", 0), _metric(w5, "gradient_noise_autodiff", 0)
    assert by_id["S0"]["verdict"] == ("reproduced" if a > b else "not reproduced")
    assert [v["step"] for v in by_id["S0"]["values"]] == [0, 0]
    x = by_id["X"]
    assert (
        x["verdict"] == "inconclusive" and "run 'broken' did not complete (failed:" in x["reason"]
    )
    assert x["statement"].startswith("broken:field_max_error@0 >")  # the words, not the kind
    report = (out / "report.md").read_text()
    assert "**1 of 3 runs did not complete**" in report and "`broken` failed:" in report
    rows = {row["run"]: row for row in summary["run_outcomes"]}
    assert rows["w5"]["complete"] and rows["w5"]["steps"] == 0 and not rows["broken"]["complete"]
    assert rows["w5"]["log_seconds"] > 0 and rows["broken"]["log_seconds"] == 0


def test_resume_reruns_a_run_whose_config_changed(tmp_path: Path) -> None:
    spec = tmp_path / "s.toml"
    broken = ONE_CLAIM.index("[run.broken]")
    claim_s0 = ONE_CLAIM.index("[[claim]]")
    spec.write_text(ONE_CLAIM[:broken] + ONE_CLAIM[claim_s0 : ONE_CLAIM.rindex("[[claim]]")])
    out = tmp_path / "o"
    args = ["study", str(spec), "--out", str(out), "-j", "1", "-q"]
    assert CliRunner().invoke(app, args).exit_code == 0
    logs = {n: out / "runs/advection1d" / n / "run.h5" for n in ("w5", "w30")}
    before = {n: p.stat().st_mtime_ns for n, p in logs.items()}
    spec.write_text(spec.read_text().replace("omega0=30.0", "omega0=20.0"))
    r = CliRunner().invoke(app, [*args, "--resume"])
    assert r.exit_code == 0, r.output
    after = {n: p.stat().st_mtime_ns for n, p in logs.items()}
    assert after["w5"] == before["w5"]  # same config: reused
    assert after["w30"] != before["w30"]  # changed config: run again
    with h5py.File(logs["w30"], "r", locking=False) as h5:
        assert '"omega0": 20.0' in h5.attrs["config"]


def test_resume_command_names_the_study_and_its_directory(tmp_path: Path) -> None:
    from insr.study.execute import resolve_study, resume_command

    shipped = resolve_study("noisy-gradients")
    assert resume_command(shipped, tmp_path / "a b", True) == (
        f"insr study noisy-gradients --quick --resume --out '{tmp_path / 'a b'}'"
    )
    spec = tmp_path / "tiny.toml"
    spec.write_text(STUDY)
    assert resume_command(resolve_study(str(spec)), tmp_path, False) == (
        f"insr study {spec} --resume --out {tmp_path}"
    )
