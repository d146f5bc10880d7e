"""insr: time-stepping PDEs with implicit neural spatial representations."""

import os as _os

# OpenMP worker threads that spin while waiting make every small torch op crawl when the
# cores are shared (measured: 2 threads 7-9x slower than 1 under load); sleeping waiters
# cost little when the machine is idle. Must be set before torch loads libgomp; an
# explicit user setting wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _pad_glibc_heap() -> None:
    """glibc malloc returns the top of its heap to the system after every step's tensors
    are freed and faults the pages back in on the next one: with a 64 MiB top pad kept, one
    loss evaluation + gradient of the default advection1d step costs 1.2 ms instead of 1.9
    (benchmarks/lbfgs_cost.py; importing torch._dynamo, as torch.optim does, used to hide
    this by growing the heap). Skipped under tcmalloc, when MALLOC_TOP_PAD_ is set, and
    with INSR_HEAP_PAD=0 (benchmarks/heap_pad.py)."""
    env = _os.environ
    if "tcmalloc" in env.get("LD_PRELOAD", "") or "MALLOC_TOP_PAD_" in env:
        return
    if env.get("INSR_HEAP_PAD") == "0":
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-2, 64 << 20)  # M_TOP_PAD
    except (OSError, AttributeError):  # not glibc
        pass


_pad_glibc_heap()

__version__ = "0.1.0"

# The public API (README "Python API"), imported on first use so that `import insr` stays
# light (no torch, no h5py). `insr.run` is the run package, which is callable:
# `insr.run(config, run_dir=None)` (insr/run/__init__.py).
_API = {
    "load_config": "insr.api",
    "open_run": "insr.results",
    "RunData": "insr.results",
    "load_field": "insr.run.trained",
    "TrainedField": "insr.run.trained",
    "RunConfig": "insr.settings",
    "RunResult": "insr.run.driver",
}
__all__ = ["__version__", "run", *_API]


def __getattr__(name: str):
    import importlib

    if name == "run":
        return importlib.import_module("insr.run")
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'insr' has no attribute {name!r}")
