"""Shared helpers of the benchmark suite: configs, interleaved timing, JSON output.

The machine these run on may be shared: every comparison times its alternatives
interleaved in the same process (round-robin, median of rounds), so ratios stay
meaningful even when absolute figures are inflated by contention.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

import insr  # noqa: F401  (sets OpenMP defaults before torch loads)
from insr.config import load_config

RESULTS = Path(__file__).resolve().parent / "results"


def config(case: str, sets: list[str] | None = None):
    """A validated RunConfig for ``case`` with ``--set`` style overrides."""
    return load_config(case, [], list(sets or []))


def interleaved(
    fns: dict[str, Callable[[], None]], *, rounds: int = 5, reps: int = 20, warmup: int = 5
) -> dict[str, float]:
    """Median seconds per call of each function, timed round-robin so that load
    changes hit every alternative alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(reps):
                fn()
            samples[k].append((time.perf_counter() - t0) / reps)
    return {k: statistics.median(v) for k, v in samples.items()}


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (MiB, from getrusage)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def machine() -> dict:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "load_avg": list(os.getloadavg()),
        "platform": platform.platform(),
        "ld_preload": os.environ.get("LD_PRELOAD", ""),
    }


def write_json(name: str, data: dict) -> Path:
    """Write ``benchmarks/results/<name>-<timestamp>.json`` and return its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"machine": machine(), **data}, indent=2))
    return path
