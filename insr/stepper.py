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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch

from insr.equations.base import Equation, SubProblem
from insr.errors import RunFailure
from insr.lbfgs import FlatLBFGS, OneVectorLBFGS


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
    """Iteration budget and stopping rule of one optimization.

    ``optimizer``: ``adam``; ``lbfgs`` (strong-Wolfe line search, samples held fixed
    for the whole optimization -- sample reuse, so the line search sees one objective);
    ``adam+lbfgs`` (Adam until the stopping rule fires or ``switch_after`` iterations,
    then L-BFGS on fixed samples for the rest of the budget). Iterations count loss
    evaluations, so Adam and L-BFGS budgets compare in cost. ``lbfgs_impl``: ``flat``
    (:class:`insr.lbfgs.FlatLBFGS`) or ``torch`` (``torch.optim.LBFGS``, run on the
    parameters viewed as one vector: :class:`insr.lbfgs.OneVectorLBFGS`, bit-identical).
    """

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
    switch_after: int = 0
    lbfgs_lr: float = 1.0
    lbfgs_history: int = 20
    lbfgs_resample: bool = False
    lbfgs_impl: str = "torch"


@dataclass
class OptimizeResult:
    iterations: int
    loss: float
    seconds: float


Reporter = Callable[[str, dict], None]


def _make_optimizer(params: list[torch.Tensor], budget: Budget) -> torch.optim.Optimizer:
    if budget.optimizer == "lbfgs":
        return _make_lbfgs(params, budget)  # type: ignore[return-value]
    fused = all(p.device.type in ("cpu", "cuda") for p in params)
    try:
        return torch.optim.Adam(params, lr=budget.lr, fused=fused)
    except (RuntimeError, TypeError):  # fused unsupported for this device/dtype
        return torch.optim.Adam(params, lr=budget.lr)


def _make_lbfgs(params: list[torch.Tensor], budget: Budget) -> torch.optim.LBFGS | FlatLBFGS:
    kw: dict[str, Any] = {
        "lr": budget.lbfgs_lr,
        "max_iter": budget.check_every,
        "max_eval": budget.check_every * 5 // 4 + 1,
        "history_size": budget.lbfgs_history,
        "tolerance_grad": 1e-12,
        "tolerance_change": 1e-14,
    }
    if budget.lbfgs_impl == "flat":
        return FlatLBFGS(params, **kw)
    return OneVectorLBFGS(params, **kw)


def _reset_lbfgs(opt: torch.optim.LBFGS | FlatLBFGS) -> None:
    """Forget the curvature pairs (new samples: a new objective)."""
    if isinstance(opt, FlatLBFGS):
        opt.reset()
    else:
        opt.state[opt._params[0]].clear()


class _Stopper:
    """The windowed stopping rule: called with each window's mean loss, says whether to
    stop, after decaying the learning rate ``lr_decays`` times on stalls."""

    def __init__(self, budget: Budget, rel_tol: float | None = None, decays: int | None = None):
        self.rel_tol = budget.rel_tol if rel_tol is None else rel_tol
        self.abs_tol = budget.abs_tol
        self.min_iters = budget.min_iters
        self.decays_left = budget.lr_decays if decays is None else decays
        self.lr_decay = budget.lr_decay
        self.prev = math.inf

    def __call__(self, mean: float, it: int, opt: torch.optim.Optimizer | None) -> bool:
        stalled = (self.prev - mean) < self.rel_tol * abs(self.prev) or mean <= self.abs_tol
        self.prev = min(self.prev, mean)
        if not stalled or it < self.min_iters:
            return False
        if self.decays_left > 0 and opt is not None and mean > self.abs_tol:
            self.decays_left -= 1
            for g in opt.param_groups:
                g["lr"] *= self.lr_decay
            return False
        return True


def optimize(
    problem: SubProblem,
    budget: Budget,
    gen: torch.Generator,
    *,
    step: int = 0,
    report: Reporter | None = None,
) -> OptimizeResult:
    """Minimize ``problem.loss`` over ``problem.field`` from its current weights.

    No host-device synchronization inside a window: the loss is accumulated on the
    device and read back once per ``check_every`` iterations.
    """
    params = [p for p in problem.field.parameters() if p.requires_grad]
    t0 = time.perf_counter()
    it, loss_value = 0, math.inf
    if budget.optimizer in ("adam", "adam+lbfgs"):
        limit = budget.max_iters
        if budget.optimizer == "adam+lbfgs" and budget.switch_after > 0:
            limit = min(limit, budget.switch_after)
        it, loss_value = _adam(problem, params, budget, limit, gen, step, report)
    if budget.optimizer in ("lbfgs", "adam+lbfgs") and it < budget.max_iters:
        it, loss_value = _lbfgs(problem, params, budget, it, gen, step, report, loss_value)
    return OptimizeResult(it, loss_value, time.perf_counter() - t0)


def _check(problem: SubProblem, step: int, it: int, mean: float, report: Reporter | None) -> None:
    if not math.isfinite(mean):
        raise Diverged(step, problem.name, mean)
    if report is not None:
        report("iter", {"name": problem.name, "iteration": it, "loss": mean})


