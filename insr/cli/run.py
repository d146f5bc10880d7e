"""`insr run`, `insr info`, `insr cases` (and resume)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from insr.cli.app import (
    ON_DIVERGE_HELP,
    ON_POOR_FIT_HELP,
    RESUME_HELP,
    ConfigOpt,
    Flag,
    SetOpt,
    _fmt,
    app,
    console,
    err_console,
    user_errors,
)
from insr.cli.progress import RunProgress


class OnDiverge(StrEnum):
    stop = "stop"
    retry = "retry"


class OnPoorFit(StrEnum):
    stop = "stop"
    continue_ = "continue"


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
        Path | None,
        typer.Option(
            help="Run directory (default ./outputs/<case>/<name>/, or $INSR_OUTPUTS/...)."
        ),
    ] = None,  # noqa: UP045
    name: Annotated[
        str | None, typer.Option(help="Run name (default <representation>-<time>).")
    ] = None,  # noqa: UP045
    overwrite: Annotated[
        bool, Flag("--overwrite", help="Replace an existing run in the run directory.")
    ] = False,
    quiet: Annotated[
        bool, Flag("--quiet", "-q", help="No progress display; print the log path.")
    ] = False,
    resume: Annotated[bool, Flag("--resume", help=RESUME_HELP)] = False,
    on_diverge_: Annotated[
        OnDiverge, typer.Option("--on-diverge", help=ON_DIVERGE_HELP)
    ] = OnDiverge.stop,
    on_poor_fit: Annotated[
        OnPoorFit | None, typer.Option("--on-poor-fit", help=ON_POOR_FIT_HELP)
    ] = None,
    tcmalloc: Annotated[
        bool, Flag("--tcmalloc", help="Re-run under the tcmalloc allocator (LD_PRELOAD).")
    ] = False,
    allow_callable: Annotated[
        bool,
        Flag(
            "--allow-callable",
            help="--resume: run the callable initial condition the log names (it is code).",
        ),
    ] = False,
) -> None:
    """Time-step CASE on one representation and log every step to RUN_DIR/run.h5."""
    from insr.config import load_config
    from insr.errors import UsageError
    from insr.run import check_on_diverge, default_run_dir, execute

    on_diverge = on_diverge_.value
    with user_errors():
        if tcmalloc:
            from insr.perf import reexec_with_tcmalloc

            reexec_with_tcmalloc()
        check_on_diverge(on_diverge)
        set_ = list(set_ or [])
        if on_poor_fit is not None:
            set_.append(f"run.on_poor_fit={on_poor_fit.value}")
        if allow_callable and not resume:
            raise UsageError(
                "--allow-callable acts only with --resume (a fresh run of a case file with a "
                "callable runs it anyway: the case file is code)"
            )
        if resume:
            _resume_run(
                case, out, config, set_, steps, name, overwrite, quiet, on_diverge, allow_callable
            )
            return
        sets = list(set_)
        if steps is not None:
            sets.append(f"case.steps={steps}")
        if name is not None:
            sets.append(f"run.name={name!r}" if name else "run.name=''")
        cfg = load_config(case, [str(c) for c in config or []], sets)
        run_dir = out if out is not None else default_run_dir(cfg)
        s = cfg.solver
        with RunProgress(cfg.case.steps, 0, s.max_iters, quiet, s.init.max_iters) as progress:
            result = execute(
                cfg, run_dir, overwrite=overwrite, report=_notes(progress), on_diverge=on_diverge
            )
        _print_run_summary(result, quiet)


def _print_run_summary(result, quiet: bool) -> None:
    v = result.verdict
    if v.bad:
        from insr.verdict import describe

        err = result_fit_error(result)
        what = f"; {describe(v.from_step, err)}" if err is not None else ""
        hint = f"; {result.preset_hint}" if result.preset_hint else ""
        err_console.print(
            f"[yellow]warning: {v.verdict} fit from step {v.from_step}{what}: the run's "
            f"errors measure a field that did not follow the truth (README 'Fit verdicts')"
            f"{hint}[/]",
            highlight=False,
        )
    if quiet:
        console.print(str(result.log_path), highlight=False)
        return
    table = Table(title=f"run finished: {result.status}", show_header=True)
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_row("completed rows", str(result.completed_steps))
    table.add_row("fit verdict", v.verdict)
    table.add_row("wall time (s)", f"{result.seconds:.1f}")
    for k, v in result.last_metrics.items():
        if k != "fit_verdict":  # its code (0/1/2) is the verdict shown above
            table.add_row(f"last step: {k}", _fmt(v))
    console.print(table)
    console.print(f"log: {result.log_path}", highlight=False, soft_wrap=True)


def result_fit_error(result) -> float | None:
    """The fit error of the first step that was not ok (read back from the log)."""
    from insr.log import RunLogReader

    with RunLogReader(result.log_path) as log:
        if not log.has("metrics/fit_error"):
            return None
        steps = log.series("step")
        hits = [i for i, s in enumerate(steps) if int(s) == result.verdict.from_step]
        return float(log.row("metrics/fit_error", hits[0])) if hits else None


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
            "fit_verdict",
            "fit_verdict_from_step",
            "completed_steps",
            "schema",
            "insr_version",
            "created",
            "dt",
            "time_scheme",
            "compile",
            "malloc",
            "threads",
            "vec_isa_probe",
            "machine",
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
        _print_stored_config(log.config, log.path)


def _print_stored_config(stored: dict, path: Path) -> None:
    """The stored configuration as TOML (what `insr config show RUN` prints, without docs);
    a config this insr cannot rebuild (an older log) as its JSON."""
    import json

    from insr.config import build_config
    from insr.errors import UsageError
    from insr.keys import to_toml

    try:
        text = to_toml(build_config(stored), docs=False)
        how = f"with each key's doc: insr config show {path.parent}"
    except UsageError as e:
        text = json.dumps(stored, indent=2) + "\n"
        how = f"as stored (JSON); it does not validate here: {e}"
    console.print(f"\n[bold]stored config[/] ({escape(how)})", highlight=False, soft_wrap=True)
    typer.echo(text, nl=False)


@app.command()
def cases() -> None:
    """List the cases: ./cases/*.toml of the working directory, then the shipped ones."""
    from insr.config import read_toml
    from insr.paths import SHIPPED_CASES, all_cases

    with user_errors():
        found = all_cases()
        table = Table(title="cases (insr run NAME)")
        for col in ("name", "from", "pde", "dim", "dt", "steps", "description"):
            table.add_column(col)
        for name, (where, path) in sorted(found.items()):
            c = read_toml(path).get("case", {})
            if where != "shipped" and (SHIPPED_CASES / f"{name}.toml").is_file():
                where += " (hides shipped)"
            table.add_row(
                name,
                where,
                str(c.get("pde", "?")),
                str(len(c.get("domain", []))),
                str(c.get("dt", "?")),
                str(c.get("steps", "?")),
                str(c.get("description", "")),
            )
        console.print(table)
        console.print(f"shipped cases: {SHIPPED_CASES}", highlight=False, soft_wrap=True)


# ----------------------------------------------------------------- run robustness (resume)
def _notes(progress: RunProgress):
    """Pass events to the progress display; print a line for each divergence retry."""

    def report(event: str, data: dict) -> None:
        if event == "retry":
            knobs = " and ".join(data.get("knobs", ["solver.lr"]))
            err_console.print(
                f"[yellow]step {data['step']} diverged ({data['name']}); retry {data['attempt']} "
                f"with {knobs} x{data['lr_scale']:g}[/]",
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
    allow_callable: bool = False,
) -> None:
    """``insr run --resume RUN_DIR`` or ``insr run CASE --out RUN_DIR --resume``.

    A stored ``callable`` initial condition is code: it runs only with ``--allow-callable``
    or when CASE is a case file naming the same targets (the user's own code)."""
    from insr.errors import UsageError
    from insr.log import RunLogReader
    from insr.run import find_resume_log, plan_resume, resume
    from insr.run.lock import run_lock

    if overwrite:
        raise UsageError("--resume and --overwrite exclude each other: pick one")
    if config or name is not None:
        raise UsageError("--resume uses the config stored in the log: drop --config/--name")
    if out is not None:
        path = find_resume_log(out)
        with RunLogReader(path) as log:
            stored_cfg = log.config
        stored = str(stored_cfg.get("case", {}).get("name", ""))
        case_file = Path(target).suffix == ".toml" and Path(target).is_file()
        if case_file:
            from insr.config import read_toml

            named = str(read_toml(Path(target)).get("case", {}).get("name", ""))
            if named != stored:
                raise UsageError(f"{out} holds a run of case '{stored}', not '{named}' ({target})")
            allow_callable = allow_callable or _same_code(Path(target), stored_cfg)
        elif target not in (stored, str(out)) and Path(target).resolve() != path.parent.resolve():
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
    with run_lock(path.parent):  # held from the plan to the end of the write
        plan = plan_resume(path, sets, allow_callable=allow_callable)
        s = plan.cfg.solver
        with RunProgress(
            plan.cfg.case.steps, plan.last_step + 1, s.max_iters, quiet, s.init.max_iters
        ) as progress:
            result = resume(plan, report=_notes(progress), on_diverge=on_diverge)
    _print_run_summary(result, quiet)


def _same_code(case_file: Path, stored: dict) -> bool:
    """The case file names exactly the callable targets stored in the log (and some)."""
    from insr.config import read_toml
    from insr.errors import UsageError
    from insr.run.resume import callable_targets

    mine = callable_targets(read_toml(case_file).get("case", {}))
    theirs = callable_targets(stored.get("case", {}))
    if theirs and sorted(mine) != sorted(theirs):
        raise UsageError(
            f"{case_file} does not name the code stored in the log "
            f"({', '.join(f'{k} = {t!r}' for k, t in theirs)}); resume with --allow-callable "
            "to run the stored one"
        )
    return bool(theirs)
