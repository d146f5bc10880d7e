"""Method of lines for ``u_t + v . grad u = 0``: the network's time schemes on a grid.

Pure numpy/scipy; no neural code. This is the *scheme-matched* grid baseline: the same
time discretization as the neural advection equation (:mod:`insr.equations.advection`,
eqs. (1) and (5)), with finite differences in space instead of a network.

Grid
    Periodic, ``n`` nodes per axis on the box ``[lo_k, hi_k)``: ``x_j = lo + j h``,
    ``h = (hi - lo) / n``, ``j = 0 .. n-1`` (``hi`` is the same point as ``lo``). ``d = 1``
    or 2; the state is the ``n**d`` nodal values per channel (C order, axis 0 slowest).
    The shipped advection cases have a zero Dirichlet boundary; the periodic wrap equals
    it while the solution is ~0 at the faces of the box.

Space
    ``A = sum_k diag(v_k) D_k`` approximates ``v . grad`` with ``D_k`` the periodic central
    difference along axis ``k`` (``cd2``: 2nd order, ``cd4``: 4th, ``cd6``: 6th order).
    ``v`` is the (steady) velocity at the nodes.

Time (``u_t = -A u``; both as in insr's neural schemes, with the velocity at the end of
the step, which is the same velocity for a steady field)
    ``midpoint``: ``(I + dt/2 A) u^{n+1} = (I - dt/2 A) u^n`` -- residual (1) of
    :mod:`insr.equations.advection`, 2nd order in time.
    ``pade4``: ``(I + dt/2 A + dt^2/12 A^2) u^{n+1} = (I - dt/2 A + dt^2/12 A^2) u^n`` --
    residual (5), Padé(2,2), 4th order in time. ``A^2`` is the discrete
    ``(v . grad)^2`` (it contains the ``((grad v) v) . grad u`` term of (5) for a
    variable ``v`` in the continuum limit).
    Both are A-stable: no Courant limit. The sparse system is LU-factorized once per ``dt``.

Units
    ``x``, ``h`` in L; ``t``, ``dt`` in T; ``v`` in L/T; ``u`` as advected.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from scipy.ndimage import map_coordinates
from scipy.sparse.linalg import splu

from insr.reference.errors import ReferenceInputError

#: central-difference stencils ``{offset: weight}`` of ``d/dx`` (times 1/h)
STENCILS: dict[str, dict[int, float]] = {
    "cd2": {1: 0.5, -1: -0.5},
    "cd4": {1: 2.0 / 3.0, -1: -2.0 / 3.0, 2: -1.0 / 12.0, -2: 1.0 / 12.0},
    "cd6": {1: 0.75, -1: -0.75, 2: -0.15, -2: 0.15, 3: 1.0 / 60.0, -3: -1.0 / 60.0},
}
#: formal order of accuracy of each stencil (space) and time scheme (time)
SPACE_ORDER = {"cd2": 2, "cd4": 4, "cd6": 6}
TIME_ORDER = {"midpoint": 2, "pade4": 4}


def periodic_axis(lo: float, hi: float, n: int) -> tuple[np.ndarray, float]:
    """The ``n`` periodic nodes ``lo + j h`` on ``[lo, hi)``, and ``h`` [L]."""
    if not hi > lo:
        raise ReferenceInputError(f"domain [{lo}, {hi}] is empty")
    if int(n) < 7:
        raise ReferenceInputError(f"n must be at least 7 nodes per axis, got {n}")
    h = (hi - lo) / int(n)
    return lo + h * np.arange(int(n)), h


def derivative_1d(n: int, h: float, space: str) -> sp.csr_matrix:
    """The periodic central-difference ``d/dx`` on ``n`` nodes of spacing ``h`` [1/L]."""
    if space not in STENCILS:
        raise ReferenceInputError(
            f"unknown space scheme {space!r}; choose one of {', '.join(STENCILS)}"
        )
    rows, cols, vals = [], [], []
    idx = np.arange(n)
    for off, w in STENCILS[space].items():
        rows.append(idx)
        cols.append((idx + off) % n)
        vals.append(np.full(n, w / h))
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    )


def derivative(axis: int, shape: Sequence[int], h: float, space: str) -> sp.csr_matrix:
    """``d/dx_axis`` on the flattened (C order) periodic grid of ``shape``."""
    eye = [sp.identity(m, format="csr") for m in shape]
    mats = [derivative_1d(m, h, space) if k == axis else eye[k] for k, m in enumerate(shape)]
    out = mats[0]
    for m in mats[1:]:
        out = sp.kron(out, m, format="csr")
    return sp.csr_matrix(out)


class MOLAdvection:
    """``u_t + v . grad u = 0`` on a periodic grid by a time scheme × space stencil.

    Args:
        domain: ``[(lo, hi), ...]`` per axis [L] (1 or 2 axes).
        n: nodes per axis.
        velocity: the steady velocity at the nodes, ``(n**d, d)`` [L/T] (C order).
        u0: initial nodal values, ``(n**d,)`` or ``(n**d, c)``.
        time: ``midpoint`` | ``pade4``; space: ``cd2`` | ``cd4`` | ``cd6``.
    """

    def __init__(
        self,
        domain: Sequence[Sequence[float]],
        n: int,
        velocity: np.ndarray,
        u0: np.ndarray,
        time: str,
        space: str,
    ) -> None:
        if time not in TIME_ORDER:
            raise ReferenceInputError(
                f"unknown time scheme {time!r}; choose one of {', '.join(TIME_ORDER)}"
            )
        dim = len(domain)
        if dim not in (1, 2):
            raise ReferenceInputError(f"MOL advection supports 1D and 2D, got {dim}D")
        axes = [periodic_axis(float(lo), float(hi), n) for lo, hi in domain]
        self.axes = [a for a, _ in axes]
        self.h = [h for _, h in axes]
        self.lo = [float(lo) for lo, _ in domain]
        self.shape = (int(n),) * dim
        self.time, self.space = time, space
        size = int(n) ** dim
        v = np.asarray(velocity, dtype=float)
        if v.shape != (size, dim):
            raise ReferenceInputError(f"velocity has shape {v.shape}, expected {(size, dim)}")
        u = np.asarray(u0, dtype=float)
        u = u[:, None] if u.ndim == 1 else u
        if u.shape[0] != size:
            raise ReferenceInputError(f"u0 has {u.shape[0]} rows, expected {size}")
        self.u = u.copy()
        self.D = [derivative(k, self.shape, self.h[k], space) for k in range(dim)]
        self.A = sp.csr_matrix(sum(sp.diags(v[:, k]) @ self.D[k] for k in range(dim)))
        self._dt: float | None = None

    @property
    def n_floats(self) -> int:
        """Stored floats of the state: ``n**d`` nodes × channels."""
        return int(self.u.size)

    def _factor(self, dt: float) -> None:
        eye = sp.identity(self.A.shape[0], format="csc")
        a = self.A.tocsc()
        half = 0.5 * dt * a
        if self.time == "midpoint":
            lhs, self.rhs = eye + half, eye - half
        else:
            a2 = (dt * dt / 12.0) * (a @ a)
            lhs, self.rhs = eye + half + a2, eye - half + a2
        self.lu = splu(sp.csc_matrix(lhs))
        self._dt = dt

    def step(self, dt: float) -> None:
        """Advance the state by ``dt`` [T] (any ``dt > 0``)."""
        if not dt > 0:
            raise ReferenceInputError(f"dt must be > 0, got {dt}")
        if self._dt != dt:
            self._factor(dt)
        self.u = self.lu.solve(self.rhs @ self.u)

    def gradient_nodes(self) -> np.ndarray:
        """``grad u`` at the nodes by the scheme's own stencil, ``(n**d, c, d)``."""
        return np.stack([D @ self.u for D in self.D], axis=-1)

    def _coords(self, pts: np.ndarray) -> np.ndarray:
        return np.stack([(pts[:, k] - self.lo[k]) / self.h[k] for k in range(len(self.shape))])

    def sample(self, values: np.ndarray, pts: np.ndarray) -> np.ndarray:
        """Periodic cubic-spline interpolation of nodal ``values`` ``(n**d, ...)`` at
        ``pts`` ``(N, d)`` [L]; 4th-order accurate."""
        flat = values.reshape(values.shape[0], -1)
        coords = self._coords(np.asarray(pts, dtype=float))
        cols = [
            map_coordinates(flat[:, j].reshape(self.shape), coords, order=3, mode="grid-wrap")
            for j in range(flat.shape[1])
        ]
        return np.stack(cols, axis=-1).reshape(len(pts), *values.shape[1:])
