"""``[representation.grid]``: the settings of the classical grid baseline.

``grid`` is a representation kind that is a solver, not a differentiable field: its run is
carried by :class:`insr.run.solvers.GridSolver` over a grid baseline registered with the
equation (:mod:`insr.equations`). Only its settings table lives here, so that the
representation registry can validate it like any other kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from insr.fields import field_kinds
from insr.schema import ConfigError, opt, suggest


def _zero_or_at_least_4(path: str, v: int) -> None:
    if v != 0 and v < 4:
        raise ConfigError(f"{path} = {v} is not allowed: expected an integer >= 4")


@dataclass
class GridConfig:
    """``[representation.grid]``: the classical grid solver as a representation."""

    resolution: int = opt(
        0,
        check=_zero_or_at_least_4,
        doc="cells per axis (euler) / nodes per axis (advection); 0 = use match_params_of",
    )
    match_params_of: str = opt(
        "", doc="equal memory: as many floats as this representation has parameters"
    )
    matched_params: dict = opt({}, doc="(filled in) parameters of the matched representation")
    interpolation: Literal["cubic", "linear"] = opt("cubic", doc="euler: 'cubic' or 'linear'")
    scheme: Literal["semi_lagrangian", "lax_wendroff", "upwind"] = opt(
        "semi_lagrangian", doc="1D advection: semi_lagrangian | lax_wendroff | upwind"
    )

    def validate(self, path: str) -> None:
        if self.resolution and self.match_params_of:
            raise ConfigError(f"{path}: give resolution or match_params_of, not both")
        if not self.resolution and not self.match_params_of:
            raise ConfigError(f"{path}: needs resolution = N (>= 4) or match_params_of = '<kind>'")
        allowed = field_kinds()
        if self.match_params_of and self.match_params_of not in allowed:
            raise ConfigError(
                f"{path}.match_params_of = {self.match_params_of!r} is not allowed"
                f"{suggest(self.match_params_of, allowed)}; allowed: {', '.join(allowed)}"
            )
