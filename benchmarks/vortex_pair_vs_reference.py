"""vortex_pair: neural runs against the high-resolution reference, over time.

Runs ``vortex_pair`` with a SIREN and with the equal-memory ``grid`` baseline (both logged
against the case's 256^2 reference solution), prints the vorticity / velocity relative
error and kinetic energy per step, and writes a figure (error over time + vorticity maps
at the last step) and a JSON of the numbers to ``benchmarks/results/``.

    PYTHONPATH=. python benchmarks/vortex_pair_vs_reference.py --steps 10
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from insr.config import load_config  # noqa: E402
from insr.log import RunLogReader  # noqa: E402
from insr.run import execute  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
MEMBERS = {
    "siren 3x32": [],
    "grid (equal memory)": [
        "representation.kind=grid",
        "representation.grid.match_params_of=siren",
    ],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--out", type=Path, default=Path("outputs/benchmarks/vortex_pair"))
    args = ap.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    series: dict[str, dict[str, list[float]]] = {}
    last_vort: dict[str, np.ndarray] = {}
    exact_vort = None
    for name, sets in MEMBERS.items():
        cfg = load_config("vortex_pair", sets=[f"case.steps={args.steps}", *sets])
        run_dir = args.out / name.split()[0]
        t0 = time.perf_counter()
        execute(cfg, run_dir, overwrite=True)
        wall = time.perf_counter() - t0
        with RunLogReader(run_dir) as log:
            m = log.metrics()
            series[name] = {
                "time": log.series("time").tolist(),
                "vorticity_rel_error": m["vorticity_rel_error"].tolist(),
                "velocity_rel_error": m["velocity_rel_error"].tolist(),
                "kinetic_energy": m["kinetic_energy"].tolist(),
                "wall_seconds": wall,
                "n_params": int(log.attrs.get("n_params", 0)),
            }
            last_vort[name] = log.row("fluid/vorticity", -1)
            if exact_vort is None and log.has("exact/gradient"):
                g = log.row("exact/gradient", -1)  # (nx, ny, 2, 2): du_i/dx_j
                exact_vort = g[..., 1, 0] - g[..., 0, 1]
    print(f"{'member':22s} {'params':>7s} {'wall s':>7s}  vorticity rel. error per step")
    for name, s in series.items():
        errs = " ".join(f"{e:.3f}" for e in s["vorticity_rel_error"])
        print(f"{name:22s} {s['n_params']:7d} {s['wall_seconds']:7.1f}  {errs}")

    panels = ({"reference 256²": exact_vort} if exact_vort is not None else {}) | last_vort
    fig, axes = plt.subplots(1, 2 + len(panels), figsize=(4.0 * (2 + len(panels)), 3.6))
    for name, s in series.items():
        axes[0].plot(s["time"], s["vorticity_rel_error"], marker="o", label=name)
        axes[1].plot(s["time"], s["kinetic_energy"], marker="o", label=name)
    axes[0].set(title="vorticity rel. error vs 256² reference", xlabel="t", yscale="log")
    axes[1].set(title="kinetic energy", xlabel="t")
    axes[0].legend()
    vmax = max(float(np.abs(w).max()) for w in panels.values())
    for ax, (name, w) in zip(axes[2:], panels.items(), strict=True):
        img = np.squeeze(w)
        ax.imshow(
            img.T, origin="lower", cmap="RdBu_r", vmin=-vmax, vmax=vmax, extent=(-1, 1, -1, 1)
        )
        ax.set_title(f"vorticity at t = {series[next(iter(series))]['time'][-1]:.2f}\n{name}")
    fig.tight_layout()
    png = RESULTS / "vortex_pair_vs_reference.png"
    fig.savefig(png, dpi=90)
    (RESULTS / "vortex_pair_vs_reference.json").write_text(json.dumps(series, indent=1))
    print(f"figure: {png}")


if __name__ == "__main__":
    main()
