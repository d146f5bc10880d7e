"""Inviscid incompressible Euler on a 2D box with no-through walls, by operator splitting
as in INSR (Chen et al. 2023, Sec. 4.3): per time step three warm-started optimizations.

Velocity ``u`` (2 channels) and pressure ``p`` (1 channel) are separate fields, each any
representation. With ``x`` uniform random points in the box and ``x_b`` random wall points
with outward normal ``n``:

1. advect (semi-Lagrangian): ``u`` starts from ``u_prev`` and minimizes
   ``mean |u(x) − u_prev(X(x))|²`` where the foot ``X`` is traced back through the frozen
   previous field, by the midpoint rule (``backtrace = "rk2"``, default):
   ``X = x − dt u_prev(x − dt/2 u_prev(x))``, or by one Euler step (``"euler"``):
   ``X = x − dt u_prev(x)``; feet are clamped into the box. Result frozen as ``u*``.
2. pressure: ``p`` minimizes ``mean (∇²p − ∇·u*)²`` + ``wall_weight`` ·
   ``mean (∂p/∂n − u*·n)²`` (the Neumann condition that makes step 3 satisfy ``u·n = 0``)
   + ``mean(p)²`` (fixes the free constant). ``∇²p`` is the field's closed-form Laplacian
   where it has one (MLPs: one forward sweep carrying the Hessian diagonal, hand-written
   backward), else the trace of the autograd Hessian of the (closed-form) Jacobian.
3. project: ``u`` starts from ``u*`` and minimizes ``mean |u(x) − (u*(x) − ∇p(x))|²``
   + ``wall_weight`` · ``mean (u(x_b)·n)²``.

Here ``p`` is the projection potential (units L²/T); the logged pressure is ``p / dt``
(kinematic, L²/T², as in the grid reference). ``∇·u*`` and ``∇p`` in the targets use the
``derivative.loss`` strategy. Step 0 fits ``u`` to the initial velocity and ``p`` to 0 (a
neutral warm start for the first pressure solve; no pressure is solved at step 0).

Settings (``[extra.fluid]``): ``pressure_representation`` (kind; default: the velocity's),
``pressure`` (parameter table of that kind; default: the velocity's parameters when the
kinds match, else that kind's defaults), ``backtrace``, ``wall_weight``, ``wall_samples``
(points per wall face).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import torch

from insr.cases import Case
from insr.derivatives import get_strategy, operators
from insr.equations.base import (
    FieldSpec,
    Numerics,
    PerSampleSet,
    SubProblem,
    frozen_copy,
    uniform_sampler,
)
from insr.fields import field_kinds, representation_params
from insr.fields.base import Field
from insr.schema import ConfigError, at_least, opt, suggest


@dataclass
class FluidSettings:
    """``[extra.fluid]`` (see module docstring)."""

    pressure_representation: str = opt("", doc="pressure field kind; '' = velocity's kind")
    pressure: dict = opt({}, doc="parameters of the pressure representation")
    backtrace: Literal["rk2", "euler"] = opt("rk2", doc="semi-Lagrangian backtrace rule")
    wall_weight: float = opt(10.0, check=at_least(0.0), doc="weight of the wall penalties")
    wall_samples: int = opt(64, check=at_least(1), doc="random points per wall face")


def fluid_fields(
    case: Case, settings: FluidSettings, velocity: FieldSpec, path: str
) -> dict[str, FieldSpec]:
    """Velocity ``u`` (2 channels, the run's representation) and pressure ``p`` (1 channel,
    ``settings.pressure_representation`` -- default the velocity's kind, with the velocity's
    parameters when the kinds match). ``path`` names the settings table in messages."""
    kind = settings.pressure_representation or velocity.kind
    allowed = field_kinds()
    if kind not in allowed:
        raise ConfigError(
            f"{path}.pressure_representation = {kind!r} is not allowed"
            f"{suggest(kind, allowed)}; allowed: {', '.join(allowed)}"
        )
    params = settings.pressure
    if not params and kind == velocity.kind:
        params = dict(velocity.params)
    params = representation_params(kind, params, f"{path}.pressure ({kind})")
    return {"u": FieldSpec(velocity.kind, velocity.params, 2), "p": FieldSpec(kind, params, 1)}


def wall_points(
    domain: list[list[float]], per_face: int, gen: torch.Generator, dtype: torch.dtype, device
) -> tuple[torch.Tensor, torch.Tensor]:
    """``per_face`` random points on each face of a 2D box and their outward unit normals."""
    lo = torch.tensor([a for a, _ in domain], dtype=dtype, device=device)
    hi = torch.tensor([b for _, b in domain], dtype=dtype, device=device)
    pts, normals = [], []
    for axis in range(2):
        for sign, side in ((-1.0, lo), (1.0, hi)):
            p = torch.rand(per_face, 2, generator=gen, dtype=dtype, device=device) * (hi - lo) + lo
            p[:, axis] = side[axis]
            n = torch.zeros(per_face, 2, dtype=dtype, device=device)
            n[:, axis] = sign
            pts.append(p)
            normals.append(n)
    return torch.cat(pts), torch.cat(normals)


def laplacian(f: Field, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Values ``(N, 1)``, gradient ``(N, 2)`` and Laplacian ``(N,)`` of a scalar field, with
    the graph kept (for a loss); see :func:`insr.derivatives.operators.laplacian`."""
    p, jac, lap = operators.laplacian(f, x, create_graph=True)
    return p, jac[:, 0, :], lap[:, 0]


