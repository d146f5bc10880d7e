"""The 1D advection case end to end: exact solution, a short run, the log schema."""

from __future__ import annotations

import h5py
import numpy as np
import torch
from typer.testing import CliRunner

from insr.cli import app
from insr.config import load_config
from insr.equations import make_case

runner = CliRunner()
FAST = [
    "solver.max_iters=60",
    "solver.init.max_iters=400",
    "solver.samples=256",
    "eval.resolution=65",
]


def test_exact_solution_is_a_shifted_pulse_and_its_gradient_matches_fd():
    case = make_case(load_config("advection1d").case)
    x = torch.linspace(-2, 2, 201, dtype=torch.float64).unsqueeze(1)
    t = 2.0
    u, g = case.exact(x, t)
    mu, sigma, a = -1.5, 0.1, 0.25
    expected = np.exp(-((x.numpy() - mu - a * t) ** 2) / (2 * sigma**2))
    np.testing.assert_allclose(u.numpy(), expected, atol=1e-12)
    h = 1e-5
    up, _ = case.exact(x + h, t)
    um, _ = case.exact(x - h, t)
    fd = (up - um) / (2 * h)
    np.testing.assert_allclose(g[:, :, 0].numpy(), fd.numpy(), atol=1e-6)


def _run(tmp_path, *extra):
    out = tmp_path / "run"
    args = ["run", "advection1d", "--steps", "3", "--out", str(out), "--quiet"]
    for s in FAST + list(extra):
        args += ["--set", s]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    return out / "run.h5"


def test_three_step_run_writes_the_documented_log(tmp_path):
    path = _run(tmp_path, "solver.lr=0.0042")
    with h5py.File(path, "r") as f:
        n = int(f.attrs["completed_steps"])
        assert n == 4  # step 0 (initial fit) + 3 steps
        assert f.attrs["status"] == "complete"
        assert f.attrs["case"] == "advection1d"
        import json

        cfg = json.loads(f.attrs["config"])
        assert cfg["solver"]["lr"] == 0.0042  # --set landed in the stored config
        assert f["grid/x"].shape == (65,)
        assert f["field"].shape == (4, 65, 1)
        for s in ("autodiff", "fd"):
            assert f[f"gradient/{s}"].shape == (4, 65, 1, 1)
            assert f[f"metrics/gradient_rel_error_{s}"].shape == (4,)
        assert f["exact/field"].shape == (4, 65, 1)
        np.testing.assert_allclose(f["time"][:], [0.0, 0.05, 0.1, 0.15])
        # step 0 fits the initial condition (a Gaussian of peak 1) within a tolerance
        x = f["grid/x"][:]
        u0 = np.exp(-((x + 1.5) ** 2) / (2 * 0.1**2))
        assert np.max(np.abs(f["field"][0, :, 0] - u0)) < 0.1
        # the logged exact field is the shifted pulse
        u3 = np.exp(-((x + 1.5 - 0.25 * 0.15) ** 2) / (2 * 0.1**2))
        np.testing.assert_allclose(f["exact/field"][3, :, 0], u3, atol=1e-6)
        # the logged metric is the independent recomputation from the arrays
        err = np.max(np.abs(f["field"][3] - f["exact/field"][3]))
        assert abs(f["metrics/field_max_error"][3] - err) < 1e-6


def test_toml_only_case_runs(tmp_path):
    case = tmp_path / "packet.toml"
    case.write_text(
        """
[case]
name = "packet"
pde = "advection"
domain = [[-2.0, 2.0]]
dt = 0.05
steps = 2
velocity = { kind = "constant", value = [0.25] }
initial = { family = "wave_packet", mu = [-1.0], sigma = 0.2, k = [15.0] }
"""
    )
    out = tmp_path / "r"
    args = ["run", str(case), "--out", str(out), "--quiet"]
    for s in FAST:
        args += ["--set", s]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    with h5py.File(out / "run.h5", "r") as f:
        x = f["grid/x"][:]
        exact0 = np.exp(-((x + 1.0) ** 2) / (2 * 0.04)) * np.cos(15.0 * (x + 1.0))
        np.testing.assert_allclose(f["exact/field"][0, :, 0], exact0, atol=1e-6)


def test_existing_run_dir_is_not_overwritten(tmp_path):
    path = _run(tmp_path)
    before = path.stat().st_mtime_ns
    res = runner.invoke(app, ["run", "advection1d", "--out", str(path.parent), "--steps", "1"])
    assert res.exit_code == 2
    assert "--resume" in res.output and "--overwrite" in res.output
    assert path.stat().st_mtime_ns == before


def test_info_and_cases_commands(tmp_path):
    path = _run(tmp_path)
    res = runner.invoke(app, ["info", str(path.parent)])
    assert res.exit_code == 0, res.output
    assert "field_max_error" in res.output and "gradient/fd" in res.output
    res = runner.invoke(app, ["cases"])
    assert res.exit_code == 0 and "advection1d" in res.output
