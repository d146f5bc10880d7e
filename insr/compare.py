"""Sweeps: one case on many representations (or gradient strategies), side by side.

A sweep is a list of :class:`Member` (a name and config overrides). Each member is an
ordinary run with its own log ``<compare_dir>/<member>/run.h5``, run as one task of an
executor (:mod:`insr.executors`: local processes or Ray) by :func:`member_work`; the only
call into the runner is :func:`_run_or_resume`.
The compare directory also holds ``sweep.json`` (the members, their overrides, status and,
for a member that produced no log, the one-line reason), so that :func:`summarize`
recomputes every number from files alone.

Config precedence of a member: defaults < preset of its kind < case < ``--config`` < ``--set``
< the member's own overrides (a sweep variable cannot be overridden by accident).

Summary quantities (all read from the member logs, ``/metrics/<name>``):

- ``wall_s``: sum of ``wall_seconds`` over the logged rows (step 0 included), seconds;
- ``iters_per_step``: mean of ``iterations`` over rows with step >= 1; ``init_iters``: row 0;
- ``verdict`` / ``verdict_from_step``: the log's ``fit_verdict`` / ``fit_verdict_from_step``
  (:mod:`insr.verdict`; ``unknown`` for a member without a log or a truth);
- ``field_max_error`` / ``field_rmse`` / ``gradient_rel_error_<s>`` / ``gradient_noise_<s>``:
  value at the last logged row (``_last``) and maximum over all rows (``_worst``),
  NaN rows ignored.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from insr import paths
from insr.config import (
    CONFIGS_DIR,
    ConfigError,
    apply_sets,
    base_raw,
    build_config,
    merge,
    read_toml,
    suggest,
    upgrade_legacy,
)
from insr.errors import RunInterrupted, UsageError, check_path_length
from insr.executors import MemberTask, make_executor, run_members
from insr.fields import REPRESENTATIONS
from insr.log import RunLogReader, open_readonly
from insr.run import driver
from insr.run.lock import run_lock
from insr.run.resume import plan_resume
from insr.verdict import BAD, UNKNOWN, is_complete

SweepKind = Literal["representations", "gradients"]
MANIFEST = "sweep.json"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


@dataclass
class Member:
    """One run of a sweep: ``sets`` are ``section.key=value`` overrides; ``config`` a table."""

    name: str
    sets: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    group: str = ""  # the configuration a seed replica belongs to ("" = its own name)
    seed: int | None = None
    # equal memory: a grid member sized by every trained parameter of this other member
    match_memory_of: Member | None = None
    pdes: list[str] = field(default_factory=list)  # the PDEs it applies to ([] = all)
    swept: list[str] = field(default_factory=list)  # the overrides --sweep/--seeds added


@dataclass
class MemberOutcome:
    name: str
    kind: str
    status: str  # complete | failed | unavailable | skipped (resume) | diverged ... | running
    reason: str = ""
    seconds: float = 0.0


# --------------------------------------------------------------------------- members
def default_members_file(kind: SweepKind) -> Path:
    """``./configs/compare/<kind>.toml`` of the working directory, else the shipped one."""
    return paths.find_config(f"compare/{kind}.toml") or CONFIGS_DIR / "compare" / f"{kind}.toml"


MEMBER_KEYS = ("name", "set", "config", "description", "match_memory_of", "pdes")


def read_members(path: Path) -> list[Member]:
    """Members of a TOML file: ``[[member]]`` entries (name, set, config) plus an optional
    top-level ``set`` applied to all of them; a file without ``member`` is one member (a
    plain config preset) named after the file.

    ``match_memory_of = "<member>"`` (a member of the same file) makes a grid member an
    equal-memory baseline of that member: :func:`member_raw` gives it the member's
    representation, so the grid stores at most as many floats as that member trains
    (every network, e.g. velocity and pressure). ``pdes = ["advection", ...]`` limits a
    member to those PDEs (elsewhere it is ``unavailable``)."""
    raw = read_toml(path)
    common = raw.get("set", [])
    if not isinstance(common, list) or not all(isinstance(s, str) for s in common):
        raise ConfigError(f"{path}: 'set' must be a list of 'section.key=value' strings")
    if "member" not in raw:
        preset = {k: v for k, v in raw.items() if k != "set"}
        return [Member(name=path.stem, sets=list(common), config=preset)]
    entries = raw["member"]
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: 'member' must be an array of tables ([[member]])")
    out = []
    for i, e in enumerate(entries):
        where = f"{path}: member {i + 1}"
        if not isinstance(e, dict) or not isinstance(e.get("name"), str):
            raise ConfigError(f"{where} needs a string 'name'")
        unknown = set(e) - set(MEMBER_KEYS)
        if unknown:
            raise ConfigError(
                f"{where}: unknown key(s) {sorted(unknown)}; allowed: {', '.join(MEMBER_KEYS)}"
            )
        sets = e.get("set", [])
        if not isinstance(sets, list) or not all(isinstance(s, str) for s in sets):
            raise ConfigError(f"{where}: 'set' must be a list of 'section.key=value' strings")
        cfg = e.get("config", {})
        if not isinstance(cfg, dict):
            raise ConfigError(f"{where}: 'config' must be a table")
        pdes = e.get("pdes", [])
        if not isinstance(pdes, list) or not all(isinstance(p, str) for p in pdes):
            raise ConfigError(f"{where}: 'pdes' must be a list of PDE names")
        out.append(Member(name=e["name"], sets=[*common, *sets], config=cfg, pdes=pdes))
    by_name = {m.name: m for m in out}
    for e, m in zip(entries, out, strict=True):
        target = e.get("match_memory_of")
        if target is None:
            continue
        if target not in by_name or "match_memory_of" in entries[out.index(by_name[target])]:
            others = [
                n for n, t in zip(by_name, entries, strict=True) if "match_memory_of" not in t
            ]
            raise ConfigError(
                f"{path}: member {m.name}: match_memory_of = {target!r} is not allowed"
                f"{suggest(str(target), others)}; allowed: a member of this file that is "
                f"not itself matched ({', '.join(others)})"
            )
        m.match_memory_of = by_name[target]
    return out


def select_members(kind: SweepKind, picks: list[str] | None) -> list[Member]:
    """The default set, or ``picks``: names from the default set and/or member TOML files.

    Each pick may be a comma-separated list.
    """
    defaults = read_members(default_members_file(kind))
    if not picks:
        members = defaults
    else:
        by_name = {m.name: m for m in defaults}
        members = []
        for item in picks:
            for p in (s.strip() for s in item.split(",")):
                if not p:
                    continue
                if p.endswith(".toml") or Path(p).is_file():
                    members.extend(read_members(Path(p)))
                elif p in by_name:
                    members.append(by_name[p])
                elif kind == "representations" and p in _kinds():
                    members.append(Member(name=p, sets=[f"representation.kind={p}"]))
                else:
                    raise UsageError(
                        f"unknown member '{p}'{suggest(p, [*by_name, *_kinds()])}; allowed: "
                        f"{', '.join(by_name)}, a representation kind "
                        f"({', '.join(_kinds())}) or a member TOML file"
                    )
    check_names(members)
    return members


def check_names(members: list[Member]) -> None:
    """Member names are folder names: allowed characters, no duplicates, at least one."""
    seen: set[str] = set()
    for m in members:
        if not NAME_RE.match(m.name):
            raise UsageError(
                f"member name {m.name!r} is not allowed: use letters, digits and _ . + - only"
            )
        if m.name in seen:
            raise UsageError(f"member name '{m.name}' appears twice in the sweep")
        seen.add(m.name)
    if not members:
        raise UsageError("the sweep has no members")


def _kinds() -> list[str]:
    return list(REPRESENTATIONS)


def parse_seeds(text: str) -> list[int]:
    """``0..4`` (inclusive), ``0,3,7`` or a mix (``0..2,9``) -> distinct seeds in order."""
    out: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        m = re.fullmatch(r"(-?\d+)\.\.(-?\d+)", part)
        if m:
            a, b = int(m.group(1)), int(m.group(2))
            if b < a or b - a >= 10_000:
                raise UsageError(f"--seeds {text!r}: '{part}' must be 'a..b' with a <= b")
            vals = list(range(a, b + 1))
        elif re.fullmatch(r"-?\d+", part):
            vals = [int(part)]
        else:
            raise UsageError(f"--seeds {text!r} is not allowed: expected e.g. 0..4 or 0,1,2")
        for v in vals:
            if not 0 <= v < 2**63:
                raise UsageError(f"--seeds: {v} is out of range (0 <= seed < 2**63)")
            if v not in out:
                out.append(v)
    return out


def parse_sweep(text: str) -> tuple[str, list[str]]:
    """``section.key=v1,v2,...`` -> (key, values)."""
    key, eq, vals = text.partition("=")
    key = key.strip()
    values = [v.strip() for v in vals.split(",")] if eq else []
    if not eq or "." not in key or not values or any(not v for v in values):
        raise UsageError(
            f"--sweep {text!r} is not allowed: expected section.key=v1,v2,... (e.g. "
            "representation.siren.omega0=5,30,50)"
        )
    if len(set(values)) != len(values):
        raise UsageError(f"--sweep {text!r}: a value appears twice")
    return key, values


def _tag(key: str, value: str) -> str:
    short = key.rsplit(".", 1)[-1]
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", f"{short}{value}")


def expand_members(
    members: list[Member], sweeps: list[str] | None = None, seeds: list[int] | None = None
) -> list[Member]:
    """Cartesian product of members × every ``--sweep`` × seeds. A variant's overrides
    come after the member's own; ``run.seed`` in ``--sweep`` is the seed dimension."""

    dims: list[tuple[str, list[str]]] = []
    seed_list = list(seeds or [])
    for s in sweeps or []:
        key, values = parse_sweep(s)
        if key in {k for k, _ in dims} or (key == "run.seed" and seed_list):
            raise UsageError(f"--sweep: {key} is swept twice (--sweep/--seeds)")
        if key == "run.seed":
            seed_list = [int(v) for v in parse_seeds(",".join(values))]
            continue
        dims.append((key, values))
    out: list[Member] = []
    for m in members:
        for combo in itertools.product(*[vals for _, vals in dims]):
            extra = [f"{k}={v}" for (k, _), v in zip(dims, combo, strict=True)]
            name = "-".join([m.name, *(_tag(k, v) for (k, _), v in zip(dims, combo, strict=True))])
            if not seed_list:
                out.append(replace(m, name=name, sets=[*m.sets, *extra], swept=extra))
                continue
            for sd in seed_list:
                out.append(
                    replace(
                        m,
                        name=f"{name}-s{sd}",
                        sets=[*m.sets, *extra, f"run.seed={sd}"],
                        group=name,
                        seed=sd,
                        swept=[*extra, f"run.seed={sd}"],
                    )
                )
    check_names(out)
    return out


