"""The stacked-stream second-order sweep for ``d >= 2`` (:mod:`insr.fields.stacked`), in
float64: its ``(u, J, dd)`` against the per-axis sweep it replaces and against nested
autograd through a plain forward pass; its hand-written backward against autograd
through the per-axis sweep and ``torch.autograd.gradcheck``; and which layout each
caller gets."""

from __future__ import annotations

import pytest
import torch

from insr.fields import build_field, mlp, representation_params
from insr.fields.activations import ACTIVATIONS
from insr.fields.mlp import SecondOrderMLP, _second_sweep, second_sweep_backward
from insr.fields.stacked import STACKED

ARGS = {"sine": (3.0,), "gauss": (0.7,), "tanh": (), "softplus": ()}
STACKS = {name: [ACTIVATIONS[name](*ARGS[name])] * 3 for name in ACTIVATIONS}
STACKS["mixed"] = [ACTIVATIONS[k](*ARGS[k]) for k in ("sine", "gauss", "tanh", "softplus")]
DIRECTIONS = ["axes", "per-point", "constant"]


def _inputs(stack: str, d: int, n: int = 9, width: int = 5, c: int = 2, seed: int = 0):
    """``h0 (n, d)``, ``scale (d,)``, the activations and float64 parameters."""
    gen = torch.Generator().manual_seed(seed)
    acts = STACKS[stack]
    dims = [d] + [width] * len(acts) + [c]
    params = []
    for a, b in zip(dims[:-1], dims[1:], strict=True):
        params.append(torch.randn(b, a, generator=gen, dtype=torch.float64) / a**0.5)
        params.append(0.3 * torch.randn(b, generator=gen, dtype=torch.float64))
    h0 = torch.rand(n, d, generator=gen, dtype=torch.float64) * 2 - 1
    scale = 0.5 + torch.rand(d, generator=gen, dtype=torch.float64)
    return h0, scale, acts, params


