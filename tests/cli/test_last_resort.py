"""The last-resort handler: an unexpected exception is one stderr line, exit 1, and a hint
to rerun with ``insr --debug``, which shows the traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from insr.cli import app

ROOT = Path(__file__).resolve().parents[2]


def _bug(*_a, **_k):
    raise ZeroDivisionError("division by zero\nin a helper")


def test_unexpected_exception_is_one_line_with_debug_hint(monkeypatch, tmp_path):
    import insr.log

    monkeypatch.setattr(insr.log.RunLogReader, "__init__", _bug)
    r = CliRunner().invoke(app, ["info", str(tmp_path)])
    assert r.exit_code == 1
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert lines[0].startswith("error: unexpected ZeroDivisionError: division by zero in a helper")
    assert "insr --debug" in lines[0]
    r = CliRunner().invoke(app, ["--debug", "info", str(tmp_path)])
    assert isinstance(r.exception, ZeroDivisionError)  # --debug lets the traceback through


def test_console_script_prints_the_traceback_only_with_debug(tmp_path):
    """A real process: a bug planted through sitecustomize (the code under test unchanged)."""
    (tmp_path / "sitecustomize.py").write_text(
        "import insr.log\n"
        "def _bug(*a, **k):\n"
        "    raise KeyError('planted')\n"
        "insr.log.RunLogReader.__init__ = _bug\n"
    )
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{ROOT}")
    base = [sys.executable, "-m", "insr"]
    r = subprocess.run([*base, "info", str(tmp_path)], env=env, capture_output=True, text=True)
    assert r.returncode == 1
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "unexpected KeyError: 'planted'" in lines[0], r.stderr
    assert f"`insr --debug info {tmp_path}`" in lines[0]
    r = subprocess.run(
        [*base, "--debug", "info", str(tmp_path)], env=env, capture_output=True, text=True
    )
    assert r.returncode == 1 and "Traceback" in r.stderr and "KeyError: 'planted'" in r.stderr
