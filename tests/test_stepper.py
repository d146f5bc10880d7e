"""Fast paths give the same numbers as the slow ones; the stopping rule and L-BFGS behave.

No test here measures time: ``benchmarks/run.py`` does the measuring.
"""

from __future__ import annotations

import math

import pytest
import torch

from insr.derivatives.core import autodiff
from insr.equations.base import SubProblem
from insr.fields.mlp import (
    ClosedFormMLP,
    GaussConfig,
    GaussMLP,
    MLPConfig,
    Siren,
    SirenConfig,
    TanhMLP,
)
from insr.stepper import Budget, StepStats, _Stopper, optimize, run_steps

FIELDS = {
    "siren": lambda d: Siren(SirenConfig(hidden_features=6, omega0=4.0, hidden_omega0=3.0), d, 2),
    "gauss": lambda d: GaussMLP(GaussConfig(hidden_features=6, sigma=0.7), d, 2),
    "tanh": lambda d: TanhMLP(MLPConfig(hidden_layers=2, hidden_features=6), d, 2),
    "softplus": lambda d: TanhMLP(
        MLPConfig(hidden_layers=2, hidden_features=6, activation="softplus"), d, 2
    ),
}
DOMAINS = {1: [[-2.0, 2.0]], 2: [[-1.0, 3.0], [0.0, 0.5]]}


@pytest.mark.parametrize("kind", FIELDS)
@pytest.mark.parametrize("dim", [1, 2])
def test_custom_backward_passes_gradcheck(kind: str, dim: int) -> None:
    torch.manual_seed(1)
    field = FIELDS[kind](DOMAINS[dim]).double()
    x = torch.rand(5, dim, dtype=torch.float64)
    h0, scale = field.to_symmetric(x), field._sym_scale(x)
    params = [p.detach().clone().requires_grad_(True) for p in field._flat_params()]
    assert torch.autograd.gradcheck(
        lambda *p: ClosedFormMLP.apply(h0, scale, field.acts, *p), params, atol=1e-7
    )


def _advection_like_loss(u, g, u_prev, g_prev, v: torch.Tensor) -> torch.Tensor:
    r = u - u_prev + 0.05 * (v * (g + g_prev)).sum(-1) * 0.5
    return (r**2).mean() + (u**2).mean()


@pytest.mark.parametrize("kind", FIELDS)
def test_closed_form_matches_autodiff_values_and_parameter_gradients(kind: str) -> None:
    """The loss through the hand-written backward equals the double-backward loss, and so
    do its gradients with respect to every parameter (float64)."""
    torch.manual_seed(2)
    field = FIELDS[kind](DOMAINS[2]).double()
    x = torch.rand(64, 2, dtype=torch.float64) * torch.tensor([4.0, 0.5]) + torch.tensor([-1.0, 0])
    u_prev, g_prev = torch.randn(64, 2, dtype=torch.float64), torch.randn(64, 2, 2).double()
    v = torch.tensor([0.3, -0.7], dtype=torch.float64)
    grads = {}
    for name, strategy in {"closed": None, "autodiff": autodiff}.items():
        field.zero_grad()
        u, g = field.value_and_jacobian(x) if strategy is None else strategy(field, x, True)
        loss = _advection_like_loss(u, g, u_prev, g_prev, v)
        loss.backward()
        grads[name] = (loss.detach(), [p.grad.clone() for p in field.parameters()])
    (l_c, g_c), (l_a, g_a) = grads["closed"], grads["autodiff"]
    assert torch.allclose(l_c, l_a, rtol=1e-12, atol=0)
    for a, b in zip(g_c, g_a, strict=True):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-12)


def test_custom_and_autograd_sweeps_agree() -> None:
    torch.manual_seed(3)
    field = FIELDS["siren"](DOMAINS[1]).double()
    x = torch.linspace(-2, 2, 33, dtype=torch.float64).unsqueeze(1)
    out = {}
    for custom in (True, False):
        field.custom_backward = custom
        field.zero_grad()
        u, g = field.value_and_jacobian(x)
        (u.square().sum() + g.sin().sum()).backward()
        out[custom] = [p.grad.clone() for p in field.parameters()]
    for a, b in zip(out[True], out[False], strict=True):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-13)


# ------------------------------------------------------------------------- stopping rule
def test_stopper_stops_on_plateau_but_not_on_steady_decrease() -> None:
    budget = Budget(lr=1.0, max_iters=10**6, rel_tol=1e-2)
    steady = _Stopper(budget)
    # 3 % better per window, forever: must never stop
    assert not any(steady(0.97**k, 50 * (k + 1), None) for k in range(200))
    plateau = _Stopper(budget)
    means = [1.0, 0.5, 0.3, 0.2999, 0.2999]
    stops = [plateau(m, 50 * (k + 1), None) for k, m in enumerate(means)]
    assert stops.index(True) == 3  # the first window that improved by < 1 %