def _adam(problem, params, budget: Budget, limit: int, gen, step, report) -> tuple[int, float]:
    opt = _make_optimizer(params, Budget(**{**budget.__dict__, "optimizer": "adam"}))
    stop = _Stopper(budget)
    dev = params[0].device if params else torch.device("cpu")
    window_sum = torch.zeros((), dtype=torch.float64, device=dev)
    it, mean = 0, math.inf
    x = problem.sample(gen)
    while it < limit:
        if it % budget.resample_every == 0 and it:
            x = problem.sample(gen)
        opt.zero_grad(set_to_none=True)
        loss = problem.loss(x)
        loss.backward()
        opt.step()
        if problem.on_iteration is not None:
            problem.on_iteration(it)
        window_sum += loss.detach()
        it += 1
        if it % budget.check_every and it < limit:
            continue
        n = budget.check_every if it % budget.check_every == 0 else it % budget.check_every
        mean = float(window_sum) / n  # the only host sync of the window
        window_sum.zero_()
        _check(problem, step, it, mean, report)
        if stop(mean, it, opt):
            break
    return it, mean


def _lbfgs(problem, params, budget: Budget, it: int, gen, step, report, last: float):
    """L-BFGS in chunks of ``check_every`` iterations on one fixed sample set; stops when
    a chunk improves the loss by less than ``rel_tol`` (relative) or L-BFGS converged.
    ``on_iteration`` is called once per loss evaluation, after each chunk (a schedule
    changes the objective only between chunks)."""
    opt = _make_lbfgs(params, budget)
    x = problem.sample(gen)
    evals = [0]
    last_loss: list[torch.Tensor] = []

    def closure() -> torch.Tensor:
        evals[0] += 1
        opt.zero_grad(set_to_none=True)
        loss = problem.loss(x)
        loss.backward()
        last_loss[:] = [loss.detach()]
        return loss

    stop = _Stopper(budget, decays=0)
    mean = last
    while it < budget.max_iters:
        before = evals[0]
        if budget.lbfgs_resample and before:
            x = problem.sample(gen)  # fresh points per chunk; the closure reads x late
            _reset_lbfgs(opt)  # curvature pairs belong to the old objective
        opt.step(closure)
        done = evals[0] - before
        if problem.on_iteration is not None:  # schedules advance between chunks
            for k in range(done):
                problem.on_iteration(it + k)
        it += done
        mean = float(last_loss[0])
        _check(problem, step, it, mean, report)
        # L-BFGS returns early once its own tolerances are met: converged
        if stop(mean, it, None) or done < budget.check_every // 2:
            break
    return it, mean


@dataclass
class StepStats:
    step: int
    t: float
    iterations: dict[str, int]
    losses: dict[str, float]
    seconds: float


def advance(
    equation: Equation,
    *,
    step: int,
    dt: float,
    init_budget: Budget,
    step_budget: Budget,
    gen: torch.Generator,
    report: Reporter | None = None,
    substeps: int = 1,
) -> StepStats:
    """Solve step ``step`` (0 = fit the initial condition); the field then holds the
    solution at ``t = step * dt``.

    ``substeps = m > 1`` advances the step as ``m`` warm-started sub-steps of ``dt/m``
    (sub-step ``j`` ends at ``t - dt + (j+1) dt/m``): a second-order scheme's time error
    falls by ``m^2`` while only the logged step grid stays ``dt``.
    """
    t = step * dt
    t0 = time.perf_counter()
    iters: dict[str, int] = {}
    losses: dict[str, float] = {}
    n_stages = 1 if step == 0 else substeps
    h = dt / substeps
    for j in range(n_stages):
        # asked for only now: each sub-step freezes the field as it is at its start
        problems: Iterable[SubProblem]
        if step == 0:
            budget, problems = init_budget, equation.initial_problems()
        else:
            budget = step_budget
            # never list() it: a generator freezes an earlier sub-problem's result only
            # when it resumes (the fluid's pressure stage needs the advected velocity)
            problems = equation.step_problems(step, t - dt + (j + 1) * h, h)
        for problem in problems:
            res = optimize(problem, budget, gen, step=step, report=report)
            iters[problem.name] = iters.get(problem.name, 0) + res.iterations
            losses[problem.name] = res.loss
    return StepStats(step, t, iters, losses, time.perf_counter() - t0)


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
    substeps: int = 1,
) -> None:
    """Steps ``first_step..last_step`` by :func:`advance`, calling ``on_step`` after each
    (a bare loop for scripts and benchmarks; a run is driven by :mod:`insr.run.driver`)."""
    for step in range(first_step, last_step + 1):
        if report is not None:
            report("step", {"step": step, "t": step * dt})
        stats = advance(
            equation,
            step=step,
            dt=dt,
            init_budget=init_budget,
            step_budget=step_budget,
            gen=gen,
            report=report,
            substeps=substeps,
        )
        on_step(stats)
