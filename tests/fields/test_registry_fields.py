"""Representations: shapes, domain handling, and derivatives against central differences."""

from __future__ import annotations

import pytest
import torch

from insr.derivatives import get_strategy
from insr.fields import build_field, representation_params

MLP_KINDS = ["siren", "gauss", "mlp"]


def make(kind: str, domain, c: int = 1, **over):
    params = representation_params(kind, over, f"representation.{kind}")
    return build_field(kind, params, domain, c).double()


@pytest.mark.parametrize("kind", MLP_KINDS)
@pytest.mark.parametrize("dim,c", [(1, 1), (2, 1), (2, 2), (3, 1)])
def test_output_shape(kind, dim, c):
    f = make(kind, [[-2.0, 2.0]] * dim, c)
    x = torch.rand(17, dim, dtype=torch.float64)
    assert f(x).shape == (17, c)
    u, j = get_strategy("autodiff")(f, x)
    assert u.shape == (17, c) and j.shape == (17, c, dim)


@pytest.mark.parametrize("kind", MLP_KINDS)
def test_physical_coordinates_are_normalized(kind):
    # The same network on [-2, 2] evaluated at x equals it on [0, 1] at (x + 2) / 4.
    torch.manual_seed(0)
    f = make(kind, [[-2.0, 2.0]])
    torch.manual_seed(0)
    g = make(kind, [[0.0, 1.0]])
    x = torch.linspace(-2, 2, 11, dtype=torch.float64).unsqueeze(1)
    assert torch.allclose(f(x), g((x + 2) / 4), atol=1e-12)
    # and the derivative scales by the chain rule factor 1/4
    _, jf = get_strategy("autodiff")(f, x)
    _, jg = get_strategy("autodiff")(g, (x + 2) / 4)
    assert torch.allclose(jf, jg / 4, atol=1e-10)


@pytest.mark.parametrize("kind", MLP_KINDS)
@pytest.mark.parametrize("dim", [1, 2])
def test_autodiff_and_closed_match_central_differences(kind, dim):
    torch.manual_seed(1)
    f = make(kind, [[-1.0, 3.0]] * dim, c=2)
    x = torch.rand(50, dim, dtype=torch.float64) * 4 - 1
    _, ja = get_strategy("autodiff")(f, x)
    _, jc = get_strategy("closed")(f, x)
    _, jf = get_strategy("fd", h=1e-6)(f, x)
    scale = ja.abs().max()
    # float64 central differences with h = 1e-6: truncation ~h^2 f''', round-off ~1e-16/h
    assert (ja - jf).abs().max() / scale < 1e-7
    assert (jc - ja).abs().max() / scale < 1e-12
