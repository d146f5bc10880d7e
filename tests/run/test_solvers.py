"""Solvers behind the driver: grid baseline adapters and the neural solver's state."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from insr.config import load_config
from insr.reference import advection1d
from insr.run import Run
from insr.run.solvers import GridSolver, NeuralSolver
from insr.stepper import Diverged

TINY = ["eval.resolution=21", "solver.samples=32", "solver.max_iters=4", "solver.init_max_iters=4"]
TINY += ["run.on_poor_fit=continue"]  # tiny budgets: not about fit quality


def test_grid_solver_steps_the_reference_solver_exactly() -> None:
    """Three GridSolver steps equal advection1d.solve run for three steps (same scheme)."""
    cfg = load_config(
        "advection1d",
        sets=[*TINY, "representation.kind=grid", "representation.grid.resolution=101"],
    )
    run = Run(cfg)
    solver = run.solver
    assert isinstance(solver, GridSolver) and solver.n_params == 101
    assert solver.advance(0, cfg.case.dt)["wall_seconds"] >= 0.0  # step 0 does not step
    for step in (1, 2, 3):
        solver.advance(step, cfg.case.dt)
    base = solver.baseline

    def u0(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return run.case.initial(torch.from_numpy(x[:, None])).numpy()[:, 0]

    _, frames = advection1d.solve(u0, 0.25, (-2.0, 2.0), 101, cfg.case.dt, 3, "semi_lagrangian")
    np.testing.assert_array_equal(base.u, frames[-1])
    arrays = solver.evaluate(3 * cfg.case.dt)
    assert arrays["field"].dtype == np.float32 and arrays["field"].shape == (21, 1)
    assert arrays["gradient/fd"].shape == (21, 1, 1)


def test_grid_run_cannot_be_resumed() -> None:
    from insr.errors import UsageError

    cfg = load_config(
        "advection1d", sets=[*TINY, "representation.kind=grid", "representation.grid.resolution=32"]
    )
    with pytest.raises(UsageError, match="cannot be resumed"):
        Run(cfg).solver.load_state({})


def test_neural_solver_state_round_trip_restores_weights_and_samples() -> None:
    run = Run(load_config("advection1d", sets=TINY))
    solver = run.solver
    assert isinstance(solver, NeuralSolver)
    saved = solver.state()
    first = solver.advance(0, 0.05)
    assert first["iterations"] > 0 and first["loss"] >= 0.0
    w_after = [p.detach().clone() for p in run.equation.field.parameters()]
    draw_after = torch.rand(3, generator=solver.gen)
    solver.load_state(saved)
    solver.advance(0, 0.05)  # the same fit again from the same weights and RNG state
    assert all(
        torch.equal(a, b) for a, b in zip(w_after, run.equation.field.parameters(), strict=True)
    )
    assert torch.equal(draw_after, torch.rand(3, generator=solver.gen))


def test_neural_solver_refuses_a_non_finite_field() -> None:
    run = Run(load_config("advection1d", sets=TINY))
    with torch.no_grad():
        next(run.equation.field.parameters()).fill_(float("nan"))
    with pytest.raises(Diverged):
        run.solver.evaluate(0.0)
