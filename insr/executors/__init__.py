"""Sweep executors: where and how the members of a sweep run.

``make_executor("local" | "ray", ...)`` builds one; :func:`run_members` drives it. A
member is a :class:`MemberTask` whose work function writes progress and results to
files, so every executor is read the same way (see :mod:`insr.executors.base`).
"""

from __future__ import annotations

from collections.abc import Callable

from insr.errors import UsageError
from insr.executors.base import (
    SHARED_FS,
    Executor,
    MemberTask,
    ProgressFile,
    SweepRun,
    TaskEnd,
    read_progress,
    run_members,
)


def _local(workers: int, address: str | None) -> Executor:
    from insr.executors.local import InlineExecutor, LocalExecutor

    if address is not None:
        raise UsageError("--address is only for --executor ray")
    return InlineExecutor() if workers == 1 else LocalExecutor(workers)


def _ray(workers: int | None, address: str | None) -> Executor:
    from insr.executors.ray_cluster import RayExecutor

    return RayExecutor(address, max_in_flight=workers)


EXECUTORS: dict[str, Callable[..., Executor]] = {"local": _local, "ray": _ray}


def make_executor(name: str, *, workers: int | None, address: str | None = None) -> Executor:
    """The executor ``name`` (``local``: ``workers`` processes; ``ray``: at most ``workers``
    tasks in flight, all when None)."""
    if name not in EXECUTORS:
        raise UsageError(f"unknown executor '{name}'; allowed: {', '.join(EXECUTORS)}")
    return EXECUTORS[name](workers, address)


__all__ = [
    "EXECUTORS",
    "SHARED_FS",
    "Executor",
    "MemberTask",
    "ProgressFile",
    "SweepRun",
    "TaskEnd",
    "make_executor",
    "read_progress",
    "run_members",
]
