"""THE time loop: steps any :class:`~insr.run.solvers.Solver`, writes one log row per
logged step (arrays, truth, metrics), a checkpoint every ``run.checkpoint_every`` steps
(and after the last step, and on a signal or failure: the last completed step's state is
kept in memory until it is written), retries a diverged step, and turns signals and
failures into a closed log with a status.

Used by ``insr run`` and ``insr compare``; prints nothing itself (progress goes to a
``report(event, data)`` callback: ``step``, ``iter``, ``done``, ``retry``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from insr import verdict as fit
from insr.errors import RunFailure, RunInterrupted, UsageError, check_path_length
from insr.log import LogWriteError, RunLogWriter
from insr.perf import tune_malloc
from insr.run.build import Run
from insr.run.limits import check_disk_budget
from insr.run.lock import is_lock_file, run_lock
from insr.run.resume import ResumePlan, find_resume_log, plan_resume
from insr.settings import RunConfig
from insr.stepper import Diverged

Reporter = Callable[[str, dict], None]
MAX_RETRIES = 3
ON_DIVERGE = ("stop", "retry")


def step_size_knobs(cfg: RunConfig, step: int) -> list[str]:
    """The keys that set the step size of the optimizer that runs step ``step`` (what a
    divergence retry halves): ``lr`` for Adam, ``lbfgs_lr`` for L-BFGS, both for adam+lbfgs."""
    prefix = "solver.init" if step == 0 else "solver"
    opt = cfg.solver.init.optimizer if step == 0 else cfg.solver.optimizer
    keys = {"adam": ["lr"], "lbfgs": ["lbfgs_lr"], "adam+lbfgs": ["lr", "lbfgs_lr"]}[opt]
    return [f"{prefix}.{k}" for k in keys]


def likely_causes(cfg: RunConfig, step: int) -> str:
    knobs = " / ".join(step_size_knobs(cfg, step))
    return (
        f"likely causes: dt too large (case.dt), too large an optimizer step ({knobs}), "
        "or too high a frequency (representation omega0)"
    )


class FitFailed(RunFailure):
    """The fit of the initial condition missed by more than the ``failed`` threshold
    (:mod:`insr.verdict`) and ``run.on_poor_fit`` is ``stop``."""

    def __init__(self, step: int, error: float, advice: str) -> None:
        self.step, self.error = step, error
        super().__init__(f"{fit.describe(step, error)}: the fit failed; {advice}")


@dataclass
class RunResult:
    run_dir: Path
    log_path: Path
    status: str
    completed_steps: int
    seconds: float
    last_metrics: dict[str, float] = field(default_factory=dict)
    verdict: fit.RunVerdict = field(default_factory=lambda: fit.RunVerdict(fit.UNKNOWN, -1))
    #: for a poor/failed verdict: the presets used and those to try (config.preset_hint)
    preset_hint: str = ""

    def open(self) -> Any:
        """The run's log, read-only, as :class:`insr.RunData` (``insr.open_run``)."""
        from insr.results import open_run

        return open_run(self.log_path)


def check_on_diverge(mode: str) -> None:
    if mode not in ON_DIVERGE:
        raise UsageError(
            f"--on-diverge {mode!r} is not allowed: expected one of {', '.join(ON_DIVERGE)}"
        )


def prepare_run_dir(run_dir: Path, *, overwrite: bool) -> None:
    """Refuse to reuse an existing run directory unless ``overwrite``."""
    log = run_dir / "run.h5"
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError(f"--out {run_dir} is a file, not a run directory")
    stale = run_dir / "run.h5.tmp"  # a log killed while being created (we hold the lock)
    if stale.exists() and not log.exists():
        stale.unlink()
    if run_dir.exists() and any(not is_lock_file(p) for p in run_dir.iterdir()):
        if not overwrite:
            raise UsageError(
                f"{run_dir} already holds a run; use --resume to continue it "
                "or --overwrite to replace it"
            )
        if log.exists():
            log.unlink()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise UsageError(f"cannot write to {run_dir}: {e.strerror or e}") from None


def remove_run(run_dir: Path) -> None:
    shutil.rmtree(run_dir, ignore_errors=True)


