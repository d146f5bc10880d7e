"""One run, end to end: config -> case, fields, equation -> stepper -> HDF5 log.

Used by ``insr run`` and by ``insr compare``; prints nothing itself (progress goes to a
reporter callback).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shlex
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from insr.cases import Case, make_case
from insr.config import ROOT, RunConfig
from insr.derivatives import get_strategy, grid_spacing
from insr.derivatives.auto_omega0 import choose_omega0, wants_auto_omega0, with_omega0
from insr.equations import build_equation
from insr.errors import RunFailure, RunInterrupted, UsageError
from insr.log import LogWriteError, RunLogReader, RunLogWriter, checkpoint, resolve_log_path
from insr.metrics import step_metrics
from insr.stepper import Budget, Diverged, StepStats, run_steps

EVAL_CHUNK = 32768


@dataclass
class RunResult:
    run_dir: Path
    log_path: Path
    status: str
    completed_steps: int
    seconds: float
    last_metrics: dict[str, float] = field(default_factory=dict)


def resolve_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("run.device = 'cuda' but no CUDA device is available; use 'cpu' or 'auto'")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def default_run_dir(cfg: RunConfig) -> Path:
    name = cfg.run.name or f"{cfg.representation.kind}-{time.strftime('%Y%m%d-%H%M%S')}"
    return ROOT / "outputs" / cfg.case.name / name


def prepare_run_dir(run_dir: Path, *, overwrite: bool) -> None:
    """Refuse to reuse an existing run directory unless ``overwrite``."""
    log = run_dir / "run.h5"
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError(f"--out {run_dir} is a file, not a run directory")
    if run_dir.exists() and any(run_dir.iterdir()):
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


def eval_grid(case: Case, resolution: int) -> list[np.ndarray]:
    return [np.linspace(lo, hi, resolution) for lo, hi in case.domain]


def grid_points(axes: list[np.ndarray]) -> np.ndarray:
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)


def _chunked(fn: Callable[[torch.Tensor], dict], x: torch.Tensor) -> dict[str, np.ndarray]:
    parts: dict[str, list[np.ndarray]] = {}
    for i in range(0, x.shape[0], EVAL_CHUNK):
        for k, v in fn(x[i : i + EVAL_CHUNK]).items():
            parts.setdefault(k, []).append(v.detach().cpu().numpy())
    return {k: np.concatenate(v) for k, v in parts.items()}


def field_state(equation: Any) -> dict[str, np.ndarray]:
    """Every field's state_dict as arrays named ``field/<field>.<key>``.

    Non-tensor entries (``nn.Module.get_extra_state``, e.g. a schedule's position) are
    stored as JSON bytes, so a field that keeps such state resumes exactly too.
    """
    state: dict[str, np.ndarray] = {}
    for fname, f in equation.fields.items():
        for k, v in f.state_dict().items():
            if isinstance(v, torch.Tensor):
                state[f"field/{fname}.{k}"] = v.detach().cpu().numpy().copy()
            else:
                state[f"field/{fname}.{k}#json"] = np.frombuffer(json.dumps(v).encode(), np.uint8)
    return state


def load_field_state(equation: Any, state: dict[str, np.ndarray]) -> None:
    """Inverse of :func:`field_state` (accepts names with or without the ``field/`` prefix)."""
    state = {k.removeprefix("field/"): v for k, v in state.items()}
    for fname, f in equation.fields.items():
        new: dict[str, Any] = {}
        for k, v in f.state_dict().items():
            name = f"{fname}.{k}"
            if isinstance(v, torch.Tensor):
                new[k] = torch.from_numpy(np.array(state[name])).to(v.device)
            else:
                new[k] = json.loads(bytes(np.asarray(state[f"{name}#json"])).decode())
        f.load_state_dict(new)


class Run:
    """Everything one run needs, built from a validated config."""

    def __init__(self, cfg: RunConfig) -> None:
        self.cfg = cfg
        if cfg.run.threads:
            torch.set_num_threads(cfg.run.threads)
        self.device = resolve_device(cfg.run.device)
        self.dtype = torch.float64 if cfg.run.dtype == "float64" else torch.float32
        torch.manual_seed(cfg.run.seed)
        self.case = make_case(cfg.case)
        check_eval_memory(cfg, self.case.dim, self.case.channels)
        check_field_memory(cfg, self.case.dim, self.case.channels)
        self.axes = eval_grid(self.case, cfg.eval.resolution)
        self.shape = tuple(len(a) for a in self.axes)
        self.points = torch.tensor(grid_points(self.axes), dtype=self.dtype, device=self.device)
        self.extra_attrs: dict[str, Any] = {}
        build_cfg = cfg
        if wants_auto_omega0(cfg):  # siren omega0 = "auto": pick it by short initial fits
            choice = choose_omega0(cfg, self.case, self.device, self.dtype, self.points)
            self.extra_attrs.update(choice.attrs())
            build_cfg = with_omega0(cfg, choice.omega0)
            torch.manual_seed(cfg.run.seed)
        self.equation = build_equation(build_cfg, self.case, self.device, self.dtype)
        scheme = getattr(self.equation, "time_scheme", None)
        if scheme is not None:  # the resolved scheme (solver.time_scheme may be "auto")
            self.extra_attrs["time_scheme"] = scheme
        if cfg.run.compile:
            for f in self.equation.fields.values():
                if hasattr(f, "compiled"):
                    f.compiled = True
        self.gen = torch.Generator(device=self.device)
        self.gen.manual_seed(cfg.run.seed)
        d = cfg.derivative
        sched = getattr(self.equation, "schedule", None)
        spacing = grid_spacing(self.case.domain, cfg.eval.resolution)
        self.log_strategies = {
            s: get_strategy(s, h=d.h, scheme=d.scheme, schedule=sched, spacing=spacing)
            for s in d.log
        }

    @property
    def n_params(self) -> int:
        return sum(f.n_params for f in self.equation.fields.values())

    def budgets(self) -> tuple[Budget, Budget]:
        """Budgets of the step-0 fit (the ``init_*`` solver keys) and of every later step."""
        s = self.cfg.solver
        shared = {
            "check_every": s.check_every,
            "resample_every": s.resample_every,
            "switch_after": s.switch_after,
            "lbfgs_history": s.lbfgs_history,
            "lbfgs_resample": s.lbfgs_resample,
        }

        def budget(prefix: str, optimizer: str) -> Budget:
            keys = ("lr", "max_iters", "min_iters", "rel_tol", "abs_tol", "lr_decay", "lr_decays")
            own = {k: getattr(s, prefix + k) for k in keys}
            return Budget(**own, optimizer=optimizer, **shared)

        return budget("init_", s.init_optimizer), budget("", s.optimizer)

    def snapshot(self, t: float) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """Logged arrays (reshaped onto the grid) and metrics at time ``t``."""
        snap = _chunked(lambda x: self.equation.snapshot(x, t, self.log_strategies), self.points)
        arrays = {k: v.reshape(*self.shape, *v.shape[1:]) for k, v in snap.items()}
        exact = None
        if self.case.exact_fn is not None or getattr(self.case, "reference", None) is not None:
            ex = self.case_exact(t)
            if ex is not None:
                exact = ex
                arrays["exact/field"] = ex["field"]
                if "gradient" in ex:
                    arrays["exact/gradient"] = ex["gradient"]
        for k, v in arrays.items():
            if not np.all(np.isfinite(v)) and not k.startswith("exact"):
                raise Diverged(-1, k, float("nan"))
        metrics = step_metrics(arrays, exact, len(self.shape))
        extra = getattr(self.equation, "metrics", None)  # equation-specific (fluid)
        if extra is not None:
            metrics.update(extra(arrays, exact, self.axes))
        return arrays, metrics

    def case_exact(self, t: float) -> dict[str, np.ndarray] | None:
        def fn(x: torch.Tensor) -> dict[str, torch.Tensor]:
            r = self.case.exact(x, t)
            if r is None:
                return {}
            return {"field": r[0], "gradient": r[1]}

        ex = _chunked(fn, self.points)
        if not ex:
            return None
        return {k: v.reshape(*self.shape, *v.shape[1:]) for k, v in ex.items()}


def execute(
    cfg: RunConfig,
    run_dir: Path,
    *,
    overwrite: bool = False,
    report: Callable[[str, dict], None] | None = None,
    on_diverge: str = "stop",
) -> RunResult:
    """Run ``cfg`` into ``run_dir/run.h5``; the log is valid after every step.

    ``on_diverge``: "stop" (default) ends the run at the first NaN/inf loss or field;
    "retry" restores the step's starting weights and retries it with half the learning
    rate, up to :data:`MAX_RETRIES` times. ``representation.kind = "grid"`` runs the
    classical reference solver instead and writes the same log.
    """
    check_on_diverge(on_diverge)
    if cfg.representation.kind == "grid":  # classical reference solver, same log
        from insr.reference.run import execute_grid

        return execute_grid(cfg, run_dir, overwrite=overwrite, report=report)
    run = Run(cfg)
    prepare_run_dir(run_dir, overwrite=overwrite)
    check_disk_budget(run, run_dir)
    log_path = run_dir / "run.h5"
    writer = RunLogWriter.create(
        log_path,
        config=cfg.as_dict(),
        axes=run.axes,
        attrs={
            "case": cfg.case.name,
            "representation": cfg.representation.kind,
            "dim": run.case.dim,
            "channels": run.case.channels,
            "n_params": run.n_params,
            "dt": cfg.case.dt,
            "total_steps": cfg.case.steps,
            **run.extra_attrs,
        },
    )
    return _drive(run, writer, first_step=0, report=report, on_diverge=on_diverge)


# ----------------------------------------------------------------- robustness: resume, limits
MAX_RETRIES = 3
ON_DIVERGE = ("stop", "retry")
# keys a resumed run may change: they alter neither the log's shape nor its meaning
RESUMABLE_OVERRIDES = ("solver.", "run.threads", "case.steps")
LIKELY_CAUSES = (
    "likely causes: dt too large (case.dt), learning rate too high (solver.lr), "
    "or too high a frequency (representation omega0)"
)


def check_on_diverge(mode: str) -> None:
    if mode not in ON_DIVERGE:
        raise UsageError(
            f"--on-diverge {mode!r} is not allowed: expected one of {', '.join(ON_DIVERGE)}"
        )


def _gib(n: float) -> str:
    return f"{n / 2**30:.3g} GiB" if n >= 2**30 else f"{n / 2**20:.3g} MiB"


def available_memory() -> int:
    """Bytes of memory available to a new allocation (MemAvailable; physical memory else)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 1 << 62


def eval_row_bytes(cfg: RunConfig, dim: int, channels: int) -> tuple[int, int]:
    """(bytes of one logged row on disk, bytes held in memory while evaluating it).

    A row holds the field (c), each logged gradient (c*d) and the exact field and gradient,
    stored as float32. In memory the evaluation points (N*d in the run dtype) plus every
    array about three times over (chunk list, concatenation, reshaped copy), in float64 to
    be safe: a coarse upper estimate, meant to refuse absurd sizes before allocating.
    """
    n = cfg.eval.resolution**dim
    per_point = channels * (2 + (len(cfg.derivative.log) + 1) * dim)
    itemsize = 8 if cfg.run.dtype == "float64" else 4
    return n * per_point * 4, n * (dim * itemsize + 3 * 8 * per_point)


def check_eval_memory(cfg: RunConfig, dim: int, channels: int) -> None:
    """Refuse an evaluation grid whose arrays would not fit in memory."""
    _, mem = eval_row_bytes(cfg, dim, channels)
    avail = available_memory()
    if mem > 0.8 * avail:
        raise UsageError(
            f"eval.resolution = {cfg.eval.resolution} ({cfg.eval.resolution}^{dim} points) needs "
            f"about {_gib(mem)} of memory for the evaluation arrays but only {_gib(avail)} is "
            "available; lower eval.resolution"
        )


def check_field_memory(cfg: RunConfig, dim: int, channels: int) -> None:
    """Refuse a representation whose parameters would not fit in memory, before building it.

    Uses ``param_count(params: dict, dim, channels) -> int`` on the field class when it has
    one (grid representations: ``resolution^d x features`` per level); 4 copies (weights,
    gradient, two Adam moments) in the run dtype.
    """
    from insr.fields import _classes

    count = getattr(_classes(cfg.representation.kind)[1], "param_count", None)
    if count is None:
        return
    n = int(count(cfg.representation.params, dim, channels))
    need = n * 4 * (8 if cfg.run.dtype == "float64" else 4)
    avail = available_memory()
    if need > 0.8 * avail:
        raise UsageError(
            f"representation {cfg.representation.kind} has {n:.3g} parameters: about "
            f"{_gib(need)} with gradients and optimizer state, but only {_gib(avail)} of "
            "memory is available; lower its resolution / table size"
        )


def check_disk_budget(run: Run, run_dir: Path) -> None:
    """Refuse a run whose log would not fit on the disk (estimate: rows x row size)."""
    row, _ = eval_row_bytes(run.cfg, run.case.dim, run.case.channels)
    rows = run.cfg.case.steps // run.cfg.eval.every + 2
    need = row * rows
    try:
        free = shutil.disk_usage(run_dir).free
    except OSError:
        return
    if need > free:
        raise UsageError(
            f"the log would need about {_gib(need)} ({_gib(row)} per row x {rows} rows) but "
            f"only {_gib(free)} is free at {run_dir}; lower eval.resolution or raise eval.every"
        )


def _rng_arrays(run: Run) -> dict[str, np.ndarray]:
    out = {"rng/gen": run.gen.get_state().numpy(), "rng/torch": torch.get_rng_state().numpy()}
    if run.device.type == "cuda":
        out["rng/cuda"] = torch.cuda.get_rng_state(run.device).numpy()
    return out


def _set_rng(run: Run, arrays: dict[str, np.ndarray]) -> None:
    run.gen.set_state(torch.from_numpy(np.asarray(arrays["rng/gen"], dtype=np.uint8)))
    torch.set_rng_state(torch.from_numpy(np.asarray(arrays["rng/torch"], dtype=np.uint8)))
    if "rng/cuda" in arrays and run.device.type == "cuda":
        torch.cuda.set_rng_state(torch.from_numpy(arrays["rng/cuda"]), run.device)


class _SignalGuard:
    """SIGINT/SIGTERM raise KeyboardInterrupt, but never inside a ``critical()`` section
    (a row or checkpoint write): there the signal is held until the section ends."""

    def __init__(self) -> None:
        self.depth = 0
        self.pending = False
        self.signum = signal.SIGINT
        self._old: dict[int, Any] = {}

    def _handler(self, signum: int, _frame: Any) -> None:
        self.signum = signum
        if self.depth:
            self.pending = True
        else:
            raise KeyboardInterrupt

    def __enter__(self) -> _SignalGuard:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)

    @contextlib.contextmanager
    def critical(self) -> Iterator[None]:
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
        if self.pending and not self.depth:
            self.pending = False
            raise KeyboardInterrupt


