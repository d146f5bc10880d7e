"""Every run log names the machine its numbers came from (``machine``, ``insr info``):
float round-off differs between CPU models, and an L-BFGS trajectory amplifies it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from insr.config import load_config
from insr.log import RunLogReader
from insr.run import execute

SHORT = ["case.steps=1", "solver.max_iters=5", "solver.init.max_iters=5", "run.threads=1"]


@pytest.mark.skipif(shutil.which("lscpu") is None, reason="lscpu (util-linux) not installed")
def test_the_log_names_the_cpu_model_and_torch(tmp_path: Path) -> None:
    out = subprocess.run(["lscpu"], capture_output=True, text=True, env={"LC_ALL": "C"})
    model = next(
        ln.split(":", 1)[1].strip() for ln in out.stdout.splitlines() if ln.startswith("Model name")
    )
    res = execute(load_config("advection1d", sets=SHORT), tmp_path / "r")
    with RunLogReader(res.log_path) as log:
        stored = str(log.attrs["machine"])
    assert stored.startswith(f"{model}; torch {torch.__version__}, ")
    assert stored.rsplit(", ", 1)[1] == torch.backends.cpu.get_cpu_capability()

    from typer.testing import CliRunner

    from insr.cli import app

    shown = CliRunner().invoke(app, ["info", str(res.log_path)], env={"COLUMNS": "250"})
    assert shown.exit_code == 0 and model in shown.output, shown.output
