"""The flat-parameter L-BFGS (insr/lbfgs.py): known minima, strong-Wolfe steps, agreement
with torch.optim.LBFGS, history across calls, parameters updated in place."""

from __future__ import annotations

import torch

from insr.lbfgs import C1, C2, FlatLBFGS, flatten_params

F64 = torch.float64


def _rosenbrock(x: torch.Tensor) -> torch.Tensor:
    return ((1 - x[:-1]) ** 2).sum() + 100 * ((x[1:] - x[:-1] ** 2) ** 2).sum()


def _quadratic(n: int = 12, cond: float = 100.0, seed: int = 0):
    """``A`` SPD (eigenvalues 1..cond), ``b`` and the minimizer ``A^{-1} b`` of
    ``0.5 x^T A x - b^T x``."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=F64))
    a = (
        q
        @ torch.diag(torch.logspace(0, torch.log10(torch.tensor(cond)).item(), n, dtype=F64))
        @ q.T
    )
    b = torch.randn(n, generator=g, dtype=F64)
    return a, b, torch.linalg.solve(a, b)


def _closure(opt, params: list[torch.Tensor], fn, counter: list[int] | None = None):
    def closure() -> torch.Tensor:
        if counter is not None:
            counter[0] += 1
        opt.zero_grad(set_to_none=True)
        loss = fn(*params)
        loss.backward()
        return loss

    return closure


def test_rosenbrock_reaches_its_minimum_with_strong_wolfe_steps():
    x = torch.nn.Parameter(torch.tensor([-1.2, 1.0] * 5, dtype=F64))
    opt = FlatLBFGS(
        [x],
        max_iter=500,
        max_eval=2000,
        history_size=10,
        tolerance_grad=1e-10,
        tolerance_change=1e-16,
        record=True,
    )
    opt.step(_closure(opt, [x], _rosenbrock))
    assert float((x.detach() - 1).abs().max()) < 1e-6
    assert float(_rosenbrock(x.detach())) < 1e-12
    assert len(opt.steps) > 20
    for s in opt.steps:  # the conditions asserted on the recorded numbers, not the flag
        assert s.f <= s.f0 + C1 * s.t * s.gtd0 + 1e-15
        assert abs(s.gtd) <= C2 * abs(s.gtd0)
        assert s.wolfe


def test_quadratic_minimizer_two_tensors():
    a, _, x_star = _quadratic()
    u = torch.nn.Parameter(torch.zeros(3, 2, dtype=F64))
    v = torch.nn.Parameter(torch.zeros(6, dtype=F64))

    def f(u, v):  # 0.5 x^T A x - b^T x up to a constant, written to vanish at the minimum
        e = torch.cat([u.reshape(-1), v]) - x_star
        return 0.5 * e @ a @ e

    opt = FlatLBFGS(
        [u, v],
        max_iter=100,
        history_size=20,
        tolerance_grad=1e-12,
        tolerance_change=1e-16,
        record=True,
    )
    opt.step(_closure(opt, [u, v], f))
    x = torch.cat([u.detach().reshape(-1), v.detach()])
    # stops once f (0 at the minimum) changes by < 1e-16: |x - x*| ~ sqrt(2e-16 / 1) ~ 1e-8
    assert float((x - x_star).abs().max() / x_star.abs().max()) < 1e-6
    for s in opt.steps:
        assert s.f <= s.f0 + C1 * s.t * s.gtd0 + 1e-12
        assert abs(s.gtd) <= C2 * abs(s.gtd0)


def _two_loop(s_list, y_list, g):
    """``-H g`` by Nocedal & Wright's Algorithm 7.4 (the independent reference)."""
    q = g.clone()
    alphas = []
    for s, y in reversed(list(zip(s_list, y_list, strict=True))):
        rho = 1.0 / (y @ s)
        alpha = rho * (s @ q)
        q -= alpha * y
        alphas.append((rho, alpha))
    gamma = (s_list[-1] @ y_list[-1]) / (y_list[-1] @ y_list[-1])
    r = gamma * q
    for (s, y), (rho, alpha) in zip(
        zip(s_list, y_list, strict=True), reversed(alphas), strict=True
    ):
        beta = rho * (y @ r)
        r += s * (alpha - beta)
    return -r


def test_compact_direction_is_the_two_loop_recursion_including_dropped_pairs():
    torch.manual_seed(0)
    n, m = 30, 5
    a, _, _ = _quadratic(n, cond=50.0)
    x = torch.nn.Parameter(torch.zeros(n, dtype=F64))
    opt = FlatLBFGS([x], history_size=m)
    s_list, y_list = [], []
    for _ in range(9):  # more pairs than the history keeps
        s = torch.randn(n, dtype=F64)
        y = a @ s  # a curvature pair of the quadratic: y . s > 0
        opt._update(s, y)
        s_list, y_list = [*s_list, s][-m:], [*y_list, y][-m:]
        g = torch.randn(n, dtype=F64)
        ref = _two_loop(s_list, y_list, g)
        got = opt.direction(g)
        assert float((got - ref).abs().max() / ref.abs().max()) < 1e-10


