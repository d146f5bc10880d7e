"""Errors the CLI turns into one-line messages and exit codes."""

from __future__ import annotations


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
