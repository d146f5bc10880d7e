"""Running a configuration: assemble it (:mod:`~insr.run.build`), step it in the one time
loop (:mod:`~insr.run.driver`) over a :class:`~insr.run.solvers.Solver`, checkpoint and
resume it (:mod:`~insr.run.state`, :mod:`~insr.run.resume`) within the machine's limits
(:mod:`~insr.run.limits`)."""

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
]