def member_raw(base: dict[str, Any], sets: list[str], member: Member) -> dict[str, Any]:
    raw = apply_sets(base, sets)
    raw = merge(raw, upgrade_legacy(member.config, f"member {member.name}"))
    raw = apply_sets(raw, member.sets)
    target = member.match_memory_of
    if target is None:
        return raw
    return with_matched_representation(raw, member_raw(base, sets, target), target.name)


def with_matched_representation(
    raw: dict[str, Any], target_raw: dict[str, Any], target: str
) -> dict[str, Any]:
    """``raw`` (a grid member) sized by ``target_raw``'s representation: its kind becomes
    ``representation.grid.match_params_of``, its settings ``representation.<kind>`` (flat
    keys included), its ``[extra]`` tables (e.g. the fluid pressure network) are merged
    in, and ``representation.grid.matched_member`` records ``target``."""
    if member_kind(raw) != "grid":
        raise ConfigError(f"match_memory_of = {target!r} needs representation.kind = 'grid'")
    t_rep = target_raw.get("representation", {})
    t_rep = t_rep if isinstance(t_rep, dict) else {}
    kind = member_kind(target_raw)
    own = {k: v for k, v in t_rep.items() if k != "kind" and k not in REPRESENTATIONS}
    rep = dict(raw.get("representation", {}))
    grid = dict(rep.get("grid", {}))
    grid.update(match_params_of=kind, matched_member=target)
    rep["grid"] = grid
    rep[kind] = merge(merge(rep.get(kind, {}), t_rep.get(kind, {})), own)
    out = {**raw, "representation": rep}
    if isinstance(target_raw.get("extra"), dict):
        out["extra"] = merge(raw.get("extra", {}), target_raw["extra"])
    return out


