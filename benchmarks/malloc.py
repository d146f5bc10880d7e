"""glibc's allocator thresholds (``insr.perf.tune_malloc``, applied by every run): loss +
gradient evaluations in fresh processes with glibc's defaults and with insr's setting.

``PYTHONPATH=. nice -n 5 python benchmarks/malloc.py [--procs N]``

Workloads: the default advection1d step-1 loss (1,000 fixed samples, as in L-BFGS) and
the Taylor–Green pressure stage with fresh points (as Adam's resampling). Modes: glibc's
defaults (``INSR_MALLOC=system``), the same with ``torch._dynamo`` imported first (as
creating any ``torch.optim`` optimizer does; its heap growth used to hide the effect),
and insr's thresholds. One torch thread; CPU time per evaluation and minor page faults;
processes alternate, medians over processes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import json, resource, sys, time
import torch
torch.set_num_threads(1)
if sys.argv[1] == "dynamo":
    import torch._dynamo  # noqa: F401
from insr.perf import tune_malloc
state = tune_malloc()
from benchmarks.perf import loss_fn
out = {"state": state}
for name, case, stage, fresh in (("advection1d", "advection1d", 0, False),
                                 ("taylor_green pressure", "taylor_green", 1, True)):
    f = loss_fn(case, "ours", stage=stage, fresh=fresh)
    for _ in range(10):
        f()
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t0 = time.thread_time()
    for _ in range(100):
        f()
    out[name] = [(time.thread_time() - t0) * 10.0,
                 (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / 100]
print(json.dumps(out))
"""

MODES = {
    "glibc defaults (INSR_MALLOC=system)": ("system", "plain"),
    "glibc defaults, torch._dynamo imported first": ("system", "dynamo"),
    "insr's thresholds (the default)": ("", "plain"),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--procs", type=int, default=3, help="fresh processes per mode")
    a = ap.parse_args()
    runs: dict[str, list[dict]] = {k: [] for k in MODES}
    for _ in range(a.procs):
        for name, (malloc, arg) in MODES.items():
            env = {k: v for k, v in os.environ.items() if k != "INSR_MALLOC"}
            env["PYTHONPATH"] = str(ROOT)
            if malloc:
                env["INSR_MALLOC"] = malloc
            res = subprocess.run(
                [sys.executable, "-c", CHILD, arg],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            runs[name].append(json.loads(res.stdout.strip().splitlines()[-1]))
    work = ("advection1d", "taylor_green pressure")
    print("| allocator | " + " | ".join(f"{w}: CPU ms, faults / evaluation" for w in work) + " |")
    print("|---|" + "---|" * len(work))
    for name, rs in runs.items():
        cells = []
        for w in work:
            ms = statistics.median(r[w][0] for r in rs)
            faults = statistics.median(r[w][1] for r in rs)
            cells.append(f"{ms:.2f} ms, {faults:.0f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