def test_stopper_decays_lr_before_stopping() -> None:
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=1.0)
    stop = _Stopper(Budget(lr=1.0, max_iters=1000, rel_tol=1e-2, lr_decay=0.1, lr_decays=2))
    assert [stop(1.0, 50 * k, opt) for k in range(1, 5)] == [False, False, False, True]
    assert math.isclose(opt.param_groups[0]["lr"], 0.01)


class _Scalar(torch.nn.Module):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.p = torch.nn.Parameter(torch.tensor([value]))


def _problem(module: torch.nn.Module, loss) -> SubProblem:
    return SubProblem("test", module, lambda x: loss(module.p), lambda gen: torch.zeros(1, 1))


def test_optimize_stops_early_on_a_plateau() -> None:
    # minimum 1.0 at p = 3; Adam (lr 0.1) gets there in well under 2000 iterations
    module = _Scalar(0.0)
    budget = Budget(lr=0.1, max_iters=20000, check_every=50, rel_tol=1e-3)
    res = optimize(
        _problem(module, lambda p: ((p - 3.0) ** 2).sum() + 1.0), budget, torch.Generator()
    )
    assert res.iterations < 2000
    assert abs(module.p.item() - 3.0) < 0.1


def test_optimize_runs_on_while_the_loss_keeps_falling() -> None:
    # loss = 1000 - p: Adam moves p by ~lr per iteration, 5 % relative per window > rel_tol
    module = _Scalar(0.0)
    budget = Budget(lr=1.0, max_iters=600, check_every=50, rel_tol=1e-2)
    res = optimize(_problem(module, lambda p: 1000.0 - p.sum()), budget, torch.Generator())
    assert res.iterations == 600


# ------------------------------------------------------------------------- L-BFGS
@pytest.mark.parametrize("impl", ["flat", "torch"])
@pytest.mark.parametrize(
    ("optimizer", "resample"), [("lbfgs", False), ("adam+lbfgs", False), ("lbfgs", True)]
)
def test_lbfgs_lowers_the_loss_of_a_small_fit(optimizer: str, resample: bool, impl: str) -> None:
    torch.manual_seed(4)
    field = Siren(SirenConfig(hidden_features=8, omega0=5.0), [[-1.0, 1.0]], 1).double()
    x = torch.linspace(-1, 1, 64, dtype=torch.float64).unsqueeze(1)
    target = torch.sin(3.0 * x)

    def loss(pts: torch.Tensor) -> torch.Tensor:
        return ((field(pts) - target) ** 2).mean()

    problem = SubProblem("fit", field, loss, lambda gen: x)
    with torch.no_grad():
        start = loss(x).item()
    budget = Budget(
        lr=1e-3,
        max_iters=200,
        check_every=20,
        rel_tol=0.0,
        optimizer=optimizer,
        switch_after=20,
        lbfgs_resample=resample,
        lbfgs_impl=impl,
    )
    res = optimize(problem, budget, torch.Generator())
    with torch.no_grad():
        end = loss(x).item()
    assert end < 1e-2 * start
    assert math.isclose(res.loss, end, rel_tol=1e-6)


# ------------------------------------------------------------------------- sub-steps
class _RecordingEquation:
    """Records the (t, dt) of every sub-problem and the field value it froze."""

    def __init__(self) -> None:
        self.module = _Scalar(0.0)
        self.fields = {"u": self.module}
        self.calls: list[tuple[float, float, float]] = []

    def initial_problems(self):
        return [_problem(self.module, lambda p: ((p - 1.0) ** 2).sum())]

    def step_problems(self, step: int, t: float, dt: float):
        frozen = self.module.p.item()
        self.calls.append((t, dt, frozen))
        return [_problem(self.module, lambda p: ((p - frozen - 1.0) ** 2).sum())]


def test_substeps_split_dt_and_freeze_each_substep_start() -> None:
    eq = _RecordingEquation()
    stats: list[StepStats] = []
    budget = Budget(lr=0.5, max_iters=400, check_every=20, rel_tol=1e-4, optimizer="lbfgs")
    run_steps(
        eq,
        dt=0.3,
        first_step=0,
        last_step=2,
        init_budget=budget,
        step_budget=budget,
        gen=torch.Generator(),
        on_step=stats.append,
        substeps=3,
    )
    ts = [c[0] for c in eq.calls]
    assert [s.step for s in stats] == [0, 1, 2]
    assert ts == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    assert all(c[1] == pytest.approx(0.1) for c in eq.calls)
    # each sub-step starts from the previous one's result (p = 1, 2, ..., 6)
    assert [c[2] for c in eq.calls] == pytest.approx([1, 2, 3, 4, 5, 6], abs=1e-4)


def test_tcmalloc_missing_is_refused_naming_the_package_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from insr import perf
    from insr.errors import UsageError

    monkeypatch.setenv("LD_PRELOAD", "")
    monkeypatch.setenv(perf.TCMALLOC_ENV, "/nonexistent/libtcmalloc_minimal.so.4")
    with pytest.raises(UsageError, match="libtcmalloc-minimal4"):
        perf.reexec_with_tcmalloc([])
