"""Coarse-to-fine FD in the loss against autodiff and fixed-step FD, hash grid, 1D and 2D advection.

Every member runs the same case with the same hash grid, seed, optimizer (Adam, also for the
step-0 fit, so that the schedule advances every iteration), samples and budgets; only the
derivative inside the loss differs:

    autodiff        derivative.loss = closed (the autodiff numbers, cheaper pass)
    fd              central differences, fixed h = "auto" (2 eval-grid spacings)
    c2f-init        coarse-to-fine, unit = iterations: the ramp (start 4 levels, h from the
                    coarsest cell) ends with the step-0 budget; later steps: all levels, h =
                    finest cell
    c2f-init-2dx    the same ramp ending at h = 2 eval-grid spacings (a number) instead
    c2f-step        unit = step_iterations: the ramp is repeated over the first half of every
                    step's budget (solver.min_iters keeps Adam running through it), ending
                    at h = 2 eval-grid spacings

Printed per member, at the last step: the field's own (autodiff) gradient against the exact
one -- relative error and noise (README "Gradient noise") --, max|u - u*| and wall seconds.
``--match-wall`` then reruns autodiff with its per-step budget scaled so that its wall time
matches the fastest coarse-to-fine member's (equal wall time). Contended machine: compare
rows of one run.

    PYTHONPATH=. python benchmarks/coarse_to_fine.py --case advection1d --steps 10
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import insr  # noqa: F401  (sets OpenMP defaults before torch loads)
from insr.config import load_config
from insr.derivatives.steps import grid_spacing
from insr.run import execute

LEVELS, START = 16, 4


def members(args: argparse.Namespace, h2dx: float) -> dict[str, list[str]]:
    init_interval = max(1, args.init_iters // (LEVELS - START))
    step_interval = max(1, args.iters // (2 * (LEVELS - START)))
    return {
        "autodiff": ["derivative.loss=closed"],
        "fd": ["derivative.loss=fd", "derivative.h=auto"],
        "c2f-init": [
            "derivative.loss=coarse_to_fine",
            "derivative.coarse_to_fine_unit=iterations",
            f"derivative.coarse_to_fine_interval={init_interval}",
            "derivative.h=cell",
        ],
        "c2f-init-2dx": [
            "derivative.loss=coarse_to_fine",
            "derivative.coarse_to_fine_unit=iterations",
            f"derivative.coarse_to_fine_interval={init_interval}",
            f"derivative.h={h2dx}",
        ],
        "c2f-step": [
            "derivative.loss=coarse_to_fine",
            "derivative.coarse_to_fine_unit=step_iterations",
            f"derivative.coarse_to_fine_interval={step_interval}",
            f"derivative.h={h2dx}",
            f"solver.min_iters={step_interval * (LEVELS - START)}",
        ],
    }


def common(args: argparse.Namespace, iters: int) -> list[str]:
    return [
        "representation.kind=hashgrid",
        f"representation.hashgrid.n_levels={LEVELS}",
        f"derivative.coarse_to_fine_start_levels={START}",
        "solver.optimizer=adam",
        "solver.lbfgs_history=20",  # the default: presets' L-BFGS history has no effect on Adam
        f"solver.lr={args.lr}",
        f"solver.max_iters={iters}",
        f"solver.samples={args.samples}",
        "solver.time_scheme=midpoint",
        "solver.substeps=1",
        "solver.init.optimizer=adam",
        f"solver.init.lr={args.lr}",
        f"solver.init.max_iters={args.init_iters}",
        f"solver.init.min_iters={args.init_iters}",
        "derivative.sobolev_weight=0",
        "derivative.log=['autodiff']",
        f"case.steps={args.steps}",
        f"run.threads={args.threads}",
    ]


def run_member(case: str, sets: list[str], out: Path) -> dict[str, float]:
    cfg = load_config(case, sets=sets)
    t0 = time.perf_counter()
    res = execute(cfg, out, overwrite=True)
    m = {k: float(v) for k, v in res.last_metrics.items()}
    m["wall"] = time.perf_counter() - t0
    return m


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--case", default="advection1d", help="advection1d or advection2d")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--init-iters", type=int, default=1200, help="step-0 Adam iterations")
    p.add_argument("--iters", type=int, default=300, help="Adam iterations per step (max)")
    p.add_argument("--samples", type=int, default=4000)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--only", nargs="*", default=None, help="subset of the members")
    p.add_argument("--match-wall", action="store_true", help="add autodiff at equal wall time")
    p.add_argument("--json", type=Path, default=None, help="write the rows here")
    args = p.parse_args()
    base = load_config(args.case)
    h2dx = 2.0 * grid_spacing(base.case.domain, base.eval.resolution)
    table = members(args, h2dx)
    names = args.only or list(table)
    out = Path(tempfile.mkdtemp(prefix="insr-c2f-"))
    rows: dict[str, dict[str, float]] = {}
    for name in names:
        m = run_member(args.case, [*common(args, args.iters), *table[name]], out / name)
        rows[name] = m
        print(f"done {name}: {m['wall']:.1f} s", flush=True)
    c2f = [n for n in rows if n.startswith("c2f")]
    if args.match_wall and "autodiff" in rows and c2f:
        target = min(rows[n]["wall"] for n in c2f)
        scale = target / rows["autodiff"]["wall"]
        iters = max(1, round(args.iters * scale))
        sets = [*common(args, iters), *table["autodiff"], f"solver.min_iters={iters}"]
        name = f"autodiff@{iters}it"
        rows[name] = run_member(args.case, sets, out / "autodiff-matched")
        print(f"done {name}: {rows[name]['wall']:.1f} s", flush=True)
    print(
        f"\n{args.case}, hashgrid {LEVELS} levels, {args.steps} steps, Adam lr {args.lr}, "
        f"{args.samples} samples, init {args.init_iters} it, <= {args.iters} it/step, "
        f"2dx = {h2dx:.4g}; last step, field's autodiff gradient vs exact\n"
    )
    print("| member | grad rel. error | grad noise | max abs(u − u*) | wall s |")
    print("|---|---|---|---|---|")
    for name, m in rows.items():
        print(
            f"| {name} | {m.get('gradient_rel_error_autodiff', float('nan')):.3e} "
            f"| {m.get('gradient_noise_autodiff', float('nan')):.3e} "
            f"| {m.get('field_max_error', float('nan')):.3e} | {m['wall']:.1f} |"
        )
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": None}, "rows": rows}))


if __name__ == "__main__":
    main()
