"""What every sweep executor shares: the task, the progress file, the driver loop.

A sweep member is one :class:`MemberTask`. The executor runs ``work(task, progress)``
somewhere (a local process, a Ray task); the work writes its progress and its end
record to ``<status_dir>/<name>.json`` with :class:`ProgressFile`, and its results to
its own run log. The driver (:func:`run_members`) reads only those files, never a task's
return value, so a lost driver can resume a sweep from what is on disk.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from insr.errors import UsageError

SHARED_FS = "the sweep directory must be on a filesystem every node sees"


@dataclass
class MemberTask:
    """One member: ``work`` ("module:function") is called as ``work(task, progress)``."""

    name: str
    work: str
    payload: dict[str, Any]
    status_dir: str
    cpus: int = 1
    gpus: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> MemberTask:
        return cls(**json.loads(text))


@dataclass
class TaskEnd:
    """How a task ended as the driver saw it: ``state`` is ``ended`` (the work wrote its end
    record), ``lost`` (the task died without one; ``reason`` says how) or ``cancelled``."""

    name: str
    state: str
    reason: str = ""
    record: dict[str, Any] = field(default_factory=dict)
    after_stop: bool = False  # it ended after the sweep was told to stop


class ProgressFile:
    """The progress and end record of one task, replaced atomically on every update."""

    def __init__(self, task: MemberTask) -> None:
        self.path = Path(task.status_dir) / f"{task.name}.json"
        self.data: dict[str, Any] = {
            "name": task.name,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "phase": "starting",
            "started": time.time(),
        }

    def update(self, **fields: Any) -> None:
        self.data.update(fields, time=time.time())
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(self.data))
            tmp.replace(self.path)
        except OSError as e:
            raise UsageError(
                f"worker on {self.data['host']} cannot write to {self.path.parent}: "
                f"{e.strerror or e}; {SHARED_FS}"
            ) from None

    def end(self, **fields: Any) -> None:
        self.update(phase="end", **fields)


def read_progress(status_dir: Path, name: str) -> dict[str, Any]:
    """The latest progress record of ``name`` ({} when there is none or it is unreadable)."""
    try:
        return json.loads((Path(status_dir) / f"{name}.json").read_text())
    except (OSError, ValueError):
        return {}


def clear_progress(status_dir: Path, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        (Path(status_dir) / f"{name}.json").unlink()


def load_work(spec: str) -> Callable[[MemberTask, ProgressFile], None]:
    mod, _, fn = spec.partition(":")
    return getattr(importlib.import_module(mod), fn)


def run_task(task: MemberTask) -> None:
    """Run one task in this process (what every executor's worker finally calls)."""
    progress = ProgressFile(task)
    progress.update(phase="starting")
    load_work(task.work)(task, progress)


class Executor(Protocol):
    """Runs tasks; the driver loop asks it to start, polls it and stops it."""

    name: str

    def capacity(self) -> int:
        """How many tasks may run at once."""

    def start(self, task: MemberTask) -> None:
        """Start (or queue with the engine) one task."""

    def poll(self) -> list[tuple[str, str]]:
        """Tasks that finished since the last call: ``(name, why)``; ``why`` is "" when the
        process or task ended normally, else one line (exit code, engine error)."""

    def stop(self, names: list[str], *, kill: bool) -> None:
        """Ask running tasks to stop (they checkpoint and close their logs), or kill them."""

    def close(self) -> None:
        """Release processes and connections."""


@dataclass
class SweepRun:
    ends: dict[str, TaskEnd]
    interrupted_by: int | None = None  # the signal that cancelled the sweep


class _StopFlag:
    """SIGINT/SIGTERM set the flag (first signal) instead of raising."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.raise_now = False  # an in-process member is running: interrupt it
        self.kill_now = False  # a second signal: do not wait for members to checkpoint
        self._old: dict[int, Any] = {}

    def _handler(self, signum: int, _frame: Any) -> None:
        if self.signum is None:
            self.signum = signum
        elif not self.kill_now:
            self.kill_now = True
            with contextlib.suppress(Exception):
                sys.stderr.write(
                    f"{signal.Signals(signum).name} again: killing the running members now "
                    "(their logs keep every completed row; --resume continues them)\n"
                )
                sys.stderr.flush()
        if self.raise_now:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def installed(self) -> Iterator[_StopFlag]:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handler)
        try:
            yield self
        finally:
            for signum, old in self._old.items():
                signal.signal(signum, old)


GRACE_S = 60.0  # how long stopped tasks get to checkpoint before they are killed


@dataclass
class _Loop:
    """State of one :func:`run_members` call: queue, running tasks, ends, the stop flag."""

    executor: Executor
    queue: list[MemberTask]
    status_dir: Path
    emit: Callable[[str, dict[str, Any]], None]
    running: dict[str, MemberTask] = field(default_factory=dict)
    ends: dict[str, TaskEnd] = field(default_factory=dict)
    seen: dict[str, float] = field(default_factory=dict)
    flag: _StopFlag = field(default_factory=lambda: _StopFlag())
    stop_sent_at: float | None = None
    killed: bool = False

    def refresh(self, name: str) -> dict[str, Any]:
        rec = read_progress(self.status_dir, name)
        if rec and rec.get("time") != self.seen.get(name):
            self.seen[name] = rec.get("time", 0.0)
            self.emit("progress", rec)
        return rec

    def end(self, end: TaskEnd) -> None:
        self.ends[end.name] = end
        self.emit("end", {"end": end})

    def cancel(self) -> None:
        """After a signal: queued tasks are cancelled; running ones are asked to stop,
        then killed after :data:`GRACE_S` seconds."""
        for t in self.queue:
            self.end(TaskEnd(t.name, "cancelled", "cancelled before it started"))
        self.queue.clear()
        if self.stop_sent_at is None:
            self.executor.stop(list(self.running), kill=False)
            self.stop_sent_at = time.monotonic()
        if self.flag.kill_now and not self.killed:
            self.executor.stop(list(self.running), kill=True)
            self.killed = True
        elif not self.killed and time.monotonic() - self.stop_sent_at > GRACE_S:
            self.executor.stop(list(self.running), kill=True)
            self.killed = True

    def start_ready(self) -> None:
        while self.queue and len(self.running) < self.executor.capacity():
            if self.flag.signum is not None:
                return
            t = self.queue.pop(0)
            self.running[t.name] = t
            self.flag.raise_now = getattr(self.executor, "inline", False)
            try:
                self.executor.start(t)
            finally:
                self.flag.raise_now = False

    def collect_ended(self) -> None:
        for name, why in self.executor.poll():
            self.running.pop(name, None)
            rec = self.refresh(name)
            stopping = self.flag.signum is not None
            if rec.get("phase") == "end":
                end = TaskEnd(name, "ended", "", rec, stopping)
            else:
                end = TaskEnd(name, "lost", why or "the task ended without a result", rec, stopping)
            if rec.get("interrupted") and self.flag.signum is None:
                self.flag.signum = signal.SIGINT  # the member itself got the signal
            self.end(end)


def run_members(
    tasks: list[MemberTask],
    executor: Executor,
    *,
    on_event: Callable[[str, dict[str, Any]], None] | None = None,
    poll_s: float = 0.2,
) -> SweepRun:
    """Run ``tasks`` through ``executor`` until all ended, or a signal cancels the sweep.

    Events: ``("progress", record)`` whenever a task's progress file changed and
    ``("end", {"end": TaskEnd})``. On SIGINT/SIGTERM queued tasks are not started
    (state ``cancelled``) and running ones are asked to stop, then killed after
    :data:`GRACE_S` seconds.
    """
    status_dir = Path(tasks[0].status_dir) if tasks else Path(".")
    for t in tasks:
        clear_progress(status_dir, t.name)
    loop = _Loop(executor, list(tasks), status_dir, on_event or (lambda _e, _d: None))
    with loop.flag.installed():
        try:
            while loop.queue or loop.running:
                if loop.flag.signum is not None:
                    loop.cancel()
                loop.start_ready()
                loop.collect_ended()
                for name in loop.running:
                    loop.refresh(name)
                if loop.running:
                    time.sleep(poll_s)
        finally:
            if loop.running:
                executor.stop(list(loop.running), kill=True)
            executor.close()
    return SweepRun(loop.ends, loop.flag.signum)
