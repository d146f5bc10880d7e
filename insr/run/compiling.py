"""Whether a run compiles its MLP loss pass (``run.compile``).

``torch.compile`` of the closed-form sweep and the fused Padé pass makes a loss
evaluation ~0.64× as costly but costs ~5 s of compilation in the first two steps; on
advection1d it pays after about :data:`BREAK_EVEN_STEPS` steps (README "Performance",
``benchmarks/perf.py``). ``run.compile = "auto"`` therefore compiles only where that holds:
an MLP field on the CPU, at least :data:`AUTO_MIN_STEPS` steps, no gradient supervision
and no ``derivative.loss = "autodiff"`` (both need a double backward, which torch.compile
does not support), and a C++ compiler that inductor can call. ``true`` compiles regardless
(refused for non-MLP fields, see :mod:`insr.knobs`, and where a double backward is
needed); ``false`` never.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import sys
from pathlib import Path

import torch

from insr.knobs import MLP_KINDS
from insr.schema import ConfigError
from insr.settings import RunConfig

#: measured break-even of run.compile on advection1d (benchmarks/perf.py, README)
BREAK_EVEN_STEPS = 85
#: ``"auto"`` compiles runs of at least this many steps (a margin above the break-even)
AUTO_MIN_STEPS = 100
#: loss strategies that differentiate the field by autograd inside the loss, so that the
#: parameter gradient is a double backward through the (compiled) sweep
DOUBLE_BACKWARD_LOSSES = ("autodiff",)


def cpp_compiler() -> str | None:
    """Path of the C++ compiler torch's inductor would call, or None when there is none."""
    try:
        from torch._inductor import cpp_builder

        name = cpp_builder.get_cpp_compiler()
    except Exception:  # noqa: BLE001 - a private API: any failure means "not usable"
        return None
    return shutil.which(name)


def _isa_probe_key(cxx: str, flags: list[str]) -> str:
    """What the vector-ISA probe's answer depends on: torch, the interpreter, the C++
    compiler (path and version) and the CPU's instruction-set ``flags``."""
    from torch._inductor import cpp_builder

    parts = [
        torch.__version__,
        sys.executable,
        platform.machine(),
        cxx,
        str(cpp_builder.get_compiler_version_info(cxx)),
        " ".join(sorted(flags)),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def isa_probe_cache() -> Path:
    """The file that remembers the vector-ISA probe per machine (beside inductor's cache)."""
    from torch._inductor.runtime.cache_dir_utils import cache_dir

    return Path(cache_dir()) / "insr_vec_isa.json"


def reuse_isa_probe(cxx: str) -> bool:
    """Skip inductor's vector-ISA probe when an earlier process on this machine found
    every candidate ISA usable; returns whether it was skipped.

    Before its first CPU kernel, inductor compiles a test library per candidate ISA and
    loads each in a fresh Python child (``torch._inductor.cpu_vec_isa``), ~1.1 s per
    process here. When that probe passed for every candidate the CPU flags allow, telling
    inductor so (``config.cpp.vec_isa_ok = True``) gives the same ISA list and so the
    same kernels; any other outcome (a candidate failed, no record, another compiler,
    torch or CPU) leaves the probe to run and records its answer for the next process.
    An explicit ``TORCHINDUCTOR_VEC_ISA_OK`` is left alone.
    """
    from torch._inductor import config as inductor_config
    from torch._inductor import cpu_vec_isa

    if sys.platform != "linux" or platform.machine() != "x86_64":
        return False  # the candidate list below is inductor's x86 rule
    if inductor_config.cpp.vec_isa_ok is not None or "TORCHINDUCTOR_VEC_ISA_OK" in os.environ:
        return False
    path = isa_probe_cache()
    flags = cpu_vec_isa.x86_isa_checker()
    key = _isa_probe_key(cxx, flags)
    try:
        record = json.loads(path.read_text())
        record = record if isinstance(record, dict) else {}
    except (OSError, ValueError):
        record = {}  # none yet, or unreadable: probe and write a fresh one
    if record.get(key) == "all":
        inductor_config.cpp.vec_isa_ok = True
        return True
    candidates = [
        isa
        for isa in cpu_vec_isa.supported_vec_isa_list
        if all(f in flags for f in str(isa).split())
    ]
    valid = cpu_vec_isa.valid_vec_isa_list()  # runs the probe (cached for this process)
    answer = "all" if [str(i) for i in valid] == [str(i) for i in candidates] else "some"
    try:
        record[key] = answer
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(record))
        os.replace(tmp, path)  # atomic: concurrent sweep members never see half a file
    except OSError:
        pass  # a cache that cannot be written only costs the probe next time
    return False


def compile_decision(cfg: RunConfig, device: torch.device) -> tuple[bool, str]:
    """``(compile?, why)`` for ``cfg`` on ``device``; ``why`` is stored in the run log."""
    setting = cfg.run.compile
    if setting is False:
        return False, "run.compile = false"
    if cfg.derivative.gradient_supervision > 0.0:
        # the supervised residual's x-gradient is differentiated again (a double backward)
        if setting is True:
            raise ConfigError(
                "run.compile = true cannot run with derivative.gradient_supervision > 0: its "
                "double backward is not supported by torch.compile; use run.compile = false"
            )
        return False, "auto: gradient supervision needs a double backward (not compiled)"
    if cfg.derivative.loss in DOUBLE_BACKWARD_LOSSES:
        # the loss's derivatives are autograd gradients of the sweep's output, and the
        # parameter gradient differentiates them again (a double backward)
        if setting is True:
            raise ConfigError(
                f"run.compile = true cannot run with derivative.loss = "
                f"{cfg.derivative.loss!r}: its double backward is not supported by "
                "torch.compile; use run.compile = false or derivative.loss = 'closed'"
            )
        return False, (
            f"auto: derivative.loss = {cfg.derivative.loss} needs a double backward (not compiled)"
        )
    if setting is True:
        return True, "run.compile = true"
    if cfg.representation.kind not in MLP_KINDS:
        return False, f"auto: {cfg.representation.kind} has no closed-form MLP sweep"
    if device.type != "cpu":
        return False, f"auto: compiles on the CPU only (device {device.type})"
    steps = cfg.case.steps
    if steps < AUTO_MIN_STEPS:
        return False, f"auto: {steps} steps < {AUTO_MIN_STEPS} (pays after ~{BREAK_EVEN_STEPS})"
    cxx = cpp_compiler()
    if cxx is None:
        return False, "auto: no C++ compiler for torch inductor"
    return True, f"auto: {steps} steps >= {AUTO_MIN_STEPS}, {cxx}"
