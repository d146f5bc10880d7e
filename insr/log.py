"""The HDF5 run log: one ``run.h5`` per run, written step by step.

Layout (schema :data:`SCHEMA`)::

    /                     attrs: schema, insr_version, case, representation, config (JSON),
                                 created, completed_steps, status, dim, channels, n_params,
                                 fit_verdict, fit_verdict_from_step (insr/verdict.py)
    /grid/x, /grid/y, /grid/z    evaluation grid axes (nodal, box faces included)
    /step   (S,)  int     time-step index of each row (row 0 = step 0 = initial fit)
    /time   (S,)  float   t = step * dt
    /field  (S, *grid, c)
    /gradient/<strategy>  (S, *grid, c, d)   d u_i / d x_j by each logged strategy
    /exact/field, /exact/gradient            when the case has an exact solution
    /metrics/<name> (S,)  field_rmse, field_max_error, gradient_rel_error_<s>,
                          gradient_noise_<s>, fit_error, fit_verdict, loss, iterations,
                          wall_seconds, ...
    /<other>/...          equation-specific arrays (e.g. /fluid/pressure)
    /checkpoint           latest weights + RNG states for --resume (attrs: meta JSON, complete)
    /x, /y, /channel      netCDF-4 coordinate variables (dimension scales) of the root group;
    /<group>/step, time, x, y, channel, axis   the same per data group (attr insr_coordinate)

Every per-step dataset has one row per logged step (NaN-padded where it does not apply),
dimension scales (step, x[, y][, channel][, axis]) and ``units``/``long_name`` attributes
(:data:`VARIABLE_DOCS`), so h5netcdf/xarray read it as netCDF-4. 2D logs get an XDMF sidecar
when the writer closes (:func:`export_xdmf`, :mod:`insr.xdmf`). Readers never take the HDF5
file lock (:func:`open_readonly`), so a live run can be read.

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
import gc
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from insr import __version__
from insr.errors import RunFailure, UsageError, check_path_length
from insr.xdmf import write_xdmf

SCHEMA = 1
AXES = ("x", "y", "z")
LIBVER = ("earliest", "v108")
CKPT, CKPT_NEW = "checkpoint", "checkpoint_new"


# Bytes always left free on the log's file system beyond the next write's estimate: enough
# to record the final status and close the file. Writes that would dip into it are refused
# *before* HDF5 is touched, because HDF5 continues on an inconsistent metadata cache after a
# failed write and can leave a file that no longer opens.
RESERVE = 128 * 1024
OBJECT_BYTES = 10 * 1024  # a new dataset: header, first chunk (8 KiB for scalars), scales
WRITE_ERRORS = (OSError, RuntimeError)  # h5py reports ENOSPC on flush as RuntimeError


class LogWriteError(RunFailure):
    """Writing to the log failed (disk full, I/O error); rows before it are intact."""

    def __init__(self, message: str, err: BaseException) -> None:
        super().__init__(message)
        e = as_oserror(err)
        self.errno = e.errno
        self.reason = describe_oserror(e)


def _quiet(_unraisable: Any) -> None:
    """An unraisable-exception hook that drops HDF5's destructor errors after a failed write."""


def as_oserror(e: BaseException) -> OSError:
    """An OSError for ``e``; h5py's RuntimeErrors carry the errno only in their text."""
    if isinstance(e, OSError):
        return e
    m = re.search(r"errno = (\d+), error message = '([^']*)'", str(e))
    if m:
        return OSError(int(m.group(1)), m.group(2))
    return OSError(None, " ".join(str(e).split())[:200] or type(e).__name__)


def describe_oserror(e: OSError) -> str:
    if e.errno == errno.ENOSPC:
        return "disk full (no space left on device)"
    if e.errno == errno.EDQUOT:
        return "disk quota exceeded"
    return e.strerror or str(e) or type(e).__name__


def free_bytes(path: str | Path) -> int | None:
    """Bytes an unprivileged writer may still use on the file system of ``path`` (its
    nearest existing parent), or None when that cannot be told."""
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        st = os.statvfs(p)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def mount_point(path: str | Path) -> Path:
    """The mount point of the file system holding ``path`` (for messages)."""
    p = Path(os.path.abspath(path))
    while not p.exists() and p != p.parent:
        p = p.parent
    while not os.path.ismount(p) and p != p.parent:
        p = p.parent
    return p