def _direction(which: str, n: int, d: int) -> torch.Tensor | None:
    if which == "axes":
        return None
    v = torch.randn(n, d, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    return v if which == "per-point" else v[0]


def _per_axis(h0, scale, v, acts, params, keep=True):
    """The sweep in the layout before (:data:`insr.fields.mlp.STACKED_STREAMS` off)."""
    mlp.STACKED_STREAMS = False
    try:
        return _second_sweep(h0, scale, v, acts, params, keep)
    finally:
        mlp.STACKED_STREAMS = True


def _nested_autograd(h0, scale, v, acts, params):
    """``u``, ``J`` and the second derivatives (Hessian diagonal, or ``v^T H v``) in the
    physical coordinates ``x = h0 / scale`` by nested reverse mode through the plain
    forward pass ``h -> act(W h + b)``."""
    x = (h0 / scale).detach().requires_grad_(True)
    h = x * scale
    for i, act in enumerate(acts):
        h = act(h @ params[2 * i].t() + params[2 * i + 1])
    u = h @ params[-2].t() + params[-1]
    jac, second = [], []
    for k in range(u.shape[1]):
        (g,) = torch.autograd.grad(u[:, k].sum(), x, create_graph=True)
        jac.append(g)
        if v is None:
            rows = [
                torch.autograd.grad(g[:, j].sum(), x, retain_graph=True)[0][:, j]
                for j in range(x.shape[1])
            ]
            second.append(torch.stack(rows, 1))
        else:
            (hv,) = torch.autograd.grad((g * v).sum(), x, retain_graph=True)
            second.append((hv * v).sum(-1, keepdim=True))
    return u.detach(), torch.stack(jac, 1).detach(), torch.stack(second, 2)


def _close(a: torch.Tensor, b: torch.Tensor, rel: float) -> bool:
    return a.shape == b.shape and float((a - b).abs().max()) <= rel * (1.0 + float(b.abs().max()))


@pytest.mark.parametrize("stack", list(STACKS))
@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("which", DIRECTIONS)
def test_forward_matches_the_per_axis_sweep_and_nested_autograd(stack, d, which):
    h0, scale, acts, params = _inputs(stack, d)
    v = _direction(which, h0.shape[0], d)
    with torch.no_grad():
        new = _second_sweep(h0, scale, v, acts, params, True)
        old = _per_axis(h0, scale, v, acts, params)
    assert new[3][-1][0] is STACKED and old[3][-1][0] is not STACKED
    ref = _nested_autograd(h0, scale, v, acts, params)
    for a, b, r in zip(new[:3], old[:3], ref, strict=True):
        assert _close(a, b, 1e-12)
        assert _close(a, r, 1e-10)


@pytest.mark.parametrize("stack", list(STACKS))
@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("which", DIRECTIONS)
def test_backward_matches_autograd_through_the_per_axis_sweep(stack, d, which):
    h0, scale, acts, params = _inputs(stack, d)
    v = _direction(which, h0.shape[0], d)
    gen = torch.Generator().manual_seed(2)
    with torch.no_grad():
        u, jac, dd, saved = _second_sweep(h0, scale, v, acts, params, True)
    gu, gjac, gdd = (torch.randn(t.shape, generator=gen, dtype=torch.float64) for t in (u, jac, dd))
    hand = second_sweep_backward(saved, params, scale, v, acts, gu, gjac, gdd)
    leaves = [p.clone().requires_grad_(True) for p in params]
    u2, jac2, dd2, _ = _per_axis(h0, scale, v, acts, leaves, keep=False)
    loss = (gu * u2).sum() + (gjac * jac2).sum() + (gdd * dd2).sum()
    ref = torch.autograd.grad(loss, leaves)
    for a, b in zip(hand, ref, strict=True):
        assert _close(a, b, 1e-11)


def test_backward_takes_non_contiguous_upstream_gradients():
    """Upstream gradients as autograd hands them (expanded, transposed views)."""
    h0, scale, acts, params = _inputs("mixed", 2)
    with torch.no_grad():
        u, jac, dd, saved = _second_sweep(h0, scale, None, acts, params, True)
    gu = torch.ones(1, 1, dtype=torch.float64).expand_as(u)
    gjac = torch.randn(jac.shape[2], jac.shape[1], jac.shape[0], dtype=torch.float64).permute(
        2, 1, 0
    )
    gdd = torch.ones(1, dtype=torch.float64).expand(dd.shape)
    hand = second_sweep_backward(saved, params, scale, None, acts, gu, gjac, gdd)
    dense = second_sweep_backward(
        saved, params, scale, None, acts, gu.contiguous(), gjac.contiguous(), gdd.contiguous()
    )
    for a, b in zip(hand, dense, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("stack", ["sine", "mixed"])
@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("which", DIRECTIONS)
def test_stacked_backward_passes_gradcheck(stack, d, which):
    h0, scale, acts, params = _inputs(stack, d, n=4, width=3)
    v = _direction(which, h0.shape[0], d)
    leaves = [p.clone().requires_grad_(True) for p in params]
    out = SecondOrderMLP.apply(h0, scale, v, acts, *leaves)
    assert "SecondOrderMLP" in type(out[0].grad_fn).__name__
    assert torch.autograd.gradcheck(
        lambda *p: SecondOrderMLP.apply(h0, scale, v, acts, *p), leaves, atol=1e-8
    )


def test_layout_by_caller(monkeypatch):
    """Without a graph (no grad mode, or inside SecondOrderMLP) the stacked sweep runs;
    with autograd recording through the sweep, and with the flag off, the per-axis one."""
    h0, scale, acts, params = _inputs("tanh", 2)
    calls: list[int] = []
    stacked = mlp.second_sweep_stacked

    def counting(*args):
        calls.append(1)
        return stacked(*args)

    monkeypatch.setattr(mlp, "second_sweep_stacked", counting)
    leaves = [p.clone().requires_grad_(True) for p in params]
    SecondOrderMLP.apply(h0, scale, None, acts, *leaves)
    assert calls == [1]
    _second_sweep(h0, scale, None, acts, leaves, False)  # autograd through the sweep
    assert calls == [1]
    with torch.no_grad():
        _second_sweep(h0, scale, None, acts, leaves, False)
    assert calls == [1, 1]
    monkeypatch.setattr(mlp, "STACKED_STREAMS", False)
    SecondOrderMLP.apply(h0, scale, None, acts, *leaves)
    assert calls == [1, 1]


def test_compiled_objective_in_2d_matches_eager():
    """run.compile: the fused objective pass in 2D (the stacked sweep under torch.compile)
    gives the eager loss and gradient to float32 round-off."""
    torch.manual_seed(0)
    params = representation_params("siren", {"hidden_layers": 2, "hidden_features": 8}, "r")
    f = build_field("siren", params, [[-1.0, 1.0], [0.0, 2.0]], 1)
    x = torch.rand(33, 2) * 2.0 - 1.0
    v = torch.randn(33, 2)
    target = torch.randn(33, 1, generator=torch.Generator().manual_seed(1))

    def objective(u, jac, dd):
        r = u - target + jac[:, :, 0] - jac[:, :, 1] + dd[:, 0]
        g = 2.0 * r / r.numel()
        return (r * r).mean(), (g, torch.stack([g, -g], -1), g.unsqueeze(1))

    out = []
    for compiled in (False, True):
        f.compiled = compiled  # type: ignore[assignment]
        loss = f.directional_objective(x, v, objective)  # type: ignore[operator]
        out.append((loss, torch.autograd.grad(loss, list(f.parameters()))))
    f.compiled = False  # type: ignore[assignment]
    (le, ge), (lc, gc) = out
    assert torch.allclose(lc, le, rtol=1e-5, atol=0)
    for a, b in zip(gc, ge, strict=True):
        assert (a - b).abs().max() <= 1e-5 * (1.0 + b.abs().max())
