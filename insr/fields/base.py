"""The field interface every representation implements.

A field maps *physical* coordinates ``x`` of shape ``(N, d)`` inside the box
``domain = ((lo_1, hi_1), ..., (lo_d, hi_d))`` to values of shape ``(N, c)``.
Each field normalizes internally to ``[-1, 1]^d`` (MLPs) or ``[0, 1]^d`` (grids).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

Domain = tuple[tuple[float, float], ...]


def as_domain(domain: Sequence[Sequence[float]]) -> Domain:
    """Validate and freeze a box ``[[lo, hi], ...]`` into a tuple of pairs."""
    out = tuple((float(lo), float(hi)) for lo, hi in domain)
    for lo, hi in out:
        if not hi > lo:
            raise ValueError(f"domain interval [{lo}, {hi}] is empty")
    return out


class SampleMemo:
    """A value remembered for the last sample tensor passed in (its identity and in-place
    version, plus an optional extra key); the memo of :class:`insr.equations.base.PerSampleSet`.
    Not copied: a deep copy of a field (the previous step's frozen field) starts empty,
    so it does not carry the trained field's per-sample tensors along."""

    def __init__(self) -> None:
        self.key: tuple | None = None
        self.value = None

    def get(self, x: torch.Tensor, extra: tuple = ()):
        key = self.key
        if key is not None and key[0] is x and key[1:] == (x._version, *extra):
            return self.value
        return None

    def put(self, x: torch.Tensor, value, extra: tuple = ()):
        self.key, self.value = (x, x._version, *extra), value
        return value

    def __deepcopy__(self, memo: dict) -> SampleMemo:
        return SampleMemo()


class Field(nn.Module):
    """A neural or grid representation of a vector field on a box.

    Subclasses implement :meth:`forward`. Those that can propagate derivatives in
    closed form also implement :meth:`value_and_jacobian` and set
    ``has_closed_form = True`` (the other closed-form hooks, e.g.
    ``directional_derivatives``, are listed in :mod:`insr.derivatives.operators`, which
    falls back to autodiff for fields without them; ``directional_objective``, a whole
    loss of the second-order terms with its gradient by hand, is used by the Padé
    advection loss when present); grid-based fields report
    ``finest_cell`` / ``coarsest_cell`` (physical cell width of their finest / coarsest
    level) and support level masking.
    """

    has_closed_form: bool = False
    _lo: torch.Tensor  # buffers: the box corners (float32; cast per call)
    _hi: torch.Tensor
    #: the field has a continuous first derivative, so second derivatives are meaningful
    smooth_hessian: bool = True

    def __init__(self, domain: Sequence[Sequence[float]], out_features: int) -> None:
        super().__init__()
        self.domain: Domain = as_domain(domain)
        self.in_features = len(self.domain)
        self.out_features = int(out_features)
        lo = torch.tensor([a for a, _ in self.domain], dtype=torch.float64)
        hi = torch.tensor([b for _, b in self.domain], dtype=torch.float64)
        self.register_buffer("_lo", lo.float(), persistent=False)
        self.register_buffer("_hi", hi.float(), persistent=False)

    @property
    def n_params(self) -> int:
        """Number of trainable scalars (the 'memory' of the representation)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        """Map physical coordinates to ``[0, 1]^d``."""
        lo = self._lo.to(x.dtype)
        hi = self._hi.to(x.dtype)
        return (x - lo) / (hi - lo)

    def to_symmetric(self, x: torch.Tensor) -> torch.Tensor:
        """Map physical coordinates to ``[-1, 1]^d``."""
        return 2.0 * self.to_unit(x) - 1.0

    def unit_scale(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """``d(unit coordinate)/d(physical coordinate)`` per axis, shape ``(d,)``."""
        return 1.0 / (self._hi - self._lo).to(dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def value_and_jacobian(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Values ``(N, c)`` and spatial Jacobian ``(N, c, d)`` w.r.t. physical ``x``."""
        raise NotImplementedError(f"{type(self).__name__} has no closed-form derivative")

    # Grid fields override these; MLPs have no cells.
    finest_cell: float | None = None
    coarsest_cell: float | None = None
