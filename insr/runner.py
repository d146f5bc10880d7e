"""One run, end to end: config -> case, fields, equation -> stepper -> HDF5 log.

Used by ``insr run`` and by ``insr compare``; prints nothing itself (progress goes to a
reporter callback).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from insr.cases import Case, make_case
from insr.config import ROOT, RunConfig
from insr.derivatives import get_strategy
from insr.equations import build_equation
from insr.errors import RunFailure, UsageError
from insr.log import RunLogWriter
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
    if run_dir.exists() and any(run_dir.iterdir()):
        if not overwrite:
            raise UsageError(
                f"{run_dir} already holds a run; use --resume to continue it or --overwrite to replace it"
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
    state: dict[str, np.ndarray] = {}
    for fname, f in equation.fields.items():
        for k, v in f.state_dict().items():
            state[f"{fname}.{k}"] = v.detach().cpu().numpy()
    return state


def load_field_state(equation: Any, state: dict[str, np.ndarray]) -> None:
    for fname, f in equation.fields.items():
        own = f.state_dict()
        new = {k: torch.from_numpy(state[f"{fname}.{k}"]) for k in own}
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
        self.equation = build_equation(cfg, self.case, self.device, self.dtype)
        if cfg.run.compile:
            for f in self.equation.fields.values():
                if hasattr(f, "compiled"):
                    f.compiled = True
        self.gen = torch.Generator(device=self.device)
        self.gen.manual_seed(cfg.run.seed)
        self.axes = eval_grid(self.case, cfg.eval.resolution)
        self.shape = tuple(len(a) for a in self.axes)
        self.points = torch.tensor(grid_points(self.axes), dtype=self.dtype, device=self.device)
        d = cfg.derivative
        self.log_strategies = {s: get_strategy(s, h=d.h, scheme=d.scheme) for s in d.log}

    @property
    def n_params(self) -> int:
        return sum(f.n_params for f in self.equation.fields.values())

    def budgets(self) -> tuple[Budget, Budget]:
        s = self.cfg.solver
        init = Budget(
            lr=s.init_lr, max_iters=s.init_max_iters, min_iters=s.init_min_iters,
            check_every=s.check_every, rel_tol=s.init_rel_tol, abs_tol=s.init_abs_tol,
            lr_decay=s.init_lr_decay, lr_decays=s.init_lr_decays, optimizer=s.init_optimizer,
            resample_every=s.resample_every, switch_after=s.switch_after,
            lbfgs_history=s.lbfgs_history, lbfgs_resample=s.lbfgs_resample,
        )
        step = Budget(
            lr=s.lr, max_iters=s.max_iters, min_iters=s.min_iters, check_every=s.check_every,
            rel_tol=s.rel_tol, abs_tol=s.abs_tol, lr_decay=s.lr_decay, lr_decays=s.lr_decays,
            optimizer=s.optimizer, resample_every=s.resample_every, switch_after=s.switch_after,
            lbfgs_history=s.lbfgs_history, lbfgs_resample=s.lbfgs_resample,
        )
        return init, step

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
        return arrays, step_metrics(arrays, exact, len(self.shape))

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
) -> RunResult:
    """Run ``cfg`` into ``run_dir/run.h5``; the log is valid after every step."""
    prepare_run_dir(run_dir, overwrite=overwrite)
    run = Run(cfg)
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
        },
    )
    return _drive(run, writer, first_step=0, report=report)


def _drive(run: Run, writer: RunLogWriter, *, first_step: int, report) -> RunResult:
    cfg = run.cfg
    init_budget, step_budget = run.budgets()
    t_start = time.perf_counter()
    last: dict[str, float] = {}
    every = cfg.eval.every

    def on_step(st: StepStats) -> None:
        nonlocal last
        metrics: dict[str, float] = {
            "loss": float(sum(st.losses.values())),
            "iterations": float(sum(st.iterations.values())),
            "wall_seconds": st.seconds,
        }
        if len(st.losses) > 1:
            for k in st.losses:
                metrics[f"loss_{k}"] = st.losses[k]
                metrics[f"iterations_{k}"] = float(st.iterations[k])
        if st.step % every == 0 or st.step == cfg.case.steps:
            try:
                arrays, m = run.snapshot(st.t)
            except Diverged as e:
                raise Diverged(st.step, e.name, e.loss) from None
            metrics.update(m)
            arrays["step"] = np.asarray(st.step, dtype=np.int64)
            arrays["time"] = np.asarray(st.t, dtype=np.float64)
            try:
                writer.append(arrays, metrics)
            except OSError as e:
                raise RunFailure(f"writing step {st.step} to {writer.path} failed: {e}") from None
        writer.save_checkpoint(
            field_state(run.equation),
            {"step": st.step, "t": st.t, "rng": run.gen.get_state().tolist()},
        )
        last = metrics
        if report is not None:
            report("done", {"step": st.step, "metrics": metrics})

    status = "complete"
    try:
        run_steps(
            run.equation,
            dt=cfg.case.dt,
            first_step=first_step,
            last_step=cfg.case.steps,
            init_budget=init_budget,
            step_budget=step_budget,
            gen=run.gen,
            on_step=on_step,
            report=report,
            substeps=cfg.solver.substeps,
        )
    except Diverged as e:
        status = f"diverged at step {e.step}"
        writer.close(status)
        raise
    except KeyboardInterrupt:
        k = writer.completed_steps
        writer.close(f"interrupted at step {k}")
        raise
    except BaseException:
        writer.close(f"failed after {writer.completed_steps} rows")
        raise
    n = writer.completed_steps
    writer.close(status)
    return RunResult(writer.path.parent, writer.path, status, n, time.perf_counter() - t_start, last)


def remove_run(run_dir: Path) -> None:
    shutil.rmtree(run_dir, ignore_errors=True)
