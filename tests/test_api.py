"""The public Python API at the package root (README "Python API"): the README's notebook
block runs as written, load_config overrides, insr.run, and load_field against the log."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import insr
from insr.errors import UsageError
from insr.schema import ConfigError
from insr.verdict import is_complete

ROOT = Path(__file__).resolve().parent.parent
TINY = {
    "case.steps": 2,
    "eval.resolution": 17,
    "solver.samples": 64,
    "solver.max_iters": 3,
    "solver.init.max_iters": 3,
    "solver.check_every": 1,
    "representation.siren.hidden_features": 8,
    "run.on_poor_fit": "continue",  # tiny budgets: not about fit quality
    "run.dtype": "float64",
}


def readme_block() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readme_notebook_block_runs(tmp_path):
    code = readme_block()
    assert "insr.load_field" in code and "insr.run(" in code  # the block we mean
    r = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "runs" / "advection1d-notebook" / "run.h5").is_file()
    assert r.stdout.split()[0] == "complete"


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    cfg = insr.load_config("advection1d", TINY)
    return insr.run(cfg, tmp_path_factory.mktemp("api") / "r")


def test_load_config_takes_set_strings_or_a_mapping():
    a = insr.load_config("advection1d", ["solver.lbfgs_lr=0.5", "run.name='x y'"])
    b = insr.load_config("advection1d", {"solver.lbfgs_lr": 0.5, "run.name": "x y"})
    assert a.as_dict() == b.as_dict()
    assert a.solver.lbfgs_lr == 0.5 and a.run.name == "x y"
    with pytest.raises(ConfigError, match="solver.lrr"):
        insr.load_config("advection1d", {"solver.lrr": 1.0})


def test_run_returns_the_result_and_its_log(result):
    assert is_complete(result.status) and result.completed_steps == 3
    data = result.open()
    assert data.attrs["status"] == result.status
    assert data.attrs["fit_verdict"] == result.verdict.verdict
    assert data.path == result.log_path
    assert list(data.step) == [0, 1, 2]
    assert data.config["case"]["steps"] == 2
    assert isinstance(insr.run, type(sys)) and callable(insr.run)  # the package, callable
    with pytest.raises(UsageError, match="RunConfig"):
        insr.run({"case": {}})


def test_load_field_recomputes_the_logged_last_row(result):
    data = result.open()
    u = insr.load_field(result.run_dir)
    assert u.step == 2 and u.time == pytest.approx(2 * data.config["case"]["dt"])
    x = data.grid[0][:, None]
    # the same weights at the same points: the logged numbers, to round-off
    np.testing.assert_allclose(u(x), data.field[-1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(u.grad(x), data.gradients["autodiff"][-1], rtol=0, atol=1e-10)
    np.testing.assert_allclose(u.grad(x, "fd"), data.gradients["fd"][-1], rtol=0, atol=1e-10)
    assert u(0.25).shape == (1,) and u(x[:, 0]).shape == (17, 1)


def test_load_field_derivatives_are_derivatives(result):
    u = insr.load_field(result.run_dir)
    x = np.linspace(-0.9, 0.9, 7)[:, None]
    h = 1e-5
    central = (u(x + h) - u(x - h)) / (2 * h)
    np.testing.assert_allclose(u.grad(x)[:, :, 0], central, atol=1e-6)
    # a torch input with requires_grad keeps the graph to x: second derivatives
    xt = torch.tensor(x, requires_grad=True)
    (second,) = torch.autograd.grad(u.grad(xt).sum(), xt)
    fd2 = (u.grad(x + h) - u.grad(x - h))[:, 0, 0] / (2 * h)
    np.testing.assert_allclose(second[:, 0].numpy(), fd2, atol=1e-5)


def test_load_field_refuses_steps_without_weights(result):
    with pytest.raises(UsageError) as e:
        insr.load_field(result.run_dir, step=1)
    msg = str(e.value)
    assert "\n" not in msg and "step 1" in msg and "step 2" in msg
    assert insr.load_field(result.run_dir, step=2).step == insr.load_field(result.run_dir, -1).step
    with pytest.raises(UsageError, match="no field 'p'; this run's fields: u"):
        insr.load_field(result.run_dir, name="p")
    with pytest.raises(UsageError, match=r"do not fit this 1D field"):
        insr.load_field(result.run_dir)(np.zeros((3, 2)))


def test_python_dash_m_insr_is_the_command():
    r = subprocess.run(
        [sys.executable, "-m", "insr", "--version"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert r.stdout.strip() == f"insr {insr.__version__}"


def test_an_omega0_auto_run_loads_with_the_chosen_omega0(tmp_path):
    sets = {
        **TINY,
        "case.steps": 1,
        "representation.siren.omega0": "auto",
        "representation.siren.omega0_candidates": [5.0, 10.0],
        "derivative.omega0_auto_iters": 2,
    }
    result = insr.run(insr.load_config("advection1d", sets), tmp_path / "r")
    data = result.open()  # array attributes (the candidates) read as lists
    assert data.attrs["omega0_candidates"] == [5.0, 10.0]
    u = insr.load_field(result.run_dir)
    assert u.module.omega0 == data.attrs["omega0_auto"]
    np.testing.assert_allclose(u(data.grid[0]), data.field[-1], rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", ["hashgrid", "densegrid"])
def test_grid_based_fields_load_too(kind, tmp_path):
    sets = {**TINY, "case.steps": 1, "representation.kind": kind}
    sets.pop("representation.siren.hidden_features")
    result = insr.run(insr.load_config("advection1d", sets), tmp_path / "r")
    data = result.open()
    u = insr.load_field(result.run_dir)
    np.testing.assert_allclose(u(data.grid[0]), data.field[-1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        u.grad(data.grid[0]), data.gradients["autodiff"][-1], rtol=0, atol=1e-10
    )
    with pytest.raises(UsageError, match="coarse_to_fine follows the run's level schedule"):
        u.grad(data.grid[0], "coarse_to_fine")
