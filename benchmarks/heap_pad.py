"""The glibc heap top pad of insr/__init__.py: one loss evaluation + gradient of the
default advection1d step in fresh processes with and without it.

``PYTHONPATH=. nice -n 5 python benchmarks/heap_pad.py [--procs N]``

glibc's defaults (``INSR_HEAP_PAD=0``: insr leaves malloc alone), without and with
``torch._dynamo`` imported first (as creating any ``torch.optim`` optimizer does), and
insr's 64 MiB pad. Processes alternate; medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import sys, time, torch
torch.set_num_threads(1)
if sys.argv[1] == "dynamo":
    import torch._dynamo  # noqa: F401
from benchmarks.perf import _step_problems
_, _, problems = _step_problems("advection1d", [])
p = problems[0]
x = p.sample(torch.Generator().manual_seed(0))
def run(n):
    for _ in range(n):
        p.field.zero_grad(set_to_none=True)
        p.loss(x).backward()
run(30)
t0 = time.perf_counter()
run(300)
print((time.perf_counter() - t0) / 300 * 1e3)
"""

MODES = {
    "glibc defaults": ({"INSR_HEAP_PAD": "0"}, "plain"),
    "glibc defaults, torch._dynamo imported first": ({"INSR_HEAP_PAD": "0"}, "dynamo"),
    "insr's 64 MiB top pad": ({}, "plain"),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--procs", type=int, default=5, help="fresh processes per mode")
    a = ap.parse_args()
    out: dict[str, list[float]] = {k: [] for k in MODES}
    for _ in range(a.procs):
        for name, (extra, arg) in MODES.items():
            drop = ("MALLOC_TOP_PAD_", "INSR_HEAP_PAD")
            env = {k: v for k, v in os.environ.items() if k not in drop}
            env.update(extra, PYTHONPATH=str(ROOT))
            res = subprocess.run(
                [sys.executable, "-c", CHILD, arg],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            out[name].append(float(res.stdout.strip().splitlines()[-1]))
    print("| heap | ms per loss + gradient (median of processes) |")
    print("|---|---|")
    for name, v in out.items():
        print(f"| {name} | {statistics.median(v):.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
