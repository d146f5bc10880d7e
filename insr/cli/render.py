"""`insr render`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from insr.cli.app import Flag, app, console, err_console, user_errors


# Choices of the fixed-choice options; insr.render checks the same values (WHATS, FORMATS,
# ERROR_SCALES) and is imported only when the command runs (matplotlib is slow to import).
class WhatChoice(StrEnum):
    field = "field"
    gradient = "gradient"
    error = "error"
    all = "all"


class FormatChoice(StrEnum):
    gif = "gif"
    mp4 = "mp4"


class ErrorScaleChoice(StrEnum):
    linear = "linear"
    log = "log"


@contextmanager
def _frame_progress(quiet: bool) -> Iterator[Callable[[int, int], None]]:
    """A frames bar on stderr, shown once drawing began (after every check passed)."""
    progress = Progress(
        TextColumn("[bold]frames"),
        BarColumn(bar_width=40),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=quiet,
    )
    task = progress.add_task("frames", total=None)

    def on_frame(k: int, n: int) -> None:
        if k == 1:
            progress.start()
        progress.update(task, completed=k, total=n)

    try:
        yield on_frame
    finally:
        progress.stop()


@app.command("render")
def render_cmd(
    path: Annotated[Path, typer.Argument(help="Run directory, run.h5, or compare directory.")],
    what: Annotated[WhatChoice, typer.Option(help="Rows to draw.")] = WhatChoice.all,
    format_: Annotated[
        FormatChoice | None, typer.Option("--format", help="Default: from --out, else gif.")
    ] = None,
    fps: Annotated[float, typer.Option(help="Frames per second.")] = 10.0,
    steps: Annotated[
        str | None,
        typer.Option(help="Logged step numbers start:stop:stride, e.g. 0:40:2 (default: all)."),
    ] = None,
    dpi: Annotated[int, typer.Option(help="Resolution (dots per inch).")] = 100,
    frame: Annotated[int | None, typer.Option(help="Write only step N as a PNG.")] = None,
    strategy: Annotated[
        str | None,
        typer.Option(help="Gradient strategy to draw (default autodiff or the first logged)."),
    ] = None,
    error_scale: Annotated[
        ErrorScaleChoice, typer.Option(help="Error panels: linear, or log of |error|.")
    ] = ErrorScaleChoice.linear,
    full_domain: Annotated[
        bool, Flag("--full-domain", help="1D: show the whole domain, not only the solution.")
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="Output file (default: render-<what>.<fmt> beside the log).")
    ] = None,
    quiet: Annotated[bool, Flag("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Animate a run log, or a compare directory's members side by side.

    One frame per logged step: field, gradient and their errors against the exact
    solution. Every run drawn together shares each quantity's scale (see README, Render).
    """
    from insr.render import render

    options = dict(
        what=what.value,
        fmt=None if format_ is None else format_.value,
        fps=fps,
        steps=steps,
        dpi=dpi,
        frame=frame,
        out=out,
        strategy=strategy,
        error_scale=error_scale.value,
        full_domain=full_domain,
    )
    with user_errors(), _frame_progress(quiet) as on_frame:
        output, n = render(path, on_frame=on_frame, **options)
    console.print(f"wrote {output} ({n} frame{'s' if n != 1 else ''})", highlight=False)
