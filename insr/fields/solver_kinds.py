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


_zero_or_at_least_4.allowed = "0 or >= 4"  # type: ignore[attr-defined]


#: the grid schemes; ``mol_<time>_<space>`` is :mod:`insr.reference.mol`
GridScheme = Literal[
    "auto",
    "semi_lagrangian",
    "lax_wendroff",
    "upwind",
    "mol_midpoint_cd2",
    "mol_midpoint_cd4",
    "mol_midpoint_cd6",
    "mol_pade4_cd2",
    "mol_pade4_cd4",
    "mol_pade4_cd6",
]


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
    matched_member: str = opt("", doc="(recorded) the compare member whose memory this matches")
    interpolation: Literal["cubic", "linear"] = opt("cubic", doc="euler: 'cubic' or 'linear'")
    scheme: GridScheme = opt(
        "auto",
        doc="auto: the PDE's own baseline (advection: semi_lagrangian, euler: stable fluids,"
        " heat: Crank-Nicolson); advection: semi_lagrangian (exact foot) |"
        " mol_<midpoint|pade4>_<cd2|cd4|cd6> (the network's time scheme, FD in space,"
        " periodic); 1D advection also lax_wendroff | upwind; euler: semi_lagrangian",
    )

    def validate(self, path: str) -> None:
        if self.resolution and self.match_params_of:
            raise ConfigError(f"{path}: give resolution or match_params_of, not both")
        if not self.resolution and not self.match_params_of:
            raise ConfigError(f"{path}: needs resolution = N (>= 4) or match_params_of = '<kind>'")
        if self.matched_member and not self.match_params_of:
            raise ConfigError(f"{path}.matched_member needs match_params_of")
        allowed = field_kinds()
        if self.match_params_of and self.match_params_of not in allowed:
            raise ConfigError(
                f"{path}.match_params_of = {self.match_params_of!r} is not allowed"
                f"{suggest(self.match_params_of, allowed)}; allowed: {', '.join(allowed)}"
            )
