"""Initial velocity fields for the 2D incompressible Euler cases, as numpy callables.

Every function maps cell or face coordinates ``x, y`` (numpy arrays of one shape, in the
length unit L of the box ``[-1, 1]^2``) to the velocity components ``(u, v)`` of the same
shape, in L/T. They are written for the box ``[-1, 1]^2`` with no-through walls; write
``X = x + 1`` and ``Y = y + 1`` (both in ``[0, 2]``).

- :func:`taylor_green`: ``u = sin(πX) cos(πY) / π``, ``v = -cos(πX) sin(πY) / π``. Stream
  function ``ψ = sin(πX) sin(πY) / π²`` (``u = ψ_y``, ``v = -ψ_x``); divergence free,
  ``u·n = 0`` on all four walls, and a *steady* solution of Euler (its advection term is a
  pure gradient). Vorticity ``ω = v_x - u_y = 2 sin(πX) sin(πY)``; peak speed ``1/π``.
- :func:`taylor_green_multiscale`: the large cell above plus a small cell of integer
  wavenumber ``k`` (default 4): ``u_k = sin(kπX) cos(kπY) / π``,
  ``v_k = -cos(kπX) sin(kπY) / π`` scaled by ``amplitude`` (default 0.25), i.e. the small
  cell's peak speed is ``amplitude`` times the large cell's. Because ``k`` is an integer
  ``sin(kπX)`` vanishes at ``X = 0, 2`` (and ``sin(kπY)`` at ``Y = 0, 2``), so the walls
  hold exactly; the sum is divergence free but *not* steady (the two scales interact).
- :func:`vortex_pair`: two co-rotating Lamb–Oseen vortices (equal circulation ``Γ``),
  centres ``(±0.3, 0)``, core radius ``r_c = 0.1``: vorticity
  ``ω = Γ/(π r_c²) exp(-r²/r_c²)`` each, azimuthal speed
  ``u_θ(r) = Γ/(2π r) (1 - exp(-r²/r_c²))``. ``Γ`` is chosen so that the peak speed of the
  *pair* (the superposed analytic field, reached on the x-axis just outside each core) is
  ``peak_speed`` (default 1); for the defaults ``Γ ≈ 0.806`` (a single vortex with that Γ
  peaks at 0.82). The analytic velocity does not satisfy the walls exactly (the normal
  velocity at the walls reaches about 0.13 of the peak); the grid solver's initial projection
  removes that part, which changes the peak speed by about 1 %.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
from scipy.optimize import minimize_scalar

from insr.reference.errors import ReferenceInputError

VelocityFn = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def taylor_green(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Steady Taylor–Green cell on ``[-1, 1]^2`` (see module docstring); returns ``(u, v)``."""
    X = np.pi * (np.asarray(x, dtype=float) + 1.0)
    Y = np.pi * (np.asarray(y, dtype=float) + 1.0)
    return np.sin(X) * np.cos(Y) / np.pi, -np.cos(X) * np.sin(Y) / np.pi


