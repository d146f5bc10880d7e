"""Advection ``u_t + v . grad u = 0`` by the implicit midpoint rule (INSR, Chen et al. 2023)
or the 4th-order Pade(2,2) scheme.

Per time step the field ``u`` minimizes, over random points ``x`` in the box,

    r(x) = u(x) - u_prev(x) + dt * v(x) . (grad u(x) + grad u_prev(x)) / 2        (1)

    loss = mean(r^2) + w_b * mean((u(x_b) - g)^2)                                   (2)

with ``solver.time_scheme = "midpoint"`` (default), i.e. the squared midpoint residual
multiplied by ``dt`` (so the loss is in units of ``u^2`` and comparable with the boundary
penalty), plus a Dirichlet penalty on the faces ``x_b`` with value ``g`` when the case has
a Dirichlet boundary. Step 0 fits the initial condition by least squares.

With ``solver.time_scheme = "pade4"`` the residual (1) is replaced by the 4th-order
Pade(2,2) scheme for ``u_t = L u``, ``L u = -v . grad u``:
``(I - dt L/2 + dt^2 L^2/12) u^{n+1} = (I + dt L/2 + dt^2 L^2/12) u^n``, i.e.

    r(x) = u - u_prev + dt v . (grad u + grad u_prev) / 2
           + dt^2 ((v . grad)^2 u - (v . grad)^2 u_prev) / 12                     (5)

with ``(v . grad)^2 u = v^T H v + ((grad v) v) . grad u``, ``((grad v) v)_k = sum_j
(dv_k/dx_j) v_j`` (zero for a constant ``v``; kept exactly, from ``velocity.jacobian``, for
rotation). The loss is (2) with this ``r``. Its local error is ``O(dt^5)`` per step
against ``O(dt^3)`` for (1). ``v^T H v`` comes from
:func:`~insr.derivatives.operators.directional_second` (a closed-form forward sweep
for MLP fields with ``loss = "closed"``, autodiff otherwise). The velocity is taken at the end
of the step, as in (1); both prescribed velocities are time-independent. pade4 needs an
exact loss strategy (autodiff or closed) and no gradient supervision.
``solver.time_scheme = "auto"`` picks pade4 where it is well defined and the midpoint rule
elsewhere (:func:`resolve_time_scheme`); the choice is stored in the log (``time_scheme``).

Gradient remedies (``[derivative]`` keys; see also README "Gradient toolbox"):

- Sobolev initialization (``sobolev_weight = w_s``): the step-0 fit also matches the
  exact initial gradient, ``loss0 = mean|u - u0|^2 + w_s mean|grad u - grad u0|^2``
  (``grad u`` by the loss strategy, ``grad u0`` exact from the case).
- Gradient supervision (``gradient_supervision = w_g``): ``g = grad u`` obeys

      d_t g + (v . grad) g + (grad v)^T g = 0                                       (3)

  (differentiate ``u_t + v . grad u = 0`` in space; for constant ``v`` it is the same
  advection equation as for ``u``). Discretized with the midpoint rule of (1):

      R_g(x) = g - g_prev + dt [ (H + H_prev) v / 2 + (grad v)^T (g + g_prev) / 2 ]  (4)

  with ``H`` the Hessian of ``u`` (autodiff of the Jacobian) and ``(grad v)_kj = dv_k/dx_j``
  from ``velocity.jacobian``; the loss gains ``w_g mean|R_g|^2``. (4) is exactly the
  spatial gradient of the residual (1) for a time-independent ``v``, so the extra term
  asks the residual to be flat, not only small, which penalizes high-frequency error.
- Coarse-to-fine (``loss = "coarse_to_fine"``): central differences with a step and
  active grid levels that follow :class:`~insr.derivatives.coarse_to_fine.CoarseToFineSchedule`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from insr.cases import Case
from insr.cases.velocity import Constant
from insr.derivatives import exact_strategies, get_strategy, is_exact
from insr.derivatives.coarse_to_fine import CoarseToFineSchedule
from insr.derivatives.operators import along, directional_second, hessian
from insr.equations.base import (
    Numerics,
    PerSampleSet,
    SettingError,
    SubProblem,
    boundary_points,
    frozen_copy,
    uniform_sampler,
)
from insr.fields.base import Field

TIME_SCHEMES = ("midpoint", "pade4", "auto")


def resolve_time_scheme(
    time_scheme: str, field: Field, loss_strategy: str, gradient_supervision: float
) -> str:
    """``"auto"``: pade4 where it is well defined -- an exact loss strategy (autodiff or
    closed), no gradient supervision, and a field with a continuous first derivative
    (``Field.smooth_hessian``: MLPs, smoothstep grids; a linearly interpolated grid has
    kinks whose second derivative the scheme cannot see) -- else the midpoint rule."""
    if time_scheme != "auto":
        return time_scheme
    exact = is_exact(loss_strategy)
    ok = exact and gradient_supervision == 0.0 and getattr(field, "smooth_hessian", True)
    return "pade4" if ok else "midpoint"


def directional_terms(
    field: Field,
    x: torch.Tensor,
    v: torch.Tensor,
    jv: torch.Tensor | None,
    *,
    closed: bool,
    create_graph: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``u``, ``v . grad u`` and ``(v . grad)^2 u`` (each ``(N, c)``) for eq. (5).

    ``v`` is ``(N, d)``; ``jv`` ``(N, d, d)`` with ``jv[n, k, j] = dv_k/dx_j``, or ``None``
    for a constant velocity. ``closed`` uses the field's closed-form directional sweep
    when it has one (MLPs), otherwise autodiff (:func:`~insr.derivatives.operators.
    directional_second`).
    """
    u, jac, vhv = directional_second(field, x, v, create_graph=create_graph, closed=closed)
    du = along(jac, v)
    if jv is None:
        return u, du, vhv
    # (v . grad)(v . grad u) = v^T H v + ((grad v) v) . grad u
    w = torch.einsum("nkj,nj->nk", jv, v)
    return u, du, vhv + (jac * w.unsqueeze(1)).sum(-1)


