"""The flat-parameter L-BFGS (insr/lbfgs.py): known minima, strong-Wolfe steps, agreement
with torch.optim.LBFGS, history across calls, parameters updated in place."""

from __future__ import annotations

import torch

from insr.lbfgs import C1, C2, FlatLBFGS, OneVectorLBFGS, flatten_params

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


# --------------------------------------------------------------------------- OneVectorLBFGS
def _mlp(dtype: torch.dtype) -> torch.nn.Module:
    torch.manual_seed(3)
    return torch.nn.Sequential(
        torch.nn.Linear(2, 16),
        torch.nn.Tanh(),
        torch.nn.Linear(16, 16),
        torch.nn.Tanh(),
        torch.nn.Linear(16, 1),
    ).to(dtype)


def _fit(opt_kind: str, dtype: torch.dtype, replace_grads: bool = False) -> list[torch.Tensor]:
    """Three L-BFGS calls (history 5: it wraps) on a small regression; the iterates."""
    model = _mlp(dtype)
    ps = list(model.parameters())
    g = torch.Generator().manual_seed(1)
    xs = torch.rand(200, 2, generator=g, dtype=dtype)
    ys = torch.sin(4 * xs[:, :1]) * xs[:, 1:]
    kw = dict(max_iter=15, history_size=5, tolerance_grad=1e-12, tolerance_change=1e-14)
    if opt_kind == "torch":
        opt = torch.optim.LBFGS(ps, line_search_fn="strong_wolfe", **kw)
    else:
        opt = OneVectorLBFGS(ps, **kw)

    def closure() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        loss = ((model(xs) - ys) ** 2).mean()
        if replace_grads:  # a closure that assigns new .grad tensors instead of backward
            for p, gr in zip(ps, torch.autograd.grad(loss, ps), strict=True):
                p.grad = gr
        else:
            loss.backward()
        return loss

    out = []
    for _ in range(3):
        opt.step(closure)
        out.append(torch.cat([p.detach().reshape(-1) for p in ps]).clone())
    return out


def test_one_vector_lbfgs_is_bit_identical_to_torch_lbfgs():
    for dtype in (torch.float32, F64):
        ref = _fit("torch", dtype)
        assert not torch.equal(ref[0], ref[2])  # it moved
        for replace in (False, True):
            got = _fit("one", dtype, replace_grads=replace)
            assert all(torch.equal(a, b) for a, b in zip(ref, got, strict=True)), (dtype, replace)


def test_one_vector_lbfgs_keeps_parameters_and_gradients_as_views():
    model = _mlp(F64)
    ps = list(model.parameters())
    opt = OneVectorLBFGS(ps, max_iter=3)
    flat = opt.param_groups[0]["params"][0]
    xs = torch.rand(20, 2, dtype=F64)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = (model(xs) ** 2).mean()
        loss.backward()
        return loss

    opt.step(closure)
    a = 0
    for p in ps:
        assert p.data_ptr() == flat[a:].data_ptr()  # parameters: views of the flat vector
        assert p.grad.data_ptr() == flat.grad[a:].data_ptr()  # gradients: of its gradient
        a += p.numel()
    # a second optimizer over the same parameters reuses the buffer (no copy)
    assert flatten_params(ps).data_ptr() == flat.data_ptr()


def test_flatten_copies_parameters_that_are_not_consecutive_views():
    base = torch.arange(10.0)
    a, b = torch.nn.Parameter(base[5:]), torch.nn.Parameter(base[:5])  # out of order
    flat = flatten_params([a, b])
    assert torch.equal(flat, torch.tensor([5.0, 6, 7, 8, 9, 0, 1, 2, 3, 4]))
    assert flat.data_ptr() != base.data_ptr()


def test_a_run_on_the_one_vector_lbfgs_equals_one_on_torch_lbfgs(tmp_path, monkeypatch):
    """The default ``lbfgs_impl = "torch"`` path: a 2-step advection1d run (L-BFGS step-0
    fit and steps) logs bit-identical fields and metrics to one on plain torch.optim.LBFGS."""
    import numpy as np

    import insr.stepper
    from insr.config import load_config
    from insr.log import RunLogReader
    from insr.run import execute

    sets = ["case.steps=2", "solver.max_iters=30", "solver.init.max_iters=60"]
    logs = {}
    for name in ("one", "torch"):
        if name == "torch":
            monkeypatch.setattr(
                insr.stepper,
                "OneVectorLBFGS",
                lambda ps, **kw: torch.optim.LBFGS(ps, line_search_fn="strong_wolfe", **kw),
            )
        res = execute(load_config("advection1d", [], sets), tmp_path / name)
        with RunLogReader(res.log_path) as r:
            logs[name] = (
                np.stack([r.row("field", i) for i in range(r.n)]),
                {k: np.asarray(v) for k, v in r.metrics().items() if k != "wall_seconds"},
            )
    (f1, m1), (f2, m2) = logs["one"], logs["torch"]
    assert f1.shape[0] == 3 and np.array_equal(f1, f2)
    assert m1.keys() == m2.keys() and all(np.array_equal(m1[k], m2[k]) for k in m1)


def test_one_vector_lbfgs_refuses_another_line_search():
    """Its step is torch's strong-Wolfe L-BFGS; a fixed-step run would be silently different."""
    import pytest

    with pytest.raises(ValueError, match="strong-Wolfe"):
        OneVectorLBFGS(list(_mlp(F64).parameters()), line_search_fn=None)