def member_kind(raw: dict[str, Any]) -> str:
    rep = raw.get("representation", {})
    return str(rep.get("kind", "siren")) if isinstance(rep, dict) else "?"


# --------------------------------------------------------------------------- running
def default_compare_dir(case_name: str, kind: SweepKind, repr_name: str | None = None) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    tag = case_name if kind == "representations" else f"{case_name}-{repr_name}-gradients"
    return paths.outputs_root() / "compare" / f"{tag}-{stamp}"


def latest_compare_dir(case_name: str, kind: SweepKind, repr_name: str | None = None) -> Path:
    """The newest compare directory of this case and sweep kind (for ``--resume``)."""
    tag = case_name if kind == "representations" else f"{case_name}-{repr_name}-gradients"
    parent = paths.outputs_root() / "compare"
    pat = re.compile(re.escape(tag) + r"-\d{8}-\d{6}$")
    dirs = sorted(p for p in parent.glob(f"{tag}-*") if pat.match(p.name) and p.is_dir())
    if not dirs:
        raise UsageError(
            f"--resume: no earlier compare directory {parent}/{tag}-<time>; use --out DIR"
        )
    return dirs[-1]


def log_status(run_dir: Path) -> str | None:
    """Status attribute of ``run_dir/run.h5`` or None when there is no readable log."""
    p = run_dir / "run.h5"
    if not p.exists():
        return None
    try:
        with open_readonly(p) as h5:
            return str(h5.attrs.get("status", "unknown"))
    except OSError:
        return None


def default_workers(n_members: int) -> int:
    return max(1, min(n_members, os.cpu_count() or 1))


