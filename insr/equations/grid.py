"""Grid baselines: adapters from a case to the pure-numpy reference solvers.

Each equation may register one (``grid=`` in :mod:`insr.equations`); a run with
``representation.kind = "grid"`` is then carried by :class:`insr.run.solvers.GridSolver`.

- euler -> :mod:`insr.reference.euler2d` (MAC grid, semi-Lagrangian advection, DCT
  projection), ``interpolation`` cubic or linear;
- 1D advection -> :mod:`insr.reference.advection1d` (``scheme``: semi_lagrangian,
  lax_wendroff, upwind);
- 1D heat -> :mod:`insr.reference.heat1d` (Crank–Nicolson, ``settings.kappa``);
- 2D advection -> semi-Lagrangian on a nodal grid with the exact characteristic foot of the
  case velocity and cubic spline interpolation (``scipy.ndimage.map_coordinates``, order 3),
  values outside the box = ``case.boundary_value``;
- 1D/2D advection with ``scheme = "mol_<time>_<space>"`` -> :mod:`insr.reference.mol`, the
  scheme-matched baseline: the network's time scheme (midpoint or Padé(2,2)) with central
  differences in space on a periodic grid.

``scheme = "auto"`` (default) is each PDE's own baseline: semi-Lagrangian for advection,
stable fluids for euler, Crank–Nicolson for heat. A setting a baseline does not read is
refused (a named scheme for heat, lax_wendroff/upwind in 2D, MOL outside advection,
``interpolation`` other than cubic outside euler).
Each baseline names its scheme (``scheme``: a label for tables and figures), and
:func:`nodal_layout` / :func:`mac_layout` give the stored floats at a resolution before
building it (for equal-memory matching, :mod:`insr.reference.equal_memory`).

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
from insr.reference.equal_memory import mac_floats, nodal_floats
from insr.reference.euler2d import cell_centers
from insr.reference.mol import MOLAdvection, periodic_axis
from insr.schema import ConfigError


class GridBaseline(Protocol):
    """A classical solver's state on its own grid."""

    n_floats: int
    scheme: str  # what the baseline is, for tables and figures

    def step(self, dt: float) -> None: ...

    def arrays(self, pts: np.ndarray) -> dict[str, np.ndarray]: ...

    def state_dict(self) -> dict[str, np.ndarray]: ...


class EulerGrid:
    def __init__(self, case: Any, n: int, interpolation: str) -> None:
        self.e = euler2d
        self.state = euler2d.make_state(numpy_velocity(case.initial), case.domain, n, interpolation)
        st = self.state
        self.n_floats = st.u.size + st.v.size + st.pressure.size  # x-faces, y-faces, cells
        self.scheme = (
            f"MAC stable fluids (semi-Lagrangian RK2 foot, {interpolation}; DCT projection)"
        )

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
        self.method = scheme
        self.scheme = ADVECTION1D_LABELS[scheme]
        self.n_floats = self.u.size

    def step(self, dt: float) -> None:
        # one step of the same scheme as advection1d.solve (which validates the Courant number)
        _, U = self.a1.solve(
            lambda _x: self.u, self.a, (self.x[0], self.x[-1]), self.x.size, dt, 1, self.method
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
        self.scheme = "semi-Lagrangian, exact foot, cubic spline (exact in time)"

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


ADVECTION1D_LABELS = {
    "semi_lagrangian": "semi-Lagrangian, exact foot, cubic Lagrange (exact in time)",
    "lax_wendroff": "Lax-Wendroff (2nd order)",
    "upwind": "upwind (1st order)",
}
MOL_TIME_LABELS = {"midpoint": "midpoint", "pade4": "Pade(2,2)"}
MOL_SCHEMES = tuple(f"mol_{t}_{s}" for t in MOL_TIME_LABELS for s in ("cd2", "cd4", "cd6"))


class MOLGrid:
    """The scheme-matched baseline :class:`~insr.reference.mol.MOLAdvection` on ``n``
    periodic nodes per axis; the velocity is the case's (steady) velocity at the nodes."""

    def __init__(self, case: Any, n: int, time: str, space: str) -> None:
        axes = [periodic_axis(float(lo), float(hi), n)[0] for lo, hi in case.domain]
        mesh = np.meshgrid(*axes, indexing="ij")
        nodes = torch.from_numpy(np.stack([m.ravel() for m in mesh], axis=1))
        with torch.no_grad():
            vel = case.velocity(nodes, 0.0).numpy()
            u0 = case.initial(nodes).numpy()
        self.mol = MOLAdvection(case.domain, n, vel, u0, time, space)
        self.n_floats = self.mol.n_floats
        self.scheme = f"MOL {MOL_TIME_LABELS[time]} + {space}, periodic (scheme-matched)"

    def step(self, dt: float) -> None:
        self.mol.step(dt)

    def arrays(self, pts: np.ndarray) -> dict[str, np.ndarray]:
        return {
            "field": self.mol.sample(self.mol.u, pts),
            "gradient/fd": self.mol.sample(self.mol.gradient_nodes(), pts),
        }

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"u": self.mol.u}


