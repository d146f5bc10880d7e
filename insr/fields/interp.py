"""Multilinear / smoothstep interpolation on regular grids, with closed-form derivatives.

Shared by :mod:`insr.fields.hashgrid` and :mod:`insr.fields.densegrid`. Everything is
batched over levels in a *level-major* layout: tensors are ``(K, C, N)`` or ``(K, d, N)``
for ``K`` levels, ``C = 2**d`` cell corners, ``d`` axes and ``N`` points
(PERFORMANCE-NOTES.md: twice as fast as ``(N, K, C)`` on CPU). Per-corner quantities are
built from per-axis terms by :func:`combine_corners` (no gathers on int64 index tensors).

Conventions
-----------
* A point's position *in grid units* at one level is ``p = u * scale + offset`` where
  ``u`` in ``[0, 1]`` is the unit coordinate; ``floor(p)`` is the cell's lower corner and
  ``t = p - floor(p)`` in ``[0, 1)`` the fractional position inside the cell.
* Corner ``c`` (``0 <= c < 2**d``) sits at ``floor(p) + bit_i(c)`` along axis ``i``, with
  ``bit_i(c) = (c >> i) & 1`` -- the same enumeration as tiny-cuda-nn's grid kernel.
* The 1D weights of the two corners along an axis are ``1 - s(t)`` and ``s(t)``, with
  ``s(t) = t`` (linear) or ``s(t) = t^2 (3 - 2t)`` (smoothstep, whose derivative
  ``6 t (1 - t)`` vanishes at the cell faces, so the interpolant is C^1 across cells and
  its second derivatives exist almost everywhere). Corner weight = product over axes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

import torch

INTERPOLATIONS = ("linear", "smoothstep")


@lru_cache(maxsize=8)
def _corner_bits_cpu(d: int) -> torch.Tensor:
    c = torch.arange(2**d).unsqueeze(1)
    return (c >> torch.arange(d).unsqueeze(0)) & 1


def corner_bits(d: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Integer offsets of the ``2**d`` cell corners, shape ``(2**d, d)``, entries 0/1."""
    return _corner_bits_cpu(d).to(device)


def combine_corners(
    lower: Sequence[torch.Tensor], upper: Sequence[torch.Tensor], op: Callable
) -> torch.Tensor:
    """Per-corner reduction of per-axis terms.

    ``lower[i]`` / ``upper[i]`` (each ``(K, N)``) are axis ``i``'s term for corner bit 0 / 1.
    Returns ``(K, C, N)`` with entry ``c`` = ``op``-reduction over axes of the term selected
    by ``(c >> i) & 1`` -- e.g. ``op = mul`` gives corner weights, ``add`` dense row
    numbers, ``xor`` the spatial hash. Costs about ``2**d`` elementwise ops on ``(K, N)``.
    """
    acc = [lower[0], upper[0]]
    for lo, up in zip(lower[1:], upper[1:], strict=True):
        acc = [op(a, lo) for a in acc] + [op(a, up) for a in acc]
    return torch.stack(acc, dim=1)


