"""glibc allocator thresholds (insr/perf.py ``tune_malloc``): measured in real processes,
by the minor page faults of the Taylor–Green pressure loss (the workload that faults)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from insr import perf

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import json, resource, sys
import torch
from insr.perf import tune_malloc
state = tune_malloc()
torch.set_num_threads(1)
from benchmarks.perf import loss_fn
f = loss_fn("taylor_green", "ours", stage=1, fresh=True)
for _ in range(3):
    f()
f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    f()
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / 10
print(json.dumps({"state": state, "faults": faults}))
"""


def _child(**env: str) -> dict:
    full = {k: v for k, v in os.environ.items() if k != perf.MALLOC_ENV}
    full.update(PYTHONPATH=str(ROOT), **env)
    out = subprocess.run(
        [sys.executable, "-c", CHILD], env=full, capture_output=True, text=True, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(perf._tune_malloc() == "system (not glibc)", reason="glibc only")
def test_tuned_thresholds_remove_the_pressure_loss_page_faults() -> None:
    system = _child(INSR_MALLOC="system")
    tuned = _child()
    assert system["state"] == "system (INSR_MALLOC=system)" and tuned["state"] == "tuned"
    assert system["faults"] >= 50  # glibc's defaults return and re-fault freed tensors
    assert tuned["faults"] <= 0.2 * system["faults"]


def test_a_run_records_its_allocator_setting(tmp_path: Path) -> None:
    from insr.config import load_config
    from insr.log import RunLogReader
    from insr.run import execute

    sets = ["eval.resolution=21", "solver.samples=32", "solver.max_iters=2", "case.steps=1"]
    sets += ["solver.init.max_iters=2", "run.on_poor_fit=continue", "run.threads=1"]
    res = execute(load_config("advection1d", sets=sets), tmp_path / "r")
    with RunLogReader(res.log_path) as log:
        assert log.attrs["malloc"] == perf.tune_malloc()
        compiled = log.attrs["compile"]
    from typer.testing import CliRunner

    from insr.cli import app

    shown = CliRunner().invoke(app, ["info", str(tmp_path / "r")], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    assert perf.tune_malloc() in shown.output and compiled in shown.output
