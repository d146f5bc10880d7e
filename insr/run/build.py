"""Assemble a run from a validated :class:`~insr.config.RunConfig`: device, case, eval grid,
fields, equation (or grid baseline), the ω0 search, and the solver the driver steps."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from insr.cases import Case
from insr.derivatives import get_strategy, grid_spacing
from insr.derivatives.coarse_to_fine import schedule_options
from insr.equations import (
    EquationEntry,
    FieldSpec,
    Numerics,
    SettingError,
    equation_settings,
    get_equation,
)
from insr.equations.base import Equation
from insr.errors import UsageError
from insr.fields import build_field
from insr.fields.solver_kinds import GridConfig
from insr.metrics import step_metrics
from insr.paths import outputs_root
from insr.perf import machine
from insr.reference.equal_memory import resolution_for_budget
from insr.reference.errors import ReferenceInputError
from insr.run.compiling import compile_decision, cpp_compiler, reuse_isa_probe
from insr.run.limits import check_eval_memory, check_field_memory, check_network_memory
from insr.run.omega0 import choose_omega0, wants_auto_omega0, with_omega0
from insr.run.solvers import GridSolver, NeuralSolver, Solver, chunked
from insr.schema import ConfigError, from_dict
from insr.settings import BUDGET_KEYS, RunConfig
from insr.stepper import Budget

#: the smallest grid an equal-memory match may pick (nodes / cells per axis)
GRID_MIN_RESOLUTION = 7

#: configuration keys of the :class:`~insr.equations.base.Numerics` fields (error messages)
NUMERICS_KEYS = {
    "loss_strategy": "derivative.loss",
    "h": "derivative.h",
    "scheme": "derivative.scheme",
    "samples": "solver.samples",
    "boundary_weight": "solver.boundary_weight",
    "boundary_samples": "solver.boundary_samples",
    "sobolev_weight": "derivative.sobolev_weight",
    "gradient_supervision": "derivative.gradient_supervision",
    "time_scheme": "solver.time_scheme",
}


def resolve_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("run.device = 'cuda' but no CUDA device is available; use 'cpu' or 'auto'")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def default_run_dir(cfg: RunConfig) -> Path:
    name = cfg.run.name or f"{cfg.representation.kind}-{time.strftime('%Y%m%d-%H%M%S')}"
    return outputs_root() / cfg.case.name / name


def eval_grid(case: Case, resolution: int) -> list[np.ndarray]:
    return [np.linspace(lo, hi, resolution) for lo, hi in case.domain]


def grid_points(axes: list[np.ndarray]) -> np.ndarray:
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)


def numerics(cfg: RunConfig, device: torch.device, dtype: torch.dtype) -> Numerics:
    """The settings every equation shares, read once from the config."""
    d, s = cfg.derivative, cfg.solver
    return Numerics(
        loss_strategy=d.loss,
        h=d.h,
        scheme=d.scheme,
        samples=s.samples,
        boundary_weight=s.boundary_weight,
        boundary_samples=s.boundary_samples,
        sobolev_weight=d.sobolev_weight,
        gradient_supervision=d.gradient_supervision,
        coarse_to_fine=schedule_options(d),
        time_scheme=s.time_scheme,
        dtype=dtype,
        device=device,
        spacing=grid_spacing(cfg.case.domain, cfg.eval.resolution),
    )


def build_equation(
    cfg: RunConfig, case: Case, device: torch.device, dtype: torch.dtype
) -> Equation:
    """The equation of ``cfg.case.pde`` with freshly initialized fields."""
    entry = get_equation(cfg.case.pde)
    settings = equation_settings(entry, cfg.extra)
    rep = FieldSpec(cfg.representation.kind, cfg.representation.params, case.channels)
    specs = entry.fields(case, settings, rep, f"extra.{entry.table}")
    fields = {
        name: build_field(sp.kind, sp.params, case.domain, sp.channels).to(device, dtype)
        for name, sp in specs.items()
    }
    try:
        return entry.equation(case, fields, settings, numerics(cfg, device, dtype))
    except SettingError as e:
        raise e.named(NUMERICS_KEYS) from None


def budgets(cfg: RunConfig) -> tuple[Budget, Budget]:
    """Budgets of the step-0 fit (``[solver.init]``) and of every later step."""
    s = cfg.solver
    shared: dict[str, Any] = {
        "check_every": s.check_every,
        "resample_every": s.resample_every,
        "switch_after": s.switch_after,
        "lbfgs_history": s.lbfgs_history,
        "lbfgs_resample": s.lbfgs_resample,
        "lbfgs_impl": s.lbfgs_impl,
    }

    def budget(b: Any) -> Budget:
        return Budget(**{k: getattr(b, k) for k in BUDGET_KEYS}, **shared)

    return budget(s.init), budget(s)


def matched_n_params(cfg: RunConfig, entry: EquationEntry, case: Case) -> int:
    """Every trained parameter of the representation an equal-memory grid matches
    (``representation.grid.match_params_of`` with its ``matched_params``): all the fields
    the equation trains, e.g. velocity and pressure for euler."""
    p = cfg.representation.params
    rep = FieldSpec(p["match_params_of"], p.get("matched_params") or {}, case.channels)
    settings = equation_settings(entry, cfg.extra)
    specs = entry.fields(case, settings, rep, f"extra.{entry.table}")
    return sum(
        build_field(sp.kind, sp.params, case.domain, sp.channels).n_params for sp in specs.values()
    )


def grid_resolution(cfg: RunConfig, entry: EquationEntry, case: Case) -> tuple[int, int | None]:
    """``(resolution, matched n_params or None)`` of a grid run: ``resolution``, or the
    largest one whose stored floats (``entry.grid_floats``) fit the matched parameters."""
    p = cfg.representation.params
    if p.get("resolution"):
        return int(p["resolution"]), None
    n = matched_n_params(cfg, entry, case)

    def floats(r: int) -> int:
        return entry.grid_floats(case.dim, case.channels, r)

    try:
        return resolution_for_budget(n, floats, minimum=GRID_MIN_RESOLUTION), n
    except ReferenceInputError:
        raise ConfigError(
            f"representation.grid.match_params_of = {p['match_params_of']!r}: its {n} "
            f"parameters cannot hold the smallest grid ({GRID_MIN_RESOLUTION} per axis = "
            f"{floats(GRID_MIN_RESOLUTION)} floats); set representation.grid.resolution"
        ) from None


def check_extra_tables(cfg: RunConfig, entry: EquationEntry) -> None:
    """Refuse ``[extra.<name>]`` tables the run's equation does not read (they would have
    no effect)."""
    for key in cfg.extra:
        if key != entry.table:
            raise ConfigError(
                f"extra.{key} has no effect on case.pde = {entry.pde!r}: its settings are "
                f"[extra.{entry.table}]; remove extra.{key}"
            )


class Truth:
    """The exact (or reference) solution at the evaluation points, sampled on demand; a
    case whose truth must be computed (a grid reference) computes it on the first sample."""

    def __init__(self, case: Case, points: torch.Tensor, shape: tuple[int, ...]) -> None:
        self.case, self.points, self.shape = case, points, shape
        self.prepared = False

    def sample(self, t: float) -> dict[str, np.ndarray] | None:
        if not self.prepared:
            self.case.prepare_truth()
            self.prepared = True

        def fn(x: torch.Tensor) -> dict[str, torch.Tensor]:
            r = self.case.exact(x, t)
            return {} if r is None else {"field": r[0], "gradient": r[1]}

        ex = chunked(fn, self.points)
        if not ex:
            return None
        return {k: v.reshape(*self.shape, *v.shape[1:]) for k, v in ex.items()}


#: ``run.threads = 0`` (auto): representations below this many trained parameters run on
#: one torch thread. Measured on this project's 2-core CPU (`insr run`, fresh processes):
#: SIREN runs on 2 threads took 2-3x as long as on one (advection2d 4 steps 10.1 vs 4.9 s,
#: vortex_pair 1 step 9.8 vs 3.0 s, Taylor-Green step 1 3.3 vs 1.2 s), a 48 k dense grid
#: 2x (6.3 vs 3.2 ms per step-0 iteration): their ops are too small for OpenMP's wake-ups
#: to pay. The 7.7 M-parameter 2D hash grid was 1.1-1.2x faster on two (27 vs 32 ms).
AUTO_THREADS_PARAMS = 1_000_000


def auto_threads(n_params: int, device: torch.device) -> int | None:
    """The thread count ``run.threads = 0`` picks: 1 on the CPU for fewer than
    :data:`AUTO_THREADS_PARAMS` parameters, else None (keep the process's setting: all
    cores, or a sweep worker's share)."""
    return 1 if device.type == "cpu" and n_params < AUTO_THREADS_PARAMS else None


class Run:
    """Everything one run needs, built from a validated config."""

    def __init__(self, cfg: RunConfig) -> None:
        self.cfg = cfg
        self._threads_before = torch.get_num_threads()
        if cfg.run.threads:
            torch.set_num_threads(cfg.run.threads)
        self.device = resolve_device(cfg.run.device)
        self.dtype = torch.float64 if cfg.run.dtype == "float64" else torch.float32
        torch.manual_seed(cfg.run.seed)
        self.entry: EquationEntry = get_equation(cfg.case.pde)
        check_extra_tables(cfg, self.entry)
        self.settings = equation_settings(self.entry, cfg.extra)
        self.case = self.entry.make_case(cfg.case, self.settings)
        check_eval_memory(cfg, self.case.dim, self.case.channels)
        self.axes = eval_grid(self.case, cfg.eval.resolution)
        self.shape = tuple(len(a) for a in self.axes)
        self.attrs: dict[str, Any] = {}
        self.equation: Equation | None = None
        if cfg.representation.kind == "grid":
            self.solver: Solver = self._grid_solver()
            points = torch.from_numpy(grid_points(self.axes))
        else:
            check_field_memory(cfg, self.case.dim, self.case.channels)
            check_network_memory(cfg, self.case.dim, self.case.channels)
            points = torch.tensor(grid_points(self.axes), dtype=self.dtype, device=self.device)
            self.solver = self._neural_solver(points)
        self.points = points  # evaluation points (the truth's dtype: run dtype, float64 grid)
        self.truth = Truth(self.case, points, self.shape)
        n = auto_threads(self.n_params, self.device) if not cfg.run.threads else None
        if n is not None:
            torch.set_num_threads(n)
        how = "set" if cfg.run.threads else ("auto" if n is not None else "auto: the process's")
        self.attrs["threads"] = f"{torch.get_num_threads()} ({how})"
        self.attrs["machine"] = machine() if self.device.type == "cpu" else str(self.device)

    def restore_threads(self) -> None:
        """torch's thread count as before ``run.threads`` applied (the next run in this
        process starts from the process's own setting)."""
        torch.set_num_threads(self._threads_before)

    def _neural_solver(self, points: torch.Tensor) -> NeuralSolver:
        cfg = self.cfg
        build_cfg = cfg
        if wants_auto_omega0(cfg):  # siren omega0 = "auto": pick it by short initial fits
            choice = choose_omega0(cfg, self.case, points, self._build)
            self.attrs.update(choice.attrs())
            build_cfg = with_omega0(cfg, choice.omega0)
            torch.manual_seed(cfg.run.seed)
        self.equation = eq = self._build(build_cfg)
        scheme = getattr(eq, "time_scheme", None)
        if scheme is not None:  # the resolved scheme (solver.time_scheme may be "auto")
            self.attrs["time_scheme"] = scheme
        wanted, why = compile_decision(cfg, self.device)
        self.attrs["compile"] = ("on: " if wanted else "off: ") + why
        if wanted:
            if cfg.run.compile == "auto":  # a failing inductor falls back to eager code
                torch._dynamo.config.suppress_errors = True
            if self.device.type == "cpu" and (cxx := cpp_compiler()) is not None:
                self.attrs["vec_isa_probe"] = "reused" if reuse_isa_probe(cxx) else "probed"
            for f in eq.fields.values():
                if hasattr(f, "compiled"):
                    setattr(f, "compiled", True)  # noqa: B010 - not every Field has it
        d = cfg.derivative
        sched = getattr(eq, "schedule", None)
        spacing = grid_spacing(cfg.case.domain, cfg.eval.resolution)
        strategies = {
            s: get_strategy(s, h=d.h, scheme=d.scheme, schedule=sched, spacing=spacing)
            for s in d.log
        }
        return NeuralSolver(
            eq,
            budgets(cfg),
            points=points,
            strategies=strategies,
            seed=cfg.run.seed,
            substeps=cfg.solver.substeps,
        )

    def _build(self, cfg: RunConfig) -> Equation:
        return build_equation(cfg, self.case, self.device, self.dtype)

    def _grid_solver(self) -> GridSolver:
        if self.entry.grid is None:
            raise ConfigError(
                f"representation.kind = 'grid' is not available for case.pde = "
                f"{self.cfg.case.pde!r}: that equation registers no grid baseline"
            )
        n, matched = grid_resolution(self.cfg, self.entry, self.case)
        grid_cfg = from_dict(GridConfig, self.cfg.representation.params, "representation.grid")
        try:
            baseline = self.entry.grid(self.case, self.settings, grid_cfg, n)
        except ReferenceInputError as e:
            raise ConfigError(f"representation.grid: {e}") from None
        floats = self.entry.grid_floats(self.case.dim, self.case.channels, n)
        if baseline.n_floats != floats:  # the layout formula is what matching relies on
            raise RuntimeError(f"grid baseline stores {baseline.n_floats} floats, layout {floats}")
        self.attrs["grid_resolution"] = n
        self.attrs["grid_scheme"] = baseline.scheme
        if matched is not None:
            self.attrs["matched_n_params"] = matched
        return GridSolver(baseline, grid_points(self.axes))

    @property
    def n_params(self) -> int:
        return self.solver.n_params

    def budgets(self) -> tuple[Budget, Budget]:
        return budgets(self.cfg)

    def log_attrs(self) -> dict[str, Any]:
        """Root attributes of the run log."""
        cfg = self.cfg
        return {
            "case": cfg.case.name,
            "representation": cfg.representation.kind,
            "dim": self.case.dim,
            "channels": self.case.channels,
            "n_params": self.n_params,
            "dt": cfg.case.dt,
            "total_steps": cfg.case.steps,
            **self.attrs,
        }

    def snapshot(self, t: float) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """Logged arrays (reshaped onto the grid) and metrics at time ``t``."""
        flat = self.solver.evaluate(t)
        arrays = {k: v.reshape(*self.shape, *v.shape[1:]) for k, v in flat.items()}
        exact = self.truth.sample(t)
        if exact is not None:
            cast = np.float32 if isinstance(self.solver, GridSolver) else None
            arrays["exact/field"] = exact["field"].astype(cast or exact["field"].dtype)
            if "gradient" in exact:
                arrays["exact/gradient"] = exact["gradient"].astype(cast or exact["gradient"].dtype)
        metrics = step_metrics(arrays, exact, len(self.shape))
        if self.entry.metrics is not None:  # equation-specific (fluid)
            metrics.update(self.entry.metrics(arrays, exact, self.axes))
        return arrays, metrics
