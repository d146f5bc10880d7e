"""``average``: the exact Jacobian averaged over ``x`` and ``x +- h e_j`` (1 + 2d points)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from insr.derivatives.operators import jacobian
from insr.derivatives.steps import resolve_h, stencil
from insr.fields.base import Field


@dataclass
class Average:
    """Jacobian (closed form, else autodiff) averaged over ``x`` and its ``+-h`` neighbours
    along each axis; ``h`` by :func:`~insr.derivatives.steps.resolve_h`."""

    h: float | str = "auto"
    spacing: float | None = None

    def __call__(self, field: Field, x: torch.Tensor, create_graph: bool = False) -> tuple:
        h = resolve_h(self.h, field, self.spacing)
        n, d = x.shape
        pts = torch.cat([x.unsqueeze(0), stencil(x, h)]).reshape(-1, d)
        u_all, j_all = jacobian(field, pts, create_graph=create_graph)
        u = u_all.reshape(1 + 2 * d, n, -1)[0]
        jac = j_all.reshape(1 + 2 * d, n, *j_all.shape[1:]).mean(0)
        return u, jac
