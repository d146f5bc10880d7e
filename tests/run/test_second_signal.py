"""A second Ctrl-C / SIGTERM during the clean stop: `insr run` prints one line and exits at
once; `insr compare` kills its running members at once. Real signals to real processes; the
clean stop is held open by a planted slow close (sitecustomize), the code under test as is."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from _tiny import ROOT, TINY_ARGS, wait_rows
from typer.testing import CliRunner

import insr.log as insr_log
from insr.cli import app
from insr.log import RunLogReader
from insr.verdict import is_complete

SLOW_CLOSE = """
import os, sys, time
import insr.log
_orig = insr.log.RunLogWriter.close
def close(self, status=None):
    if status and status.startswith("interrupted"):
        sys.stderr.write("planted: slow close\\n"); sys.stderr.flush()
        with open(os.environ["INSR_TEST_SLOW_MARK"], "a") as f:
            f.write(f"{os.getpid()}\\n")
        time.sleep(60)
    return _orig(self, status)
insr.log.RunLogWriter.close = close
"""


def _env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "sitecustomize.py").write_text(SLOW_CLOSE)
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{ROOT}", OMP_NUM_THREADS="1")
    env["INSR_TEST_SLOW_MARK"] = str(tmp_path / "slow-close")
    return env


def _wait_file(path: Path, p: subprocess.Popen, limit: float = 120) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and p.poll() is None:
        if path.exists():
            return True
        time.sleep(0.02)
    return path.exists()


class _Lines:
    """Collect a pipe's lines in a thread (so waiting for one never blocks the test)."""

    def __init__(self, pipe) -> None:
        self.lines: list[str] = []
        self._t = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self._t.start()

    def _read(self, pipe) -> None:
        for line in pipe:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, p: subprocess.Popen, limit: float = 120) -> bool:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if any(text in ln for ln in self.lines):
                return True
            if p.poll() is not None:
                time.sleep(0.2)
                return any(text in ln for ln in self.lines)
            time.sleep(0.02)
        return False

    def join(self) -> list[str]:
        self._t.join(timeout=10)
        return self.lines


def test_second_sigterm_during_the_clean_stop_exits_at_once(tmp_path):
    out = tmp_path / "run"
    args = [sys.executable, "-m", "insr", "run", "advection1d", *TINY_ARGS, "--steps", "40"]
    args += ["--set", "run.on_poor_fit=continue", "--out", str(out), "-q"]
    p = subprocess.Popen(args, env=_env(tmp_path), stderr=subprocess.PIPE, text=True)
    err = _Lines(p.stderr)
    try:
        if not wait_rows(p, out / "run.h5", 1):
            pytest.skip("the run ended before the first signal")
        p.send_signal(signal.SIGINT)
        assert err.wait_for("planted: slow close", p), err.lines
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)  # the planted close sleeps 60 s: only the second signal ends it
    finally:
        if p.poll() is None:
            p.kill()
    lines = [ln for ln in err.join() if ln.strip() and not ln.startswith("planted")]
    assert p.returncode == 128 + signal.SIGTERM, lines
    assert len(lines) == 1 and "Traceback" not in "".join(lines), lines
    assert lines[0].startswith("error: SIGTERM again during the clean stop: exiting now")
    assert f"insr run --resume {out}" in lines[0]
    with RunLogReader(out) as log:  # readable, its rows kept
        assert log.n >= 1
    r = CliRunner().invoke(app, ["run", "--resume", str(out), "-q", "--steps", "3"])
    assert r.exit_code == 0, r.stderr
    with RunLogReader(out) as log:
        assert is_complete(log.status) and log.n == 4


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                out.append(int(d.name))
    return out


def _alive(pid: int) -> bool:
    try:
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) != "Z"
    except (OSError, IndexError):
        return False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_second_signal_to_compare_kills_members_now_and_marks_the_sweep(tmp_path, sig):
    out = tmp_path / "c"
    args = [sys.executable, "-m", "insr", "compare", "representations", "--case", "advection1d"]
    args += ["--reprs", "siren", "--seeds", "0..2", "--workers", "2", "--steps", "40"]
    args += [*TINY_ARGS, "--set", "run.on_poor_fit=continue", "--out", str(out), "-q"]
    p = subprocess.Popen(args, env=_env(tmp_path), cwd=ROOT, stderr=subprocess.PIPE, text=True)
    err = _Lines(p.stderr)
    try:
        log = out / "siren-s0" / "run.h5"
        if not wait_rows(p, log, 1, timeout=300):
            pytest.skip("the sweep ended before the first signal")
        workers = _children(p.pid)
        assert workers
        p.send_signal(sig)
        # a member (in a worker) is in its planted slow close
        assert _wait_file(tmp_path / "slow-close", p), err.lines
        p.send_signal(sig)
        p.wait(timeout=40)  # without the second signal: 60 s close, then the 60 s grace
    finally:
        if p.poll() is None:
            p.kill()
    lines = [ln for ln in err.join() if ln.strip() and not ln.startswith("planted")]
    assert p.returncode == 128 + sig, lines
    assert "Traceback" not in "\n".join(lines)
    name = signal.Signals(sig).name
    assert any(ln.startswith(f"{name} again: killing the running members now") for ln in lines)
    assert any("resume with: insr compare representations" in ln for ln in lines), lines
    deadline = time.monotonic() + 30
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [w for w in workers if _alive(w)]  # no orphaned worker
    members = {m["name"]: m for m in json.loads((out / "sweep.json").read_text())["members"]}
    assert members["siren-s2"]["status"] == "cancelled"
    with RunLogReader(out / "siren-s0") as lg:  # killed mid-close: still readable
        assert lg.n >= 1


def test_a_signal_during_the_closing_write_waits_for_it(tmp_path: Path, monkeypatch) -> None:
    """A real SIGINT to this process at the start of the log's final close: the close
    finishes (status 'complete', every row there), then the run reports the interrupt."""
    from _tiny import TINY

    from insr.config import load_config
    from insr.run import execute

    real_close = insr_log.RunLogWriter.close

    def close(self, status=None):
        if status == "complete":
            os.kill(os.getpid(), signal.SIGINT)  # delivered while the close runs
        real_close(self, status)

    monkeypatch.setattr(insr_log.RunLogWriter, "close", close)
    with pytest.raises(KeyboardInterrupt):
        execute(load_config("advection1d", sets=TINY), tmp_path / "r")
    with RunLogReader(tmp_path / "r" / "run.h5") as log:
        assert log.status == "complete"
        assert log.n == 7