def threads_per_worker(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    msg = text[0] if text else ""
    return msg if msg else type(e).__name__


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


IGNORED_KEYS = ("run.threads",)  # set per task by the executor; changes no number


def config_difference(stored: dict[str, Any], wanted: dict[str, Any]) -> str | None:
    """The first key where two resolved configs differ (``key: a != b``), or None."""
    a, b = _flat(stored), _flat(wanted)
    for k in sorted(set(a) | set(b)):
        if k.startswith(IGNORED_KEYS):
            continue
        if a.get(k) != b.get(k):
            return f"{k}: stored {a.get(k)!r}, sweep {b.get(k)!r}"
    return None


def stored_config_difference(run_dir: Path, cfg: Any) -> str | None:
    """How the config stored in ``run_dir/run.h5`` differs from ``cfg`` (None: equal);
    an unreadable log or stored config counts as different."""
    try:
        with RunLogReader(run_dir / "run.h5") as log:
            stored = build_config(log.config).as_dict()
    except Exception as e:  # noqa: BLE001 - any damage means "do not reuse"
        return f"its log is unreadable ({_first_line(e)})"
    return config_difference(stored, cfg.as_dict())


def _run_or_resume(cfg: Any, run_dir: Path, report: Callable[[str, dict], None]) -> int | None:
    """THE call into the runner: continue ``run_dir``'s log when it holds this very config
    (not complete, with a checkpoint), else start it afresh. Returns the step resumed from
    (None: started at step 0)."""
    if (run_dir / "run.h5").exists():
        with run_lock(run_dir):  # held from the check to the end of the resumed write
            if stored_config_difference(run_dir, cfg) is None:
                try:
                    # the stored config equals the sweep's own: its code is the user's
                    plan = plan_resume(run_dir, allow_callable=True)
                except UsageError:
                    plan = None
                if plan is not None and plan.ckpt is not None:
                    driver.resume(plan, report=report)
                    return plan.last_step + 1
    driver.execute(cfg, run_dir, overwrite=True, report=report)
    return None


def member_work(task: Any, progress: Any) -> None:
    """Work function of a sweep member (runs in a worker): run or resume its log and write
    the end record (status read back from the log, one-line reason). Never raises for a
    failed run."""
    p = task.payload
    run_dir = Path(p["run_dir"])
    if not p.get("user_threads"):
        torch.set_num_threads(max(1, int(task.cpus)))
    total = int(p["steps"])
    state: dict[str, int | None] = {"resumed_from": None}

    def report(event: str, data: dict) -> None:
        if event == "done":
            k = int(data["step"])
            progress.update(phase="step", step=k, done=k, total=total)

    t0 = time.perf_counter()
    progress.update(phase="fitting", step=0, total=total, threads=torch.get_num_threads())
    reason, interrupted = "", False
    try:
        cfg = build_config(p["raw"])
        state["resumed_from"] = _run_or_resume(cfg, run_dir, report)
    except RunInterrupted as e:
        reason, interrupted = _first_line(e), True
    except KeyboardInterrupt:
        reason, interrupted = "interrupted", True
    except Exception as e:  # noqa: BLE001 - a failing member must not stop the sweep
        reason = _first_line(e)
    status = log_status(run_dir) or "failed"
    if reason and (status == "running" or is_complete(status)) and not interrupted:
        status = "failed"
    progress.end(
        status=status,
        reason=reason,
        interrupted=interrupted,
        resumed_from=state["resumed_from"],
        seconds=time.perf_counter() - t0,
    )


def write_manifest(
    compare_dir: Path, info: dict[str, Any], outcomes: dict[str, MemberOutcome]
) -> None:
    data = dict(info)
    data["members"] = [{**info["members_spec"][n], **asdict(o)} for n, o in outcomes.items()]
    data.pop("members_spec", None)
    tmp = compare_dir / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(compare_dir / MANIFEST)


STATUS_DIR = ".sweep"  # progress records of the member tasks, inside the compare dir
RESUME_PLACEHOLDER = "insr compare ... --resume --out DIR"


def validate_sets(case: str, config_files: list[str] | None, sets: list[str]) -> dict[str, Any]:
    """Check the global ``--set`` values against the case before any member starts."""
    base = base_raw(case, config_files)
    try:
        build_config(apply_sets(base, sets))
    except ConfigError as e:
        raise UsageError(f"--set: {_first_line(e)}") from None
    return base


@dataclass
class _Plan:
    """What a sweep will do: the members' outcomes so far, the ones to run, the notes."""

    outcomes: dict[str, MemberOutcome] = field(default_factory=dict)
    todo: list[tuple[Member, dict[str, Any], Any]] = field(default_factory=list)
    spec: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)