def _resume_hint(run_dir: Path) -> str:
    return f"insr run --resume {shlex.quote(str(run_dir))}"


def _drive(
    run: Run, writer: RunLogWriter, *, first_step: int, report, on_diverge: str = "stop"
) -> RunResult:
    cfg = run.cfg
    init_budget, step_budget = run.budgets()
    t_start = time.perf_counter()
    last: dict[str, float] = {}
    every = cfg.eval.every
    guard = _SignalGuard()
    attempt = 0
    saved = first_step - 1  # last step whose checkpoint is on disk

    def on_step(st: StepStats) -> None:
        nonlocal last, saved
        metrics: dict[str, float] = {
            "loss": float(sum(st.losses.values())),
            "iterations": float(sum(st.iterations.values())),
            "wall_seconds": st.seconds,
        }
        if len(st.losses) > 1:
            for k in st.losses:
                metrics[f"loss_{k}"] = st.losses[k]
                metrics[f"iterations_{k}"] = float(st.iterations[k])
        if on_diverge == "retry":
            metrics["retries"] = float(attempt)
        logged = st.step % every == 0 or st.step == cfg.case.steps
        if logged:
            try:
                arrays, m = run.snapshot(st.t)
            except Diverged as e:
                raise Diverged(st.step, e.name, e.loss) from None
            metrics.update(m)
            arrays["step"] = np.asarray(st.step, dtype=np.int64)
            arrays["time"] = np.asarray(st.t, dtype=np.float64)
        # row first, then checkpoint: a crash between them leaves a row past the
        # checkpoint, which --resume drops and recomputes (identically)
        with guard.critical():
            if logged:
                writer.append(arrays, metrics)
            writer.save_checkpoint(
                {**field_state(run.equation), **_rng_arrays(run)},
                {"step": st.step, "t": st.t},
            )
            saved = st.step
        last = metrics
        if report is not None:
            report("done", {"step": st.step, "metrics": metrics})

    run_dir = writer.path.parent
    try:
        with guard:
            for step in range(first_step, cfg.case.steps + 1):
                if on_diverge == "retry":  # the state to return to on a retry
                    start, rng = field_state(run.equation), _rng_arrays(run)
                for attempt in range(MAX_RETRIES + 1):
                    scale = 0.5**attempt
                    try:
                        run_steps(
                            run.equation,
                            dt=cfg.case.dt,
                            first_step=step,
                            last_step=step,
                            init_budget=dataclasses.replace(init_budget, lr=init_budget.lr * scale),
                            step_budget=dataclasses.replace(step_budget, lr=step_budget.lr * scale),
                            gen=run.gen,
                            on_step=on_step,
                            report=report,
                            substeps=cfg.solver.substeps,
                        )
                        break
                    except Diverged as e:
                        if on_diverge != "retry" or attempt == MAX_RETRIES:
                            raise
                        load_field_state(run.equation, start)
                        _set_rng(run, rng)
                        if report is not None:
                            report(
                                "retry",
                                {
                                    "step": step,
                                    "attempt": attempt + 1,
                                    "lr_scale": scale / 2,
                                    "name": e.name,
                                },
                            )
    except Diverged as e:
        n = writer.completed_steps
        writer.close(f"diverged at step {e.step}")
        tried = (
            f" (and after {MAX_RETRIES} retries with halved learning rate)"
            if on_diverge == "retry"
            else ""
        )
        err = Diverged(e.step, e.name, e.loss)
        err.args = (
            f"diverged at step {e.step} ({e.name}: loss = {e.loss}){tried}; the log keeps its "
            f"{n} completed rows (status 'diverged at step {e.step}'); {LIKELY_CAUSES}; "
            f"{'' if tried else 'try --on-diverge retry, or '}lower them and continue: "
            f"{_resume_hint(run_dir)} --set solver.lr=...",
        )
        raise err from None
    except KeyboardInterrupt:
        n = writer.completed_steps
        step = saved + 1
        writer.close(f"interrupted at step {step}")
        raise RunInterrupted(
            f"interrupted at step {step}; the log is closed and keeps {n} completed rows; "
            f"resume with: {_resume_hint(run_dir)}",
            int(guard.signum),
        ) from None
    except LogWriteError as e:
        n, step = writer.completed_steps, saved + 1
        writer.close(f"failed at step {step}: {e.reason}")
        raise RunFailure(
            f"{e}; the log keeps its {n} completed rows (status 'failed at step {step}'); "
            f"fix the cause and continue: {_resume_hint(run_dir)}"
        ) from None
    except BaseException as e:
        writer.close(f"failed at step {saved + 1}: {type(e).__name__}: {e}"[:500])
        raise
    n = writer.completed_steps
    writer.close("complete")
    return RunResult(run_dir, writer.path, "complete", n, time.perf_counter() - t_start, last)


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def find_resume_log(target: str | Path) -> Path:
    """The log to resume: a run directory or its ``run.h5``."""
    p = Path(target)
    if not p.exists():
        raise UsageError(f"nothing to resume at {p}: no such run directory")
    if p.is_dir() and not (p / "run.h5").exists():
        raise UsageError(f"nothing to resume in {p}: it holds no run.h5")
    return resolve_log_path(p)


