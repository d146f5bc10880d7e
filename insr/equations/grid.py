"""Grid baselines: adapters from a case to the pure-numpy reference solvers.

Each equation may register one (``grid=`` in :mod:`insr.equations`); a run with
``representation.kind = "grid"`` is then carried by :class:`insr.run.solvers.GridSolver`.

- euler -> :mod:`insr.reference.euler2d` (MAC grid, semi-Lagrangian advection, DCT
  projection), ``interpolation`` cubic or linear;
- 1D advection -> :mod:`insr.reference.advection1d` (``scheme``);
- 1D heat -> :mod:`insr.reference.heat1d` (Crank–Nicolson, ``settings.kappa``);
- 2D advection -> semi-Lagrangian on a nodal grid with the exact characteristic foot of the
  case velocity and cubic spline interpolation (``scipy.ndimage.map_coordinates``, order 3),
  values outside the box = ``case.boundary_value``.

What a baseline returns at the evaluation points: ``field`` (the solver's own interpolant:
cubic), ``gradient/fd`` (central differences on the solver grid -- second-order one-sided at
the ends -- interpolated linearly to the evaluation points) and, for euler,
``fluid/vorticity``, ``fluid/divergence`` (from that gradient) and ``fluid/pressure``
(kinematic, interpolated from cell centres). ``n_floats`` is the number of stored floats of
the solver state.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch
from scipy.interpolate import RegularGridInterpolator
from scipy.ndimage import map_coordinates

from insr.cases.fluid import numpy_velocity
from insr.cases.velocity import Constant
from insr.fields.solver_kinds import GridConfig
from insr.reference import advection1d, euler2d, heat1d
from insr.reference.euler2d import cell_centers
from insr.schema import ConfigError


class GridBaseline(Protocol):
    """A classical solver's state on its own grid."""

    n_floats: int

    def step(self, dt: float) -> None: ...

    def arrays(self, pts: np.ndarray) -> dict[str, np.ndarray]: ...

    def state_dict(self) -> dict[str, np.ndarray]: ...


class EulerGrid:
    def __init__(self, case: Any, n: int, interpolation: str) -> None:
        self.e = euler2d
        self.state = euler2d.make_state(numpy_velocity(case.initial), case.domain, n, interpolation)
        self.n_floats = self.state.u.size + self.state.v.size

    def step(self, dt: float) -> None:
        self.state = self.e.step(self.state, dt)

    def arrays(self, pts: np.ndarray) -> dict[str, np.ndarray]:
        st = self.state
        xc, yc = cell_centers(st.domain, st.n)
        vel = self.e.cell_velocity(st)  # (n, n, 2)
        jac = np.stack(
            [np.gradient(vel, d, axis=a, edge_order=2) for a, d in ((0, st.dx), (1, st.dy))], -1
        )
        interp = RegularGridInterpolator((xc, yc), jac, bounds_error=False, fill_value=None)
        pint = RegularGridInterpolator((xc, yc), st.pressure, bounds_error=False, fill_value=None)
        J = interp(pts)
        return {
            "field": self.e.sample_velocity(st, pts),
            "gradient/fd": J,
            "fluid/vorticity": J[:, 1, 0] - J[:, 0, 1],
            "fluid/divergence": J[:, 0, 0] + J[:, 1, 1],
            "fluid/pressure": pint(pts),
        }

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"u_face": self.state.u, "v_face": self.state.v, "pressure": self.state.pressure}


class Advection1DGrid:
    def __init__(self, case: Any, n: int, scheme: str) -> None:
        self.a1 = advection1d
        self.a = float(case.velocity.a[0])
        self.x, self.dx = advection1d.grid(case.domain[0], n)
        with torch.no_grad():
            u = case.initial(torch.from_numpy(self.x[:, None])).numpy()[:, 0].astype(float)
        u[0] = u[-1] = 0.0  # the reference solver's Dirichlet ends (as its solve() does)
        self.u = u
        self.scheme = scheme
        self.n_floats = self.u.size

    def step(self, dt: float) -> None:
        # one step of the same scheme as advection1d.solve (which validates the Courant number)
        _, U = self.a1.solve(
            lambda _x: self.u, self.a, (self.x[0], self.x[-1]), self.x.size, dt, 1, self.scheme
        )
        self.u = U[-1]

    def arrays(self, pts: np.ndarray) -> dict[str, np.ndarray]:
        xq = pts[:, 0]
        g = self.a1.gradient(self.u, self.dx)
        return {
            "field": self.a1.sample(self.x, self.u, xq)[:, None],
            "gradient/fd": np.interp(xq, self.x, g)[:, None, None],
        }

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"u": self.u}