def pade_objective(
    n: int,
    half: float,
    twelfth: float,
    rest: torch.Tensor,
    v: torch.Tensor,
    w: torch.Tensor | None,
    wb: float,
    g: float,
) -> Callable:
    """The Padé loss (5) + Dirichlet penalty as an objective of the field's closed-form
    outputs at ``n`` interior points followed by the boundary points: ``objective(u, J,
    dd) -> (loss, (gu, gJ, gdd))`` with its gradient written out (for a field's
    ``directional_objective`` hook).

    ``r = u + half v.J + twelfth (dd + w.J) + rest`` on the interior rows (``w = (grad v)
    v``, ``None`` for a constant velocity), ``loss = mean(r^2) + wb mean((u_b - g)^2)``;
    ``gu = 2 r / |r|``, ``gJ = (half gu) v + (twelfth gu) w``, ``gdd = twelfth gu`` there
    and ``gu = 2 wb (u_b - g) / |u_b|``, ``gJ = gdd = 0`` on the boundary rows.
    """

    def objective(u: torch.Tensor, jac: torch.Tensor, dd: torch.Tensor) -> tuple:
        du = (jac * v.unsqueeze(1)).sum(-1)
        ddu = dd[:, 0] if w is None else dd[:, 0] + (jac * w.unsqueeze(1)).sum(-1)
        r = u[:n] + half * du[:n] + twelfth * ddu[:n] + rest
        gr = (2.0 / r.numel()) * r
        loss = (r * r).mean()
        zero = torch.zeros_like(u[n:])
        if u.shape[0] > n:
            ub = u[n:] - g
            loss = loss + wb * (ub * ub).mean()
            gu = torch.cat([gr, (2.0 * wb / ub.numel()) * ub])
        else:
            gu = gr
        g_du = torch.cat([half * gr, zero])
        g_ddu = torch.cat([twelfth * gr, zero])
        gjac = g_du.unsqueeze(-1) * v.unsqueeze(1)
        if w is not None:
            gjac = gjac + g_ddu.unsqueeze(-1) * w.unsqueeze(1)
        return loss, (gu, gjac, g_ddu.unsqueeze(1))

    return objective


@dataclass
class AdvectionSettings:
    """``[extra.advection]``: advection has no settings of its own (the velocity is part of
    the case); an empty table keeps the registry uniform."""


def check_time_scheme(time_scheme: str, loss_strategy: str, gradient_supervision: float) -> None:
    """Refuse a time scheme that is unknown or not defined for these settings."""
    if time_scheme not in TIME_SCHEMES:
        raise SettingError(
            f"{{time_scheme}} = {time_scheme!r} is not allowed: expected one of "
            + ", ".join(TIME_SCHEMES)
        )
    if time_scheme == "pade4" and not is_exact(loss_strategy):
        exact = " or ".join(repr(n) for n in exact_strategies())
        raise SettingError(
            f"{{time_scheme}} = 'pade4' needs {{loss_strategy}} = {exact}, "
            f"got {loss_strategy!r}; for other strategies set {{time_scheme}} = 'midpoint'"
        )
    if time_scheme == "pade4" and gradient_supervision > 0.0:
        raise SettingError(
            "{time_scheme} = 'pade4' does not support {gradient_supervision}"
            " > 0 (eq. (4) is a midpoint rule); set it to 0 or use 'midpoint'"
        )