def test_agrees_with_torch_lbfgs_on_a_quadratic():
    a, _, x_star = _quadratic(20, cond=1e2)

    def f(x):
        e = x - x_star
        return 0.5 * e @ a @ e

    out = {}
    for impl in ("flat", "torch"):
        x = torch.nn.Parameter(torch.zeros(20, dtype=F64))
        kw = {
            "max_iter": 200,
            "history_size": 20,
            "tolerance_grad": 1e-10,
            "tolerance_change": 1e-16,
        }
        opt = (
            FlatLBFGS([x], **kw)
            if impl == "flat"
            else torch.optim.LBFGS([x], line_search_fn="strong_wolfe", **kw)
        )
        opt.step(_closure(opt, [x], f))
        iters = opt.n_iter if impl == "flat" else opt.state[x]["n_iter"]
        out[impl] = (iters, x.detach().clone())
    (n_flat, x_flat), (n_torch, x_torch) = out["flat"], out["torch"]
    assert abs(n_flat - n_torch) <= 2
    assert float((x_flat - x_star).abs().max() / x_star.abs().max()) < 1e-6
    assert float((x_flat - x_torch).abs().max() / x_star.abs().max()) < 1e-6


def test_history_across_calls_is_one_long_call():
    def run(chunks: list[int]) -> tuple[torch.Tensor, int]:
        x = torch.nn.Parameter(torch.tensor([-1.2, 1.0, -0.5, 0.8], dtype=F64))
        opt = FlatLBFGS([x], history_size=6, tolerance_grad=0.0, tolerance_change=0.0)
        closure = _closure(opt, [x], _rosenbrock)
        for k in chunks:
            opt.max_iter, opt.max_eval = k, 10 * k
            opt.step(closure)
        return x.detach().clone(), opt.n_iter

    long_x, long_n = run([24])
    split_x, split_n = run([8, 8, 8])
    assert long_n == split_n == 24
    assert torch.equal(long_x, split_x)  # same arithmetic: bit-identical
    assert float(_rosenbrock(long_x)) < float(_rosenbrock(torch.tensor([-1.2, 1.0, -0.5, 0.8])))


def test_reset_forgets_the_curvature_pairs():
    a, b, _ = _quadratic(8)
    x = torch.nn.Parameter(torch.zeros(8, dtype=F64))
    opt = FlatLBFGS([x], max_iter=3, history_size=5)
    opt.step(_closure(opt, [x], lambda x: 0.5 * x @ a @ x - b @ x))
    assert opt._k > 0
    opt.reset()
    g = torch.randn(8, dtype=F64)
    assert opt._k == 0 and torch.equal(opt.direction(g), -g)


def test_model_parameters_are_views_updated_in_place():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    ps = list(model.parameters())
    ids, before = [id(p) for p in ps], [p.detach().clone() for p in ps]
    xs, ys = torch.randn(64, 3), torch.randn(64, 1)

    def f(*_):
        return ((model(xs) - ys) ** 2).mean()

    loss0 = float(f().detach())
    opt = FlatLBFGS(ps, max_iter=30, history_size=10)
    assert all(torch.equal(p.detach(), q) for p, q in zip(ps, before, strict=True))
    opt.step(_closure(opt, ps, f))
    assert [id(p) for p in model.parameters()] == ids  # the same Parameter objects
    a = 0
    for p in ps:  # each a view of the optimizer's buffer
        assert p.data_ptr() == opt.flat[a:].data_ptr()
        assert torch.equal(p.detach().reshape(-1), opt.flat[a : a + p.numel()])
        a += p.numel()
    assert float(f().detach()) < 0.8 * loss0  # the model itself evaluates at the new values
    assert any(not torch.equal(p.detach(), q) for p, q in zip(ps, before, strict=True))


def test_flatten_keeps_values_and_shapes():
    ps = [torch.nn.Parameter(torch.randn(2, 3)), torch.nn.Parameter(torch.randn(4))]
    vals = [p.detach().clone() for p in ps]
    flat = flatten_params(ps)
    assert flat.shape == (10,)
    assert all(
        p.shape == v.shape and torch.equal(p.detach(), v) for p, v in zip(ps, vals, strict=True)
    )
    flat.zero_()
    assert all(float(p.detach().abs().max()) == 0.0 for p in ps)


def test_stops_at_the_gradient_tolerance_without_iterating():
    x = torch.nn.Parameter(torch.ones(4, dtype=F64))
    opt = FlatLBFGS([x], max_iter=50, tolerance_grad=1e-8)
    calls = [0]
    opt.step(_closure(opt, [x], _rosenbrock, calls))  # at the minimum: gradient exactly 0
    assert calls[0] == 1 and opt.n_iter == 0


def test_the_setting_reaches_both_budgets():
    from insr.config import load_config
    from insr.run.build import budgets

    for impl in ("flat", "torch"):
        cfg = load_config("advection1d", [], [f"solver.lbfgs_impl={impl}"])
        assert [b.lbfgs_impl for b in budgets(cfg)] == [impl, impl]
    assert budgets(load_config("advection1d", [], []))[1].lbfgs_impl == "torch"  # the default
