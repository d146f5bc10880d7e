"""Opt-in process-level speed-ups: the tcmalloc allocator.

glibc malloc costs hundreds of page faults per optimizer iteration on the many small
tensors of a neural-field step; tcmalloc (Debian/Ubuntu package ``libtcmalloc-minimal4``)
cut 10-27 % of the time per iteration on this project's 2-core CPUs. It must be loaded
before the interpreter starts, so ``insr run --tcmalloc`` re-executes the same command
under ``LD_PRELOAD``.
"""

from __future__ import annotations

import glob
import os
import sys

from insr.errors import UsageError

TCMALLOC_ENV = "INSR_TCMALLOC"  # explicit path to libtcmalloc_minimal.so*
REEXEC_ENV = "INSR_TCMALLOC_REEXEC"  # set in the re-executed process: never re-exec twice
SEARCH = (
    "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so*",
    "/usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so*",
    "/usr/lib64/libtcmalloc_minimal.so*",
    "/usr/lib/libtcmalloc_minimal.so*",
    "/usr/local/lib/libtcmalloc_minimal.so*",
)


def find_tcmalloc() -> str | None:
    """Path of libtcmalloc_minimal (``$INSR_TCMALLOC`` first), or None."""
    explicit = os.environ.get(TCMALLOC_ENV)
    if explicit:
        if "tcmalloc" not in os.path.basename(explicit):
            raise UsageError(
                f"{TCMALLOC_ENV}={explicit} is not allowed: expected the path of a "
                "libtcmalloc*.so library"
            )
        return explicit if os.path.isfile(explicit) else None
    for pattern in SEARCH:
        hits = sorted(glob.glob(pattern))
        if hits:
            return hits[0]
    return None


def tcmalloc_active() -> bool:
    return "tcmalloc" in os.environ.get("LD_PRELOAD", "")


def reexec_with_tcmalloc(argv: list[str] | None = None) -> None:
    """Re-execute ``python -P -m insr <argv>`` with tcmalloc preloaded; returns only when it
    is already active or this process is the re-executed one. Raises :class:`UsageError`
    when the library is not installed. ``-P`` keeps the working directory off the import
    path, so a ``.py`` file next to a downloaded case is never imported by accident."""
    if tcmalloc_active() or os.environ.get(REEXEC_ENV):
        return
    lib = find_tcmalloc()
    if lib is None:
        raise UsageError(
            "--tcmalloc: libtcmalloc_minimal not found; install it (Debian/Ubuntu: "
            "apt-get install libtcmalloc-minimal4) or set INSR_TCMALLOC=/path/to/"
            "libtcmalloc_minimal.so.4, or run without --tcmalloc"
        )
    env = dict(os.environ)
    env["LD_PRELOAD"] = f"{lib}:{env['LD_PRELOAD']}" if env.get("LD_PRELOAD") else lib
    env[REEXEC_ENV] = "1"
    args = sys.argv[1:] if argv is None else argv
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-P", "-m", "insr", *args], env)
