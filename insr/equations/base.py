"""What the stepper needs from an equation: a list of optimization sub-problems per step.

The stepper knows neither the PDE nor the representation; an equation knows nothing
of logging. Each time step is one or more :class:`SubProblem`\\ s, each the minimization
of ``loss(points)`` over the parameters of ``field``, warm-started from its current
weights.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

import torch

from insr.fields.base import Field


@dataclass
class SubProblem:
    """Minimize ``loss(sample(generator))`` over ``field``'s parameters."""

    name: str
    field: Field
    loss: Callable[[torch.Tensor], torch.Tensor]
    sample: Callable[[torch.Generator], torch.Tensor]
    # called after every optimizer iteration with the iteration index (schedules)
    on_iteration: Callable[[int], None] | None = None
    info: dict = field(default_factory=dict)


class Equation(Protocol):
    fields: dict[str, Field]

    def initial_problems(self) -> list[SubProblem]: ...

    def step_problems(self, step: int, t: float, dt: float) -> Iterable[SubProblem]:
        """Sub-problems of one step, solved in order; may be a generator so that a later
        sub-problem can freeze the result of an earlier one when it is reached."""
        ...

    def snapshot(self, x: torch.Tensor, t: float) -> dict[str, torch.Tensor]: ...


def frozen_copy(module: Field) -> Field:
    """A detached copy of a field (the previous time step's solution)."""
    prev = copy.deepcopy(module)
    for p in prev.parameters():
        p.requires_grad_(False)
    return prev.eval()


def uniform_sampler(
    domain: list[list[float]], n: int, dtype: torch.dtype, device: torch.device
) -> Callable[[torch.Generator], torch.Tensor]:
    """Draws ``n`` uniform points in the box into a preallocated buffer."""
    lo = torch.tensor([a for a, _ in domain], dtype=dtype, device=device)
    width = torch.tensor([b - a for a, b in domain], dtype=dtype, device=device)
    buf = torch.empty(n, len(domain), dtype=dtype, device=device)

    def sample(gen: torch.Generator) -> torch.Tensor:
        buf.uniform_(0.0, 1.0, generator=gen)
        return buf * width + lo

    return sample


def boundary_points(
    domain: list[list[float]], per_face: int, gen: torch.Generator, dtype: torch.dtype, device
) -> torch.Tensor:
    """Points on the faces of the box: the two ends in 1D, ``per_face`` random points per
    face in 2D/3D."""
    d = len(domain)
    lo = torch.tensor([a for a, _ in domain], dtype=dtype, device=device)
    hi = torch.tensor([b for _, b in domain], dtype=dtype, device=device)
    if d == 1:
        return torch.stack([lo, hi])
    pts = []
    for axis in range(d):
        for side in (lo, hi):
            p = torch.rand(per_face, d, generator=gen, dtype=dtype, device=device) * (hi - lo) + lo
            p[:, axis] = side[axis]
            pts.append(p)
    return torch.cat(pts)
