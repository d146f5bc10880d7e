"""The HDF5 run log: one ``run.h5`` per run, written step by step.

Layout (schema :data:`SCHEMA`)::

    /                     attrs: schema, insr_version, case, representation, config (JSON),
                                 created, completed_steps, status, dim, channels, n_params
    /grid/x, /grid/y, /grid/z    evaluation grid axes (nodal, box faces included)
    /step   (S,)  int     time-step index of each row (row 0 = step 0 = initial fit)
    /time   (S,)  float   t = step * dt
    /field  (S, *grid, c)
    /gradient/<strategy>  (S, *grid, c, d)   d u_i / d x_j by each logged strategy
    /exact/field, /exact/gradient            when the case has an exact solution
    /metrics/<name> (S,)  field_rmse, field_max_error, gradient_rel_error_<s>,
                          gradient_noise_<s>, loss, iterations, wall_seconds, ...
    /<other>/...          equation-specific arrays (e.g. /fluid/pressure)
    /checkpoint           latest weights (+ RNG state) for --resume

Crash safety: a row is written in full and flushed *before* ``completed_steps`` is
advanced and flushed again, so a reader that trusts only rows ``[0, completed_steps)``
never sees a half-written step. Datasets may hold an extra, incomplete row after a crash;
:class:`RunLogReader` hides it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from insr import __version__
from insr.errors import RunFailure, UsageError

SCHEMA = 1
AXES = ("x", "y", "z")


class RunLogWriter:
    """Appends one row per logged step; flushes after each."""

    def __init__(self, path: Path, h5: h5py.File) -> None:
        self.path = path
        self.h5 = h5

    @classmethod
    def create(
        cls, path: Path, *, config: dict[str, Any], axes: list[np.ndarray], attrs: dict[str, Any]
    ) -> RunLogWriter:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            h5 = h5py.File(path, "w", libver="latest")
        except OSError as e:
            raise UsageError(f"cannot write run log {path}: {e}") from None
        h5.attrs["schema"] = SCHEMA
        h5.attrs["insr_version"] = __version__
        h5.attrs["config"] = json.dumps(config)
        h5.attrs["created"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        h5.attrs["completed_steps"] = 0
        h5.attrs["status"] = "running"
        for k, v in attrs.items():
            h5.attrs[k] = v
        for name, ax in zip(AXES, axes):
            h5.create_dataset(f"grid/{name}", data=ax)
        h5.flush()
        return cls(path, h5)

    @classmethod
    def reopen(cls, path: Path) -> RunLogWriter:
        """Open an existing log to continue it (``--resume``); drops rows past completed_steps."""
        h5 = h5py.File(path, "r+", libver="latest")
        n = int(h5.attrs["completed_steps"])
        for ds in _datasets(h5):
            if ds.shape and ds.maxshape[0] is None and ds.shape[0] > n:
                ds.resize(n, axis=0)
        h5.attrs["status"] = "running"
        h5.flush()
        return cls(path, h5)

    @property
    def completed_steps(self) -> int:
        return int(self.h5.attrs["completed_steps"])

    def append(self, arrays: dict[str, np.ndarray], metrics: dict[str, float]) -> None:
        """Write one row (all arrays and metrics), flush, then advance completed_steps."""
        row = self.completed_steps
        items = dict(arrays)
        items.update({f"metrics/{k}": np.asarray(v, dtype=np.float64) for k, v in metrics.items()})
        for name, value in items.items():
            value = np.asarray(value)
            if name not in self.h5:
                ds = self.h5.create_dataset(
                    name,
                    shape=(0, *value.shape),
                    maxshape=(None, *value.shape),
                    dtype=value.dtype,
                    chunks=(1, *value.shape) if value.ndim else (1024,),
                    fillvalue=np.nan if value.dtype.kind == "f" else 0,
                )
            else:
                ds = self.h5[name]
            if ds.shape[0] < row + 1:
                ds.resize(row + 1, axis=0)
            ds[row] = value
        self.h5.flush()
        self.h5.attrs["completed_steps"] = row + 1
        self.h5.flush()

    def save_checkpoint(self, state: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        """Replace the checkpoint group with ``state`` (name -> array) and JSON ``meta``.

        Written under a temporary name and swapped in, so a crash leaves one valid copy.
        """
        tmp = "checkpoint_new"
        if tmp in self.h5:
            del self.h5[tmp]
        g = self.h5.create_group(tmp)
        for k, v in state.items():
            g.create_dataset(k, data=v)
        g.attrs["meta"] = json.dumps(meta)
        self.h5.flush()
        if "checkpoint" in self.h5:
            del self.h5["checkpoint"]
        self.h5.move(tmp, "checkpoint")
        self.h5.flush()

    def set_attrs(self, **attrs: Any) -> None:
        for k, v in attrs.items():
            self.h5.attrs[k] = v
        self.h5.flush()

    def close(self, status: str | None = None) -> None:
        if not self.h5.id.valid:
            return
        if status is not None:
            self.h5.attrs["status"] = status
        self.h5.flush()
        self.h5.close()


def _datasets(h5: h5py.Group) -> list[h5py.Dataset]:
    out: list[h5py.Dataset] = []

    def visit(_name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset) and not obj.name.startswith(("/grid", "/checkpoint")):
            out.append(obj)

    h5.visititems(visit)
    return out


class RunLogReader:
    """Read-only view of a run log that exposes only completed rows, lazily."""

    def __init__(self, path: str | Path) -> None:
        self.path = resolve_log_path(path)
        try:
            self.h5 = h5py.File(self.path, "r", libver="latest", locking=False)
        except OSError:
            raise UsageError(f"{self.path} is not a readable HDF5 file") from None
        if "schema" not in self.h5.attrs or "completed_steps" not in self.h5.attrs:
            self.h5.close()
            raise UsageError(f"{self.path} is an HDF5 file but not an insr run log")
        if int(self.h5.attrs["schema"]) > SCHEMA:
            self.h5.close()
            raise UsageError(
                f"{self.path} has log schema {self.h5.attrs['schema']}; this insr reads <= {SCHEMA}"
            )

    def __enter__(self) -> RunLogReader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self.h5.id.valid:
            self.h5.close()

    @property
    def n(self) -> int:
        """Number of completed rows."""
        return int(self.h5.attrs["completed_steps"])

    @property
    def attrs(self) -> dict[str, Any]:
        return {k: (v.item() if hasattr(v, "item") else v) for k, v in self.h5.attrs.items()}

    @property
    def config(self) -> dict[str, Any]:
        return json.loads(self.h5.attrs["config"])

    @property
    def status(self) -> str:
        return str(self.h5.attrs.get("status", "unknown"))

    def axes(self) -> list[np.ndarray]:
        return [self.h5[f"grid/{a}"][()] for a in AXES if f"grid/{a}" in self.h5]

    def names(self) -> list[str]:
        """Per-step dataset names (relative, e.g. 'field', 'gradient/fd', 'metrics/loss')."""
        return [ds.name.lstrip("/") for ds in _datasets(self.h5)]

    def has(self, name: str) -> bool:
        return name in self.h5

    def row(self, name: str, i: int) -> np.ndarray:
        """Row ``i`` of a per-step dataset (negative indices count from the last completed)."""
        n = self.n
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise UsageError(f"step row {i} is out of range: the log has {n} completed rows")
        return self.h5[name][i]

    def series(self, name: str) -> np.ndarray:
        """All completed rows of a dataset (use for small ones such as metrics)."""
        return self.h5[name][: self.n]

    def metrics(self) -> dict[str, np.ndarray]:
        if "metrics" not in self.h5:
            return {}
        return {k: self.h5["metrics"][k][: self.n] for k in self.h5["metrics"]}


def resolve_log_path(path: str | Path) -> Path:
    """A run directory or a ``run.h5`` path -> the log file path (checked to exist)."""
    p = Path(path)
    if p.is_dir():
        p = p / "run.h5"
    if not p.exists():
        raise UsageError(f"no run log at {p}")
    return p


def checkpoint(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Latest checkpoint of a log: arrays and metadata."""
    with h5py.File(path, "r", locking=False) as h5:
        if "checkpoint" not in h5:
            raise RunFailure(f"{path} holds no checkpoint to resume from")
        g = h5["checkpoint"]
        return {k: g[k][()] for k in g}, json.loads(g.attrs["meta"])