def execute(
    cfg: RunConfig,
    run_dir: Path,
    *,
    overwrite: bool = False,
    report: Reporter | None = None,
    on_diverge: str = "stop",
) -> RunResult:
    """Run ``cfg`` into ``run_dir/run.h5``; the log is valid after every step.

    ``on_diverge``: "stop" (default) ends the run at the first NaN/inf loss or field;
    "retry" restores the step's starting state and retries it with half the step size of
    the optimizer in use (:func:`step_size_knobs`), up to :data:`MAX_RETRIES` times.
    Every logged step with a truth gets a fit verdict (:mod:`insr.verdict`); a failed
    step-0 fit stops the run unless ``run.on_poor_fit = "continue"``.
    ``representation.kind = "grid"`` steps the equation's classical grid baseline instead
    and writes the same log.
    """
    check_on_diverge(on_diverge)
    check_path_length(run_dir, "the run directory")
    malloc = tune_malloc()  # before the run allocates its tensors (insr/perf.py)
    run = Run(cfg)
    try:
        run.attrs["malloc"] = malloc
        check_disk_budget(cfg, run.case.dim, run.case.channels, run_dir, run.n_params)
        with run_lock(run_dir) as made:  # one writer per run directory (insr.run.lock)
            try:
                prepare_run_dir(run_dir, overwrite=overwrite)
                writer = RunLogWriter.create(
                    run_dir / "run.h5", config=cfg.as_dict(), axes=run.axes, attrs=run.log_attrs()
                )
            except BaseException:
                if made:  # nothing half-made: the directory this call created goes too
                    remove_run(run_dir)
                raise
            return drive(run, writer, first_step=0, report=report, on_diverge=on_diverge)
    finally:  # run.threads is this run's: the next run in this process starts as before
        run.restore_threads()


def resume(
    target: str | Path | ResumePlan,
    *,
    sets: list[str] | None = None,
    report: Reporter | None = None,
    on_diverge: str = "stop",
    allow_callable: bool = False,
) -> RunResult:
    """Continue a run from its last checkpoint (see :func:`plan_resume`). Without ``sets``
    the resumed run gives the same numbers as an uninterrupted one (bit-identical on CPU).
    A stored ``callable`` initial condition is code: refused unless ``allow_callable``."""
    check_on_diverge(on_diverge)
    if isinstance(target, ResumePlan):
        path = target.path
    else:
        path = find_resume_log(target)
    with run_lock(path.parent):  # one writer per run directory; re-entrant for the CLI
        if isinstance(target, ResumePlan):
            plan = target
        else:
            plan = plan_resume(path, sets, allow_callable=allow_callable)
        tune_malloc()
        run = Run(plan.cfg)
        try:
            if plan.ckpt is not None:
                try:
                    run.solver.load_state(plan.ckpt[0])
                except (KeyError, RuntimeError, ValueError) as e:
                    msg = f"the checkpoint in {plan.path} does not fit its config: {e}"
                    raise RunFailure(msg) from None
            writer = RunLogWriter.reopen(plan.path, plan.keep_rows)
            cfg_json = json.dumps(plan.cfg.as_dict())
            writer.set_attrs(config=cfg_json, total_steps=plan.cfg.case.steps)
            first = plan.last_step + 1
            return drive(run, writer, first_step=first, report=report, on_diverge=on_diverge)
        finally:
            run.restore_threads()


