"""The time-stepping loop: each step is one or more warm-started optimizations.

The stepper knows neither the PDE nor the representation: it asks an equation for its
:class:`~insr.equations.base.SubProblem`\\ s and minimizes each in turn.

Stopping rule (per sub-problem, see :class:`~insr.config.SolverConfig`): the loss is
averaged over windows of ``check_every`` iterations; when a window's mean improves on
the previous window's by less than ``rel_tol`` (relative), or falls below ``abs_tol``,
the learning rate is multiplied by ``lr_decay`` up to ``lr_decays`` times, after which
the optimization stops (never before ``min_iters``, never after ``max_iters``).
The loss is read back from the device only at these checks.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from insr.equations.base import Equation, SubProblem
from insr.errors import RunFailure


class Diverged(RunFailure):
    """The loss or field became NaN/inf."""

    def __init__(self, step: int, name: str, loss: float) -> None:
        self.step, self.name, self.loss = step, name, loss
        super().__init__(
            f"diverged at step {step} ({name}: loss = {loss}); likely causes: dt too large, "
            "learning rate too high (solver.lr), or too high a frequency (representation omega0)"
        )


@dataclass
class Budget:
    """Iteration budget and stopping rule of one optimization."""

    lr: float
    max_iters: int
    min_iters: int = 0
    check_every: int = 50
    rel_tol: float = 1e-2
    abs_tol: float = 0.0
    lr_decay: float = 1.0
    lr_decays: int = 0
    optimizer: str = "adam"
    resample_every: int = 1


@dataclass
class OptimizeResult:
    iterations: int
    loss: float
    seconds: float


Reporter = Callable[[str, dict], None]


def _make_optimizer(params: list[torch.Tensor], budget: Budget) -> torch.optim.Optimizer:
    if budget.optimizer == "lbfgs":
        return torch.optim.LBFGS(
            params, lr=budget.lr, max_iter=budget.check_every, history_size=50,
            line_search_fn="strong_wolfe",
        )
    try:
        return torch.optim.Adam(params, lr=budget.lr, fused=True)
    except (RuntimeError, TypeError):  # fused unsupported for this device/dtype
        return torch.optim.Adam(params, lr=budget.lr)


def optimize(
    problem: SubProblem,
    budget: Budget,
    gen: torch.Generator,
    *,
    step: int = 0,
    report: Reporter | None = None,
) -> OptimizeResult:
    """Minimize ``problem.loss`` over ``problem.field`` from its current weights."""
    params = [p for p in problem.field.parameters() if p.requires_grad]
    opt = _make_optimizer(params, budget)
    t0 = time.perf_counter()
    it = 0
    window_sum = torch.zeros((), dtype=torch.float64)
    prev_mean = math.inf
    decays = 0
    loss_value = math.inf
    x = problem.sample(gen)
    while it < budget.max_iters:
        if budget.optimizer == "lbfgs":
            x = problem.sample(gen)

            def closure() -> torch.Tensor:
                opt.zero_grad(set_to_none=True)
                loss = problem.loss(x)
                loss.backward()
                return loss

            loss = opt.step(closure)
            it += budget.check_every
            mean = float(loss)
        else:
            if it % budget.resample_every == 0:
                x = problem.sample(gen)
            opt.zero_grad(set_to_none=True)
            loss = problem.loss(x)
            loss.backward()
            opt.step()
            if problem.on_iteration is not None:
                problem.on_iteration(it)
            window_sum += loss.detach().to(window_sum.device, torch.float64)
            it += 1
            if it % budget.check_every and it < budget.max_iters:
                continue
            n = budget.check_every if it % budget.check_every == 0 else it % budget.check_every
            mean = float(window_sum) / n
            window_sum.zero_()
        loss_value = mean
        if not math.isfinite(mean):
            raise Diverged(step, problem.name, mean)
        if report is not None:
            report("iter", {"name": problem.name, "iteration": it, "loss": mean})
        stalled = (prev_mean - mean) < budget.rel_tol * abs(prev_mean) or mean <= budget.abs_tol
        prev_mean = min(prev_mean, mean)
        if stalled and it >= budget.min_iters:
            if decays < budget.lr_decays:
                decays += 1
                for g in opt.param_groups:
                    g["lr"] *= budget.lr_decay
                continue
            break
    return OptimizeResult(it, loss_value, time.perf_counter() - t0)


@dataclass
class StepStats:
    step: int
    t: float
    iterations: dict[str, int]
    losses: dict[str, float]
    seconds: float


def run_steps(
    equation: Equation,
    *,
    dt: float,
    first_step: int,
    last_step: int,
    init_budget: Budget,
    step_budget: Budget,
    gen: torch.Generator,
    on_step: Callable[[StepStats], None],
    report: Reporter | None = None,
) -> None:
    """Steps ``first_step..last_step`` (step 0 = fit the initial condition), calling
    ``on_step`` after each completed step (the field then holds the solution at ``t``)."""
    for step in range(first_step, last_step + 1):
        t = step * dt
        if report is not None:
            report("step", {"step": step, "t": t})
        t0 = time.perf_counter()
        problems = (
            equation.initial_problems() if step == 0 else equation.step_problems(step, t, dt)
        )
        budget = init_budget if step == 0 else step_budget
        iters: dict[str, int] = {}
        losses: dict[str, float] = {}
        for problem in problems:
            res = optimize(problem, budget, gen, step=step, report=report)
            iters[problem.name] = res.iterations
            losses[problem.name] = res.loss
        on_step(StepStats(step, t, iters, losses, time.perf_counter() - t0))
