"""One writer per run directory: a real second process holds the lock, a SIGKILLed holder
never blocks, a live `insr run` refuses a second `--overwrite` / `--resume` writer."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from _tiny import ROOT, completed, spawn
from _tiny import TINY_ARGS as _TINY
from typer.testing import CliRunner

from insr.cli import app
from insr.run.lock import LOCK_NAME, RunDirBusy, holder, run_lock

TINY_ARGS = [*_TINY, "--set", "run.on_poor_fit=continue"]

HOLD = (
    "import sys, time; from pathlib import Path; from insr.run.lock import run_lock\n"
    "with run_lock(Path(sys.argv[1])):\n"
    "    print('held', flush=True); time.sleep(120)\n"
)


def _holder(run_dir: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(run_dir)], env=env, stdout=subprocess.PIPE, text=True
    )
    assert p.stdout is not None and p.stdout.readline().strip() == "held"
    return p


def _tree_hash(d: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(d.rglob("*")):
        if f.is_file() and f.name != LOCK_NAME:
            h.update(str(f.relative_to(d)).encode() + f.read_bytes())
    return h.hexdigest()


def _one_line(r) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    return lines[0]


def cli(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture(scope="module")
def done(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("lock") / "done"
    r = cli("run", "advection1d", *TINY_ARGS, "--out", str(out), "-q", "--steps", "2")
    assert r.exit_code == 0, r.stderr
    assert not (out / LOCK_NAME).exists()  # released and removed at the end of the run
    return out


def test_second_writer_refused_naming_the_holder_pid(tmp_path, done):
    fresh = tmp_path / "fresh"
    p = _holder(fresh)
    try:
        assert holder(fresh) == p.pid
        r = cli("run", "advection1d", *TINY_ARGS, "--out", str(fresh), "-q")
        assert r.exit_code == 1
        msg = _one_line(r)
        assert f"being written by process {p.pid}" in msg and str(fresh) in msg
        assert not (fresh / "run.h5").exists() and not (fresh / "run.h5.tmp").exists()
    finally:
        p.kill()
        p.wait()
    # the run that owns a log: --overwrite and --resume are refused while another holds it
    before = _tree_hash(done)
    p = _holder(done)
    try:
        for args in (
            ["run", "advection1d", *TINY_ARGS, "--out", str(done), "-q", "--overwrite"],
            ["run", "--resume", str(done), "-q", "--steps", "4"],
            ["run", "advection1d", "--out", str(done), "--resume", "-q", "--steps", "4"],
        ):
            r = cli(*args)
            assert r.exit_code == 1, (args, r.stderr)
            assert f"process {p.pid}" in _one_line(r)
        with pytest.raises(RunDirBusy):
            with run_lock(done):
                pass
    finally:
        p.kill()
        p.wait()
    assert _tree_hash(done) == before


def test_sigkilled_holder_never_blocks(tmp_path):
    d = tmp_path / "stale"
    p = _holder(d)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert (d / LOCK_NAME).exists() and holder(d) == p.pid  # the file stays; the lock died
    r = cli("run", "advection1d", *TINY_ARGS, "--out", str(d), "-q", "--steps", "1")
    assert r.exit_code == 0, r.stderr
    assert (d / "run.h5").exists() and not (d / LOCK_NAME).exists()


def test_overwrite_while_a_real_run_writes_is_refused(tmp_path):
    """A live `insr run` in another process: a second `--overwrite` on its directory is
    refused and the first run ends complete with its own log."""
    out = tmp_path / "live"
    p = spawn(out, "--steps", "30")
    try:
        import time

        deadline = time.monotonic() + 120
        while completed(out / "run.h5") < 1 and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if p.poll() is not None:
            pytest.skip("the run ended before the second writer started")
        r = cli("run", "advection1d", *TINY_ARGS, "--out", str(out), "-q", "--overwrite")
        assert r.exit_code == 1
        assert f"process {p.pid}" in _one_line(r)
    finally:
        p.send_signal(signal.SIGINT)
        p.wait(timeout=120)
    assert p.returncode in (0, 130), p.stderr.read() if p.stderr else ""
    assert completed(out / "run.h5") >= 1


def test_reentrant_within_a_process_and_removed_on_release(tmp_path):
    d = tmp_path / "r"
    with run_lock(d) as made:
        assert made and holder(d) == os.getpid()
        with run_lock(d) as again:
            assert again is False
        assert (d / LOCK_NAME).exists()
    assert not (d / LOCK_NAME).exists()


def test_a_log_killed_while_being_created_does_not_block_the_next_run(tmp_path):
    """A SIGKILL inside RunLogWriter.create leaves run.h5.tmp (and a stale lock file): the
    next run removes it under its lock and runs."""
    d = tmp_path / "half"
    p = _holder(d)
    (d / "run.h5.tmp").write_bytes(b"\x89HDF\r\n half a log")
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    r = cli("run", "advection1d", *TINY_ARGS, "--out", str(d), "-q", "--steps", "1")
    assert r.exit_code == 0, r.stderr
    assert (d / "run.h5").exists() and not (d / "run.h5.tmp").exists()


def test_a_second_sweep_into_the_same_compare_directory_is_refused(tmp_path):
    c = tmp_path / "sweep"
    p = _holder(c)
    try:
        args = ["compare", "representations", "--case", "advection1d", "--reprs", "siren"]
        r = cli(*args, *TINY_ARGS, "--steps", "1", "--out", str(c), "-q")
        assert r.exit_code == 1, r.stderr
        assert f"being written by process {p.pid}" in _one_line(r)
        assert sorted(f.name for f in c.iterdir()) == [LOCK_NAME]  # nothing written
    finally:
        p.kill()
        p.wait()
