"""1D heat equation ``u_t = κ u_xx`` by the Crank–Nicolson (implicit midpoint) rule.

Per time step the field ``u`` minimizes, over random points ``x`` in the interval,

    r(x) = u(x) - u_prev(x) - dt κ (u_xx(x) + u_prev_xx(x)) / 2                     (1)

    loss = mean(r^2) + w_b mean((u(x_b) - g)^2)                                     (2)

(the midpoint rule of :mod:`insr.equations.advection` with ``L u = κ u_xx``; second order
in ``dt``, unconditionally stable), plus the Dirichlet penalty at the two ends when the
case has ``boundary = "dirichlet"``. Step 0 fits the initial condition by least squares.
``u_xx`` is the autodiff second derivative (:func:`second_derivative`), so the loss
strategy must be exact (``autodiff`` or ``closed``).

Exact solution for a Gaussian initial condition ``u0 = A exp(-(x-μ)²/(2σ²))`` on the
infinite line (:func:`gaussian_solution`)::

    u(x, t) = A σ/s(t) exp(-(x-μ)²/(2 s(t)²)),   s(t)² = σ² + 2κt

On a finite interval with zero Dirichlet ends it is exact up to the tail of that Gaussian at
the ends, which the shipped case keeps below float32 resolution (``cases/heat1d.toml``).

Settings (``[extra.heat]``): ``kappa`` (diffusivity κ >= 0, units L²/T).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from insr.case_table import CaseConfig
from insr.cases import Case
from insr.cases.initial import make_initial
from insr.derivatives.operators import laplacian
from insr.derivatives.registry import exact_strategies
from insr.equations.base import (
    Numerics,
    SettingError,
    SubProblem,
    boundary_points,
    frozen_copy,
    uniform_sampler,
)
from insr.fields.base import Field
from insr.schema import ConfigError, at_least, opt


@dataclass
class HeatSettings:
    """``[extra.heat]``: the diffusivity."""

    kappa: float = opt(0.02, check=at_least(0.0), doc="diffusivity κ (L²/T)")


def second_derivative(
    field: Field, x: torch.Tensor, create_graph: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Values ``(N, c)`` and ``u_xx`` ``(N, c)`` of a 1D field (the one place heat takes it)."""
    u, _, lap = laplacian(field, x, create_graph=create_graph)
    return u, lap


def gaussian_solution(mu: float, sigma: float, amplitude: float, kappa: float):
    """``u(x, t)`` of the heat equation on the line from a Gaussian (module docstring)."""

    def exact(x: torch.Tensor, t: float) -> torch.Tensor:
        s2 = sigma * sigma + 2.0 * kappa * t
        return amplitude * (sigma / math.sqrt(s2)) * torch.exp(-((x - mu) ** 2) / (2.0 * s2))

    return exact


def make_heat_case(cfg: CaseConfig, settings: HeatSettings) -> Case:
    """A 1D heat case; exact solution when ``initial.family = "gaussian"``."""
    if cfg.dim != 1:
        raise ConfigError(f"the heat equation is 1D here, got a {cfg.dim}D domain")
    if cfg.velocity:
        raise ConfigError("a heat case has no velocity: remove case.velocity")
    if cfg.reference:
        raise ConfigError("case.reference is not allowed for heat: remove it")
    u0, channels = make_initial(cfg.initial, cfg.dim)
    exact = None
    if cfg.initial.get("family") == "gaussian":
        ic = cfg.initial
        mu, sigma = _scalar(ic["mu"]), _scalar(ic["sigma"])
        exact = gaussian_solution(mu, sigma, float(ic.get("amplitude", 1.0)), settings.kappa)
    return Case(cfg, u0, channels, None, exact)


def _scalar(v: float | list[float]) -> float:
    return float(v[0]) if isinstance(v, list) else float(v)


class Heat:
    """``u_t = κ u_xx`` for one 1D field (see module docstring)."""

    def __init__(
        self,
        case: Case,
        fields: dict[str, Field],
        settings: HeatSettings | None = None,
        numerics: Numerics | None = None,
    ) -> None:
        n = numerics if numerics is not None else Numerics()
        exact = exact_strategies()
        if n.loss_strategy not in exact:
            raise SettingError(
                f"the heat equation takes u_xx by autodiff: {{loss_strategy}} = "
                f"{n.loss_strategy!r} is not allowed; expected one of {', '.join(map(repr, exact))}"
            )
        if n.time_scheme not in ("midpoint", "auto"):
            raise SettingError(
                f"the heat equation uses the midpoint (Crank-Nicolson) rule: "
                f"{{time_scheme}} = {n.time_scheme!r} is not allowed; use 'midpoint' or 'auto'"
            )
        for name in ("sobolev_weight", "gradient_supervision"):
            if getattr(n, name) != 0.0:
                raise SettingError(f"{{{name}}} has no effect on the heat equation: set it to 0")
        self.time_scheme = "midpoint"
        self.case = case
        self.field = fields["u"]
        self.fields = {"u": self.field}
        self.settings = settings if settings is not None else HeatSettings()
        self.dtype, self.device = n.dtype, torch.device(n.device)
        self.sample = uniform_sampler(case.domain, n.samples, self.dtype, self.device)
        self.boundary_weight = n.boundary_weight if case.config.boundary == "dirichlet" else 0.0
        self.boundary_value = case.config.boundary_value

    def _boundary_loss(self) -> torch.Tensor:
        if self.boundary_weight == 0.0:
            return torch.zeros((), dtype=self.dtype, device=self.device)
        xb = boundary_points(self.case.domain, 1, None, self.dtype, self.device)
        return self.boundary_weight * ((self.field(xb) - self.boundary_value) ** 2).mean()

    def initial_problems(self) -> list[SubProblem]:
        u0 = self.case.initial

        def loss(x: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                target = u0(x)
            return ((self.field(x) - target) ** 2).mean()

        return [SubProblem("fit", self.field, loss, self.sample)]

    def step_problems(self, step: int, t: float, dt: float) -> list[SubProblem]:
        prev = frozen_copy(self.field)
        kappa = self.settings.kappa

        def loss(x: torch.Tensor) -> torch.Tensor:
            # u_prev from the same sweep as u (not prev's plain forward): the two are then
            # one computation on equal weights, bit for bit, whatever the BLAS does with
            # the sweep's stacked shapes, so a step that should not move the field does not
            with torch.no_grad():
                u_prev, uxx_prev = second_derivative(prev, x, create_graph=False)
            u, uxx = second_derivative(self.field, x, create_graph=True)
            r = u - u_prev - (dt * kappa * 0.5) * (uxx + uxx_prev)  # eq. (1)
            return (r**2).mean() + self._boundary_loss()

        return [SubProblem("diffuse", self.field, loss, self.sample)]

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
