"""One writer per run directory: an advisory ``fcntl.flock`` on ``RUN_DIR/.insr.lock``.

``insr run`` (fresh, ``--resume``, ``--overwrite``) and every compare/study member hold the
lock for the life of their write; a second writer is refused with one line naming the
process that holds it. The lock dies with its holder (the kernel drops a ``flock`` when
the process ends, SIGKILL included), so a killed run never blocks the next one; the pid
written into the file is only for the message. The lock is re-entrant within a process
(the CLI takes it before planning a resume, the driver again around the write).

The file is removed when the lock is released; a taker checks after locking that the
path still names the file it locked (else it lost a race with a release and tries again).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from insr.errors import InsrError, UsageError, check_path_length

LOCK_NAME = ".insr.lock"
_held: dict[str, tuple[int, int]] = {}  # resolved run dir -> (fd, depth)


class RunDirBusy(InsrError):
    """Another process writes the run directory."""

    exit_code = 1


def lock_path(run_dir: Path) -> Path:
    return Path(run_dir) / LOCK_NAME


def holder(run_dir: Path) -> int | None:
    """The pid written by the current holder (None: unknown or no lock file)."""
    try:
        text = lock_path(run_dir).read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def _busy(run_dir: Path) -> RunDirBusy:
    pid = holder(run_dir)
    who = f"process {pid}" if pid is not None else "another process"
    return RunDirBusy(
        f"{run_dir} is being written by {who} (another insr run, resume or sweep member); "
        "wait for it to end or stop it, or use another --out"
    )


def _take(run_dir: Path) -> int:
    """Open and lock the lock file; the fd (raises RunDirBusy / UsageError)."""
    path = lock_path(run_dir)
    for _ in range(20):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise UsageError(f"cannot write to {run_dir}: {e.strerror or e}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise _busy(run_dir) from None
            raise UsageError(f"cannot lock {path}: {e.strerror or e}") from None
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return fd
        os.close(fd)  # the holder released (and removed) it between our open and lock
    raise _busy(run_dir)  # pragma: no cover - 20 lost races in a row


def _release(run_dir: Path, fd: int) -> None:
    with contextlib.suppress(OSError):
        lock_path(run_dir).unlink()  # while still locked: no one can hold this inode
    os.close(fd)


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[bool]:
    """Hold the writer lock of ``run_dir`` (created if missing) for the ``with`` body.

    Yields whether this call created the directory (so a failure may remove it again).
    Raises :class:`RunDirBusy` (exit 1) when another process holds it.
    """
    check_path_length(run_dir, "the run directory")
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError(f"--out {run_dir} is a file, not a run directory")
    made = not run_dir.exists()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot write to {run_dir}: {e.strerror or e}") from None
    key = str(run_dir.resolve())
    if key in _held:
        fd, depth = _held[key]
        _held[key] = (fd, depth + 1)
        try:
            yield False
        finally:
            fd, depth = _held[key]
            _held[key] = (fd, depth - 1)
        return
    try:
        fd = _take(run_dir)
    except BaseException:
        if made:
            with contextlib.suppress(OSError):
                run_dir.rmdir()
        raise
    _held[key] = (fd, 1)
    try:
        yield made
    finally:
        del _held[key]
        if run_dir.is_dir():
            _release(run_dir, fd)
        else:  # the run directory was removed (a failed fresh run): the lock went with it
            os.close(fd)


def is_lock_file(path: Path) -> bool:
    return path.name == LOCK_NAME