def mol_parts(scheme: str) -> tuple[str, str] | None:
    """``(time, space)`` of a ``mol_<time>_<space>`` scheme name, else None."""
    if not scheme.startswith("mol_"):
        return None
    time, space = scheme[len("mol_") :].rsplit("_", 1)
    return time, space


def _refuse(cfg: GridConfig, what: str, *, schemes: tuple[str, ...], cubic_only: bool) -> None:
    if cfg.scheme not in schemes:
        raise ConfigError(
            f"representation.grid.scheme = {cfg.scheme!r} is not allowed for {what}; "
            f"allowed: {', '.join(schemes)}"
        )
    if cubic_only and cfg.interpolation != "cubic":
        raise ConfigError(
            f"representation.grid.interpolation = {cfg.interpolation!r} has no effect on "
            f"{what} (only the euler grid reads it); remove it"
        )


def euler_grid(case: Any, settings: Any, cfg: GridConfig, n: int) -> GridBaseline:
    """The euler grid baseline at ``n`` cells per axis."""
    _refuse(cfg, "case.pde = 'euler'", schemes=("auto", "semi_lagrangian"), cubic_only=False)
    return EulerGrid(case, n, cfg.interpolation)


def advection_grid(case: Any, settings: Any, cfg: GridConfig, n: int) -> GridBaseline:
    """The advection grid baseline at ``n`` nodes per axis (``cfg.scheme``)."""
    if case.dim not in (1, 2):
        raise ConfigError(f"the grid representation supports 1D and 2D cases, got {case.dim}D")
    scheme = "semi_lagrangian" if cfg.scheme == "auto" else cfg.scheme
    mol = mol_parts(scheme)
    if mol is not None:
        _refuse(cfg, "a MOL scheme", schemes=(scheme,), cubic_only=True)
        return MOLGrid(case, n, *mol)
    if case.dim == 1:
        allowed = ("auto", *ADVECTION1D_LABELS, *MOL_SCHEMES)
        _refuse(cfg, "1D advection", schemes=allowed, cubic_only=True)
        if not isinstance(case.velocity, Constant):
            raise ConfigError("the 1D grid reference supports only case.velocity.kind = 'constant'")
        return Advection1DGrid(case, n, scheme)
    _refuse(cfg, "2D advection", schemes=("auto", "semi_lagrangian", *MOL_SCHEMES), cubic_only=True)
    return Advection2DGrid(case, n)


def nodal_layout(dim: int, channels: int, n: int) -> int:
    """Stored floats of a nodal baseline (advection, heat; also the periodic MOL grid) at
    ``n`` nodes per axis: ``n**dim * channels``."""
    return nodal_floats(n, dim, channels)


def mac_layout(dim: int, channels: int, n: int) -> int:
    """Stored floats of the euler MAC baseline at ``n`` cells per axis (faces + cells)."""
    return mac_floats(n)


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
        self.scheme = "Crank-Nicolson + cd2"

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
    _refuse(cfg, "case.pde = 'heat'", schemes=("auto",), cubic_only=True)
    return Heat1DGrid(case, n, float(settings.kappa))
