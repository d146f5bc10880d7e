"""Time RunLogWriter.append with and without the netCDF-4 dimension scales.

Compares, in one process, the current writer against the writer of an older insr checkout
given as a file path (``python benchmarks/log_append.py OLD_LOG_PY``): rows of a 1D-like
(401 x 1, two gradients, exact, 10 metrics) and a 2D-like (64 x 64) log, each row flushed
and fsynced as in a run. Prints seconds per row and the ratio new/old.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import insr.log as new


def load(path: str):
    spec = importlib.util.spec_from_file_location("insr_log_old", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def row(shape: tuple[int, ...], step: int) -> tuple[dict, dict]:
    d = len(shape)
    arrays = {
        "field": np.random.rand(*shape, 1).astype(np.float32),
        "gradient/autodiff": np.random.rand(*shape, 1, d).astype(np.float32),
        "gradient/fd": np.random.rand(*shape, 1, d).astype(np.float32),
        "exact/field": np.random.rand(*shape, 1).astype(np.float32),
        "exact/gradient": np.random.rand(*shape, 1, d).astype(np.float32),
        "step": np.int64(step),
        "time": np.float64(0.1 * step),
    }
    return arrays, {f"m{i}": float(i) for i in range(10)}


def per_row(mod, shape: tuple[int, ...], rows: int, tmp: Path) -> float:
    axes = [np.linspace(-1, 1, n) for n in shape]
    w = mod.RunLogWriter.create(
        tmp / f"{mod.__name__}-{len(shape)}.h5",
        config={},
        axes=axes,
        attrs={"channels": 1, "dim": len(shape)},
    )
    data = [row(shape, i) for i in range(rows)]
    t0 = time.perf_counter()
    for a, m in data:
        w.append(a, m)
    dt = (time.perf_counter() - t0) / rows
    w.close("complete")
    return dt


if __name__ == "__main__":
    old = load(sys.argv[1])
    with tempfile.TemporaryDirectory() as d:
        for shape in [(401,), (64, 64)]:
            a = per_row(old, shape, 100, Path(d))
            b = per_row(new, shape, 100, Path(d))
            print(
                f"grid {shape}: old {a * 1e3:.2f} ms/row, new {b * 1e3:.2f} ms/row, "
                f"new/old {b / a:.2f}"
            )
