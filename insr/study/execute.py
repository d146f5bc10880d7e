"""Run what a study needs (each run once, shared between claims) and evaluate it.

Runs are grouped by case and executed through the sweep machinery of :mod:`insr.compare`
(workers, resume with a config check, cancellation), into ``OUT/runs/<case>/<run>/``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from insr import compare
from insr.errors import UsageError, check_path_length
from insr.paths import config_glob
from insr.schema import suggest
from insr.study.claims import ClaimResult, evaluate
from insr.study.report import write_report
from insr.study.spec import Study, load_study
from insr.verdict import is_complete


def list_studies() -> dict[str, Path]:
    """Studies by name (file ``configs/study/<name with _>.toml``: ``./configs`` of the
    working directory, then the shipped ones)."""
    return {p.stem.replace("_", "-"): p for p in config_glob("study")}


def resolve_study(name_or_path: str) -> Study:
    """A shipped study name (``noisy-gradients``) or a path to a study TOML."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.is_file():
        if not p.is_file():
            raise UsageError(f"no study file at {p}")
        return load_study(p)
    shipped = list_studies()
    if name_or_path not in shipped:
        raise UsageError(
            f"unknown study '{name_or_path}'{suggest(name_or_path, shipped)}; "
            f"allowed: {', '.join(shipped) or '(none shipped)'} or a study TOML file"
        )
    return load_study(shipped[name_or_path])


def _case_tag(case: str) -> str:
    return Path(case).stem if case.endswith(".toml") else case


@dataclass
class StudyOutcome:
    results: list[ClaimResult]
    report: Path
    summary: Path
    runs: dict[str, compare.MemberOutcome]
    seconds: float

    @property
    def failed(self) -> dict[str, str]:
        """Runs that did not complete (failed, diverged, interrupted...) -> why."""
        return failed_runs(self.runs)


def failed_runs(outcomes: dict[str, compare.MemberOutcome]) -> dict[str, str]:
    """Runs whose outcome is not a complete log -> status and reason, in words."""
    return {
        n: (f"{o.status}: {o.reason}" if o.reason else o.status)
        for n, o in outcomes.items()
        if not is_complete(o.status)
    }


def run_dirs(study: Study, out: Path) -> dict[str, Path]:
    """Where each run of ``study`` writes its log."""
    return {n: out / "runs" / _case_tag(r.case) / n for n, r in study.runs.items()}


def step_map(study: Study, quick: bool) -> Callable[[str, int], int]:
    """Full-study step -> the step read under ``--quick`` (scaled by quick_steps / steps)."""

    def mapping(run: str, k: int) -> int:
        spec = study.runs[run]
        if not quick or spec.quick_steps is None or spec.steps == 0:
            return k
        return round(k * spec.quick_steps / spec.steps)

    return mapping


def estimate_seconds(study: Study, logs: dict[str, Path | None], full: bool = True) -> float | None:
    """Estimated one-worker seconds of every run at the full (``full``) or quick step counts,
    from the logged per-step wall times: step 0's plus the mean of the later steps' times
    the step count. None when a run has no log or a step count > 0 and no later step to
    time. An estimate: steps of an evolving run need not cost the same."""
    from insr.log import RunLogReader

    total = 0.0
    for name, spec in study.runs.items():
        path = logs.get(name)
        if path is None:
            return None
        try:
            with RunLogReader(path) as r:
                if not r.has("metrics/wall_seconds"):
                    return None
                wall = np.asarray(r.series("metrics/wall_seconds"), dtype=float)
                steps = np.asarray(r.series("step")).astype(int)
        except UsageError:
            return None
        n = spec.steps if full else spec.n_steps(True)
        if wall.size == 0 or (n > 0 and wall.size < 2):
            return None
        per_step = float(np.mean(wall[1:] / np.maximum(np.diff(steps), 1))) if n else 0.0
        total += float(wall[0]) + n * per_step
    return total


def _log_seconds(path: Path | None) -> float:
    """Sum of a log's per-step wall times (0 when there is none)."""
    from insr.log import RunLogReader

    if path is None:
        return 0.0
    try:
        with RunLogReader(path) as r:
            if not r.has("metrics/wall_seconds"):
                return 0.0
            return float(np.sum(np.asarray(r.series("metrics/wall_seconds"), dtype=float)))
    except UsageError:
        return 0.0


def run_table(
    study: Study,
    outcomes: dict[str, compare.MemberOutcome],
    quick: bool,
    logs: dict[str, Path | None],
) -> list[dict[str, Any]]:
    """One row per run: case, steps, status, wall seconds of this invocation and of the
    log's steps (a run reused by --resume: its earlier time), reason."""
    rows = []
    for name, spec in study.runs.items():
        o = outcomes.get(name)
        rows.append(
            {
                "run": name,
                "case": spec.case,
                "steps": spec.n_steps(quick),
                "status": o.status if o else "not run",
                "seconds": round(o.seconds, 1) if o else 0.0,
                "log_seconds": round(_log_seconds(logs.get(name)), 3),
                "reason": o.reason if o else "",
                "complete": bool(o and is_complete(o.status)),
            }
        )
    return rows


def resume_command(study: Study, out: Path, quick: bool) -> str:
    """The command that continues an interrupted study."""
    import shlex

    name = str(study.path) if study.path is not None else study.info.name
    if study.path is not None:
        key = study.path.stem.replace("_", "-")
        if list_studies().get(key) == study.path:  # found by name: give the name
            name = key
    q = " --quick" if quick else ""
    return f"insr study {shlex.quote(name)}{q} --resume --out {shlex.quote(str(out))}"


def run_study(
    study: Study,
    out: Path,
    *,
    quick: bool = False,
    workers: int | None = None,
    resume: bool = False,
    report: Callable[[str, dict[str, Any]], None] | None = None,
) -> StudyOutcome:
    """Run every run the claims need (grouped by case), then evaluate and write the report."""
    t0 = time.perf_counter()
    check_path_length(out, "--out")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a study directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot write to {out}: {e.strerror or e}") from None
    dirs = run_dirs(study, out)
    by_case: dict[str, list[str]] = {}
    for name, spec in study.runs.items():
        by_case.setdefault(spec.case, []).append(name)
    outcomes: dict[str, compare.MemberOutcome] = {}
    for case, names in by_case.items():
        members = [
            compare.Member(
                name=n,
                sets=[
                    *study.runs[n].overrides(quick),
                    f"case.steps={study.runs[n].n_steps(quick)}",
                ],
            )
            for n in names
        ]
        done = compare.run_sweep(
            kind="representations",
            case=case,
            members=members,
            compare_dir=dirs[names[0]].parent,
            workers=workers,
            resume=resume,
            report=report,
            resume_hint=resume_command(study, out, quick),
        )
        outcomes.update({o.name: o for o in done})
    logs = {n: (d if (d / "run.h5").exists() else None) for n, d in dirs.items()}
    failed = failed_runs(outcomes)
    results = evaluate(study, logs, step_map(study, quick), failed)
    seconds = time.perf_counter() - t0
    meta: dict[str, Any] = {"quick": quick, "wall_seconds": seconds, "out": str(out)}
    if quick:
        meta["estimated_full_seconds_one_worker"] = estimate_seconds(study, logs)
    rep, summ = write_report(
        study, results, logs, out, meta, run_table(study, outcomes, quick, logs)
    )
    return StudyOutcome(results, rep, summ, outcomes, seconds)
