"""Sweeps: one case on many representations (or gradient strategies), side by side.

A sweep is a list of :class:`Member` (a name and config overrides). Each member is an
ordinary run (:func:`insr.runner.execute`) with its own log ``<compare_dir>/<member>/run.h5``.
The compare directory also holds ``sweep.json`` (the members, their overrides, status and,
for a member that produced no log, the one-line reason), so that :func:`summarize`
recomputes every number from files alone.

Config precedence of a member: ``configs/default.toml`` < case < ``--config`` < ``--set``
< the member's own overrides (a sweep variable cannot be overridden by accident).

Summary quantities (all read from the member logs, ``/metrics/<name>``):

- ``wall_s``: sum of ``wall_seconds`` over the logged rows (step 0 included), seconds;
- ``iters_per_step``: mean of ``iterations`` over rows with step >= 1; ``init_iters``: row 0;
- ``field_max_error`` / ``field_rmse`` / ``gradient_rel_error_<s>`` / ``gradient_noise_<s>``:
  value at the last logged row (``_last``) and maximum over all rows (``_worst``),
  NaN rows ignored.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import math
import multiprocessing as mp
import os
import queue as queue_mod
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from insr.config import (
    CONFIGS_DIR,
    ROOT,
    ConfigError,
    apply_sets,
    base_raw,
    build_config,
    merge,
    read_toml,
    suggest,
)
from insr.errors import UsageError

SweepKind = Literal["representations", "gradients"]
MANIFEST = "sweep.json"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


@dataclass
class Member:
    """One run of a sweep: ``sets`` are ``section.key=value`` overrides; ``config`` a table."""

    name: str
    sets: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)


@dataclass
class MemberOutcome:
    name: str
    kind: str
    status: str  # complete | failed | unavailable | skipped (resume) | diverged ... | running
    reason: str = ""
    seconds: float = 0.0


# --------------------------------------------------------------------------- members
def default_members_file(kind: SweepKind) -> Path:
    return CONFIGS_DIR / "compare" / f"{kind}.toml"


def read_members(path: Path) -> list[Member]:
    """Members of a TOML file: ``[[member]]`` entries (name, set, config) plus an optional
    top-level ``set`` applied to all of them; a file without ``member`` is one member (a
    plain config preset) named after the file."""
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
        unknown = set(e) - {"name", "set", "config", "description"}
        if unknown:
            raise ConfigError(
                f"{where}: unknown key(s) {sorted(unknown)}; allowed: name, set, config"
            )
        sets = e.get("set", [])
        if not isinstance(sets, list) or not all(isinstance(s, str) for s in sets):
            raise ConfigError(f"{where}: 'set' must be a list of 'section.key=value' strings")
        cfg = e.get("config", {})
        if not isinstance(cfg, dict):
            raise ConfigError(f"{where}: 'config' must be a table")
        out.append(Member(name=e["name"], sets=[*common, *sets], config=cfg))
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
                else:
                    raise UsageError(
                        f"unknown member '{p}'{suggest(p, by_name)}; allowed: "
                        f"{', '.join(by_name)} or a member TOML file"
                    )
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
    return members


def member_raw(base: dict[str, Any], sets: list[str], member: Member) -> dict[str, Any]:
    raw = apply_sets(base, sets)
    raw = merge(raw, member.config)
    return apply_sets(raw, member.sets)


def member_kind(raw: dict[str, Any]) -> str:
    rep = raw.get("representation", {})
    return str(rep.get("kind", "siren")) if isinstance(rep, dict) else "?"


# --------------------------------------------------------------------------- running
def default_compare_dir(case_name: str, kind: SweepKind, repr_name: str | None = None) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    tag = case_name if kind == "representations" else f"{case_name}-{repr_name}-gradients"
    return ROOT / "outputs" / "compare" / f"{tag}-{stamp}"


def latest_compare_dir(case_name: str, kind: SweepKind, repr_name: str | None = None) -> Path:
    """The newest compare directory of this case and sweep kind (for ``--resume``)."""
    tag = case_name if kind == "representations" else f"{case_name}-{repr_name}-gradients"
    parent = ROOT / "outputs" / "compare"
    pat = re.compile(re.escape(tag) + r"-\d{8}-\d{6}$")
    dirs = sorted(p for p in parent.glob(f"{tag}-*") if pat.match(p.name) and p.is_dir())
    if not dirs:
        raise UsageError(
            f"--resume: no earlier compare directory {parent}/{tag}-<time>; use --out DIR"
        )
    return dirs[-1]


def log_status(run_dir: Path) -> str | None:
    """Status attribute of ``run_dir/run.h5`` or None when there is no readable log."""
    import h5py

    p = run_dir / "run.h5"
    if not p.exists():
        return None
    try:
        with h5py.File(p, "r", locking=False) as h5:
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


def run_member(
    name: str, raw: dict[str, Any], run_dir: str, threads: int, events: Any = None
) -> MemberOutcome:
    """Run one member (in this process or a worker); never raises for a failed run."""
    import torch

    from insr import runner

    t0 = time.perf_counter()
    kind = member_kind(raw)
    if threads:
        torch.set_num_threads(threads)
    try:
        cfg = build_config(raw)

        def report(event: str, data: dict) -> None:
            if events is not None and event == "done":
                events.put((name, int(data["step"])))

        res = runner.execute(cfg, Path(run_dir), overwrite=True, report=report)
        return MemberOutcome(name, kind, res.status, "", time.perf_counter() - t0)
    except Exception as e:  # a failing member must not stop the sweep
        status = log_status(Path(run_dir)) or "failed"
        if status in ("running", "complete"):
            status = "failed"
        return MemberOutcome(name, kind, status, _first_line(e), time.perf_counter() - t0)


def write_manifest(
    compare_dir: Path, info: dict[str, Any], outcomes: dict[str, MemberOutcome]
) -> None:
    data = dict(info)
    data["members"] = [{**info["members_spec"][n], **asdict(o)} for n, o in outcomes.items()]
    data.pop("members_spec", None)
    tmp = compare_dir / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(compare_dir / MANIFEST)


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
) -> list[MemberOutcome]:
    """Run every member into ``compare_dir/<member>/run.h5``; return their outcomes.

    ``report(event, data)`` gets ``("start", {name, total})``, ``("step", {name, step})``
    and ``("end", {outcome})``. Members are validated first: an unregistered
    representation kind gives status ``unavailable``, any other config error ``failed``.
    """
    from insr.fields import REPRESENTATIONS

    sets = list(sets or [])
    base = base_raw(case, config_files)
    if workers is not None and workers < 1:
        raise UsageError(f"--workers {workers} is not allowed: expected an integer >= 1")
    compare_dir.mkdir(parents=True, exist_ok=True)
    user_threads = any(s.strip().startswith("run.threads") for s in sets)

    outcomes: dict[str, MemberOutcome] = {}
    todo: list[tuple[Member, dict[str, Any], int]] = []
    spec: dict[str, dict[str, Any]] = {}
    for m in members:
        spec[m.name] = {"sets": m.sets, "config": m.config}
        try:
            raw = member_raw(base, sets, m)
        except ConfigError as e:
            outcomes[m.name] = MemberOutcome(m.name, "?", "failed", _first_line(e))
            continue
        k = member_kind(raw)
        if k not in REPRESENTATIONS:
            outcomes[m.name] = MemberOutcome(
                m.name, k, "unavailable", f"representation '{k}' is not available in this insr"
            )
            continue
        try:
            cfg = build_config(raw)
        except ConfigError as e:
            outcomes[m.name] = MemberOutcome(m.name, k, "failed", _first_line(e))
            continue
        if resume and log_status(compare_dir / m.name) == "complete":
            outcomes[m.name] = MemberOutcome(m.name, k, "complete", "skipped: already complete")
            continue
        outcomes[m.name] = MemberOutcome(m.name, k, "pending")
        todo.append((m, raw, cfg.case.steps))

    case_table = apply_sets(base, sets).get("case", {})
    info = {
        "kind": kind,
        "case": str(case_table.get("name", case)) if isinstance(case_table, dict) else case,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "sets": sets,
        "config_files": [str(c) for c in config_files or []],
        "members_spec": spec,
    }
    write_manifest(compare_dir, info, outcomes)

    n_workers = min(workers or default_workers(len(todo)), max(1, len(todo)))
    threads = 0 if user_threads else threads_per_worker(n_workers)

    def finish(o: MemberOutcome) -> None:
        outcomes[o.name] = o
        write_manifest(compare_dir, info, outcomes)
        if report:
            report("end", {"outcome": o})

    for m, _, steps in todo:
        if report:
            report("start", {"name": m.name, "total": steps + 1})
    if n_workers == 1:
        for m, raw, _ in todo:

            class _Q:
                def put(self, item: tuple[str, int]) -> None:
                    if report:
                        report("step", {"name": item[0], "step": item[1]})

            finish(run_member(m.name, raw, str(compare_dir / m.name), threads, _Q()))
    else:
        ctx = mp.get_context("spawn")
        with ctx.Manager() as manager:
            events = manager.Queue()
            with cf.ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx) as pool:
                futs = {
                    pool.submit(
                        run_member, m.name, raw, str(compare_dir / m.name), threads, events
                    ): m
                    for m, raw, _ in todo
                }
                pending = set(futs)
                while pending:
                    done, pending = cf.wait(pending, timeout=0.5)
                    _drain(events, report)
                    for f in done:
                        m = futs[f]
                        try:
                            o = f.result()
                        except Exception as e:  # worker died (e.g. killed for memory)
                            o = MemberOutcome(
                                m.name, outcomes[m.name].kind, "failed", _first_line(e)
                            )
                        finish(o)
                _drain(events, report)
    return [outcomes[m.name] for m in members]


def _drain(events: Any, report: Callable[[str, dict], None] | None) -> None:
    while True:
        try:
            name, step = events.get_nowait()
        except (queue_mod.Empty, EOFError, OSError):
            return
        if report:
            report("step", {"name": name, "step": step})


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
    from insr.log import RunLogReader

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
                if st == "complete" and m.get("status") not in ("complete", "pending"):
                    row["reason"] = ""
                row["n_params"] = int(a.get("n_params", 0))
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


def summary_columns(rows: list[dict[str, Any]]) -> list[str]:
    """Stable column order: identity, cost, then error columns."""
    head = [
        "member",
        "representation",
        "status",
        "reason",
        "n_params",
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
    import csv

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
