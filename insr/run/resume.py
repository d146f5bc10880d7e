"""Planning a ``--resume``: which log, which config, which checkpoint -- checked before
anything is written."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from insr.config import apply_sets, build_config
from insr.errors import UsageError
from insr.log import RunLogReader, checkpoint, resolve_log_path
from insr.settings import RunConfig
from insr.verdict import is_complete

# keys a resumed run may change: they alter neither the log's shape nor its meaning
RESUMABLE_OVERRIDES = (
    "solver.",
    "run.threads",
    "run.on_poor_fit",
    "run.checkpoint_every",
    "case.steps",
)


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def find_resume_log(target: str | Path) -> Path:
    """The log to resume: a run directory or its ``run.h5``."""
    p = Path(target)
    if not p.exists():
        raise UsageError(f"nothing to resume at {p}: no such run directory")
    if p.is_dir() and not (p / "run.h5").exists():
        raise UsageError(f"nothing to resume in {p}: it holds no run.h5")
    return resolve_log_path(p)


@dataclass
class ResumePlan:
    """What ``--resume`` will do, checked before anything is written."""

    path: Path
    cfg: RunConfig
    stored: dict[str, Any]
    ckpt: tuple[dict[str, np.ndarray], dict[str, Any]] | None
    last_step: int  # step of the checkpoint (-1: none, start from step 0)
    keep_rows: int  # rows at or before the checkpoint, kept in the log


def _check_overrides(before: dict[str, Any], after: dict[str, Any]) -> None:
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key) and not key.startswith(RESUMABLE_OVERRIDES):
            raise UsageError(
                f"{key} cannot change on --resume (stored {before.get(key)!r}, given "
                f"{after.get(key)!r}); allowed: solver.*, run.threads, run.on_poor_fit, "
                "run.checkpoint_every, case.steps"
            )


STEP0_KEYS = ("solver.init.", "run.on_poor_fit")  # act on the step-0 fit only


def _check_step0_overrides(
    path: Path, before: dict[str, Any], after: dict[str, Any], last_step: int, status: str
) -> None:
    """Refuse step-0 settings on a resume past step 0 (they would do nothing); a run stopped
    by a failed step-0 fit resumes only with ``run.on_poor_fit = "continue"``."""
    failed_fit = status.startswith("failed fit at step")
    changed = [k for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]
    for key in changed:
        if not key.startswith(STEP0_KEYS) or last_step < 0:
            continue
        if key == "run.on_poor_fit" and failed_fit:
            continue
        raise UsageError(
            f"{key} has no effect on this --resume: it acts on the step-0 fit, which "
            f"{path} already holds (checkpoint at step {last_step}); to change it, run "
            "again with --overwrite"
        )
    if failed_fit and after.get("run.on_poor_fit") != "continue":
        raise UsageError(
            f"{path} stopped after a failed step-0 fit ({status}); resume with "
            "--on-poor-fit continue to run on anyway, or run again with a larger "
            "solver.init.max_iters and --overwrite"
        )


def callable_targets(node: Any, where: str = "case") -> list[tuple[str, str]]:
    """``(key, 'module:function')`` of every ``callable`` table in a stored case config:
    code that building the case imports and runs."""
    out: list[tuple[str, str]] = []
    if isinstance(node, dict):
        if node.get("family") == "callable" or node.get("kind") == "callable":
            out.append((f"{where}.target", str(node.get("target"))))
        for k, v in node.items():
            out += callable_targets(v, f"{where}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += callable_targets(v, f"{where}[{i}]")
    return out


def check_stored_code(path: Path, stored: dict[str, Any], allow: bool) -> None:
    """Refuse to run code named by a log (a shared run.h5) unless the user allowed it."""
    found = callable_targets(stored.get("case", {}))
    if found and not allow:
        key, target = found[0]
        raise UsageError(
            f"{path} names code to run ({key} = '{target}', a callable initial condition): "
            "--resume imports it only with --allow-callable, or when you name the same case "
            "file: insr run CASE.toml --out RUN_DIR --resume"
        )


def _check_checkpoint(path: Path, ck_step: int, steps: np.ndarray, stored: dict) -> None:
    """A checkpoint the log's rows can have produced: within the stored run's steps and no
    further ahead than the next logged step. It may lag the rows by any number of steps
    (checkpoints every ``run.checkpoint_every`` steps, a failed or killed write keeps the
    older slot); resume recomputes the rows after it."""
    if ck_step < 0:
        return
    total = int(stored.get("case.steps", 0))
    every = max(int(stored.get("eval.every", 1)), 1)
    last_row = int(steps[-1]) if len(steps) else -1
    ok = ck_step <= total and ck_step < max(last_row, 0) + every
    if not ok:
        raise UsageError(
            f"the checkpoint in {path} is at step {ck_step}, which its rows (last logged step "
            f"{last_row}, {total} steps, every {every}) cannot have produced: damaged log; "
            "run again with --overwrite"
        )


def plan_resume(
    target: str | Path, sets: list[str] | None = None, *, allow_callable: bool = False
) -> ResumePlan:
    """Validate a resume of the run logged at ``target`` (run dir or run.h5).

    The config stored in the log is used; ``sets`` may change only solver settings,
    ``run.threads`` and ``case.steps`` (to extend a run). A stored ``callable`` target is
    code: it is refused unless ``allow_callable`` (:func:`check_stored_code`).
    """
    path = find_resume_log(target)
    with RunLogReader(path) as log:
        stored = log.config
        steps = log.series("step") if log.n else np.zeros(0, dtype=np.int64)
        status = log.status
    check_stored_code(path, stored, allow_callable)
    for s in sets or []:  # a key that may not change is named before the config is built
        key = s.split("=", 1)[0].strip()
        if "=" in s and "." in key and not key.startswith(RESUMABLE_OVERRIDES):
            raise UsageError(
                f"{key} cannot change on --resume; allowed: solver.*, run.threads, "
                "run.on_poor_fit, case.steps"
            )
    try:
        cfg = build_config(apply_sets(stored, sets or []))
        before = _flatten(build_config(stored).as_dict())
    except UsageError as e:
        raise UsageError(f"{path}: {e}") from None
    _check_overrides(before, _flatten(cfg.as_dict()))
    ck = checkpoint(path)
    last_step = -1 if ck is None else int(ck[1]["step"])
    _check_checkpoint(path, last_step, steps, before)
    if last_step > cfg.case.steps:
        raise UsageError(f"case.steps = {cfg.case.steps} is below the {last_step} steps done")
    if is_complete(status) and last_step >= cfg.case.steps:
        raise UsageError(
            f"{path} is already complete ({last_step} of {cfg.case.steps} steps); nothing to "
            "resume (use --steps N to extend it)"
        )
    _check_step0_overrides(path, before, _flatten(cfg.as_dict()), last_step, status)
    keep = int(np.searchsorted(steps, last_step, side="right"))
    return ResumePlan(path, cfg, stored, ck, last_step, keep)