def _blame_global_sets(
    e: ConfigError, m: Member, base: dict[str, Any], sets: list[str]
) -> ConfigError:
    """``e`` (member ``m``'s config error) as an error of the command line's values (the
    global ``--set`` values, the ``--sweep`` values) when the member's config is valid
    without them: the sweep is refused before any member starts. Otherwise ``e`` itself:
    the member's own config is bad, and it is recorded failed."""
    if not sets and not m.swept:
        return e

    def valid(without: list[str]) -> bool:
        mine = replace(m, sets=[x for x in m.sets if x not in without or x not in m.swept])
        try:
            raw = member_raw(base, [x for x in sets if x not in without], mine)
            if member_kind(raw) in REPRESENTATIONS:
                build_config(raw)
        except ConfigError:
            return False
        return True

    if not valid([*sets, *m.swept]):
        return e
    given = {**{x: f"--set {x}" for x in sets}, **{x: f"--sweep {x}" for x in m.swept}}
    # name the one value whose removal makes the member valid (all of them if none alone)
    culprits = [v for x, v in given.items() if valid([x])] or list(given.values())
    return ConfigError(f"member {m.name} ({', '.join(culprits)}): {_first_line(e)}")


def check_members(
    case: str, config_files: list[str] | None, sets: list[str], members: list[Member]
) -> None:
    """Refuse (one ConfigError) the command line's ``--set``/``--sweep`` values when they
    make any member's config invalid; reads and writes nothing but the config files."""
    base = validate_sets(case, config_files, sets)
    plan = _Plan()
    for m in members:
        _plan_member(plan, m, base, sets, Path(os.devnull) / "none", False)


def _plan_member(
    plan: _Plan, m: Member, base: dict[str, Any], sets: list[str], compare_dir: Path, resume: bool
) -> None:
    """Resolve one member's config; record it as failed/unavailable/skipped or to run.
    A member that only the global ``sets`` make invalid raises (see _blame_global_sets)."""
    plan.spec[m.name] = {"sets": m.sets, "config": m.config, "group": m.group or m.name}
    if m.seed is not None:
        plan.spec[m.name]["seed"] = m.seed
    try:
        raw = member_raw(base, sets, m)
    except ConfigError as e:
        blamed = _blame_global_sets(e, m, base, sets)
        if blamed is not e:
            raise blamed from None
        plan.outcomes[m.name] = MemberOutcome(m.name, "?", "failed", _first_line(e))
        return
    k = member_kind(raw)
    if k not in REPRESENTATIONS:
        why = f"representation '{k}' is not available in this insr"
        plan.outcomes[m.name] = MemberOutcome(m.name, k, "unavailable", why)
        return
    pde = raw.get("case", {}).get("pde") if isinstance(raw.get("case"), dict) else None
    if m.pdes and pde not in m.pdes:
        why = f"not defined for case.pde = {pde!r} (member pdes: {', '.join(m.pdes)})"
        plan.outcomes[m.name] = MemberOutcome(m.name, k, "unavailable", why)
        return
    try:
        cfg = build_config(raw)
    except ConfigError as e:
        blamed = _blame_global_sets(e, m, base, sets)
        if blamed is not e:
            raise blamed from None
        plan.outcomes[m.name] = MemberOutcome(m.name, k, "failed", _first_line(e))
        return
    run_dir = compare_dir / m.name
    if resume and (run_dir / "run.h5").exists():
        diff = stored_config_difference(run_dir, cfg)
        done = log_status(run_dir) or ""
        if diff is None and is_complete(done):
            plan.outcomes[m.name] = MemberOutcome(m.name, k, done, "skipped: already complete")
            return
        if diff is not None:
            plan.notes[m.name] = f"re-run: stored config differs ({diff})"
        else:
            plan.notes[m.name] = "resumed from its log"
    plan.outcomes[m.name] = MemberOutcome(m.name, k, "pending", plan.notes.get(m.name, ""))
    plan.todo.append((m, raw, cfg))


def _member_tasks(
    plan: _Plan, compare_dir: Path, cpus: int, user_threads: bool
) -> list[MemberTask]:
    status_dir = compare_dir / STATUS_DIR
    status_dir.mkdir(exist_ok=True)
    return [
        MemberTask(
            name=m.name,
            work="insr.compare:member_work",
            payload={
                "raw": raw,
                "run_dir": str(compare_dir / m.name),
                "steps": cfg.case.steps,
                "user_threads": user_threads,
            },
            status_dir=str(status_dir),
            cpus=cfg.run.threads if user_threads and cfg.run.threads else cpus,
            gpus=1 if cfg.run.device == "cuda" else 0,
        )
        for m, raw, cfg in plan.todo
    ]


