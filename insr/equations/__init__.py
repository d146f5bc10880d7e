"""The equation registry, keyed by ``case.pde``.

Each :class:`EquationEntry` brings everything a run needs for one PDE: its typed settings
table (a schema dataclass read from ``[extra.<table>]``), its case builder, the fields it
needs, the equation class, and optionally a grid baseline and extra metrics. Every equation
is built the same way, ``entry.equation(case, fields, settings, numerics)``.

Adding an equation (see :mod:`insr.equations.heat`): write its module (settings dataclass,
case builder, equation class) and add one :func:`register` call below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from insr.case_table import CaseConfig
from insr.cases import Case, make_advection_case
from insr.cases.fluid import make_fluid_case
from insr.equations.advection import Advection, AdvectionSettings
from insr.equations.base import Equation, FieldSpec, Numerics, SettingError
from insr.equations.fluid import Fluid, FluidSettings, fluid_fields
from insr.equations.grid import (
    GridBaseline,
    advection_grid,
    euler_grid,
    heat_grid,
    mac_layout,
    nodal_layout,
)
from insr.equations.heat import Heat, HeatSettings, make_heat_case
from insr.fields.solver_kinds import GridConfig
from insr.metrics import fluid_metrics
from insr.schema import ConfigError, from_dict, suggest


def single_field(case: Case, settings: Any, field: FieldSpec, path: str) -> dict[str, FieldSpec]:
    """The default: one field ``u`` of the run's representation with the case's channels."""
    return {"u": FieldSpec(field.kind, field.params, case.channels)}


@dataclass(frozen=True)
class EquationEntry:
    """What the registry knows about one ``pde``."""

    pde: str
    doc: str
    settings: type  # schema dataclass of [extra.<table>]
    table: str
    make_case: Callable[[CaseConfig, Any], Case]
    equation: Callable[..., Equation]  # (case, fields, settings, numerics) -> Equation
    fields: Callable[[Case, Any, FieldSpec, str], dict[str, FieldSpec]] = single_field
    grid: Callable[[Case, Any, GridConfig, int], GridBaseline] | None = None
    # stored floats of that baseline at a resolution: (dim, channels, n) -> floats
    grid_floats: Callable[[int, int, int], int] = nodal_layout
    # extra metrics of a logged step: (arrays, exact or None, eval axes) -> {name: value}
    metrics: Callable[..., dict[str, float]] | None = None


EQUATIONS: dict[str, EquationEntry] = {}


def register(entry: EquationEntry) -> None:
    """Add (or replace) the equation of ``entry.pde``."""
    EQUATIONS[entry.pde] = entry


def equation_names() -> list[str]:
    return list(EQUATIONS)


def get_equation(pde: str, path: str = "case.pde") -> EquationEntry:
    """The registry entry of ``pde``; an unknown name is a ConfigError naming ``path``."""
    if pde not in EQUATIONS:
        names = equation_names()
        raise ConfigError(
            f"{path} = {pde!r} is not allowed{suggest(pde, names)}; allowed: {', '.join(names)}"
        )
    return EQUATIONS[pde]


def equation_settings(entry: EquationEntry, extra: dict[str, Any], prefix: str = "extra") -> Any:
    """Validate the equation's ``[extra.<table>]`` into its settings dataclass."""
    path = f"{prefix}.{entry.table}"
    raw = extra.get(entry.table, {})
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} = {raw!r} is not allowed: expected a table")
    return from_dict(entry.settings, raw, path)


def make_case(cfg: CaseConfig, extra: dict[str, Any] | None = None) -> Case:
    """Build the :class:`Case` of a validated ``[case]`` table (``extra``: the ``[extra]``
    tables, for equations whose truth depends on their settings, e.g. heat's κ)."""
    entry = get_equation(cfg.pde)
    return entry.make_case(cfg, equation_settings(entry, extra or {}))


register(
    EquationEntry(
        "advection",
        "u_t + v . grad u = 0 by a prescribed velocity (midpoint or Pade(2,2))",
        AdvectionSettings,
        "advection",
        make_advection_case,
        Advection,
        grid=advection_grid,
    )
)
register(
    EquationEntry(
        "euler",
        "2D incompressible Euler, advect / pressure / project splitting",
        FluidSettings,
        "fluid",
        make_fluid_case,
        Fluid,
        fields=fluid_fields,
        grid=euler_grid,
        grid_floats=mac_layout,
        metrics=fluid_metrics,
    )
)
register(
    EquationEntry(
        "heat",
        "1D heat equation u_t = kappa u_xx (Crank-Nicolson)",
        HeatSettings,
        "heat",
        make_heat_case,
        Heat,
        grid=heat_grid,
    )
)

__all__ = [
    "EQUATIONS",
    "EquationEntry",
    "FieldSpec",
    "Numerics",
    "SettingError",
    "equation_names",
    "equation_settings",
    "get_equation",
    "make_case",
    "register",
]
