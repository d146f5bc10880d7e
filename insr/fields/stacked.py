"""The second-order sweep of :mod:`insr.fields.mlp` for ``d >= 2`` input axes with its
streams stacked: one ``(1 + d + K, N, width)`` tensor per layer holding ``h``, the ``d``
first derivatives ``dh`` and the ``K`` second derivatives ``ddh`` (``K = d`` for the axes,
``K = 1`` for one direction ``v``), so that each linear layer is one matrix product in
the forward and two (weight gradient, input gradient) in the backward.

The formulas are those of :class:`insr.fields.mlp.SecondOrderMLP`; the functions here
are what :func:`insr.fields.mlp._second_sweep` and
:func:`insr.fields.mlp.second_sweep_backward` run when no autograd graph is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

#: the marker of :func:`second_sweep_stacked`'s saved layers (its last entry)
STACKED = "stacked"


def _directions(v: torch.Tensor | None, d: int) -> torch.Tensor | None:
    """``v`` ``(N, d)`` or ``(d,)`` as ``(d, N, 1)`` or ``(d, 1, 1)``; ``None`` stays."""
    if v is None:
        return None
    return v.t().unsqueeze(-1) if v.dim() == 2 else v.reshape(d, 1, 1)


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``sum_j a[j] b[j]`` over the leading (small) axis, as a chain of fused updates."""
    out = a[0] * b[0]
    for j in range(1, a.shape[0]):
        out.addcmul_(a[j], b[j])
    return out


def _along(vt: torch.Tensor | None, dz: torch.Tensor) -> torch.Tensor:
    """Derivatives along the directions ``(K, ., w)``: ``dz`` itself for the axes, else
    ``sum_j v_j dz_j`` with a leading axis of one."""
    return dz if vt is None else _dot(vt, dz).unsqueeze(0)


def second_sweep_stacked(
    h0: torch.Tensor,
    scale: torch.Tensor,
    v: torch.Tensor | None,
    acts: Sequence,
    params: Sequence[torch.Tensor],
    keep: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list]:
    """:func:`insr.fields.mlp._second_sweep` (same arguments and returns) with stacked
    streams. Not differentiable by autograd (it writes into preallocated stacks)."""
    n, d = h0.shape
    vt = _directions(v, d)
    rows = 1 + d + (d if v is None else 1)
    w1, b1 = params[0], params[1]
    z = torch.addmm(b1, h0, w1.t())
    dz = (w1.t() * scale.unsqueeze(1)).unsqueeze(1)  # (d, 1, w): same for every point
    ddz: torch.Tensor | None = None
    dzz = dz  # the rows (dz, ddz) of a layer's product; layer 0: dz (ddz = 0)
    saved: list = []
    stack_in = stack = h0
    for i, act in enumerate(acts):
        if i > 0:
            w, b = params[2 * i], params[2 * i + 1]
            out = torch.mm(stack.view(-1, stack.shape[-1]), w.t().contiguous()).view(rows, n, -1)
            z = out[0].add_(b)
            dz, ddz, dzz = out[1 : 1 + d], out[1 + d :], out[1:]
        a, s1 = act.value_and_slope(z)
        s2 = act.curvature(z, a, s1)
        dzv = _along(vt, dz)
        dzv2 = dzv * dzv
        stack = torch.empty((rows, n, z.shape[1]), dtype=z.dtype, device=z.device)
        stack[0].copy_(a)
        torch.mul(s1, dz, out=stack[1 : 1 + d])
        ddh = stack[1 + d :]
        torch.mul(s2, dzv2, out=ddh)
        if ddz is not None:
            ddh.addcmul_(s1, ddz)
        if keep:
            saved.append((stack_in, z, dzz, dzv, dzv2, stack[0], s1, s2))
        stack_in = stack
    wo, bo = params[-2], params[-1]
    out = torch.mm(stack.view(-1, stack.shape[-1]), wo.t().contiguous()).view(rows, n, -1)
    u = out[0] + bo
    jac = out[1 : 1 + d].permute(1, 2, 0)  # (N, c, d)
    dd = out[1 + d :].transpose(0, 1)  # (N, K, c)
    return u, jac, dd, saved + [(STACKED, stack)]


def second_backward_stacked(
    layers: list,
    params: Sequence[torch.Tensor],
    scale: torch.Tensor,
    v: torch.Tensor | None,
    acts: Sequence,
    gu: torch.Tensor,
    gjac: torch.Tensor,
    gdd: torch.Tensor,
) -> list[torch.Tensor]:
    """:func:`insr.fields.mlp.second_sweep_backward` for :func:`second_sweep_stacked`'s
    saved layers: a layer's upstream gradients are stacked like its streams, so
    ``gW = G^T S`` and ``(gh, gdh, gddh) = G W`` are one product each."""
    *hidden, (_, stack) = layers
    rows, n, _ = stack.shape
    d = scale.shape[0]
    vt = _directions(v, d)
    grads: list[torch.Tensor] = [gu] * len(params)  # placeholders, all overwritten
    g = torch.empty((rows, n, gu.shape[1]), dtype=gu.dtype, device=gu.device)
    g[0] = gu
    g[1 : 1 + d] = gjac.permute(2, 0, 1)
    g[1 + d :] = gdd.transpose(0, 1)
    g_flat = g.view(-1, g.shape[-1])
    grads[-2] = g_flat.t() @ stack.view(-1, stack.shape[-1])
    grads[-1] = gu.sum(0)
    gs = torch.mm(g_flat, params[-2]).view(rows, n, -1)
    for i in range(len(acts) - 1, -1, -1):
        stack_in, z, dzz, dzv, dzv2, a, s1, s2 = hidden[i]
        s3 = acts[i].third(z, a, s1, s2)
        gddh = gs[1 + d :]
        curv = _dot(gs[1 : 1 + dzz.shape[0]], dzz)  # sum_d gdh dz + sum_K gddh ddz
        gdzv = gddh * dzv  # times 2 s2 below
        gdzv.mul_(s2)
        # (gz, gdz, gddz) start as (gh, gdh, gddh) s1; layer 0 needs no gddz
        g = torch.mul(gs if i > 0 else gs[: 1 + d], s1)
        gz, gdz = g[0], g[1 : 1 + d]
        gz.addcmul_(s2, curv)
        gz.addcmul_(s3, _dot(gddh, dzv2))
        if vt is None:
            gdz.add_(gdzv, alpha=2.0)
        else:
            gdz.addcmul_(vt, gdzv, value=2.0)
        grads[2 * i + 1] = gz.sum(0)
        if i > 0:
            g_flat = g.view(-1, g.shape[-1])
            grads[2 * i] = g_flat.t() @ stack_in.view(-1, stack_in.shape[-1])
            gs = torch.mm(g_flat, params[2 * i]).view(rows, n, -1)
        else:
            # dz1[j, k] = scale_j W1[k, j] for every point
            grads[0] = gz.t() @ stack_in + gdz.sum(1).t() * scale
    return grads
