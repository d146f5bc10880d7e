"""Gradient remedies on advection1d: final-step gradient error and noise, with wall time.

Runs the case once per configuration (same seed, same budgets) and prints one table:

    loss strategy / remedy | representation | grad rel. error | grad noise | max|u-u*| | wall s

The gradient error and noise are those of the field's own derivative (the logged
``autodiff`` gradient) at the final step against the exact solution, so the rows compare
*fields*, not derivative estimators. Then it times ``closed`` vs ``autodiff`` inside the
advection loss (forward + backward + Adam step) side by side, interleaved, in one run.

    PYTHONPATH=. python benchmarks/gradient_strategies.py --steps 3 --init-iters 1000 --iters 300

Timings on a shared machine are contended: compare rows of one run, not across runs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from insr.config import load_config
from insr.run import Run, execute
from insr.stepper import Budget, optimize

CONFIGS: dict[str, tuple[str, list[str]]] = {
    "autodiff": ("siren", ["derivative.loss=autodiff"]),
    "fd": ("siren", ["derivative.loss=fd"]),
    "average": ("siren", ["derivative.loss=average", "derivative.h=1e-2"]),
    "coarse_to_fine": (
        "hashgrid",
        [
            "representation.kind=hashgrid",
            "derivative.loss=coarse_to_fine",
            "derivative.coarse_to_fine_unit=iterations",
        ],
    ),
    "hashgrid autodiff": ("hashgrid", ["representation.kind=hashgrid"]),
    "sobolev init": ("siren", ["derivative.sobolev_weight=1e-2"]),
    "gradient supervision": ("siren", ["derivative.gradient_supervision=1e-2"]),
}


def run_one(name: str, args: argparse.Namespace, out: Path) -> dict[str, float]:
    _, sets = CONFIGS[name]
    sets = [
        # the remedies are compared on the midpoint rule without Sobolev init (the case's
        # defaults, pade4 + sobolev_weight, need exact derivatives / are a remedy themselves)
        "solver.time_scheme=midpoint",
        "solver.substeps=3",
        "derivative.sobolev_weight=0",
        *sets,
        f"case.steps={args.steps}",
        f"solver.init.max_iters={args.init_iters}",
        f"solver.max_iters={args.iters}",
        "derivative.log=['autodiff']",
        f"eval.resolution={args.resolution}",
        f"run.threads={args.threads}",
    ]
    if name == "coarse_to_fine":
        # all 16 levels reached after the step-0 fit and 1/4 of the stepping budget
        total = args.init_iters + max(1, args.steps * args.iters // 4)
        sets.append(f"derivative.coarse_to_fine_interval={max(1, total // 12)}")
    cfg = load_config("advection1d", sets=sets)
    t0 = time.perf_counter()
    res = execute(cfg, out / name.replace(" ", "_"), overwrite=True)
    m = dict(res.last_metrics)
    m["wall"] = time.perf_counter() - t0
    return m


def time_closed_vs_autodiff(args: argparse.Namespace) -> dict[str, float]:
    """ms per advection iteration (loss + backward + Adam), strategies interleaved."""
    per = {"autodiff": [], "closed": []}
    runs = {}
    for s in per:
        cfg = load_config(
            "advection1d",
            # eager both: run.compile auto would compile only the closed sweep (autodiff
            # needs a double backward), and the rows would time different code paths
            sets=[
                f"derivative.loss={s}",
                "eval.resolution=11",
                f"run.threads={args.threads}",
                "run.compile=false",
            ],
        )
        run = Run(cfg)
        (problem,) = run.equation.step_problems(1, cfg.case.dt, cfg.case.dt)
        runs[s] = problem
    budget = Budget(lr=1e-4, max_iters=args.time_iters, rel_tol=0.0)
    for problem in runs.values():  # warm-up (allocator, lazy init)
        optimize(problem, Budget(lr=1e-4, max_iters=5, rel_tol=0.0), torch.Generator())
    for _ in range(args.repeats):
        for s, problem in runs.items():
            gen = torch.Generator().manual_seed(0)
            t0 = time.perf_counter()
            optimize(problem, budget, gen)
            per[s].append((time.perf_counter() - t0) / args.time_iters * 1e3)
    samples = {"samples": float(cfg.solver.samples)}
    return {s: min(v) for s, v in per.items()} | {f"{s}_all": v for s, v in per.items()} | samples


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--steps", type=int, default=5, help="time steps after the initial fit")
    p.add_argument("--init-iters", type=int, default=2000, help="step-0 fit iterations (max)")
    p.add_argument("--iters", type=int, default=500, help="iterations per step (max)")
    p.add_argument("--resolution", type=int, default=401, help="evaluation grid nodes")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = all)")
    p.add_argument("--only", nargs="*", default=None, help=f"subset of {list(CONFIGS)}")
    p.add_argument("--time-iters", type=int, default=100, help="iterations per timing sample")
    p.add_argument("--repeats", type=int, default=3, help="timing samples per strategy")
    p.add_argument("--out", type=Path, default=None, help="keep the run logs here")
    args = p.parse_args()
    console = Console()
    names = args.only or list(CONFIGS)
    out = args.out or Path(tempfile.mkdtemp(prefix="insr-gradbench-"))
    table = Table(
        title=f"advection1d, {args.steps} steps (init <= {args.init_iters} it, "
        f"steps <= {args.iters} it): final-step field gradient (autodiff) vs exact"
    )
    for col in ("loss / remedy", "repr", "grad rel. error", "grad noise", "max|u-u*|", "wall s"):
        table.add_column(col, justify="left" if col in ("loss / remedy", "repr") else "right")
    for name in names:
        m = run_one(name, args, out)
        table.add_row(
            name,
            CONFIGS[name][0],
            f"{m.get('gradient_rel_error_autodiff', float('nan')):.3e}",
            f"{m.get('gradient_noise_autodiff', float('nan')):.3e}",
            f"{m.get('field_max_error', float('nan')):.3e}",
            f"{m['wall']:.1f}",
        )
        console.print(f"done: {name} ({m['wall']:.1f} s)")
    console.print(table)
    t = time_closed_vs_autodiff(args)
    tt = Table(
        title=f"advection loss iteration (SIREN 2x20, {t['samples']:.0f} samples, eager, "
        "Adam): closed vs autodiff"
    )
    for col in ("strategy", "ms / iteration (best of repeats)", "all samples", "vs autodiff"):
        tt.add_column(col, justify="right")
    for s in ("autodiff", "closed"):
        samples = ", ".join(f"{v:.2f}" for v in t[f"{s}_all"])
        tt.add_row(s, f"{t[s]:.2f}", samples, f"{t[s] / t['autodiff']:.2f}x")
    console.print(tt)
    console.print(f"run logs: {out}")


if __name__ == "__main__":
    main()
