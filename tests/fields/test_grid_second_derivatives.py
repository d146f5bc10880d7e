"""Grid fields' x-derivatives through their closed-form Jacobian: the Hessian that
gradient supervision uses (``insr.derivatives.operators.hessian``) against autograd of
the plain forward, in float64. (The per-sample-set weights were once computed
without their graph to ``x``: the Hessian of a smoothstep grid came out zero and the
supervised dense-grid preset drifted from step 1.)"""

from __future__ import annotations

import pytest
import torch

from insr.config import load_config
from insr.derivatives.operators import hessian
from insr.run import Run

CASES = {
    "densegrid 1D": (
        "advection1d",
        "densegrid",
        ["representation.densegrid.interpolation=smoothstep"],
    ),
    "hashgrid 1D": (
        "advection1d",
        "hashgrid",
        ["representation.hashgrid.interpolation=smoothstep"],
    ),
    "densegrid 2D": (
        "advection2d",
        "densegrid",
        ["representation.densegrid.interpolation=smoothstep"],
    ),
}


def _field(case: str, kind: str, sets: list[str]):
    cfg = load_config(case, sets=[f"representation.kind={kind}", "run.dtype=float64", *sets])
    torch.manual_seed(0)
    f = Run(cfg).equation.field
    with torch.no_grad():  # a field with structure: the initial table is ~1e-4
        for p in f.parameters():
            p.add_(0.1 * torch.randn(p.shape, dtype=p.dtype))
    return f


@pytest.mark.parametrize("name", CASES)
def test_hessian_is_autograd_of_the_plain_forward(name: str) -> None:
    """The reference differentiates the field's plain forward twice by autograd (no
    closed form on its path); points are independent, so summing over them is exact."""
    f = _field(*CASES[name])
    d = f.in_features
    gen = torch.Generator().manual_seed(1)
    x = (torch.rand(9, d, generator=gen, dtype=torch.float64) - 0.5) * 1.6
    _, _, hess = hessian(f, x)
    xg = x.clone().requires_grad_(True)
    u = f(xg)
    for c in range(u.shape[1]):
        (g,) = torch.autograd.grad(u[:, c].sum(), xg, create_graph=True)
        for k in range(d):
            (h,) = torch.autograd.grad(g[:, k].sum(), xg, retain_graph=True)
            torch.testing.assert_close(hess[:, c, k, :], h, rtol=1e-9, atol=1e-9)
    assert hess.abs().max() > 1.0  # a smoothstep grid with weights has curvature


@pytest.mark.parametrize("name", CASES)
def test_value_gradient_in_x_is_the_closed_form_jacobian(name: str) -> None:
    f = _field(*CASES[name])
    x = (torch.rand(7, f.in_features, dtype=torch.float64) - 0.5).requires_grad_(True)
    u, jac = f.value_and_jacobian(x)
    (g,) = torch.autograd.grad(u[:, 0].sum(), x)
    torch.testing.assert_close(g, jac[:, 0, :], rtol=1e-10, atol=1e-12)
