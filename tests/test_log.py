"""The run log as standard scientific data: netCDF-4 dimensions (xarray), one row per step
for every metric, the XDMF sidecar (meshio), lock-free reading of a live run, insr.open_run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import meshio
import numpy as np
import pytest
import xarray as xr

import insr
from insr.config import load_config
from insr.errors import UsageError
from insr.log import RunLogReader
from insr.run import execute

TINY = [
    "solver.min_iters=0",
    "solver.init.min_iters=0",
    "solver.samples=64",
    "solver.max_iters=3",
    "solver.init.max_iters=3",
    "solver.check_every=1",
    "representation.siren.hidden_layers=1",
    "representation.siren.hidden_features=8",
]
ROOT = Path(__file__).resolve().parents[1]


def _run(tmp_path_factory, case: str, *sets: str) -> Path:
    cfg = load_config(case, sets=[*TINY, *sets])
    return execute(cfg, tmp_path_factory.mktemp(case) / "r").log_path


@pytest.fixture(scope="module")
def log1d(tmp_path_factory) -> Path:
    return _run(tmp_path_factory, "advection1d", "case.steps=2", "eval.resolution=17")


@pytest.fixture(scope="module")
def log2d(tmp_path_factory) -> Path:
    return _run(tmp_path_factory, "advection2d", "case.steps=2", "eval.resolution=7")


@pytest.fixture(scope="module")
def logfluid(tmp_path_factory) -> Path:
    return _run(
        tmp_path_factory,
        "taylor_green",
        "case.steps=2",
        "eval.resolution=9",
        "extra.fluid.wall_samples=4",
    )


def _raw(path: Path, name: str) -> np.ndarray:
    """A dataset read with plain h5py: all completed rows of a per-step one, else all."""
    with h5py.File(path, "r") as f:
        ds = f[name]
        return ds[: int(f.attrs["completed_steps"])] if ds.maxshape[0] is None else ds[()]


# ------------------------------------------------------------------- netCDF-4 / xarray
def test_xarray_sees_named_dims_and_coords_of_a_1d_run(log1d):
    ds = xr.open_dataset(log1d, engine="h5netcdf")
    assert ds["field"].dims == ("step", "x", "channel")
    assert set(ds.coords) >= {"step", "time", "x", "channel"}
    np.testing.assert_array_equal(ds["x"].values, _raw(log1d, "grid/x"))
    np.testing.assert_array_equal(ds["step"].values, [0, 1, 2])
    np.testing.assert_array_equal(ds["time"].values, _raw(log1d, "time"))
    np.testing.assert_array_equal(ds["field"].values, _raw(log1d, "field"))
    assert ds["x"].attrs["units"] == "case length unit"
    assert ds["time"].attrs["units"] == "case time unit"
    assert "long_name" in ds["field"].attrs
    assert not any(d.startswith("phony_dim") for d in ds.dims)
    ds.close()
    g = xr.open_dataset(log1d, engine="h5netcdf", group="gradient")
    assert set(g.data_vars) == {"autodiff", "fd"}
    assert g["fd"].dims == ("step", "x", "channel", "axis")
    np.testing.assert_array_equal(g["fd"].values, _raw(log1d, "gradient/fd"))
    np.testing.assert_array_equal(g["x"].values, _raw(log1d, "grid/x"))
    np.testing.assert_array_equal(g["time"].values, _raw(log1d, "time"))
    assert "'fd'" in g["fd"].attrs["long_name"]
    g.close()


def test_xarray_groups_of_a_2d_run_have_dims_coords_and_units(log2d):
    x, y = _raw(log2d, "grid/x"), _raw(log2d, "grid/y")
    ds = xr.open_dataset(log2d, engine="h5netcdf")
    assert ds["field"].dims == ("step", "x", "y", "channel")
    np.testing.assert_array_equal(ds["y"].values, y)
    ds.close()
    for group, var, dims in [
        ("gradient", "fd", ("step", "x", "y", "channel", "axis")),
        ("exact", "field", ("step", "x", "y", "channel")),
        ("exact", "gradient", ("step", "x", "y", "channel", "axis")),
        ("metrics", "field_rmse", ("step",)),
    ]:
        g = xr.open_dataset(log2d, engine="h5netcdf", group=group)
        assert g[var].dims == dims, group
        np.testing.assert_array_equal(g["step"].values, [0, 1, 2])
        np.testing.assert_array_equal(g[var].values, _raw(log2d, f"{group}/{var}"))
        if "x" in dims:
            np.testing.assert_array_equal(g["x"].values, x)
            np.testing.assert_array_equal(g["y"].values, y)
            np.testing.assert_array_equal(g["axis"].values, [0, 1])
        assert g[var].attrs["long_name"], (group, var)
        g.close()
    m = xr.open_dataset(log2d, engine="h5netcdf", group="metrics")
    assert m["wall_seconds"].attrs["units"] == "s"
    assert m["wall_seconds"].dtype == np.float64  # not decoded into a timedelta
    assert m["gradient_rel_error_fd"].attrs["units"] == "1"
    m.close()


def test_coordinate_copies_are_not_listed_as_data(log2d):
    with RunLogReader(log2d) as r:
        names = r.names()
        assert "gradient/fd" in names and "step" in names
        assert not [n for n in names if n.endswith(("/step", "/time", "/x", "/y", "/axis"))]
        assert "x" not in names and "channel" not in names
        assert "step" not in r.metrics() and "time" not in r.metrics()


# ------------------------------------------------------------- one row per step, fluid
def test_every_fluid_metric_has_one_value_per_step(logfluid):
    with h5py.File(logfluid, "r") as f:
        n = int(f.attrs["completed_steps"])
        assert n == 3
        lengths = {k: ds.shape[0] for k, ds in f["metrics"].items()}
        fit = [k for k in f["metrics"] if k.startswith(("loss_fit", "iterations_fit"))]
        later = [k for k in f["metrics"] if k.startswith("loss_") and k not in fit]
        assert fit and later
        for k in fit:  # sub-problems of the initial fit only: NaN afterwards
            v = f["metrics"][k][:]
            assert np.isfinite(v[0]) and np.all(np.isnan(v[1:])), k
        for k in later:  # sub-problems of the later steps: NaN at step 0
            v = f["metrics"][k][:]
            assert np.isnan(v[0]) and np.all(np.isfinite(v[1:])), k
        for name in ("fluid/vorticity", "fluid/divergence", "field"):
            lengths[name] = f[name].shape[0]
    assert set(lengths.values()) == {3}, lengths
    table = insr.open_run(logfluid).metrics
    assert len(table) == 3 and set(fit) <= set(table.columns)
    fl = xr.open_dataset(logfluid, engine="h5netcdf", group="fluid")
    assert fl["vorticity"].dims == ("step", "x", "y")
    fl.close()
    mt = xr.open_dataset(logfluid, engine="h5netcdf", group="metrics")
    assert all(mt[k].dims == ("step",) for k in mt.data_vars)
    assert mt.to_dataframe().shape[0] == 3
    mt.close()


# ----------------------------------------------------------------------------- XDMF
def test_xdmf_sidecar_of_a_2d_run_parses_with_meshio_and_points_at_the_rows(log2d):
    xdmf = log2d.with_suffix(".xdmf")
    assert xdmf.exists()
    x, y = _raw(log2d, "grid/x"), _raw(log2d, "grid/y")
    field, grad, t = _raw(log2d, "field"), _raw(log2d, "gradient/fd"), _raw(log2d, "time")
    n = len(x) * len(y)
    with meshio.xdmf.TimeSeriesReader(xdmf) as r:
        points, cells = r.read_points_cells()
        assert r.num_steps == 3
        xx, yy = np.meshgrid(x, y, indexing="ij")
        np.testing.assert_array_equal(points, np.stack([xx.ravel(), yy.ravel()], 1))
        assert cells[0].type == "quad" and len(cells[0].data) == (len(x) - 1) * (len(y) - 1)
        quad = points[cells[0].data[0]]  # the first cell's corners span one grid cell
        assert sorted({tuple(p) for p in quad}) == [
            (x[0], y[0]),
            (x[0], y[1]),
            (x[1], y[0]),
            (x[1], y[1]),
        ]
        for k in range(3):
            tk, pd, _ = r.read_data(k)
            assert tk == t[k]
            assert set(pd) >= {"field", "gradient_fd", "exact_field", "exact_gradient"}
            np.testing.assert_array_equal(pd["field"], field[k].reshape(n, 1))
            np.testing.assert_array_equal(pd["gradient_fd"], grad[k].reshape(n, 2))


def test_export_xdmf_rewrites_the_sidecar_and_skips_1d_runs(log1d, log2d, tmp_path):
    import shutil

    from insr.log import export_xdmf

    assert not log1d.with_suffix(".xdmf").exists()
    assert export_xdmf(log1d) is None
    run = tmp_path / "copy"
    run.mkdir()
    shutil.copy(log2d, run / "run.h5")  # no sidecar: rebuild it from the log alone
    assert export_xdmf(run) == run / "run.xdmf"
    with meshio.xdmf.TimeSeriesReader(run / "run.xdmf") as r:
        r.read_points_cells()
        _, pd, _ = r.read_data(2)
    np.testing.assert_array_equal(pd["exact_field"], _raw(log2d, "exact/field")[2].reshape(-1, 1))


# ---------------------------------------------------------------------------- open_run
def test_open_run_matches_the_raw_arrays(log2d):
    run = insr.open_run(log2d.parent)
    assert run.n == 3 and run.path == log2d
    np.testing.assert_array_equal(run.field, _raw(log2d, "field"))
    assert set(run.gradients) == {"autodiff", "fd"}
    for s, g in run.gradients.items():
        np.testing.assert_array_equal(g, _raw(log2d, f"gradient/{s}"))
    np.testing.assert_array_equal(run.exact["gradient"], _raw(log2d, "exact/gradient"))
    np.testing.assert_array_equal(run.grid[1], _raw(log2d, "grid/y"))
    np.testing.assert_array_equal(run.step, [0, 1, 2])
    np.testing.assert_array_equal(run.time, _raw(log2d, "time"))
    with h5py.File(log2d, "r") as f:
        assert run.config == json.loads(f.attrs["config"])
        assert run.attrs["case"] == "advection2d"
    table = run.metrics
    np.testing.assert_array_equal(table["field_rmse"].to_numpy(), _raw(log2d, "metrics/field_rmse"))
    np.testing.assert_array_equal(table.index.to_numpy(), [0, 1, 2])
    ds = run.as_xarray()
    assert ds["gradient_fd"].dims == ("step", "x", "y", "channel", "axis")
    np.testing.assert_array_equal(ds["exact_field"].values, _raw(log2d, "exact/field"))
    np.testing.assert_array_equal(ds["field_rmse"].values, _raw(log2d, "metrics/field_rmse"))


def test_open_run_without_pandas_or_xarray(log1d, monkeypatch):
    run = insr.open_run(log1d)
    monkeypatch.setitem(sys.modules, "pandas", None)
    table = run.metrics
    assert isinstance(table, dict)
    assert {len(v) for v in table.values()} == {3}
    np.testing.assert_array_equal(table["loss"], _raw(log1d, "metrics/loss"))
    monkeypatch.setitem(sys.modules, "h5netcdf", None)
    with pytest.raises(UsageError, match=r"insr\[xarray\]"):
        run.as_xarray()


def test_import_insr_does_not_import_torch_or_h5py():
    code = "import sys, insr; print('torch' in sys.modules, 'h5py' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.split() == ["False", "False"]


def test_an_h5py_handle_left_open_does_not_break_insr_readers(log1d):
    for locking in (None, True, "best-effort"):
        with h5py.File(log1d, "r", locking=locking):
            with RunLogReader(log1d) as r:
                assert r.n == 3
            assert insr.open_run(log1d).field.shape == (3, 17, 1)


# ---------------------------------------------------------------------- live reading
def test_a_live_run_is_readable_while_its_writer_holds_the_lock(tmp_path):
    """A real second process writes; it is stopped (SIGSTOP) once rows exist, so the
    reads below happen while the writer is alive and holds the HDF5 write lock."""
    out = tmp_path / "live"
    args = [sys.executable, "-m", "insr", "run", "advection1d", "--steps", "30", "--out"]
    args += [str(out), "--quiet"]
    for s in [*TINY, "eval.resolution=17"]:
        args += ["--set", s]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("HDF5_USE_FILE_LOCKING", None)
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    log = out / "run.h5"
    n = 0
    try:
        deadline = time.monotonic() + 300  # bounds a hung writer, not a speed target
        while proc.poll() is None and time.monotonic() < deadline:
            if log.exists():
                with h5py.File(log, "r", locking=False) as f:  # the README's snippet
                    n = int(f.attrs["completed_steps"])
                if n >= 2:
                    break
            time.sleep(0.02)
        assert proc.poll() is None, "the writer finished before it could be caught live"
        proc.send_signal(signal.SIGSTOP)
        with pytest.raises(OSError):  # the writer really holds the lock
            h5py.File(log, "r").close()
        with h5py.File(log, "r", locking=False) as f:
            n = int(f.attrs["completed_steps"])
            assert 2 <= n < 31
            assert f["field"].shape[0] >= n and np.all(np.isfinite(f["field"][:n]))
        with RunLogReader(log) as r:
            assert r.n >= n and r.status == "running"
        run = insr.open_run(log)
        assert run.field.shape[0] == run.n >= n
        assert run.as_xarray().sizes["step"] == run.n
        code = (  # the README's xarray snippet, in a fresh process
            "import os; os.environ['HDF5_USE_FILE_LOCKING'] = 'FALSE'\n"
            "import sys, xarray as xr\n"
            "ds = xr.open_dataset(sys.argv[1], engine='h5netcdf', group='metrics')\n"
            "print(ds.sizes['step'])\n"
        )
        res = subprocess.run(
            [sys.executable, "-c", code, str(log)], capture_output=True, text=True, env=env
        )
        assert res.returncode == 0, res.stderr
        assert int(res.stdout) >= n
    finally:
        proc.send_signal(signal.SIGCONT)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    with RunLogReader(log) as r:
        assert r.n == 31 and r.status == "complete"


def test_a_resumed_run_keeps_its_dimension_scales_and_group_coordinates(tmp_path):
    from typer.testing import CliRunner

    from insr.cli import app

    out = tmp_path / "r"
    sets = [a for s in [*TINY, "eval.resolution=9"] for a in ("--set", s)]
    res = CliRunner().invoke(
        app, ["run", "advection1d", "--steps", "1", "--out", str(out), "-q", *sets]
    )
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, ["run", "--resume", str(out), "--steps", "3", "-q"])
    assert res.exit_code == 0, res.output
    log = out / "run.h5"
    for group, var in [(None, "field"), ("gradient", "fd"), ("metrics", "loss")]:
        ds = xr.open_dataset(log, engine="h5netcdf", group=group)
        assert ds[var].sizes["step"] == 4, group
        np.testing.assert_array_equal(ds["step"].values, [0, 1, 2, 3])
        np.testing.assert_array_equal(ds["time"].values, _raw(log, "time"))
        ds.close()
