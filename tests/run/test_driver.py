"""The one time loop: the same log for every solver, retries, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest

from insr.config import load_config
from insr.log import RunLogReader, RunLogWriter, checkpoint
from insr.run import Run, RunResult, execute
from insr.run.driver import drive, prepare_run_dir
from insr.stepper import Diverged
from insr.verdict import is_complete

TINY = ["eval.resolution=21", "solver.samples=32", "solver.max_iters=4", "solver.init_max_iters=4"]
TINY += ["run.on_poor_fit=continue"]  # tiny budgets: not about fit quality
GRID = ["representation.kind=grid", "representation.grid.resolution=64"]


def _run(tmp_path, sets: list[str], name: str) -> RunResult:
    return execute(load_config("advection1d", sets=[*TINY, "case.steps=2", *sets]), tmp_path / name)


def test_neural_and_grid_runs_write_the_same_log(tmp_path) -> None:
    neural, grid = _run(tmp_path, [], "n"), _run(tmp_path, GRID, "g")
    with RunLogReader(neural.log_path) as a, RunLogReader(grid.log_path) as b:
        assert is_complete(a.status) and is_complete(b.status) and a.n == b.n == 3
        for key in ("case", "representation", "dim", "channels", "n_params", "dt", "total_steps"):
            assert key in a.attrs and key in b.attrs
        assert b.attrs["representation"] == "grid" and b.attrs["grid_resolution"] == 64
        assert list(a.series("step")) == list(b.series("step")) == [0, 1, 2]
        for name in ("field", "exact/field", "exact/gradient"):
            assert a.has(name) and b.has(name)
        shared = {"field_rmse", "field_max_error", "wall_seconds"}
        assert shared <= set(a.metrics()) and shared <= set(b.metrics())
        assert "loss" in a.metrics() and "loss" not in b.metrics()
    for res in (neural, grid):  # a checkpoint after the last step
        assert checkpoint(res.log_path)[1]["step"] == 2


class _FlakySolver:
    """Wraps a real solver; its step 2 diverges on the first attempt."""

    def __init__(self, inner) -> None:
        self.inner, self.n_params = inner, inner.n_params
        self.scales: list[float] = []
        self.loads = 0

    def advance(self, step, dt, *, lr_scale=1.0, report=None):
        if step == 2:
            self.scales.append(lr_scale)
            if len(self.scales) == 1:
                raise Diverged(step, "advect", float("nan"))
        return self.inner.advance(step, dt, lr_scale=lr_scale, report=report)

    def evaluate(self, t):
        return self.inner.evaluate(t)

    def state(self):
        return self.inner.state()

    def load_state(self, arrays):
        self.loads += 1
        self.inner.load_state(arrays)


def _drive_flaky(tmp_path, on_diverge: str):
    run = Run(load_config("advection1d", sets=[*TINY, "case.steps=3"]))
    flaky = _FlakySolver(run.solver)
    run.solver = flaky
    prepare_run_dir(tmp_path, overwrite=False)
    writer = RunLogWriter.create(
        tmp_path / "run.h5", config=run.cfg.as_dict(), axes=run.axes, attrs=run.log_attrs()
    )
    return flaky, drive(run, writer, first_step=0, report=None, on_diverge=on_diverge)


def test_driver_retries_a_diverged_step_at_half_the_learning_rate(tmp_path) -> None:
    flaky, res = _drive_flaky(tmp_path, "retry")
    assert flaky.scales == [1.0, 0.5] and flaky.loads == 1
    with RunLogReader(res.log_path) as log:
        assert is_complete(log.status) and log.n == 4
        assert list(log.metrics()["retries"]) == [0.0, 0.0, 1.0, 0.0]


def test_driver_stops_and_closes_the_log_without_retry(tmp_path) -> None:
    with pytest.raises(Diverged, match="diverged at step 2"):
        _drive_flaky(tmp_path, "stop")
    with RunLogReader(tmp_path / "run.h5") as log:
        assert log.status == "diverged at step 2" and log.n == 2
        assert np.array_equal(log.series("step"), [0, 1])
