"""Pressure-style Laplacian loss on a hash grid: the closed-form Laplacian
(``GridField.closed_laplacian``, first-order backward) against autograd's Hessian diagonal
of the closed-form Jacobian (third-order backward), interleaved in one process.

``PYTHONPATH=. nice -n 10 python benchmarks/grid_laplacian.py [--samples 1024] [--rounds 5]``

One evaluation = Laplacian at ``--samples`` points of a 2D hash grid (the representation's
defaults, one output) + ``mean(lap^2)`` + backward to the parameters. One torch thread;
median of rounds. The machine may be shared: compare the ratio, not the milliseconds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

import insr  # noqa: E402,F401  (OpenMP defaults before torch loads)
from benchmarks.common import interleaved  # noqa: E402
from insr.derivatives import operators  # noqa: E402
from insr.fields import build_field  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    box = [[0.0, 6.283], [0.0, 6.283]]
    print(f"2D hash grid (defaults), {a.samples} points, Laplacian loss + backward, 1 thread")
    print("| interpolation | closed form ms | autograd ms | closed / autograd |")
    print("|---|---|---|---|")
    for interp in ("linear", "smoothstep"):
        torch.manual_seed(0)
        f = build_field("hashgrid", {"interpolation": interp}, box, 1)
        x = torch.rand(a.samples, 2) * 6.283

        def evaluation(closed: bool, f=f, x=x):
            def one() -> None:
                _, _, lap = operators.laplacian(f, x, create_graph=True, closed=closed)
                (lap**2).mean().backward()

            return one

        t = interleaved(
            {"closed": evaluation(True), "autograd": evaluation(False)},
            rounds=a.rounds,
            reps=5,
            warmup=2,
        )
        print(
            f"| {interp} | {1e3 * t['closed']:.1f} | {1e3 * t['autograd']:.1f} "
            f"| {t['closed'] / t['autograd']:.2f}× |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
