"""The hand-written backward of the second-order MLP sweep (value, Jacobian, second
derivatives along directions or the axes), in float64, against plain autograd through
``Field.forward`` (nested reverse mode, no closed form anywhere) and
``torch.autograd.gradcheck``."""

from __future__ import annotations

import copy

import pytest
import torch

from insr.config import load_config
from insr.fields import build_field, representation_params
from insr.fields.base import Field
from insr.fields.mlp import SecondOrderMLP, SecondOrderObjective
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
    assert torch.autograd.gradcheck(
        SecondOrderObjective.apply, SecondOrderObjective.gradcheck_inputs()
    )


@pytest.mark.parametrize("kind,over", KINDS)
@pytest.mark.parametrize("dim", [1, 2])
def test_objective_gradient_by_hand_matches_autograd_of_the_loss(kind, over, dim):
    f = _field(kind, over, dim)
    x = _points(dim)
    v = _direction("per-point", x.shape[0], dim)
    target = torch.randn(x.shape[0], 2, dtype=torch.float64)

    def objective(u, jac, dd):
        # loss = mean((u - t)^2) + sum(J^3) / N + mean(dd * t), gradient written out
        n = u.shape[0]
        loss = ((u - target) ** 2).mean() + (jac**3).sum() / n + (dd[:, 0] * target).mean()
        return loss, (
            2.0 * (u - target) / u.numel(),
            3.0 * jac**2 / n,
            target.unsqueeze(1) / u.numel(),
        )

    loss = f.directional_objective(x, v, objective)  # type: ignore[operator]
    g_hand = torch.autograd.grad(loss, list(f.parameters()))
    u, jac, dd = _reference(f, x, v)
    ref = ((u - target) ** 2).mean() + (jac**3).sum() / x.shape[0] + (dd * target).mean()
    assert torch.allclose(loss, ref, rtol=1e-12, atol=0)
    g_ref = torch.autograd.grad(ref, list(f.parameters()))
    for a, b in zip(g_hand, g_ref, strict=True):
        assert (a - b).abs().max() <= 1e-10 * (1.0 + b.abs().max())


def test_autograd_switch_gives_the_same_numbers():
    """``second_order_backward = False`` (the path before the hand-written backward: autograd
    through the sweep) and the hand-written backward agree."""
    f = _field(*KINDS[0], 2)
    x = _points(2)
    v = _direction("per-point", x.shape[0], 2)
    grads = {}
    for custom in (True, False):
        f.second_order_backward = custom  # type: ignore[assignment]
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


@pytest.mark.parametrize("fused", [True, False])
def test_default_advection1d_loss_runs_the_hand_written_backward(monkeypatch, fused):
    """Default: the whole Padé loss in one SecondOrderObjective node; with
    ``fused_objective = False``, one SecondOrderMLP sweep for the trained field (the
    frozen previous one needs no graph)."""
    from insr.equations.advection import Advection

    calls = []
    apply = SecondOrderMLP.apply

    def counting(*args):
        calls.append(1)
        return apply(*args)

    monkeypatch.setattr(SecondOrderMLP, "apply", counting)
    monkeypatch.setattr(Advection, "fused_objective", fused)
    cfg = load_config("advection1d", [], [])
    eq = Run(cfg).equation
    problem = list(eq.step_problems(1, cfg.case.dt, cfg.case.dt))[0]
    loss = problem.loss(problem.sample(torch.Generator().manual_seed(0)))
    loss.backward()
    assert ("SecondOrderObjective" in type(loss.grad_fn).__name__) == fused
    assert calls == ([] if fused else [1])


def test_objective_symmetric_coordinates_follow_the_points():
    """directional_objective remembers the symmetric coordinates of the last points: the
    same points again, then the points changed in place, then new points each give what
    a fresh copy of them gives (a stale memo would give the old points' loss), and a
    seed other than 1 scales the gradient."""
    f = _field("siren", {"hidden_layers": 2, "hidden_features": 6}, 1)
    x = _points(1)
    v = _direction("per-point", x.shape[0], 1)

    def objective(u, jac, dd):
        return (u * u).sum() + jac.sum() + (dd * dd).sum(), (
            2.0 * u,
            torch.ones_like(jac),
            2.0 * dd,
        )

    def both(points):
        loss = f.directional_objective(points, v, objective)  # type: ignore[operator]
        return loss, torch.autograd.grad(3.0 * loss, list(f.parameters()))

    first = both(x)
    fresh = both(x.clone())
    assert torch.equal(both(x)[0], first[0]) and torch.equal(fresh[0], first[0])
    with torch.no_grad():
        x.mul_(0.5)
    assert copy.deepcopy(f).__dict__["_sym_memo"].key is None  # copies start empty
    moved, expect = both(x), both(x.clone())
    assert not torch.equal(moved[0], first[0])
    assert torch.equal(moved[0], expect[0])
    for a, b in zip(moved[1], expect[1], strict=True):
        assert torch.equal(a, b)
    seeded = torch.autograd.grad(
        f.directional_objective(x, v, objective),  # type: ignore[operator]
        list(f.parameters()),
    )
    for a, b in zip(moved[1], seeded, strict=True):
        assert torch.allclose(a, 3.0 * b, rtol=1e-12, atol=0)


def test_compiled_objective_matches_eager():
    """run.compile: the fused objective pass under torch.compile gives the eager loss and
    gradient to float32 round-off, also for a second objective closure with other
    tensors (a new time step)."""
    torch.manual_seed(0)
    params = representation_params("siren", {"hidden_layers": 1, "hidden_features": 8}, "r")
    f = build_field("siren", params, DOMAINS[1], 1)
    x = torch.rand(33, 1) * 4.0 - 2.0
    v = torch.randn(33, 1)
    for seed in (1, 2):
        target = torch.randn(33, 1, generator=torch.Generator().manual_seed(seed))

        def objective(u, jac, dd, target=target):
            r = u - target + jac[:, :, 0] + dd[:, 0]
            g = 2.0 * r / r.numel()
            return (r * r).mean(), (g, g.unsqueeze(-1), g.unsqueeze(1))

        out = []
        for compiled in (False, True):
            f.compiled = compiled
            loss = f.directional_objective(x, v, objective)  # type: ignore[operator]
            out.append((loss, torch.autograd.grad(loss, list(f.parameters()))))
        f.compiled = False
        (le, ge), (lc, gc) = out
        assert torch.allclose(lc, le, rtol=1e-5, atol=0)
        for a, b in zip(gc, ge, strict=True):
            assert (a - b).abs().max() <= 1e-5 * (1.0 + b.abs().max())
