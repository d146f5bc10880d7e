"""Classical grid solvers for 1D linear advection ``u_t + a u_x = 0``.

Pure numpy; no neural code. These are the truth and the equal-memory baseline for the
neural 1D advection case.

Problem
    ``u_t + a u_x = 0`` on ``[lo, hi]`` with ``u = 0`` at both ends (the inflow value is 0;
    the outflow end is also pinned to 0, which is harmless while the solution there is 0).

Grid
    Uniform *nodal* grid of ``n`` points that includes both ends:
    ``x_i = lo + i dx``, ``dx = (hi - lo) / (n - 1)``, ``i = 0 .. n-1``.

Units
    ``x`` and ``dx`` in length units L, ``t`` and ``dt`` in time units T, the speed ``a`` in
    L/T. ``u`` is whatever is advected (unitless here). The Courant number is
    ``c = a dt / dx`` (unitless).

Schemes
    ``semi_lagrangian``: exact backtrace ``x - a dt`` and cubic Lagrange interpolation
    (4 nodes, 4th-order accurate interpolation); values outside the domain are 0.
    Unconditionally stable; 3rd order in space at fixed Courant number.
    ``lax_wendroff``: 2nd order, stable for ``|c| <= 1``.
    ``upwind``: 1st order, stable for ``|c| <= 1``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from insr.reference.errors import ReferenceInputError

SCHEMES = ("semi_lagrangian", "lax_wendroff", "upwind")


def cubic_weights(t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cubic Lagrange weights for nodes at offsets -1, 0, 1, 2 and fraction ``t`` in [0, 1).

    Interpolation with these weights reproduces cubic polynomials exactly (error O(dx^4)).
    """
    tm1 = t - 1.0
    tm2 = t - 2.0
    tp1 = t + 1.0
    w_m1 = -t * tm1 * tm2 / 6.0
    w_0 = tp1 * tm1 * tm2 / 2.0
    w_1 = -tp1 * t * tm2 / 2.0
    w_2 = tp1 * t * tm1 / 6.0
    return w_m1, w_0, w_1, w_2


