"""Coarse-to-fine numerical gradients (Neuralangelo, Li et al. CVPR 2023, Sec. 3.2-3.3).

The loss sees central differences ``(f(x + h e_j) - f(x - h e_j)) / 2h`` whose step ``h``
follows the representation's resolution levels from coarse to fine, and -- for grid
fields (hashgrid, densegrid) -- only the first ``k`` levels are active (finer levels
masked to zero, :meth:`GridField.set_active_levels`):

    k(t) = min(L, start_levels + floor(t / interval))          active levels
    h(t) = cell(k(t) - 1)                                       newest active level's cell

``t`` counts time steps (``unit = "steps"``; step 0, the initial fit, is t = 0) or optimizer
iterations summed over the whole run (``unit = "iterations"``). Because level cells shrink
geometrically (``per_level_scale``), ``h`` goes from the coarse levels' cell down to the finest
cell exponentially, one factor per ``interval``; after ``(L - start_levels) * interval`` the
schedule holds at all levels and the finest cell. Neuralangelo: L = 16, start_levels = 4.

For fields without levels (SIREN, MLPs) the same schedule runs over ``L`` *virtual* levels
whose cells are spaced geometrically from ``h_start`` to ``h_end``; nothing is masked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, TypeGuard

import torch

from insr.derivatives.fd import FiniteDifference
from insr.derivatives.steps import resolve_h
from insr.fields.base import Field


class LevelledField(Protocol):
    """A field whose levels can be switched on progressively (grid fields)."""

    n_levels: int

    def set_active_levels(self, k: int) -> None: ...

    def cell_of_level(self, level: int) -> float: ...


def has_levels(f: Field) -> TypeGuard[LevelledField]:
    """True for fields that support progressive level activation."""
    return hasattr(f, "set_active_levels") and hasattr(f, "cell_of_level")


@dataclass
class CoarseToFineSchedule:
    """Active levels and FD step as functions of progress ``t`` (steps or iterations).

    ``cells``: physical cell width of each level, coarse to fine (``len(cells) = L``).
    """

    cells: list[float]
    start_levels: int = 4
    interval: int = 500
    unit: str = "iterations"
    fields: list[LevelledField] = field(default_factory=list)
    t: int = 0

    def __post_init__(self) -> None:
        if not self.cells:
            raise ValueError("a coarse-to-fine schedule needs at least one level")
        if self.interval < 1:
            raise ValueError(f"interval must be >= 1, got {self.interval}")
        if self.unit not in ("steps", "iterations"):
            raise ValueError(f"unit must be 'steps' or 'iterations', got {self.unit!r}")
        self.start_levels = max(1, min(int(self.start_levels), self.n_levels))

    @classmethod
    def for_field(
        cls,
        f: Field,
        *,
        start_levels: int = 4,
        interval: int = 500,
        unit: str = "iterations",
        virtual_levels: int = 16,
        h_start: float = 0.25,
        h_end: float = 1e-3,
    ) -> CoarseToFineSchedule:
        """Schedule over ``f``'s own levels (grid fields, which it then masks) or over
        ``virtual_levels`` geometric cells from ``h_start`` to ``h_end`` (other fields)."""
        if has_levels(f):
            cells = [float(f.cell_of_level(level)) for level in range(f.n_levels)]
            fields: list[LevelledField] = [f]
        else:
            n = max(1, int(virtual_levels))
            ratio = (h_end / h_start) ** (1.0 / (n - 1)) if n > 1 else 1.0
            cells = [h_start * ratio**level for level in range(n)]
            fields = []
        s = cls(cells, start_levels, interval, unit, fields)
        s.apply()
        return s

    @property
    def n_levels(self) -> int:
        return len(self.cells)

    def active_levels(self, t: int | None = None) -> int:
        """``k(t) = min(L, start_levels + floor(t / interval))``."""
        t = self.t if t is None else t
        return min(self.n_levels, self.start_levels + max(0, int(t)) // self.interval)

    def h(self, t: int | None = None) -> float:
        """FD step: the cell width of the newest active level (physical units)."""
        return self.cells[self.active_levels(t) - 1]

    def apply(self) -> None:
        """Mask the levels of the attached grid fields to :meth:`active_levels`."""
        k = self.active_levels()
        for f in self.fields:
            f.set_active_levels(k)

    def set_step(self, step: int) -> None:
        """Called at the start of each time step (``unit = "steps"`` advances here)."""
        if self.unit == "steps":
            self.t = int(step)
            self.apply()

    def on_iteration(self, it: int) -> None:
        """Called after every optimizer iteration (``unit = "iterations"`` advances here)."""
        if self.unit == "iterations":
            before = self.active_levels()
            self.t += 1
            if self.active_levels() != before:
                self.apply()

    @property
    def total(self) -> int:
        """Progress ``t`` at which all levels are active."""
        return (self.n_levels - self.start_levels) * self.interval

    def describe(self) -> str:
        """One line: levels, pace and the h range."""
        return (
            f"{self.n_levels} levels, start {self.start_levels}, +1 per {self.interval} "
            f"{self.unit}; h {self.h(0):.3g} -> {self.cells[-1]:.3g} after {self.total} {self.unit}"
        )


@dataclass
class CoarseToFine:
    """Central-difference strategy whose step follows a :class:`CoarseToFineSchedule`.

    Without a schedule (e.g. a logged strategy outside a coarse-to-fine run) it uses the
    field's finest cell (grids) or ``fallback_h`` (resolved by
    :func:`~insr.derivatives.steps.resolve_h`, ``spacing`` = eval grid spacing).
    """

    schedule: CoarseToFineSchedule | None = None
    fallback_h: float | str = "auto"
    spacing: float | None = None

    def current_h(self, f: Field) -> float:
        if self.schedule is not None:
            return self.schedule.h()
        if f.finest_cell is not None:
            return float(f.finest_cell)
        return resolve_h(self.fallback_h, f, self.spacing)

    def __call__(self, f: Field, x: torch.Tensor, create_graph: bool = False) -> tuple:
        return FiniteDifference(h=self.current_h(f), scheme="central")(f, x, create_graph)


def schedule_options(dcfg) -> dict:
    """Keyword arguments of :meth:`CoarseToFineSchedule.for_field` from a ``[derivative]``
    config (:class:`insr.config.DerivativeConfig`)."""
    return {
        "start_levels": dcfg.coarse_to_fine_start_levels,
        "interval": dcfg.coarse_to_fine_interval,
        "unit": dcfg.coarse_to_fine_unit,
        "virtual_levels": dcfg.coarse_to_fine_levels,
        "h_start": dcfg.coarse_to_fine_h_start,
        "h_end": dcfg.h if not isinstance(dcfg.h, str) else 1e-3,
    }
