"""Fit verdicts: is a run's field close enough to the truth for its numbers to mean something?

**Fit error** of a logged step (dimensionless), on the evaluation grid::

    fit_error = max |u - u*| / max |u*|

over all grid points and field components at that step, ``u*`` the exact (or reference)
field of the same step. ``u = 0`` everywhere gives ``fit_error = 1`` exactly: an error of 1
means "no better than predicting nothing". A true field that is zero everywhere gives 0
when ``u`` is zero too, else inf. At step 0 the fit error is the error of the fit of the
initial condition; at later steps that of the time-stepped field (fit and stepping errors
together).

**Verdict** of a step from its fit error ``e``, with the thresholds of :data:`THRESHOLDS`
(the one place they are defined)::

    ok      e <= ok_max
    poor    ok_max < e <= failed_above
    failed  e > failed_above

    step 0       ok_max = 0.2   failed_above = 0.5
    steps >= 1   ok_max = 0.2   failed_above = 1.0

Why these values (measured on the shipped cases, README "Fit verdicts"): every shipped
case on its default SIREN numerics is within 0.16 of its field's scale at every measured
step (the loosest: vortex_pair's step-0 fit, 0.15), while fits that did not happen sit
far above (a 3-level, base-256 hash grid on advection2d: 0.85 at step 0 on a 5-iteration
budget; 0.26 at step 2 on the default one). A step-0 fit that misses by more than half the
amplitude cannot be time-stepped into anything meaningful (the run stops there unless
asked to continue); a later error above the field's own amplitude is worse than the zero
field.

A run's verdict (root attributes ``fit_verdict``, ``fit_verdict_from_step``) is the worst
verdict over its logged steps, and the first step whose verdict is not ``ok``
(-1 when none). Steps without a truth have no verdict (coded NaN); a run with no verdict
at all is ``unknown``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

OK, POOR, FAILED, UNKNOWN = "ok", "poor", "failed", "unknown"
#: verdict names by their code in ``metrics/fit_verdict`` (NaN: no truth at that step)
VERDICTS = (OK, POOR, FAILED)
BAD = (POOR, FAILED)


@dataclass(frozen=True)
class Thresholds:
    """Fit-error limits of one kind of step (dimensionless, see the module docstring)."""

    ok_max: float
    failed_above: float


#: step 0 (the fit of the initial condition) and every later step
THRESHOLDS = {"init": Thresholds(0.2, 0.5), "step": Thresholds(0.2, 1.0)}


def thresholds(step: int) -> Thresholds:
    return THRESHOLDS["init" if step == 0 else "step"]


def fit_error(u: np.ndarray, u_exact: np.ndarray) -> float:
    """``max|u - u*| / max|u*|`` (see the module docstring)."""
    err = float(np.max(np.abs(np.asarray(u, np.float64) - np.asarray(u_exact, np.float64))))
    scale = float(np.max(np.abs(np.asarray(u_exact, np.float64))))
    if scale == 0.0:
        return 0.0 if err == 0.0 else math.inf
    return err / scale


def step_verdict(step: int, error: float) -> str:
    """The verdict of a step with fit error ``error`` (NaN counts as failed: no fit)."""
    th = thresholds(step)
    if error <= th.ok_max:
        return OK
    if error <= th.failed_above:
        return POOR
    return FAILED


def code(verdict: str) -> float:
    """The number stored in ``metrics/fit_verdict``: 0 ok, 1 poor, 2 failed."""
    return float(VERDICTS.index(verdict))


def name(value: float) -> str:
    """Inverse of :func:`code`; NaN (no truth at that step) gives ``unknown``."""
    if not math.isfinite(value):
        return UNKNOWN
    return VERDICTS[int(value)]


@dataclass(frozen=True)
class RunVerdict:
    """The worst verdict over a run's logged steps and the first step that was not ok."""

    verdict: str
    from_step: int  # -1: every step ok (or no verdict)

    @property
    def bad(self) -> bool:
        return self.verdict in BAD

    def attrs(self) -> dict[str, object]:
        """The root attributes of the run log."""
        return {"fit_verdict": self.verdict, "fit_verdict_from_step": self.from_step}

    def status(self) -> str:
        """The status of a run that ran all its steps: ``complete`` or
        ``complete (poor fit from step k)`` / ``complete (failed fit from step k)``."""
        if not self.bad:
            return "complete"
        return f"complete ({self.verdict} fit from step {self.from_step})"


def run_verdict(rows: Iterable[tuple[int, float]]) -> RunVerdict:
    """The run's verdict from ``(step, code)`` of its logged rows (NaN codes skipped)."""
    worst, first = -1.0, -1
    for step, c in rows:
        if not math.isfinite(c):
            continue
        if c > 0 and first < 0:
            first = int(step)
        worst = max(worst, c)
    return RunVerdict(UNKNOWN if worst < 0 else VERDICTS[int(worst)], first)


def is_complete(status: str) -> bool:
    """Whether a log status says all steps ran (whatever the fit verdict)."""
    return status == "complete" or status.startswith("complete (")


def describe(step: int, error: float) -> str:
    """``max|u-u*| = 99% of max|u*| at step 0 (ok <= 5%, failed > 50%)``."""
    th = thresholds(step)
    return (
        f"max|u-u*| = {error:.0%} of max|u*| at step {step} "
        f"(ok <= {th.ok_max:.0%}, failed > {th.failed_above:.0%})"
    )
