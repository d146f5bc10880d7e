"""The typer app, shared options, one-line errors, and the console entry point."""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from insr import __version__
from insr.errors import InsrError

try:  # typer >= 0.17 vendors click
    from typer._click import exceptions as click_exc
except ImportError:  # pragma: no cover - older typer depends on click
    from click import exceptions as click_exc  # type: ignore[no-redef]

# Rich wraps at 80 columns when output is not a terminal; tables of metrics need more.
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, emoji=False)  # no emoji codes in messages ("a:b:k")
_state = {"debug": False}


_NOT_ONE_OF = re.compile(r"'([^']*)' is not one of (.+?)\.?$")


def _usage_error_line(e: click_exc.UsageError) -> str:
    """A click usage error as one line, with the help command of the failing command."""
    names: list[str] = []
    ctx = e.ctx
    while ctx is not None and ctx.parent is not None:
        names.insert(0, ctx.info_name or "")
        ctx = ctx.parent
    hint = f" (see: insr {' '.join([*names, '--help'])})"
    message = " ".join(e.format_message().split())
    m = _NOT_ONE_OF.search(message)
    opts = getattr(getattr(e, "param", None), "opts", None)
    if m and opts:  # a fixed-choice option: the house style of insr's own messages
        allowed = ", ".join(c.strip().strip("'") for c in m.group(2).split(","))
        message = f"{opts[-1]} '{m.group(1)}' is not allowed: expected one of {allowed}"
    return message + hint


class OneLineErrors(typer.core.TyperGroup):
    """The root command: usage errors (bad option value, unknown choice, missing argument)
    are one line on stderr with exit code 2, for the console script and for test runners."""

    def main(self, *args: Any, **kw: Any) -> Any:
        standalone = kw.pop("standalone_mode", True)
        if not standalone:
            return super().main(*args, standalone_mode=False, **kw)  # type: ignore[misc]
        try:
            rv = super().main(*args, standalone_mode=False, **kw)  # type: ignore[misc]
        except click_exc.UsageError as e:
            if type(e).__name__ == "NoArgsIsHelpError":
                e.show()
                sys.exit(2)
            msg = escape(_usage_error_line(e))
            err_console.print(f"[bold red]error:[/] {msg}", highlight=False, soft_wrap=True)
            sys.exit(2)
        except click_exc.ClickException as e:
            msg = escape(" ".join(e.format_message().split()))
            err_console.print(f"[bold red]error:[/] {msg}", highlight=False, soft_wrap=True)
            sys.exit(e.exit_code)
        except typer.Abort:
            err_console.print("[bold red]aborted[/]")
            sys.exit(130)
        except KeyboardInterrupt:
            if _state["debug"]:
                raise
            err_console.print("[bold red]interrupted[/]")
            sys.exit(130)
        except Exception as e:  # noqa: BLE001 - the last resort: one line, never a traceback
            if _state["debug"]:
                raise
            err_console.print(
                f"[bold red]error:[/] {escape(last_resort_line(e))}",
                highlight=False,
                soft_wrap=True,
            )
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


def last_resort_line(e: BaseException) -> str:
    """An unexpected exception as one line, with how to see its traceback."""
    text = " ".join(str(e).split())
    if len(text) > 300:
        text = text[:297] + "..."
    what = f"{type(e).__name__}: {text}" if text else type(e).__name__
    if isinstance(e, MemoryError):
        return f"out of memory ({what}); lower the sizes in the config (network, samples, grid)"
    args = " ".join(sys.argv[1:]) if sys.argv and "insr" in sys.argv[0] else "..."
    return (
        f"unexpected {what} (an insr bug: please report it); rerun with "
        f"`insr --debug {args}` to see the traceback"
    )


def _hide_flag_types() -> None:
    """typer prints a flag's Python type (``<bool>``) in --help; a flag takes no value."""
    cls = getattr(typer.core, "TyperOption", None)
    orig = getattr(cls, "display_type_rich", None)
    if orig is None or getattr(orig, "insr_patched", False):
        return

    def display_type_rich(self, ctx):  # noqa: ANN001, ANN202
        return None if getattr(self, "is_flag", False) else orig(self, ctx)

    display_type_rich.insr_patched = True  # type: ignore[attr-defined]
    cls.display_type_rich = display_type_rich  # type: ignore[union-attr]


_hide_flag_types()

app = typer.Typer(
    cls=OneLineErrors,
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Neural PDE solver that measures how good the spatial gradients of a neural field are.",
)
compare_app = typer.Typer(
    no_args_is_help=True, help="Run one case on many representations or strategies."
)
app.add_typer(compare_app, name="compare")


def Flag(*names: str, help: str) -> typer.models.OptionInfo:  # noqa: A002, N802
    """A boolean option that is a plain flag (no --no-... twin)."""
    return typer.Option(*names, help=help)


def _print_version(value: bool) -> None:
    if value:
        console.print(f"insr {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[bool, Flag("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            help="Print the version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
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
ON_DIVERGE_HELP = (
    "On NaN/inf: 'stop', or 'retry' the step with half the optimizer's step size "
    "(Adam: solver.lr, L-BFGS: solver.lbfgs_lr; 3 tries)."
)
ON_POOR_FIT_HELP = (
    "A failed step-0 fit (README 'Fit verdicts'): 'stop' (default) or 'continue' "
    "(= --set run.on_poor_fit=continue)."
)
SetOpt = Annotated[
    Optional[list[str]],  # noqa: UP045 - typer needs Optional here
    typer.Option(
        "--set",
        "-s",
        metavar="KEY=VALUE",
        help="Override a config value: section.key=value (repeatable). Every key with its "
        "doc: `insr config keys`; the resolved config: `insr config show CASE`.",
    ),
]
ConfigOpt = Annotated[
    Optional[list[Path]],  # noqa: UP045
    typer.Option(
        "--config", "-c", metavar="TOML", help="Extra TOML preset(s) merged over the defaults."
    ),
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
    """Console entry point (``insr``); usage errors are one line (see :class:`OneLineErrors`)."""
    app()
