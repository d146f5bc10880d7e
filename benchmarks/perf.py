"""Ours vs the path before issue 15 vs the hand-written limit, in one invocation.

``PYTHONPATH=. nice -n 10 python benchmarks/perf.py [--steps N] [--full] [--no-compile]
[--ref-iters N] [--out benchmarks/results/perf.md]``

Code paths (switched per call, so alternatives can be interleaved in one process):

- **ours**: the defaults -- the Padé loss and its parameter gradient in one hand-written
  pass (:class:`insr.fields.mlp.SecondOrderObjective` with
  :func:`insr.equations.advection.pade_objective`, boundary rows in the same sweep), the
  fluid Laplacian by the closed-form second-order sweep with its hand-written backward
  (:class:`insr.fields.mlp.SecondOrderMLP`), the previous step's terms once per sample
  set (:class:`insr.equations.base.PerSampleSet`), ``torch.optim.LBFGS`` on the
  parameters viewed as one vector (:class:`insr.lbfgs.OneVectorLBFGS`), and
  ``run.threads = 0`` meaning one thread below 1 M parameters
  (:func:`insr.run.build.auto_threads`).
- **before**: the same code with those switched off -- autograd through the closed-form
  sweep (``ActivationMLP.second_order_backward = False``), no closed-form Laplacian hook
  (the Laplacian is autograd's Hessian diagonal of the closed-form Jacobian, third-order
  backward), the previous field re-evaluated on every loss evaluation
  (``PerSampleSet.enabled = False``), autograd over the loss terms and a separate
  boundary forward (``Advection.fused_objective = fuse_boundary = False``) and the wall
  gradient taken with a graph to ``x`` (autograd through the first-order sweep), and the
  grid fields' rows and weights recomputed on every call (``GridField.cell_cache =
  False``), all cores where a case leaves ``run.threads = 0`` (case runs), and
  ``torch.optim.LBFGS`` on the separate parameters (ours: on one flat
  vector, :class:`insr.lbfgs.OneVectorLBFGS`, bit-identical iterates), i.e. main before
  this work -- except for code both paths share: the second
  round's 1D sweep (stacked streams, :func:`insr.fields.mlp._second_sweep_1d`), the
  ``d >= 2`` sweeps that record no graph (stacked streams,
  :mod:`insr.fields.stacked`; ``before`` takes autograd through the per-axis sweep
  instead, so only its no-graph calls share it) and the 1D grid head run on both, so
  ``before`` is faster than the original main and ours / before understates the gain.
- **ours, compiled** (default loss, L-BFGS and advection1d runs): ours with the fused
  Padé pass under ``torch.compile`` -- what a default run of >= 100 steps takes
  (``run.compile = "auto"``, :mod:`insr.run.compiling`: the default 240-step advection1d
  compiles; a 20-step run does not), and ``run.compile = true`` at any length (compile
  time inside the runs' step 0 and 1). **ours, eager**: ``run.compile = false``, what
  a run of < 100 steps takes.
- **limit** (default loss only): the same loss and gradient written out by hand -- the
  forward sweep, the loss's gradient w.r.t. ``(u, J, v^T H v)`` and
  :func:`insr.fields.mlp.second_sweep_backward`, no autograd at all -- eager and under
  ``torch.compile`` (compile time reported separately; not paid by a run).

- **reference** (advection1d run only): the original INSR recipe, capped and extrapolated
  (``--ref-iters``, :func:`reference_recipe`).

Timings: interleaved round-robin, median of rounds, one torch thread; case runs are
separate processes (``benchmarks.case_run``). The machine is shared: compare ratios
within one invocation, not absolute times.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

import insr  # noqa: E402,F401  (OpenMP defaults before torch loads)
from benchmarks.common import config, interleaved  # noqa: E402
from insr import stepper  # noqa: E402
from insr.equations import advection, fluid  # noqa: E402
from insr.equations.base import PerSampleSet  # noqa: E402
from insr.fields.gridbase import GridField  # noqa: E402
from insr.fields.mlp import ActivationMLP, _second_sweep, second_sweep_backward  # noqa: E402
from insr.lbfgs import OneVectorLBFGS  # noqa: E402
from insr.perf import MALLOC_ENV, machine, tune_malloc  # noqa: E402
from insr.run import Run  # noqa: E402
from insr.stepper import optimize  # noqa: E402

PATHS = ("ours", "before")
OURS_COMPILED = (
    "ours, compiled: the same pass under torch.compile (run.compile auto: the default 240-step run)"
)
OURS_LOSS = (
    "ours, eager: loss + gradient in one hand-written pass (SecondOrderObjective), "
    "previous terms once per sample set, boundary rows in the sweep (runs of < 100 steps)"
)
_CLOSED_LAPLACIAN = ActivationMLP.closed_laplacian
_GRAD_P = fluid._grad_p


def _grad_p_before(f, x: torch.Tensor) -> torch.Tensor:
    """The wall gradient as on main before: a graph to ``x`` (autograd through the sweep)."""
    from insr.derivatives import operators

    return operators.jacobian(f, x.detach().requires_grad_(True), create_graph=True)[1][:, 0, :]


def set_path(name: str) -> None:
    """Switch every fast path of issue 15 on (``ours``) or off (``before``)."""
    on = name == "ours"
    ActivationMLP.second_order_backward = on
    ActivationMLP.closed_laplacian = _CLOSED_LAPLACIAN if on else None  # type: ignore[assignment,method-assign]
    PerSampleSet.enabled = on
    advection.Advection.fuse_boundary = on
    advection.Advection.fused_objective = on
    fluid._grad_p = _GRAD_P if on else _grad_p_before
    GridField.cell_cache = on
    stepper.OneVectorLBFGS = OneVectorLBFGS if on else _torch_lbfgs  # type: ignore[assignment,misc]


def _torch_lbfgs(params: list[torch.Tensor], **kw: object) -> torch.optim.LBFGS:
    """torch.optim.LBFGS on the separate parameters, as main before (the same iterates
    as :class:`insr.lbfgs.OneVectorLBFGS`, bit for bit)."""
    return torch.optim.LBFGS(params, line_search_fn="strong_wolfe", **kw)  # type: ignore[arg-type]


@contextlib.contextmanager
def path(name: str) -> Iterator[None]:
    set_path(name)
    try:
        yield
    finally:
        set_path("ours")


# ------------------------------------------------------------------ loss evaluations
def _step_problems(case: str, sets: list[str]):
    cfg = config(case, sets)
    torch.manual_seed(0)
    run = Run(cfg)
    return cfg, run, list(run.equation.step_problems(1, cfg.case.dt, cfg.case.dt))


def loss_fn(
    case: str, name: str, sets: list[str] | None = None, stage: int = 0, fresh: bool = False
) -> Callable:
    """One loss evaluation + parameter gradient of sub-problem ``stage`` of step 1 on one
    fixed sample set (as inside L-BFGS), on code path ``name``; ``fresh``: the same
    points as a new tensor on every call (as Adam's resampling: no per-sample-set reuse)."""
    with path(name):
        _, _, problems = _step_problems(case, sets or [])
    problem = problems[stage]
    x = problem.sample(torch.Generator().manual_seed(0))

    def one() -> None:
        set_path(name)
        problem.field.zero_grad(set_to_none=True)
        problem.loss(x.clone() if fresh else x).backward()

    return one


def compiled_loss_fn() -> Callable:
    """:func:`loss_fn` of ours with ``run.compile = true`` (the fused Padé pass under
    ``torch.compile``); compiled by the first call (the warm-up of :func:`interleaved`)."""
    one = loss_fn("advection1d", "ours")

    def call() -> None:
        ActivationMLP.compiled = True
        try:
            one()
        finally:
            ActivationMLP.compiled = False

    return call


def limit_fn(compiled: bool) -> tuple[Callable, float, float]:
    """The default advection1d Padé loss and its gradient by hand (no autograd); returns
    ``(call, compile seconds, max relative difference of its gradient vs ours)``."""
    cfg, run, problems = _step_problems("advection1d", [])
    eq, problem = run.equation, problems[0]
    field, prev = eq.field, _frozen(eq.field)
    x = problem.sample(torch.Generator().manual_seed(0))
    n, dt = x.shape[0], cfg.case.dt
    half, twelfth, wb, g = 0.5 * dt, dt * dt / 12.0, eq.boundary_weight, eq.boundary_value
    lo, hi = cfg.case.domain[0]
    x_all = torch.cat([x, torch.tensor([[lo], [hi]], dtype=x.dtype)])
    v = torch.cat([eq.case.velocity(x, dt), torch.zeros(2, 1, dtype=x.dtype)])
    with torch.no_grad():
        u_p, j_p, dd_p = prev.directional_derivatives(x, v[:n])
        rest = half * (j_p[:, :, 0] * v[:n]) - u_p - twelfth * dd_p
    h0, scale, acts = field.to_symmetric(x_all), field._sym_scale(x_all), field.acts
    params = [p for p in field._flat_params()]

    def loss_and_grads(h0, scale, v, rest, *ps):
        u, jac, dd, saved = _second_sweep(h0, scale, v, acts, ps, keep=True)
        du = (jac * v.unsqueeze(1)).sum(-1)
        r = u[:n] + half * du[:n] + twelfth * dd[:n, 0] + rest
        ub = u[n:] - g
        loss = (r * r).mean() + wb * (ub * ub).mean()
        gr = (2.0 / r.numel()) * r
        gu = torch.cat([gr, (2.0 * wb / ub.numel()) * ub])
        zero = torch.zeros_like(ub)
        gjac = torch.cat([half * gr, zero]).unsqueeze(-1) * v.unsqueeze(1)
        gdd = torch.cat([twelfth * gr, zero]).unsqueeze(1)
        return loss, second_sweep_backward(saved, ps, scale, v, acts, gu, gjac, gdd)

    fn = torch.compile(loss_and_grads, dynamic=False) if compiled else loss_and_grads
    t0 = time.perf_counter()
    with torch.no_grad():
        _, grads = fn(h0, scale, v, rest, *params)
    compile_s = time.perf_counter() - t0 if compiled else 0.0
    field.zero_grad(set_to_none=True)
    problem.loss(x).backward()
    diff = max(
        float((a - p.grad).abs().max() / p.grad.abs().max())
        for a, p in zip(grads, params, strict=True)
    )

    def one() -> None:
        with torch.no_grad():
            _, gs = fn(h0, scale, v, rest, *params)
        for p, gp in zip(params, gs, strict=True):
            p.grad = gp

    return one, compile_s, diff


def _frozen(field):
    from insr.equations.base import frozen_copy

    return frozen_copy(field)


# ------------------------------------------------------------------ L-BFGS
def lbfgs_setup(
    name: str, history: int | None = None, compiled: bool = False, impl: str | None = None
) -> Callable[[], tuple]:
    """Step-1 L-BFGS on the default advection1d budget after the step-0 fit, on code path
    ``name`` (``compiled``: the fused pass under torch.compile, as a default 240-step
    run); returns a call that resets the field and runs it, giving
    ``(seconds per loss evaluation, evaluations, final loss)``."""
    with path(name):
        cfg, run, _ = _step_problems("advection1d", [])
        init_budget, budget = run.budgets()
        eq = run.equation
        optimize(eq.initial_problems()[0], init_budget, torch.Generator().manual_seed(0))
    if history is not None:
        budget.lbfgs_history = history
    if impl is not None:  # solver.lbfgs_impl
        budget.lbfgs_impl = impl
    start = {k: t.clone() for k, t in eq.field.state_dict().items()}

    def one() -> tuple:
        eq.field.load_state_dict(start)
        with path(name):
            problem = list(eq.step_problems(1, cfg.case.dt, cfg.case.dt))[0]
            eq.field.compiled = compiled
            try:
                res = optimize(problem, budget, torch.Generator().manual_seed(1))
            finally:
                eq.field.compiled = False
        return res.seconds / res.iterations, res.iterations, res.loss

    return one


def lbfgs_interleaved(setups: dict[str, Callable[[], tuple]], rounds: int) -> dict:
    """Median ms per evaluation of each setup, run round-robin."""
    out: dict[str, list] = {k: [] for k in setups}
    for _ in range(rounds):
        for k, fn in setups.items():
            out[k].append(fn())
    return {
        k: {
            "ms_per_eval": 1e3 * statistics.median(o[0] for o in v),
            "evaluations": v[0][1],
            "loss": v[0][2],
        }
        for k, v in out.items()
    }


# ------------------------------------------------------------------ case runs
def case_run(name: str, case: str, steps: int, sets: list[str]) -> dict:
    """``benchmarks.case_run`` in a fresh process on code path ``name``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if name == "before":  # main before issue 15: no torch.compile, glibc's malloc defaults
        sets = ["run.compile=false", *sets]
        env[MALLOC_ENV] = "system"
        if config(case, sets).run.threads == 0:  # and run.threads = 0 meant all cores
            sets = [f"run.threads={os.cpu_count() or 1}", *sets]
    cmd = [sys.executable, "-m", "benchmarks.perf", "--case-run", name, case, str(steps), *sets]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"benchmark run failed: {' '.join(cmd)}\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _metric(r: dict, key: str, row: int) -> float:
    vals = r["metrics"].get(key)
    return float(vals[row]) if vals is not None and len(vals) > abs(row) else float("nan")


def reference_recipe(ours: dict, iters: int, say: Callable[[str], None]) -> None:
    """The original INSR recipe (:data:`benchmarks.run.REFERENCE`: double-backward
    autodiff, Adam lr 1e-4, 5,000 resampled points, midpoint rule) for 2 steps capped at
    ``iters`` iterations (step 0 too), its ms/iteration extrapolated to the recipe's
    20,000 (step 0) and 5,000 (per step) iterations."""
    from benchmarks.run import REF_ITERS_STEP, REF_ITERS_STEP0, REFERENCE

    sets = [*REFERENCE, f"solver.max_iters={iters}", f"solver.init.max_iters={iters}"]
    ref = case_run("ours", "advection1d", 2, sets)
    ms = 1e3 * ref["total_seconds"] / (ref["iterations_step0"] + 2 * iters)
    per_step = 1e-3 * ms * REF_ITERS_STEP
    whole = 1e-3 * ms * (REF_ITERS_STEP0 + 240 * REF_ITERS_STEP)
    say(
        f"Original INSR recipe, same invocation (2 steps capped at {iters} iterations, "
        f"{ms:.2f} ms/iteration, **extrapolated** to {REF_ITERS_STEP0:,} + "
        f"{REF_ITERS_STEP:,}/step iterations): {per_step:.1f} s/step, {whole / 3600:.1f} h "
        f"for 240 steps; ours / reference per step: "
        f"{ours['seconds_per_step'] / per_step:.4f}× (1/{per_step / ours['seconds_per_step']:.0f})."
        " Accuracy of the full recipe (PERFORMANCE-NOTES, not re-run): step-10 gradient rel."
        " error 0.91 %, max|u-u*| 2.5e-3."
    )
    say()


# ------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20, help="advection1d steps per path")
    ap.add_argument("--full", action="store_true", help="also run ours for all 240 steps")
    ap.add_argument("--no-compile", action="store_true", help="skip the compiled limit")
    ap.add_argument(
        "--ref-iters",
        type=int,
        default=500,
        help="iterations per step of the capped original INSR recipe (0: skip it)",
    )
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--out", type=Path, default=None, help="also write the report here")
    ap.add_argument("--case-run", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.case_run:
        from benchmarks.case_run import run_case

        name, case, steps, *sets = a.case_run
        set_path(name)
        print(json.dumps(run_case(case, int(steps), sets)))
        return 0

    torch.set_num_threads(1)
    # the in-process loss timings of every path run with a run's allocator setting
    malloc = tune_malloc()
    lines: list[str] = []

    def say(s: str = "") -> None:
        print(s, flush=True)
        lines.append(s)

    say("# benchmarks/perf.py: ours vs before vs the hand-written limit")
    say()
    say(
        "Command: `PYTHONPATH=. nice -n 10 python benchmarks/perf.py "
        + " ".join(argv or sys.argv[1:])
        + "`"
    )
    load = os.getloadavg()[0]
    busy = (
        "(**contended machine**: absolute times are inflated; compare ratios)"
        if load > 1.0
        else "(the 1-minute average also counts jobs that just ended; the end figure below)"
    )
    say(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, torch {torch.__version__}, "
        f"{os.cpu_count()} CPUs, {machine()}, load average at start {load:.1f} {busy}."
    )
    say()
    say(
        f"Allocator in this process: {malloc} (insr.perf.tune_malloc; the interleaved loss "
        "timings of every path share it); case runs: ours tuned, before with "
        "INSR_MALLOC=system."
    )
    say()

    # 1. default loss
    fns = {
        "before: autograd through the closed-form sweep, previous field every call, "
        "separate boundary pass": loss_fn("advection1d", "before"),
        OURS_LOSS: loss_fn("advection1d", "ours"),
    }
    if not a.no_compile:
        fns[OURS_COMPILED] = compiled_loss_fn()
    eager, _, diff_e = limit_fn(compiled=False)
    fns["limit, eager: loss + gradient by hand, no autograd"] = eager
    compile_s = diff_c = float("nan")
    if not a.no_compile:
        try:
            comp, compile_s, diff_c = limit_fn(compiled=True)
            fns["limit: the same under torch.compile"] = comp
        except Exception as e:  # noqa: BLE001 - report, keep the rest of the benchmark
            say(f"(torch.compile of the limit failed: {type(e).__name__}: {str(e)[:200]})")
    ms = {k: 1e3 * v for k, v in interleaved(fns, rounds=a.rounds, reps=30).items()}
    base = ms[next(iter(ms))]
    lim = min(v for k, v in ms.items() if k.startswith("limit"))
    say("## Default loss: one evaluation + parameter gradient")
    say()
    say("advection1d defaults (SIREN 2×20, Padé(2,2), 1,000 samples held fixed as in")
    say("L-BFGS, Dirichlet penalty), step 1, one thread, interleaved.")
    say()
    say("| code path | ms | vs before | vs fastest limit |")
    say("|---|---|---|---|")
    for k, v in ms.items():
        say(f"| {k} | {v:.3f} | {v / base:.2f}× | {v / lim:.2f}× |")
    say()
    say(
        f"Limit gradients vs ours: max relative difference {diff_e:.1e} (eager), "
        f"{diff_c:.1e} (compiled); compile time {compile_s:.1f} s (not counted above; "
        "less when torch's inductor cache holds an earlier compile)."
    )
    say()

    # 2. L-BFGS
    say("## L-BFGS per loss evaluation (step 1 after the step-0 fit, default budget)")
    say()
    say("advection1d defaults; the whole step-1 optimization (loss, backward, L-BFGS's own")
    say("work) divided by its loss evaluations; configurations run round-robin, median.")
    say()
    say("| code path | lbfgs_history | ms/evaluation | evaluations | final loss |")
    say("|---|---|---|---|---|")
    setups = {"ours, eager": lbfgs_setup("ours"), "before": lbfgs_setup("before")}
    setups["ours, eager, flat L-BFGS (solver.lbfgs_impl = flat)"] = lbfgs_setup("ours", impl="flat")
    if not a.no_compile:
        setups["ours, compiled (the default 240-step run)"] = lbfgs_setup("ours", compiled=True)
        setups["ours, compiled, flat L-BFGS"] = lbfgs_setup("ours", compiled=True, impl="flat")
    for h in (10, 20, 100):
        setups[f"ours, eager; history {h}"] = lbfgs_setup("ours", history=h)
    lb = lbfgs_interleaved(setups, rounds=max(3, a.rounds // 2))
    for k, r in lb.items():
        name, hist = k.split("; history ") if "; history " in k else (k, "50 (default)")
        say(f"| {name} | {hist} | {r['ms_per_eval']:.3f} | {r['evaluations']} | {r['loss']:.3e} |")
    say()
    before_ms = lb["before"]["ms_per_eval"]
    say(
        f"ours, eager / before per evaluation: {lb['ours, eager']['ms_per_eval'] / before_ms:.2f}×"
        + (
            "; ours, compiled / before: "
            f"{lb['ours, compiled (the default 240-step run)']['ms_per_eval'] / before_ms:.2f}×"
            if not a.no_compile
            else ""
        )
    )
    say()
    ours_lb = lb["ours, eager"]["ms_per_eval"]
    own = ours_lb - ms[OURS_LOSS]
    say(
        f"L-BFGS's own work per evaluation (ours, eager, default history): {own:.3f} ms = "
        "ms/evaluation above minus one loss + gradient (first table) = "
        f"{100 * own / ours_lb:.0f} % of an evaluation; an L-BFGS that "
        f"cost nothing would make an evaluation {ours_lb / ms[OURS_LOSS]:.2f}× "
        "cheaper (the bar for replacing torch's L-BFGS by a flat-parameter one is 1.5×)."
    )
    say()

    # 3. advection1d runs
    say(f"## `insr run advection1d` (defaults), {a.steps} steps per path, fresh processes")
    say()
    # a run of < 100 steps does not compile on "auto": "ours" here is the eager path
    runs = {name: case_run(name, "advection1d", a.steps, []) for name in PATHS}
    if not a.no_compile:
        runs["ours, run.compile = true"] = case_run(
            "ours", "advection1d", a.steps, ["run.compile=true"]
        )
    say(
        "| code path | step 0 s | s/step (1..) | wall s | extrapolated 240 steps s "
        "| step-10 grad. rel. err. autodiff / fd | max\\|u-u*\\| last |"
    )
    say("|---|---|---|---|---|---|---|")
    for name, r in runs.items():
        extra = r["step0_seconds"] + 240 * r["seconds_per_step"]
        g10 = _metric(r, "gradient_rel_error_fd", 10)
        a10 = _metric(r, "gradient_rel_error_autodiff", 10)
        say(
            f"| {name} | {r['step0_seconds']:.2f} | {r['seconds_per_step']:.3f} | "
            f"{r['total_seconds']:.1f} | {extra:.0f} (extrapolated) | "
            f"{100 * a10:.2f} % / {100 * g10:.2f} % | "
            f"{_metric(r, 'field_max_error', -1):.4f} |"
        )
    say()
    say(
        "ours / before: "
        f"{runs['ours']['seconds_per_step'] / runs['before']['seconds_per_step']:.2f}× "
        "per step (steps 1..), "
        f"{runs['ours']['total_seconds'] / runs['before']['total_seconds']:.2f}× wall."
    )
    say()
    rc = runs.get("ours, run.compile = true")
    if rc is not None:
        wc, wo = rc["metrics"]["wall_seconds"], runs["ours"]["metrics"]["wall_seconds"]
        # steps 2 .. second to last: after both compiles (step 0: the fit's sweep, step 1:
        # the step objective), before the last step's end-of-run work
        later_c = statistics.median(wc[2:-1] if len(wc) > 3 else wc[2:])
        later_o = statistics.median(wo[2:-1] if len(wo) > 3 else wo[2:])
        extra = (wc[0] + wc[1]) - (wo[0] + wo[1])
        gain = later_o - later_c
        say(
            f"run.compile = true: steps 0 and 1 (where it compiles) {wc[0] + wc[1]:.1f} s vs "
            f"{wo[0] + wo[1]:.1f} s; later steps (median of 2 .. second to last) "
            f"{later_c:.3f} vs {later_o:.3f} s/step = {later_c / later_o:.2f}×; the compile "
            f"pays after about {extra / gain if gain > 0 else float('inf'):.0f} steps "
            "(inductor's on-disk cache shortens a repeated compile)."
        )
        say()
    if a.ref_iters > 0:
        reference_recipe(runs["ours"], a.ref_iters, say)
    full = (
        ("ours (defaults: run.compile auto, compiled at 240 steps)", "ours", []),
        ("ours, eager (run.compile = false)", "ours", ["run.compile=false"]),
        ("before", "before", []),
    )
    walls: dict[str, float] = {}
    for label, name, sets in full if a.full else ():
        r = case_run(name, "advection1d", 240, sets)
        walls[label] = r["total_seconds"]
        say(
            f"{label}, all 240 steps (measured): {r['total_seconds']:.1f} s in-process wall, "
            "step-10 gradient rel. error autodiff / fd "
            f"{100 * _metric(r, 'gradient_rel_error_autodiff', 10):.2f} % / "
            f"{100 * _metric(r, 'gradient_rel_error_fd', 10):.2f} %, "
            f"last-step max|u-u*| {_metric(r, 'field_max_error', -1):.4f}, "
            "last-step gradient rel. error autodiff / fd "
            f"{100 * _metric(r, 'gradient_rel_error_autodiff', -1):.2f} % / "
            f"{100 * _metric(r, 'gradient_rel_error_fd', -1):.2f} %."
        )
        say()
    if len(walls) == len(full):
        (w_def, w_eager, w_before) = walls.values()
        say(
            f"240 steps, measured: defaults / before {w_def / w_before:.2f}×, eager / before "
            f"{w_eager / w_before:.2f}×, defaults / eager {w_def / w_eager:.2f}×."
        )
        say()

    # 4. Taylor-Green
    say("## Taylor–Green (defaults): per-stage loss evaluation + gradient, step 1")
    say()
    say("On one fixed sample set, so the once-per-sample-set terms are reused; the default")
    say("Adam resamples every iteration (the cache does not apply), so a whole step gains")
    say("less: see the step table below (fresh processes, step 1 of a run).")
    say()
    stages = ("advect", "pressure", "project")
    tg = {
        f"{n} {s}": loss_fn("taylor_green", n, stage=i) for i, s in enumerate(stages) for n in PATHS
    }
    tms = {k: 1e3 * v for k, v in interleaved(tg, rounds=max(3, a.rounds // 2), reps=10).items()}
    say("| stage | before ms | ours ms | ours / before |")
    say("|---|---|---|---|")
    for s in stages:
        b, o = tms[f"before {s}"], tms[f"ours {s}"]
        say(f"| {s} | {b:.2f} | {o:.2f} | {o / b:.2f}× |")
    tb, to = (sum(tms[f"{n} {s}"] for s in stages) for n in ("before", "ours"))
    say(f"| sum of one evaluation per stage | {tb:.2f} | {to:.2f} | {to / tb:.2f}× |")
    say()
    tgr = {name: case_run(name, "taylor_green", 1, []) for name in PATHS}
    cores = os.cpu_count() or 1
    all_cores = f"ours, run.threads = {cores} (all cores, as before)"
    tgr[all_cores] = case_run("ours", "taylor_green", 1, [f"run.threads={cores}"])
    tgr["before, run.threads = 1"] = case_run("before", "taylor_green", 1, ["run.threads=1"])
    say("| code path | torch threads | step 1 wall s | iterations | relative velocity error |")
    say("|---|---|---|---|---|")
    for name, r in tgr.items():
        err = _metric(r, "velocity_rel_error", -1)
        say(
            f"| {name} | {r['threads']} | {r['metrics']['wall_seconds'][1]:.2f} | "
            f"{r['iterations_per_step']:.0f} | {err:.4f} |"
        )
    ours, before, same = (tgr[n]["metrics"]["wall_seconds"][1] for n in (*PATHS, all_cores))
    say()
    say(
        f"Taylor–Green step 1, ours / before: {ours / before:.2f}× (each on its defaults: ours "
        f"run.threads auto = 1 thread for this SIREN, before all cores); at equal threads "
        f"({cores}): {same / before:.2f}×."
    )
    say()

    # 5. hash grid vs SIREN
    steps = min(a.steps, 10)
    hg = case_run("ours", "advection1d", steps, ["representation.kind=hashgrid"])
    si = runs["ours"]
    say(f"## Hash grid vs SIREN, advection1d, ours, {steps} steps (hash grid preset)")
    say()
    say(
        "| representation | s/step | loss evaluations/step | ms/evaluation "
        "| grad. rel. err. (autodiff), last step |"
    )
    say("|---|---|---|---|---|")
    for label, r, row in (
        ("hash grid (its preset: Adam)", hg, -1),
        ("SIREN (L-BFGS)", si, steps - 1),
    ):
        per = 1e3 * r["seconds_per_step"] / max(r["iterations_per_step"], 1.0)
        say(
            f"| {label} | {r['seconds_per_step']:.3f} | {r['iterations_per_step']:.0f} | "
            f"{per:.2f} | {100 * _metric(r, 'gradient_rel_error_autodiff', row):.2f} % |"
        )
    say()
    say(f"hash grid / SIREN per step: {hg['seconds_per_step'] / si['seconds_per_step']:.2f}×")
    say()
    say("One loss evaluation + parameter gradient at equal samples (1,000, step 1, one")
    say("thread, interleaved): the hash grid preset's loss (midpoint rule, closed-form")
    say("Jacobian) with `solver.samples=1000` vs the SIREN default (Padé). `fixed`: the same")
    say("sample tensor every call (L-BFGS; rows and weights once per sample set); `fresh`:")
    say("a new tensor every call (Adam's resampling: recomputed every call).")
    say()
    hs = ["representation.kind=hashgrid", "solver.samples=1000"]
    he = {
        "SIREN (default Padé loss)": loss_fn("advection1d", "ours"),
        "hash grid, fixed, ours": loss_fn("advection1d", "ours", hs),
        "hash grid, fixed, before (no per-sample-set cache)": loss_fn("advection1d", "before", hs),
        "hash grid, fresh, ours": loss_fn("advection1d", "ours", hs, fresh=True),
    }
    hms = {k: 1e3 * v for k, v in interleaved(he, rounds=a.rounds, reps=10).items()}
    sms = hms["SIREN (default Padé loss)"]
    say("| code path | ms | vs SIREN |")
    say("|---|---|---|")
    for k, v in hms.items():
        say(f"| {k} | {v:.3f} | {v / sms:.2f}× |")
    say()
    say(f"\nLoad average at the end: {os.getloadavg()[0]:.1f}")
    if a.out is not None:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
