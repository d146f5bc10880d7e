"""The exact strategies: ``autodiff`` and ``closed`` (same numbers, different cost).

A strategy is a callable ``(field, x, create_graph=False) -> (u, J)``: values ``(N, c)``
at ``x`` and the spatial Jacobian ``J[n, i, j] = d u_i / d x_j`` ``(N, c, d)``, with ``x``
in physical units. ``create_graph=True`` keeps the graph so the result can enter a loss.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from insr.derivatives.operators import jacobian
from insr.fields.base import Field

Strategy = Callable[..., tuple[torch.Tensor, torch.Tensor]]


def autodiff(field: Field, x: torch.Tensor, create_graph: bool = False) -> tuple:
    """Reverse-mode Jacobian; one ``autograd.grad`` call per output channel."""
    return jacobian(field, x, create_graph=create_graph, closed=False)


def closed(field: Field, x: torch.Tensor, create_graph: bool = False) -> tuple:
    """Closed-form Jacobian (``field.value_and_jacobian``); autodiff for fields without one."""
    return jacobian(field, x, create_graph=create_graph, closed=True)