@dataclass
class _Relay:
    """Turns executor events into the sweep's ``report`` events and keeps ``sweep.json``
    up to date as members end."""

    plan: _Plan
    info: dict[str, Any]
    compare_dir: Path
    report: Callable[[str, dict], None] | None

    def emit(self, event: str, data: dict[str, Any]) -> None:
        if self.report:
            self.report(event, data)

    def announce(self) -> None:
        totals = [(m.name, cfg.case.steps + 1) for m, _, cfg in self.plan.todo]
        self.emit("plan", {"members": totals})
        for name, total in totals:
            self.emit("start", {"name": name, "total": total})

    def __call__(self, event: str, data: dict[str, Any]) -> None:
        if event == "progress":
            name, phase = data["name"], data.get("phase")
            if phase == "starting":
                self.emit("phase", {"name": name, "phase": "starting"})
            elif phase == "fitting" and "done" not in data:
                self.emit("phase", {"name": name, "phase": "fitting step 0"})
            elif "done" in data:
                self.emit("step", {"name": name, "step": int(data["done"])})
        elif event == "end":
            end, outcomes = data["end"], self.plan.outcomes
            note = self.plan.notes.get(end.name, "")
            o = _outcome(end, outcomes[end.name].kind, note, self.compare_dir)
            outcomes[end.name] = o
            write_manifest(self.compare_dir, self.info, outcomes)
            self.emit("end", {"outcome": o})

    def cancel_queued(self, signum: int, resume_hint: str) -> RunInterrupted:
        """Mark members that never ended ``cancelled``; the error to raise."""
        outcomes = self.plan.outcomes
        for name, o in outcomes.items():
            if o.status in ("pending", "running"):
                outcomes[name] = MemberOutcome(name, o.kind, "cancelled", "cancelled")
        write_manifest(self.compare_dir, self.info, outcomes)
        n_c = sum(o.status == "cancelled" for o in outcomes.values())
        n_i = sum(o.status.startswith("interrupted") for o in outcomes.values())
        return RunInterrupted(
            f"sweep interrupted: {n_c} member(s) cancelled, {n_i} stopped at a checkpoint; "
            f"{MANIFEST} is up to date; resume with: {resume_hint}",
            signum,
        )


MAX_WORKERS = 256


def _check_counts(workers: int | None, cpus_per_member: int | None) -> None:
    if workers is not None and not 1 <= workers <= MAX_WORKERS:
        raise UsageError(
            f"--workers {workers} is not allowed: expected an integer in [1, {MAX_WORKERS}]"
        )
    cores = max(os.cpu_count() or 1, 1)
    if cpus_per_member is not None and not 1 <= cpus_per_member <= 4 * cores:
        raise UsageError(
            f"--cpus-per-member {cpus_per_member} is not allowed: expected an integer in "
            f"[1, {4 * cores}] (4 x the {cores} cores here)"
        )


def run_sweep(
    *,
    kind: SweepKind,
    case: str,
    members: list[Member],
    compare_dir: Path,
    config_files: list[str] | None = None,
    sets: list[str] | None = None,
    workers: int | None = None,
    resume: bool = False,
    report: Callable[[str, dict], None] | None = None,
    executor: str = "local",
    address: str | None = None,
    cpus_per_member: int | None = None,
    resume_hint: str = RESUME_PLACEHOLDER,
) -> list[MemberOutcome]:
    """Run every member into ``compare_dir/<member>/run.h5``; return their outcomes.

    Global ``sets`` are validated first, against the case and then against every member
    (a ConfigError before anything is written when they make a member's config invalid
    that is valid without them). Then each member: an unregistered representation kind
    gives status ``unavailable``, any other config error ``failed``. With ``resume`` a
    complete member log is reused only when its stored config equals the member's; a
    different one is re-run (the reason says so).
    ``report(event, data)`` gets ``("plan", {members: [(name, total)]})``,
    ``("start", {name, total})``, ``("phase", {name, phase})``, ``("step", {name, step})``
    and ``("end", {outcome})``. SIGINT/SIGTERM cancel the sweep: queued members become
    ``cancelled``, running ones stop at a checkpoint, and :class:`RunInterrupted` is raised
    with ``resume_hint`` after ``sweep.json`` is written.
    """
    sets = list(sets or [])
    _check_counts(workers, cpus_per_member)
    base = validate_sets(case, config_files, sets)
    check_path_length(compare_dir, "the compare directory")
    if compare_dir.exists() and not compare_dir.is_dir():
        raise UsageError(f"--out {compare_dir} is a file, not a compare directory")

    def make_plan() -> _Plan:
        plan = _Plan()
        for m in members:
            _plan_member(plan, m, base, sets, compare_dir, resume)
        return plan

    # a fresh sweep resolves every member's config before anything is written; a resumed
    # one (its directory exists) reads its members' logs under the lock
    fresh = None if resume else make_plan()
    try:
        compare_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot write to {compare_dir}: {e.strerror or e}") from None
    with run_lock(compare_dir):  # one sweep per compare directory (members lock their own)
        plan = fresh if fresh is not None else make_plan()
        case_table = apply_sets(base, sets).get("case", {})
        info = {
            "kind": kind,
            "case": str(case_table.get("name", case)) if isinstance(case_table, dict) else case,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "sets": sets,
            "config_files": [str(c) for c in config_files or []],
            "executor": executor,
            "members_spec": plan.spec,
        }
        write_manifest(compare_dir, info, plan.outcomes)
        n_workers: int | None
        if executor == "local":
            n_workers = min(workers or default_workers(len(plan.todo)), max(1, len(plan.todo)))
            cpus = cpus_per_member or threads_per_worker(n_workers)
        else:
            n_workers, cpus = workers, cpus_per_member or 1
        user_threads = any(s.strip().startswith("run.threads") for s in sets)
        tasks = _member_tasks(plan, compare_dir, cpus, user_threads)
        relay = _Relay(plan, info, compare_dir, report)
        relay.announce()
        if tasks:
            ex = make_executor(executor, workers=n_workers, address=address)
            result = run_members(tasks, ex, on_event=relay)
            if result.interrupted_by is not None:
                raise relay.cancel_queued(int(result.interrupted_by), resume_hint)
        return [plan.outcomes[m.name] for m in members]


