"""Gradient toolbox: derivative strategies, coarse-to-fine schedule, level mask, gradcheck,
noise metric, Sobolev init, gradient supervision, automatic omega0."""

from __future__ import annotations

import copy
import math
import sys
import textwrap

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from insr import gradcheck as gc
from insr.cli import app
from insr.derivatives import STRATEGIES, get_strategy
from insr.derivatives.coarse_to_fine import CoarseToFineSchedule
from insr.derivatives.operators import hessian as value_jacobian_hessian
from insr.fields.base import Field
from insr.fields.mlp import Siren
from insr.metrics import gradient_noise, gradient_rel_error, noise_cutoff

F64 = torch.float64


class SineField(Field):
    """``u = (sin(w . x), cos(v . x))`` with its exact Jacobian (a test field)."""

    has_closed_form = True

    def __init__(self, w: list[float], v: list[float], cell: float | None = None) -> None:
        super().__init__([[-2.0, 2.0]] * len(w), 2)
        self.register_buffer("w", torch.tensor(w, dtype=F64))
        self.register_buffer("v", torch.tensor(v, dtype=F64))
        self.finest_cell = cell
        self.scale = torch.nn.Parameter(torch.ones((), dtype=F64))  # something to train

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * torch.stack([torch.sin(x @ self.w), torch.cos(x @ self.v)], dim=1)

    def value_and_jacobian(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, b = x @ self.w, x @ self.v
        u = self.scale * torch.stack([torch.sin(a), torch.cos(b)], dim=1)
        jac = self.scale * torch.stack(
            [torch.cos(a)[:, None] * self.w, -torch.sin(b)[:, None] * self.v], dim=1
        )
        return u, jac

    def exact_jacobian(self, x: torch.Tensor) -> torch.Tensor:
        return self.value_and_jacobian(x)[1].detach()


def _points(d: int, n: int = 200, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, d, generator=g, dtype=F64) * 3.0 - 1.5


W = {1: ([3.0], [2.0]), 2: ([3.0, -2.0], [1.5, 2.5])}


def _freqs(f: SineField) -> torch.Tensor:
    """``(c, d)`` wave-vector components per channel (bounds of the derivatives)."""
    return torch.stack([f.w.abs(), f.v.abs()])


# ----------------------------------------------------------------- strategies vs analytic
@pytest.mark.parametrize("d", [1, 2])
@pytest.mark.parametrize("name", ["autodiff", "closed"])
def test_exact_strategies_match_analytic(name: str, d: int) -> None:
    f = SineField(*W[d])
    x = _points(d)
    u, jac = get_strategy(name)(f, x)
    torch.testing.assert_close(jac, f.exact_jacobian(x), rtol=0, atol=1e-13)
    torch.testing.assert_close(u, f(x).detach(), rtol=0, atol=1e-14)


@pytest.mark.parametrize("d", [1, 2])
def test_central_fd_error_is_second_order_and_bounded(d: int) -> None:
    f = SineField(*W[d])
    x = _points(d)
    exact = f.exact_jacobian(x)
    k = _freqs(f)  # |d^3 u_i / dx_j^3| <= k_ij^3
    errs = []
    for h in (1e-2, 5e-3):
        _, jac = get_strategy("fd", h=h)(f, x)
        err = (jac - exact).abs()
        assert torch.all(err <= h**2 / 6 * k**3 * 1.001 + 1e-12)
        errs.append(float(err.max()))
    assert 3.8 < errs[0] / errs[1] < 4.2  # O(h^2): halving h quarters the error


@pytest.mark.parametrize("d", [1, 2])
def test_forward_fd_error_is_first_order_and_bounded(d: int) -> None:
    f = SineField(*W[d])
    x = _points(d)
    exact = f.exact_jacobian(x)
    k = _freqs(f)
    errs = []
    for h in (1e-3, 5e-4):
        _, jac = get_strategy("fd", h=h, scheme="forward")(f, x)
        err = (jac - exact).abs()
        assert torch.all(err <= h / 2 * k**2 * 1.001 + 1e-12)
        errs.append(float(err.max()))
    assert 1.9 < errs[0] / errs[1] < 2.1  # O(h)


@pytest.mark.parametrize("d", [1, 2])
def test_average_error_bound(d: int) -> None:
    f = SineField(*W[d])
    x = _points(d)
    h = 1e-2
    _, jac = get_strategy("average", h=h)(f, x)
    k = _freqs(f)
    # mean over x, x +- h e_m of du_i/dx_j: error <= h^2 / (1 + 2d) * sum_m k_im^2 * k_ij
    bound = h**2 / (1 + 2 * d) * (k**2).sum(1, keepdim=True) * k
    err = (jac - f.exact_jacobian(x)).abs()
    assert torch.all(err <= bound * 1.001 + 1e-12)
    assert float(err.max()) > 0.1 * float(bound.max())  # it really averages


def test_cell_steps_use_finest_cell() -> None:
    f = SineField(*W[1], cell=0.02)
    x = _points(1)
    _, a = get_strategy("fd", h="cell")(f, x)
    _, b = get_strategy("fd", h=0.02)(f, x)
    _, c = get_strategy("fd", h="2cell")(f, x)
    _, e = get_strategy("fd", h=0.04)(f, x)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    torch.testing.assert_close(c, e, rtol=0, atol=0)
    with pytest.raises(ValueError, match="grid representation"):
        get_strategy("fd", h="cell")(SineField(*W[1]), x)


def test_coarse_to_fine_strategy_uses_schedule_h() -> None:
    f = SineField(*W[1])
    x = _points(1)
    sched = CoarseToFineSchedule([0.4, 0.2, 0.1, 0.05], start_levels=2, interval=3)
    strat = get_strategy("coarse_to_fine", schedule=sched)
    # h starts at the coarsest cell and decays exponentially to the finest over 2 levels
    for t, h in [(0, 0.4), (3, 0.4 * (0.05 / 0.4) ** 0.5), (6, 0.05), (100, 0.05)]:
        sched.t = t
        assert sched.h() == pytest.approx(h, rel=1e-12)
        _, a = strat(f, x)
        _, b = get_strategy("fd", h=sched.h())(f, x)
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert set(STRATEGIES) >= {"autodiff", "closed", "fd", "average", "coarse_to_fine"}


def test_strategies_keep_graph_for_losses() -> None:
    f = SineField(*W[2])
    x = _points(2, 20)
    for name in STRATEGIES:
        _, jac = get_strategy(name, h=1e-3)(f, x, create_graph=True)
        (g,) = torch.autograd.grad(jac.sum(), f.scale)
        # d/dscale of sum(J) = sum(J) / scale (J is linear in scale)
        assert float(g) == pytest.approx(float(jac.detach().sum()), rel=1e-9), name


def test_hessian_matches_analytic() -> None:
    f = SineField(*W[2])
    x = _points(2, 50)
    _, _, hess = value_jacobian_hessian(f, x)
    a, b = x @ f.w, x @ f.v
    h0 = -torch.sin(a)[:, None, None] * torch.outer(f.w, f.w)
    h1 = -torch.cos(b)[:, None, None] * torch.outer(f.v, f.v)
    torch.testing.assert_close(hess, torch.stack([h0, h1], 1), rtol=0, atol=1e-13)


# ----------------------------------------------------------------- closed == autodiff
@pytest.mark.parametrize("kind", ["siren", "gauss", "mlp", "hashgrid", "densegrid"])
def test_closed_equals_autodiff_float64(kind: str) -> None:
    for label, params in gc.variants(kind):
        for d in (1, 2):
            f = gc.check_field(kind, params, d)
            x = gc.safe_points(f, 64, 1e-5, torch.Generator().manual_seed(1))
            u_a, j_a = get_strategy("autodiff")(f, x)
            u_c, j_c = get_strategy("closed")(f, x)
            scale = float(j_a.abs().max())
            assert scale > 0
            torch.testing.assert_close(j_c, j_a, rtol=0, atol=1e-13 * scale, msg=f"{kind}/{label}")
            torch.testing.assert_close(u_c, u_a, rtol=0, atol=1e-13)


# ----------------------------------------------------------------- coarse-to-fine schedule
def _hashgrid_1d(n_levels: int = 16):
    from insr.fields import build_field

    return build_field("hashgrid", {"n_levels": n_levels, "log2_hashmap_size": 12}, [[-2, 2]], 1)


def test_schedule_values_on_hashgrid() -> None:
    f = _hashgrid_1d()
    s = CoarseToFineSchedule.for_field(f, start_levels=4, interval=10, unit="iterations")

    def cell(level: int) -> float:  # tcnn rule: scale_l = base * per_level_scale^l - 1
        return 4.0 / (16 * 1.5**level - 1.0)

    def h(levels_done: float) -> float:  # log h linear from cell(0) to cell(15) over 12 levels
        return cell(0) * (cell(15) / cell(0)) ** (levels_done / 12)

    expected = {
        0: (4, cell(0)),
        9: (4, h(0.9)),
        10: (5, h(1.0)),
        55: (9, h(5.5)),
        120: (16, cell(15)),
        10_000: (16, cell(15)),
    }
    for t, (k, h) in expected.items():
        assert s.active_levels(t) == k
        assert s.h(t) == pytest.approx(h, rel=1e-12)
    assert f.n_active_levels == 4  # applied at construction
    for it in range(25):
        s.on_iteration(it)
    assert s.t == 25 and f.n_active_levels == 6
    s.set_step(7)  # unit = iterations: steps do not advance it
    assert s.t == 25


def test_schedule_steps_unit_and_virtual_levels() -> None:
    f = _hashgrid_1d(8)
    s = CoarseToFineSchedule.for_field(f, start_levels=2, interval=2, unit="steps")
    s.on_iteration(0)
    assert s.t == 0
    s.set_step(5)
    # 5 steps / 2 = 2.5 levels done of 6: h = cell(0) (cell(7) / cell(0))^(2.5 / 6)
    c0, c7 = f.cell_of_level(0), f.cell_of_level(7)
    assert f.n_active_levels == 4 and s.h() == pytest.approx(c0 * (c7 / c0) ** (2.5 / 6))
    siren = SineField(*W[1])
    v = CoarseToFineSchedule.for_field(
        siren, start_levels=4, virtual_levels=16, h_start=0.25, h_end=1e-3, interval=5
    )
    assert v.h(0) == pytest.approx(0.25)  # h starts at the first virtual cell
    assert v.h(30) == pytest.approx(0.25 * (1e-3 / 0.25) ** (6 / 12))
    assert v.h(10**6) == pytest.approx(1e-3)
    ratios = [v.cells[i + 1] / v.cells[i] for i in range(15)]
    assert max(ratios) == pytest.approx(min(ratios))  # exponential decay of h


def test_level_mask_zeroes_finer_levels() -> None:
    f = _hashgrid_1d(8).double()
    with torch.no_grad():
        f.table.uniform_(-1, 1)
    x = torch.linspace(-1.9, 1.9, 57, dtype=F64)[:, None]
    f.set_active_levels(3)
    u_mask, j_mask = get_strategy("closed")(f, x)
    _, j_ad = get_strategy("autodiff")(f, x)
    torch.testing.assert_close(j_mask, j_ad, rtol=0, atol=1e-12)
    f(x).sum().backward()
    assert float(f.table.grad[f.level_rows(3).start :].abs().max()) == 0.0
    assert float(f.table.grad[: f.level_rows(2).stop].abs().max()) > 0.0
    ref = _hashgrid_1d(8).double()
    ref.load_state_dict(f.state_dict())
    with torch.no_grad():
        ref.table[ref.level_rows(3).start :] = 0.0
    torch.testing.assert_close(ref(x), u_mask, rtol=0, atol=1e-14)


def test_advection_coarse_to_fine_drives_levels(tmp_path) -> None:
    from insr.config import load_config
    from insr.run import Run
    from insr.stepper import Budget, optimize

    cfg = load_config(
        "advection1d",
        sets=[
            "representation.kind=hashgrid",
            "representation.hashgrid.log2_hashmap_size=12",
            "derivative.loss=coarse_to_fine",
            "solver.time_scheme=midpoint",  # pade4 (the case default) needs exact derivatives
            "derivative.coarse_to_fine_interval=3",
            "solver.samples=64",
            "eval.resolution=33",
        ],
    )
    run = Run(cfg)
    eq = run.equation
    assert eq.field.n_active_levels == 4
    gen = torch.Generator().manual_seed(0)
    for p in eq.initial_problems():
        optimize(p, Budget(lr=1e-3, max_iters=7, rel_tol=0.0), gen)
    assert eq.schedule.t == 7 and eq.field.n_active_levels == 6
    # the logged coarse_to_fine strategy uses the run's schedule
    strat = get_strategy("coarse_to_fine", schedule=eq.schedule)
    c0, c15 = eq.field.cell_of_level(0), eq.field.cell_of_level(15)
    # 7 iterations / 3 = 7/3 of the 12 levels to add: h = c0 (c15 / c0)^(7/36)
    assert strat.current_h(eq.field) == pytest.approx(c0 * (c15 / c0) ** (7 / 36))


# ----------------------------------------------------------------- gradcheck
runner = CliRunner()


def test_gradcheck_cli_passes() -> None:
    res = runner.invoke(app, ["gradcheck", "--points", "16"])
    assert res.exit_code == 0, res.output
    assert "fail" not in res.output.split("checks:")[0]
    assert "0 fail" in res.output


def test_gradcheck_all_rows_below_pass_threshold() -> None:
    rows = gc.check_all(dims=(2,), n_points=16)
    assert rows and all(r.error < gc.PASS for r in rows if r.error is not None)


def test_gradcheck_detects_broken_derivative(monkeypatch) -> None:
    orig = Siren.value_and_jacobian

    def broken(self, x):
        u, j = orig(self, x)
        return u, j * (1.0 + 1e-3)  # a 0.1 % bug

    monkeypatch.setattr(Siren, "value_and_jacobian", broken)
    res = runner.invoke(app, ["gradcheck", "--repr", "siren", "--dim", "1", "--points", "16"])
    assert res.exit_code == 1, res.output
    assert "fail" in res.output
    rows = {r.check: r for r in gc.check_representation("siren", 1, n_points=16)}
    assert rows["closed vs central FD"].status == "fail"
    assert rows["autodiff vs central FD"].status == "pass"


def test_gradcheck_bad_repr_is_usage_error() -> None:
    res = runner.invoke(app, ["gradcheck", "--repr", "sirne"])
    assert res.exit_code == 2
    assert "did you mean 'siren'" in res.output


def test_sweep_eps_is_v_shaped() -> None:
    curve = gc.sweep_eps("siren", 1, n_points=16)
    errs = [e for _, e in curve]
    i = int(np.argmin(errs))
    assert 0 < i < len(errs) - 1
    assert errs[0] > 1e3 * errs[i] and errs[-1] > 1e3 * errs[i]
    res = runner.invoke(
        app, ["gradcheck", "--repr", "gauss", "--dim", "1", "--sweep-eps", "--points", "8"]
    )
    assert res.exit_code == 0 and "1e-12" in res.output


def test_custom_function_gradcheck(tmp_path, monkeypatch) -> None:
    pkg = tmp_path / "fakepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "ops.py").write_text(
        textwrap.dedent("""
        import torch

        def _inputs():
            return (torch.rand(5, dtype=torch.float64, requires_grad=True),)

        class Square(torch.autograd.Function):
            gradcheck_inputs = staticmethod(_inputs)

            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return 2 * x * g

        class BadSquare(Square):
            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return 2.01 * x * g

        class NoInputs(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    rows = {r.representation.split(".")[-1]: r.status for r in gc.check_custom_functions("fakepkg")}
    assert rows == {"Square": "pass", "BadSquare": "fail", "NoInputs": "warn"}
    sys.modules.pop("fakepkg.ops", None)
    sys.modules.pop("fakepkg", None)


# ----------------------------------------------------------------- noise metric
def _gauss_derivative(n: int = 401) -> tuple[np.ndarray, np.ndarray]:
    x = np.linspace(-2.0, 2.0, n)
    s = 0.1
    return x, (-(x + 1.5) / s**2 * np.exp(-((x + 1.5) ** 2) / (2 * s**2)))[:, None, None]


def _dct_mode(n: int, m: int) -> np.ndarray:
    """A pure even-extension mode of wavenumber m: cos(pi m (i + 1/2) / n)."""
    return np.cos(np.pi * m * (np.arange(n) + 0.5) / n)[:, None, None]


def test_noise_of_high_frequency_error_is_its_relative_amplitude() -> None:
    x, g = _gauss_derivative()
    kc = noise_cutoff(g, 1)
    m = int(kc) + 40
    err = 0.02 * np.abs(g).max() * _dct_mode(len(x), m)
    expected = np.linalg.norm(err) / np.linalg.norm(g)
    assert gradient_noise(g + err, g, 1) == pytest.approx(expected, rel=1e-10)
    assert gradient_rel_error(g + err, g) == pytest.approx(expected, rel=1e-10)


def test_noise_of_low_frequency_error_is_zero() -> None:
    x, g = _gauss_derivative()
    low = 0.05 * np.abs(g).max() * _dct_mode(len(x), 2)
    assert gradient_noise(g + low, g, 1) < 1e-12
    assert gradient_rel_error(g + low, g) > 1e-2
    # a smooth non-periodic error (a ramp) also stays out of the noise (mirror extension)
    ramp = 0.05 * np.abs(g).max() * (x / 2.0)[:, None, None]
    assert gradient_noise(g + ramp, g, 1) < 0.02 * gradient_rel_error(g + ramp, g)


def test_noise_separates_mixed_error_and_is_bounded_by_rel_error() -> None:
    x, g = _gauss_derivative()
    a = np.abs(g).max()
    hi = 0.01 * a * _dct_mode(len(x), 300)
    lo = 0.05 * a * _dct_mode(len(x), 3)
    noise = gradient_noise(g + hi + lo, g, 1)
    assert noise == pytest.approx(np.linalg.norm(hi) / np.linalg.norm(g), rel=1e-10)
    assert noise <= gradient_rel_error(g + hi + lo, g)
    # physical sinusoid (not an exact mode), far above the band: ~ its relative amplitude
    sin_err = 0.01 * a * np.sin(2 * np.pi * 40 * x)[:, None, None]
    assert gradient_noise(g + sin_err, g, 1) == pytest.approx(
        np.linalg.norm(sin_err) / np.linalg.norm(g), rel=0.02
    )


def test_noise_2d_grid() -> None:
    n = 64
    x = np.linspace(-1, 1, n)
    xx, yy = np.meshgrid(x, x, indexing="ij")
    e = np.exp(-(xx**2 + yy**2) / (2 * 0.2**2))
    g = np.stack([-xx / 0.04 * e, -yy / 0.04 * e], -1)[:, :, None, :]  # (n, n, 1, 2)
    mode = np.cos(np.pi * 50 * (np.arange(n) + 0.5) / n)
    err = 0.01 * np.abs(g).max() * mode[:, None, None, None] * np.ones_like(g)
    assert gradient_noise(g + err, g, 2) == pytest.approx(
        np.linalg.norm(err) / np.linalg.norm(g), rel=1e-10
    )


# ----------------------------------------------------------------- remedies in the equation
def _run(sets: list[str]):
    from insr.config import load_config
    from insr.run import Run

    return Run(load_config("advection1d", sets=["eval.resolution=101", *sets]))


def _init_grad_error(sobolev: float, iters: int = 60) -> float:
    from insr.stepper import optimize

    run = _run(
        [
            f"derivative.sobolev_weight={sobolev}",
            f"solver.init.max_iters={iters}",
            "solver.samples=200",
            "solver.init_rel_tol=0",
        ]
    )
    budget, _ = run.budgets()
    for p in run.equation.initial_problems():
        optimize(p, budget, run.solver.gen)
    _, g = get_strategy("closed")(run.equation.field, run.points)
    _, ge = run.case.initial_value_and_gradient(run.points)
    return gradient_rel_error(g.numpy(), ge.numpy())


def test_sobolev_init_lowers_step0_gradient_error() -> None:
    plain, sob = _init_grad_error(0.0), _init_grad_error(1e-2)
    assert sob < plain


@pytest.mark.parametrize("velocity", ["constant", "rotation"])
def test_gradient_supervision_term_is_gradient_of_midpoint_residual(velocity: str) -> None:
    """Eq. (4) must equal grad_x of residual (1) (v time-independent): an independent path."""
    from insr.config import CaseConfig
    from insr.equations import Numerics, make_case
    from insr.equations.advection import Advection

    vel = (
        {"kind": "constant", "value": [0.3, -0.2]}
        if velocity == "constant"
        else {"kind": "rotation", "omega": 1.3, "center": [0.1, 0.0]}
    )
    cc = CaseConfig(
        name="t",
        pde="advection",
        domain=[[-1, 1], [-1, 1]],
        dt=0.1,
        steps=1,
        initial={"family": "gaussian", "mu": [0.0, 0.0], "sigma": 0.3},
        velocity=vel,
        boundary="none",
    )
    case = make_case(cc)
    torch.manual_seed(0)
    from insr.fields.mlp import SirenConfig

    field = Siren(SirenConfig(omega0=5.0), cc.domain, 1).double()
    x = _points(2, 40) * 0.5
    dt, t, wg = 0.1, 0.1, 0.7
    eq0 = Advection(case, {"u": field}, None, Numerics(dtype=F64, boundary_weight=0.0))
    eq1 = Advection(
        case,
        {"u": field},
        None,
        Numerics(gradient_supervision=wg, dtype=F64, boundary_weight=0.0),
    )
    (p0,) = eq0.step_problems(1, t, dt)  # both freeze the same previous field
    (p1,) = eq1.step_problems(1, t, dt)
    prev = copy.deepcopy(field)
    with torch.no_grad():  # move the current field away from the previous one
        for q in field.parameters():
            q.add_(0.01 * torch.randn_like(q))
    gain = float(p1.loss(x).detach()) - float(p0.loss(x).detach())
    # independent path: r(x) by autodiff of u and u_prev, then grad_x r by autodiff again
    xg = x.clone().requires_grad_(True)

    def value_grad(f):
        u = f(xg)
        return u[:, 0], torch.autograd.grad(u.sum(), xg, create_graph=True)[0]

    u, g = value_grad(field)
    up, gp = value_grad(prev)
    r = u - up + dt * (case.velocity(xg, t) * (g + gp)).sum(-1) * 0.5  # eq. (1)
    (gr,) = torch.autograd.grad(r.sum(), xg)
    extra = wg * float((gr**2).sum(-1).mean())
    assert extra > 1e-8
    assert gain == pytest.approx(extra, rel=1e-9)


def test_auto_omega0_records_choice() -> None:
    run = _run(
        [
            "representation.siren.omega0=auto",
            "representation.siren.omega0_candidates=[5.0, 40.0]",
            "derivative.omega0_auto_iters=20",
            "solver.samples=100",
        ]
    )
    a = run.attrs
    errs = list(a["omega0_gradient_errors"])
    assert list(a["omega0_candidates"]) == [5.0, 40.0]
    assert len(errs) == 2 and all(math.isfinite(e) and e > 0 for e in errs)
    assert a["omega0_auto"] == [5.0, 40.0][int(np.argmin(errs))]
    assert run.equation.field.omega0 == a["omega0_auto"]
    assert run.cfg.representation.params["omega0"] == "auto"  # the config keeps 'auto'
