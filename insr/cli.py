"""The ``insr`` command line: parse, load config, call one function, print with rich."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
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


class _LiveProgress:
    """Context manager around ``self.progress`` (a rich Progress set by the subclass)."""

    progress: Progress

    @staticmethod
    def _make(quiet: bool, eta: bool) -> Progress:
        """Bar, k/N, an ``info`` text column, elapsed time (and ETA) on stderr."""
        columns = [
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
        ]
        if eta:
            columns.append(TimeRemainingColumn())
        return Progress(*columns, console=err_console, disable=quiet)

    def __enter__(self):  # noqa: ANN204 - returns the subclass
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)


class RunProgress(_LiveProgress):
    """Rich progress for a run: steps bar and the current step's iterations and loss."""

    def __init__(self, total_steps: int, first_step: int, max_iters: int, quiet: bool) -> None:
        self.quiet = quiet
        self.max_iters = max_iters
        self.progress = self._make(quiet, eta=True)
        self.steps = self.progress.add_task(
            "steps", total=total_steps + 1, completed=first_step, info=""
        )
        self.iters = self.progress.add_task("iterations", total=max_iters, info="")

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
    case: Annotated[
        str, typer.Argument(help="Case name (see `insr cases`) or path to a case TOML.")
    ],
    config: ConfigOpt = None,
    set_: SetOpt = None,
    steps: Annotated[
        int | None, typer.Option(help="Number of time steps (overrides case.steps).")
    ] = None,  # noqa: UP045
    out: Annotated[
        Path | None, typer.Option(help="Run directory (default outputs/<case>/<name>/).")
    ] = None,  # noqa: UP045
    name: Annotated[
        str | None, typer.Option(help="Run name (default <representation>-<time>).")
    ] = None,  # noqa: UP045
    overwrite: Annotated[
        bool, typer.Option(help="Replace an existing run in the run directory.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress display; print the log path.")
    ] = False,
    resume: Annotated[bool, typer.Option(help=RESUME_HELP)] = False,
    on_diverge: Annotated[str, typer.Option(help=ON_DIVERGE_HELP)] = "stop",
    tcmalloc: Annotated[
        bool, typer.Option(help="Re-run under the tcmalloc allocator (LD_PRELOAD).")
    ] = False,
) -> None:
    """Time-step CASE on one representation and log every step to RUN_DIR/run.h5."""
    from insr.config import load_config
    from insr.runner import check_on_diverge, default_run_dir, execute

    with user_errors():
        if tcmalloc:
            from insr.perf import reexec_with_tcmalloc

            reexec_with_tcmalloc()
        check_on_diverge(on_diverge)
        if resume:
            _resume_run(case, out, config, set_, steps, name, overwrite, quiet, on_diverge)
            return
        sets = list(set_ or [])
        if steps is not None:
            sets.append(f"case.steps={steps}")
        if name is not None:
            sets.append(f"run.name={name!r}" if name else "run.name=''")
        cfg = load_config(case, [str(c) for c in config or []], sets)
        run_dir = out if out is not None else default_run_dir(cfg)
        max_iters = max(cfg.solver.max_iters, cfg.solver.init.max_iters)
        with RunProgress(cfg.case.steps, 0, max_iters, quiet) as progress:
            result = execute(
                cfg, run_dir, overwrite=overwrite, report=_notes(progress), on_diverge=on_diverge
            )
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
        for k in (
            "case",
            "representation",
            "n_params",
            "status",
            "completed_steps",
            "schema",
            "insr_version",
            "created",
            "dt",
        ):
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
                name,
                str(c.get("pde", "?")),
                str(len(c.get("domain", []))),
                str(c.get("dt", "?")),
                str(c.get("steps", "?")),
                str(c.get("description", "")),
            )
        console.print(table)


