"""Advection cases: a prescribed velocity carries the initial field; exact solution by the
characteristics."""

from __future__ import annotations

from typing import Any

import torch

from insr.case_table import CaseConfig
from insr.cases.base import Case
from insr.cases.initial import make_initial
from insr.cases.velocity import make_velocity
from insr.schema import ConfigError


def make_advection_case(cfg: CaseConfig, settings: Any = None) -> Case:
    """The :class:`Case` of a validated advection ``[case]`` table (exact solution by the
    characteristics of its velocity)."""
    if cfg.boundary == "wall":
        raise ConfigError(
            "case.boundary = 'wall' is not allowed for advection: expected 'dirichlet' or "
            "'none' ('wall' is the no-through condition of euler cases)"
        )
    if cfg.reference:
        raise ConfigError(
            f"case.reference ({', '.join(sorted(cfg.reference))}) is not allowed for "
            "advection: its truth is exact, no reference solver runs"
        )
    u0, channels = make_initial(cfg.initial, cfg.dim)
    vel = make_velocity(cfg.velocity, cfg.dim)

    def exact(x: torch.Tensor, t: float) -> torch.Tensor:
        # u(x, t) = u0(X(x, t)), X the foot of the characteristic through (x, t)
        return u0(vel.foot(x, t))

    return Case(cfg, u0, channels, vel, exact)
