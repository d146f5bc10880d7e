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
    /checkpoint           latest weights + RNG states for --resume (attrs: meta JSON, complete)

Crash safety (measured, see README "Robustness"):

* The file is written with ``libver=LIBVER`` = ("earliest", "v108"). With ``libver="latest"``
  (superblock v3) a writer killed by SIGKILL leaves the "file is open for write" flag set and
  *every* later open fails ("may use h5clear"): 30 of 30 kills in our test. With v108 the
  superblock has no such flag and all SIGKILLed files opened with their rows intact.
* The file is created under a temporary name, flushed, and renamed to ``run.h5``, so
  ``run.h5`` never exists half-initialized.
* A row is written in full and flushed *before* ``completed_steps`` is advanced, flushed and
  fsync'ed, so a reader that trusts only rows ``[0, completed_steps)`` never sees a
  half-written step. Datasets may hold an extra, incomplete row after a crash;
  :class:`RunLogReader` hides it and :meth:`RunLogWriter.reopen` drops it.
* The checkpoint is written to ``/checkpoint_new``, marked ``complete``, flushed, then swapped
  in for ``/checkpoint``; a crash between the two leaves ``/checkpoint_new`` complete and
  :func:`checkpoint` falls back to it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from insr import __version__
from insr.errors import RunFailure, UsageError

SCHEMA = 1
AXES = ("x", "y", "z")
LIBVER = ("earliest", "v108")
CKPT, CKPT_NEW = "checkpoint", "checkpoint_new"


class LogWriteError(RunFailure):
    """Writing to the log failed (disk full, I/O error); rows before it are intact."""

    def __init__(self, message: str, err: OSError) -> None:
        super().__init__(message)
        self.errno = err.errno
        self.reason = describe_oserror(err)


def describe_oserror(e: OSError) -> str:
    if e.errno == errno.ENOSPC:
        return "disk full (no space left on device)"
    if e.errno == errno.EDQUOT:
        return "disk quota exceeded"
    return e.strerror or str(e) or type(e).__name__


