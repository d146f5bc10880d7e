"""Errors raised by the reference solvers (pure Python, no torch)."""

from __future__ import annotations

from insr.errors import UsageError


class ReferenceInputError(UsageError, ValueError):
    """Bad input to a reference solver (unknown scheme, wrong shape, unstable step...)."""
