"""Sub-problems of a step are solved in order, each asked for only after the one before it
is solved: a generator's later stage freezes the earlier stage's result (the fluid's
pressure stage needs the advected velocity, its projection the solved pressure).

Regression: a type-checking clean-up (1e2e8fd) turned the stepper's loop into
``list(step_problems(...))``, so every stage was built before any was solved and the
fluid's pressure and projection stages froze the velocity *before* advection: vortex_pair
on its defaults ended `poor` from step 3 (velocity rel. error 0.127 at step 5 against
0.076 before).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

import insr.equations.fluid as fluid
from insr.config import load_config
from insr.equations.base import SubProblem
from insr.run import execute
from insr.stepper import Budget, advance


class _TwoStage:
    """Stage 1 pulls w toward 1; stage 2 records w as it is when the generator resumes."""

    def __init__(self) -> None:
        self.m = torch.nn.Module()
        self.m.w = torch.nn.Parameter(torch.zeros(3))
        self.w = self.m.w
        self.seen_by_stage_two: torch.Tensor | None = None
        self.fields = {}

    def initial_problems(self) -> list[SubProblem]:
        return []

    def step_problems(self, step: int, t: float, dt: float) -> Iterator[SubProblem]:
        def sample(gen: torch.Generator) -> torch.Tensor:
            return torch.zeros(1)

        def pull(x: torch.Tensor) -> torch.Tensor:
            return ((self.w - 1.0) ** 2).sum()

        yield SubProblem("pull", self.m, pull, sample)  # type: ignore[arg-type]
        self.seen_by_stage_two = self.w.detach().clone()
        yield SubProblem("hold", self.m, lambda x: (self.w**2).sum() * 0.0, sample)  # type: ignore[arg-type]


def test_a_later_stage_is_built_after_the_earlier_one_is_solved():
    eq = _TwoStage()
    budget = Budget(lr=0.1, max_iters=50, check_every=10, rel_tol=0.0)
    advance(
        eq,  # type: ignore[arg-type]
        step=1,
        dt=0.1,
        init_budget=budget,
        step_budget=budget,
        gen=torch.Generator().manual_seed(0),
    )
    assert eq.seen_by_stage_two is not None
    # stage 1 moved w from 0 toward 1 before stage 2 was asked for
    assert float(eq.seen_by_stage_two.min()) > 0.5


def test_fluid_pressure_stage_freezes_the_advected_velocity(tmp_path, monkeypatch):
    """The fluid's frozen copies within step 1: ``prev`` (start of the step), ``u_star``
    (after the advect stage) and the solved pressure; ``u_star`` must differ from
    ``prev`` (the advect stage's optimization ran before it was frozen)."""
    snaps: list[torch.Tensor] = []
    real = fluid.frozen_copy

    def recording(f):
        snaps.append(torch.cat([p.detach().reshape(-1).clone() for p in f.parameters()]))
        return real(f)

    monkeypatch.setattr(fluid, "frozen_copy", recording)
    sets = ["case.steps=1", "solver.max_iters=20", "solver.min_iters=20"]
    sets += ["solver.init.max_iters=20", "solver.init.min_iters=0", "run.on_poor_fit=continue"]
    execute(load_config("vortex_pair", [], sets), tmp_path / "r")
    prev, u_star = snaps[0], snaps[1]  # step 1: prev, then u_star (the velocity network)
    assert prev.shape == u_star.shape
    assert not torch.equal(prev, u_star)
