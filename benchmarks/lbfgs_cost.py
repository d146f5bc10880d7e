"""torch's L-BFGS vs the flat-parameter one (insr/lbfgs.py): cost per loss evaluation
inside the real optimizations, and convergence on the shipped L-BFGS cases.

``PYTHONPATH=. nice -n 5 python benchmarks/lbfgs_cost.py [--rounds N] [--steps N]
[--no-runs] [--out benchmarks/results/lbfgs_cost.md]``

1. advection1d defaults, step 1 after the step-0 fit (the fit done once, by torch's
   L-BFGS, so every configuration starts from the same weights): the whole step-1
   optimization divided by its loss evaluations, for each implementation and history;
   L-BFGS's own work per evaluation = that minus one loss + gradient at the start point
   (timed in the same round-robin).
2. The step-0 fit (L-BFGS, 400 iterations at most, Sobolev loss) from the same initial
   weights, likewise.
3. ``insr run`` of each shipped case whose resolved config uses L-BFGS, ``--steps``
   steps, one fresh process per implementation (``solver.lbfgs_impl``).

One torch thread, configurations interleaved round-robin, medians of rounds; the
machine may be shared, so compare ratios within one invocation.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

import insr  # noqa: E402,F401  (OpenMP defaults before torch loads)
from benchmarks.perf import _metric, _step_problems, case_run, path  # noqa: E402
from insr.perf import tune_malloc  # noqa: E402
from insr.stepper import optimize  # noqa: E402

IMPLS = ("torch", "flat")
CASES = ("advection1d", "heat1d", "wave_packet1d")


def _timed_loss(problem, x: torch.Tensor, reps: int = 20) -> Callable[[], float]:
    """Seconds per loss + parameter gradient of ``problem`` on samples ``x``."""

    def one() -> float:
        t0 = time.perf_counter()
        for _ in range(reps):
            problem.field.zero_grad(set_to_none=True)
            problem.loss(x).backward()
        return (time.perf_counter() - t0) / reps

    return one


def step1_setups(histories: tuple[int, ...]) -> tuple[dict[str, Callable[[], tuple]], Callable]:
    """Step-1 optimizations per ``impl hN`` from one start, and the loss + gradient timer."""
    with path("ours"):
        cfg, run, _ = _step_problems("advection1d", ["solver.lbfgs_impl=torch"])
        init_budget, budget = run.budgets()
        eq = run.equation
        optimize(eq.initial_problems()[0], init_budget, torch.Generator().manual_seed(0))
    start = {k: t.clone() for k, t in eq.field.state_dict().items()}

    def setup(impl: str, history: int) -> Callable[[], tuple]:
        b = dataclasses.replace(budget, lbfgs_impl=impl, lbfgs_history=history)

        def one() -> tuple:
            eq.field.load_state_dict(start)
            with path("ours"):
                problem = list(eq.step_problems(1, cfg.case.dt, cfg.case.dt))[0]
                res = optimize(problem, b, torch.Generator().manual_seed(1))
            return res.seconds / res.iterations, res.iterations, res.loss

        return one

    setups = {f"{i} h{h}": setup(i, h) for h in histories for i in IMPLS}
    eq.field.load_state_dict(start)
    problem = list(eq.step_problems(1, cfg.case.dt, cfg.case.dt))[0]
    x = problem.sample(torch.Generator().manual_seed(1))
    timer = _timed_loss(problem, x)

    def loss_cost() -> tuple:
        eq.field.load_state_dict(start)
        return timer(), 0, float("nan")

    return setups, loss_cost


def step0_setups() -> tuple[dict[str, Callable[[], tuple]], Callable]:
    """The advection1d step-0 fit per implementation from one initial state."""
    cfg, run, _ = _step_problems("advection1d", [])
    init_budget, _ = run.budgets()
    eq = run.equation
    start = {k: t.clone() for k, t in eq.field.state_dict().items()}

    def setup(impl: str) -> Callable[[], tuple]:
        b = dataclasses.replace(init_budget, lbfgs_impl=impl)

        def one() -> tuple:
            eq.field.load_state_dict(start)
            res = optimize(eq.initial_problems()[0], b, torch.Generator().manual_seed(0))
            return res.seconds / res.iterations, res.iterations, res.loss

        return one

    eq.field.load_state_dict(start)
    problem = eq.initial_problems()[0]
    timer = _timed_loss(problem, problem.sample(torch.Generator().manual_seed(0)))

    def loss_cost() -> tuple:
        eq.field.load_state_dict(start)
        return timer(), 0, float("nan")

    return {i: setup(i) for i in IMPLS}, loss_cost


def round_robin(fns: dict[str, Callable[[], tuple]], rounds: int) -> dict[str, dict]:
    """Median ms per evaluation (first entry of each result) over ``rounds`` rounds."""
    for fn in fns.values():
        fn()  # warm-up
    out: dict[str, list[tuple]] = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            out[k].append(fn())
    return {
        k: {
            "ms": 1e3 * statistics.median(o[0] for o in v),
            "min": 1e3 * min(o[0] for o in v),
            "evals": v[0][1],
            "loss": v[0][2],
            "same": len({(o[1], o[2]) for o in v}) == 1,  # deterministic across rounds
        }
        for k, v in out.items()
    }


def cost_table(say: Callable[[str], None], res: dict[str, dict], loss: dict) -> None:
    say(
        "| L-BFGS | history | ms/evaluation median (min) | evaluations | final loss "
        "| own ms/evaluation median (min) |"
    )
    say("|---|---|---|---|---|---|")
    for k, r in res.items():
        impl, _, hist = k.partition(" h")
        say(
            f"| {impl} | {hist or '50'} | {r['ms']:.3f} ({r['min']:.3f}) | {r['evals']} | "
            f"{r['loss']:.3e} | {r['ms'] - loss['ms']:.3f} ({r['min'] - loss['min']:.3f}) |"
        )
    say()
    say(
        f"One loss + gradient (same round-robin): {loss['ms']:.3f} ms median, "
        f"{loss['min']:.3f} ms min."
    )
    say()


def ratios(say: Callable[[str], None], label: str, t: dict, f: dict, loss: dict) -> None:
    """torch / flat per evaluation and in L-BFGS's own work, from medians and minima."""
    say(
        f"{label}: torch / flat per evaluation {t['ms'] / f['ms']:.2f}× median, "
        f"{t['min'] / f['min']:.2f}× min; own work "
        f"{(t['ms'] - loss['ms']) / (f['ms'] - loss['ms']):.2f}× median, "
        f"{(t['min'] - loss['min']) / (f['min'] - loss['min']):.2f}× min."
    )


