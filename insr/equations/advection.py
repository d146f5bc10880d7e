"""Advection ``u_t + v . grad u = 0`` by the implicit midpoint rule (INSR, Chen et al. 2023).

Per time step the field ``u`` minimizes, over random points ``x`` in the box,

    r(x) = u(x) - u_prev(x) + dt * v(x) . (grad u(x) + grad u_prev(x)) / 2        (1)

    loss = mean(r^2) + w_b * mean((u(x_b) - g)^2)                                   (2)

i.e. the squared midpoint residual multiplied by ``dt`` (so the loss is in units of
``u^2`` and comparable with the boundary penalty), plus a Dirichlet penalty on the faces
``x_b`` with value ``g`` when the case has a Dirichlet boundary. Step 0 fits the initial
condition by least squares.
"""

from __future__ import annotations

import torch

from insr.cases import Case
from insr.derivatives import get_strategy
from insr.equations.base import SubProblem, boundary_points, frozen_copy, uniform_sampler
from insr.fields.base import Field


class Advection:
    """Scalar (or vector, channel-wise) advection of one field by a prescribed velocity."""

    def __init__(
        self,
        case: Case,
        field: Field,
        *,
        loss_strategy: str = "autodiff",
        h: float | str = 1e-3,
        scheme: str = "central",
        samples: int = 2000,
        boundary_weight: float = 1.0,
        boundary_samples: int = 2,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ) -> None:
        self.case = case
        self.field = field
        self.fields = {"u": field}
        self.derive = get_strategy(loss_strategy, h=h, scheme=scheme)
        self.dtype, self.device = dtype, torch.device(device)
        self.sample = uniform_sampler(case.domain, samples, dtype, self.device)
        self.boundary_weight = boundary_weight if case.config.boundary == "dirichlet" else 0.0
        self.boundary_samples = boundary_samples
        self.boundary_value = case.config.boundary_value

    def _boundary_loss(self, field: Field, gen: torch.Generator | None) -> torch.Tensor:
        if self.boundary_weight == 0.0:
            return torch.zeros((), dtype=self.dtype, device=self.device)
        xb = boundary_points(self.case.domain, self.boundary_samples, gen, self.dtype, self.device)
        return self.boundary_weight * ((field(xb) - self.boundary_value) ** 2).mean()

    def initial_problems(self) -> list[SubProblem]:
        u0 = self.case.initial

        def loss(x: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                target = u0(x)
            return ((self.field(x) - target) ** 2).mean()

        return [SubProblem("fit", self.field, loss, self.sample)]

    def step_problems(self, step: int, t: float, dt: float) -> list[SubProblem]:
        prev = frozen_copy(self.field)
        vel = self.case.velocity
        gen = torch.Generator(device=self.device)
        gen.manual_seed(step)

        def loss(x: torch.Tensor) -> torch.Tensor:
            u_prev, g_prev = self.derive(prev, x, create_graph=False)
            u, g = self.derive(self.field, x, create_graph=True)
            v = vel(x, t).unsqueeze(1)  # (N, 1, d), broadcast over channels
            # eq. (1): midpoint rule, both gradients transported by v
            r = u - u_prev + dt * (v * (g + g_prev)).sum(-1) * 0.5
            return (r**2).mean() + self._boundary_loss(self.field, gen)

        return [SubProblem("advect", self.field, loss, self.sample)]

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