class SignalGuard:
    """SIGINT/SIGTERM raise KeyboardInterrupt, but never inside a ``critical()`` section
    (a row or checkpoint write): there the signal is held until the section ends."""

    def __init__(self) -> None:
        self.depth = 0
        self.pending = False
        self.signum: int = signal.SIGINT
        self._old: dict[int, Any] = {}

    def _handler(self, signum: int, _frame: Any) -> None:
        self.signum = signum
        if self.depth:
            self.pending = True
        else:
            raise KeyboardInterrupt

    def __enter__(self) -> SignalGuard:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Hold signals for the section and leave one that came ``pending`` (the caller
        decides what it means afterwards)."""
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1

    @contextlib.contextmanager
    def critical(self) -> Iterator[None]:
        """Hold signals for the section, then raise the one that came."""
        with self.held():
            yield
        if self.pending and not self.depth:
            self.pending = False
            raise KeyboardInterrupt


@contextlib.contextmanager
def second_signal_exits(run_dir: Path) -> Iterator[None]:
    """While the log is being closed after a stop: a (second) SIGINT/SIGTERM prints one line
    and exits at once with 128 + signal. The log stays readable (it survives SIGKILL, see
    :mod:`insr.log`): only the final status line may be missing; ``--resume`` continues it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def now(signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        with contextlib.suppress(Exception):
            sys.stderr.write(
                f"error: {name} again during the clean stop: exiting now; the log keeps its "
                f"completed rows; resume with: {resume_hint(run_dir)}\n"
            )
            sys.stderr.flush()
        os._exit(128 + signum)

    old = {sig: signal.signal(sig, now) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


def resume_hint(run_dir: Path) -> str:
    return f"insr run --resume {shlex.quote(str(run_dir))}"


class _Loop:
    """State of one drive: the run, its writer, the last completed and checkpointed steps.

    Checkpoints are written at the steps :meth:`due` names; the state after every other
    completed step is kept in memory (``kept``) and written by :meth:`flush` when the loop
    ends early (signal, divergence, failure), so a resume loses no completed step. Only a
    kill -9 (or power loss) loses the steps after the last checkpoint: ``--resume`` drops
    their rows and recomputes them, bit-identically.
    """

    def __init__(
        self, run: Run, writer: RunLogWriter, report: Reporter | None, retry: bool, first: int
    ):
        self.run, self.writer, self.report, self.retry = run, writer, report, retry
        self.guard = SignalGuard()
        self.every = run.cfg.run.checkpoint_every
        self.first = first  # the first step this drive advances
        self.saved = first - 1  # last step whose checkpoint is on disk
        self.kept: tuple[int, float, dict[str, np.ndarray]] | None = None  # (step, t, state)
        self.last: dict[str, float] = {}
        self.verdicts: list[tuple[int, float]] = logged_verdicts(writer)  # (step, code)

    @property
    def done(self) -> int:
        """The last completed step (its row written if logged)."""
        return self.kept[0] if self.kept is not None else self.first - 1

    def due(self, step: int) -> bool:
        """Whether the checkpoint is written after ``step``: every ``run.checkpoint_every``
        steps (step 0 included) and after the last step."""
        return step % self.every == 0 or step == self.run.cfg.case.steps

    def step(self, step: int) -> None:
        """Advance (with retries), then write the row (if logged) and, when :meth:`due`,
        the checkpoint."""
        cfg = self.run.cfg
        t = step * cfg.case.dt
        if self.report is not None:
            self.report("step", {"step": step, "t": t})
        metrics, attempts = self._advance(step)
        if self.retry:
            metrics["retries"] = float(attempts)
        logged = step % cfg.eval.every == 0 or step == cfg.case.steps
        arrays: dict[str, np.ndarray] = {}
        if logged:
            try:
                arrays, m = self.run.snapshot(t)
            except Diverged as e:
                raise Diverged(step, e.name, e.loss) from None
            metrics.update(m)
            if "exact/field" in arrays:
                err = fit.fit_error(arrays["field"], arrays["exact/field"])
                metrics["fit_error"] = err
                metrics["fit_verdict"] = fit.code(fit.step_verdict(step, err))
            arrays["step"] = np.asarray(step, dtype=np.int64)
            arrays["time"] = np.asarray(t, dtype=np.float64)
        attrs: dict[str, Any] = {}
        if "fit_verdict" in metrics:
            attrs = fit.run_verdict([*self.verdicts, (step, metrics["fit_verdict"])]).attrs()
        state = self.run.solver.state()
        # row first, then checkpoint: a crash between them (or a kill -9 before the next
        # due checkpoint) leaves rows past the checkpoint, which --resume drops and
        # recomputes (identically)
        with self.guard.critical():
            if logged:
                self.writer.append(arrays, metrics, attrs=attrs)
            if self.due(step):
                self.writer.save_checkpoint(state, {"step": step, "t": t})
                self.saved = step
            self.kept = (step, t, state)
        if "fit_verdict" in metrics:
            self.verdicts.append((step, metrics["fit_verdict"]))
        self.last = metrics
        if self.report is not None:
            self.report("done", {"step": step, "metrics": metrics})
        if (
            "fit_verdict" in metrics
            and step == 0
            and fit.name(metrics["fit_verdict"]) == fit.FAILED
            and cfg.run.on_poor_fit == "stop"
        ):
            raise FitFailed(step, metrics["fit_error"], fit_advice(cfg))

    def _advance(self, step: int) -> tuple[dict[str, float], int]:
        solver, dt = self.run.solver, self.run.cfg.case.dt
        start = None  # the state to return to on a retry
        if self.retry:
            kept = self.kept
            start = kept[2] if kept is not None and kept[0] == step - 1 else solver.state()
        for attempt in range(MAX_RETRIES + 1):
            scale = 0.5**attempt
            try:
                return solver.advance(step, dt, lr_scale=scale, report=self.report), attempt
            except Diverged as e:
                if start is None or attempt == MAX_RETRIES:
                    raise
                solver.load_state(start)
                if self.report is not None:
                    info = {"step": step, "attempt": attempt + 1, "lr_scale": scale / 2}
                    knobs = step_size_knobs(self.run.cfg, step)
                    self.report("retry", {**info, "name": e.name, "knobs": knobs})
        raise AssertionError("unreachable")  # pragma: no cover

    def flush(self) -> None:
        """Write the kept state of the last completed step as the checkpoint, if it is not
        on disk yet (the loop is ending early). Best effort: a failure leaves the previous
        checkpoint, which stays valid (two slots), and --resume recomputes from there.
        A signal arriving meanwhile is held (the loop ends anyway)."""
        kept = self.kept
        if kept is None or kept[0] <= self.saved or self.writer.broken:
            return
        step, t, state = kept
        self.guard.depth += 1
        try:
            self.writer.save_checkpoint(state, {"step": step, "t": t})
            self.saved = step
        except Exception:  # noqa: BLE001 -- the error that ended the loop is the one to report
            pass
        finally:
            self.guard.depth -= 1


def drive(
    run: Run, writer: RunLogWriter, *, first_step: int, report: Reporter | None, on_diverge: str
) -> RunResult:
    """Steps ``first_step..case.steps`` of ``run`` into ``writer``; closes the log with the
    run's status whatever happens."""
    loop = _Loop(run, writer, report, on_diverge == "retry", first_step)
    t_start = time.perf_counter()
    try:
        with loop.guard:
            try:
                for step in range(first_step, run.cfg.case.steps + 1):
                    loop.step(step)
            except BaseException:
                loop.flush()  # under the guard: a second signal cannot cut it short
                raise
            n = writer.completed_steps
            verdict = fit.run_verdict(loop.verdicts)
            status = verdict.status()
            with loop.guard.held():  # the closing write is not cut short either
                writer.close(status)
    except BaseException as e:
        with second_signal_exits(writer.path.parent):
            err = _closed(loop, e)
        if err is e:
            raise
        raise err from None
    if loop.guard.pending:  # a signal after the last row: the log is complete, nothing to resume
        raise KeyboardInterrupt
    seconds = time.perf_counter() - t_start
    hint = ""
    if verdict.bad:
        from insr.config import preset_hint

        hint = preset_hint(run.cfg)
    return RunResult(writer.path.parent, writer.path, status, n, seconds, loop.last, verdict, hint)


def logged_verdicts(writer: RunLogWriter) -> list[tuple[int, float]]:
    """``(step, verdict code)`` of the rows already in the log (a resumed run)."""
    n = writer.completed_steps
    if not n or "metrics/fit_verdict" not in writer.h5:
        return []
    steps = writer.h5["step"][:n]
    codes = writer.h5["metrics/fit_verdict"][:n]
    return [(int(s), float(c)) for s, c in zip(steps, codes, strict=True)]


def fit_advice(cfg: RunConfig) -> str:
    """What to try after a failed step-0 fit (one clause, names the knobs)."""
    init = cfg.solver.init
    lr = " / ".join(step_size_knobs(cfg, 0))
    from insr.config import preset_hint

    return (
        f"try a larger step-0 budget (solver.init.max_iters, now {init.max_iters}), another "
        f"step size ({lr}) or another size of representation.{cfg.representation.kind}, "
        "or run on anyway with --on-poor-fit continue (run.on_poor_fit = 'continue'); "
        + preset_hint(cfg)
    )


def _closed(loop: _Loop, e: BaseException) -> BaseException:
    """Close the log with the status that ``e`` means; the error to raise instead."""
    writer, run_dir = loop.writer, loop.writer.path.parent
    n, step = writer.completed_steps, loop.done + 1
    if isinstance(e, FitFailed):
        status = f"failed fit at step {e.step}"
        writer.close(status)
        return RunFailure(f"{e}; the log keeps its {n} completed rows (status '{status}')")
    if isinstance(e, Diverged):
        writer.close(f"diverged at step {e.step}")
        cfg = loop.run.cfg
        knobs = step_size_knobs(cfg, e.step)
        tried = (
            f" (and after {MAX_RETRIES} retries with halved {' and '.join(knobs)})"
            if loop.retry
            else ""
        )
        err = Diverged(e.step, e.name, e.loss)
        err.args = (
            f"diverged at step {e.step} ({e.name}: loss = {e.loss}){tried}; the log keeps its "
            f"{n} completed rows (status 'diverged at step {e.step}'); "
            f"{likely_causes(cfg, e.step)}; "
            f"{'' if tried else 'try --on-diverge retry, or '}lower them and continue: "
            f"{resume_hint(run_dir)} --set {knobs[0]}=...",
        )
        return err
    if isinstance(e, KeyboardInterrupt):
        writer.close(f"interrupted at step {step}")
        return RunInterrupted(
            f"interrupted at step {step}; the log is closed and keeps {n} completed rows; "
            f"resume with: {resume_hint(run_dir)}",
            int(loop.guard.signum),
        )
    if isinstance(e, LogWriteError):
        writer.close(f"failed at step {step}: {e.reason}")
        return RunFailure(
            f"{e}; the log keeps its {n} completed rows (status 'failed at step {step}'); "
            f"fix the cause and continue: {resume_hint(run_dir)}"
        )
    writer.close(f"failed at step {step}: {type(e).__name__}: {e}"[:500])
    return e