def smooth(t: torch.Tensor, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Interpolation ramp ``s(t)`` and its slope ``ds/dt`` for ``t`` in ``[0, 1]``."""
    if kind == "linear":
        return t, torch.ones_like(t)
    if kind == "smoothstep":
        return t * t * (3.0 - 2.0 * t), 6.0 * t * (1.0 - t)
    raise ValueError(f"unknown interpolation {kind!r}; allowed: {', '.join(INTERPOLATIONS)}")


def corner_weights(
    t: torch.Tensor, kind: str, with_grad: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Corner weights and their derivatives w.r.t. the in-cell position ``t``.

    ``t``: ``(K, d, N)`` fractional positions. Returns ``w`` of shape ``(K, C, N)`` (the
    weights sum to 1 over ``C``) and, if ``with_grad``, ``dw`` of shape ``(K, d, C, N)``
    with ``dw[:, j] = d w / d t_j`` (grid units; multiply by ``dt/dx`` yourself).
    """
    d = t.shape[1]
    s, ds = smooth(t, kind)
    up = s.unbind(1)
    lo = (1.0 - s).unbind(1)
    w = combine_corners(lo, up, torch.mul)
    if not with_grad:
        return w, None
    dup = ds.unbind(1)
    dws = []
    for j in range(d):
        # axis j's factor replaced by its slope (product rule, no division: safe at t = 0)
        lo_j = [(-dup[i] if i == j else lo[i]) for i in range(d)]
        up_j = [(dup[i] if i == j else up[i]) for i in range(d)]
        dws.append(combine_corners(lo_j, up_j, torch.mul))
    return w, torch.stack(dws, dim=1)


def corner_curvatures(t: torch.Tensor, kind: str) -> torch.Tensor | None:
    """Pure second derivatives ``d^2 w / d t_j^2`` of the corner weights, ``(K, d, C, N)``
    (grid units), or None for ``linear`` interpolation (multilinear weights are linear in
    each ``t_j``: zero). Smoothstep: ``s'' = 6 - 12 t``."""
    if kind == "linear":
        return None
    if kind != "smoothstep":
        raise ValueError(f"unknown interpolation {kind!r}; allowed: {', '.join(INTERPOLATIONS)}")
    d = t.shape[1]
    s, _ = smooth(t, kind)
    up, lo = s.unbind(1), (1.0 - s).unbind(1)
    curv = (6.0 - 12.0 * t).unbind(1)
    out = []
    for j in range(d):
        lo_j = [(-curv[i] if i == j else lo[i]) for i in range(d)]
        up_j = [(curv[i] if i == j else up[i]) for i in range(d)]
        out.append(combine_corners(lo_j, up_j, torch.mul))
    return torch.stack(out, dim=1)


def cell_position(
    u: torch.Tensor, scale: torch.Tensor, offset: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lower cell corner and in-cell fraction of unit points at each level.

    ``u``: ``(N, d)`` unit coordinates; ``scale``: ``(K,)`` grid units per unit length.
    Returns ``(corner (K, d, N) int64, t (K, d, N))`` with ``p = u * scale + offset``.
    """
    p = u.t().unsqueeze(0) * scale.to(u.dtype).view(-1, 1, 1) + offset
    lo = torch.floor(p)
    return lo.to(torch.int64), p - lo


def interpolate_levels(
    table: torch.Tensor,
    index: torch.Tensor,
    w: torch.Tensor,
    dw: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Gather corner features and blend them.

    ``table``: ``(R, F)`` rows of all levels; ``index``: ``(K, C, N)`` rows (level offsets
    already added); ``w``: ``(K, C, N)``; ``dw``: ``(K, d, C, N)``. Returns features
    ``(K, N, F)`` and, if ``dw`` is given, their derivatives ``(K, d, N, F)`` in the
    same (grid-unit) coordinates as ``dw``.
    """
    k, c, n = index.shape
    vals = table.index_select(0, index.reshape(-1)).view(k, c, n, -1)  # (K, C, N, F)
    feat = (w.unsqueeze(-1) * vals).sum(dim=1)
    dfeat = None
    if dw is not None:
        dfeat = (dw.unsqueeze(-1) * vals.unsqueeze(1)).sum(dim=2)  # (K, d, N, F)
    return feat, dfeat


def interpolate_levels_second(
    table: torch.Tensor,
    index: torch.Tensor,
    w: torch.Tensor,
    dw: torch.Tensor,
    d2w: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """As :func:`interpolate_levels` with ``dw``, plus the pure second derivatives
    ``(K, d, N, F)`` from ``d2w`` ``(K, d, C, N)`` (None: zero, not returned)."""
    k, c, n = index.shape
    vals = table.index_select(0, index.reshape(-1)).view(k, c, n, -1)  # (K, C, N, F)
    feat = (w.unsqueeze(-1) * vals).sum(dim=1)
    dfeat = (dw.unsqueeze(-1) * vals.unsqueeze(1)).sum(dim=2)
    d2feat = None if d2w is None else (d2w.unsqueeze(-1) * vals.unsqueeze(1)).sum(dim=2)
    return feat, dfeat, d2feat
