"""Regenerate every figure the README quotes, one command per README section.

    PYTHONPATH=. python benchmarks/readme_figures.py --list        # what would run
    PYTHONPATH=. python benchmarks/readme_figures.py               # all (hours on 2 cores)
    PYTHONPATH=. python benchmarks/readme_figures.py --only fd_step --only baselines_1d

Each entry is the exact command whose output the README section quotes; its stdout and
stderr go to ``benchmarks/results/readme/<name>.txt`` (and the command's own result files
where it writes them). Entries run one after another, never in parallel, so their timings
are not contended by each other. Not run by CI. A README number that is not produced by one
of these commands is a bug in the README.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "readme"


@dataclass(frozen=True)
class Figure:
    name: str
    section: str  # the README section that quotes the output
    command: str  # run from the repository root with PYTHONPATH=.
    minutes: float  # rough duration on this project's 2-core CPU


def _py(script: str) -> str:
    return f"{shlex.quote(sys.executable)} benchmarks/{script}"


def _insr(args: str) -> str:
    return f"{shlex.quote(sys.executable)} -m insr {args}"


FIGURES: list[Figure] = [
    Figure(
        "quick_start",
        "Quick start",
        _insr("run advection1d --overwrite --out outputs/readme/advection1d -q"),
        2,
    ),
    Figure(
        "performance",
        "Performance",
        _py("perf.py --steps 20 --full --rounds 5 --out benchmarks/results/perf.md"),
        12,
    ),
    Figure("checkpoint_cost", "Performance (checkpoints)", _py("checkpoint_cost.py --steps 20"), 3),
    Figure("grid_laplacian", "Performance (grid Laplacian)", _py("grid_laplacian.py"), 1),
    Figure(
        "fd_step", "Gradient toolbox (FD step h)", _py("fd_step.py --steps 20 --loss-steps 10"), 15
    ),
    Figure(
        "gradient_strategies",
        "Gradient toolbox (benchmark)",
        _py("gradient_strategies.py --steps 10"),
        10,
    ),
    Figure(
        "vortex_pair_vs_reference",
        "2D cases and reference solvers (vortex_pair)",
        _py("vortex_pair_vs_reference.py --steps 10"),
        15,
    ),
    Figure("sweep_executors", "Running a sweep: executors", _py("sweep_executors.py"), 5),
    Figure(
        "compare_advection1d",
        "Compare and render",
        _insr(
            "compare representations --case advection1d --steps 20 "
            "--out outputs/readme/compare-advection1d --workers 2 -q"
        ),
        20,
    ),
]


def by_name(names: list[str]) -> list[Figure]:
    known = {f.name: f for f in FIGURES}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown figure {unknown[0]!r}; allowed: {', '.join(known)}")
    return [known[n] for n in names]


def run(fig: Figure) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    with open(OUT / f"{fig.name}.txt", "w") as log:
        log.write(f"# {fig.section}\n# $ {fig.command}\n")
        log.flush()
        rc = subprocess.call(
            fig.command, shell=True, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        log.write(f"# exit {rc}, {time.perf_counter() - t0:.0f} s wall\n")
    return rc


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--list", action="store_true", help="print the commands and exit")
    p.add_argument("--only", action="append", default=[], help="run only this figure")
    args = p.parse_args()
    figs = by_name(args.only) if args.only else FIGURES
    if args.list:
        for f in figs:
            print(f"{f.name:28s} ~{f.minutes:>4.0f} min  [{f.section}]\n    {f.command}")
        return
    failed = []
    for f in figs:
        print(f"{f.name} ... ", end="", flush=True)
        rc = run(f)
        print("ok" if rc == 0 else f"exit {rc}", flush=True)
        if rc:
            failed.append(f.name)
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)} (see {OUT})")


if __name__ == "__main__":
    main()