def kib(n: float) -> str:
    return f"{n / 2**20:.3g} MiB" if n >= 2**20 else f"{n / 1024:.0f} KiB"


def check_free(path: Path, need: int, what: str) -> None:
    """Raise :class:`LogWriteError` (ENOSPC) unless ``need`` + :data:`RESERVE` bytes are free
    on the file system of ``path``."""
    free = free_bytes(path.parent)
    if free is None or free >= need + RESERVE:
        return
    err = OSError(errno.ENOSPC, "No space left on device")
    raise LogWriteError(
        f"not enough disk space on {mount_point(path)} to write {what} to {path}: "
        f"{kib(free)} free, the write needs about {kib(need)} plus a {kib(RESERVE)} reserve",
        err,
    )


def estimate_log_bytes(row: int, rows: int, datasets: int, checkpoint: int) -> int:
    """Upper estimate of a finished log's size: ``rows`` rows of ``row`` bytes (one chunk per
    dataset per row, plus chunk-index entries), ``datasets`` datasets' headers and scales,
    two copies of a ``checkpoint``-byte checkpoint (old + new while swapping), and fixed
    metadata (superblock, root group, grid, coordinates)."""
    per_row_index = 64 * datasets  # v1 B-tree entries and node growth, amortized
    return rows * (row + per_row_index) + datasets * OBJECT_BYTES + 2 * checkpoint + 64 * 1024


# ------------------------------------------------------------ netCDF-4 dimension scales
# Every per-step dataset has dimensions (step, x[, y[, z]][, channel][, axis]) attached as
# HDF5 dimension scales in the netCDF-4 convention, so h5netcdf/xarray see named dimensions
# with coordinates. netCDF dimensions are per group, so each group holding per-step data
# (gradient, exact, metrics, fluid, ...) carries its own small copies of the coordinates
# (marked with the attribute COORD_ATTR; :meth:`RunLogReader.names` leaves them out).
# Units are the case's own: cases are stated in nondimensional length and time units.
STEP_COORDS = ("step", "time")
COORD_ATTR = "insr_coordinate"
LENGTH, TIME, FIELD = "case length unit", "case time unit", "case field unit"
NOT_A_VARIABLE = "This is a netCDF dimension but not a netCDF variable"

# name -> (units or None, long_name); "<s>" / "<k>" stand for a strategy / sub-problem name
VARIABLE_DOCS: dict[str, tuple[str | None, str]] = {
    "step": ("1", "time-step index (0 = fit of the initial condition)"),
    "time": (TIME, "simulation time t = step * dt"),
    "x": (LENGTH, "x coordinate of the nodal evaluation grid (box faces included)"),
    "y": (LENGTH, "y coordinate of the nodal evaluation grid (box faces included)"),
    "z": (LENGTH, "z coordinate of the nodal evaluation grid (box faces included)"),
    "channel": ("1", "field component index (u_i)"),
    "axis": ("1", "derivative direction index j of d u_i / d x_j (0 = x, 1 = y, 2 = z)"),
    "field": (FIELD, "field u of the neural representation on the evaluation grid"),
    "gradient/<s>": (f"{FIELD} / {LENGTH}", "Jacobian d u_i / d x_j by derivative strategy <s>"),
    "exact/field": (FIELD, "exact (or reference) field u*"),
    "exact/gradient": (f"{FIELD} / {LENGTH}", "exact (or reference) Jacobian d u*_i / d x_j"),
    "fluid/vorticity": (f"1 / {TIME}", "vorticity dv/dx - du/dy (first logged strategy)"),
    "fluid/divergence": (f"1 / {TIME}", "divergence du/dx + dv/dy (first logged strategy)"),
    "fluid/pressure": (None, "pressure field output divided by dt (p / dt)"),
    "metrics/field_rmse": (FIELD, "sqrt(mean((u - u*)^2)) over the evaluation grid"),
    "metrics/field_max_error": (FIELD, "max |u - u*| over the evaluation grid"),
    "metrics/gradient_rel_error_<s>": (
        "1",
        "||grad u - grad u*||_2 / ||grad u*||_2 over the grid, gradient by strategy <s>",
    ),
    "metrics/gradient_noise_<s>": (
        "1",
        "high-wavenumber part of the gradient error (strategy <s>) relative to ||grad u*||_2 "
        "(even extension, modes above 2x the band holding 99.9% of the exact gradient energy)",
    ),
    "metrics/loss": (None, "sum over the step's sub-problems of the final training loss"),
    "metrics/loss_<k>": (None, "final training loss of sub-problem <k> (NaN: not in this step)"),
    "metrics/iterations": ("1", "optimizer iterations of the step, all sub-problems"),
    "metrics/iterations_<k>": ("1", "optimizer iterations of sub-problem <k> (NaN: not run)"),
    "metrics/wall_seconds": ("s", "wall-clock seconds of the step's optimization"),
    "metrics/fit_error": (
        "1",
        "max |u - u*| / max |u*| over the evaluation grid (insr/verdict.py)",
    ),
    "metrics/fit_verdict": (
        "1",
        "fit verdict of the step from fit_error: 0 = ok, 1 = poor, 2 = failed "
        "(thresholds in insr/verdict.py; NaN: no truth at this step)",
    ),
    "metrics/retries": ("1", "retries of the step after a divergence (--on-diverge retry)"),
    "metrics/kinetic_energy": (f"{LENGTH}^4 / {TIME}^2", "1/2 integral |u|^2 dA (trapezoid)"),
    "metrics/enstrophy": (f"{LENGTH}^2 / {TIME}^2", "1/2 integral vorticity^2 dA (trapezoid)"),
    "metrics/divergence_rms": (f"1 / {TIME}", "RMS of fluid/divergence over the grid"),
    "metrics/velocity_rel_error": ("1", "||u - u*||_2 / ||u*||_2"),
    "metrics/vorticity_rel_error": ("1", "||w - w*||_2 / ||w*||_2, w = vorticity"),
}


