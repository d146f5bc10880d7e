"""How values and spatial derivatives of a field are obtained.

- :mod:`~insr.derivatives.operators`: the one autodiff implementation of jacobian,
  hessian, laplacian, divergence and directional derivatives (closed-form hooks first).
- :mod:`~insr.derivatives.registry`: the strategies by name (``autodiff``, ``closed``,
  ``fd``, ``average``, ``coarse_to_fine``) with their ``exact`` flag. A strategy is a
  callable ``(field, x, create_graph) -> (u, J)`` with ``u`` of shape ``(N, c)`` and ``J``
  of shape ``(N, c, d)`` (derivatives w.r.t. physical coordinates).
- :mod:`~insr.derivatives.steps`: the finite-difference step ``h`` and its rules.
"""

from insr.derivatives.core import Strategy
from insr.derivatives.registry import (
    STRATEGIES,
    StrategyOptions,
    StrategySpec,
    exact_strategies,
    get_strategy,
    is_exact,
    strategy_spec,
)
from insr.derivatives.steps import grid_spacing, resolve_h

__all__ = [
    "STRATEGIES",
    "Strategy",
    "StrategyOptions",
    "StrategySpec",
    "exact_strategies",
    "get_strategy",
    "grid_spacing",
    "is_exact",
    "resolve_h",
    "strategy_spec",
]
