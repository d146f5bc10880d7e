"""`insr compare representations|gradients`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

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

# ----------------------------------------------------------------- compare
RepsOpt = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Option(
        "--reprs",
        help="Members: names from the default set and/or member TOML files (comma-separated).",
    ),
]


def _summary_tables(rows: list[dict], title: str) -> tuple[Table, Table]:
    """Cost table and accuracy table (cells: last step, then worst over time)."""
    from insr.compare import strategies_in

    cost = Table(title=title, show_header=True, header_style="bold")
    cost.add_column("member", no_wrap=True)
    cost.add_column("repr", no_wrap=True)
    cost.add_column("status", no_wrap=True)
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

    for r in rows:
        st = r["status"]
        style = "green" if st == "complete" else "yellow" if st == "unavailable" else "red"
        cost.add_row(
            r["member"],
            str(r.get("representation", "?")),
            f"[{style}]{st}[/]",
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


def _compare(
    kind: str,
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
) -> None:
    import time

    from insr import compare as cmp
    from insr.config import load_config
    from insr.errors import RunFailure, UsageError
    from insr.render import make_figures

    with user_errors():
        sets = list(set_ or [])
        if steps is not None:
            sets.append(f"case.steps={steps}")
        if repr_name is not None:
            sets.insert(0, f"representation.kind={repr_name}")
        members = cmp.select_members(kind, reprs)  # type: ignore[arg-type]
        cfg_files = [str(c) for c in config or []]
        case_name = (
            cmp.apply_sets(cmp.base_raw(case, cfg_files), sets).get("case", {}).get("name", case)
        )
        if repr_name is not None:
            load_config(case, cfg_files, sets)  # the representation itself must be valid
        if out is not None:
            compare_dir = out
        elif resume:
            compare_dir = cmp.latest_compare_dir(case_name, kind, repr_name)  # type: ignore[arg-type]
        else:
            compare_dir = cmp.default_compare_dir(case_name, kind, repr_name)  # type: ignore[arg-type]
        if (compare_dir / cmp.MANIFEST).exists() and not resume and out is not None:
            raise UsageError(f"{compare_dir} already holds a sweep; use --resume or another --out")
        t0 = time.perf_counter()
        with SweepProgress(quiet) as progress:
            cmp.run_sweep(
                kind=kind,
                case=case,
                members=members,
                compare_dir=compare_dir,  # type: ignore[arg-type]
                config_files=cfg_files,
                sets=sets,
                workers=workers,
                resume=resume,
                report=progress,
            )
        wall = time.perf_counter() - t0
        rows = cmp.summarize(compare_dir)
        csv_path, json_path = cmp.write_summary(compare_dir, rows)
        figs = make_figures(compare_dir)
        for table in _summary_tables(rows, f"{kind} on {case_name} ({wall:.0f} s wall)"):
            console.print(table)
        for p in (csv_path, json_path, *figs):
            console.print(f"wrote {p}", highlight=False)
        if not any(r["status"] == "complete" for r in rows):
            raise RunFailure("no member of the sweep completed")


WorkersOpt = Annotated[
    Optional[int],  # noqa: UP045
    typer.Option(
        "--workers", "-j", help="Parallel member runs (default: min(members, cores)).", min=1
    ),
]
ResumeOpt = Annotated[
    bool,
    typer.Option(
        "--resume", help="Skip members whose log is complete (with --out, or the latest sweep)."
    ),
]
CompareOutOpt = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--out", help="Compare directory (default outputs/compare/<case>-<time>/)."),
]
StepsOpt = Annotated[
    Optional[int],  # noqa: UP045
    typer.Option(help="Time steps of every member (case.steps).", min=1),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")]


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
) -> None:
    """Run CASE on every representation of the set (configs/compare/representations.toml),
    print a summary table and write summary.csv, summary.json and figures."""
    _compare("representations", case, reprs, steps, set_, config, workers, resume, out, quiet)


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
) -> None:
    """Run CASE with one representation over derivative strategies and gradient remedies
    (configs/compare/gradients.toml); same table, files and figures as `compare representations`."""
    _compare("gradients", case, reprs, steps, set_, config, workers, resume, out, quiet, repr_)