def describe(name: str) -> tuple[str | None, str] | None:
    """(units, long_name) of a logged variable by its path, or None when undocumented."""
    if name in VARIABLE_DOCS:
        return VARIABLE_DOCS[name]
    for key, (units, doc) in VARIABLE_DOCS.items():
        tag = "<s>" if "<s>" in key else "<k>" if "<k>" in key else None
        head = key.split(tag)[0] if tag else ""
        if tag and name.startswith(head) and len(name) > len(head):
            return units, doc.replace(tag, repr(name[len(head) :]))
    return None


def _label(ds: h5py.Dataset, name: str) -> None:
    doc = describe(name)
    if doc is None:
        return
    units, long_name = doc
    if units is not None:
        ds.attrs["units"] = units
    ds.attrs["long_name"] = long_name


def _static_coords(
    g: h5py.Group, axes: list[np.ndarray], channels: int, needed: tuple[str, ...]
) -> None:
    """Coordinate variables among x, y, z, channel, axis of group ``g`` (copies are small)."""
    values = {name: np.asarray(ax) for name, ax in zip(AXES, axes, strict=False)}
    values["channel"] = np.arange(channels, dtype=np.int64)
    values["axis"] = np.arange(len(axes), dtype=np.int64)
    for name in needed:
        if name in g or name not in values or not len(values[name]):
            continue
        ds = g.create_dataset(name, data=values[name])
        ds.make_scale(name)
        _label(ds, name)
        if g.name != "/":
            ds.attrs[COORD_ATTR] = 1


def _step_coord(g: h5py.Group, name: str) -> h5py.Dataset:
    dtype = np.int64 if name == "step" else np.float64
    ds = g.create_dataset(
        name,
        shape=(0,),
        maxshape=(None,),
        dtype=dtype,
        chunks=(1024,),
        fillvalue=0 if name == "step" else np.nan,
    )
    if name == "step":
        ds.make_scale("step")
    else:
        ds.dims[0].attach_scale(g["step"])
    _label(ds, name)
    if g.name != "/":
        ds.attrs[COORD_ATTR] = 1
    return ds


def _is_scale(ds: h5py.Dataset) -> bool:
    return bool(h5py.h5ds.is_scale(ds.id))


