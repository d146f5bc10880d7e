"""Whether a run compiles its MLP loss pass (``run.compile``).

``torch.compile`` of the closed-form sweep and the fused Padé pass makes a loss
evaluation ~0.64× as costly but costs ~5 s of compilation in the first two steps; on
advection1d it pays after about :data:`BREAK_EVEN_STEPS` steps (README "Performance",
``benchmarks/perf.py``). ``run.compile = "auto"`` therefore compiles only where that holds:
an MLP field on the CPU, at least :data:`AUTO_MIN_STEPS` steps, no gradient supervision
(its double backward is not supported by torch.compile), and a C++ compiler that inductor
can call. ``true`` compiles regardless (refused for non-MLP fields, see :mod:`insr.knobs`,
and with gradient supervision); ``false`` never.
"""

from __future__ import annotations

import shutil

import torch

from insr.knobs import MLP_KINDS
from insr.schema import ConfigError
from insr.settings import RunConfig

#: measured break-even of run.compile on advection1d (benchmarks/perf.py, README)
BREAK_EVEN_STEPS = 85
#: ``"auto"`` compiles runs of at least this many steps (a margin above the break-even)
AUTO_MIN_STEPS = 100


def cpp_compiler() -> str | None:
    """Path of the C++ compiler torch's inductor would call, or None when there is none."""
    try:
        from torch._inductor import cpp_builder

        name = cpp_builder.get_cpp_compiler()
    except Exception:  # noqa: BLE001 - a private API: any failure means "not usable"
        return None
    return shutil.which(name)


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