# ----------------------------------------------------------------- run robustness (resume)
def _notes(progress: RunProgress):
    """Pass events to the progress display; print a line for each divergence retry."""

    def report(event: str, data: dict) -> None:
        if event == "retry":
            err_console.print(
                f"[yellow]step {data['step']} diverged ({data['name']}); retry {data['attempt']} "
                f"with learning rate x{data['lr_scale']:g}[/]",
                highlight=False,
            )
        progress(event, data)

    return report


def _resume_run(
    target: str,
    out: Path | None,
    config: list[Path] | None,
    set_: list[str] | None,
    steps: int | None,
    name: str | None,
    overwrite: bool,
    quiet: bool,
    on_diverge: str,
) -> None:
    """``insr run --resume RUN_DIR`` or ``insr run CASE --out RUN_DIR --resume``."""
    from insr.errors import UsageError
    from insr.log import RunLogReader
    from insr.runner import find_resume_log, plan_resume, resume

    if overwrite:
        raise UsageError("--resume and --overwrite exclude each other: pick one")
    if config or name is not None:
        raise UsageError("--resume uses the config stored in the log: drop --config/--name")
    if out is not None:
        path = find_resume_log(out)
        with RunLogReader(path) as log:
            stored = str(log.config.get("case", {}).get("name", ""))
        if target not in (stored, str(out)) and Path(target).resolve() != path.parent.resolve():
            raise UsageError(f"{out} holds a run of case '{stored}', not '{target}'")
    else:
        p = Path(target)
        if not p.exists():
            raise UsageError(
                f"--resume needs a run directory: '{target}' does not exist "
                "(use `insr run --resume outputs/<case>/<run>` or "
                "`insr run CASE --out DIR --resume`)"
            )
        path = find_resume_log(p)
    sets = list(set_ or [])
    if steps is not None:
        sets.append(f"case.steps={steps}")
    plan = plan_resume(path, sets)
    s = plan.cfg.solver
    with RunProgress(
        plan.cfg.case.steps, plan.last_step + 1, max(s.max_iters, s.init.max_iters), quiet
    ) as progress:
        result = resume(plan, report=_notes(progress), on_diverge=on_diverge)
    _print_run_summary(result, quiet)


# ----------------------------------------------------------------- compare
RepsOpt = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Option(
        "--reprs",
        help="Members: names from the default set and/or member TOML files (comma-separated).",
    ),
]


class SweepProgress(_LiveProgress):
    """One progress row per member (steps done), fed by compare.run_sweep's report."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.progress = self._make(quiet, eta=False)
        self.tasks: dict[str, int] = {}

    def __call__(self, event: str, data: dict) -> None:
        if event == "start":
            self.tasks[data["name"]] = self.progress.add_task(
                data["name"], total=data["total"], info="waiting"
            )
        elif event == "step" and data["name"] in self.tasks:
            self.progress.update(
                self.tasks[data["name"]], completed=data["step"] + 1, info=f"step {data['step']}"
            )
        elif event == "end":
            o = data["outcome"]
            if o.name in self.tasks:
                self.progress.update(self.tasks[o.name], info=f"{o.status} ({o.seconds:.0f} s)")


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
        figs = cmp.make_figures(compare_dir)
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
    from insr.fields import field_kinds

    with user_errors():
        kinds_ok = field_kinds()
        if repr_ is not None and repr_ not in kinds_ok:
            raise UsageError(
                f"cannot gradcheck representation '{repr_}'{suggest(repr_, kinds_ok)}; "
                f"allowed: {', '.join(kinds_ok)}"
            )
        if dim not in (0, 1, 2, 3):
            raise UsageError(f"--dim {dim} is not allowed: expected 0, 1, 2 or 3")
        if points < 1:
            raise UsageError(f"--points {points} is not allowed: expected an integer >= 1")
        if not 0 < eps < 1:
            raise UsageError(f"--eps {eps} is not allowed: expected a number in (0, 1)")
        kinds = [repr_] if repr_ else kinds_ok
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


if __name__ == "__main__":  # pragma: no cover
    main()
