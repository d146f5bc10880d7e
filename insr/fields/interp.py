"""Multilinear / smoothstep interpolation on regular grids, with closed-form derivatives.

Shared by :mod:`insr.fields.hashgrid` and :mod:`insr.fields.densegrid`. Everything is
batched over levels in a *level-major* layout: tensors are ``(K, C, N)`` for ``K``
levels, ``C = 2**d`` cell corners and ``N`` points (PERFORMANCE-NOTES.md: twice as fast
as ``(N, K, C)`` on CPU).

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

    ``t``: ``(K, N, d)`` fractional positions. Returns ``w`` of shape ``(K, C, N)`` (the
    weights sum to 1 over ``C``) and, if ``with_grad``, ``dw`` of shape ``(K, d, C, N)``
    with ``dw[:, j] = d w / d t_j`` (grid units; multiply by ``dt/dx`` yourself).
    """
    d = t.shape[-1]
    bits = corner_bits(d, t.device)  # (C, d)
    axes = torch.arange(d, device=t.device).unsqueeze(0).expand_as(bits)  # (C, d)
    s, ds = smooth(t, kind)
    f = torch.stack((1.0 - s, s), dim=-1)  # (K, N, d, 2)
    factors = f[:, :, axes, bits]  # (K, N, C, d): 1D factor of corner c along axis i
    w = factors.prod(dim=-1).transpose(1, 2)  # (K, C, N)
    if not with_grad:
        return w, None
    g = torch.stack((-ds, ds), dim=-1)[:, :, axes, bits]  # (K, N, C, d)
    dws = []
    for j in range(d):
        # product over axes with axis j's factor replaced by its slope (no division: safe at 0)
        m = torch.cat((factors[..., :j], g[..., j : j + 1], factors[..., j + 1 :]), dim=-1)
        dws.append(m.prod(dim=-1).transpose(1, 2))  # (K, C, N)
    return w, torch.stack(dws, dim=1)


def cell_position(
    u: torch.Tensor, scale: torch.Tensor, offset: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lower cell corner and in-cell fraction of unit points at each level.

    ``u``: ``(N, d)`` unit coordinates; ``scale``: ``(K,)`` grid units per unit length.
    Returns ``(corner (K, N, d) int64, t (K, N, d))`` with ``p = u * scale + offset``.
    """
    p = u.unsqueeze(0) * scale.to(u.dtype).view(-1, 1, 1) + offset
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
