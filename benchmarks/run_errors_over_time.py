"""A run's errors over its steps: one figure and one table from its log (no training).

    PYTHONPATH=. python benchmarks/run_errors_over_time.py RUN_DIR --out DIR [--every 10]

Reads the per-step metrics of ``RUN_DIR/run.h5`` (README "The run log") and writes
``DIR/errors_over_time.png`` (the fit error max|u-u*|/max|u*| with the fit-verdict limits
of :mod:`insr.verdict`, and every ``*_rel_error`` metric the log holds, against the step)
and ``DIR/errors_over_time.md`` (those metrics every ``--every`` steps and at the last).
Used for the 100-step vortex_pair dense-grid run of README "What insr finds" (C7).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from insr import open_run  # noqa: E402
from insr.verdict import thresholds  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--every", type=int, default=10)
    args = p.parse_args()
    data = open_run(args.run)
    table = data.metrics  # a DataFrame indexed by step, or a dict of arrays
    steps = np.asarray(data.step, dtype=int)
    keys = ["fit_error", *sorted(k for k in table.keys() if k.endswith("_rel_error"))]
    metrics = {k: np.asarray(table[k], dtype=float) for k in keys}
    args.out.mkdir(parents=True, exist_ok=True)

    fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=120)
    for k in keys:
        ax.plot(steps, metrics[k], label=k, lw=1.6 if k == "fit_error" else 1)
    th = thresholds(1)  # the limits of every step after step 0
    ax.axhline(th.ok_max, color="0.4", ls="--", lw=0.8, label=f"ok limit ({th.ok_max:g})")
    ax.axhline(
        th.failed_above, color="0.4", ls=":", lw=0.8, label=f"failed limit ({th.failed_above:g})"
    )
    ax.set_xlabel("time step")
    ax.set_ylabel("relative error (1 = the field's own scale)")
    ax.set_title(f"{args.run.name}: {data.attrs.get('status')}", fontsize=10)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out / "errors_over_time.png")
    plt.close(fig)

    rows = sorted({*range(0, len(steps), args.every), len(steps) - 1})
    lines = ["| step | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for i in rows:
        vals = " | ".join(f"{float(metrics[k][i]):.3g}" for k in keys)
        lines.append(f"| {steps[i]} | {vals} |")
    (args.out / "errors_over_time.md").write_text(
        f"{args.run}: {data.attrs.get('status')}\n\n" + "\n".join(lines) + "\n"
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
