"""``python -m insr.executors.worker TASK_FILE PARENT_PID``: run one member task.

The worker dies with its parent: PR_SET_PDEATHSIG (Linux) and, everywhere, a watchdog
thread that exits when the parent process is gone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time
from pathlib import Path

PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Exit when ``parent`` exits (its death was possibly before this call)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(137)
            time.sleep(1.0)

    if os.getppid() != parent:
        os._exit(137)
    threading.Thread(target=watch, daemon=True, name="parent-watchdog").start()


def main(argv: list[str]) -> int:
    # imported after the start-up of the worker process, not when the module is found
    from insr.executors.base import MemberTask, run_task

    die_with_parent(int(argv[1]))
    task = MemberTask.from_json(Path(argv[0]).read_text())
    run_task(task)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