class RunLogWriter:
    """Appends one row per logged step; flushes (and fsyncs) after each."""

    def __init__(self, path: Path, h5: h5py.File) -> None:
        self.path = path
        self.h5 = h5

    @classmethod
    def create(
        cls, path: Path, *, config: dict[str, Any], axes: list[np.ndarray], attrs: dict[str, Any]
    ) -> RunLogWriter:
        tmp = path.with_name(path.name + ".tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with h5py.File(tmp, "w", libver=LIBVER) as h5:
                h5.attrs["schema"] = SCHEMA
                h5.attrs["insr_version"] = __version__
                h5.attrs["config"] = json.dumps(config)
                h5.attrs["created"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
                h5.attrs["completed_steps"] = 0
                h5.attrs["status"] = "running"
                for k, v in attrs.items():
                    h5.attrs[k] = v
                for name, ax in zip(AXES, axes, strict=False):
                    h5.create_dataset(f"grid/{name}", data=ax)
            os.replace(tmp, path)
            h5 = h5py.File(path, "r+", libver=LIBVER)
        except OSError as e:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise UsageError(f"cannot write run log {path}: {describe_oserror(e)}") from None
        return cls(path, h5)

    @classmethod
    def reopen(cls, path: Path, keep_rows: int) -> RunLogWriter:
        """Open an existing log to continue it (``--resume``), keeping rows ``[0, keep_rows)``
        and dropping everything after them (incomplete rows, rows past the checkpoint)."""
        try:
            h5 = h5py.File(path, "r+", libver=LIBVER)
        except OSError as e:
            hint = ""
            if "lock" in str(e).lower() or "already open" in str(e).lower():
                hint = " (is another insr process still writing it?)"
            raise UsageError(
                f"cannot open {path} for writing: {describe_oserror(e)}{hint}"
            ) from None
        for ds in _datasets(h5):
            if ds.shape and ds.maxshape[0] is None and ds.shape[0] > keep_rows:
                ds.resize(keep_rows, axis=0)
        h5.attrs["completed_steps"] = keep_rows
        h5.attrs["status"] = "running"
        h5.flush()
        return cls(path, h5)

    @property
    def completed_steps(self) -> int:
        return int(self.h5.attrs["completed_steps"])

    def _sync(self) -> None:
        """Flush HDF5's buffers and fsync the file (survives power loss, not just kill -9)."""
        self.h5.flush()
        with contextlib.suppress(Exception):  # non-sec2 drivers have no plain fd
            os.fsync(self.h5.id.get_vfd_handle())

    def append(self, arrays: dict[str, np.ndarray], metrics: dict[str, float]) -> None:
        """Write one row (all arrays and metrics), flush, then advance completed_steps.

        Raises :class:`LogWriteError` on an I/O error; ``completed_steps`` then still counts
        only the rows written before.
        """
        row = self.completed_steps
        items = dict(arrays)
        items.update({f"metrics/{k}": np.asarray(v, dtype=np.float64) for k, v in metrics.items()})
        try:
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
            self._sync()
        except OSError as e:
            raise LogWriteError(
                f"writing row {row} to {self.path} failed: {describe_oserror(e)}", e
            ) from None

    def save_checkpoint(self, state: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        """Replace the checkpoint group with ``state`` (name -> array) and JSON ``meta``.

        Written under a temporary name, marked complete and swapped in, so a crash leaves
        one valid copy (see :func:`checkpoint`).
        """
        try:
            if CKPT_NEW in self.h5:
                del self.h5[CKPT_NEW]
            g = self.h5.create_group(CKPT_NEW)
            for k, v in state.items():
                g.create_dataset(k, data=v)
            g.attrs["meta"] = json.dumps(meta)
            g.attrs["complete"] = 1
            self.h5.flush()
            if CKPT in self.h5:
                del self.h5[CKPT]
            self.h5.move(CKPT_NEW, CKPT)
            self._sync()
        except OSError as e:
            raise LogWriteError(
                f"writing the checkpoint to {self.path} failed: {describe_oserror(e)}", e
            ) from None

    def set_attrs(self, **attrs: Any) -> None:
        for k, v in attrs.items():
            self.h5.attrs[k] = v
        self.h5.flush()

    def close(self, status: str | None = None) -> None:
        """Record ``status`` and close; never raises (the rows are already safe on disk)."""
        if not self.h5.id.valid:
            return
        with contextlib.suppress(Exception):
            if status is not None:
                self.h5.attrs["status"] = status
            self._sync()
        with contextlib.suppress(Exception):
            self.h5.close()


def _datasets(h5: h5py.Group) -> list[h5py.Dataset]:
    out: list[h5py.Dataset] = []

    def visit(_name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset) and not obj.name.startswith(
            ("/grid", f"/{CKPT}", f"/{CKPT_NEW}")
        ):
            out.append(obj)

    h5.visititems(visit)
    return out


class RunLogReader:
    """Read-only view of a run log that exposes only completed rows, lazily.

    Every problem with the file (missing, not HDF5, truncated, not an insr log, newer
    schema, inconsistent row counts, unreadable data) is a one-line :class:`UsageError`.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = resolve_log_path(path)
        try:
            self.h5 = h5py.File(self.path, "r", locking=False)
        except OSError as e:
            why = str(e).split("(")[-1].rstrip(")") if "(" in str(e) else describe_oserror(e)
            raise UsageError(
                f"{self.path} is not a readable HDF5 file (corrupt or truncated?): {why}"
            ) from None
        try:
            self._validate()
        except UsageError:
            self.h5.close()
            raise
        except Exception as e:  # damaged metadata surfaces as all kinds of errors
            self.h5.close()
            raise UsageError(f"{self.path} is a damaged run log: {type(e).__name__}: {e}") from None

    def _validate(self) -> None:
        a = self.h5.attrs
        if "schema" not in a or "completed_steps" not in a or "config" not in a:
            raise UsageError(f"{self.path} is an HDF5 file but not an insr run log (no schema)")
        try:
            schema, n = int(a["schema"]), int(a["completed_steps"])
        except (TypeError, ValueError):
            raise UsageError(
                f"{self.path}: schema/completed_steps attributes are not integers"
            ) from None
        if schema > SCHEMA:
            raise UsageError(f"{self.path} has log schema {schema}; this insr reads <= {SCHEMA}")
        if n < 0:
            raise UsageError(f"{self.path}: completed_steps = {n} is negative (damaged log)")
        if n and "step" not in self.h5:
            raise UsageError(
                f"{self.path}: completed_steps = {n} but no /step dataset (damaged log)"
            )
        if n and self.h5["step"].shape[0] < n:
            raise UsageError(
                f"{self.path}: completed_steps = {n} but /step has only "
                f"{self.h5['step'].shape[0]} rows (damaged log)"
            )
        try:
            json.loads(a["config"])
        except (TypeError, ValueError):
            raise UsageError(
                f"{self.path}: the stored config is not valid JSON (damaged log)"
            ) from None

    def __enter__(self) -> RunLogReader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self.h5.id.valid:
            self.h5.close()

    @contextlib.contextmanager
    def _reading(self, what: str):
        try:
            yield
        except UsageError:
            raise
        except KeyError:
            raise UsageError(f"{self.path} has no dataset '{what}'") from None
        except (OSError, RuntimeError, ValueError) as e:
            raise UsageError(f"cannot read '{what}' from {self.path} (damaged log?): {e}") from None

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
        with self._reading("grid"):
            return [self.h5[f"grid/{a}"][()] for a in AXES if f"grid/{a}" in self.h5]

    def names(self) -> list[str]:
        """Per-step dataset names (relative, e.g. 'field', 'gradient/fd', 'metrics/loss')."""
        with self._reading("/"):
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
        with self._reading(name):
            return self.h5[name][i]

    def series(self, name: str) -> np.ndarray:
        """All completed rows of a dataset (use for small ones such as metrics)."""
        with self._reading(name):
            return self.h5[name][: self.n]

    def metrics(self) -> dict[str, np.ndarray]:
        with self._reading("metrics"):
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
    if not p.is_file():
        raise UsageError(f"{p} is not a file")
    return p


def _group_arrays(g: h5py.Group) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset):
            arrays[name] = obj[()]

    g.visititems(visit)
    return arrays


def checkpoint(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
    """Latest complete checkpoint of a log (arrays by name, metadata), or None if none."""
    try:
        with h5py.File(path, "r", locking=False) as h5:
            for name in (CKPT, CKPT_NEW):
                g = h5.get(name)
                if g is None or not g.attrs.get("complete", 0):
                    continue
                return _group_arrays(g), json.loads(g.attrs["meta"])
    except (OSError, KeyError, ValueError) as e:
        raise RunFailure(f"cannot read the checkpoint in {path}: {e}") from None
    return None
