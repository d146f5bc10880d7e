"""Running a configuration: assemble it (:mod:`~insr.run.build`), step it in the one time
loop (:mod:`~insr.run.driver`) over a :class:`~insr.run.solvers.Solver`, checkpoint and
resume it (:mod:`~insr.run.state`, :mod:`~insr.run.resume`) within the machine's limits
(:mod:`~insr.run.limits`).

The package is callable: ``insr.run(config, run_dir=None)`` is
:func:`insr.run.api.run_config` (``insr.run`` names this package once it is imported, so
the public function and the package are one object).
"""

import sys as _sys
import types as _types

from insr.run.api import run_config
from insr.run.build import Run, default_run_dir, eval_grid, grid_points, resolve_device
from insr.run.driver import RunResult, check_on_diverge, execute, remove_run, resume
from insr.run.resume import ResumePlan, find_resume_log, plan_resume

__all__ = [
    "ResumePlan",
    "Run",
    "RunResult",
    "check_on_diverge",
    "default_run_dir",
    "eval_grid",
    "execute",
    "find_resume_log",
    "grid_points",
    "plan_resume",
    "remove_run",
    "resolve_device",
    "resume",
    "run_config",
]


class _CallablePackage(_types.ModuleType):
    def __call__(self, *args, **kw):  # noqa: ANN002, ANN003, ANN204
        return run_config(*args, **kw)


_sys.modules[__name__].__class__ = _CallablePackage
