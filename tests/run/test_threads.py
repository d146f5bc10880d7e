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


def test_auto_threads_by_representation_size(tmp_path):
    """``run.threads = 0``: one thread below 1 M parameters on the CPU (a SIREN), the
    process's own setting above (a 2D hash grid of 7.7 M); recorded in the log."""
    from insr.log import RunLogReader
    from insr.run.build import AUTO_THREADS_PARAMS, auto_threads

    assert auto_threads(AUTO_THREADS_PARAMS - 1, torch.device("cpu")) == 1
    assert auto_threads(AUTO_THREADS_PARAMS, torch.device("cpu")) is None
    assert auto_threads(10, torch.device("cuda")) is None
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    seen = {}
    try:
        for kind in ("siren", "hashgrid"):
            sets = ["case.steps=1", "solver.max_iters=2", "solver.min_iters=0", "run.threads=0"]
            sets += ["solver.init.max_iters=2", "solver.init.min_iters=0"]
            sets += [f"representation.kind={kind}", "run.on_poor_fit=continue"]
            cfg = load_config("advection2d", [], sets)
            res = execute(cfg, tmp_path / kind)
            with RunLogReader(res.log_path) as r:
                seen[kind] = (str(r.attrs["threads"]), int(r.attrs["n_params"]))
            assert torch.get_num_threads() == 2  # restored after the run
    finally:
        torch.set_num_threads(before)
    assert seen["siren"][1] < AUTO_THREADS_PARAMS <= seen["hashgrid"][1]
    assert seen["siren"][0] == "1 (auto)"
    assert seen["hashgrid"][0] == "2 (auto: the process's)"
