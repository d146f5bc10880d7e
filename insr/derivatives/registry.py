"""The derivative strategies by name: ``name -> (factory, exact, doc)``.

A factory takes the :class:`StrategyOptions` of a run and returns a strategy, a callable
``(field, x, create_graph=False) -> (u (N, c), J (N, c, d))``. ``exact`` says whether the
strategy gives the field's own derivative (to round-off), which schemes that need exact
(or second) derivatives require. A new strategy is one module plus one line in
:data:`STRATEGIES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from insr.derivatives import core
from insr.derivatives.average import Average
from insr.derivatives.coarse_to_fine import CoarseToFine, CoarseToFineSchedule
from insr.derivatives.core import Strategy
from insr.derivatives.fd import FiniteDifference
from insr.schema import ConfigError, suggest


@dataclass(frozen=True)
class StrategyOptions:
    """What a factory may use: the step ``h`` (number or rule, see
    :mod:`insr.derivatives.steps`), the eval grid ``spacing`` that ``h = "auto"`` scales,
    the FD ``scheme`` and a coarse-to-fine ``schedule``."""

    h: float | str = "auto"
    scheme: str = "central"
    spacing: float | None = None
    schedule: CoarseToFineSchedule | None = None


@dataclass(frozen=True)
class StrategySpec:
    """One registry entry."""

    factory: Callable[[StrategyOptions], Strategy]
    exact: bool
    doc: str


STRATEGIES: dict[str, StrategySpec] = {
    "autodiff": StrategySpec(
        lambda o: core.autodiff, True, "reverse-mode autodiff (double backward inside the loss)"
    ),
    "closed": StrategySpec(
        lambda o: core.closed,
        True,
        "closed-form value+derivative pass (exact, cheaper); autodiff if unavailable",
    ),
    "fd": StrategySpec(
        lambda o: FiniteDifference(h=o.h, scheme=o.scheme, spacing=o.spacing),
        False,
        "finite differences with step derivative.h (central or forward)",
    ),
    "average": StrategySpec(
        lambda o: Average(h=o.h, spacing=o.spacing),
        False,
        "autodiff gradient averaged over x and x ± h along each axis",
    ),
    "coarse_to_fine": StrategySpec(
        lambda o: CoarseToFine(o.schedule, fallback_h=o.h, spacing=o.spacing),
        False,
        "central differences, h shrinking from coarse to fine level cells "
        "(Neuralangelo), with progressive level activation on grids",
    ),
}


def strategy_spec(name: str, path: str = "derivative strategy") -> StrategySpec:
    """The entry of ``name``; an unknown name is a one-line :class:`ConfigError` naming
    ``path``, the closest name and the allowed ones."""
    spec = STRATEGIES.get(name)
    if spec is None:
        raise ConfigError(
            f"unknown {path} '{name}'{suggest(str(name), STRATEGIES)}; "
            f"allowed: {', '.join(STRATEGIES)}"
        )
    return spec


def is_exact(name: str) -> bool:
    """True for strategies that give the field's own derivative (autodiff, closed)."""
    return strategy_spec(name).exact


def exact_strategies() -> list[str]:
    """Names of the exact strategies, in registry order."""
    return [n for n, s in STRATEGIES.items() if s.exact]


def get_strategy(
    name: str,
    h: float | str = "auto",
    scheme: str = "central",
    schedule: CoarseToFineSchedule | None = None,
    spacing: float | None = None,
) -> Strategy:
    """The strategy ``name`` built with these options (see :class:`StrategyOptions`).
    ``schedule`` drives ``coarse_to_fine``; without one it uses the finest cell (grids)
    or ``h``."""
    return strategy_spec(name).factory(StrategyOptions(h, scheme, spacing, schedule))