class Advection2DGrid:
    def __init__(self, case: Any, n: int) -> None:
        self.case = case
        self.axes = [np.linspace(lo, hi, n) for lo, hi in case.domain]
        self.h = [a[1] - a[0] for a in self.axes]
        mesh = np.meshgrid(*self.axes, indexing="ij")
        self.nodes = np.stack([m.ravel() for m in mesh], axis=1)
        with torch.no_grad():
            u0 = case.initial(torch.from_numpy(self.nodes)).numpy()[:, 0]
        self.u = u0.reshape(n, n).astype(float)
        self.t = 0.0
        self.n_floats = self.u.size

    def _coords(self, pts: np.ndarray) -> np.ndarray:
        return np.stack([(pts[:, j] - self.axes[j][0]) / self.h[j] for j in range(2)])

    def step(self, dt: float) -> None:
        # exact characteristic foot over one step (velocity is steady for the shipped kinds)
        foot = self.case.velocity.foot(torch.from_numpy(self.nodes), dt).numpy()
        bv = float(self.case.config.boundary_value)
        self.u = map_coordinates(
            self.u, self._coords(foot), order=3, mode="constant", cval=bv
        ).reshape(self.u.shape)
        self.t += dt

    def arrays(self, pts: np.ndarray) -> dict[str, np.ndarray]:
        jac = np.stack([np.gradient(self.u, self.h[a], axis=a, edge_order=2) for a in range(2)], -1)
        interp = RegularGridInterpolator(tuple(self.axes), jac, bounds_error=False, fill_value=None)
        return {
            "field": map_coordinates(self.u, self._coords(pts), order=3, mode="nearest")[:, None],
            "gradient/fd": interp(pts)[:, None, :],
        }

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"u": self.u}


def euler_grid(case: Any, settings: Any, cfg: GridConfig, n: int) -> GridBaseline:
    """The euler grid baseline at ``n`` cells per axis."""
    return EulerGrid(case, n, cfg.interpolation)


def advection_grid(case: Any, settings: Any, cfg: GridConfig, n: int) -> GridBaseline:
    """The advection grid baseline at ``n`` nodes per axis (1D: ``cfg.scheme``)."""
    if case.dim == 1:
        if not isinstance(case.velocity, Constant):
            raise ConfigError("the 1D grid reference supports only case.velocity.kind = 'constant'")
        return Advection1DGrid(case, n, cfg.scheme)
    if case.dim == 2:
        return Advection2DGrid(case, n)
    raise ConfigError(f"the grid representation supports 1D and 2D cases, got {case.dim}D")


class Heat1DGrid:
    """Crank–Nicolson on ``n`` nodes; sampled like :class:`Advection1DGrid` (cubic)."""

    def __init__(self, case: Any, n: int, kappa: float) -> None:
        self.kappa = kappa
        self.x, self.dx = advection1d.grid(case.domain[0], n)
        with torch.no_grad():
            u = case.initial(torch.from_numpy(self.x[:, None])).numpy()[:, 0].astype(float)
        u[0] = u[-1] = 0.0  # the zero Dirichlet ends
        self.u = u
        self.n_floats = self.u.size

    def step(self, dt: float) -> None:
        self.u = heat1d.crank_nicolson_step(self.u, self.kappa, self.dx, dt)

    def arrays(self, pts: np.ndarray) -> dict[str, np.ndarray]:
        xq = pts[:, 0]
        g = advection1d.gradient(self.u, self.dx)
        return {
            "field": advection1d.sample(self.x, self.u, xq)[:, None],
            "gradient/fd": np.interp(xq, self.x, g)[:, None, None],
        }

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"u": self.u}


def heat_grid(case: Any, settings: Any, cfg: GridConfig, n: int) -> GridBaseline:
    """The heat grid baseline at ``n`` nodes (Crank–Nicolson with ``settings.kappa``)."""
    return Heat1DGrid(case, n, float(settings.kappa))
