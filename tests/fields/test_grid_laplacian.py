"""The closed-form Laplacian of the grid fields (hash grid, dense grid; with and without an
MLP head; linear and smoothstep interpolation) against plain autograd of the forward pass,
in float64: values, Jacobian, Laplacian, and the parameter gradient of a Laplacian loss."""

from __future__ import annotations

import pytest
import torch

from insr.derivatives import operators
from tests.fields.test_grid_fields import away_from_borders, make, random_points


def autograd_laplacian(f, x: torch.Tensor, create_graph: bool):
    """``(u, J, lap)`` by reverse mode of ``f.forward`` only (double backward)."""
    xg = x.clone().requires_grad_(True)
    u = f(xg)
    jac, lap = [], []
    for i in range(u.shape[1]):
        (g,) = torch.autograd.grad(u[:, i].sum(), xg, create_graph=True)
        jac.append(g)
        terms = []
        for j in range(x.shape[1]):
            (h,) = torch.autograd.grad(
                g[:, j].sum(), xg, create_graph=create_graph, retain_graph=True, allow_unused=True
            )
            terms.append(torch.zeros_like(xg[:, j]) if h is None else h[:, j])
        lap.append(sum(terms))
    return u, torch.stack(jac, 1), torch.stack(lap, 1)  # type: ignore[arg-type]


CASES = [
    ("hashgrid", 2, 1, {"interpolation": "smoothstep"}),
    ("hashgrid", 2, 1, {"interpolation": "smoothstep", "activation": "tanh"}),
    ("hashgrid", 2, 1, {"interpolation": "linear"}),
    ("hashgrid", 1, 1, {"interpolation": "smoothstep"}),
    ("hashgrid", 3, 2, {"interpolation": "smoothstep", "activation": "relu"}),
    ("densegrid", 2, 1, {"interpolation": "smoothstep", "hidden_layers": 2}),
    ("densegrid", 2, 2, {"interpolation": "smoothstep", "mlp": False, "n_features_per_level": 2}),
]


@pytest.mark.parametrize(("kind", "d", "c", "over"), CASES)
def test_closed_laplacian_equals_autograd_in_float64(kind, d, c, over) -> None:
    f = make(kind, d, c, **over)
    offset = 0.5 if kind == "hashgrid" else 0.0
    x = away_from_borders(f, random_points(400, d), offset)[:64]
    assert len(x) >= 16
    x = torch.cat([x, x[:4] + 3.0])  # outside the box: clamped, derivatives zero
    u, jac, lap = operators.laplacian(f, x)  # the closed-form hook
    ru, rjac, rlap = autograd_laplacian(f, x, create_graph=False)
    assert lap.abs().max() > 1e-3 or over["interpolation"] == "linear"
    torch.testing.assert_close(u, ru.detach(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(jac, rjac.detach(), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(lap, rlap.detach(), rtol=1e-9, atol=1e-9)
    assert torch.all(lap[-4:] == 0)


@pytest.mark.parametrize(("kind", "d", "c", "over"), [CASES[0], CASES[5], CASES[6]])
def test_parameter_gradient_of_a_laplacian_loss_equals_autograd(kind, d, c, over) -> None:
    f = make(kind, d, c, **over)
    offset = 0.5 if kind == "hashgrid" else 0.0
    x = away_from_borders(f, random_points(400, d), offset)[:48]
    target = torch.linspace(-1, 1, len(x), dtype=torch.float64).unsqueeze(1)

    def grads(lap: torch.Tensor) -> list[torch.Tensor]:
        loss = ((lap - target) ** 2).mean()
        return torch.autograd.grad(loss, [p for p in f.parameters()], allow_unused=True)

    _, _, lap = operators.laplacian(f, x, create_graph=True)
    got = grads(lap)
    _, _, rlap = autograd_laplacian(f, x, create_graph=True)
    want = grads(rlap)
    for g, w in zip(got, want, strict=True):
        if w is None:
            assert g is None or torch.all(g == 0)
            continue
        torch.testing.assert_close(g, w, rtol=1e-9, atol=1e-11)
    assert any(w is not None and w.abs().max() > 0 for w in want)


def test_gradcheck_of_the_closed_laplacian_in_the_head_weights() -> None:
    f = make("hashgrid", 2, 1, interpolation="smoothstep", hidden_features=4)
    x = away_from_borders(f, random_points(200, 2), 0.5)[:8]
    w0 = f.layers[0].weight.detach().clone().requires_grad_(True)

    def lap_of(w: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            f.layers[0].weight.copy_(w.detach())
        saved = f.layers[0].weight
        del f.layers[0].weight
        f.layers[0].weight = w  # a non-leaf weight: gradcheck differentiates through it
        try:
            return f.closed_laplacian(x, True)[2]
        finally:
            f.layers[0].weight = saved

    assert torch.autograd.gradcheck(lap_of, (w0,), eps=1e-6, atol=1e-6)


def test_tinycudann_backend_has_no_closed_laplacian() -> None:
    f = make("hashgrid", 2, 1)
    f.has_closed_form = False  # what the tinycudann backend sets
    assert f.closed_laplacian is None
