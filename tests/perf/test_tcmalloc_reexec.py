"""`insr run --tcmalloc` re-executes at most once, with a safe import path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(env_extra: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, **env_extra, "PYTHONPATH": str(ROOT)}
    env.pop("LD_PRELOAD", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "insr",
            "run",
            "advection1d",
            "--tcmalloc",
            "--steps",
            "1",
            "--set",
            "solver.max_iters=5",
            "--set",
            "solver.init.max_iters=5",
            "--set",
            "eval.resolution=17",
            "-q",
            "--out",
            str(cwd / "o"),
        ],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_library_without_tcmalloc_in_its_name_is_refused(tmp_path: Path) -> None:
    lib = tmp_path / "libc_like.so"
    lib.write_bytes(b"")
    r = _run({"INSR_TCMALLOC": str(lib)}, tmp_path)
    assert r.returncode == 2
    err = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(err) == 1 and "libtcmalloc" in err[0] and "Traceback" not in r.stderr


def test_reexec_happens_once_and_without_the_working_directory(tmp_path: Path) -> None:
    # A library whose name says tcmalloc but that the loader cannot use: LD_PRELOAD then
    # only warns; the re-executed process must not re-execute again, and a module placed
    # in the working directory must not shadow anything (python -P).
    lib = tmp_path / "libtcmalloc_minimal.so.4"
    lib.write_bytes(b"not an ELF file")
    (tmp_path / "h5py.py").write_text("raise SystemExit('working directory was imported')\n")
    r = _run({"INSR_TCMALLOC": str(lib)}, tmp_path)
    assert "working directory was imported" not in r.stderr
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "o" / "run.h5").exists()
