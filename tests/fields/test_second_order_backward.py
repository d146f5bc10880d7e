"""The hand-written backward of the second-order MLP sweep (value, Jacobian, second
derivatives along directions or the axes), in float64, against plain autograd through
``Field.forward`` (nested reverse mode, no closed form anywhere) and
``torch.autograd.gradcheck``."""

from __future__ import annotations

import pytest
import torch

from insr.config import load_config
from insr.fields import build_field, representation_params
from insr.fields.base import Field
from insr.fields.mlp import SecondOrderMLP
from insr.run import Run

KINDS = [
    ("siren", {"hidden_layers": 3, "hidden_features": 6, "omega0": 4.0, "hidden_omega0": 3.0}),
    ("gauss", {"hidden_features": 6, "sigma": 0.7}),
    ("mlp", {"hidden_layers": 2, "hidden_features": 6, "activation": "tanh"}),
    ("mlp", {"hidden_layers": 2, "hidden_features": 6, "activation": "softplus"}),
]
DOMAINS = {1: [[-2.0, 2.0]], 2: [[-1.0, 3.0], [0.0, 0.5]]}
DIRECTIONS = ["per-point", "constant", "axes"]


def _field(kind: str, over: dict, dim: int) -> Field:
    torch.manual_seed(5)
    params = representation_params(kind, over, f"representation.{kind}")
    return build_field(kind, params, DOMAINS[dim], 2).double()


def _points(dim: int, n: int = 11) -> torch.Tensor:
    lo = torch.tensor([a for a, _ in DOMAINS[dim]], dtype=torch.float64)
    hi = torch.tensor([b for _, b in DOMAINS[dim]], dtype=torch.float64)
    return torch.rand(n, dim, dtype=torch.float64) * (hi - lo) + lo


def _direction(which: str, n: int, dim: int) -> torch.Tensor | None:
    if which == "axes":
        return None
    v = torch.randn(n, dim, dtype=torch.float64)
    return v if which == "per-point" else v[0]


def _reference(f: Field, x: torch.Tensor, v: torch.Tensor | None):
    """u, J and the second derivatives (``v^T H v``, or the Laplacian for ``v = None``) by
    nested reverse mode through ``f.forward``, keeping the parameter graph."""
    xg = x.clone().requires_grad_(True)
    u = f(xg)
    jac, second = [], []
    for i in range(u.shape[1]):
        (g,) = torch.autograd.grad(u[:, i].sum(), xg, create_graph=True)
        jac.append(g)
        if v is None:
            lap = 0
            for j in range(x.shape[1]):
                (hj,) = torch.autograd.grad(g[:, j].sum(), xg, create_graph=True)
                lap = lap + hj[:, j]
            second.append(lap)
        else:
            (hv,) = torch.autograd.grad((g * v).sum(), xg, create_graph=True)
            second.append((hv * v).sum(-1))
    return u, torch.stack(jac, 1), torch.stack(second, 1)


def _closed(f: Field, x: torch.Tensor, v: torch.Tensor | None):
    if v is None:
        return f.closed_laplacian(x, True)  # type: ignore[operator]
    return f.directional_derivatives(x, v, create_graph=True)  # type: ignore[operator]


def _loss(u, jac, dd) -> torch.Tensor:
    """A loss using every output nonlinearly, with distinct weights per entry."""
    w = torch.arange(1, dd.numel() + 1, dtype=dd.dtype).reshape(dd.shape) / dd.numel()
    return u.sin().sum() + (jac**2).sum() + (w * dd).sum() + (dd**2).mean()


@pytest.mark.parametrize("kind,over", KINDS)
@pytest.mark.parametrize("dim", [1, 2])
@pytest.mark.parametrize("which", DIRECTIONS)
def test_values_and_parameter_gradients_match_nested_autograd(kind, over, dim, which):
    f = _field(kind, over, dim)
    x = _points(dim)
    v = _direction(which, x.shape[0], dim)
    out = _closed(f, x, v)
    ref = _reference(f, x, v)
    assert out[1].grad_fn is not None and "SecondOrderMLP" in type(out[0].grad_fn).__name__
    for a, b in zip(out, ref, strict=True):
        assert (a - b).abs().max() <= 1e-11 * (1.0 + b.abs().max())
    g_hand = torch.autograd.grad(_loss(*out), list(f.parameters()))
    g_ref = torch.autograd.grad(_loss(*ref), list(f.parameters()))
    for a, b in zip(g_hand, g_ref, strict=True):
        assert (a - b).abs().max() <= 1e-10 * (1.0 + b.abs().max())


@pytest.mark.parametrize("kind,over", KINDS)
@pytest.mark.parametrize("dim", [1, 2])
@pytest.mark.parametrize("which", DIRECTIONS)
def test_second_order_backward_passes_gradcheck(kind, over, dim, which):
    f = _field(kind, over, dim)
    x = _points(dim, 5)
    v = _direction(which, 5, dim)
    h0, scale = f.to_symmetric(x), f._sym_scale(x)  # type: ignore[operator]
    params = [p.detach().clone().requires_grad_(True) for p in f._flat_params()]  # type: ignore[operator]
    assert torch.autograd.gradcheck(
        lambda *p: SecondOrderMLP.apply(h0, scale, v, f.acts, *p), params, atol=1e-7
    )


def test_sample_inputs_for_insr_gradcheck_pass():
    assert torch.autograd.gradcheck(SecondOrderMLP.apply, SecondOrderMLP.gradcheck_inputs())


def test_autograd_switch_gives_the_same_numbers():
    """``custom_backward = False`` (the path before the hand-written backward: autograd
    through the sweep) and the hand-written backward agree."""
    f = _field(*KINDS[0], 2)
    x = _points(2)
    v = _direction("per-point", x.shape[0], 2)
    grads = {}
    for custom in (True, False):
        f.custom_backward = custom  # type: ignore[assignment]
        out = _closed(f, x, v)
        assert ("SecondOrderMLP" in type(out[0].grad_fn).__name__) == custom
        grads[custom] = torch.autograd.grad(_loss(*out), list(f.parameters()))
    for a, b in zip(grads[True], grads[False], strict=True):
        assert (a - b).abs().max() <= 1e-11 * (1.0 + b.abs().max())


def test_points_that_need_x_gradients_take_autograd_through_the_sweep():
    f = _field(*KINDS[1], 1)
    x = _points(1).requires_grad_(True)
    u, jac, vhv = f.directional_derivatives(x, torch.ones(1, dtype=torch.float64), True)  # type: ignore[operator]
    (gx,) = torch.autograd.grad(vhv.sum(), x)  # the hand-written backward has no x-gradient
    assert torch.isfinite(gx).all() and gx.abs().max() > 0


def test_default_advection1d_loss_runs_the_hand_written_backward(monkeypatch):
    calls = []
    apply = SecondOrderMLP.apply

    def counting(*args):
        calls.append(1)
        return apply(*args)

    monkeypatch.setattr(SecondOrderMLP, "apply", counting)
    cfg = load_config("advection1d", [], [])
    eq = Run(cfg).equation
    problem = list(eq.step_problems(1, cfg.case.dt, cfg.case.dt))[0]
    loss = problem.loss(problem.sample(torch.Generator().manual_seed(0)))
    loss.backward()
    assert calls == [1]  # the trained field; the frozen previous one needs no graph
