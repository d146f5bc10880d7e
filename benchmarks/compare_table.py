"""A compare directory as the markdown table the README quotes.

    PYTHONPATH=. python benchmarks/compare_table.py outputs/compare/advection1d-... [...]

Rows are computed from ``sweep.json`` and the member logs (``insr.compare.summarize``, what
``summary.csv`` holds), so a sweep stopped part-way shows what its members logged; several
directories give one table; members without a logged step are listed below it.

One row per member: status, fit verdict, scheme (what its numbers come from), trained
parameters (grids: stored floats), max|u - u*| and the gradient's relative error
(autodiff and fd) at the last logged step, and the member's wall time (a contended
machine: indicative only).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from insr.compare import summarize


def fmt(cell: Any, spec: str = ".3g") -> str:
    if cell is None or cell == "":
        return "-"
    try:
        v = float(cell)
    except (TypeError, ValueError):
        return str(cell)
    return format(v, spec) if math.isfinite(v) else "-"


def pct(cell: Any) -> str:
    return "-" if fmt(cell) == "-" else f"{100.0 * float(cell):.3g} %"


def table(compare_dirs: list[Path]) -> str:
    rows = [r for d in compare_dirs for r in summarize(d)]
    head = (
        "| member | status | verdict | scheme | params | last step | max abs(u-u*) "
        "| grad err autodiff | grad err fd | wall s |"
    )
    out = [head, "|" + "---|" * 10]
    unlogged = [r for r in rows if r.get("last_step") in (None, -1)]
    for r in rows:
        if r in unlogged:
            continue
        cells = [str(r.get(k, "-")) for k in ("member", "status", "verdict", "scheme")]
        cells += [fmt(r.get("n_params"), ".0f"), fmt(r.get("last_step"), ".0f")]
        cells += [fmt(r.get("field_max_error_last"))]
        cells += [pct(r.get("gradient_rel_error_autodiff_last"))]
        cells += [pct(r.get("gradient_rel_error_fd_last")), fmt(r.get("wall_s"), ".0f")]
        out.append("| " + " | ".join(cells) + " |")
    if unlogged:
        names = ", ".join(f"{r['member']} ({r.get('status', '-')})" for r in unlogged)
        out += ["", f"No logged step: {names}."]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("compare_dirs", type=Path, nargs="+")
    args = ap.parse_args()
    print(table(args.compare_dirs))


if __name__ == "__main__":
    main()
