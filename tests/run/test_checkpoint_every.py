"""Checkpoints every ``run.checkpoint_every`` steps: a run stopped between checkpoints --
by a real SIGINT (the last completed step is checkpointed on the way out) or a real
SIGKILL (rows past the last checkpoint are dropped and recomputed) -- resumes to the same
log, bit for bit, as an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from insr.config import load_config
from insr.log import RunLogReader, checkpoint
from insr.run import execute, resume
from insr.verdict import is_complete
from tests.run._tiny import ROOT, TINY, assert_identical, datasets, wait_rows

K = 3
STEPS = 7  # checkpoints after steps 0, 3, 6 and 7 (the last)
SETS = [*[s for s in TINY if not s.startswith("case.steps")], f"case.steps={STEPS}"]
SETS += ["run.on_poor_fit=continue", f"run.checkpoint_every={K}"]
ARGS = [a for s in SETS for a in ("--set", s)]


@pytest.fixture(scope="module")
def ref(tmp_path_factory) -> dict[str, np.ndarray]:
    """One uninterrupted run with checkpoints every K steps."""
    out = tmp_path_factory.mktemp("ref") / "run"
    res = execute(load_config("advection1d", [], SETS), out)
    assert is_complete(res.status) and res.completed_steps == STEPS + 1
    return datasets(out / "run.h5")


def _start(out: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "insr", "run", "advection1d", *ARGS, "--out", str(out), "-q"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stop_after(out: Path, rows: int, sig: int) -> tuple[int, int]:
    """Start the run, send ``sig`` as soon as ``rows`` rows are complete; (rows kept,
    checkpoint step) afterwards. Skips when the run ended before the signal."""
    log = out / "run.h5"
    p = _start(out)
    if not wait_rows(p, log, rows):
        p.wait(timeout=60)
        pytest.skip("the run ended before the signal could be sent")
    p.send_signal(sig)
    p.wait(timeout=60)
    assert p.returncode == (130 if sig == signal.SIGINT else -signal.SIGKILL), p.stderr.read()
    ck = checkpoint(log)
    assert ck is not None
    with RunLogReader(log) as lg:
        return lg.n, int(ck[1]["step"])


def test_due_steps_only_in_an_uninterrupted_run(ref) -> None:
    assert int(ref["checkpoint/step"]) == STEPS
    assert list(ref["step"]) == list(range(STEPS + 1))


def test_sigint_between_checkpoints_writes_the_last_step_and_resumes_identically(
    ref, tmp_path
) -> None:
    for attempt in range(3):  # the signal must land while a step that is not due runs
        out = tmp_path / f"int{attempt}"
        n, ck = _stop_after(out, 5, signal.SIGINT)  # rows 0..4 done, step 5 running
        assert ck == n - 1  # the last completed step is checkpointed on the way out
        if ck % K != 0:
            break
    else:
        pytest.skip("the signal never landed between checkpoints")
    with RunLogReader(out) as lg:
        assert lg.status == f"interrupted at step {n}"
    res = resume(out)
    assert is_complete(res.status)
    assert_identical(datasets(out / "run.h5"), ref)


def test_sigkill_between_checkpoints_recomputes_the_dropped_rows_identically(ref, tmp_path) -> None:
    for attempt in range(3):  # the kill must land while rows past the checkpoint exist
        out = tmp_path / f"kill{attempt}"
        n, ck = _stop_after(out, 5, signal.SIGKILL)
        assert ck % K == 0 and ck <= n - 1  # only due steps are checkpointed
        if n - 1 > ck:
            break
    else:
        pytest.skip("the kill never landed between checkpoints")
    res = resume(out)  # drops rows ck+1..n-1 and recomputes them
    assert is_complete(res.status) and res.completed_steps == STEPS + 1
    assert_identical(datasets(out / "run.h5"), ref)


def test_a_step_limit_then_extension_matches_the_long_run(ref, tmp_path) -> None:
    """Stopping at a step limit that is not a multiple of K (the last step is always
    checkpointed) and extending with --steps gives the long run's log."""
    out = tmp_path / "short"
    short = [s for s in SETS if not s.startswith("case.steps")] + ["case.steps=4"]
    res = execute(load_config("advection1d", [], short), out)
    assert is_complete(res.status)
    assert checkpoint(out / "run.h5")[1]["step"] == 4
    res = resume(out, sets=[f"case.steps={STEPS}"])
    assert is_complete(res.status)
    got = datasets(out / "run.h5")
    assert_identical(got, ref)