def _outcome(end: Any, kind: str, note: str, compare_dir: Path) -> MemberOutcome:
    """A member's outcome from its end record and its log (not from a return value)."""
    rec = end.record
    if end.state == "cancelled":
        return MemberOutcome(end.name, kind, "cancelled", end.reason)
    status = log_status(compare_dir / end.name)
    if end.state == "lost" and end.after_stop and status is None:
        return MemberOutcome(end.name, kind, "cancelled", "stopped before it logged a step")
    if end.state == "lost":
        st = status if status and status.startswith("interrupted") else "failed"
        if end.after_stop and st == "failed":
            st = "interrupted"
        return MemberOutcome(end.name, kind, st, end.reason, float(rec.get("seconds", 0.0)))
    st = str(rec.get("status") or status or "failed")
    reason = str(rec.get("reason", ""))
    if rec.get("resumed_from") is not None:
        reason = "; ".join(x for x in (f"resumed from step {rec['resumed_from']}", reason) if x)
    elif note.startswith("re-run"):
        reason = "; ".join(x for x in (note, reason) if x)
    return MemberOutcome(end.name, kind, st, reason, float(rec.get("seconds", 0.0)))


# --------------------------------------------------------------------------- summary
def _finite_max(v: np.ndarray) -> float:
    f = v[np.isfinite(v)]
    return float(f.max()) if f.size else float("nan")


def _last(v: np.ndarray) -> float:
    return float(v[-1]) if v.size else float("nan")


def read_manifest(compare_dir: Path) -> dict[str, Any]:
    p = Path(compare_dir) / MANIFEST
    if not p.exists():
        raise UsageError(f"{compare_dir} is not a compare directory (no {MANIFEST})")
    try:
        return json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UsageError(f"{p} is not valid JSON") from None


def is_compare_dir(path: Path) -> bool:
    return Path(path).is_dir() and (Path(path) / MANIFEST).exists()


def summarize(compare_dir: Path) -> list[dict[str, Any]]:
    """One row per member, computed from ``sweep.json`` and the member logs only."""
    compare_dir = Path(compare_dir)
    manifest = read_manifest(compare_dir)
    rows = []
    for m in manifest["members"]:
        row: dict[str, Any] = {
            "member": m["name"],
            "representation": m.get("kind", "?"),
            "status": m.get("status", "?"),
            "reason": m.get("reason", ""),
        }
        log = compare_dir / m["name"] / "run.h5"
        if log.exists() and row["status"] != "unavailable":
            try:
                reader = RunLogReader(log)
            except UsageError as e:
                row["reason"] = row["reason"] or _first_line(e)
                rows.append(row)
                continue
            with reader:
                a = reader.attrs
                row["representation"] = str(a.get("representation", row["representation"]))
                st = str(a.get("status", row["status"]))
                row["status"] = st
                if is_complete(st) and not is_complete(str(m.get("status", ""))):
                    if m.get("status") != "pending":
                        row["reason"] = ""
                row["verdict"] = str(a.get("fit_verdict", UNKNOWN))
                row["verdict_from_step"] = int(a.get("fit_verdict_from_step", -1))
                try:  # "continue": the member was told to accept a poor fit
                    accept = reader.config.get("run", {}).get("on_poor_fit") == "continue"
                except (KeyError, ValueError, AttributeError):
                    accept = False
                row["accepts_poor_fit"] = bool(accept)
                row["n_params"] = int(a.get("n_params", 0))
                row["scheme"] = scheme_label(a)
                if "matched_n_params" in a:
                    row["matched_n_params"] = int(a["matched_n_params"])
                row["rows"] = reader.n
                met = reader.metrics()
                steps = reader.series("step") if reader.has("step") else np.arange(reader.n)
                row["last_step"] = int(steps[-1]) if reader.n else -1
                if reader.n:
                    if "wall_seconds" in met:
                        row["wall_s"] = float(np.nansum(met["wall_seconds"]))
                    if "iterations" in met:
                        it = met["iterations"]
                        row["init_iters"] = float(it[0])
                        later = it[steps >= 1]
                        row["iters_per_step"] = (
                            float(np.mean(later)) if later.size else float("nan")
                        )
                    for k in sorted(met):
                        if k.startswith(("field_", "gradient_rel_error_", "gradient_noise_")):
                            row[f"{k}_last"] = _last(met[k])
                            row[f"{k}_worst"] = _finite_max(met[k])
        rows.append(row)
    return rows


