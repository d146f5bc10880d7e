"""Local executors: one process per member on this machine (default), or in-process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from insr.executors.base import MemberTask, run_task

PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def _exit_reason(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the worker process was killed by {name}"
    return f"the worker process exited with code {code}"


class LocalExecutor:
    """Up to ``workers`` members at once, each in its own ``python -m insr.executors.worker``
    process. Workers sit in their own process group (the driver forwards Ctrl-C as SIGTERM
    so they checkpoint) and die with the driver (PDEATHSIG on Linux, a watchdog elsewhere)."""

    name = "local"
    inline = False

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, object] = {}

    def capacity(self) -> int:
        return self.workers

    def start(self, task: MemberTask) -> None:
        status = Path(task.status_dir)
        task_file = status / f"{task.name}.task.json"
        task_file.write_text(task.to_json())
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p
        )
        log = open(status / f"{task.name}.stderr", "wb")  # noqa: SIM115 - closed in poll
        self.logs[task.name] = log
        self.procs[task.name] = subprocess.Popen(
            [sys.executable, "-P", "-m", "insr.executors.worker", str(task_file), str(os.getpid())],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            process_group=0,
        )

    def poll(self) -> list[tuple[str, str]]:
        done = []
        for name, p in list(self.procs.items()):
            code = p.poll()
            if code is None:
                continue
            del self.procs[name]
            self.logs.pop(name).close()  # type: ignore[attr-defined]
            done.append((name, "" if code == 0 else _exit_reason(code)))
        return done

    def stop(self, names: list[str], *, kill: bool) -> None:
        for name in names:
            p = self.procs.get(name)
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGKILL if kill else signal.SIGTERM)

    def close(self) -> None:
        for name in list(self.procs):
            p = self.procs.pop(name)
            if p.poll() is None:
                p.kill()
            p.wait()
            self.logs.pop(name).close()  # type: ignore[attr-defined]

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs.values()]


class InlineExecutor:
    """One member at a time in the driver's own process (``--workers 1``)."""

    name = "local"
    inline = True

    def __init__(self) -> None:
        self.finished: list[tuple[str, str]] = []

    def capacity(self) -> int:
        return 1

    def start(self, task: MemberTask) -> None:
        try:
            run_task(task)
            self.finished.append((task.name, ""))
        except Exception as e:  # noqa: BLE001 - recorded as the task's end
            self.finished.append((task.name, str(e).splitlines()[0] if str(e) else repr(e)))

    def poll(self) -> list[tuple[str, str]]:
        out, self.finished = self.finished, []
        return out

    def stop(self, names: list[str], *, kill: bool) -> None:
        pass  # an in-process member is stopped by the signal itself

    def close(self) -> None:
        pass