@dataclass
class ResumePlan:
    """What ``--resume`` will do, checked before anything is written."""

    path: Path
    cfg: RunConfig
    stored: dict[str, Any]
    ckpt: tuple[dict[str, np.ndarray], dict[str, Any]] | None
    last_step: int  # step of the checkpoint (-1: none, start from step 0)
    keep_rows: int  # rows at or before the checkpoint, kept in the log


def plan_resume(target: str | Path, sets: list[str] | None = None) -> ResumePlan:
    """Validate a resume of the run logged at ``target`` (run dir or run.h5).

    The config stored in the log is used; ``sets`` may change only solver settings,
    ``run.threads`` and ``case.steps`` (to extend a run).
    """
    from insr.config import apply_sets, build_config

    path = find_resume_log(target)
    with RunLogReader(path) as log:
        stored = log.config
        steps = log.series("step") if log.n else np.zeros(0, dtype=np.int64)
        status = log.status
    try:
        cfg = build_config(apply_sets(stored, sets or []))
        before = _flatten(build_config(stored).as_dict())
    except UsageError as e:
        raise UsageError(f"{path}: {e}") from None
    after = _flatten(cfg.as_dict())
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key) and not key.startswith(RESUMABLE_OVERRIDES):
            raise UsageError(
                f"{key} cannot change on --resume (stored {before.get(key)!r}, given "
                f"{after.get(key)!r}); allowed: solver.*, run.threads, case.steps"
            )
    ck = checkpoint(path)
    last_step = -1 if ck is None else int(ck[1]["step"])
    if status == "complete" and last_step >= cfg.case.steps:
        raise UsageError(
            f"{path} is already complete ({last_step} of {cfg.case.steps} steps); nothing to "
            "resume (use --steps N to extend it)"
        )
    if last_step > cfg.case.steps:
        raise UsageError(f"case.steps = {cfg.case.steps} is below the {last_step} steps done")
    keep = int(np.searchsorted(steps, last_step, side="right"))
    return ResumePlan(path, cfg, stored, ck, last_step, keep)


