"""advection1d on its defaults: time per step, iterations per step, errors.

    PYTHONPATH=. python benchmarks/advection1d.py                 # all 240 steps
    PYTHONPATH=. python benchmarks/advection1d.py --steps 20 --set representation.kind=gauss

Prints a table (step 0, step 10, last step) and writes ``benchmarks/results/advection1d-*.json``.
For the comparison against the original INSR recipe in one run, use ``benchmarks/run.py``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

import insr  # noqa: F401  (OpenMP defaults before torch loads)
from benchmarks.case_run import run_case

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=240)
    ap.add_argument("--set", dest="sets", action="append", default=[], help="section.key=value")
    args = ap.parse_args()
    r = run_case("advection1d", args.steps, args.sets)
    m = r["metrics"]
    table = Table(title=f"advection1d, {args.steps} steps {' '.join(args.sets)}".strip())
    for col in ("quantity", "step 0", "step 10", "last step"):
        table.add_column(col, justify="right")
    last = len(m["wall_seconds"]) - 1
    rows = [
        (k, k)
        for k in (
            "field_max_error",
            "field_rmse",
            "gradient_rel_error_fd",
            "gradient_rel_error_autodiff",
            "gradient_noise_fd",
            "iterations",
            "wall_seconds",
        )
        if k in m
    ]
    for label, key in rows:
        vals = [m[key][i] if i <= last else float("nan") for i in (0, 10, last)]
        table.add_row(label, *(f"{v:.4g}" for v in vals))
    console = Console()
    console.print(table)
    console.print(
        f"total {r['total_seconds']:.1f} s; {r['seconds_per_step']:.3f} s/step; "
        f"{r['iterations_per_step']:.0f} iterations/step; step 0 {r['step0_seconds']:.1f} s; "
        f"peak RSS {r['peak_rss_mib']:.0f} MiB"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"advection1d-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(r))
    console.print(f"results: {out}")


if __name__ == "__main__":
    main()
