"""The Ray executor: each member is one Ray task with its CPU (and GPU) request.

Ray is an optional extra (``pip install 'insr[ray]'``). A task that Ray loses (its worker
or node died) is retried up to :data:`MAX_RETRIES` times; the retry resumes the member's
log from its last checkpoint, because the member work always resumes a matching log.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from insr.errors import UsageError
from insr.executors.base import MemberTask, run_task

MAX_RETRIES = 3
MISSING = "--executor ray needs the optional extra: pip install 'insr[ray]'"


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UsageError(MISSING) from None
    return ray


def _entry(task_json: str) -> None:
    """What a Ray worker runs: torch threads follow the task's CPU request."""
    task = MemberTask.from_json(task_json)
    os.environ["OMP_NUM_THREADS"] = str(task.cpus)
    run_task(task)


class RayExecutor:
    """Submit members to a Ray cluster (``address`` or RAY_ADDRESS, else a local one)."""

    name = "ray"
    inline = False

    def __init__(self, address: str | None = None, max_in_flight: int | None = None) -> None:
        ray = _import_ray()
        self.ray = ray
        self.owns = False
        if not ray.is_initialized():
            root = str(Path(__file__).resolve().parents[2])
            env = {
                "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
            }
            try:
                ray.init(
                    address=address,
                    runtime_env={"env_vars": env},
                    log_to_driver=False,
                    include_dashboard=False,
                )
            except (ConnectionError, ValueError, RuntimeError) as e:
                msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise UsageError(
                    f"cannot connect to the Ray cluster {address or ''}: {msg}"
                ) from None
            self.owns = True
        elif address is not None:
            pass  # already connected (e.g. a test's ray.init); the address is the caller's
        self.remote = ray.remote(max_retries=MAX_RETRIES, retry_exceptions=False)(_entry)
        self.max_in_flight = max_in_flight
        self.refs: dict[str, Any] = {}

    def capacity(self) -> int:
        return self.max_in_flight or 1_000_000  # Ray schedules by the resource requests

    def start(self, task: MemberTask) -> None:
        opts: dict[str, Any] = {"num_cpus": task.cpus, "name": f"insr:{task.name}"}
        if task.gpus:
            opts["num_gpus"] = task.gpus
        self.refs[task.name] = self.remote.options(**opts).remote(task.to_json())

    def poll(self) -> list[tuple[str, str]]:
        if not self.refs:
            return []
        names = {id(r): n for n, r in self.refs.items()}
        ready, _ = self.ray.wait(list(self.refs.values()), num_returns=len(self.refs), timeout=0)
        out = []
        for ref in ready:
            name = names[id(ref)]
            del self.refs[name]
            try:
                self.ray.get(ref)
                out.append((name, ""))
            except Exception as e:  # noqa: BLE001 - a task error is the member's end
                cause = getattr(e, "cause", None) or e
                text = str(cause).strip().splitlines()
                line = text[0] if text else type(cause).__name__
                out.append((name, f"ray: {line}"[:300]))
        return out

    def stop(self, names: list[str], *, kill: bool) -> None:
        for n in names:
            ref = self.refs.get(n)
            if ref is not None:
                self.ray.cancel(ref, force=kill, recursive=False)

    def close(self) -> None:
        if self.refs:
            self.stop(list(self.refs), kill=True)
        if self.owns:
            self.ray.shutdown()
