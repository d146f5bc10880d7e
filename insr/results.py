"""Reading a run log from Python: ``insr.open_run(path)``.

Arrays are read on first access, up to the rows completed when the run was opened (a live
run can be opened; open it again to see newer rows). Nothing here imports torch.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from insr.errors import UsageError
from insr.log import RunLogReader, open_readonly

XARRAY_HINT = "as_xarray() needs xarray and h5netcdf: pip install 'insr[xarray]'"


class RunData:
    """One run log, read-only.

    ``field`` ``(S, *grid, c)``; ``gradients[strategy]`` and ``exact['gradient']``
    ``(S, *grid, c, d)`` (``d u_i / d x_j``); ``grid`` the axes ``[x, y, ...]``; ``step``
    and ``time`` ``(S,)``; ``metrics`` one value per row for each metric (NaN where it does
    not apply); ``config`` the stored run configuration; ``attrs`` the log's attributes.
    ``S`` is the number of rows completed when the log was opened.
    """

    def __init__(self, path: str | Path) -> None:
        with RunLogReader(path) as r:
            self.path: Path = r.path
            self.n: int = r.n
            self.attrs: dict[str, Any] = {k: v for k, v in r.attrs.items() if k != "config"}
            self.config: dict[str, Any] = r.config
            self.grid: list[np.ndarray] = r.axes()
            self.names: list[str] = r.names()

    def __repr__(self) -> str:
        shape = "x".join(str(len(a)) for a in self.grid)
        return (
            f"RunData({str(self.path)!r}, case={self.attrs.get('case')!r}, "
            f"representation={self.attrs.get('representation')!r}, rows={self.n}, "
            f"grid={shape}, status={self.attrs.get('status')!r})"
        )

    def array(self, name: str) -> np.ndarray:
        """All completed rows of the per-step dataset ``name`` (e.g. ``'fluid/pressure'``)."""
        with RunLogReader(self.path) as r:
            if not r.has(name):
                raise UsageError(f"{self.path} has no dataset '{name}'; it has {self.names}")
            with r._reading(name):
                return r.h5[name][: self.n]

    @functools.cached_property
    def step(self) -> np.ndarray:
        return self.array("step") if self.n else np.zeros(0, dtype=np.int64)

    @functools.cached_property
    def time(self) -> np.ndarray:
        return self.array("time") if self.n else np.zeros(0)

    @functools.cached_property
    def field(self) -> np.ndarray:
        return self.array("field")

    @functools.cached_property
    def gradients(self) -> dict[str, np.ndarray]:
        return {n.split("/", 1)[1]: self.array(n) for n in self.names if n.startswith("gradient/")}

    @functools.cached_property
    def exact(self) -> dict[str, np.ndarray]:
        """``{'field': ..., 'gradient': ...}`` when the case has an exact solution, else {}."""
        return {n.split("/", 1)[1]: self.array(n) for n in self.names if n.startswith("exact/")}

    @property
    def metrics(self) -> Any:
        """Metrics table: a pandas DataFrame indexed by step (with a ``time`` column) when
        pandas is installed, else a dict of equal-length arrays (``step``, ``time``, ...)."""
        with RunLogReader(self.path) as r:
            m = {k: v[: self.n] for k, v in r.metrics().items()}
        table = {"step": self.step, "time": self.time, **m}
        try:
            import pandas as pd
        except ImportError:
            return table
        return pd.DataFrame(table).set_index("step")

    def as_xarray(self) -> Any:
        """All per-step data as one ``xarray.Dataset`` (dims step, x, y, channel, axis;
        coords from the log's dimension scales, units and long_name attributes kept).

        Groups become prefixed variables: ``gradient_<s>``, ``exact_field``,
        ``exact_gradient``, ``fluid_<name>``; metrics keep their names. Loaded into memory.
        Opened without the HDF5 file lock, so it works on a live run.
        """
        try:
            import h5netcdf
            import xarray as xr
        except ImportError:
            raise UsageError(XARRAY_HINT) from None
        h5 = open_readonly(self.path)
        try:
            f = h5netcdf.File(h5, "r")
            parts = [self._group(xr, f, None)]
            for g in sorted(f.groups):
                if g in ("grid", "checkpoint", "checkpoint_new"):
                    continue
                parts.append(self._group(xr, f, g))
            ds = xr.merge(parts, compat="override", combine_attrs="override")
        finally:
            h5.close()
        return ds

    def _group(self, xr: Any, f: Any, group: str | None) -> Any:
        store = xr.backends.H5NetCDFStore(f, group=group)
        ds = xr.open_dataset(store, decode_timedelta=False).isel(step=slice(0, self.n)).load()
        if group not in (None, "metrics"):
            coords = set(ds.coords)
            ds = ds.rename({v: f"{group}_{v}" for v in ds.data_vars if v not in coords})
        return ds


def open_run(path: str | Path) -> RunData:
    """Open the run log at ``path`` (a run directory or its ``run.h5``) for reading."""
    return RunData(path)
