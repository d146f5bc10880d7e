"""Derivative strategies behind one interface.

``strategy(field, x, create_graph=False) -> (u, J)``: values ``(N, c)`` at ``x`` and the
spatial Jacobian ``J[n, i, j] = d u_i / d x_j`` ``(N, c, d)``, with ``x`` in physical units.
``create_graph=True`` keeps the graph so the result can enter a loss.

- ``autodiff``: reverse mode, one backward pass per output channel.
- ``closed``: the field's own closed-form value+derivative pass (same numbers as autodiff).
- ``fd``: finite differences, central ``(f(x+h e_j) - f(x-h e_j)) / 2h`` or forward
  ``(f(x+h e_j) - f(x)) / h``; all stencil points in one batched forward pass.
- ``average``: autodiff Jacobian averaged over ``x`` and ``x ± h e_j`` (1 + 2d points).
- ``coarse_to_fine``: central differences whose step follows a coarse-to-fine schedule
  (Neuralangelo), with progressive level activation for grid fields; see
  :mod:`insr.derivatives.coarse_to_fine`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from insr.fields.base import Field

Strategy = Callable[..., tuple[torch.Tensor, torch.Tensor]]


def autodiff(field: Field, x: torch.Tensor, create_graph: bool = False) -> tuple:
    """Reverse-mode Jacobian; one ``autograd.grad`` call per output channel."""
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        u = field(xg)
        rows = []
        for i in range(u.shape[1]):
            (g,) = torch.autograd.grad(
                u[:, i].sum(), xg, create_graph=create_graph, retain_graph=True
            )
            rows.append(g)
        jac = torch.stack(rows, dim=1)
    if not create_graph:
        u, jac = u.detach(), jac.detach()
    return u, jac


def closed(field: Field, x: torch.Tensor, create_graph: bool = False) -> tuple:
    """Closed-form Jacobian; falls back to autodiff for fields without one."""
    if not field.has_closed_form:
        return autodiff(field, x, create_graph)
    if create_graph:
        return field.value_and_jacobian(x)
    with torch.no_grad():
        return field.value_and_jacobian(x)


def resolve_h(field: Field, h: float | str) -> float:
    """Step in physical units; ``'cell'``/``'2cell'`` use the field's finest grid cell."""
    if isinstance(h, str):
        cell = field.finest_cell
        if cell is None:
            raise ValueError(f"h = '{h}' needs a grid representation (hashgrid, densegrid, grid)")
        return cell * (2.0 if h == "2cell" else 1.0)
    return float(h)


def stencil(x: torch.Tensor, h: float) -> torch.Tensor:
    """Points ``[x + h e_1, ..., x + h e_d, x - h e_1, ..., x - h e_d]`` stacked ``(2d, N, d)``."""
    d = x.shape[1]
    eye = torch.eye(d, dtype=x.dtype, device=x.device) * h
    return torch.cat([x.unsqueeze(0) + eye.unsqueeze(1), x.unsqueeze(0) - eye.unsqueeze(1)])


@dataclass
class FiniteDifference:
    """Finite-difference Jacobian with step ``h`` (physical units or 'cell'/'2cell')."""

    h: float | str = 1e-3
    scheme: str = "central"

    def __call__(self, field: Field, x: torch.Tensor, create_graph: bool = False) -> tuple:
        h = resolve_h(field, self.h)
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


@dataclass
class Average:
    """Autodiff Jacobian averaged over ``x`` and its ``±h`` neighbours along each axis."""

    h: float | str = 1e-3

    def __call__(self, field: Field, x: torch.Tensor, create_graph: bool = False) -> tuple:
        h = resolve_h(field, self.h)
        n, d = x.shape
        pts = torch.cat([x.unsqueeze(0), stencil(x, h)]).reshape(-1, d)
        u_all, j_all = (
            closed(field, pts, create_graph)
            if field.has_closed_form
            else autodiff(field, pts, create_graph)
        )
        u = u_all.reshape(1 + 2 * d, n, -1)[0]
        jac = j_all.reshape(1 + 2 * d, n, *j_all.shape[1:]).mean(0)
        return u, jac


STRATEGIES: dict[str, str] = {
    "autodiff": "reverse-mode autodiff (double backward inside the loss)",
    "closed": "closed-form value+derivative pass (exact, cheaper); autodiff if unavailable",
    "fd": "finite differences with step derivative.h (central or forward)",
    "average": "autodiff gradient averaged over x and x ± h along each axis",
    "coarse_to_fine": "central differences, h shrinking from coarse to fine level cells "
    "(Neuralangelo), with progressive level activation on grids",
}


def get_strategy(
    name: str, h: float | str = 1e-3, scheme: str = "central", schedule=None
) -> Strategy:
    """Strategy by name (see :data:`STRATEGIES`). ``schedule`` (a
    :class:`~insr.derivatives.coarse_to_fine.CoarseToFineSchedule`) drives
    ``coarse_to_fine``; without one it uses the finest cell (grids) or ``h``."""
    if name == "autodiff":
        return autodiff
    if name == "closed":
        return closed
    if name == "fd":
        return FiniteDifference(h=h, scheme=scheme)
    if name == "average":
        return Average(h=h)
    if name == "coarse_to_fine":
        from insr.derivatives.coarse_to_fine import CoarseToFine

        return CoarseToFine(schedule, fallback_h=h if not isinstance(h, str) else 1e-3)
    raise KeyError(name)
