"""The typer app, shared options, one-line errors, and the console entry point."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from insr.errors import InsrError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Neural PDE solver that measures how good the spatial gradients of a neural field are.",
)
compare_app = typer.Typer(
    no_args_is_help=True, help="Run one case on many representations or strategies."
)
app.add_typer(compare_app, name="compare")

# Rich wraps at 80 columns when output is not a terminal; tables of metrics need more.
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True)
_state = {"debug": False}


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    _state["debug"] = debug


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn InsrError into one line on stderr and its exit code (traceback with --debug)."""
    try:
        yield
    except InsrError as e:
        if _state["debug"]:
            raise
        err_console.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
        raise typer.Exit(e.exit_code) from None
    except KeyboardInterrupt:
        if _state["debug"]:
            raise
        err_console.print("[bold red]interrupted[/]")
        raise typer.Exit(130) from None


RESUME_HELP = "Continue the run in CASE (a run directory) or in --out from its last completed step."
ON_DIVERGE_HELP = "On NaN/inf: 'stop', or 'retry' the step with half the learning rate (3 tries)."
SetOpt = Annotated[
    Optional[list[str]],  # noqa: UP045 - typer needs Optional here
    typer.Option("--set", "-s", help="Override a config value: section.key=value (repeatable)."),
]
ConfigOpt = Annotated[
    Optional[list[Path]],  # noqa: UP045
    typer.Option("--config", "-c", help="Extra TOML preset(s) merged over the defaults."),
]


def _fmt(v: float) -> str:
    if isinstance(v, float):
        if v != v:  # NaN
            return "nan"
        if v == 0 or 1e-3 <= abs(v) < 1e4:
            return f"{v:.4g}"
        return f"{v:.3e}"
    return str(v)


def main() -> None:
    """Console entry point: like ``app()``, but typer/click usage errors (bad option value,
    missing argument) are one line on stderr with exit code 2 instead of a framed box."""
    try:  # typer >= 0.17 vendors click
        from typer._click import exceptions as click_exc
    except ImportError:  # pragma: no cover - older typer depends on click
        from click import exceptions as click_exc

    try:
        rv = app(standalone_mode=False)
    except click_exc.UsageError as e:
        if type(e).__name__ == "NoArgsIsHelpError":
            e.show()
            sys.exit(2)
        names, ctx = [], e.ctx
        while ctx is not None and ctx.parent is not None:
            names.insert(0, ctx.info_name or "")
            ctx = ctx.parent
        hint = f" (see: insr {' '.join([*names, '--help'])})"
        message = " ".join(e.format_message().split())
        err_console.print(
            f"[bold red]error:[/] {escape(message)}{hint}", highlight=False, soft_wrap=True
        )
        sys.exit(2)
    except typer.Abort:
        err_console.print("[bold red]aborted[/]")
        sys.exit(130)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    sys.exit(rv if isinstance(rv, int) else 0)
