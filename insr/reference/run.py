"""The ``grid`` representation: run a case with the classical reference solver and write the
same HDF5 log as a neural run (``insr run CASE --set representation.kind=grid``).

Resolution: ``[representation.grid] resolution = n`` (cells per axis for euler, nodes for
advection), or ``match_params_of = "<kind>"`` for the equal-memory baseline: the largest
grid storing at most as many floats as that representation (built with its
``[representation.<kind>]`` parameters and the case's channels) has parameters
(:func:`insr.reference.equal_memory.grid_resolution_for_params`).

Solvers: euler -> :mod:`insr.reference.euler2d` (MAC grid, semi-Lagrangian advection, DCT
projection); 1D advection -> :mod:`insr.reference.advection1d` (``scheme``); 2D advection ->
semi-Lagrangian on a nodal grid with the exact characteristic foot of the case velocity
and cubic spline interpolation (``scipy.ndimage.map_coordinates``, order 3), values outside
the box = ``case.boundary_value``.

What is logged at the evaluation points: ``field`` (the solver's own interpolant: cubic),
``gradient/fd`` (central differences on the solver grid — second-order one-sided at the
ends — interpolated linearly to the evaluation points), the exact/reference truth, the usual
metrics and, for euler, ``fluid/vorticity``, ``fluid/divergence`` (from that gradient) and
``fluid/pressure`` (kinematic, interpolated from cell centres). ``n_params`` is the number of
stored floats of the solver state. There is no ``loss`` or ``iterations`` metric.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.interpolate import RegularGridInterpolator
from scipy.ndimage import map_coordinates

from insr.config import ConfigError, RunConfig, opt
from insr.fields.base import Field


@dataclass
class GridConfig:
    """``[representation.grid]``: the classical grid solver as a representation."""

    resolution: int = opt(
        0, doc="cells per axis (euler) / nodes per axis (advection); 0 = use match_params_of"
    )
    match_params_of: str = opt(
        "", doc="equal memory: as many floats as this representation has parameters"
    )
    matched_params: dict = opt({}, doc="(filled in) parameters of the matched representation")
    interpolation: str = opt("cubic", doc="euler: 'cubic' or 'linear'")
    scheme: str = opt(
        "semi_lagrangian", doc="1D advection: semi_lagrangian | lax_wendroff | upwind"
    )

    def validate(self, path: str) -> None:
        from insr.fields import field_kinds

        if self.resolution and self.match_params_of:
            raise ConfigError(f"{path}: give resolution or match_params_of, not both")
        if not self.resolution and not self.match_params_of:
            raise ConfigError(f"{path}: needs resolution = N (>= 4) or match_params_of = '<kind>'")
        if self.resolution and self.resolution < 4:
            raise ConfigError(
                f"{path}.resolution = {self.resolution} is not allowed: expected an integer >= 4"
            )
        allowed = field_kinds()
        if self.match_params_of and self.match_params_of not in allowed:
            raise ConfigError(
                f"{path}.match_params_of = {self.match_params_of!r} is not allowed; "
                f"allowed: {', '.join(allowed)}"
            )
        if self.interpolation not in ("cubic", "linear"):
            raise ConfigError(
                f"{path}.interpolation = {self.interpolation!r} is not allowed: "
                "expected 'cubic' or 'linear'"
            )
        schemes = ("semi_lagrangian", "lax_wendroff", "upwind")
        if self.scheme not in schemes:
            raise ConfigError(
                f"{path}.scheme = {self.scheme!r} is not allowed; allowed: {', '.join(schemes)}"
            )


class GridField(Field):
    """Placeholder so that ``grid`` is a registered representation; a grid run never builds a
    neural field (see :func:`execute_grid`)."""

    def __init__(self, cfg: GridConfig, domain, out_features: int) -> None:  # noqa: ANN001
        from insr.errors import UsageError

        raise UsageError(
            "the grid representation runs the reference solver as a whole case "
            "(insr run CASE --set representation.kind=grid); it cannot be used as a field here"
        )


def grid_resolution(cfg: RunConfig, dim: int, channels: int) -> tuple[int, int | None]:
    """``(resolution, matched n_params or None)`` of a grid run."""
    from insr.fields import build_field
    from insr.reference.equal_memory import grid_resolution_for_params

    p = cfg.representation.params
    if p.get("resolution"):
        return int(p["resolution"]), None
    kind = p["match_params_of"]
    n = build_field(kind, p.get("matched_params") or {}, cfg.case.domain, channels).n_params
    return max(4, grid_resolution_for_params(n, dim, channels)), n


# ------------------------------------------------------------------------------- solvers


class _Euler:
    def __init__(self, case: Any, n: int, interpolation: str) -> None:
        from insr.cases.fluid import numpy_velocity
        from insr.reference import euler2d

        self.e = euler2d
        self.state = euler2d.make_state(numpy_velocity(case.initial), case.domain, n, interpolation)
        self.n_floats = self.state.u.size + self.state.v.size

    def step(self, dt: float) -> None:
        self.state = self.e.step(self.state, dt)

    def arrays(self, pts: np.ndarray) -> dict[str, np.ndarray]:
        from insr.reference.euler2d import cell_centers

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


class _Advection1D:
    def __init__(self, case: Any, n: int, scheme: str) -> None:
        from insr.reference import advection1d

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


class _Advection2D:
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


def make_solver(cfg: RunConfig, case: Any, n: int):
    p = cfg.representation.params
    if cfg.case.pde == "euler":
        return _Euler(case, n, p.get("interpolation", "cubic"))
    if case.dim == 1:
        from insr.cases.velocity import Constant

        if not isinstance(case.velocity, Constant):
            raise ConfigError("the 1D grid reference supports only case.velocity.kind = 'constant'")
        return _Advection1D(case, n, p.get("scheme", "semi_lagrangian"))
    if case.dim == 2:
        return _Advection2D(case, n)
    raise ConfigError(f"the grid representation supports 1D and 2D cases, got {case.dim}D")


# ----------------------------------------------------------------------------- the run


def execute_grid(
    cfg: RunConfig,
    run_dir: Path,
    *,
    overwrite: bool = False,
    report: Callable[[str, dict], None] | None = None,
):
    """Run ``cfg`` (representation kind ``grid``) into ``run_dir/run.h5``; returns a
    :class:`insr.runner.RunResult`."""
    from insr.cases import make_case
    from insr.errors import RunFailure
    from insr.log import RunLogWriter
    from insr.metrics import step_metrics
    from insr.runner import RunResult, eval_grid, grid_points, prepare_run_dir

    prepare_run_dir(run_dir, overwrite=overwrite)
    case = make_case(cfg.case)
    n, matched = grid_resolution(cfg, case.dim, case.channels)
    solver = make_solver(cfg, case, n)
    axes = eval_grid(case, cfg.eval.resolution)
    shape = tuple(len(a) for a in axes)
    pts = grid_points(axes)
    pts_t = torch.from_numpy(pts)
    attrs = {
        "case": cfg.case.name,
        "representation": "grid",
        "dim": case.dim,
        "channels": case.channels,
        "n_params": solver.n_floats,
        "grid_resolution": n,
        "dt": cfg.case.dt,
        "total_steps": cfg.case.steps,
    }
    if matched is not None:
        attrs["matched_n_params"] = matched
    writer = RunLogWriter.create(run_dir / "run.h5", config=cfg.as_dict(), axes=axes, attrs=attrs)
    fluid = cfg.case.pde == "euler"
    t0 = time.perf_counter()
    last: dict[str, float] = {}
    status = "complete"
    try:
        for step in range(cfg.case.steps + 1):
            t = step * cfg.case.dt
            if report is not None:
                report("step", {"step": step, "t": t})
            ts = time.perf_counter()
            if step > 0:
                solver.step(cfg.case.dt)
            seconds = time.perf_counter() - ts
            if step % cfg.eval.every and step != cfg.case.steps:
                continue
            arrays = {
                k: v.reshape(*shape, *v.shape[1:]).astype(np.float32)
                for k, v in solver.arrays(pts).items()
            }
            exact = None
            ex = case.exact(pts_t, t)
            if ex is not None:
                exact = {
                    "field": ex[0].numpy().reshape(*shape, -1),
                    "gradient": ex[1].numpy().reshape(*shape, *ex[1].shape[1:]),
                }
                arrays["exact/field"] = exact["field"].astype(np.float32)
                arrays["exact/gradient"] = exact["gradient"].astype(np.float32)
            metrics = {"wall_seconds": seconds, **step_metrics(arrays, exact, len(shape))}
            if fluid:
                from insr.cases.fluid import fluid_metrics

                metrics.update(fluid_metrics(arrays, exact, axes))
            arrays["step"] = np.asarray(step, dtype=np.int64)
            arrays["time"] = np.asarray(t, dtype=np.float64)
            try:
                writer.append(arrays, metrics)
            except OSError as e:
                raise RunFailure(f"writing step {step} to {writer.path} failed: {e}") from None
            writer.save_checkpoint(solver.state_dict(), {"step": step, "t": t})
            last = metrics
            if report is not None:
                report("done", {"step": step, "metrics": metrics})
    except BaseException:
        writer.close(f"failed after {writer.completed_steps} rows")
        raise
    k = writer.completed_steps
    writer.close(status)
    return RunResult(writer.path.parent, writer.path, status, k, time.perf_counter() - t0, last)
