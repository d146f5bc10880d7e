"""`insr render`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from insr.cli.app import (
    app,
    console,
    err_console,
    user_errors,
)


# ----------------------------------------------------------------- render
@app.command("render")
def render_cmd(
    path: Annotated[Path, typer.Argument(help="Run directory, run.h5, or compare directory.")],
    what: Annotated[str, typer.Option(help="field | gradient | error | all")] = "all",
    format_: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--format", help="gif | mp4 (default: from --out, else gif)."),
    ] = None,
    fps: Annotated[float, typer.Option(help="Frames per second.")] = 10.0,
    steps: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Step slice a:b:k over logged step numbers (default: all)."),
    ] = None,
    dpi: Annotated[int, typer.Option(help="Resolution (dots per inch).")] = 100,
    frame: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(help="Write only step N as a PNG."),
    ] = None,
    strategy: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Gradient strategy to draw (default autodiff or the first logged)."),
    ] = None,
    out: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="Output file (default: render-<what>.<fmt> beside the log)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Animate a run log (or every member of a compare directory side by side): field,
    gradient and their errors against the exact solution, one frame per logged step."""
    from insr.render import render

    with user_errors():
        progress = Progress(
            TextColumn("[bold]frames"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err_console,
            disable=quiet,
        )
        task = progress.add_task("frames", total=None)

        def on_frame(k: int, n: int) -> None:
            if k == 1:
                progress.start()  # only once validation passed and drawing began
            progress.update(task, completed=k, total=n)

        try:
            output, n = render(
                path,
                what=what,
                fmt=format_,
                fps=fps,
                steps=steps,
                dpi=dpi,
                frame=frame,
                out=out,
                strategy=strategy,
                on_frame=on_frame,
            )
        finally:
            progress.stop()
        console.print(f"wrote {output} ({n} frame{'s' if n != 1 else ''})", highlight=False)
