"""Checkpoint cost per step: every step (``run.checkpoint_every = 1``, main before) against
every k steps (the default), in one invocation.

``PYTHONPATH=. nice -n 10 python benchmarks/checkpoint_cost.py [--steps 20] [--rounds 2]
[--every K]``

1. Real ``advection1d`` runs (defaults but ``case.steps``), alternated round-robin: the
   seconds spent in ``RunLogWriter.save_checkpoint`` and in ``Solver.state`` (the copy the
   driver keeps of every completed step), per step, and the run's wall time.
2. One checkpoint write (flush + fsync, in place into a log's slot) of the step state of
   other representations/cases, so the per-step cost at k = 1 can be read against a
   step's duration (``seconds per checkpoint`` and its size).

Timings are wall clock on a shared machine: compare the ratios within one invocation.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import insr  # noqa: E402,F401  (OpenMP defaults before torch loads)
from benchmarks.common import config  # noqa: E402
from insr.log import RunLogWriter  # noqa: E402
from insr.run import Run, execute  # noqa: E402
from insr.run.solvers import NeuralSolver  # noqa: E402
from insr.settings import RunSection  # noqa: E402


@contextmanager
def timed(cls: type, name: str, into: list[float]) -> Iterator[None]:
    """Add the wall seconds of every ``cls.name`` call to ``into`` while active."""
    orig = getattr(cls, name)

    def wrapper(*a, **k):
        t0 = time.perf_counter()
        try:
            return orig(*a, **k)
        finally:
            into.append(time.perf_counter() - t0)

    setattr(cls, name, wrapper)
    try:
        yield
    finally:
        setattr(cls, name, orig)


def one_run(every: int, steps: int, tmp: Path) -> dict[str, float]:
    ck: list[float] = []
    st: list[float] = []
    cfg = config("advection1d", [f"case.steps={steps}", f"run.checkpoint_every={every}"])
    t0 = time.perf_counter()
    with timed(RunLogWriter, "save_checkpoint", ck), timed(NeuralSolver, "state", st):
        res = execute(cfg, tmp / f"k{every}", overwrite=True)
    wall = time.perf_counter() - t0
    n = res.completed_steps
    return {"ckpt": sum(ck) / n, "writes": len(ck), "state": sum(st) / n, "wall": wall / n}


def write_cost(case: str, sets: list[str], tmp: Path, reps: int = 5) -> tuple[float, float]:
    """(median seconds, MiB) of one checkpoint write of ``case``'s step state."""
    run = Run(config(case, sets))
    state = run.solver.state()
    w = RunLogWriter.create(tmp / f"{case}.h5", config={}, axes=run.axes, attrs=run.log_attrs())
    times = []
    for i in range(reps + 2):  # the first two create the two slots
        t0 = time.perf_counter()
        w.save_checkpoint(state, {"step": i})
        times.append(time.perf_counter() - t0)
    w.close("complete")
    mib = sum(np.asarray(v).nbytes for v in state.values()) / 2**20
    return statistics.median(times[2:]), mib


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20, help="advection1d steps per run")
    ap.add_argument("--rounds", type=int, default=2, help="runs per setting, alternated")
    ap.add_argument("--every", type=int, default=RunSection().checkpoint_every)
    args = ap.parse_args(argv)
    ks = (1, args.every)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        got: dict[int, list[dict[str, float]]] = {k: [] for k in ks}
        for r in range(args.rounds):
            for k in ks if r % 2 == 0 else ks[::-1]:
                got[k].append(one_run(k, args.steps, tmp))
        med = {k: {m: statistics.median(x[m] for x in v) for m in v[0]} for k, v in got.items()}
        print(f"advection1d, {args.steps} steps, {args.rounds} runs each, medians per step:")
        print(
            "| checkpoint_every | checkpoint writes | ms/step in save_checkpoint "
            "| ms/step in Solver.state | s/step (wall) |"
        )
        print("|---|---|---|---|---|")
        for k in ks:
            m = med[k]
            print(
                f"| {k} | {m['writes']:.0f} | {m['ckpt'] * 1e3:.2f} | {m['state'] * 1e3:.3f} "
                f"| {m['wall']:.3f} |"
            )
        a, b = med[ks[0]], med[ks[1]]
        print(
            f"checkpoint time per step, every {ks[1]} / every 1: "
            f"{(b['ckpt'] + b['state']) / (a['ckpt'] + a['state']):.3f}x; checkpointing "
            f"share of a step: {100 * (a['ckpt'] + a['state']) / a['wall']:.1f} % -> "
            f"{100 * (b['ckpt'] + b['state']) / b['wall']:.1f} %"
        )
        print("\none checkpoint write (in place, flush + fsync):")
        print("| case, representation | state MiB | ms per write |")
        print("|---|---|---|")
        for case, sets in [
            ("advection1d", []),
            ("advection2d", ["representation.kind=hashgrid"]),
            ("taylor_green", []),
        ]:
            s, mib = write_cost(case, sets, tmp)
            label = f"{case}, {sets[0].split('=')[1] if sets else 'default'}"
            print(f"| {label} | {mib:.2f} | {s * 1e3:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
