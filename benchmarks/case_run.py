"""Run one configuration of a case in this process and print a JSON summary.

``python -m benchmarks.case_run CASE STEPS [section.key=value ...]``; ``benchmarks.run``
starts one such process per configuration, so every configuration gets its own peak
memory figure (``ru_maxrss``) and a clean OpenMP state.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import insr  # noqa: F401  (OpenMP defaults before torch loads)
from benchmarks.common import config, peak_rss_mib
from insr.log import RunLogReader
from insr.run import execute


def run_case(case: str, steps: int, sets: list[str]) -> dict:
    cfg = config(case, [f"case.steps={steps}", *sets])
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        execute(cfg, Path(tmp) / "r", overwrite=True)
        total = time.perf_counter() - t0
        with RunLogReader(Path(tmp) / "r" / "run.h5") as log:
            m = {k: np.asarray(v, dtype=float) for k, v in log.metrics().items()}
            threads = str(log.attrs.get("threads", "?"))
    wall = m["wall_seconds"]
    out = {
        "case": case,
        "steps": steps,
        "sets": sets,
        "total_seconds": total,
        "step0_seconds": float(wall[0]),
        "seconds_per_step": float(wall[1:].mean()) if len(wall) > 1 else float("nan"),
        "iterations_step0": float(m["iterations"][0]),
        "iterations_per_step": float(m["iterations"][1:].mean()) if len(wall) > 1 else 0.0,
        "cumulative_seconds": np.cumsum(wall).tolist(),
        "peak_rss_mib": peak_rss_mib(),
        "threads": threads,
        "metrics": {k: v.tolist() for k, v in m.items()},
    }
    return out


if __name__ == "__main__":
    print(json.dumps(run_case(sys.argv[1], int(sys.argv[2]), sys.argv[3:])))
