"""The Python side of cases: initial condition, velocity and exact solution of a
``[case]`` table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from insr.cases.initial import InitialFn, make_initial, value_and_gradient
from insr.cases.velocity import make_velocity
from insr.config import CaseConfig


@dataclass
class Case:
    """A physical problem: box, initial field, velocity and (when known) the exact solution."""

    config: CaseConfig
    initial: InitialFn
    channels: int
    velocity: Any = None
    exact_fn: Callable[[torch.Tensor, float], torch.Tensor] | None = None

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def domain(self) -> list[list[float]]:
        return self.config.domain

    @property
    def dim(self) -> int:
        return len(self.config.domain)

    def prepare_truth(self) -> None:
        """Compute whatever the truth needs before it is first sampled (default: nothing)."""

    def initial_value_and_gradient(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return value_and_gradient(self.initial, x)

    def exact(self, x: torch.Tensor, t: float) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Exact field ``(N, c)`` and gradient ``(N, c, d)`` at time ``t``, or None."""
        if self.exact_fn is None:
            return None
        fn = self.exact_fn
        return value_and_gradient(lambda y: fn(y, t), x)


def make_advection_case(cfg: CaseConfig, settings: Any = None) -> Case:
    """The :class:`Case` of a validated advection ``[case]`` table (exact solution by the
    characteristics of its velocity)."""
    u0, channels = make_initial(cfg.initial, cfg.dim)
    vel = make_velocity(cfg.velocity, cfg.dim)

    def exact(x: torch.Tensor, t: float) -> torch.Tensor:
        # u(x, t) = u0(X(x, t)), X the foot of the characteristic through (x, t)
        return u0(vel.foot(x, t))

    return Case(cfg, u0, channels, vel, exact)


# registers the fluid initial-condition families (taylor_green, vortex_pair, ...)
from insr.cases import fluid as _fluid  # noqa: E402, F401
