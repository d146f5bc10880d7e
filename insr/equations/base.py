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
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import torch

from insr.fields.base import Field, SampleMemo
from insr.schema import ConfigError


@dataclass(frozen=True)
class FieldSpec:
    """One field an equation needs: representation kind, its parameters, output channels."""

    kind: str
    params: dict[str, Any]
    channels: int


@dataclass
class Numerics:
    """Settings shared by every equation (how derivatives are taken, how points are drawn).

    The run layer builds it once from the run configuration; equations read it and never
    name configuration keys (see :class:`SettingError`).
    """

    loss_strategy: str = "autodiff"
    h: float | str = "auto"
    scheme: str = "central"
    spacing: float | None = None  # evaluation-grid spacing, for h = "auto" (derivatives.steps)
    samples: int = 2000
    boundary_weight: float = 1.0
    boundary_samples: int = 2
    sobolev_weight: float = 0.0
    gradient_supervision: float = 0.0
    coarse_to_fine: dict[str, Any] | None = None
    time_scheme: str = "midpoint"
    dtype: torch.dtype = torch.float32
    device: torch.device | str = "cpu"


class SettingError(ConfigError):
    """A bad combination of :class:`Numerics` settings.

    The message is a template with ``{name}`` placeholders for :class:`Numerics` field names;
    :meth:`named` fills them with configuration keys (the run layer knows those), ``str()``
    with the field names themselves.
    """

    def __init__(self, template: str) -> None:
        self.template = template
        super().__init__(template.format_map(_Names()))

    def named(self, keys: dict[str, str]) -> ConfigError:
        return ConfigError(self.template.format_map(_Names(keys)))


class _Names(dict):
    def __init__(self, keys: dict[str, str] | None = None) -> None:
        super().__init__(keys or {})

    def __missing__(self, key: str) -> str:
        return key


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
    """Built as ``Equation(case, fields, settings, numerics)`` (see :mod:`insr.equations`)."""

    fields: dict[str, Field]

    def initial_problems(self) -> list[SubProblem]: ...

    def step_problems(self, step: int, t: float, dt: float) -> Iterable[SubProblem]:
        """Sub-problems of one step, solved in order; may be a generator so that a later
        sub-problem can freeze the result of an earlier one when it is reached."""
        ...

    def snapshot(
        self, x: torch.Tensor, t: float, strategies: dict[str, Any]
    ) -> dict[str, torch.Tensor]:
        """Logged arrays at ``x`` with gradients by each of ``strategies``."""
        ...


T = TypeVar("T")


class PerSampleSet(Generic[T]):
    """``fn(x)`` computed once per sample set: remembered for the last ``x`` passed in.

    For the terms of a loss that do not depend on the trained parameters (the frozen
    previous step's field, the prescribed velocity, targets): L-BFGS holds its samples
    fixed for a whole optimization, so they are evaluated once instead of once per loss
    evaluation, and Adam (new samples every iteration) pays one extra comparison. The key
    is the sample tensor itself (held, so its identity cannot be reused) and its in-place
    version counter: new samples, or samples changed in place, recompute. ``fn`` runs
    without a graph and must depend on ``x`` only. ``PerSampleSet.enabled = False``
    recomputes on every call (the path before this cache, kept measurable).
    """

    enabled: ClassVar[bool] = True

    def __init__(self, fn: Callable[[torch.Tensor], T], reuse: bool = True) -> None:
        """``reuse = False``: ``fn`` depends on more than ``x`` (e.g. a schedule that
        changes between iterations); every call recomputes."""
        self.fn = fn
        self.reuse = reuse
        self._memo = SampleMemo()
        self.evaluations = 0  # calls of fn (for tests and benchmarks)

    def __call__(self, x: torch.Tensor) -> T:
        keep = self.enabled and self.reuse
        if keep and (cached := self._memo.get(x)) is not None:
            return cached
        with torch.no_grad():
            value = self.fn(x)
        self.evaluations += 1
        return self._memo.put(x, value) if keep else value


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
    domain: list[list[float]],
    per_face: int,
    gen: torch.Generator | None,
    dtype: torch.dtype,
    device: torch.device | str,
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
