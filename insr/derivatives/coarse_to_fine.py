"""Coarse-to-fine numerical gradients (Neuralangelo, Li et al. CVPR 2023, Sec. 3.2-3.3).

The loss sees central differences ``(f(x + h e_j) - f(x - h e_j)) / 2h`` whose step ``h``
shrinks from coarse to fine while -- for grid fields (hashgrid, densegrid) -- only the first
``k`` levels are active (finer levels masked to zero, :meth:`GridField.set_active_levels`).
Both follow one *level position* ``lambda`` (a real number of levels):

    lambda   = k0 + t / interval, clipped to [k0, L]           (k0 = start_levels)
    k        = min(L, floor(lambda))                            active levels
    h        = max(h0 * (h_end / h0) ** ((lambda - k0) / (L - k0)), cell(k - 1))   while k < L
    h        = h_end                                                                once k = L

``h0 = cell(0)`` is the coarsest level's cell: as in Neuralangelo the step starts at the
coarsest grid size, beyond every active level's cell, and decays exponentially with the
level position, never below the newest active level's cell (a step inside one cell of a
linearly interpolated grid sees the same slope as autodiff); it is ``h_end`` from the moment
the last level switches on, after ``(L - k0) * interval``. ``h_end`` is the finest cell
(``derivative.h = "auto"`` or ``"cell"``), twice it (``"2cell"``) or a number (physical
units). With ``L = k0`` the step is ``h_end`` throughout.

What ``t`` counts (``unit``):

- ``"iterations"``: optimizer iterations summed over the whole run (step 0, the initial fit,
  first): one ramp; with ``(L - k0) * interval`` <= the initial-fit budget the ramp ends
  inside step 0 and the later steps run at all levels and ``h_end``.
- ``"steps"``: time steps (step 0 is t = 0).
- ``"step_iterations"``: optimizer iterations of the current time step, reset at the start
  of every step: the ramp (masking included) is repeated inside each step's budget, so it
  must be shorter than that budget (``solver.min_iters`` keeps Adam from stopping early).

For fields without levels (SIREN, MLPs) the same schedule runs over ``L`` *virtual* levels
whose cells are spaced geometrically from ``h_start`` to ``h_end``; nothing is masked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeGuard

import torch

from insr.derivatives.fd import FiniteDifference
from insr.derivatives.steps import resolve_h
from insr.fields.base import Field

UNITS = ("iterations", "steps", "step_iterations")


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
    """Active levels and FD step as functions of progress ``t`` (see the module docstring).

    ``cells``: physical cell width of each level, coarse to fine (``len(cells) = L``);
    ``h_end``: the final step (default: the finest cell, ``cells[-1]``).
    """

    cells: list[float]
    start_levels: int = 4
    interval: int = 500
    unit: str = "iterations"
    fields: list[LevelledField] = field(default_factory=list)
    t: int = 0
    h_end: float | None = None

    def __post_init__(self) -> None:
        if not self.cells:
            raise ValueError("a coarse-to-fine schedule needs at least one level")
        if self.interval < 1:
            raise ValueError(f"interval must be >= 1, got {self.interval}")
        if self.unit not in UNITS:
            raise ValueError(f"unit must be one of {', '.join(UNITS)}, got {self.unit!r}")
        self.start_levels = max(1, min(int(self.start_levels), self.n_levels))
        if self.h_end is None:
            self.h_end = float(self.cells[-1])
        if not self.h_end > 0.0:
            raise ValueError(f"h_end must be > 0, got {self.h_end}")

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
        h_end: float | str = "auto",
    ) -> CoarseToFineSchedule:
        """Schedule over ``f``'s own levels (grid fields, which it then masks) or over
        ``virtual_levels`` geometric cells from ``h_start`` to ``h_end`` (other fields).

        ``h_end`` (the final step): a number, or for grid fields ``"auto"`` / ``"cell"``
        (the finest cell) or ``"2cell"``; for other fields a rule means 1e-3."""
        if has_levels(f):
            cells = [float(f.cell_of_level(level)) for level in range(f.n_levels)]
            end = _grid_h_end(h_end, cells)
            s = cls(cells, start_levels, interval, unit, [f], h_end=end)
        else:
            n = max(1, int(virtual_levels))
            last = 1e-3 if isinstance(h_end, str) else float(h_end)
            ratio = (last / h_start) ** (1.0 / (n - 1)) if n > 1 else 1.0
            cells = [h_start * ratio**level for level in range(n)]
            s = cls(cells, start_levels, interval, unit, [], h_end=last)
        s.apply()
        return s

    @property
    def n_levels(self) -> int:
        return len(self.cells)

    def position(self, t: int | None = None) -> float:
        """Level position ``lambda = k0 + t / interval`` clipped to ``[k0, L]``."""
        t = self.t if t is None else t
        return min(float(self.n_levels), self.start_levels + max(0, int(t)) / self.interval)

    def active_levels(self, t: int | None = None) -> int:
        """``k = min(L, floor(lambda)) = min(L, start_levels + floor(t / interval))``."""
        t = self.t if t is None else t
        return min(self.n_levels, self.start_levels + max(0, int(t)) // self.interval)

    def h(self, t: int | None = None) -> float:
        """FD step (physical units): ``cell(0)`` at ``t = 0``, exponentially down (not
        below the newest active cell) to ``h_end`` once all levels are active."""
        end = float(self.h_end)  # type: ignore[arg-type]
        k = self.active_levels(t)
        if k == self.n_levels:
            return end
        frac = (self.position(t) - self.start_levels) / (self.n_levels - self.start_levels)
        h0 = self.cells[0]
        decayed = math.exp(math.log(h0) + frac * (math.log(end) - math.log(h0)))
        return max(decayed, self.cells[k - 1])

    def apply(self) -> None:
        """Mask the levels of the attached grid fields to :meth:`active_levels`."""
        k = self.active_levels()
        for f in self.fields:
            grid: Any = f
            grid.set_active_levels(k)

    def set_step(self, step: int) -> None:
        """Called at the start of each time step: ``unit = "steps"`` advances here,
        ``"step_iterations"`` restarts its ramp."""
        if self.unit == "steps":
            self.t = int(step)
            self.apply()
        elif self.unit == "step_iterations":
            self.t = 0
            self.apply()

    def on_iteration(self, it: int) -> None:
        """Called after every optimizer iteration (the iteration units advance here)."""
        if self.unit != "steps":
            before = self.active_levels()
            self.t += 1
            if self.active_levels() != before:
                self.apply()

    @property
    def total(self) -> int:
        """Progress ``t`` at which all levels are active (and ``h = h_end``)."""
        return (self.n_levels - self.start_levels) * self.interval

    def describe(self) -> str:
        """One line: levels, pace and the h range."""
        return (
            f"{self.n_levels} levels, start {self.start_levels}, +1 per {self.interval} "
            f"{self.unit}; h {self.h(0):.3g} -> {float(self.h_end):.3g} "  # type: ignore[arg-type]
            f"after {self.total} {self.unit}"
        )


def _grid_h_end(h_end: float | str, cells: list[float]) -> float:
    finest = min(cells)
    if not isinstance(h_end, str):
        return float(h_end)
    if h_end in ("auto", "cell"):
        return finest
    if h_end == "2cell":
        return 2.0 * finest
    raise ValueError(
        f"h_end = {h_end!r} is not allowed: expected a number, 'auto', 'cell', '2cell'"
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
        "h_end": dcfg.h,
    }
