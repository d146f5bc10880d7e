"""The 1D heat equation: exact Gaussian solution, Crank-Nicolson residual order, a run."""

from __future__ import annotations

import math

import pytest
import torch

from insr.config import load_config
from insr.equations import Numerics, make_case
from insr.equations.heat import Heat, HeatSettings, gaussian_solution, make_heat_case
from insr.log import RunLogReader
from insr.run import execute

F64 = torch.float64


def test_gaussian_solution_solves_the_heat_equation() -> None:
    """u_t = kappa u_xx by float64 autograd (independent of the closed form's derivation)."""
    kappa, mu, sigma = 0.3, 0.2, 0.15
    exact = gaussian_solution(mu, sigma, 1.7, kappa)
    x = torch.linspace(-1, 1, 41, dtype=F64)[:, None].requires_grad_(True)
    for t in (0.0, 0.05, 0.4):
        tt = torch.tensor(t, dtype=F64, requires_grad=True)
        u = (
            1.7
            * sigma
            / torch.sqrt(sigma**2 + 2 * kappa * tt)
            * torch.exp(-((x - mu) ** 2) / (2 * (sigma**2 + 2 * kappa * tt)))
        )
        assert torch.allclose(u, exact(x, t))
        (ut,) = torch.autograd.grad(u.sum(), tt, retain_graph=True)
        (ux,) = torch.autograd.grad(u.sum(), x, create_graph=True)
        (uxx,) = torch.autograd.grad(ux.sum(), x)
        # u_t summed over the points equals kappa * sum u_xx (1e-10: float64 round-off)
        assert float(ut) == pytest.approx(kappa * float(uxx.sum()), rel=1e-10, abs=1e-10)


def test_heat_case_truth_starts_at_the_initial_condition_and_keeps_its_mass() -> None:
    cfg = load_config("heat1d")
    case = make_case(cfg.case, cfg.extra)
    x = torch.linspace(-2, 2, 4001, dtype=F64)[:, None]
    assert torch.allclose(case.exact_fn(x, 0.0), case.initial(x), atol=1e-15)
    t_end = cfg.case.steps * cfg.case.dt
    u = case.exact_fn(x, t_end)[:, 0]
    mass = float(torch.trapezoid(u, x[:, 0]))
    assert mass == pytest.approx(0.1 * math.sqrt(2 * math.pi), rel=1e-10)  # A sigma sqrt(2 pi)
    # the zero-Dirichlet ends agree with the infinite-line solution below float32 resolution
    ends = case.exact_fn(torch.tensor([[-2.0], [2.0]], dtype=F64), 2.5)
    assert float(ends.abs().max()) < 2.0**-24


def test_heat_case_refuses_what_it_cannot_mean() -> None:
    from insr.schema import ConfigError

    cfg = load_config("advection2d").case
    with pytest.raises(ConfigError, match="1D"):
        make_heat_case(cfg, HeatSettings())
    c1 = load_config("advection1d").case
    with pytest.raises(ConfigError, match="velocity"):
        make_heat_case(c1, HeatSettings())


class ExactField(torch.nn.Module):
    """The exact solution at a settable time, posing as a field (float64)."""

    has_closed_form = False
    n_params = 1

    def __init__(self, exact, t: float) -> None:
        super().__init__()
        self.exact, self.t = exact, t
        self.dummy = torch.nn.Parameter(torch.zeros((), dtype=F64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.exact(x, self.t) + 0.0 * self.dummy


def _residual_rms(dt: float, t0: float = 0.2, kappa: float = 0.05) -> float:
    cfg = load_config("heat1d")
    case = make_case(cfg.case, {"heat": {"kappa": kappa}})
    field = ExactField(case.exact_fn, t0)
    n = Numerics(samples=2000, boundary_weight=0.0, dtype=F64)
    eq = Heat(case, {"u": field}, HeatSettings(kappa=kappa), n)
    (problem,) = eq.step_problems(1, t0 + dt, dt)  # freezes u(t0) as the previous step
    field.t = t0 + dt
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(2000, 1, generator=gen, dtype=F64) * 1.2 - 0.6
    return math.sqrt(float(problem.loss(x).detach()))


def test_crank_nicolson_residual_is_third_order_per_step() -> None:
    # local error O(dt^3): halving dt divides the residual of the exact solution by ~8;
    # 4 % on the ratio (the next term of the expansion is O(dt) relative: measured 7.59 for
    # dt = 0.02 -> 0.01 and 7.79 for 0.01 -> 0.005, approaching 8 as dt halves)
    rms = [_residual_rms(dt) for dt in (0.01, 0.005, 0.0025)]
    for coarse, fine in zip(rms[:-1], rms[1:], strict=True):
        assert coarse / fine == pytest.approx(8.0, rel=0.04), rms


def test_heat_run_logs_against_the_exact_solution(tmp_path) -> None:
    sets = [
        "eval.resolution=41",
        "case.steps=1",
        "solver.samples=200",
        "solver.max_iters=25",
        "solver.init.max_iters=100",
    ]
    res = execute(load_config("heat1d", sets=sets), tmp_path / "r")
    assert res.status == "complete" and res.completed_steps == 2
    with RunLogReader(res.log_path) as log:
        assert log.attrs["case"] == "heat1d" and log.attrs["time_scheme"] == "midpoint"
        exact = log.row("exact/field", 1)
        t = float(log.series("time")[1])
    want = gaussian_solution(0.0, 0.1, 1.0, 0.02)(torch.linspace(-2, 2, 41)[:, None], t)
    assert torch.allclose(torch.as_tensor(exact), want, atol=1e-6)
    assert "field_rmse" in res.last_metrics and res.last_metrics["field_rmse"] < 0.1
