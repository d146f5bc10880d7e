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
    Figure(
        "representations_advection1d",
        "Representations (presets) -- the table of the compare_advection1d run",
        _py("compare_table.py outputs/readme/compare-advection1d"),
        0,
    ),
    Figure(
        "compare_advection1d_240",
        "Baselines (neural rows at step 240)",
        _insr(
            "compare representations --case advection1d --reprs siren-w30,gauss,hashgrid-16L "
            "--steps 240 --workers 3 --cpus-per-member 1 "
            "--out outputs/readme/compare-advection1d-240 -q"
        ),
        240,
    ),
    Figure(
        "baselines_1d",
        "Baselines (after compare_advection1d and compare_advection1d_240)",
        _py(
            "baselines_1d.py --compare outputs/readme/compare-advection1d-240 "
            "--compare outputs/readme/compare-advection1d"
        ),
        5,
    ),
    Figure(
        "toml_only_wave_packet",
        "Fit verdicts (cases written only in TOML)",
        _insr(
            "run benchmarks/cases/wave_packet_issue16.toml --overwrite "
            "--out outputs/readme/wave_packet_issue16 -q"
        )
        + " && "
        + _insr("info outputs/readme/wave_packet_issue16"),
        3,
    ),
    Figure(
        "toml_only_translate",
        "Fit verdicts (cases written only in TOML)",
        " && ".join(
            [
                _insr(
                    "run advection2d_translate --steps 20 --overwrite "
                    "--out outputs/readme/translate20 -q"
                ),
                _insr("info outputs/readme/translate20"),
                _insr(
                    "run advection2d_translate --steps 20 --set derivative.sobolev_weight=0.01 "
                    "--overwrite --out outputs/readme/translate20-sobolev -q"
                ),
                _insr("info outputs/readme/translate20-sobolev"),
            ]
        ),
        6,
    ),
    Figure(
        "compare_advection2d",
        "Fit verdicts (compare with verdicts, 2D)",
        " ; ".join(
            [
                "rm -rf outputs/readme/compare-advection2d",
                _insr(
                    "compare representations --case advection2d --steps 8 --workers 2 "
                    "--out outputs/readme/compare-advection2d -q"
                ),
                _py("compare_table.py outputs/readme/compare-advection2d"),
            ]
        ),
        10,
    ),
    Figure(
        "compare_vortex_pair",
        "Fit verdicts (compare with verdicts, 2D)",
        " ; ".join(
            [
                "rm -rf outputs/readme/compare-vortex_pair",
                _insr(
                    "compare representations --case vortex_pair --steps 1 --reprs "
                    "siren-w5,siren-w30,siren-w50,gauss,mlp-tanh,densegrid,grid-eqmem-siren,"
                    "grid-eqmem-densegrid --workers 2 --out outputs/readme/compare-vortex_pair -q"
                ),
                _py("compare_table.py outputs/readme/compare-vortex_pair"),
            ]
        ),
        30,
    ),
    Figure(
        "study_noisy_gradients_quick",
        "What insr finds (the noisy-gradients study, --quick)",
        " ; ".join(
            [
                "rm -rf outputs/readme/study-quick",
                _insr("study noisy-gradients --quick -j 2 --out outputs/readme/study-quick -q"),
                "rm -rf benchmarks/results/study_noisy_gradients_quick",
                "mkdir -p benchmarks/results/study_noisy_gradients_quick",
                "cd outputs/readme/study-quick && cp report.md summary.json claim-*.png "
                "../../../benchmarks/results/study_noisy_gradients_quick/",
            ]
        ),
        5,
    ),
    Figure(
        "vortex_pair_densegrid_100",
        "What insr finds (C7: 100 steps of the vortex pair on the dense grid)",
        " ; ".join(
            [
                _insr(
                    "run vortex_pair --steps 100 --set representation.kind=densegrid "
                    "--set run.checkpoint_every=5 --out outputs/readme/vp-dense-100 --overwrite -q"
                ),
                _py(
                    "run_errors_over_time.py outputs/readme/vp-dense-100 "
                    "--out benchmarks/results/vortex_pair_densegrid_100"
                ),
            ]
        ),
        35,
    ),
    Figure(
        "preset_search_2d",
        "Representations (2D presets) and Performance (hash-grid head activation)",
        _py(
            "preset_search.py --only advection2d:hashgrid --only advection2d:densegrid "
            "--only advection2d:gauss --only advection2d:mlp "
            "--only vortex_pair:gauss --only vortex_pair:mlp --only vortex_pair:mlp:round2 "
            "--only advection1d:hashgrid:head"
        ),
        60,
    ),
    Figure(
        "compare_vortex_pair_gauss",
        "Fit verdicts (2D: gauss on its Euler 2D preset)",
        " ; ".join(
            [
                _insr(
                    "compare representations --case vortex_pair --steps 1 --reprs gauss -j 1 "
                    "--out outputs/readme/compare-vortex_pair-gauss -q"
                ),
                _py("compare_table.py outputs/readme/compare-vortex_pair-gauss"),
            ]
        ),
        3,
    ),
    Figure(
        "preset_search_siren",
        "Representations (presets: the SIREN's search) and the 2D cases table",
        " ; ".join(
            [
                _py(
                    "preset_search.py --only advection1d:siren --only advection2d:siren "
                    "--only vortex_pair:siren --only advection1d:siren:confirm20 "
                    "--only advection2d:siren:confirm16 --only vortex_pair:siren:confirm5 "
                    "--only taylor_green:siren:confirm5 "
                    "--only taylor_green_multiscale:siren:confirm5"
                ),
                _insr("run advection2d --out outputs/readme/adv2d16 --overwrite -q"),
                _insr("info outputs/readme/adv2d16"),
                _insr(
                    "run advection2d_translate --steps 8 --out outputs/readme/translate8 "
                    "--overwrite -q"
                ),
                _insr("info outputs/readme/translate8"),
            ]
        ),
        8,
    ),
    Figure(
        "preset_search_2d_round2",
        "Representations (2D presets: round 2 of gauss and mlp, the dense grid on Euler 2D)",
        " ; ".join(
            [
                _py(
                    "preset_search.py --only advection2d:gauss:round2 "
                    "--only advection2d:mlp:round2 --only vortex_pair:densegrid"
                ),
                _py(
                    "preset_search.py --only vortex_pair:siren --only vortex_pair:gauss "
                    "--only vortex_pair:mlp --only vortex_pair:mlp:round2 "
                    "--only vortex_pair:gauss:confirm5 --only taylor_green:gauss:confirm5 "
                    "--only vortex_pair:densegrid:confirm5 "
                    "--only taylor_green:densegrid:confirm5"
                ),
            ]
        ),
        15,
    ),
    Figure(
        "preset_search_hashgrid_euler",
        "Representations (presets: the hash grid on Euler 2D)",
        _py("preset_search.py --only vortex_pair:hashgrid"),
        30,
    ),
    Figure("malloc", "Performance (allocator)", _py("malloc.py --procs 3"), 3),
    Figure(
        "second_sweep_2d",
        "Performance (stacked 2D sweep)",
        _py("second_sweep_2d.py --rounds 15 --reps 20 --step-rounds 5"),
        5,
    ),
    Figure(
        "lbfgs_cost",
        "Performance (flat L-BFGS)",
        _py("lbfgs_cost.py --rounds 15 --seeds 0 1 2 3 4 --out benchmarks/results/lbfgs_cost.md"),
        20,
    ),
    Figure(
        "preset_search_densegrid_round4",
        "Representations (presets: densegrid round 4)",
        " ; ".join(
            [
                _insr(
                    "compare representations --case advection1d --steps 20 --reprs "
                    "benchmarks/preset_search_densegrid_round4.toml --workers 2 "
                    "--out outputs/readme/preset-search-densegrid-round4 -q"
                ),
                _py("compare_table.py outputs/readme/preset-search-densegrid-round4"),
            ]
        ),
        60,
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
