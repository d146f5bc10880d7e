"""Gradient supervision (``derivative.gradient_supervision``) for 2D advection and the fluid.

Fields here are closed-form polynomials, so the expected losses are written out by hand:
supervision weight 0 gives the plain loss, and the exact solution of the sub-problem makes
the supervised loss vanish.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from insr.config import load_config
from insr.equations import Numerics, make_case
from insr.equations.advection import Advection
from insr.equations.base import SettingError
from insr.equations.fluid import Fluid
from insr.fields.base import Field
from insr.schema import ConfigError

F64 = torch.float64
BOX = [[-1.0, 1.0], [-1.0, 1.0]]


class Affine(Field):
    """``u(x) = A x + b`` (2 channels)."""

    def __init__(self, a: np.ndarray, b: np.ndarray | None = None) -> None:
        super().__init__(BOX, 2)
        self.a = torch.nn.Parameter(torch.tensor(a, dtype=F64))
        self.b = torch.nn.Parameter(torch.tensor(np.zeros(2) if b is None else b, dtype=F64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.a.T + self.b


class Quadratic(Field):
    """``u(x) = c (x - m)^T S (x - m)`` (1 channel), ``S`` symmetric."""

    def __init__(self, s: np.ndarray, m: np.ndarray, c: float = 1.0) -> None:
        super().__init__(BOX, 1)
        self.s = torch.nn.Parameter(torch.tensor(s, dtype=F64))
        self.m = torch.tensor(m, dtype=F64)
        self.c = torch.nn.Parameter(torch.tensor(c, dtype=F64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x - self.m
        return self.c * ((y @ self.s) * y).sum(-1, keepdim=True)


def _points(n: int = 64, radius: float = 0.5) -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    return (torch.rand(n, 2, generator=g, dtype=F64) * 2 - 1) * radius


# ---------------------------------------------------------------------- advection2d
def _advection2d(wg: float, field: Field) -> Advection:
    cfg = load_config("advection2d")
    case = make_case(cfg.case, cfg.extra)
    n = Numerics(gradient_supervision=wg, dtype=F64, boundary_weight=0.0, loss_strategy="autodiff")
    return Advection(case, {"u": field}, None, n)


def test_advection2d_supervised_loss_zero_at_exact_field() -> None:
    """Under solid-body rotation about the origin a radial field |x|^2 is steady: the midpoint
    residual is zero, and so is R_g = dt [H v + (grad v)^T g] = dt [2 v - 2 v]; a
    non-radial field is not steady and gives a positive supervised term."""
    x = _points()
    dt = 0.0981747704246810
    eq = _advection2d(0.5, Quadratic(np.eye(2), np.zeros(2)))
    (p,) = eq.step_problems(1, dt, dt)
    assert float(p.loss(x).detach()) < 1e-28
    eq = _advection2d(0.5, Quadratic(np.diag([1.0, 0.3]), np.zeros(2)))
    (p,) = eq.step_problems(1, dt, dt)
    assert float(p.loss(x).detach()) > 1e-4


def test_advection2d_weight_zero_is_plain_and_term_matches_hand_formula() -> None:
    """Current u = c |x - m|^2 (c = 1.1), previous u = |x - m|^2, rotation v = (-y, x):
    g = 2c y, H = 2c I with y = x - m, (grad v)^T = [[0, 1], [-1, 0]], so
    R_g = 2(c - 1) y + dt [(c + 1) v + (c + 1) (y_2, -y_1)]."""
    m = np.array([0.3, -0.1])
    dt, c = 0.1, 1.1
    x = _points()
    losses = {}
    for wg in (0.0, 0.7):
        field = Quadratic(np.eye(2), m)
        eq = _advection2d(wg, field)
        (p,) = eq.step_problems(1, dt, dt)  # freezes the previous field (c = 1)
        with torch.no_grad():
            field.c.fill_(c)
        losses[wg] = float(p.loss(x).detach())
    xn = x.numpy()
    y = xn - m
    v = np.stack([-xn[:, 1], xn[:, 0]], 1)
    u, u_prev = c * (y**2).sum(1), (y**2).sum(1)
    g, g_prev = 2 * c * y, 2 * y
    r = u - u_prev + dt * (v * (g + g_prev)).sum(1) / 2
    plain = float((r**2).mean())
    rg = 2 * (c - 1) * y + dt * ((c + 1) * v + (c + 1) * np.stack([y[:, 1], -y[:, 0]], 1))
    term = 0.7 * float((rg**2).sum(1).mean())
    assert losses[0.0] == pytest.approx(plain, rel=1e-12)
    assert losses[0.7] - losses[0.0] == pytest.approx(term, rel=1e-10)
    assert term > 1e-4


# ---------------------------------------------------------------------- fluid advect
W = np.array([[0.0, -1.0], [1.0, 0.0]])  # solid-body rotation u = W x (omega = 1)


def _fluid(wg: float, u: Field, sobolev: float = 0.0) -> Fluid:
    cfg = load_config("taylor_green")
    case = make_case(cfg.case, cfg.extra)
    p = Affine(np.zeros((2, 2)))  # only u matters for the advect sub-problem
    n = Numerics(gradient_supervision=wg, sobolev_weight=sobolev, dtype=F64)
    return Fluid(case, {"u": u, "p": p}, None, n)


def _advect_loss(wg: float, current: np.ndarray, dt: float, x: torch.Tensor) -> float:
    u = Affine(W)
    eq = _fluid(wg, u)
    advect = next(iter(eq.step_problems(1, dt, dt)))  # freezes u_prev = W x
    with torch.no_grad():
        u.a.copy_(torch.tensor(current))
    return float(advect.loss(x).detach())


def test_fluid_supervised_advect_zero_at_exact_result() -> None:
    """rk2 backtrace through u_prev = W x: mid = (I - dt/2 W) x, foot = M x with
    M = I - dt W (I - dt/2 W), so the advected field is W M x, Jacobian W M (hand-derived);
    at u = W M x both the value and the gradient term vanish."""
    dt = 0.1
    i2 = np.eye(2)
    m = i2 - dt * W @ (i2 - dt / 2 * W)
    x = _points(radius=0.5)  # feet stay inside the box: no clamping
    assert _advect_loss(2.0, W @ m, dt, x) < 1e-28
    # the equation's own target Jacobian equals W M
    eq = _fluid(1.0, Affine(W))
    _, jac = eq.advected(Affine(W), x, dt)
    np.testing.assert_allclose(jac.numpy(), np.broadcast_to(W @ m, (len(x), 2, 2)), atol=1e-14)


def test_fluid_weight_zero_is_plain_and_term_is_jacobian_mismatch() -> None:
    """u = W x (not advected): value term mean |W x - W M x|^2, gradient term |W - W M|_F^2."""
    dt = 0.1
    i2 = np.eye(2)
    m = i2 - dt * W @ (i2 - dt / 2 * W)
    x = _points()
    xn = x.numpy()
    value = float((((xn @ W.T) - xn @ (W @ m).T) ** 2).sum(1).mean())
    grad = float(((W - W @ m) ** 2).sum())
    plain, sup = _advect_loss(0.0, W, dt, x), _advect_loss(0.3, W, dt, x)
    assert plain == pytest.approx(value, rel=1e-12)
    assert sup - plain == pytest.approx(0.3 * grad, rel=1e-10)
    assert grad > 1e-3


def test_fluid_refuses_sobolev_weight() -> None:
    with pytest.raises(SettingError, match="sobolev_weight has no effect on the Euler equations"):
        _fluid(0.0, Affine(W), sobolev=0.01)
    from insr.run import Run

    cfg = load_config("taylor_green", sets=["derivative.sobolev_weight=0.01"])
    with pytest.raises(ConfigError, match="derivative.sobolev_weight has no effect"):
        Run(cfg)
