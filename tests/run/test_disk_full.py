"""A real full disk: runs on a small tmpfs that another writer fills mid-run, and tmpfs sizes
too small for the log. Needs root (mount); skipped with the reason otherwise."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest
from _tiny import TINY, TINY_ARGS, assert_identical, datasets, error_lines, spawn, wait_rows
from typer.testing import CliRunner

from insr.cli import app
from insr.config import load_config
from insr.log import RESERVE, RunLogReader
from insr.run import execute


def _mount(d: Path, size_kib: int) -> None:
    d.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(d)],
        capture_output=True,
        text=True,
    )
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip() or r.returncode})")


@pytest.fixture
def tmpfs(tmp_path):
    mounted: list[Path] = []

    def make(size_kib: int) -> Path:
        d = tmp_path / f"fs-{uuid.uuid4().hex[:6]}"
        _mount(d, size_kib)
        mounted.append(d)
        return d

    yield make
    for d in mounted:
        subprocess.run(["umount", "-l", str(d)], capture_output=True)


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    assert execute(load_config("advection1d", [], TINY), out).status == "complete"
    return datasets(out)


def _free(d: Path) -> int:
    st = os.statvfs(d)
    return st.f_bavail * st.f_frsize


@pytest.mark.parametrize(
    "size_kib,leave", [(1024, 0), (1536, 48 * 1024), (2048, RESERVE - 8 * 1024)]
)
def test_disk_filled_by_another_writer_stops_cleanly_and_resumes(ref, tmpfs, size_kib, leave):
    d = tmpfs(size_kib)
    out = d / "r"
    p = spawn(out)
    assert wait_rows(p, out / "run.h5", 2), p.communicate()
    with open(d / "filler", "wb") as f:  # another program takes all but `leave` bytes
        try:
            f.write(b"\0" * max(_free(d) - leave, 0))
        except OSError:
            pass
    _, stderr = p.communicate(timeout=120)
    assert p.returncode == 1, stderr
    lines = error_lines(stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr and str(d) in lines[0] and "disk space" in lines[0]
    assert f"insr run --resume {out}" in lines[0]
    with RunLogReader(out) as log:
        n, status = log.n, log.status
    assert 2 <= n < 7 and status.startswith("failed at step ") and "disk full" in status
    assert_identical(datasets(out), ref, rows=n)  # exactly the completed rows, correct
    assert sorted(x.name for x in out.iterdir()) == ["run.h5"]  # no run.h5.tmp
    (d / "filler").unlink()  # free the space, continue
    r = CliRunner().invoke(app, ["run", "--resume", str(out), "-q"])
    assert r.exit_code == 0, r.stderr
    assert_identical(datasets(out), ref)


@pytest.mark.parametrize("size_kib", [120, 205, 400])
def test_disk_too_small_for_the_log_is_refused_before_writing(tmpfs, size_kib):
    d = tmpfs(size_kib)
    r = CliRunner().invoke(app, ["run", "advection1d", *TINY_ARGS, "--out", str(d / "r"), "-q"])
    assert r.exit_code == 2, r.stderr
    lines = error_lines(r.stderr)
    assert len(lines) == 1 and f"free on {d}" in lines[0], r.stderr
    assert list(d.iterdir()) == []  # nothing made


def test_disk_full_while_creating_the_log_leaves_nothing(tmpfs, monkeypatch):
    """The up-front estimate skipped: creating run.h5 on a 16 KiB tmpfs fails for real."""
    import insr.run.limits

    monkeypatch.setattr(insr.run.limits, "free_bytes", lambda p: None)
    d = tmpfs(16)
    r = CliRunner().invoke(app, ["run", "advection1d", *TINY_ARGS, "--out", str(d / "r"), "-q"])
    assert r.exit_code == 1, r.stderr
    lines = error_lines(r.stderr)
    assert len(lines) == 1 and str(d) in lines[0] and "disk" in lines[0], r.stderr
    assert not any(d.rglob("*.tmp")) and not (d / "r" / "run.h5").exists()
