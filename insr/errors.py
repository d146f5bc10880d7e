"""Errors the CLI turns into one-line messages and exit codes."""

from __future__ import annotations

import os


class InsrError(Exception):
    """A problem the user can fix; printed as one line, no traceback.

    ``exit_code`` 2 means bad usage or input (config, arguments, files), 1 a runtime failure.
    """

    exit_code = 1


class UsageError(InsrError):
    """Bad input: unknown name, wrong type, out-of-range value, unreadable file."""

    exit_code = 2


class RunFailure(InsrError):
    """A run could not continue (divergence, disk full, ...)."""

    exit_code = 1


class RunInterrupted(InsrError):
    """The user stopped the run (Ctrl-C / SIGTERM); the log is closed valid and resumable."""

    def __init__(self, message: str, signum: int = 2) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum


MAX_COMPONENT_BYTES = 255  # NAME_MAX on Linux, macOS and Windows file systems
MAX_PATH_BYTES = 4095  # PATH_MAX - 1 on Linux


def check_path_length(path: object, what: str) -> None:
    """Refuse a path the file system cannot hold (one line instead of ENAMETOOLONG)."""
    text = str(path)
    if "\0" in text:
        raise UsageError(f"{what} {text!r} is not allowed: it contains a NUL character")
    raw = os.fsencode(text)
    if len(raw) > MAX_PATH_BYTES:
        raise UsageError(
            f"{what} is too long: {len(raw)} bytes (at most {MAX_PATH_BYTES}); '{text[:60]}...'"
        )
    for part in raw.split(b"/"):
        if len(part) > MAX_COMPONENT_BYTES:
            name = os.fsdecode(part)
            raise UsageError(
                f"{what} {text[:60]}...: the name '{name[:40]}...' is too long: {len(part)} "
                f"bytes (at most {MAX_COMPONENT_BYTES} per folder or file name)"
            )
