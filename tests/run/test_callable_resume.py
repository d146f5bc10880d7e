"""Code only where the user put it: a log whose case has a ``callable`` initial condition
is not resumed (the callable not imported nor run) without --allow-callable or the same
case file named on the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from insr.cli import app

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "eval.resolution=17",
    "solver.max_iters=5",
    "solver.init.max_iters=5",
    "solver.check_every=5",
    "solver.samples=50",
    "run.threads=1",
    "run.device=cpu",
    "solver.substeps=1",
    "run.on_poor_fit=continue",
]
TINY_ARGS = [a for s in TINY for a in ("-s", s)]
MODULE = """
import os
import torch

def pulse(x):
    with open(os.environ["INSR_TEST_MARKER"], "a") as f:
        f.write("called\\n")
    return torch.exp(-((x[:, 0] + 1.5) ** 2) / (2 * 0.1**2))

def other(x):
    return pulse(x)
"""


def cli(*args: str):
    return CliRunner().invoke(app, list(args))


def _one_line(r) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    return lines[0]


@pytest.fixture
def setup(tmp_path, monkeypatch):
    mods = tmp_path / "mods"
    mods.mkdir()
    (mods / "insr_user_u0.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(mods))
    marker = tmp_path / "marker"
    monkeypatch.setenv("INSR_TEST_MARKER", str(marker))
    base = (ROOT / "insr" / "data" / "cases" / "advection1d.toml").read_text()
    gauss = 'initial = { family = "gaussian", mu = [-1.5], sigma = 0.1, amplitude = 1.0 }'
    assert gauss in base
    case = tmp_path / "mine.toml"
    case.write_text(
        base.replace(gauss, 'initial = { family = "callable", target = "insr_user_u0:pulse" }')
    )
    other = tmp_path / "other.toml"
    other.write_text(
        base.replace(gauss, 'initial = { family = "callable", target = "insr_user_u0:other" }')
    )
    out = tmp_path / "run"
    r = cli("run", str(case), *TINY_ARGS, "--steps", "1", "--out", str(out), "-q")
    assert r.exit_code == 0, r.stderr
    assert marker.exists()  # the callable ran for the fresh run (a case file is code)
    marker.unlink()
    return case, other, out, marker


def test_resume_refuses_a_stored_callable(setup):
    case, other, out, marker = setup
    for args in (
        ["run", "--resume", str(out), "--steps", "2", "-q"],
        ["run", "advection1d", "--out", str(out), "--resume", "--steps", "2", "-q"],
    ):
        r = cli(*args)
        assert r.exit_code == 2, r.stderr
        msg = _one_line(r)
        assert "insr_user_u0:pulse" in msg and "--allow-callable" in msg
        assert not marker.exists()  # nothing was imported from the log and run
    r = cli("run", str(other), "--out", str(out), "--resume", "--steps", "2", "-q")
    assert r.exit_code == 2 and "does not name the code stored" in _one_line(r)
    assert not marker.exists()


def test_resume_runs_it_with_allow_callable_or_the_same_case_file(setup):
    case, _, out, marker = setup
    r = cli("run", "--resume", str(out), "--steps", "2", "-q", "--allow-callable")
    assert r.exit_code == 0, r.stderr
    assert marker.exists()
    marker.unlink()
    r = cli("run", str(case), "--out", str(out), "--resume", "--steps", "3", "-q")
    assert r.exit_code == 0, r.stderr
    assert marker.exists()


def test_allow_callable_without_resume_is_refused(setup):
    case, _, _, _ = setup
    r = cli("run", str(case), "--allow-callable", "-q")
    assert r.exit_code == 2 and "only with --resume" in _one_line(r)
