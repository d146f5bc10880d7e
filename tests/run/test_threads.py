"""A run's ``run.threads`` is its own: execute and resume restore torch's thread count, so
a later run in the same process (the API, a search script) is not silently run on it.

Measured before the fix: `advection2d` for 4 steps gave gradient error 0.0872 in a fresh
process and 0.0862 after an `advection1d` run (whose case sets `threads = 1`) in the same
process.
"""

from __future__ import annotations

import pytest
import torch

from insr.config import load_config
from insr.errors import RunFailure
from insr.run import execute, resume

SHORT = ["case.steps=1", "solver.max_iters=5", "solver.init.max_iters=5", "run.threads=1"]


def test_execute_and_resume_restore_the_thread_count(tmp_path):
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        cfg = load_config("advection1d", [], [*SHORT, "run.on_poor_fit=continue"])
        assert cfg.run.threads == 1
        res = execute(cfg, tmp_path / "r")
        assert torch.get_num_threads() == 2
        resume(res.log_path.parent, sets=["case.steps=2"])
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_a_failed_run_restores_it_too(tmp_path):
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        # a 1-iteration step-0 fit misses badly: the run stops with a RunFailure
        cfg = load_config(
            "advection1d",
            [],
            [
                "case.steps=1",
                "solver.init.max_iters=1",
                "solver.init.optimizer=adam",
                "run.threads=1",
            ],
        )
        with pytest.raises(RunFailure, match="step 0"):
            execute(cfg, tmp_path / "f")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