def taylor_green_vorticity(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Vorticity ``2 sin(π(x+1)) sin(π(y+1))`` of :func:`taylor_green` [1/T]."""
    X = np.pi * (np.asarray(x, dtype=float) + 1.0)
    Y = np.pi * (np.asarray(y, dtype=float) + 1.0)
    return 2.0 * np.sin(X) * np.sin(Y)


def taylor_green_multiscale(
    x: np.ndarray, y: np.ndarray, k: int = 4, amplitude: float = 0.25
) -> tuple[np.ndarray, np.ndarray]:
    """Large Taylor–Green cell plus ``amplitude`` × a small cell of integer wavenumber ``k``."""
    if int(k) != k or k < 1:
        raise ReferenceInputError(f"k must be a positive integer (walls need it), got {k}")
    u1, v1 = taylor_green(x, y)
    X = k * np.pi * (np.asarray(x, dtype=float) + 1.0)
    Y = k * np.pi * (np.asarray(y, dtype=float) + 1.0)
    uk = np.sin(X) * np.cos(Y) / np.pi
    vk = -np.cos(X) * np.sin(Y) / np.pi
    return u1 + amplitude * uk, v1 + amplitude * vk


def _lamb_oseen_peak_factor() -> float:
    """max over s of ``(1 - exp(-s^2)) / s`` (= 0.638161...)."""
    res = minimize_scalar(
        lambda s: -(1.0 - np.exp(-s * s)) / s,
        bounds=(0.5, 2.0),
        method="bounded",
        options={"xatol": 1e-12},
    )
    return float(-res.fun)


LAMB_OSEEN_PEAK = _lamb_oseen_peak_factor()


def lamb_oseen_circulation(core_radius: float, peak_speed: float) -> float:
    """Circulation [L²/T] of a Lamb–Oseen vortex of core radius [L] peaking at ``peak_speed``."""
    return 2.0 * np.pi * core_radius * peak_speed / LAMB_OSEEN_PEAK


def lamb_oseen(
    x: np.ndarray, y: np.ndarray, center: tuple[float, float], core_radius: float, gamma: float
) -> tuple[np.ndarray, np.ndarray]:
    """Velocity ``(u, v)`` of one Lamb–Oseen vortex (counter-clockwise for ``gamma > 0``)."""
    dx = np.asarray(x, dtype=float) - center[0]
    dy = np.asarray(y, dtype=float) - center[1]
    r2 = dx * dx + dy * dy
    s2 = r2 / core_radius**2
    # u_θ / r = Γ/(2π r²) (1 - e^{-r²/rc²}); use expm1 and the r→0 limit Γ/(2π rc²).
    small = s2 < 1e-12
    factor = np.where(small, 1.0, -np.expm1(-s2) / np.where(small, 1.0, s2))
    omega_over_2 = gamma / (2.0 * np.pi * core_radius**2) * factor
    return -omega_over_2 * dy, omega_over_2 * dx


def lamb_oseen_vorticity(
    x: np.ndarray, y: np.ndarray, center: tuple[float, float], core_radius: float, gamma: float
) -> np.ndarray:
    """Vorticity ``Γ/(π r_c²) exp(-r²/r_c²)`` of one Lamb–Oseen vortex [1/T]."""
    r2 = (np.asarray(x, dtype=float) - center[0]) ** 2 + (
        np.asarray(y, dtype=float) - center[1]
    ) ** 2
    return gamma / (np.pi * core_radius**2) * np.exp(-r2 / core_radius**2)


@lru_cache(maxsize=64)
def vortex_pair_circulation(
    separation: float = 0.6, core_radius: float = 0.1, peak_speed: float = 1.0
) -> float:
    """Circulation Γ of each vortex so that the pair's analytic field peaks at ``peak_speed``.

    By symmetry the peak lies on the x-axis; it is found by a bounded 1D search over the
    outer and inner sides of the right vortex with unit circulation.
    """

    def speed(x: float) -> float:
        u, v = _pair_unit(np.array([x]), np.array([0.0]), separation, core_radius)
        return float(np.hypot(u[0], v[0]))

    c = 0.5 * separation
    best = 0.0
    for lo, hi in ((c, c + 4.0 * core_radius), (max(0.0, c - 4.0 * core_radius), c)):
        res = minimize_scalar(
            lambda x: -speed(x), bounds=(lo, hi), method="bounded", options={"xatol": 1e-10}
        )
        best = max(best, -float(res.fun))
    return peak_speed / best


def _pair_unit(
    x: np.ndarray, y: np.ndarray, separation: float, core_radius: float
) -> tuple[np.ndarray, np.ndarray]:
    u = np.zeros(np.broadcast(np.asarray(x), np.asarray(y)).shape)
    v = np.zeros_like(u)
    for cx in (-0.5 * separation, 0.5 * separation):
        du, dv = lamb_oseen(x, y, (cx, 0.0), core_radius, 1.0)
        u = u + du
        v = v + dv
    return u, v


def vortex_pair(
    x: np.ndarray,
    y: np.ndarray,
    separation: float = 0.6,
    core_radius: float = 0.1,
    peak_speed: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Two co-rotating Lamb–Oseen vortices at ``(±separation/2, 0)`` (see module docstring)."""
    gamma = vortex_pair_circulation(separation, core_radius, peak_speed)
    u, v = _pair_unit(x, y, separation, core_radius)
    return gamma * u, gamma * v


def vortex_pair_vorticity(
    x: np.ndarray,
    y: np.ndarray,
    separation: float = 0.6,
    core_radius: float = 0.1,
    peak_speed: float = 1.0,
) -> np.ndarray:
    """Analytic vorticity of :func:`vortex_pair` [1/T] (before the wall projection)."""
    gamma = vortex_pair_circulation(separation, core_radius, peak_speed)
    left, right = (
        lamb_oseen_vorticity(x, y, (cx, 0.0), core_radius, gamma)
        for cx in (-0.5 * separation, 0.5 * separation)
    )
    return left + right


INITIAL_CONDITIONS: dict[str, VelocityFn] = {
    "taylor_green": taylor_green,
    "taylor_green_multiscale": taylor_green_multiscale,
    "vortex_pair": vortex_pair,
}


def get_initial_condition(name: str) -> VelocityFn:
    """Look up an initial velocity field by case name."""
    try:
        return INITIAL_CONDITIONS[name]
    except KeyError:
        raise ReferenceInputError(
            f"unknown initial condition {name!r}; choose one of {', '.join(INITIAL_CONDITIONS)}"
        ) from None
