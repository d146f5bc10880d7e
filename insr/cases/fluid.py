"""Incompressible-Euler cases on a 2D box with no-through walls: initial velocity families
(torch), the truth of each case, and fluid diagnostics on the evaluation grid.

Initial-condition families (registered with :func:`insr.cases.initial.register_family`,
2 channels ``(u, v)``, written for the box ``[-1, 1]^2``; ``X = x + 1``, ``Y = y + 1``); they
are the torch twins of the numpy functions in :mod:`insr.reference.initial`:

- ``taylor_green``: ``u = sin(πX) cos(πY)/π``, ``v = -cos(πX) sin(πY)/π`` (no keys). Steady.
- ``taylor_green_multiscale``: the cell above plus ``amplitude`` × the cell of integer
  wavenumber ``k`` (keys ``k`` = 4, ``amplitude`` = 0.25).
- ``vortex_pair``: two co-rotating Lamb–Oseen vortices at ``(±separation/2, 0)`` with core
  radius ``core_radius`` and circulation chosen so the pair peaks at ``peak_speed``
  (keys ``separation`` = 0.6, ``core_radius`` = 0.1, ``peak_speed`` = 1).

Truth: a case whose ``initial.family`` is ``taylor_green`` is steady, so its exact solution at
every time is the initial field (gradient by float64 autograd). Every other euler case is
measured against the classical grid solver :mod:`insr.reference.euler2d`, run once when the
run first samples the truth (:meth:`FluidCase.prepare_truth`; building the case runs
nothing) at ``case.reference.resolution`` cells per axis (default 256) with time step
``dt / case.reference.substeps`` (default 1), sampled at the evaluation points with its cubic
interpolant; its Jacobian is the central difference of that interpolant with step half a cell
(one-sided within half a cell of a wall).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from insr.case_table import CaseConfig
from insr.cases.base import Case
from insr.cases.initial import InitialFn, make_initial, register_family
from insr.reference import euler2d
from insr.reference.euler2d import sample_velocity
from insr.reference.initial import vortex_pair_circulation
from insr.schema import ConfigError, at_least, from_dict, opt, positive

# ----------------------------------------------------------------------- initial conditions


def _need_2d(dim: int, path: str) -> None:
    if dim != 2:
        raise ConfigError(f"{path}: fluid initial conditions need a 2D domain, got {dim}D")


def taylor_green_torch(x: torch.Tensor, k: float = 1.0) -> torch.Tensor:
    """Taylor–Green cell of wavenumber ``k`` at points ``(N, 2)``: velocity ``(N, 2)``."""
    X = k * math.pi * (x[:, 0] + 1.0)
    Y = k * math.pi * (x[:, 1] + 1.0)
    return torch.stack(
        [torch.sin(X) * torch.cos(Y) / math.pi, -torch.cos(X) * torch.sin(Y) / math.pi], dim=1
    )


@dataclass
class TaylorGreen:
    """``taylor_green``: the steady cell (no keys)."""

    def build(self, dim: int, path: str) -> tuple[InitialFn, int]:
        _need_2d(dim, path)
        return taylor_green_torch, 2


def _whole(path: str, v: float) -> None:
    if not (v > 0 and v == int(v)):
        raise ConfigError(f"{path} = {v!r} is not allowed: expected a positive integer (walls)")


@dataclass
class TaylorGreenMultiscale:
    """``taylor_green_multiscale``: the cell plus ``amplitude`` x the cell of wavenumber ``k``."""

    k: float = opt(4, check=_whole, doc="integer wavenumber of the small cell")
    amplitude: float = opt(0.25, doc="amplitude of the small cell against the large one")

    def build(self, dim: int, path: str) -> tuple[InitialFn, int]:
        _need_2d(dim, path)
        k, amp = self.k, self.amplitude

        def u0(x: torch.Tensor) -> torch.Tensor:
            return taylor_green_torch(x) + amp * taylor_green_torch(x, k)

        return u0, 2


def lamb_oseen_torch(
    x: torch.Tensor, center: tuple[float, float], core_radius: float, gamma: float
) -> torch.Tensor:
    """One Lamb–Oseen vortex: ``u_θ = Γ/(2π r) (1 - exp(-r²/r_c²))``, velocity ``(N, 2)``."""
    dx = x[:, 0] - center[0]
    dy = x[:, 1] - center[1]
    s2 = (dx * dx + dy * dy) / core_radius**2
    small = s2 < 1e-12
    safe = torch.where(small, torch.ones_like(s2), s2)
    # u_θ / r = Γ/(2π r_c²) (1 - e^{-s²})/s², limit 1 at s -> 0
    factor = torch.where(small, torch.ones_like(s2), -torch.expm1(-safe) / safe)
    w = gamma / (2.0 * math.pi * core_radius**2) * factor
    return torch.stack([-w * dy, w * dx], dim=1)


@dataclass
class VortexPair:
    """``vortex_pair``: two co-rotating Lamb–Oseen vortices at ``(±separation/2, 0)``."""

    separation: float = opt(0.6, check=positive, doc="distance between the vortex centers")
    core_radius: float = opt(0.1, check=positive, doc="Lamb-Oseen core radius")
    peak_speed: float = opt(1.0, check=positive, doc="largest speed of one vortex")

    def build(self, dim: int, path: str) -> tuple[InitialFn, int]:
        _need_2d(dim, path)
        sep, rc = self.separation, self.core_radius
        gamma = vortex_pair_circulation(sep, rc, self.peak_speed)

        def u0(x: torch.Tensor) -> torch.Tensor:
            left, right = (
                lamb_oseen_torch(x, (c, 0.0), rc, gamma) for c in (-0.5 * sep, 0.5 * sep)
            )
            return left + right

        return u0, 2


register_family("taylor_green", TaylorGreen)
register_family("taylor_green_multiscale", TaylorGreenMultiscale)
register_family("vortex_pair", VortexPair)

# ----------------------------------------------------------------------------- the case


@dataclass
class ReferenceSettings:
    """``[case.reference]`` of an euler case: the grid solver used as truth."""

    resolution: int = opt(256, check=at_least(4), doc="cells per axis")
    substeps: int = opt(1, check=at_least(1), doc="grid steps per case step")
    interpolation: Literal["cubic", "linear"] = opt(
        "cubic", doc="sampling the grid solution at the evaluation points"
    )


def reference_settings(spec: dict[str, Any], path: str = "case.reference") -> ReferenceSettings:
    """Validate ``[case.reference]`` (unknown keys and bad values -> ConfigError)."""
    return from_dict(ReferenceSettings, spec, path)


def numpy_velocity(u0: InitialFn):
    """Wrap a torch initial velocity as ``fn(x, y) -> (u, v)`` on numpy arrays (float64)."""

    def fn(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pts = torch.from_numpy(np.stack([np.ravel(x), np.ravel(y)], axis=1).astype(np.float64))
        with torch.no_grad():
            uv = u0(pts).numpy()
        return uv[:, 0].reshape(np.shape(x)), uv[:, 1].reshape(np.shape(x))

    return fn


def reference_value_and_jacobian(
    sol: dict, index: int, x: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Velocity ``(N, 2)`` and Jacobian ``(N, 2, 2)`` of frame ``index`` of a
    :func:`insr.reference.euler2d.solve` result at points ``x`` ``(N, 2)``: cubic interpolant
    and its central difference with step half a cell (one-sided near walls)."""
    dom = np.asarray(sol["domain"], dtype=float)
    h = 0.5 * (dom[0, 1] - dom[0, 0]) / int(sol["n"])
    u = sample_velocity(sol, x, index)
    cols = []
    for j in range(2):
        xp, xm = x.copy(), x.copy()
        xp[:, j] = np.minimum(x[:, j] + h, dom[j, 1])
        xm[:, j] = np.maximum(x[:, j] - h, dom[j, 0])
        diff = sample_velocity(sol, xp, index) - sample_velocity(sol, xm, index)
        cols.append(diff / (xp[:, j] - xm[:, j])[:, None])
    return u, np.stack(cols, axis=-1)


