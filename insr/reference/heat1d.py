"""Crank–Nicolson for the 1D heat equation ``u_t = κ u_xx`` with zero Dirichlet ends.

Pure numpy/scipy; no neural code. The equal-memory grid baseline of the neural heat case.

Grid
    Uniform nodal grid of ``n`` points including both ends (as :mod:`advection1d`),
    ``dx = (hi - lo) / (n - 1)``; ``u_0 = u_{n-1} = 0``.

Scheme
    ``(I - r/2 D) u^{k+1} = (I + r/2 D) u^k`` on the interior nodes, ``r = κ dt / dx²``,
    ``D`` the second-difference matrix ``[1, -2, 1]``: second order in ``dt`` and ``dx``,
    unconditionally stable. The tridiagonal system is solved by ``scipy.linalg.solve_banded``.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import solve_banded

from insr.reference.errors import ReferenceInputError


def crank_nicolson_step(u: np.ndarray, kappa: float, dx: float, dt: float) -> np.ndarray:
    """One step of the scheme on nodal values ``u`` (ends held at 0)."""
    if kappa < 0 or dt < 0 or dx <= 0:
        raise ReferenceInputError(f"need kappa >= 0, dt >= 0, dx > 0; got {kappa}, {dt}, {dx}")
    r = kappa * dt / (dx * dx)
    inner = u[1:-1]
    lap = np.zeros_like(inner)
    lap += -2.0 * inner
    lap[1:] += inner[:-1]
    lap[:-1] += inner[1:]
    rhs = inner + 0.5 * r * lap
    m = inner.size
    ab = np.empty((3, m))
    ab[0, :] = -0.5 * r
    ab[1, :] = 1.0 + r
    ab[2, :] = -0.5 * r
    out = np.zeros_like(u)
    out[1:-1] = solve_banded((1, 1), ab, rhs)
    return out
