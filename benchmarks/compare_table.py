"""A compare directory's ``summary.csv`` as the markdown table the README quotes.

    PYTHONPATH=. python benchmarks/compare_table.py outputs/compare/advection1d-...

One row per member: status, fit verdict, scheme (what its numbers come from), trained
parameters (grids: stored floats), max|u - u*| and the gradient's relative error
(autodiff and fd) at the last logged step, and the member's wall time (a contended
machine: indicative only).
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path


def fmt(cell: str, spec: str = ".3g") -> str:
    if cell == "":
        return "-"
    try:
        v = float(cell)
    except ValueError:
        return cell
    return format(v, spec) if math.isfinite(v) else "-"


def pct(cell: str) -> str:
    return "-" if fmt(cell) == "-" else f"{100.0 * float(cell):.3g} %"


def table(summary: Path) -> str:
    with open(summary) as f:
        rows = list(csv.DictReader(f))
    head = (
        "| member | status | verdict | scheme | params | last step | max abs(u-u*) "
        "| grad err autodiff | grad err fd | wall s |"
    )
    out = [head, "|" + "---|" * 10]
    for r in rows:
        cells = [r["member"], r["status"], r["verdict"], r.get("scheme", ""), r["n_params"]]
        cells += [r["last_step"], fmt(r.get("field_max_error_last", ""))]
        cells += [pct(r.get("gradient_rel_error_autodiff_last", ""))]
        cells += [pct(r.get("gradient_rel_error_fd_last", "")), fmt(r["wall_s"], ".0f")]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("compare_dir", type=Path)
    args = ap.parse_args()
    print(table(args.compare_dir / "summary.csv"))


if __name__ == "__main__":
    main()