def _dim_names(shape: tuple[int, ...], grid: tuple[int, ...], channels: int) -> list[str]:
    """Dimension names of a per-step dataset of ``shape`` (step first), or [] if unknown."""
    nd = len(grid)
    rest = shape[1:]
    if not rest:
        return ["step"]
    if tuple(rest[:nd]) != grid:
        return []
    names = ["step", *AXES[:nd]]
    tail = rest[nd:]
    if len(tail) >= 1:
        if tail[0] != channels:
            return []
        names.append("channel")
    if len(tail) == 2:
        if tail[1] != nd:
            return []
        names.append("axis")
    return names if len(names) == len(shape) else []


class RunLogWriter:
    """Appends one row per logged step; flushes (and fsyncs) after each."""

    def __init__(self, path: Path, h5: h5py.File) -> None:
        self.path = path
        self.h5 = h5
        self.axes = [h5[f"grid/{a}"][()] for a in AXES if f"grid/{a}" in h5]
        self.grid = tuple(len(a) for a in self.axes)
        self.channels = int(h5.attrs.get("channels", 0))
        # scales only in logs created with them (a resumed older log stays as it was)
        self.scaled = "step" in h5 and _is_scale(h5["step"])
        self.per_step = [ds for ds in _datasets(h5) if ds.shape and ds.maxshape[0] is None]
        # what append needs of each per-step dataset, looked up once (h5py's name, member
        # and attribute lookups cost more than writing a metric's row)
        self._named: dict[str, h5py.Dataset] = {}
        self._coord_of: dict[int, str | None] = {}  # id(ds) -> the step coordinate it copies
        for ds in self.per_step:
            self._remember(ds)
        self.broken = False  # a write failed inside HDF5: write nothing more
        self._growth = {"row": 0, "checkpoint": 0}  # largest file growth seen per write

    def _remember(self, ds: h5py.Dataset) -> None:
        name = ds.name
        self._named[name.lstrip("/")] = ds
        base = name.rsplit("/", 1)[-1]
        copies = base in STEP_COORDS and COORD_ATTR in ds.attrs
        self._coord_of[id(ds)] = base if copies else None

    def _allocated(self) -> int:
        """Bytes the log occupies on disk (allocated blocks)."""
        try:
            return os.stat(self.path).st_blocks * 512
        except OSError:
            return 0

    @contextlib.contextmanager
    def _writing(self, what: str, payload: int, new_objects: int) -> Iterator[None]:
        """Check free space for a write of ``payload`` bytes creating ``new_objects`` datasets,
        then run it; any I/O failure (OSError, h5py RuntimeError) -> :class:`LogWriteError`."""
        kind = "checkpoint" if what == "the checkpoint" else "row"
        if self.broken:
            raise LogWriteError(f"the log {self.path} is closed after a failed write", OSError())
        need = max(2 * payload + OBJECT_BYTES * new_objects, 2 * self._growth[kind])
        check_free(self.path, need, what)
        before = self._allocated()
        hook = sys.unraisablehook  # HDF5 errors from destructors during a failed write
        try:
            yield
        except WRITE_ERRORS as e:
            self.broken = True
            sys.unraisablehook = _quiet
            raise LogWriteError(
                f"writing {what} to {self.path} on {mount_point(self.path)} failed: "
                f"{describe_oserror(as_oserror(e))}",
                e,
            ) from None
        finally:
            if self.broken:
                gc.collect()
            sys.unraisablehook = hook
        if not new_objects:  # a write that creates datasets says nothing about the next
            self._growth[kind] = max(self._growth[kind], self._allocated() - before)

    @classmethod
    def create(
        cls, path: Path, *, config: dict[str, Any], axes: list[np.ndarray], attrs: dict[str, Any]
    ) -> RunLogWriter:
        tmp = path.with_name(path.name + ".tmp")
        grid = sum(np.asarray(ax).nbytes for ax in axes)
        check_free(path, 4 * grid + len(json.dumps(config)) + 16 * OBJECT_BYTES, "a new log")
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
                _static_coords(h5, axes, int(attrs.get("channels", 0)), (*AXES, "channel"))
                for name in STEP_COORDS:
                    _step_coord(h5, name)
            os.replace(tmp, path)
            h5 = h5py.File(path, "r+", libver=LIBVER)
        except WRITE_ERRORS as e:
            with contextlib.suppress(OSError):
                tmp.unlink()
            err = as_oserror(e)
            msg = f"cannot write run log {path}: {describe_oserror(err)}"
            if err.errno in (errno.ENOSPC, errno.EDQUOT):
                raise LogWriteError(f"{msg} on {mount_point(path)}", err) from None
            raise UsageError(msg) from None
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
        # rows past keep_rows stay allocated and are overwritten in place by the resumed run
        # (readers see only [0, completed_steps)), so a resume does not grow the file
        try:
            h5.attrs["completed_steps"] = keep_rows
            h5.attrs["status"] = "running"
            h5.flush()
        except WRITE_ERRORS as e:
            h5.close()
            raise LogWriteError(
                f"cannot continue {path}: {describe_oserror(as_oserror(e))}", e
            ) from None
        return cls(path, h5)

    @property
    def completed_steps(self) -> int:
        return int(self.h5.attrs["completed_steps"])

    def _sync(self) -> None:
        """Flush HDF5's buffers and fsync the file (survives power loss, not just kill -9)."""
        self.h5.flush()
        with contextlib.suppress(Exception):  # non-sec2 drivers have no plain fd
            os.fsync(self.h5.id.get_vfd_handle())

    def append(
        self,
        arrays: dict[str, np.ndarray],
        metrics: dict[str, float],
        attrs: dict[str, Any] | None = None,
    ) -> None:
        """Write one row (all arrays and metrics) and root ``attrs``, flush, then advance
        completed_steps.

        Every per-step dataset gets the row: one not in ``arrays``/``metrics`` this time is
        padded with its fill value (NaN for floats), so all have one row per logged step.
        Raises :class:`LogWriteError` on an I/O error; ``completed_steps`` then still counts
        only the rows written before.
        """
        row = self.completed_steps
        items = dict(arrays)
        items.update({f"metrics/{k}": np.asarray(v, dtype=np.float64) for k, v in metrics.items()})
        coords = {k: np.asarray(items[k]) for k in STEP_COORDS if k in items}
        payload = sum(np.asarray(v).nbytes for v in items.values())
        new = sum(name not in self._named and name not in self.h5 for name in items)
        with self._writing(f"row {row}", payload, new):
            written = set()
            for name, value in items.items():
                value = np.asarray(value)
                ds = self._named.get(name)
                if ds is None:
                    ds = self.h5[name] if name in self.h5 else self._create(name, value, row)
                if ds.shape[0] < row + 1:
                    ds.resize(row + 1, axis=0)
                ds[row] = value
                written.add(id(ds))
            for k, v in (attrs or {}).items():
                self.h5.attrs[k] = v
            for ds in self.per_step:  # group coordinate copies, datasets absent this row
                if id(ds) in written:
                    continue
                base = self._coord_of.get(id(ds))
                copy = coords.get(base) if base is not None else None
                if ds.shape[0] < row + 1:
                    ds.resize(row + 1, axis=0)
                elif copy is None:
                    ds[row] = ds.fillvalue  # a stale row left by a resumed run's log
                if copy is not None:
                    ds[row] = copy
            self.h5.flush()
            self.h5.attrs["completed_steps"] = row + 1
            self._sync()

    def _create(self, name: str, value: np.ndarray, row: int) -> h5py.Dataset:
        """A new per-step dataset for ``value`` rows, with dimension scales and labels."""
        parent, _, _ = name.rpartition("/")
        g = self.h5.require_group(parent) if parent else self.h5
        if self.scaled and g.name != "/" and "step" not in g:
            for c in STEP_COORDS:  # this group's copies, filled for the rows before it
                cds = _step_coord(g, c)
                if row:
                    cds.resize(row, axis=0)
                    cds[:row] = self.h5[c][:row]
                self.per_step.append(cds)
                self._remember(cds)
        ds = g.create_dataset(
            name.rpartition("/")[2],
            shape=(0, *value.shape),
            maxshape=(None, *value.shape),
            dtype=value.dtype,
            chunks=(1, *value.shape) if value.ndim else (1024,),
            fillvalue=np.nan if value.dtype.kind == "f" else 0,
        )
        self.per_step.append(ds)
        if self.scaled:
            dims = _dim_names(ds.shape, self.grid, self.channels)
            _static_coords(g, self.axes, self.channels, tuple(dims[1:]))
            for i, d in enumerate(dims):
                ds.dims[i].attach_scale(g[d])
            if dims and "time" in g:
                ds.attrs["coordinates"] = "time"
            _label(ds, name)
        self._remember(ds)
        return ds

    def save_checkpoint(self, state: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        """Store ``state`` (name -> array) and JSON ``meta`` as the latest checkpoint.

        Two slots (``/checkpoint`` and ``/checkpoint_new``) alternate: the write goes to the
        slot *not* holding the latest complete checkpoint, marked incomplete while it is
        written, so a crash always leaves one valid copy (see :func:`checkpoint`). A slot's
        datasets are overwritten in place when their shapes match, so checkpoints -- and
        resumes -- do not grow the file.
        """
        payload = sum(np.asarray(v).nbytes for v in state.values())
        slot = _older_slot(self.h5)
        g = self.h5.get(slot)
        reuse = isinstance(g, h5py.Group) and _fits(g, state)
        with self._writing("the checkpoint", 0 if reuse else payload, 0 if reuse else len(state)):
            if g is not None and not reuse:
                del self.h5[slot]
            if reuse:
                assert isinstance(g, h5py.Group)
                g.attrs["complete"] = 0
                self.h5.flush()
                for k, v in state.items():
                    g[k][...] = v
            else:
                g = self.h5.create_group(slot)
                g.attrs["complete"] = 0
                for k, v in state.items():
                    g.create_dataset(k, data=v)
            seq = max((_slot_seq(self.h5.get(n)) for n in (CKPT, CKPT_NEW)), default=0) + 1
            g.attrs["meta"] = json.dumps(meta).ljust(META_WIDTH)  # fixed size: in place
            g.attrs["seq"] = seq
            self.h5.flush()
            g.attrs["complete"] = 1
            self._sync()

    def set_attrs(self, **attrs: Any) -> None:
        with self._writing("attributes", sum(len(str(v)) for v in attrs.values()), 0):
            for k, v in attrs.items():
                self.h5.attrs[k] = v
            self.h5.flush()

    def close(self, status: str | None = None) -> None:
        """Record ``status`` and close; never raises (the rows are already safe on disk)."""
        if not self.h5.id.valid:
            return
        if status == "complete" and not self.broken:  # drop stale rows past the end
            with contextlib.suppress(Exception):
                n = self.completed_steps
                for ds in self.per_step:
                    if ds.shape[0] > n:
                        ds.resize(n, axis=0)
        if self.broken:  # HDF5 retries its failed writes at every release: keep it quiet
            self._close_quietly()
            if status is not None:  # a fresh handle has a clean cache; the attribute is
                self._set_status_after_failure(status)  # rewritten in place
            return
        with contextlib.suppress(Exception):
            if status is not None:
                self.h5.attrs["status"] = status
            self._sync()
        with contextlib.suppress(Exception):
            self.h5.close()
        if len(self.grid) == 2:  # a derived view: a failure here loses no data
            with contextlib.suppress(Exception):
                export_xdmf(self.path)

    def _set_status_after_failure(self, status: str) -> None:
        hook = sys.unraisablehook
        sys.unraisablehook = _quiet
        try:
            with contextlib.suppress(Exception), h5py.File(self.path, "r+", libver=LIBVER) as h5:
                h5.attrs["status"] = status
            gc.collect()
        finally:
            sys.unraisablehook = hook

    def _close_quietly(self) -> None:
        """Close after a failed write: HDF5 then reports its unwritable cache from object
        destructors, which would print Python 'Exception ignored' blocks; silence those."""
        hook = sys.unraisablehook
        sys.unraisablehook = _quiet
        try:
            self.per_step = []
            gc.collect()
            with contextlib.suppress(Exception):
                self.h5.close()
            gc.collect()
        finally:
            sys.unraisablehook = hook


ROOT_COORDS = ("/x", "/y", "/z", "/channel")


def _is_coordinate(ds: h5py.Dataset) -> bool:
    """A group's copy of a coordinate (not data of its own)."""
    return COORD_ATTR in ds.attrs


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
            self.h5 = open_readonly(self.path)
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
        if n and not isinstance(self.h5["step"], h5py.Dataset):
            raise UsageError(f"{self.path}: /step is a group, not a dataset (damaged log)")
        if n and self.h5["step"].shape[0] < n:
            raise UsageError(
                f"{self.path}: completed_steps = {n} but /step has only "
                f"{self.h5['step'].shape[0]} rows (damaged log)"
            )
        try:
            cfg = json.loads(a["config"])
        except (TypeError, ValueError):
            raise UsageError(
                f"{self.path}: the stored config is not valid JSON (damaged log)"
            ) from None
        if not isinstance(cfg, dict):
            raise UsageError(
                f"{self.path}: the stored config is a JSON {type(cfg).__name__}, not an object "
                "(damaged log)"
            )
        _datasets(self.h5)  # walks every object: a damaged index fails here, not later
        for name in ("step", "time", "field"):
            ds = self.h5.get(name)
            if n and ds is not None and not isinstance(ds, h5py.Dataset):
                raise UsageError(f"{self.path}: /{name} is a group, not a dataset (damaged log)")
        step = self.h5.get("step")
        if n and isinstance(step, h5py.Dataset) and (step.ndim != 1 or step.dtype.kind != "i"):
            raise UsageError(
                f"{self.path}: /step has shape {step.shape} and dtype {step.dtype}; expected "
                "one integer per row (damaged log)"
            )
        if "status" not in a:
            raise UsageError(f"{self.path}: no status attribute (damaged log)")
        if n:
            self._validate_shapes(n)

    def _validate_shapes(self, n: int) -> None:
        """The shapes and dtypes every reader relies on: grid axes, then each per-step
        dataset numeric with ``n`` rows, the gridded ones on the grid's shape."""
        damaged = f"{self.path}: " + "{} (damaged log)"
        g = self.h5.get("grid")
        if not isinstance(g, h5py.Group) or "x" not in g:
            raise UsageError(damaged.format("no /grid/x evaluation axis"))
        grid: list[int] = []
        for ax in AXES:
            d = g.get(ax)
            if d is None:
                break
            if not isinstance(d, h5py.Dataset) or d.ndim != 1 or d.dtype.kind not in "fiu":
                raise UsageError(damaged.format(f"/grid/{ax} is not a 1-D numeric axis"))
            grid.append(int(d.shape[0]))
        metrics = self.h5.get("metrics")
        if metrics is not None and isinstance(metrics, h5py.Group):
            for k, obj in metrics.items():
                if not isinstance(obj, h5py.Dataset):
                    raise UsageError(damaged.format(f"/metrics/{k} is a group, not a dataset"))
        for ds in _datasets(self.h5):
            if _is_coordinate(ds) or ds.name in ROOT_COORDS:
                continue
            name = ds.name
            if ds.dtype.kind not in "fiub" or ds.ndim == 0 or ds.shape[0] < n:
                raise UsageError(
                    damaged.format(
                        f"{name} has shape {ds.shape} and dtype {ds.dtype}; expected numbers "
                        f"with at least {n} rows"
                    )
                )
            if name.startswith("/metrics/") and ds.ndim != 1:
                raise UsageError(damaged.format(f"{name} has shape {ds.shape}; expected (rows,)"))
            gridded = name == "/field" or name.startswith(("/gradient/", "/exact/"))
            if gridded and tuple(ds.shape[1 : 1 + len(grid)]) != tuple(grid):
                raise UsageError(
                    damaged.format(
                        f"{name} has shape {ds.shape}; expected (rows, {', '.join(map(str, grid))}"
                        ", ...) on the evaluation grid"
                    )
                )

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
        return {k: _attr_value(v) for k, v in self.h5.attrs.items()}

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
            return [
                ds.name.lstrip("/")
                for ds in _datasets(self.h5)
                if not _is_coordinate(ds) and ds.name not in ROOT_COORDS
            ]

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
        """Per-step metrics by name, each with one value per completed row (NaN-padded
        where an older log stored fewer rows)."""
        with self._reading("metrics"):
            if "metrics" not in self.h5:
                return {}
            n, out = self.n, {}
            for k, ds in self.h5["metrics"].items():
                if not isinstance(ds, h5py.Dataset) or _is_coordinate(ds):
                    continue
                v = np.asarray(ds[:n], dtype=np.float64)
                if len(v) < n:
                    v = np.concatenate([v, np.full(n - len(v), np.nan)])
                out[k] = v
            return out


def _attr_value(v: Any) -> Any:
    """An HDF5 attribute as a Python value: scalars as scalars, arrays (e.g. the omega0
    candidates of an ``"auto"`` search) as lists."""
    if isinstance(v, np.ndarray):
        return v.item() if v.ndim == 0 else v.tolist()
    return v.item() if isinstance(v, np.generic) else v


def open_readonly(path: str | Path) -> h5py.File:
    """Open an HDF5 file for reading without taking the HDF5 file lock, so a live run
    (whose writer holds the write lock) can be read. When this process already has the
    file open with other locking flags (an h5py handle left open in a notebook), HDF5
    refuses mismatched flags: reuse theirs instead."""
    try:
        return h5py.File(path, "r", locking=False)
    except TypeError:  # h5py < 3.5 has no locking argument: the environment decides
        os.environ["HDF5_USE_FILE_LOCKING"] = "FALSE"
        return h5py.File(path, "r")
    except OSError as e:
        if "flag values don't match" not in str(e):
            raise
        err = e
    for locking in (None, True, "best-effort"):
        try:
            return h5py.File(path, "r", locking=locking)
        except OSError as e:
            if "flag values don't match" not in str(e):
                raise
    raise err


def export_xdmf(path: str | Path) -> Path | None:
    """Write (or refresh) ``run.xdmf`` + ``run.xdmf.h5`` beside the 2D run log at ``path``
    for its completed rows (works on a live run); returns the ``.xdmf`` path, or None for
    a log that is not 2D. The writer calls this when it closes."""
    with RunLogReader(path) as r:
        try:
            return write_xdmf(r.h5, r.path, r.n, r.names())
        except OSError as e:
            raise UsageError(
                f"cannot write the XDMF sidecar of {r.path}: {describe_oserror(e)}"
            ) from None


def resolve_log_path(path: str | Path) -> Path:
    """A run directory or a ``run.h5`` path -> the log file path (checked to exist)."""
    check_path_length(path, "the run log path")
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


META_WIDTH = 256  # checkpoint meta JSON is padded to this many characters


def _slot_seq(g: Any) -> int:
    """Sequence number of a complete checkpoint slot; -1 for none or incomplete (older logs'
    complete slots without a number count as 0)."""
    if not isinstance(g, h5py.Group) or not g.attrs.get("complete", 0):
        return -1
    return int(g.attrs.get("seq", 0))


def _latest_slot(h5: h5py.Group) -> str | None:
    best = max((CKPT, CKPT_NEW), key=lambda n: _slot_seq(h5.get(n)))
    return best if _slot_seq(h5.get(best)) >= 0 else None


def _older_slot(h5: h5py.Group) -> str:
    return CKPT_NEW if _latest_slot(h5) == CKPT else CKPT


def _fits(g: h5py.Group, state: dict[str, np.ndarray]) -> bool:
    """The slot ``g`` holds exactly ``state``'s names with the same shapes and dtypes."""
    names: list[str] = []
    g.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
    if sorted(names) != sorted(state):
        return False
    return all(
        g[k].shape == np.shape(v) and g[k].dtype == np.asarray(v).dtype for k, v in state.items()
    )


def checkpoint(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
    """Latest complete checkpoint of a log (arrays by name, metadata), or None if none.

    The metadata is checked to be a JSON object with an integer ``step`` >= 0; anything else
    is a one-line :class:`UsageError` (a damaged or edited log).
    """
    try:
        with open_readonly(path) as h5:
            name = _latest_slot(h5)
            if name is None:
                return None
            g = h5[name]
            if not isinstance(g, h5py.Group):
                raise UsageError(f"{path}: /{name} is not a group (damaged log)")
            arrays, meta = _group_arrays(g), json.loads(g.attrs["meta"])
    except UsageError:
        raise
    except (OSError, RuntimeError, KeyError, ValueError, TypeError) as e:
        raise UsageError(f"cannot read the checkpoint in {path} (damaged log?): {e}") from None
    step = meta.get("step") if isinstance(meta, dict) else None
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise UsageError(
            f"the checkpoint in {path} has no valid step (meta {json.dumps(meta)[:80]}; "
            "expected a JSON object with an integer step >= 0): damaged log"
        )
    return arrays, meta