class Fluid:
    """The three-sub-problem Euler step (see module docstring)."""

    def __init__(
        self,
        case: Case,
        fields: dict[str, Field],
        settings: FluidSettings | None = None,
        numerics: Numerics | None = None,
    ) -> None:
        n = numerics if numerics is not None else Numerics()
        self.case = case
        self.u = fields["u"]
        self.p = fields["p"]
        self.fields = {"u": self.u, "p": self.p}
        self.settings = settings if settings is not None else FluidSettings()
        self.derive = get_strategy(n.loss_strategy, h=n.h, scheme=n.scheme, spacing=n.spacing)
        self.dtype, self.device = n.dtype, torch.device(n.device)
        self.sample = uniform_sampler(case.domain, n.samples, self.dtype, self.device)
        lo = torch.tensor([a for a, _ in case.domain], dtype=self.dtype, device=self.device)
        hi = torch.tensor([b for _, b in case.domain], dtype=self.dtype, device=self.device)
        self._lo, self._hi = lo, hi
        self.dt = case.config.dt

    def _walls(self, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return wall_points(
            self.case.domain, self.settings.wall_samples, gen, self.dtype, self.device
        )

    def initial_problems(self) -> list[SubProblem]:
        u0 = self.case.initial

        def loss(x: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                target = u0(x)
            return ((self.u(x) - target) ** 2).sum(-1).mean()

        def zero(x: torch.Tensor) -> torch.Tensor:
            return (self.p(x) ** 2).mean()

        # p = 0 is a neutral warm start for step 1 (a fresh network's output is not)
        return [
            SubProblem("fit", self.u, loss, self.sample),
            SubProblem("fit_p", self.p, zero, self.sample),
        ]

    def _backtrace(self, prev: Field, x: torch.Tensor, dt: float) -> torch.Tensor:
        if self.settings.backtrace == "rk2":
            mid = torch.clamp(x - 0.5 * dt * prev(x), self._lo, self._hi)
            foot = x - dt * prev(mid)
        else:
            foot = x - dt * prev(x)
        return torch.clamp(foot, self._lo, self._hi)

    def step_problems(self, step: int, t: float, dt: float) -> Iterator[SubProblem]:
        s = self.settings
        gen = torch.Generator(device=self.device)
        gen.manual_seed(10_000 + step)
        prev = frozen_copy(self.u)

        # the frozen fields' terms are computed once per sample set (PerSampleSet)
        advected = PerSampleSet(lambda x: prev(self._backtrace(prev, x, dt)))

        def advect(x: torch.Tensor) -> torch.Tensor:
            target = advected(x)
            return ((self.u(x) - target) ** 2).sum(-1).mean()

        yield SubProblem("advect", self.u, advect, self.sample)
        u_star = frozen_copy(self.u)  # advect is solved when the generator resumes

        def divergence(x: torch.Tensor) -> torch.Tensor:
            _, jac = self.derive(u_star, x, create_graph=False)
            return jac[:, 0, 0] + jac[:, 1, 1]

        div_star = PerSampleSet(divergence)

        def pressure(x: torch.Tensor) -> torch.Tensor:
            div = div_star(x)
            p, _, lap = laplacian(self.p, x)
            xb, nb = self._walls(gen)
            gb = _grad_p(self.p, xb)
            with torch.no_grad():
                ub = u_star(xb)
            wall = ((gb * nb).sum(-1) - (ub * nb).sum(-1)) ** 2
            return ((lap - div) ** 2).mean() + s.wall_weight * wall.mean() + p.mean() ** 2

        yield SubProblem("pressure", self.p, pressure, self.sample)
        p_frozen = frozen_copy(self.p)

        def projected(x: torch.Tensor) -> torch.Tensor:
            _, gp = self.derive(p_frozen, x, create_graph=False)
            return u_star(x) - gp[:, 0, :]

        target_star = PerSampleSet(projected)

        def project(x: torch.Tensor) -> torch.Tensor:
            target = target_star(x)
            xb, nb = self._walls(gen)
            wall = (self.u(xb) * nb).sum(-1) ** 2
            return ((self.u(x) - target) ** 2).sum(-1).mean() + s.wall_weight * wall.mean()

        yield SubProblem("project", self.u, project, self.sample)

    def snapshot(self, x: torch.Tensor, t: float, strategies: dict) -> dict[str, torch.Tensor]:
        """Velocity (``field``), its Jacobian by each logged strategy (``gradient/<s>``),
        and ``fluid/vorticity``, ``fluid/divergence`` (from the first logged strategy's
        Jacobian, closed form if none is logged) and ``fluid/pressure`` (``p / dt``)."""
        out: dict[str, torch.Tensor] = {}
        first = None
        for name, strat in strategies.items():
            u, jac = strat(self.u, x, create_graph=False)
            out["field"] = u
            out[f"gradient/{name}"] = jac
            first = jac if first is None else first
        if first is None:
            out["field"], first = get_strategy("closed")(self.u, x, create_graph=False)
        out["fluid/vorticity"] = first[:, 1, 0] - first[:, 0, 1]
        out["fluid/divergence"] = first[:, 0, 0] + first[:, 1, 1]
        with torch.no_grad():
            out["fluid/pressure"] = self.p(x)[:, 0] / self.dt
        return out


def _grad_p(f: Field, x: torch.Tensor) -> torch.Tensor:
    """Gradient ``(N, 2)`` of a scalar field with the parameter graph kept (the closed form
    with its hand-written backward for MLPs; ``x`` needs no graph)."""
    return operators.jacobian(f, x.detach(), create_graph=True)[1][:, 0, :]
