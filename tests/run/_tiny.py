"""A tiny advection1d run (6 steps, 33 nodes, tens of iterations, one thread) and helpers to
start it in a subprocess and to compare logs bit for bit. Shared by the fault tests here."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np

from insr.log import RunLogReader, checkpoint

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "case.steps=6",
    "eval.resolution=33",
    "solver.max_iters=20",
    "solver.init.max_iters=30",
    "solver.check_every=10",
    "solver.samples=200",
    "run.threads=1",
    "run.device=cpu",
    "solver.substeps=1",
]
TINY_ARGS = [a for s in TINY for a in ("--set", s)]
TIMING = {"metrics/wall_seconds"}  # the only per-row numbers allowed to differ


def spawn(out: Path, *extra: str, cmd: str = "run") -> subprocess.Popen:
    """``insr run advection1d TINY --out out -q`` (or other args) in a new process."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    args = [sys.executable, "-m", "insr", cmd]
    if cmd == "run":
        args += ["advection1d", *TINY_ARGS, "--out", str(out), "-q"]
    return subprocess.Popen(
        [*args, *extra], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def completed(log: Path) -> int:
    """completed_steps of a (live) log; -1 while it cannot be read."""
    try:
        with h5py.File(log, "r", locking=False) as f:
            return int(f.attrs["completed_steps"])
    except Exception:
        return -1


def wait_rows(p: subprocess.Popen, log: Path, rows: int, timeout: float = 120) -> bool:
    """Wait until ``log`` has ``rows`` completed rows; False if ``p`` ended first."""
    deadline = time.monotonic() + timeout
    while p.poll() is None and time.monotonic() < deadline:
        if completed(log) >= rows:
            return True
        time.sleep(0.01)
    return False


def datasets(path: Path) -> dict[str, np.ndarray]:
    """Every per-step dataset's completed rows plus the checkpoint, by name."""
    out: dict[str, np.ndarray] = {}
    with RunLogReader(path) as log:
        for name in log.names():
            out[name] = log.series(name)
        log_path = log.path
    ck = checkpoint(log_path)
    if ck is not None:
        for k, v in ck[0].items():
            out[f"checkpoint/{k}"] = v
        out["checkpoint/step"] = np.asarray(ck[1]["step"])
    return out


def assert_identical(a: dict, b: dict, rows: int | None = None) -> None:
    """Same datasets, bit for bit (``rows``: only a's first rows against b's, no checkpoint)."""
    if rows is not None:
        a = {k: v for k, v in a.items() if not k.startswith("checkpoint")}
        b = {k: v for k, v in b.items() if not k.startswith("checkpoint")}
    assert set(a) == set(b), set(a) ^ set(b)
    for k in a:
        if k in TIMING:
            continue
        x, y = (a[k], b[k]) if rows is None else (a[k], b[k][:rows])
        assert x.shape == y.shape, (k, x.shape, y.shape)
        assert np.array_equal(x, y, equal_nan=True), f"{k} differs"


def error_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.strip()]
