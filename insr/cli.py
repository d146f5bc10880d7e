"""The ``insr`` command line: parse, load config, call one function, print with rich."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from insr.errors import InsrError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Neural PDE solver that measures how good the spatial gradients of a neural field are.",
)
compare_app = typer.Typer(no_args_is_help=True, help="Run one case on many representations or strategies.")
app.add_typer(compare_app, name="compare")

console = Console()
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
        err_console.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
        raise typer.Exit(e.exit_code) from None
    except KeyboardInterrupt:
        if _state["debug"]:
            raise
        err_console.print("[bold red]interrupted[/]")
        raise typer.Exit(130) from None


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


class RunProgress:
    """Rich progress for a run: steps bar and the current step's iterations and loss."""

    def __init__(self, total_steps: int, first_step: int, max_iters: int, quiet: bool) -> None:
        self.quiet = quiet
        self.max_iters = max_iters
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err_console,
            disable=quiet,
            transient=False,
        )
        self.steps = self.progress.add_task("steps", total=total_steps + 1, completed=first_step, info="")
        self.iters = self.progress.add_task("iterations", total=max_iters, info="")

    def __enter__(self) -> RunProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def __call__(self, event: str, data: dict) -> None:
        if self.quiet:
            return
        if event == "step":
            self.progress.reset(self.iters, total=self.max_iters, info="")
            self.progress.update(self.steps, info=f"step {data['step']}  t={data['t']:.3g}")
        elif event == "iter":
            self.progress.update(
                self.iters,
                completed=min(data["iteration"], self.max_iters),
                info=f"{data['name']}  loss {data['loss']:.3e}",
            )
        elif event == "done":
            m = data["metrics"]
            info = f"step {data['step']}"
            if "field_max_error" in m:
                info += f"  max|u-u*| {m['field_max_error']:.2e}"
            self.progress.update(self.steps, advance=1, info=info)


@app.command()
def run(
    case: Annotated[str, typer.Argument(help="Case name (see `insr cases`) or path to a case TOML.")],
    config: ConfigOpt = None,
    set_: SetOpt = None,
    steps: Annotated[Optional[int], typer.Option(help="Number of time steps (overrides case.steps).")] = None,  # noqa: UP045
    out: Annotated[Optional[Path], typer.Option(help="Run directory (default outputs/<case>/<name>/).")] = None,  # noqa: UP045
    name: Annotated[Optional[str], typer.Option(help="Run name (default <representation>-<time>).")] = None,  # noqa: UP045
    overwrite: Annotated[bool, typer.Option(help="Replace an existing run in the run directory.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display; print the log path.")] = False,
    tcmalloc: Annotated[bool, typer.Option(help="Re-run under the tcmalloc allocator (LD_PRELOAD).")] = False,
) -> None:
    """Time-step CASE on one representation and log every step to RUN_DIR/run.h5."""
    from insr.config import load_config
    from insr.runner import default_run_dir, execute

    with user_errors():
        if tcmalloc:
            from insr.perf import reexec_with_tcmalloc

            reexec_with_tcmalloc()
        sets = list(set_ or [])
        if steps is not None:
            sets.append(f"case.steps={steps}")
        if name is not None:
            sets.append(f"run.name={name!r}" if name else "run.name=''")
        cfg = load_config(case, [str(c) for c in config or []], sets)
        run_dir = out if out is not None else default_run_dir(cfg)
        max_iters = max(cfg.solver.max_iters, cfg.solver.init_max_iters)
        with RunProgress(cfg.case.steps, 0, max_iters, quiet) as progress:
            result = execute(cfg, run_dir, overwrite=overwrite, report=progress)
        _print_run_summary(result, quiet)


def _print_run_summary(result, quiet: bool) -> None:
    if quiet:
        console.print(str(result.log_path), highlight=False)
        return
    table = Table(title=f"run finished: {result.status}", show_header=True)
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_row("completed rows", str(result.completed_steps))
    table.add_row("wall time (s)", f"{result.seconds:.1f}")
    for k, v in result.last_metrics.items():
        table.add_row(f"last step: {k}", _fmt(v))
    table.add_row("log", str(result.log_path))
    console.print(table)


@app.command()
def info(run_path: Annotated[Path, typer.Argument(help="Run directory or run.h5 file.")]) -> None:
    """Summarize what a run log holds: config, datasets, metrics at the last step and worst."""
    import numpy as np

    from insr.log import RunLogReader

    with user_errors(), RunLogReader(run_path) as log:
        a = log.attrs
        head = Table(title=str(log.path), show_header=False)
        head.add_column("key")
        head.add_column("value")
        for k in ("case", "representation", "n_params", "status", "completed_steps", "schema",
                  "insr_version", "created", "dt"):
            if k in a:
                head.add_row(k, str(a[k]))
        console.print(head)
        ds = Table(title="datasets", show_header=True)
        ds.add_column("name")
        ds.add_column("shape (completed rows)")
        ds.add_column("dtype")
        for nm in log.names():
            if nm.startswith("metrics/"):
                continue
            d = log.h5[nm]
            ds.add_row(nm, str((log.n, *d.shape[1:])), str(d.dtype))
        console.print(ds)
        metrics = log.metrics()
        if metrics and log.n:
            mt = Table(title="metrics", show_header=True)
            mt.add_column("metric")
            mt.add_column("first", justify="right")
            mt.add_column("last", justify="right")
            mt.add_column("worst (max)", justify="right")
            for k, v in metrics.items():
                finite = v[np.isfinite(v)]
                worst = float(finite.max()) if finite.size else float("nan")
                mt.add_row(k, _fmt(float(v[0])), _fmt(float(v[-1])), _fmt(worst))
            console.print(mt)


@app.command()
def cases() -> None:
    """List the cases shipped in cases/."""
    from insr.config import CASES_DIR, list_cases, read_toml

    with user_errors():
        table = Table(title=f"cases ({CASES_DIR})")
        for col in ("name", "pde", "dim", "dt", "steps", "description"):
            table.add_column(col)
        for name in list_cases():
            c = read_toml(CASES_DIR / f"{name}.toml").get("case", {})
            table.add_row(
                name, str(c.get("pde", "?")), str(len(c.get("domain", []))), str(c.get("dt", "?")),
                str(c.get("steps", "?")), str(c.get("description", "")),
            )
        console.print(table)


# ----------------------------------------------------------------- run robustness (resume)


# ----------------------------------------------------------------- compare (representations, gradients)


# ----------------------------------------------------------------- render


# ----------------------------------------------------------------- gradcheck


# ----------------------------------------------------------------- benchmarks / performance helpers


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