def _cubic_sample_index(u: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Sample nodal values ``u`` (last axis, length n) at fractional node indices ``s``.

    Nodes outside ``0 .. n-1`` count as 0, and so does any ``s`` outside ``[0, n-1]``.
    Leading axes of ``u`` are batch axes; the result has shape ``u.shape[:-1] + s.shape``.
    """
    u = np.asarray(u, dtype=float)
    s = np.asarray(s, dtype=float)
    n = u.shape[-1]
    pad = 2
    up = np.zeros(u.shape[:-1] + (n + 2 * pad,), dtype=float)
    up[..., pad : pad + n] = u
    inside = (s >= 0.0) & (s <= n - 1)
    s_c = np.where(inside, s, 0.0)
    i0 = np.floor(s_c).astype(np.int64)
    t = s_c - i0
    w = cubic_weights(t)
    out = np.zeros(u.shape[:-1] + s.shape, dtype=float)
    for k, wk in zip(range(-1, 3), w, strict=True):
        out = out + wk * up[..., i0 + k + pad]
    return np.where(inside, out, 0.0)


def grid(domain: Sequence[float], n: int) -> tuple[np.ndarray, float]:
    """Nodal grid of ``n`` points on ``[lo, hi]`` including both ends; returns ``(x, dx)`` [L]."""
    lo, hi = (float(v) for v in domain)
    if not hi > lo:
        raise ReferenceInputError(f"domain [{lo}, {hi}] is empty")
    if int(n) < 5:
        raise ReferenceInputError(f"n must be at least 5 grid points, got {n}")
    x = np.linspace(lo, hi, int(n))
    return x, (hi - lo) / (int(n) - 1)


def sample(x_grid: np.ndarray, u: np.ndarray, x_query: np.ndarray) -> np.ndarray:
    """Evaluate a nodal grid function at arbitrary points with the cubic Lagrange kernel.

    Args:
        x_grid: uniform nodal grid (n,) [L], increasing.
        u: values on ``x_grid``, shape (..., n); leading axes are batch axes (e.g. time).
        x_query: query points [L], any shape.

    Returns:
        Values of shape ``u.shape[:-1] + x_query.shape``; 0 outside ``[x_grid[0], x_grid[-1]]``
        (the domain's boundary value). Exact for cubic polynomials away from the ends.
    """
    x_grid = np.asarray(x_grid, dtype=float)
    if x_grid.ndim != 1 or x_grid.size < 2:
        raise ReferenceInputError("x_grid must be a 1D array of at least 2 points")
    if np.shape(u)[-1] != x_grid.size:
        raise ReferenceInputError(
            f"u has {np.shape(u)[-1]} values on its last axis, x_grid has {x_grid.size}"
        )
    dx = (x_grid[-1] - x_grid[0]) / (x_grid.size - 1)
    s = (np.asarray(x_query, dtype=float) - x_grid[0]) / dx
    # Snap round-off at the ends so the end nodes themselves count as inside.
    s = np.where(np.abs(s - (x_grid.size - 1)) < 1e-12, x_grid.size - 1, s)
    s = np.where(np.abs(s) < 1e-12, 0.0, s)
    return _cubic_sample_index(u, s)


def semi_lagrangian_step(u: np.ndarray, a: float, dt: float, dx: float) -> np.ndarray:
    """One semi-Lagrangian step: ``u_new(x_i) = u(x_i - a dt)`` with cubic interpolation.

    Args:
        u: nodal values (n,) at time t.
        a: advection speed [L/T]; any sign.
        dt: time step [T]; any size (unconditionally stable).
        dx: grid spacing [L].

    Returns:
        Nodal values (n,) at time t + dt; departure points outside the domain give 0 (inflow),
        and both end values are 0.
    """
    u = np.asarray(u, dtype=float)
    n = u.shape[-1]
    s = np.arange(n, dtype=float) - a * dt / dx
    out = _cubic_sample_index(u, s)
    out[..., 0] = 0.0
    out[..., -1] = 0.0
    return out


def lax_wendroff_step(u: np.ndarray, a: float, dt: float, dx: float) -> np.ndarray:
    """One Lax–Wendroff step (2nd order in space and time; stable for ``|a dt/dx| <= 1``).

    ``u_i' = u_i - c/2 (u_{i+1} - u_{i-1}) + c^2/2 (u_{i+1} - 2 u_i + u_{i-1})``, ``c = a dt/dx``.
    Units as in :func:`semi_lagrangian_step`; both end values are set to 0.
    """
    u = np.asarray(u, dtype=float)
    c = a * dt / dx
    out = np.zeros_like(u)
    um, u0, up = u[..., :-2], u[..., 1:-1], u[..., 2:]
    out[..., 1:-1] = u0 - 0.5 * c * (up - um) + 0.5 * c * c * (up - 2.0 * u0 + um)
    return out


def upwind_step(u: np.ndarray, a: float, dt: float, dx: float) -> np.ndarray:
    """One first-order upwind step (stable for ``|a dt/dx| <= 1``).

    ``u_i' = u_i - c (u_i - u_{i-1})`` for ``a >= 0``, ``u_i' = u_i - c (u_{i+1} - u_i)`` for
    ``a < 0``, with ``c = a dt/dx``. Units as in :func:`semi_lagrangian_step`; ends set to 0.
    """
    u = np.asarray(u, dtype=float)
    c = a * dt / dx
    out = np.zeros_like(u)
    if a >= 0:
        out[..., 1:-1] = u[..., 1:-1] - c * (u[..., 1:-1] - u[..., :-2])
    else:
        out[..., 1:-1] = u[..., 1:-1] - c * (u[..., 2:] - u[..., 1:-1])
    return out


_STEPPERS: dict[str, Callable[[np.ndarray, float, float, float], np.ndarray]] = {
    "semi_lagrangian": semi_lagrangian_step,
    "lax_wendroff": lax_wendroff_step,
    "upwind": upwind_step,
}


def solve(
    u0_fn: Callable[[np.ndarray], np.ndarray],
    a: float,
    domain: Sequence[float],
    n: int,
    dt: float,
    steps: int,
    scheme: str = "semi_lagrangian",
) -> tuple[np.ndarray, np.ndarray]:
    """Time-step ``u_t + a u_x = 0`` on a nodal grid.

    Args:
        u0_fn: initial condition, ``u0_fn(x) -> u`` on numpy arrays (x in [L]).
        a: advection speed [L/T].
        domain: ``(lo, hi)`` [L].
        n: number of grid points including both ends.
        dt: time step [T].
        steps: number of steps (>= 0).
        scheme: one of ``semi_lagrangian``, ``lax_wendroff``, ``upwind``.

    Returns:
        ``(x, U)``: the grid (n,) [L] and the solution ``U`` of shape (steps + 1, n), row k at
        time ``k dt``. The initial row is ``u0_fn(x)`` with both ends set to 0.

    Raises:
        ReferenceInputError: unknown scheme, bad sizes, or an explicit scheme with ``|c| > 1``.
    """
    if scheme not in _STEPPERS:
        raise ReferenceInputError(f"unknown scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
    if int(steps) < 0:
        raise ReferenceInputError(f"steps must be >= 0, got {steps}")
    if not dt > 0:
        raise ReferenceInputError(f"dt must be > 0, got {dt}")
    x, dx = grid(domain, n)
    courant = abs(a) * dt / dx
    if scheme != "semi_lagrangian" and courant > 1.0 + 1e-12:
        raise ReferenceInputError(
            f"{scheme} is unstable at Courant number |a dt/dx| = {courant:.3g} > 1; "
            "lower dt or use scheme='semi_lagrangian'"
        )
    stepper = _STEPPERS[scheme]
    U = np.empty((int(steps) + 1, x.size), dtype=float)
    u = np.asarray(u0_fn(x), dtype=float).copy()
    if u.shape != x.shape:
        raise ReferenceInputError(f"u0_fn returned shape {u.shape}, expected {x.shape}")
    u[0] = 0.0
    u[-1] = 0.0
    U[0] = u
    for k in range(int(steps)):
        u = stepper(u, a, dt, dx)
        U[k + 1] = u
    return x, U


def gradient(u: np.ndarray, dx: float) -> np.ndarray:
    """Spatial derivative ``du/dx`` of nodal values [1/L × units of u].

    Central differences inside; second-order one-sided differences at both ends. Works on
    the last axis of ``u`` (shape (..., n), n >= 3).
    """
    u = np.asarray(u, dtype=float)
    if u.shape[-1] < 3:
        raise ReferenceInputError("gradient needs at least 3 points")
    g = np.empty_like(u)
    g[..., 1:-1] = (u[..., 2:] - u[..., :-2]) / (2.0 * dx)
    g[..., 0] = (-3.0 * u[..., 0] + 4.0 * u[..., 1] - u[..., 2]) / (2.0 * dx)
    g[..., -1] = (3.0 * u[..., -1] - 4.0 * u[..., -2] + u[..., -3]) / (2.0 * dx)
    return g


def gaussian_pulse(mu: float = -1.5, sigma: float = 0.1) -> Callable[[np.ndarray], np.ndarray]:
    """The advection1d initial condition ``exp(-(x - mu)^2 / (2 sigma^2))`` (mu, sigma in [L])."""

    def u0(x: np.ndarray) -> np.ndarray:
        return np.exp(-((np.asarray(x, dtype=float) - mu) ** 2) / (2.0 * sigma**2))

    return u0


def exact(
    u0_fn: Callable[[np.ndarray], np.ndarray], a: float, x: np.ndarray, t: float
) -> np.ndarray:
    """Exact solution ``u0(x - a t)`` (valid while the pulse has not reached the ends)."""
    return u0_fn(np.asarray(x, dtype=float) - a * t)
