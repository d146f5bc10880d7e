"""insr.derivatives.operators against closed-form derivatives of known functions (float64).

f(x, y) = (sin(a x) exp(b y), x^2 y + cos(y)): every derivative is written out by hand below,
independently of the code under test.
"""

from __future__ import annotations

import math

import pytest
import torch

from insr.derivatives import operators

A, B = 1.3, -0.7


def f(p: torch.Tensor) -> torch.Tensor:
    x, y = p[:, 0], p[:, 1]
    return torch.stack([torch.sin(A * x) * torch.exp(B * y), x * x * y + torch.cos(y)], dim=1)


def exact(p: torch.Tensor):
    """Jacobian (N, 2, 2) and Hessian (N, 2, 2, 2) of f, by hand."""
    x, y = p[:, 0], p[:, 1]
    s, c, e = torch.sin(A * x), torch.cos(A * x), torch.exp(B * y)
    jac = torch.stack(
        [
            torch.stack([A * c * e, B * s * e], -1),
            torch.stack([2 * x * y, x * x - torch.sin(y)], -1),
        ],
        1,
    )
    h0 = torch.stack(
        [
            torch.stack([-A * A * s * e, A * B * c * e], -1),
            torch.stack([A * B * c * e, B * B * s * e], -1),
        ],
        1,
    )
    h1 = torch.stack(
        [torch.stack([2 * y, 2 * x], -1), torch.stack([2 * x, -torch.cos(y)], -1)],
        1,
    )
    return jac, torch.stack([h0, h1], 1)


@pytest.fixture
def pts() -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return torch.rand(50, 2, generator=gen, dtype=torch.float64) * 4 - 2


def close(a: torch.Tensor, b: torch.Tensor, rtol: float = 1e-12) -> bool:
    return bool((a - b).abs().max() <= rtol * b.abs().max())


def test_jacobian(pts):
    u, jac = operators.jacobian(f, pts)
    assert close(u, f(pts)) and close(jac, exact(pts)[0])
    assert not jac.requires_grad


def test_hessian(pts):
    u, jac, hess = operators.hessian(f, pts)
    j_ex, h_ex = exact(pts)
    assert close(jac, j_ex) and close(hess, h_ex)


def test_laplacian(pts):
    _, jac, lap = operators.laplacian(f, pts)
    x, y = pts[:, 0], pts[:, 1]
    e = torch.exp(B * y)
    lap_ex = torch.stack([(B * B - A * A) * torch.sin(A * x) * e, 2 * y - torch.cos(y)], 1)
    assert lap.shape == (50, 2) and close(lap, lap_ex)


def test_divergence(pts):
    _, div = operators.divergence(f, pts)
    x, y = pts[:, 0], pts[:, 1]
    div_ex = A * torch.cos(A * x) * torch.exp(B * y) + x * x - torch.sin(y)
    assert close(div, div_ex)


@pytest.mark.parametrize("per_point", [False, True])
def test_directional_first_and_second(pts, per_point):
    gen = torch.Generator().manual_seed(1)
    v = torch.randn(50 if per_point else 1, 2, generator=gen, dtype=torch.float64)
    v = v if per_point else v[0]
    j_ex, h_ex = exact(pts)
    vv = v.expand(50, 2)
    _, du = operators.directional_first(f, pts, v)
    assert close(du, torch.einsum("ncj,nj->nc", j_ex, vv))
    _, jac, vhv = operators.directional_second(f, pts, v)
    assert close(jac, j_ex)
    assert close(vhv, torch.einsum("ncjk,nj,nk->nc", h_ex, vv, vv))


def test_create_graph_gives_parameter_derivatives(pts):
    """d/dk of the Laplacian of sin(k x) sin(k y) is -2 d/dk (k^2 sin sin), checked by hand."""
    k = torch.tensor(1.1, dtype=torch.float64, requires_grad=True)

    def g(p: torch.Tensor) -> torch.Tensor:
        return (torch.sin(k * p[:, 0]) * torch.sin(k * p[:, 1])).unsqueeze(1)

    _, _, lap = operators.laplacian(g, pts, create_graph=True)
    (dk,) = torch.autograd.grad(lap.sum(), k)
    x, y = pts[:, 0].detach(), pts[:, 1].detach()
    kk = 1.1
    s = torch.sin(kk * x) * torch.sin(kk * y)
    ds = x * torch.cos(kk * x) * torch.sin(kk * y) + y * torch.sin(kk * x) * torch.cos(kk * y)
    assert math.isclose(dk.item(), float((-4 * kk * s - 2 * kk * kk * ds).sum()), rel_tol=1e-11)


class Hooked(torch.nn.Module):
    """f with every closed-form hook, each returning a marker (+1000) so its use is visible."""

    has_closed_form = True

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        return f(p)

    def value_and_jacobian(self, p):
        self.calls.append("jacobian")
        return f(p), exact(p)[0] + 1000.0  # shifted: a constant, so its Hessian is the true one

    def closed_laplacian(self, p, create_graph):
        self.calls.append("laplacian")
        return f(p), exact(p)[0], torch.full((p.shape[0], 2), 1000.0, dtype=p.dtype)

    def closed_divergence(self, p, create_graph):
        self.calls.append("divergence")
        return f(p), torch.full((p.shape[0],), 1000.0, dtype=p.dtype)

    def directional_derivatives(self, p, v, create_graph=False):
        self.calls.append("directional")
        return f(p), exact(p)[0], torch.full((p.shape[0], 2), 1000.0, dtype=p.dtype)


def test_hooks_are_used_first_and_closed_false_skips_them(pts):
    m = Hooked()
    v = torch.tensor([0.3, -0.4], dtype=torch.float64)
    assert (operators.laplacian(m, pts)[2] == 1000.0).all()
    assert (operators.divergence(m, pts)[1] == 1000.0).all()
    assert (operators.directional_second(m, pts, v)[2] == 1000.0).all()
    assert close(operators.jacobian(m, pts)[1], exact(pts)[0] + 1000.0)
    assert m.calls == ["laplacian", "divergence", "directional", "jacobian"]
    m.calls.clear()
    # closed=False: plain autodiff through forward for the Jacobian; second-order operators
    # skip their own hooks and differentiate value_and_jacobian (shifted by a constant)
    _, j = operators.jacobian(m, pts, closed=False)
    assert close(j, exact(pts)[0]) and m.calls == []
    j_ex, h_ex = exact(pts)
    lap_ex = torch.diagonal(h_ex, dim1=2, dim2=3).sum(-1)
    assert close(operators.laplacian(m, pts, closed=False)[2], lap_ex, rtol=1e-11)
    _, _, vhv = operators.directional_second(m, pts, v, closed=False)
    assert close(vhv, torch.einsum("ncjk,j,k->nc", h_ex, v, v), rtol=1e-11)
    assert m.calls == ["jacobian", "jacobian"]


def test_divergence_needs_as_many_channels_as_axes(pts):
    with pytest.raises(ValueError, match="as many channels"):
        operators.divergence(lambda p: p[:, :1], pts)