def resume(
    target: str | Path | ResumePlan,
    *,
    sets: list[str] | None = None,
    report: Callable[[str, dict], None] | None = None,
    on_diverge: str = "stop",
) -> RunResult:
    """Continue a run from its last checkpoint (see :func:`plan_resume`). Without ``sets``
    the resumed run gives the same numbers as an uninterrupted one (bit-identical on CPU)."""
    check_on_diverge(on_diverge)
    plan = target if isinstance(target, ResumePlan) else plan_resume(target, sets)
    run = Run(plan.cfg)
    if plan.ckpt is not None:
        arrays = plan.ckpt[0]
        try:
            load_field_state(run.equation, arrays)
            _set_rng(run, arrays)
        except (KeyError, RuntimeError, ValueError) as e:
            msg = f"the checkpoint in {plan.path} does not fit its config: {e}"
            raise RunFailure(msg) from None
    writer = RunLogWriter.reopen(plan.path, plan.keep_rows)
    writer.set_attrs(config=json.dumps(plan.cfg.as_dict()), total_steps=plan.cfg.case.steps)
    return _drive(run, writer, first_step=plan.last_step + 1, report=report, on_diverge=on_diverge)


def remove_run(run_dir: Path) -> None:
    shutil.rmtree(run_dir, ignore_errors=True)
