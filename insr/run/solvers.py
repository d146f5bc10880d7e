"""What the driver steps: a :class:`Solver` -- neural (equation + stepper) or grid baseline.

A solver advances one time step, evaluates its arrays at the evaluation points, and hands
out / takes back its state (checkpoints, retries, resume). The driver
(:mod:`insr.run.driver`) owns everything else.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import torch

from insr.equations.base import Equation
from insr.equations.grid import GridBaseline
from insr.errors import UsageError
from insr.run.state import field_state, load_field_state, rng_state, set_rng_state
from insr.stepper import Budget, Diverged, Reporter, advance

EVAL_CHUNK = 32768


class Solver(Protocol):
    """One simulation the driver can step, log and checkpoint."""

    @property
    def n_params(self) -> int:
        """Stored floats of the state (network weights / grid values)."""
        ...

    def advance(
        self, step: int, dt: float, *, lr_scale: float = 1.0, report: Reporter | None = None
    ) -> dict[str, float]:
        """Solve step ``step`` (0: the initial condition); returns its cost metrics.
        ``lr_scale`` multiplies the step size of the optimizer in use (a retry)."""
        ...

    def evaluate(self, t: float) -> dict[str, np.ndarray]:
        """Logged arrays at the evaluation points, flat ``(N, ...)``."""
        ...

    def state(self) -> dict[str, np.ndarray]:
        """Everything needed to continue from here, as named arrays (a copy: it must not
        change when the solver steps on)."""
        ...

    def load_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Inverse of :meth:`state`."""
        ...


def chunked(fn: Callable[[torch.Tensor], dict], x: torch.Tensor) -> dict[str, np.ndarray]:
    """``fn`` over ``x`` in chunks of :data:`EVAL_CHUNK` rows, concatenated as numpy."""
    parts: dict[str, list[np.ndarray]] = {}
    for i in range(0, x.shape[0], EVAL_CHUNK):
        for k, v in fn(x[i : i + EVAL_CHUNK]).items():
            parts.setdefault(k, []).append(v.detach().cpu().numpy())
    return {k: np.concatenate(v) for k, v in parts.items()}


def step_cost(losses: dict[str, float], iterations: dict[str, int], seconds: float) -> dict:
    """``loss``, ``iterations``, ``wall_seconds`` (+ per sub-problem when there are several)."""
    out: dict[str, float] = {
        "loss": float(sum(losses.values())),
        "iterations": float(sum(iterations.values())),
        "wall_seconds": seconds,
    }
    if len(losses) > 1:
        for k in losses:
            out[f"loss_{k}"] = losses[k]
            out[f"iterations_{k}"] = float(iterations[k])
    return out


def scaled(budget: Budget, factor: float) -> Budget:
    """``budget`` with the step sizes of both optimizers (Adam ``lr``, L-BFGS ``lbfgs_lr``)
    multiplied by ``factor`` (a divergence retry)."""
    if factor == 1.0:
        return budget
    return dataclasses.replace(budget, lr=budget.lr * factor, lbfgs_lr=budget.lbfgs_lr * factor)


class NeuralSolver:
    """An equation's fields, advanced by the stepper's warm-started optimizations."""

    def __init__(
        self,
        equation: Equation,
        budgets: tuple[Budget, Budget],
        *,
        points: torch.Tensor,
        strategies: dict[str, Any],
        seed: int,
        substeps: int = 1,
    ) -> None:
        self.equation = equation
        self.init_budget, self.step_budget = budgets
        self.points = points
        self.strategies = strategies
        self.substeps = substeps
        self.device = points.device
        self.gen = torch.Generator(device=self.device)
        self.gen.manual_seed(seed)

    @property
    def n_params(self) -> int:
        return sum(f.n_params for f in self.equation.fields.values())

    def advance(
        self, step: int, dt: float, *, lr_scale: float = 1.0, report: Reporter | None = None
    ) -> dict[str, float]:
        st = advance(
            self.equation,
            step=step,
            dt=dt,
            init_budget=scaled(self.init_budget, lr_scale),
            step_budget=scaled(self.step_budget, lr_scale),
            gen=self.gen,
            report=report,
            substeps=self.substeps,
        )
        return step_cost(st.losses, st.iterations, st.seconds)

    def evaluate(self, t: float) -> dict[str, np.ndarray]:
        out = chunked(lambda x: self.equation.snapshot(x, t, self.strategies), self.points)
        for k, v in out.items():
            if not np.all(np.isfinite(v)):
                raise Diverged(-1, k, float("nan"))
        return out

    def state(self) -> dict[str, np.ndarray]:
        return {**field_state(self.equation.fields), **rng_state(self.gen, self.device)}

    def load_state(self, arrays: dict[str, np.ndarray]) -> None:
        load_field_state(self.equation.fields, arrays)
        set_rng_state(self.gen, self.device, arrays)


class GridSolver:
    """A classical grid baseline (:mod:`insr.equations.grid`) behind the solver interface."""

    def __init__(self, baseline: GridBaseline, points: np.ndarray) -> None:
        self.baseline = baseline
        self.points = points

    @property
    def n_params(self) -> int:
        return int(self.baseline.n_floats)

    def advance(
        self, step: int, dt: float, *, lr_scale: float = 1.0, report: Reporter | None = None
    ) -> dict[str, float]:
        ts = time.perf_counter()
        if step > 0:
            self.baseline.step(dt)
        return {"wall_seconds": time.perf_counter() - ts}

    def evaluate(self, t: float) -> dict[str, np.ndarray]:
        return {k: v.astype(np.float32) for k, v in self.baseline.arrays(self.points).items()}

    def state(self) -> dict[str, np.ndarray]:
        # copies: the baseline steps its arrays in place, and the driver keeps this state
        return {k: np.array(v, copy=True) for k, v in self.baseline.state_dict().items()}

    def load_state(self, arrays: dict[str, np.ndarray]) -> None:
        raise UsageError("a grid run cannot be resumed: run it again (it is fast)")
