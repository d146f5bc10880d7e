"""Derivative strategies: how values and the spatial Jacobian of a field are obtained.

A strategy is a callable ``(field, x, create_graph) -> (u, J)`` with ``u`` of shape
``(N, c)`` and ``J`` of shape ``(N, c, d)`` (derivatives w.r.t. physical coordinates).
"""

from insr.derivatives.core import STRATEGIES, Strategy, get_strategy

__all__ = ["STRATEGIES", "Strategy", "get_strategy"]