class Advection:
    """Scalar (or vector, channel-wise) advection of one field by a prescribed velocity."""

    def __init__(
        self,
        case: Case,
        fields: dict[str, Field],
        settings: AdvectionSettings | None = None,
        numerics: Numerics | None = None,
    ) -> None:
        n = numerics if numerics is not None else Numerics()
        field = fields["u"]
        check_time_scheme(n.time_scheme, n.loss_strategy, n.gradient_supervision)
        time_scheme = resolve_time_scheme(
            n.time_scheme, field, n.loss_strategy, n.gradient_supervision
        )
        if time_scheme == "pade4" and not getattr(field, "smooth_hessian", True):
            raise SettingError(
                "{time_scheme} = 'pade4' needs a field with a continuous derivative: "
                "use interpolation = 'smoothstep' for grid fields, or {time_scheme} = 'auto' "
                "or 'midpoint'"
            )
        self.time_scheme = time_scheme
        self.case = case
        self.field = field
        self.fields = {"u": field}
        self.settings = settings if settings is not None else AdvectionSettings()
        self.schedule: CoarseToFineSchedule | None = None
        if n.loss_strategy == "coarse_to_fine":
            self.schedule = CoarseToFineSchedule.for_field(field, **(n.coarse_to_fine or {}))
        self.loss_strategy = n.loss_strategy
        self.derive = get_strategy(
            n.loss_strategy, h=n.h, scheme=n.scheme, schedule=self.schedule, spacing=n.spacing
        )
        self.sobolev_weight = float(n.sobolev_weight)
        self.gradient_supervision = float(n.gradient_supervision)
        self._on_iteration = self.schedule.on_iteration if self.schedule is not None else None
        self.dtype, self.device = n.dtype, torch.device(n.device)
        self.sample = uniform_sampler(case.domain, n.samples, self.dtype, self.device)
        self.boundary_weight = n.boundary_weight if case.config.boundary == "dirichlet" else 0.0
        self.boundary_samples = n.boundary_samples
        self.boundary_value = case.config.boundary_value

    def _boundary_loss(self, field: Field, gen: torch.Generator | None) -> torch.Tensor:
        if self.boundary_weight == 0.0:
            return torch.zeros((), dtype=self.dtype, device=self.device)
        xb = boundary_points(self.case.domain, self.boundary_samples, gen, self.dtype, self.device)
        return self.boundary_weight * ((field(xb) - self.boundary_value) ** 2).mean()

    def initial_problems(self) -> list[SubProblem]:
        u0 = self.case.initial
        w = self.sobolev_weight
        if self.schedule is not None:
            self.schedule.set_step(0)

        def loss(x: torch.Tensor) -> torch.Tensor:
            if w == 0.0:
                with torch.no_grad():
                    target = u0(x)
                return ((self.field(x) - target) ** 2).mean()
            # Sobolev fit: values and exact gradients of the initial condition
            target, target_g = self.case.initial_value_and_gradient(x)
            u, g = self.derive(self.field, x, create_graph=True)
            return ((u - target) ** 2).mean() + w * ((g - target_g) ** 2).sum(-1).mean()

        return [SubProblem("fit", self.field, loss, self.sample, self._on_iteration)]

    def step_problems(self, step: int, t: float, dt: float) -> list[SubProblem]:
        prev = frozen_copy(self.field)
        vel = self.case.velocity
        gen = torch.Generator(device=self.device)
        gen.manual_seed(step)
        if self.schedule is not None:
            self.schedule.set_step(step)
        if self.time_scheme == "pade4":
            return [self._pade4_problem(prev, t, dt, gen)]
        wg = self.gradient_supervision
        exact_path = is_exact(self.loss_strategy)

        def previous(x: torch.Tensor) -> tuple:
            """The terms of (1) and (4) that do not depend on the trained field."""
            gp_a = hp_a = None
            if wg > 0.0:  # (4) uses the autodiff Jacobian and Hessian of both fields
                up_a, gp_a, hp_a = hessian(prev, x)
            if wg > 0.0 and exact_path:
                u_prev, g_prev = up_a, gp_a
            else:
                u_prev, g_prev = self.derive(prev, x, create_graph=False)
            v = vel(x, t).unsqueeze(1)  # (N, 1, d), broadcast over channels
            jv = vel.jacobian(x) if wg > 0.0 else None  # (N, d, d), dv_k/dx_j
            return u_prev, g_prev, gp_a, hp_a, v, jv

        # once per sample set; a coarse-to-fine schedule changes the strategy per iteration
        fixed = PerSampleSet(previous, reuse=self.schedule is None)

        def loss(x: torch.Tensor) -> torch.Tensor:
            u_prev, g_prev, gp_a, hp_a, v, jv = fixed(x)
            if wg > 0.0:
                u_a, g_a, h_a = hessian(self.field, x, create_graph=True)
            if wg > 0.0 and exact_path:
                u, g = u_a, g_a
            else:
                u, g = self.derive(self.field, x, create_graph=True)
            # eq. (1): midpoint rule, both gradients transported by v
            r = u - u_prev + dt * (v * (g + g_prev)).sum(-1) * 0.5
            total = (r**2).mean() + self._boundary_loss(self.field, gen)
            if wg > 0.0:
                transport = torch.einsum("ncjk,nk->ncj", h_a + hp_a, v[:, 0]) * 0.5
                stretch = torch.einsum("nkj,nck->ncj", jv, g_a + gp_a) * 0.5
                rg = g_a - gp_a + dt * (transport + stretch)  # eq. (4)
                total = total + wg * (rg**2).sum(-1).mean()
            return total

        return [SubProblem("advect", self.field, loss, self.sample, self._on_iteration)]

    #: evaluate the boundary penalty's points in the same closed-form sweep as the
    #: interior points (one network pass instead of two; False: a separate forward,
    #: the path before, kept measurable by ``benchmarks/perf.py``)
    fuse_boundary: bool = True
    #: with ``fuse_boundary``, a field with a ``directional_objective`` hook (MLPs) and
    #: ``loss = "closed"``: the whole loss (5) + penalty and its parameter gradient in one
    #: hand-written pass (:func:`pade_objective`; False: autograd over the loss terms)
    fused_objective: bool = True

    def _pade4_problem(self, prev: Field, t: float, dt: float, gen: torch.Generator) -> SubProblem:
        vel = self.case.velocity
        constant = isinstance(vel, Constant)
        closed = self.loss_strategy == "closed"
        half, twelfth = 0.5 * dt, dt * dt / 12.0
        fuse = self.fuse_boundary and self.boundary_weight != 0.0
        d = len(self.case.domain)

        def previous(x: torch.Tensor) -> tuple:
            """The velocity and the previous field's part of (5), once per sample set:
            ``r = u + dt/2 du + dt^2/12 ddu + rest`` with
            ``rest = -u_p + dt/2 du_p - dt^2/12 ddu_p``."""
            v = vel(x, t)
            jv = None if constant else vel.jacobian(x)
            u_p, du_p, ddu_p = directional_terms(prev, x, v, jv, closed=closed, create_graph=False)
            rest = half * du_p - u_p - twelfth * ddu_p
            if not fuse:
                return x, v, jv, rest, None
            # boundary rows appended with v = 0 (their derivatives are not used); in 1D the
            # two end points are fixed, so the stacked points are cached too
            n_b = 2 if d == 1 else 2 * d * self.boundary_samples  # see boundary_points
            v = torch.cat([v, v.new_zeros(n_b, d)])
            if jv is not None:
                jv = torch.cat([jv, jv.new_zeros(n_b, d, d)])
            obj = None
            if objective is not None:
                w = None if jv is None else torch.einsum("nkj,nj->nk", jv, v)
                obj = pade_objective(x.shape[0], half, twelfth, rest, v, w, wb, g)
            if d > 1:
                return None, v, jv, rest, obj
            ends = boundary_points(self.case.domain, 0, None, x.dtype, x.device)
            return torch.cat([x, ends]), v, jv, rest, obj

        wb, g = self.boundary_weight, self.boundary_value
        objective = getattr(self.field, "directional_objective", None)
        if not (fuse and closed and self.fused_objective):
            objective = None
        fixed = PerSampleSet(previous)

        def loss(x: torch.Tensor) -> torch.Tensor:
            x_all, v, jv, rest, obj = fixed(x)
            if fuse and x_all is None:
                xb = boundary_points(
                    self.case.domain, self.boundary_samples, gen, self.dtype, self.device
                )
                x_all = torch.cat([x, xb])
            if objective is not None:
                return objective(x_all, v, obj)
            u, du, ddu = directional_terms(
                self.field, x_all, v, jv, closed=closed, create_graph=True
            )
            n = x.shape[0]
            r = u[:n] + half * du[:n] + twelfth * ddu[:n] + rest  # eq. (5): Pade(2,2)
            if not fuse:
                return (r**2).mean() + self._boundary_loss(self.field, gen)
            ub = u[n:]
            return (r**2).mean() + wb * ((ub - g) ** 2).mean()

        return SubProblem("advect", self.field, loss, self.sample, self._on_iteration)

    def snapshot(self, x: torch.Tensor, t: float, strategies: dict) -> dict[str, torch.Tensor]:
        """Field and gradient by each logged strategy at evaluation points ``x``."""
        out: dict[str, torch.Tensor] = {}
        for name, strat in strategies.items():
            u, g = strat(self.field, x, create_graph=False)
            out["field"] = u
            out[f"gradient/{name}"] = g
        if not strategies:
            with torch.no_grad():
                out["field"] = self.field(x)
        return out
