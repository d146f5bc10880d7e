"""``case.steps = 0``: the initial fit only (one logged row, step 0), a complete run that
info, render, compare and --resume (to extend it) handle like any other."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from insr.cli import app
from insr.config import load_config
from insr.log import RunLogReader, checkpoint
from insr.run import execute
from insr.verdict import is_complete

TINY = ["eval.resolution=21", "solver.samples=32", "solver.max_iters=4", "solver.init.max_iters=4"]
TINY += ["run.on_poor_fit=continue", "run.threads=1"]  # tiny budgets: not about fit quality


def test_zero_steps_is_the_step0_fit_only(tmp_path: Path) -> None:
    res = execute(load_config("advection1d", sets=[*TINY, "case.steps=0"]), tmp_path / "r")
    assert is_complete(res.status) and res.completed_steps == 1
    with RunLogReader(res.log_path) as log:
        assert list(log.series("step")) == [0] and log.attrs["total_steps"] == 0
        assert log.has("metrics/gradient_rel_error_autodiff") and log.has("exact/field")
    assert checkpoint(res.log_path)[1]["step"] == 0
    runner = CliRunner()
    info = runner.invoke(app, ["info", str(tmp_path / "r")])
    assert info.exit_code == 0, info.output
    gif = tmp_path / "r.gif"
    rend = runner.invoke(app, ["render", str(tmp_path / "r"), "--out", str(gif), "-q"])
    assert rend.exit_code == 0, rend.output
    assert gif.stat().st_size > 1000
    # extend it: --resume with more steps continues from the step-0 checkpoint
    sets = [a for s in ["case.steps=2"] for a in ("--set", s)]
    ext = runner.invoke(app, ["run", "--resume", str(tmp_path / "r"), *sets, "-q"])
    assert ext.exit_code == 0, ext.output
    with RunLogReader(res.log_path) as log:
        assert list(log.series("step")) == [0, 1, 2] and is_complete(log.status)


def test_compare_with_zero_steps(tmp_path: Path) -> None:
    sets = [a for s in TINY for a in ("--set", s)]
    out = tmp_path / "cmp"
    args = ["compare", "representations", "--case", "advection1d", "--reprs", "siren,gauss"]
    r = CliRunner().invoke(app, [*args, "--steps", "0", *sets, "--out", str(out), "-q"])
    assert r.exit_code == 0, r.output
    for m in ("siren", "gauss"):
        with RunLogReader(out / m) as log:
            assert list(log.series("step")) == [0] and is_complete(log.status)
    assert (out / "summary.json").exists() and (out / "errors.png").stat().st_size > 1000


@pytest.mark.parametrize("steps", ["-1"])
def test_negative_steps_is_one_line(tmp_path: Path, steps: str) -> None:
    r = CliRunner().invoke(app, ["run", "advection1d", "--steps", steps, "--out", str(tmp_path)])
    assert r.exit_code == 2 and "case.steps" in r.output
