"""``fd``: finite-difference Jacobian, all stencil points in one batched forward pass.

Central ``(f(x + h e_j) - f(x - h e_j)) / 2h`` or forward ``(f(x + h e_j) - f(x)) / h``;
``h`` by :func:`insr.derivatives.steps.resolve_h`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from insr.derivatives.steps import resolve_h, stencil
from insr.fields.base import Field


@dataclass
class FiniteDifference:
    """Finite-difference Jacobian with step ``h`` (a number or a rule of
    :func:`~insr.derivatives.steps.resolve_h`; ``spacing`` is the eval grid spacing)."""

    h: float | str = "auto"
    scheme: str = "central"
    spacing: float | None = None

    def __call__(self, field: Field, x: torch.Tensor, create_graph: bool = False) -> tuple:
        h = resolve_h(self.h, field, self.spacing)
        n, d = x.shape
        ctx = torch.enable_grad() if create_graph else torch.no_grad()
        with ctx:
            if self.scheme == "central":
                pts = torch.cat([x.unsqueeze(0), stencil(x, h)]).reshape(-1, d)
                out = field(pts).reshape(1 + 2 * d, n, -1)
                u, plus, minus = out[0], out[1 : 1 + d], out[1 + d :]
                jac = (plus - minus) / (2.0 * h)  # (d, N, c)
            else:
                eye = torch.eye(d, dtype=x.dtype, device=x.device) * h
                pts = torch.cat([x.unsqueeze(0), x.unsqueeze(0) + eye.unsqueeze(1)]).reshape(-1, d)
                out = field(pts).reshape(1 + d, n, -1)
                u = out[0]
                jac = (out[1:] - u.unsqueeze(0)) / h
        return u, jac.permute(1, 2, 0)
