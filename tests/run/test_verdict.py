"""Fit verdicts: the rule on numbers worked out by hand, the driver on synthetic fields with
a known error per step, and the early stop of a real fit that cannot succeed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from typer.testing import CliRunner

from insr import verdict as fit
from insr.cli import app
from insr.config import load_config
from insr.errors import RunFailure
from insr.log import RunLogReader, RunLogWriter
from insr.run import Run
from insr.run.driver import drive

SMALL = ["eval.resolution=21", "solver.samples=32", "case.steps=3"]


# ------------------------------------------------------------------ the rule itself
def test_fit_error_is_max_error_over_max_of_the_truth() -> None:
    exact = np.array([[0.0], [1.0], [-2.0]])
    u = np.array([[0.1], [1.0], [-2.3]])
    assert fit.fit_error(u, exact) == pytest.approx(0.3 / 2.0)  # by hand
    assert fit.fit_error(np.zeros_like(exact), exact) == 1.0  # the zero field
    assert fit.fit_error(np.zeros(3), np.zeros(3)) == 0.0
    assert fit.fit_error(np.ones(3), np.zeros(3)) == math.inf


@pytest.mark.parametrize(
    "step, error, expected",
    [
        (0, 0.0, "ok"),
        (0, 0.2, "ok"),
        (0, 0.2001, "poor"),
        (0, 0.5, "poor"),
        (0, 0.5001, "failed"),
        (1, 0.5001, "poor"),  # later steps fail only above the zero field's error
        (7, 0.2, "ok"),
        (7, 0.2001, "poor"),
        (7, 1.0, "poor"),
        (7, 1.0001, "failed"),
        (3, math.nan, "failed"),
    ],
)
def test_step_verdict_thresholds(step: int, error: float, expected: str) -> None:
    assert fit.step_verdict(step, error) == expected


def test_run_verdict_is_the_worst_and_names_the_first_bad_step() -> None:
    rows = [(0, 0.0), (1, 0.0), (2, 1.0), (3, 0.0), (4, 2.0)]
    v = fit.run_verdict(rows)
    assert (v.verdict, v.from_step) == ("failed", 2)
    assert v.status() == "complete (failed fit from step 2)"
    assert v.attrs() == {"fit_verdict": "failed", "fit_verdict_from_step": 2}
    ok = fit.run_verdict([(0, 0.0), (5, math.nan), (10, 0.0)])
    assert (ok.verdict, ok.from_step, ok.status()) == ("ok", -1, "complete")
    assert fit.run_verdict([(0, math.nan)]).verdict == "unknown"
    assert fit.is_complete("complete (poor fit from step 3)") and fit.is_complete("complete")
    assert not fit.is_complete("failed fit at step 0")


# ------------------------------------------------------- the driver on synthetic fields
class _ScaledTruth:
    """A solver whose field at step k is the exact field times (1 + eps[k]): its fit error
    is eps[k] exactly (|u - u*| = eps |u*|)."""

    def __init__(self, run: Run, eps: dict[int, float]) -> None:
        self.run, self.eps, self.n_params = run, eps, 1
        self.step = 0

    def advance(self, step, dt, *, lr_scale=1.0, report=None):
        self.step = step
        return {"wall_seconds": 0.0}

    def evaluate(self, t):
        exact = self.run.truth.sample(t)["field"]
        u = exact * (1.0 + self.eps[self.step])
        return {"field": u.reshape(-1, u.shape[-1])}

    def state(self):
        return {"step": np.asarray(self.step)}

    def load_state(self, arrays):
        self.step = int(arrays["step"])


def _drive(tmp_path, eps: dict[int, float], sets: list[str] = ()) -> tuple[object, RunLogReader]:
    cfg = load_config("advection1d", sets=[*SMALL, *sets])
    run = Run(cfg)
    run.solver = _ScaledTruth(run, eps)
    writer = RunLogWriter.create(
        tmp_path / "run.h5", config=cfg.as_dict(), axes=run.axes, attrs=run.log_attrs()
    )
    try:
        res = drive(run, writer, first_step=0, report=None, on_diverge="stop")
    except RunFailure as e:
        res = e
    return res, RunLogReader(tmp_path / "run.h5")


def test_synthetic_log_gets_per_step_verdicts_and_a_poor_status(tmp_path) -> None:
    eps = {0: 0.01, 1: 0.1, 2: 0.3, 3: 0.05}  # ok, ok, poor (> 0.2), ok
    res, log = _drive(tmp_path, eps)
    with log:
        assert np.allclose(log.series("metrics/fit_error"), [0.01, 0.1, 0.3, 0.05], rtol=1e-5)
        assert list(log.series("metrics/fit_verdict")) == [0.0, 0.0, 1.0, 0.0]
        assert log.attrs["fit_verdict"] == "poor" and log.attrs["fit_verdict_from_step"] == 2
        assert log.status == "complete (poor fit from step 2)"
        assert log.h5["metrics/fit_verdict"].attrs["long_name"].startswith("fit verdict")
    assert res.status == "complete (poor fit from step 2)" and res.verdict.verdict == "poor"


def test_failed_step_zero_fit_stops_unless_asked_to_continue(tmp_path) -> None:
    eps = {0: 0.6, 1: 0.0, 2: 0.0, 3: 0.0}  # step 0 misses by 60 % of the amplitude
    err, log = _drive(tmp_path / "stop", eps)
    with log:
        assert log.status == "failed fit at step 0" and log.n == 1
        assert log.attrs["fit_verdict"] == "failed"
    assert isinstance(err, RunFailure)
    msg = str(err)
    assert "\n" not in msg and "60% of max|u*| at step 0" in msg
    assert "solver.init.max_iters" in msg and "--on-poor-fit continue" in msg
    res, log = _drive(tmp_path / "go", eps, ["run.on_poor_fit=continue"])
    with log:
        assert log.n == 4 and log.status == "complete (failed fit from step 0)"
    assert res.verdict.from_step == 0


# ----------------------------------------------------------- a real fit that cannot fit
HASH3 = [
    "representation.kind=hashgrid",
    "representation.hashgrid.n_levels=3",
    "representation.hashgrid.base_resolution=256",
    "solver.init.max_iters=5",
    "solver.max_iters=5",
    "solver.samples=256",
    "eval.resolution=33",
]


def test_cli_stops_a_run_whose_step_zero_fit_failed(tmp_path) -> None:
    out = tmp_path / "h3"
    args = ["run", "advection2d", "--steps", "2", "--out", str(out), "-q"]
    for s in HASH3:
        args += ["--set", s]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 1, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: max|u-u*| = "), r.output
    assert "Traceback" not in r.output and "the fit failed" in lines[0]
    # it names the preset situation: the numerics that ran and the kinds that have one
    assert "numerics from configs/presets/hashgrid.toml:advection.2d" in lines[0]
    with RunLogReader(out) as log:
        assert log.status == "failed fit at step 0" and log.n == 1
        assert float(log.row("metrics/fit_error", 0)) > fit.THRESHOLDS["init"].failed_above
    # a plain resume does not walk past the stop
    r = CliRunner().invoke(app, ["run", "--resume", str(out), "-q"])
    assert r.exit_code == 2 and "stopped after a failed step-0 fit" in r.output, r.output
    # asked to continue (here: resuming the stopped run): the remaining steps run, and the
    # status and a warning still say the fit failed
    r = CliRunner().invoke(app, ["run", "--resume", str(out), "-q", "--on-poor-fit", "continue"])
    assert r.exit_code == 0, r.output
    assert "warning: failed fit from step 0" in r.output
    assert "kinds with a preset for advection 2D: densegrid, gauss, mlp, siren" in " ".join(
        r.output.split()
    )
    with RunLogReader(out) as log:
        assert log.n == 3 and log.status == "complete (failed fit from step 0)"
    # the step-0 budget cannot change on a resume past step 0: it would do nothing
    more = ["run", "--resume", str(out), "-q", "--steps", "3"]
    r = CliRunner().invoke(app, [*more, "--set", "solver.init.max_iters=99"])
    assert r.exit_code == 2 and "solver.init.max_iters has no effect on this --resume" in r.output
