"""`insr study NAME` and `insr study list`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from insr.cli.app import app, console, user_errors
from insr.cli.progress import SweepProgress

VERDICT_STYLE = {"reproduced": "green", "not reproduced": "bold red", "inconclusive": "yellow"}


def _study_dir(name: str, out: Path | None, resume: bool) -> Path:
    from insr.errors import UsageError
    from insr.paths import outputs_root

    if out is not None:
        return out
    parent = outputs_root() / "study"
    tag = Path(name).stem.replace("_", "-")
    if resume:
        dirs = sorted(p for p in parent.glob(f"{tag}-*") if p.is_dir())
        if not dirs:
            raise UsageError(f"--resume: no earlier study directory {parent}/{tag}-<time>")
        return dirs[-1]
    return parent / f"{tag}-{time.strftime('%Y%m%d-%H%M%S')}"


def _list_studies() -> None:
    from insr.study.execute import list_studies, resolve_study

    table = Table(title="shipped studies (insr study NAME)")
    for col in ("name", "claims", "runs", "description"):
        table.add_column(col)
    for name in list_studies():
        s = resolve_study(name)
        table.add_row(name, str(len(s.claims)), str(len(s.runs)), s.info.description)
    console.print(table)


@app.command()
def study(
    name: Annotated[
        str, typer.Argument(help="A shipped study (see `insr study list`) or a study TOML.")
    ],
    quick: Annotated[
        bool, typer.Option("--quick", help="Fewer steps (each run's quick_steps).")
    ] = False,
    out: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="Study directory (default outputs/study/<name>-<time>)."),
    ] = None,
    workers: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--workers", "-j", help="Runs in parallel (default: CPU cores)."),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Reuse complete runs whose stored config matches.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Run a study's runs and evaluate its claims: report.md, summary.json, one figure per claim."""
    from insr.study.execute import resolve_study, run_study

    with user_errors():
        if name == "list":
            _list_studies()
            return
        spec = resolve_study(name)
        target = _study_dir(spec.info.name, out, resume)
        with SweepProgress(quiet) as progress:
            outcome = run_study(
                spec, target, quick=quick, workers=workers, resume=resume, report=progress
            )
        table = Table(title=f"study {spec.info.name} ({'quick' if quick else 'full'})")
        for col in ("claim", "verdict", "numbers", "reason"):
            table.add_column(col)
        for r in outcome.results:
            nums = "\n".join(f"{v.quantity} = {v.value:.3g}" for v in r.values)
            style = VERDICT_STYLE.get(r.verdict, "white")
            table.add_row(r.id, f"[{style}]{r.verdict}[/]", nums, r.reason)
        console.print(table)
        console.print(f"wall time {outcome.seconds:.0f} s")
        console.print("report:", highlight=False)
        console.print(str(outcome.report), highlight=False, soft_wrap=True)
        failed = outcome.failed
        if failed:
            from insr.errors import RunFailure

            names = ", ".join(failed)
            raise RunFailure(
                f"study: {len(failed)} run(s) did not complete: {names}; the claims that need "
                f"them are inconclusive (reasons in {outcome.report} and runs/*/sweep.json)"
            )
