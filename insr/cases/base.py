"""The :class:`Case` record: box, initial field, velocity and exact solution of a
``[case]`` table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from insr.case_table import CaseConfig
from insr.cases.initial import InitialFn, value_and_gradient


@dataclass
class Case:
    """A physical problem: box, initial field, velocity and (when known) the exact solution."""

    config: CaseConfig
    initial: InitialFn
    channels: int
    velocity: Any = None
    exact_fn: Callable[[torch.Tensor, float], torch.Tensor] | None = None

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def domain(self) -> list[list[float]]:
        return self.config.domain

    @property
    def dim(self) -> int:
        return len(self.config.domain)

    def prepare_truth(self) -> None:
        """Compute whatever the truth needs before it is first sampled (default: nothing)."""

    def initial_value_and_gradient(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return value_and_gradient(self.initial, x)

    def exact(self, x: torch.Tensor, t: float) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Exact field ``(N, c)`` and gradient ``(N, c, d)`` at time ``t``, or None."""
        if self.exact_fn is None:
            return None
        fn = self.exact_fn
        return value_and_gradient(lambda y: fn(y, t), x)