def costs(say: Callable[[str], None], rounds: int) -> None:
    """Sections 1 and 2 of the module docstring."""
    say("## Step 1 of advection1d (defaults, after the step-0 fit)")
    say()
    setups, loss_cost = step1_setups((50, 10, 20))
    res = round_robin({**setups, "loss": loss_cost}, rounds)
    loss = res.pop("loss")
    cost_table(say, res, loss)
    for h in (50, 10, 20):
        t, f = res[f"torch h{h}"], res[f"flat h{h}"]
        ratios(say, f"history {h}", t, f, loss)
        say()
    say(
        "Deterministic over rounds (same evaluations and loss every round): "
        + ", ".join(f"{k} {r['same']}" for k, r in res.items())
    )
    say()

    say("## Step-0 fit of advection1d (L-BFGS, Sobolev loss, 400 iterations at most)")
    say()
    setups0, loss0 = step0_setups()
    res0 = round_robin({**setups0, "loss": loss0}, max(3, rounds // 2))
    loss_0 = res0.pop("loss")
    cost_table(say, res0, loss_0)
    ratios(say, "step-0 fit", res0["torch"], res0["flat"], loss_0)
    say()


def runs(say: Callable[[str], None], cases: list[str], steps: int, seeds: list[int]) -> None:
    """Section 3 of the module docstring."""
    say(
        f"## Case runs, {steps} steps, fresh process per implementation and seed "
        f"(run.seed = {', '.join(map(str, seeds))})"
    )
    say()
    say(
        "| case | L-BFGS | seed | s/step (1..) | step-0 evaluations | step-0 loss | "
        "evaluations/step | step-10 grad. rel. err. autodiff | max\\|u-u*\\| last | "
        "last-step loss |"
    )
    say("|---|---|---|---|---|---|---|---|---|---|")
    summary: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for case in cases:
        for seed in seeds:
            for impl in IMPLS:
                sets = [f"solver.lbfgs_impl={impl}", f"run.seed={seed}"]
                r = case_run("ours", case, steps, sets)
                g10 = _metric(r, "gradient_rel_error_autodiff", 10)
                err = _metric(r, "field_max_error", -1)
                summary.setdefault((case, impl), []).append((g10, err))
                say(
                    f"| {case} | {impl} | {seed} | {r['seconds_per_step']:.3f} | "
                    f"{r['iterations_step0']:.0f} | {_metric(r, 'loss', 0):.3e} | "
                    f"{r['iterations_per_step']:.1f} | {100 * g10:.3f} % | {err:.3e} | "
                    f"{_metric(r, 'loss', -1):.3e} |"
                )
    say()
    say("| case | L-BFGS | mean step-10 grad. rel. err. | mean max\\|u-u*\\| last |")
    say("|---|---|---|---|")
    for (case, impl), v in summary.items():
        say(
            f"| {case} | {impl} | {100 * statistics.mean(x[0] for x in v):.3f} % | "
            f"{statistics.mean(x[1] for x in v):.3e} |"
        )
    say()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--no-runs", action="store_true", help="skip the case runs")
    ap.add_argument("--no-cost", action="store_true", help="skip the cost tables")
    ap.add_argument("--cases", nargs="+", default=list(CASES), help="cases of the runs")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="run.seed per run")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    tune_malloc()  # the allocator setting of a run (insr/perf.py)
    lines: list[str] = []

    def say(s: str = "") -> None:
        print(s, flush=True)
        lines.append(s)

    say("# benchmarks/lbfgs_cost.py: torch's L-BFGS vs the flat one")
    say()
    say(
        "Command: `PYTHONPATH=. nice -n 5 python benchmarks/lbfgs_cost.py "
        + " ".join(argv or sys.argv[1:])
        + "`"
    )
    say(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, torch {torch.__version__}, "
        f"one thread, load average at start {os.getloadavg()[0]:.1f} (compare ratios)."
    )
    say()

    if not a.no_cost:
        costs(say, a.rounds)
    if not a.no_runs:
        runs(say, a.cases, a.steps, a.seeds)
    if a.out is not None:
        a.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
