"""Equal-memory grid baselines (Chen et al., ICML 2023, "INSR", Sec. 5).

A neural member with ``n_params`` trained parameters -- every network it trains, e.g.
velocity *and* pressure for the fluid cases -- is compared with a grid solver whose
stored state has at most as many floats. What a grid stores depends on its layout:

- ``nodal`` (advection, heat): ``r**dim`` nodes × ``channels`` floats;
- ``mac`` (euler, 2D): ``u`` on the x-faces ``(r+1) × r``, ``v`` on the y-faces
  ``r × (r+1)``, the pressure at the cells ``r × r``: ``2 r (r+1) + r**2`` floats.

:func:`resolution_for_budget` picks the largest resolution ``r`` whose layout fits.
"""

from __future__ import annotations

from collections.abc import Callable

from insr.reference.errors import ReferenceInputError


def _positive(name: str, val: int) -> int:
    if int(val) != val or val < 1:
        raise ReferenceInputError(f"{name} must be a positive integer, got {val!r}")
    return int(val)


def nodal_floats(r: int, dim: int, channels: int) -> int:
    """Floats of a nodal grid: ``r**dim * channels``."""
    return _positive("r", r) ** _positive("dim", dim) * _positive("channels", channels)


def mac_floats(r: int) -> int:
    """Floats of a 2D MAC grid of ``r × r`` cells: x-faces ``(r+1) r`` + y-faces
    ``r (r+1)`` + cell pressures ``r**2``."""
    r = _positive("r", r)
    return (r + 1) * r + r * (r + 1) + r * r


def resolution_for_budget(budget: int, floats: Callable[[int], int], minimum: int = 1) -> int:
    """Largest ``r >= minimum`` with ``floats(r) <= budget`` (``floats`` increasing).

    Raises:
        ReferenceInputError: not even ``floats(minimum)`` fits in ``budget``.
    """
    budget = _positive("budget", budget)
    if floats(minimum) > budget:
        raise ReferenceInputError(
            f"{budget} floats cannot hold the smallest grid ({minimum} per axis: "
            f"{floats(minimum)} floats)"
        )
    lo, hi = minimum, minimum
    while floats(hi) <= budget:  # exponential search, then bisection: exact integers
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if floats(mid) <= budget else (lo, mid)
    return lo


def grid_resolution_for_params(n_params: int, dim: int, channels: int) -> int:
    """Largest per-axis resolution ``r`` with ``r**dim * channels <= n_params`` (nodal)."""
    _positive("n_params", n_params)
    _positive("dim", dim)
    _positive("channels", channels)
    if n_params < channels:
        raise ReferenceInputError(
            f"{n_params} parameters cannot hold even one grid point of {channels} channels"
        )
    return resolution_for_budget(n_params, lambda r: nodal_floats(r, dim, channels))