@dataclass
class FluidCase(Case):
    """An euler case; ``reference`` is the grid solution used as truth (None when exact, or
    not yet computed: see :attr:`needs_reference` and :func:`solve_reference`)."""

    reference: dict | None = None
    reference_settings: ReferenceSettings | None = None

    @property
    def needs_reference(self) -> bool:
        """True while the truth is a grid solution that has not been computed yet."""
        return self.exact_fn is None and self.reference is None

    def prepare_truth(self) -> None:
        if self.needs_reference:
            self.reference = solve_reference(self)

    def exact(self, x: torch.Tensor, t: float) -> tuple[torch.Tensor, torch.Tensor] | None:
        if self.exact_fn is not None:
            return super().exact(x, t)
        if self.reference is None:
            return None
        k = int(round(t / self.config.dt))
        k = min(max(k, 0), len(self.reference["times"]) - 1)
        u, jac = reference_value_and_jacobian(
            self.reference, k, x.detach().cpu().to(torch.float64).numpy()
        )
        return (
            torch.from_numpy(u).to(x.device, x.dtype),
            torch.from_numpy(jac).to(x.device, x.dtype),
        )


def is_steady(cfg: CaseConfig) -> bool:
    return cfg.initial.get("family") == "taylor_green"


def make_fluid_case(cfg: CaseConfig, settings: Any = None) -> FluidCase:
    """The :class:`FluidCase` of a validated euler ``[case]`` table (its grid reference, when
    it has no exact solution, is computed later by :func:`solve_reference`)."""
    if cfg.dim != 2:
        raise ConfigError(f"case.pde = 'euler' needs a 2D domain, got {cfg.dim}D")
    u0, channels = make_initial(cfg.initial, cfg.dim)
    if channels != 2:
        raise ConfigError(
            f"case.initial: an euler case needs a 2-channel velocity, family "
            f"'{cfg.initial.get('family')}' gives {channels}"
        )
    if cfg.boundary != "wall":
        raise ConfigError(
            f"case.boundary = {cfg.boundary!r} is not allowed for euler: expected 'wall'"
        )
    ref = reference_settings(cfg.reference)
    if is_steady(cfg):
        return FluidCase(cfg, u0, channels, None, lambda x, t: u0(x), None, ref)
    return FluidCase(cfg, u0, channels, None, None, None, ref)


def solve_reference(case: FluidCase) -> dict:
    """Run the grid reference of ``case`` over its whole time span (seconds to minutes:
    called by the run layer when the truth is first sampled, never while building)."""
    ref = case.reference_settings or ReferenceSettings()
    return euler2d.solve(
        numpy_velocity(case.initial),
        case.domain,
        n=ref.resolution,
        dt=case.config.dt / ref.substeps,
        steps=case.config.steps * ref.substeps,
        save_every=ref.substeps,
        interpolation=ref.interpolation,
    )
