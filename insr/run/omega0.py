"""Automatic choice of SIREN's first-layer frequency ``omega0`` (``omega0 = "auto"``).

For each candidate in ``representation.siren.omega0_candidates`` a fresh SIREN (same seed)
fits the initial condition for ``derivative.omega0_auto_iters`` iterations (the step-0
loss, at the step-0 learning rate, no early stop); its gradient relative error
``||grad u - grad u0||_2 / ||grad u0||_2`` is measured on the evaluation grid against the
exact initial gradient (closed-form Jacobian of the field). The candidate with the lowest
error wins (ties: the first). The run then starts from scratch with that ``omega0``, so it
is identical to a run configured with that number.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from insr.cases import Case
from insr.equations.base import Equation
from insr.metrics import gradient_rel_error
from insr.settings import RunConfig
from insr.stepper import Budget, optimize


@dataclass
class Omega0Choice:
    omega0: float
    candidates: list[float]
    errors: list[float]

    def attrs(self) -> dict:
        """Root attributes of the run log that record the choice."""
        return {
            "omega0_auto": self.omega0,
            "omega0_candidates": np.asarray(self.candidates, dtype=np.float64),
            "omega0_gradient_errors": np.asarray(self.errors, dtype=np.float64),
        }


def wants_auto_omega0(cfg: RunConfig) -> bool:
    rep = cfg.representation
    return rep.kind == "siren" and getattr(rep.settings, "omega0", None) == "auto"


def with_omega0(cfg: RunConfig, omega0: float) -> RunConfig:
    """A copy of ``cfg`` whose SIREN uses ``omega0``."""
    out = copy.deepcopy(cfg)
    out.representation.settings = dataclasses.replace(
        out.representation.settings, omega0=float(omega0)
    )
    return out


def choose_omega0(
    cfg: RunConfig,
    case: Case,
    points: torch.Tensor,
    build: Callable[[RunConfig], Equation],
) -> Omega0Choice:
    """Fit the initial condition with each candidate and keep the best (see module doc);
    ``build(cfg)`` makes a fresh equation for a config."""
    s = cfg.solver
    budget = Budget(
        lr=s.init.lr,
        max_iters=cfg.derivative.omega0_auto_iters,
        min_iters=cfg.derivative.omega0_auto_iters,
        check_every=s.check_every,
        rel_tol=0.0,
        optimizer=s.optimizer,
        resample_every=s.resample_every,
    )
    _, exact_g = case.initial_value_and_gradient(points)
    exact_np = exact_g.detach().cpu().double().numpy()
    candidates = [float(c) for c in cfg.representation.settings.omega0_candidates]
    errors = []
    for w0 in candidates:
        torch.manual_seed(cfg.run.seed)
        eq = build(with_omega0(cfg, w0))
        gen = torch.Generator(device=points.device)
        gen.manual_seed(cfg.run.seed)
        for problem in eq.initial_problems():
            optimize(problem, budget, gen)
        with torch.no_grad():
            _, g = eq.fields["u"].value_and_jacobian(points)
        err = gradient_rel_error(g.detach().cpu().double().numpy(), exact_np)
        errors.append(err if np.isfinite(err) else float("inf"))
    best = int(np.argmin(errors))
    return Omega0Choice(candidates[best], candidates, errors)
