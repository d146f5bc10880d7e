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
) -> None:
    """Time-step CASE on one representation and log every step to RUN_DIR/run.h5."""
    from insr.config import load_config
    from insr.runner import default_run_dir, execute

    with user_errors():
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
GRADCHECK_HELP = """Check every representation's analytic derivatives against numerical ones.

In float64, at random points kept away from grid cell borders (no kinks inside a stencil),
each analytic path (autodiff, closed form) is compared with central differences along each
axis and along a random direction; error = ||g_num - g_ana|| / (||g_num|| + ||g_ana||):
pass < 1e-7, warn, fail > 1e-4 (exit code 1 on any failure). Custom torch.autograd.Functions
in the package are checked with torch.autograd.gradcheck.

Why the step eps matters: a central difference has truncation error ~ eps^2 |f'''| / 6 and
round-off error ~ 1e-16 |f| / eps. Too large an eps measures truncation, too small measures
round-off; the error over eps is V-shaped with its bottom near eps ~ 1e-5..1e-6 in float64
(use --sweep-eps to see the curve). Only near that bottom does a large error mean a bug.
"""


def _status_cell(status: str) -> str:
    color = {"pass": "green", "warn": "yellow", "fail": "bold red"}.get(status, "white")
    return f"[{color}]{status}[/]"


@app.command(help=GRADCHECK_HELP)
def gradcheck(
    repr_: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--repr", help="Check only this representation (default: all)."),
    ] = None,
    dim: Annotated[int, typer.Option(help="Input dimension: 1, 2, 3, or 0 for 1 and 2.")] = 0,
    points: Annotated[int, typer.Option(help="Random points per check.")] = 64,
    eps: Annotated[float, typer.Option(help="Finite-difference step (physical units).")] = 1e-6,
    sweep_eps: Annotated[
        bool, typer.Option("--sweep-eps", help="Print the FD error for eps = 1e-1 ... 1e-12.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Random seed of points and parameters.")] = 0,
) -> None:
    from insr import gradcheck as gc
    from insr.config import suggest
    from insr.errors import UsageError
    from insr.fields import REPRESENTATIONS

    with user_errors():
        if repr_ is not None and repr_ not in REPRESENTATIONS:
            raise UsageError(
                f"unknown representation '{repr_}'{suggest(repr_, REPRESENTATIONS)}; "
                f"allowed: {', '.join(REPRESENTATIONS)}"
            )
        if dim not in (0, 1, 2, 3):
            raise UsageError(f"--dim {dim} is not allowed: expected 0, 1, 2 or 3")
        if points < 1:
            raise UsageError(f"--points {points} is not allowed: expected an integer >= 1")
        if not 0 < eps < 1:
            raise UsageError(f"--eps {eps} is not allowed: expected a number in (0, 1)")
        kinds = [repr_] if repr_ else list(REPRESENTATIONS)
        dims = (1, 2) if dim == 0 else (dim,)
        if sweep_eps:
            table = Table(title="central-difference error vs closed form over eps (float64)")
            table.add_column("eps", justify="right")
            cols = [(k, lbl, p, d) for k in kinds for lbl, p in gc.variants(k) for d in dims]
            curves = []
            for k, lbl, p, d in cols:
                table.add_column(f"{k}{'/' + lbl if lbl else ''} {d}D", justify="right")
                curves.append(gc.sweep_eps(k, d, params=p, n_points=points, seed=seed))
            for i, e in enumerate(gc.SWEEP):
                table.add_row(f"{e:.0e}", *[f"{c[i][1]:.2e}" for c in curves])
            console.print(table)
            console.print(
                "large eps: truncation error ~ eps^2; small eps: round-off ~ 1e-16/eps "
                "(grids: large eps also crosses cell borders)."
            )
            return
        rows = gc.check_all(kinds, dims, n_points=points, eps=eps, seed=seed)
        table = Table(title=f"gradcheck (float64, eps = {eps:g}, {points} points)")
        for col in ("representation", "check", "rel. error", "status", "note"):
            table.add_column(col, justify="right" if col == "rel. error" else "left")
        for r in rows:
            err = "-" if r.error is None else f"{r.error:.2e}"
            table.add_row(r.representation, r.check, err, _status_cell(r.status), r.note)
        console.print(table)
        n_fail = sum(r.status == "fail" for r in rows)
        n_warn = sum(r.status == "warn" for r in rows)
        console.print(
            f"{len(rows)} checks: {len(rows) - n_fail - n_warn} pass, {n_warn} warn, "
            f"{n_fail} fail (pass < {gc.PASS:g}, fail > {gc.FAIL:g})"
        )
        if n_fail:
            raise typer.Exit(1)


# ----------------------------------------------------------------- benchmarks / performance helpers


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
