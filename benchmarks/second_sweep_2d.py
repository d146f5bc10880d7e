"""Stacked-stream second-order sweep for d >= 2 vs the per-axis layout before, in one
process.

``PYTHONPATH=. nice -n 5 python benchmarks/second_sweep_2d.py [--rounds R] [--reps N]
[--step-rounds S] [--no-step] [--mallopt]``

Code paths, switched per call by the module flag
:data:`insr.fields.mlp.STACKED_STREAMS` (everything else is the default, "ours" of
``benchmarks/perf.py``):

- **stacked**: ``STACKED_STREAMS = True``: :func:`insr.fields.stacked.second_sweep_stacked`
  and :func:`insr.fields.stacked.second_backward_stacked` (one ``(1+d+K, N, width)`` stack
  per layer, one matrix product per layer forward and two backward);
- **per-axis**: ``STACKED_STREAMS = False``: the layout before, ``(N, d, width)`` streams
  with separate products per stream (:func:`insr.fields.mlp._second_sweep` and
  :func:`insr.fields.mlp.second_sweep_backward`'s general branch).

Rows: the Taylor-Green pressure-stage loss + parameter gradient of step 1
(``loss_fn("taylor_green", "ours", stage=1)``: the closed-form Laplacian of the pressure
MLP through :class:`insr.fields.mlp.SecondOrderMLP`, the wall gradient, the frozen
divergence) on a fixed sample set and on fresh copies of it; the bare sweep + backward
at the same points (``SecondOrderMLP`` and ``sum(lap^2)``); a control, the advection2d
loss + gradient, which runs no second-order sweep (first-order ``ClosedFormMLP``: the
same code on both paths, so its ratio shows the timing noise); and a whole Taylor-Green
step 1 (advect, pressure, project; from the same step-0 state each time).

Timing: one torch thread, interleaved round-robin, median of rounds, both wall time and
this process's CPU time (``time.process_time``, less sensitive to other processes on a
shared machine), and the torch operations one call dispatches, views not counted
(counted with a ``TorchDispatchMode``). Compare the ratios,
not absolute times. ``--mallopt`` first sets glibc's ``M_MMAP_THRESHOLD``,
``M_TRIM_THRESHOLD`` and ``M_TOP_PAD`` high in this process, so freed tensor memory is
reused instead of returned to the system and faulted in again (about a thousand minor
page faults per pressure evaluation otherwise): both layouts run under it.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402

import insr  # noqa: E402,F401  (OpenMP defaults before torch loads)
from benchmarks.common import config  # noqa: E402
from benchmarks.perf import loss_fn  # noqa: E402
from insr.fields import mlp  # noqa: E402
from insr.run import Run  # noqa: E402

LAYOUTS = {"stacked": True, "per-axis": False}


class _OpCount(TorchDispatchMode):
    """Counts the torch operations dispatched while active, views (select, slice,
    transpose, ...) not counted."""

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001,ANN204
        self.n += not func.is_view
        return func(*args, **(kwargs or {}))


def op_count(fn: Callable[[], object]) -> int:
    """Torch operations (not views) of one call of ``fn``."""
    with _OpCount() as c:
        fn()
    return c.n


def keep_freed_memory() -> None:
    """glibc ``mallopt``: no mmap per large tensor, no trimming of the heap (256 MiB
    threshold, 512 MiB trim threshold, 64 MiB top pad)."""
    libc = ctypes.CDLL("libc.so.6")
    for option, value in ((-3, 256 << 20), (-1, 512 << 20), (-2, 64 << 20)):
        if libc.mallopt(option, value) != 1:
            raise SystemExit(f"mallopt({option}) failed")


def with_layout(stacked: bool, fn: Callable[[], object]) -> Callable[[], object]:
    """``fn`` run with :data:`insr.fields.mlp.STACKED_STREAMS` set to ``stacked``."""

    def call() -> object:
        mlp.STACKED_STREAMS = stacked
        try:
            return fn()
        finally:
            mlp.STACKED_STREAMS = True

    return call


def bare_sweep_fn() -> Callable[[], None]:
    """``SecondOrderMLP`` (axes) of the Taylor-Green pressure field at its 1,024 points,
    then ``sum(lap^2)`` backward."""
    cfg = config("taylor_green", [])
    torch.manual_seed(0)
    run = Run(cfg)
    eq = run.equation
    field = eq.p
    problem = list(eq.step_problems(1, cfg.case.dt, cfg.case.dt))[1]
    x = problem.sample(torch.Generator().manual_seed(0))

    def one() -> None:
        field.zero_grad(set_to_none=True)
        _, _, lap = field.closed_laplacian(x, True)
        (lap * lap).sum().backward()

    return one


def step_fn() -> Callable[[bool], tuple[float, int]]:
    """Taylor-Green step 1 from one fitted step-0 state: ``call(stacked) -> (seconds,
    iterations)``."""
    cfg = config("taylor_green", [])
    torch.manual_seed(0)
    run = Run(cfg)
    solver = run.solver
    solver.advance(0, cfg.case.dt)
    start = solver.state()

    def call(stacked: bool) -> tuple[float, int]:
        solver.load_state(start)
        mlp.STACKED_STREAMS = stacked
        try:
            t0 = time.perf_counter()
            cost = solver.advance(1, cfg.case.dt)
            return time.perf_counter() - t0, int(cost.get("iterations", 0))
        finally:
            mlp.STACKED_STREAMS = True

    return call


def timed(fns: dict[str, Callable[[], object]], rounds: int, reps: int) -> dict[str, tuple]:
    """Median ``(wall ms, CPU ms)`` per call of each function, round-robin after a
    warm-up of ``reps`` calls each."""
    for fn in fns.values():
        for _ in range(reps):
            fn()
    wall: dict[str, list[float]] = {k: [] for k in fns}
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(reps):
                fn()
            wall[k].append(1e3 * (time.perf_counter() - t0) / reps)
            cpu[k].append(1e3 * (time.process_time() - c0) / reps)
    return {k: (statistics.median(wall[k]), statistics.median(cpu[k])) for k in fns}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--step-rounds", type=int, default=5)
    ap.add_argument("--no-step", action="store_true", help="skip the whole-step rows")
    ap.add_argument("--mallopt", action="store_true", help="keep freed memory (see above)")
    a = ap.parse_args(argv)
    if a.mallopt:
        keep_freed_memory()
    torch.set_num_threads(1)
    print(
        f"PYTHONPATH=. python benchmarks/second_sweep_2d.py {' '.join(argv or sys.argv[1:])}: "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, torch {torch.__version__}, "
        f"1 thread, load average {os.getloadavg()[0]:.1f}"
    )
    rows = {
        "Taylor-Green pressure stage, loss + gradient, fixed sample set": lambda: loss_fn(
            "taylor_green", "ours", stage=1
        ),
        "Taylor-Green pressure stage, loss + gradient, fresh points": lambda: loss_fn(
            "taylor_green", "ours", stage=1, fresh=True
        ),
        "pressure MLP alone: closed_laplacian (SecondOrderMLP) + backward": bare_sweep_fn,
        "control: advection2d loss + gradient (no second-order sweep)": lambda: loss_fn(
            "advection2d", "ours"
        ),
    }
    fns: dict[str, Callable[[], object]] = {}
    for label, make in rows.items():
        one = make()
        for name, flag in LAYOUTS.items():
            fns[f"{label} | {name}"] = with_layout(flag, one)
    ms = timed(fns, a.rounds, a.reps)
    ops = {k: op_count(fn) for k, fn in fns.items()}
    print()
    print(
        "| what is timed | per-axis ms | stacked ms | stacked / per-axis | CPU-time ratio "
        "| torch ops per-axis / stacked |"
    )
    print("|---|---|---|---|---|---|")
    for label in rows:
        (old, old_c), (new, new_c) = ms[f"{label} | per-axis"], ms[f"{label} | stacked"]
        n_old, n_new = ops[f"{label} | per-axis"], ops[f"{label} | stacked"]
        print(
            f"| {label} | {old:.2f} | {new:.2f} | {new / old:.3f}x | {new_c / old_c:.3f}x "
            f"| {n_old} / {n_new} |"
        )
    if not a.no_step:
        call = step_fn()
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in LAYOUTS}
        iters: dict[str, list[int]] = {k: [] for k in LAYOUTS}
        call(True)  # warm-up
        for _ in range(a.step_rounds):
            for name, flag in LAYOUTS.items():
                c0 = time.process_time()
                s, it = call(flag)
                times[name].append((s, time.process_time() - c0))
                iters[name].append(it)
        (old, old_c), (new, new_c) = (
            tuple(statistics.median(t[j] for t in times[k]) for j in (0, 1))
            for k in ("per-axis", "stacked")
        )
        label = "Taylor-Green step 1 (advect + pressure + project), wall s"
        print(f"| {label} | {old:.3f} | {new:.3f} | {new / old:.3f}x | {new_c / old_c:.3f}x | |")
        print(f"\niterations per step 1: per-axis {iters['per-axis']}, stacked {iters['stacked']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
