"""Second spatial derivatives by autodiff of the Jacobian.

``value_jacobian_hessian(field, x)`` returns ``u (N, c)``, ``J (N, c, d)`` and
``H (N, c, d, d)`` with ``H[n, i, j, k] = d^2 u_i / dx_j dx_k`` (physical coordinates).
The Jacobian comes from the field's closed form when it has one (else reverse-mode
autodiff with ``create_graph``); the Hessian is reverse-mode autodiff of that Jacobian,
one backward pass per (channel, axis) pair.
"""

from __future__ import annotations

import torch

from insr.fields.base import Field


def value_jacobian_hessian(
    field: Field, x: torch.Tensor, create_graph: bool = False
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Values, Jacobian and Hessian of ``field`` at physical points ``x``."""
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        if field.has_closed_form:
            u, jac = field.value_and_jacobian(xg)
        else:
            u = field(xg)
            rows = [
                torch.autograd.grad(u[:, i].sum(), xg, create_graph=True)[0]
                for i in range(u.shape[1])
            ]
            jac = torch.stack(rows, dim=1)
        c, d = jac.shape[1], jac.shape[2]
        hess = []
        for i in range(c):
            per_axis = []
            for j in range(d):
                if not jac.requires_grad:  # the field is locally linear in x (or constant)
                    per_axis.append(torch.zeros_like(xg))
                    continue
                (g,) = torch.autograd.grad(
                    jac[:, i, j].sum(),
                    xg,
                    create_graph=create_graph,
                    retain_graph=True,
                    allow_unused=True,
                )
                per_axis.append(torch.zeros_like(xg) if g is None else g)
            hess.append(torch.stack(per_axis, dim=1))
        h = torch.stack(hess, dim=1)
    if not create_graph:
        return u.detach(), jac.detach(), h.detach()
    return u, jac, h