def scheme_label(attrs: Any) -> str:
    """What a member's numbers come from: a grid baseline's own scheme name, or the
    network's resolved time scheme (``neural, pade4``)."""
    if "grid_scheme" in attrs:
        return str(attrs["grid_scheme"])
    return f"neural, {attrs['time_scheme']}" if "time_scheme" in attrs else "neural"


def summary_columns(rows: list[dict[str, Any]]) -> list[str]:
    """Stable column order: identity, cost, then error columns."""
    head = [
        "member",
        "representation",
        "status",
        "verdict",
        "verdict_from_step",
        "reason",
        "scheme",
        "n_params",
        "matched_n_params",
        "rows",
        "last_step",
        "wall_s",
        "init_iters",
        "iters_per_step",
    ]
    rest = sorted({k for r in rows for k in r} - set(head))
    return head + rest


def write_summary(compare_dir: Path, rows: list[dict[str, Any]]) -> tuple[Path, Path]:
    """``summary.csv`` (empty cell = missing) and ``summary.json`` (NaN -> null)."""

    cols = summary_columns(rows)
    csv_path = compare_dir / "summary.csv"
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r in rows:
            w.writerow([_csv_cell(r.get(c)) for c in cols])

    def clean(v: Any) -> Any:
        return None if isinstance(v, float) and not math.isfinite(v) else v

    manifest = read_manifest(compare_dir)
    json_path = compare_dir / "summary.json"
    json_path.write_text(
        json.dumps(
            {
                "kind": manifest.get("kind"),
                "case": manifest.get("case"),
                "columns": cols,
                "members": [{k: clean(v) for k, v in r.items()} for r in rows],
            },
            indent=2,
        )
    )
    return csv_path, json_path


SEED_STATS = ("mean", "std", "min", "max")


def seed_summary(compare_dir: Path, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per member configuration that was run with several seeds (from
    ``sweep.json``'s ``group``/``seed``): ``seeds`` (the complete ones whose fit verdict is
    not poor/failed, unless the member accepted a poor fit: ``run.on_poor_fit =
    "continue"``), ``n`` and, for every numeric error/cost column ``c`` of those members,
    ``c_mean``, ``c_std`` (sample standard deviation, ddof=1; NaN for one seed), ``c_min``,
    ``c_max``."""
    manifest = read_manifest(Path(compare_dir))
    spec = {m["name"]: m for m in manifest["members"]}
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        m = spec.get(r["member"], {})
        if m.get("seed") is None:
            continue
        groups.setdefault(m.get("group", r["member"]), []).append(r)
    out = []
    for g, members in groups.items():
        done = [
            r
            for r in members
            if is_complete(str(r.get("status", "")))
            and (r.get("verdict") not in BAD or r.get("accepts_poor_fit"))
        ]
        row: dict[str, Any] = {
            "member": g,
            "representation": members[0].get("representation", "?"),
            "seeds": [spec[r["member"]]["seed"] for r in done],
            "n": len(done),
            "of": len(members),
        }
        keys = sorted(
            {k for r in done for k, v in r.items() if isinstance(v, float) and k != "wall_s"}
        )
        for k in keys:
            v = np.array([r.get(k, np.nan) for r in done], dtype=np.float64)
            row[f"{k}_mean"] = float(np.mean(v))
            row[f"{k}_std"] = float(np.std(v, ddof=1)) if v.size > 1 else float("nan")
            row[f"{k}_min"] = float(np.min(v))
            row[f"{k}_max"] = float(np.max(v))
        out.append(row)
    return out


def write_seed_summary(compare_dir: Path, rows: list[dict[str, Any]]) -> Path | None:
    """``summary_seeds.json`` (NaN -> null) when the sweep had a seed dimension."""
    if not rows:
        return None

    def clean(v: Any) -> Any:
        return None if isinstance(v, float) and not math.isfinite(v) else v

    path = Path(compare_dir) / "summary_seeds.json"
    path.write_text(
        json.dumps({"members": [{k: clean(v) for k, v in r.items()} for r in rows]}, indent=2)
    )
    return path


def _csv_cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ""
    return str(v)


def strategies_in(rows: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in rows:
        for k in r:
            m = re.match(r"gradient_rel_error_(.+)_last$", k)
            if m and m.group(1) not in out:
                out.append(m.group(1))
    return out


def verdict_failures(rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Members whose fit verdict is ``poor`` or ``failed`` (by verdict), leaving out those
    run with ``run.on_poor_fit = "continue"`` (they accepted a poor fit: the verdict is
    still shown, but does not fail the sweep)."""
    out: dict[str, list[str]] = {v: [] for v in BAD}
    for r in rows:
        v = r.get("verdict")
        if v in out and not r.get("accepts_poor_fit"):
            out[v].append(r["member"])
    return {k: v for k, v in out.items() if v}
