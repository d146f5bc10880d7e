"""`insr compare representations|gradients`."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.table import Table

from insr.cli.app import (
    ConfigOpt,
    SetOpt,
    _fmt,
    compare_app,
    console,
    user_errors,
)
from insr.cli.progress import SweepProgress
from insr.errors import RunFailure, UsageError, check_path_length

if TYPE_CHECKING:  # imported when a compare command runs (CLI start-up stays fast)
    from insr import compare as cmp


# ----------------------------------------------------------------- compare
RepsOpt = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Option(
        "--reprs",
        help="Members: names from the default set, representation kinds (siren, hashgrid, ...) "
        "and/or member TOML files (comma-separated).",
    ),
]


def _summary_tables(rows: list[dict], title: str) -> tuple[Table, Table]:
    """Cost table and accuracy table (cells: last step, then worst over time)."""
    from insr.compare import strategies_in

    cost = Table(title=title, show_header=True, header_style="bold")
    cost.add_column("member", no_wrap=True)
    cost.add_column("repr", no_wrap=True)
    cost.add_column("status", no_wrap=True)
    cost.add_column("verdict", no_wrap=True)
    cost.add_column("scheme")
    for col in ("params", "rows", "wall s", "init it", "it/step"):
        cost.add_column(col, justify="right")
    acc = Table(
        title="errors: last step / worst over time",
        show_header=True,
        header_style="bold",
    )
    acc.add_column("member", no_wrap=True)
    acc.add_column("max|u-u*|", justify="right")
    acc.add_column("rmse", justify="right")
    strategies = strategies_in(rows)
    for s in strategies:
        acc.add_column(f"∇ err {s}", justify="right")
        acc.add_column(f"∇ noise {s}", justify="right")

    def num(r: dict, key: str) -> str:
        return _fmt(r[key]) if key in r else "-"

    def pair(r: dict, key: str) -> str:
        if f"{key}_last" not in r:
            return "-"
        return f"{_fmt(r[f'{key}_last'])}\n{_fmt(r[f'{key}_worst'])}"

    from insr.verdict import is_complete

    for r in rows:
        st, v = r["status"], str(r.get("verdict", "-"))
        style = "green" if st == "complete" else "yellow" if st == "unavailable" else "red"
        v_style = {"ok": "green", "poor": "yellow", "failed": "red"}.get(v, "dim")
        if is_complete(st) and st != "complete":
            style = v_style
        cost.add_row(
            r["member"],
            str(r.get("representation", "?")),
            f"[{style}]{st}[/]",
            f"[{v_style}]{v}[/]",
            str(r.get("scheme", "-")),
            num(r, "n_params"),
            num(r, "rows"),
            num(r, "wall_s"),
            num(r, "init_iters"),
            num(r, "iters_per_step"),
        )
        if "rows" in r:
            cells = [r["member"], pair(r, "field_max_error"), pair(r, "field_rmse")]
            for s in strategies:
                cells += [pair(r, f"gradient_rel_error_{s}"), pair(r, f"gradient_noise_{s}")]
            acc.add_row(*cells, end_section=True)
    notes = [f"{r['member']}: {r['reason']}" for r in rows if r.get("reason")]
    if notes:
        cost.caption = "\n".join(notes)
    return cost, acc


def _seed_table(rows: list[dict]) -> Table:
    """Mean ± std [min–max] over seeds of the headline numbers, per configuration."""
    from insr.compare import strategies_in

    t = Table(
        title="over seeds: mean ± std (sample) [min – max], last step",
        show_header=True,
        header_style="bold",
    )
    t.add_column("configuration", no_wrap=True)
    t.add_column("seeds", justify="right")
    keys = ["field_max_error_last"]
    keys += [
        f"gradient_rel_error_{s}_last"
        for s in strategies_in(
            [{k[: -len("_mean")]: 0 for k in r if k.endswith("_mean")} for r in rows]
        )
    ]
    for k in keys:
        t.add_column(k.replace("gradient_rel_error_", "∇ err ").replace("_last", ""))
    for r in rows:
        cells = [r["member"], f"{r['n']}/{r['of']}"]
        for k in keys:
            if f"{k}_mean" not in r:
                cells.append("-")
                continue
            cells.append(
                f"{_fmt(r[f'{k}_mean'])} ± {_fmt(r[f'{k}_std'])}\n"
                f"[{_fmt(r[f'{k}_min'])} – {_fmt(r[f'{k}_max'])}]"
            )
        t.add_row(*cells, end_section=True)
    return t


def resume_command(kind: str, argv: dict) -> str:
    """The command that resumes this sweep (the same selection, with --resume --out)."""
    import shlex

    parts = ["insr", "compare", kind]
    for opt, val in argv.items():
        if val is None or val is False or val == []:
            continue
        for v in val if isinstance(val, list) else [val]:
            parts += [opt] if v is True else [opt, str(v)]
    return shlex.join([*parts, "--resume"])


def _check_executor(executor: str, address: str | None) -> None:
    if executor != "ray" and address is not None:
        raise UsageError("--address is only for --executor ray")
    if executor == "ray":
        import importlib.util

        from insr.executors.ray_cluster import MISSING

        if importlib.util.find_spec("ray") is None:
            raise UsageError(MISSING)


def _compare_dir(
    kind: cmp.SweepKind, case_name: str, repr_name: str | None, out: Path | None, resume: bool
) -> Path:
    from insr import compare as cmp

    if out is not None:
        check_path_length(out, "--out")
        if (out / cmp.MANIFEST).exists() and not resume:
            raise UsageError(f"{out} already holds a sweep; use --resume or another --out")
        if resume and not (out / cmp.MANIFEST).exists():
            raise UsageError(
                f"--resume: {out} holds no sweep (no {cmp.MANIFEST}); run without --resume "
                "to start one there"
            )
        return out
    if resume:
        return cmp.latest_compare_dir(case_name, kind, repr_name)
    return cmp.default_compare_dir(case_name, kind, repr_name)


def _print_results(kind: str, case_name: str, compare_dir: Path, wall: float) -> None:
    """Summary tables, files written, and a RunFailure when a member did not complete."""
    from insr import compare as cmp
    from insr.render import make_figures
    from insr.verdict import is_complete

    rows = cmp.summarize(compare_dir)
    csv_path, json_path = cmp.write_summary(compare_dir, rows)
    seed_rows = cmp.seed_summary(compare_dir, rows)
    seed_path = cmp.write_seed_summary(compare_dir, seed_rows)
    figs = make_figures(compare_dir)
    for table in _summary_tables(rows, f"{kind} on {case_name} ({wall:.0f} s wall)"):
        console.print(table)
    if seed_rows:
        console.print(_seed_table(seed_rows))
    for p in (csv_path, json_path, *([seed_path] if seed_path else []), *figs):
        console.print(f"wrote {p}", highlight=False)
    bad = [
        r["member"] for r in rows if not is_complete(r["status"]) and r["status"] != "unavailable"
    ]
    problems = []
    if bad:
        more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
        problems.append(f"{len(bad)} member(s) did not complete: {', '.join(bad[:3])}{more}")
    for verdict, names in cmp.verdict_failures(rows).items():
        if verdict == "failed":
            names = [n for n in names if n not in bad]
        if names:
            problems.append(f"{verdict} fit verdict: {', '.join(names)}")
    if problems:
        raise RunFailure(
            f"sweep: {'; '.join(problems)}; their numbers do not measure a fitted field "
            f"(README 'Fit verdicts'); see the table above and {cmp.MANIFEST}"
        )
    if not any(is_complete(r["status"]) for r in rows):
        raise RunFailure("no member of the sweep completed")


def _compare(
    kind: cmp.SweepKind,
    case: str,
    reprs,
    steps,
    set_,
    config,
    workers,
    resume,
    out,
    quiet,
    repr_name: str | None = None,
    executor: str = "local",
    address: str | None = None,
    sweep: list[str] | None = None,
    seeds: str | None = None,
    cpus_per_member: int | None = None,
) -> None:
    import time

    from insr import compare as cmp
    from insr.config import load_config

    executor = ExecutorName(executor).value
    with user_errors():
        sets = list(set_ or [])
        if steps is not None:
            sets.append(f"case.steps={steps}")
        if repr_name is not None:
            sets.insert(0, f"representation.kind={repr_name}")
        _check_executor(executor, address)
        members = cmp.select_members(kind, reprs)
        members = cmp.expand_members(
            members, sweep, cmp.parse_seeds(seeds) if seeds is not None else None
        )
        cfg_files = [str(c) for c in config or []]
        cmp.check_members(case, cfg_files, sets, members)  # before anything is written
        case_name = (
            cmp.apply_sets(cmp.base_raw(case, cfg_files), sets).get("case", {}).get("name", case)
        )
        if repr_name is not None:
            load_config(case, cfg_files, sets)  # the representation itself must be valid
        compare_dir = _compare_dir(kind, case_name, repr_name, out, resume)
        hint = resume_command(
            kind,
            {
                "--case": case,
                "--repr": repr_name,
                "--reprs" if kind == "representations" else "--strategies": list(reprs or []),
                "--set": list(set_ or []),
                "--steps": steps,
                "--config": [str(c) for c in config or []],
                "--sweep": list(sweep or []),
                "--seeds": seeds,
                "--workers": workers,
                "--cpus-per-member": cpus_per_member,
                "--executor": executor if executor != "local" else None,
                "--address": address,
                "--out": str(compare_dir),
            },
        )
        t0 = time.perf_counter()
        with SweepProgress(quiet) as progress:
            cmp.run_sweep(
                kind=kind,
                case=case,
                members=members,
                compare_dir=compare_dir,
                config_files=cfg_files,
                sets=sets,
                workers=workers,
                resume=resume,
                report=progress,
                executor=executor,
                address=address,
                cpus_per_member=cpus_per_member,
                resume_hint=hint,
            )
        _print_results(kind, case_name, compare_dir, time.perf_counter() - t0)


WorkersOpt = Annotated[
    Optional[int],  # noqa: UP045
    typer.Option(
        "--workers",
        "-j",
        help="Parallel members (local default: min(members, cores); ray: tasks in flight).",
        min=1,
    ),
]
ResumeOpt = Annotated[
    bool,
    typer.Option(
        "--resume",
        help="Continue the sweep (--out, or the latest): reuse complete members whose stored "
        "config matches, continue or re-run the others.",
    ),
]
CompareOutOpt = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--out", help="Compare directory (default outputs/compare/<case>-<time>/)."),
]
StepsOpt = Annotated[
    Optional[int],  # noqa: UP045
    typer.Option(help="Time steps of every member (case.steps; 0: the initial fit only).", min=0),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")]


class ExecutorName(StrEnum):
    local = "local"
    ray = "ray"


ExecutorOpt = Annotated[
    ExecutorName,
    typer.Option(
        "--executor",
        help="Where members run: local processes, or a Ray cluster (extra insr\\[ray]).",
    ),
]
AddressOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--address", help="Ray cluster address (default: RAY_ADDRESS or a local one)."),
]
SweepOpt = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Option(
        "--sweep",
        help="Multirun: section.key=v1,v2,... expands every member (repeat: cartesian product).",
    ),
]
SeedsOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--seeds", help="Run every member with each seed: 0..4 or 0,1,2 (run.seed)."),
]
CpusOpt = Annotated[
    Optional[int],  # noqa: UP045
    typer.Option(
        "--cpus-per-member",
        min=1,
        help="CPUs (= torch threads) per member (default: local cores/workers; ray 1).",
    ),
]


@compare_app.command("representations")
def compare_representations(
    case: Annotated[str, typer.Option("--case", help="Case name or case TOML.")],
    reprs: RepsOpt = None,
    steps: StepsOpt = None,
    set_: SetOpt = None,
    config: ConfigOpt = None,
    workers: WorkersOpt = None,
    resume: ResumeOpt = False,
    out: CompareOutOpt = None,
    quiet: QuietOpt = False,
    executor: ExecutorOpt = ExecutorName.local,
    address: AddressOpt = None,
    sweep: SweepOpt = None,
    seeds: SeedsOpt = None,
    cpus_per_member: CpusOpt = None,
) -> None:
    """Run CASE on every representation of the set (configs/compare/representations.toml),
    print a summary table and write summary.csv, summary.json and figures."""
    _compare(
        "representations",
        case,
        reprs,
        steps,
        set_,
        config,
        workers,
        resume,
        out,
        quiet,
        None,
        executor,
        address,
        sweep,
        seeds,
        cpus_per_member,
    )


@compare_app.command("gradients")
def compare_gradients(
    case: Annotated[str, typer.Option("--case", help="Case name or case TOML.")],
    repr_: Annotated[
        str, typer.Option("--repr", help="Representation kind for every member.")
    ] = "siren",
    reprs: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--strategies",
            help="Members: names from configs/compare/gradients.toml and/or member TOML files.",
        ),
    ] = None,
    steps: StepsOpt = None,
    set_: SetOpt = None,
    config: ConfigOpt = None,
    workers: WorkersOpt = None,
    resume: ResumeOpt = False,
    out: CompareOutOpt = None,
    quiet: QuietOpt = False,
    executor: ExecutorOpt = ExecutorName.local,
    address: AddressOpt = None,
    sweep: SweepOpt = None,
    seeds: SeedsOpt = None,
    cpus_per_member: CpusOpt = None,
) -> None:
    """Run CASE with one representation over derivative strategies and gradient remedies
    (configs/compare/gradients.toml); same table, files and figures as `compare representations`."""
    _compare(
        "gradients",
        case,
        reprs,
        steps,
        set_,
        config,
        workers,
        resume,
        out,
        quiet,
        repr_,
        executor,
        address,
        sweep,
        seeds,
        cpus_per_member,
    )
