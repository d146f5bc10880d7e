"""The finite-difference step h on advection1d: where do `fd` and `average` differ from autodiff?

Part 1 (estimators): trains advection1d with the case's numerics (SIREN, exact loss) for
``--steps`` steps, then evaluates on the evaluation grid (``eval.resolution``, spacing dx)
the field's gradient by ``autodiff`` and by ``fd`` / ``average`` at each h, and prints

    estimator | h | h / dx | rel. diff. to autodiff | grad rel. error | grad noise

with the errors against the exact gradient (``insr.metrics``). Part 2 (``--loss-steps N``,
0 = skip): the same h values as the *loss* strategy (midpoint rule, as in
``insr compare gradients``), N steps each, and the final field's autodiff gradient error,
noise, max |u - u*| and peak height, next to the autodiff loss.

    PYTHONPATH=. python benchmarks/fd_step.py --steps 20 --loss-steps 10

Accuracy figures are deterministic (fixed seeds); wall times on a shared machine are
contended and not printed.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

import insr  # noqa: F401  (sets OpenMP defaults before torch loads)
from insr.config import load_config
from insr.derivatives import get_strategy, grid_spacing
from insr.metrics import gradient_noise, gradient_rel_error, relative_error
from insr.run.build import Run

H_FACTORS = [0.1, 0.5, 1.0, 2.0, 3.0, 5.0]  # h / dx; 0.1 dx = 1e-3 on advection1d
LOSS_FACTORS = [0.1, 1.0, 2.0, 5.0]


def train(sets: list[str], steps: int) -> Run:
    """A :class:`Run` of advection1d advanced to ``steps`` (field at t = steps dt), through
    the run's own solver (the same code path as ``insr run``, without the log)."""
    cfg = load_config("advection1d", sets=[f"case.steps={steps}", *sets])
    run = Run(cfg)
    for step in range(steps + 1):
        run.solver.advance(step, cfg.case.dt)
    return run


def field_errors(run: Run, t: float, strategy) -> tuple[np.ndarray, np.ndarray, dict]:
    g = strategy(run.equation.field, run.points)[1].detach().double().numpy()
    ex = run.truth.sample(t)
    assert ex is not None
    g = g.reshape(ex["gradient"].shape)
    return g, ex["gradient"], ex


def estimators(args: argparse.Namespace, console: Console) -> None:
    run = train([f"eval.resolution={args.resolution}"], args.steps)
    cfg = run.cfg
    t = args.steps * cfg.case.dt
    dx = grid_spacing(run.case.domain, cfg.eval.resolution)
    g_ad, exact, _ = field_errors(run, t, get_strategy("autodiff"))
    table = Table(
        title=f"advection1d, SIREN after {args.steps} steps (t = {t:g}); "
        f"eval grid {cfg.eval.resolution} nodes, dx = {dx:g}"
    )
    for col in ("estimator", "h", "h / dx", "rel. diff. to autodiff", "grad rel. error", "noise"):
        table.add_column(col, justify="right")
    table.add_row(
        "autodiff",
        "-",
        "-",
        "0",
        f"{gradient_rel_error(g_ad, exact):.4e}",
        f"{gradient_noise(g_ad, exact, 1):.4e}",
    )
    for name in ("fd", "average"):
        for k in H_FACTORS:
            h = k * dx
            g, _, _ = field_errors(run, t, get_strategy(name, h=h))
            table.add_row(
                name,
                f"{h:.3g}",
                f"{k:g}",
                f"{relative_error(g, g_ad):.2e}",
                f"{gradient_rel_error(g, exact):.4e}",
                f"{gradient_noise(g, exact, 1):.4e}",
            )
    console.print(table)


def losses(args: argparse.Namespace, console: Console) -> None:
    dx = grid_spacing([[-2.0, 2.0]], args.resolution)
    base = [
        f"eval.resolution={args.resolution}",
        "solver.time_scheme=midpoint",
        "solver.substeps=3",
        "derivative.sobolev_weight=0.0",
    ]
    rows = [("autodiff", None)] + [(s, k) for s in ("fd", "average") for k in LOSS_FACTORS]
    table = Table(
        title=f"advection1d, loss strategy at step h, {args.loss_steps} steps "
        f"(midpoint, 3 sub-steps); field's autodiff gradient vs exact; dx = {dx:g}"
    )
    cols = ("loss", "h", "h / dx", "grad rel. error", "noise", "max |u - u*|", "peak u / u*")
    for col in cols:
        table.add_column(col, justify="right")
    for name, k in rows:
        sets = [*base, f"derivative.loss={name}"]
        if k is not None:
            sets.append(f"derivative.h={k * dx!r}")
        run = train(sets, args.loss_steps)
        t = args.loss_steps * run.cfg.case.dt
        g, exact, ex = field_errors(run, t, get_strategy("autodiff"))
        with torch.no_grad():
            u = run.equation.field(run.points).double().numpy().reshape(ex["field"].shape)
        table.add_row(
            name,
            "-" if k is None else f"{k * dx:.3g}",
            "-" if k is None else f"{k:g}",
            f"{gradient_rel_error(g, exact):.4e}",
            f"{gradient_noise(g, exact, 1):.4e}",
            f"{np.abs(u - ex['field']).max():.3e}",
            f"{u.max() / ex['field'].max():.4f}",
        )
        console.print(f"done: {name} h/dx={k}")
    console.print(table)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--steps", type=int, default=20, help="time steps of the estimator run")
    p.add_argument("--loss-steps", type=int, default=0, help="steps per loss run (0 = skip)")
    p.add_argument("--resolution", type=int, default=401, help="evaluation grid nodes")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    console = Console()
    estimators(args, console)
    if args.loss_steps > 0:
        losses(args, console)


if __name__ == "__main__":
    main()
