"""Process-level speed-ups: glibc's allocator thresholds (default) and tcmalloc (opt-in).

glibc malloc returns freed memory above its (dynamic) mmap and trim thresholds to the
system, and the next allocation of that size page-faults it in again: about 1,000 minor
faults per evaluation of the Taylor–Green pressure loss. :func:`tune_malloc` (called by
every run, :func:`insr.run.driver.execute`) raises the thresholds so freed tensor memory
is reused (the pressure loss then has none: 0.81× its CPU time, ``benchmarks/malloc.py``);
the process keeps up to ``_TRIM`` bytes of freed heap. ``INSR_MALLOC=system`` keeps
glibc's defaults.

tcmalloc (Debian/Ubuntu package ``libtcmalloc-minimal4``) cut 10-27 % of the time per
iteration on this project's 2-core CPUs. It must be loaded before the interpreter
starts, so ``insr run --tcmalloc`` re-executes the same command under ``LD_PRELOAD``.
"""

from __future__ import annotations

import ctypes
import glob
import os
import platform
import sys

from insr.errors import UsageError

MALLOC_ENV = "INSR_MALLOC"  # "system": leave glibc's allocator thresholds alone
#: glibc mallopt (malloc.h): M_MMAP_THRESHOLD, M_TRIM_THRESHOLD, M_TOP_PAD in bytes
_MMAP, _TRIM, _TOP_PAD = 256 << 20, 512 << 20, 64 << 20
_MALLOPT = ((-3, _MMAP), (-1, _TRIM), (-2, _TOP_PAD))
_malloc_state: str | None = None


def tune_malloc() -> str:
    """Raise glibc's mmap/trim thresholds once per process (see the module doc); returns
    what this process runs with: ``"tuned"`` or ``"system (<why>)"``."""
    global _malloc_state
    if _malloc_state is None:
        _malloc_state = _tune_malloc()
    return _malloc_state


def _tune_malloc() -> str:
    if os.environ.get(MALLOC_ENV, "").strip().lower() == "system":
        return f"system ({MALLOC_ENV}=system)"
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return "system (not glibc)"
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = all(libc.mallopt(option, value) == 1 for option, value in _MALLOPT)
    except (OSError, AttributeError):
        return "system (mallopt unavailable)"
    return "tuned" if ok else "system (mallopt refused)"


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


def machine() -> str:
    """The CPU model, torch's kernel ISA and the torch version, e.g. ``"AMD EPYC; torch
    2.13.0, AVX512"``: an L-BFGS trajectory amplifies float round-off, and BLAS kernels
    and vector widths differ between CPUs, so the same run can differ in the second or
    third digit from one CPU model to another (README, "Reproducing the figures")."""
    import torch

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}; torch {torch.__version__}, {torch.backends.cpu.get_cpu_capability()}"
