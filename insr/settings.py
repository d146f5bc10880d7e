"""Typed run settings: the dataclass sections of a run's configuration and their defaults.

This is the ONE place where defaults live (no defaults TOML; ``tests/test_config.py``
checks that nothing else injects defaults). Loading, merging and validating TOML layers
into these classes is :mod:`insr.config`; :mod:`insr.knobs` reads them to refuse keys that
act on nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from insr.case_table import CaseConfig
from insr.fields import config_class
from insr.schema import ConfigError, at_least, check_name, in_range, opt, positive, to_dict


# --------------------------------------------------------------------------- sections
@dataclass
class RepresentationConfig:
    """Which representation carries the field, and its typed settings (the kind's own config
    class, from ``[representation.<kind>]``; see :mod:`insr.fields`)."""

    kind: str = opt("siren", doc="siren | gauss | mlp | hashgrid | densegrid | grid")
    settings: Any = field(default_factory=lambda: config_class("siren")())
    #: validated sub-tables of the other kinds (a file may configure several)
    others: dict[str, Any] = field(default_factory=dict)

    @property
    def params(self) -> dict[str, Any]:
        """The settings as a plain dict (a read-only view for older call sites)."""
        return to_dict(self.settings)


#: budget keys that ``[solver]`` (every step) and ``[solver.init]`` (the step-0 fit) share
BUDGET_KEYS = (
    "optimizer",
    "lr",
    "max_iters",
    "min_iters",
    "rel_tol",
    "abs_tol",
    "lr_decay",
    "lr_decays",
    "lbfgs_lr",
)


@dataclass
class InitConfig:
    """``[solver.init]``: the budget of the step-0 fit of the initial condition (same keys
    and stopping rule as the per-step budget in ``[solver]``, own defaults)."""

    optimizer: Literal["adam", "lbfgs", "adam+lbfgs"] = opt(
        "adam", doc="optimizer of the step-0 fit"
    )
    lr: float = opt(1e-3, check=positive, doc="Adam learning rate of the step-0 fit")
    max_iters: int = opt(5000, check=at_least(1), doc="iterations of the step-0 fit at most")
    min_iters: int = opt(0, check=at_least(0), doc="iterations of the step-0 fit at least")
    rel_tol: float = opt(1e-3, check=at_least(0.0), doc="stop below this window improvement")
    abs_tol: float = opt(0.0, check=at_least(0.0), doc="stop below this loss")
    lr_decay: float = opt(1.0, check=in_range(1e-6, 1.0), doc="lr factor on a stall")
    lr_decays: int = opt(0, check=at_least(0), doc="stalls that decay lr before stopping")
    lbfgs_lr: float = opt(1.0, check=positive, doc="L-BFGS step scale of the step-0 fit")


@dataclass
class SolverConfig:
    """Per-step optimization: Adam (or L-BFGS) with a convergence-based stopping rule.

    A step ends when the mean loss over the last ``check_every`` iterations improved by
    less than ``rel_tol`` (relative) against the previous window, or fell below
    ``abs_tol``, and at least ``min_iters`` iterations were done; never after ``max_iters``.
    """

    optimizer: Literal["adam", "lbfgs", "adam+lbfgs"] = opt(
        "adam", doc="optimizer of every step after step 0 (adam+lbfgs: Adam, then L-BFGS)"
    )
    switch_after: int = opt(0, check=at_least(0), doc="adam+lbfgs: Adam iterations at most")
    lbfgs_history: int = opt(20, check=at_least(1), doc="L-BFGS: curvature pairs kept")
    lbfgs_resample: bool = opt(
        False,
        doc="L-BFGS: draw new samples every check_every iterations (default: one sample set "
        "per optimization)",
    )
    lbfgs_impl: Literal["flat", "torch"] = opt(
        "torch",
        doc="L-BFGS code: torch (torch.optim.LBFGS, on the parameters viewed as one vector) or "
        "flat (insr/lbfgs.py: compact history, its own line search); both strong-Wolfe",
    )
    substeps: int = opt(1, check=at_least(1), doc="sub-steps of dt/substeps per time step")
    time_scheme: Literal["midpoint", "pade4", "auto"] = opt(
        "midpoint",
        doc="advection: midpoint rule (2nd order), Pade(2,2) (4th order), or auto (pade4 "
        "where the loss strategy and field allow it, else midpoint)",
    )
    lr: float = opt(1e-3, check=positive, doc="Adam learning rate of each step")
    lbfgs_lr: float = opt(
        1.0, check=positive, doc="L-BFGS step scale (torch LBFGS lr: first line-search trial)"
    )
    lr_decay: float = opt(1.0, check=in_range(1e-6, 1.0), doc="lr factor on a stall")
    lr_decays: int = opt(0, check=at_least(0), doc="stalls that decay lr before stopping")
    min_iters: int = opt(0, check=at_least(0), doc="iterations per step at least")
    max_iters: int = opt(2000, check=at_least(1), doc="iterations per step at most")
    check_every: int = opt(50, check=at_least(1), doc="window of the stopping rule (both fits)")
    rel_tol: float = opt(1e-2, check=at_least(0.0), doc="stop below this window improvement")
    abs_tol: float = opt(0.0, check=at_least(0.0), doc="stop below this loss")
    samples: int = opt(2000, check=at_least(1), doc="random sample points per iteration")
    resample_every: int = opt(1, check=at_least(1), doc="draw new samples every k iterations")
    boundary_weight: float = opt(
        1.0, check=at_least(0.0), doc="weight of the Dirichlet boundary penalty"
    )
    boundary_samples: int = opt(
        2,
        check=at_least(0),
        doc="random Dirichlet boundary points per face and iteration (2D/3D; 1D uses both ends)",
    )
    init: InitConfig = opt(InitConfig(), doc="budget of the step-0 fit ([solver.init])")

    def validate(self, path: str) -> None:
        if self.min_iters > self.max_iters:
            raise ConfigError(
                f"{path}.min_iters = {self.min_iters} exceeds max_iters = {self.max_iters}"
            )


@dataclass
class DerivativeConfig:
    """How spatial derivatives are obtained inside the loss and in the log."""

    loss: str = opt("closed", doc="strategy used inside the PDE loss")
    log: list[str] = opt(["autodiff", "fd"], doc="strategies evaluated and logged each step")
    h: float | str = opt("auto", doc="FD / averaging step: number, 'auto', 'cell' or '2cell'")
    scheme: Literal["central", "forward"] = opt("central", doc="finite-difference stencil")
    # coarse-to-fine (Neuralangelo), see insr/derivatives/coarse_to_fine.py
    coarse_to_fine_start_levels: int = opt(4, check=at_least(1), doc="levels active at first")
    coarse_to_fine_interval: int = opt(500, check=at_least(1), doc="steps/iterations per level")
    coarse_to_fine_unit: Literal["steps", "iterations", "step_iterations"] = opt(
        "iterations",
        doc="what the interval counts: time steps, iterations over the run, or per step",
    )
    coarse_to_fine_levels: int = opt(16, check=at_least(1), doc="virtual levels (MLP fields)")
    coarse_to_fine_h_start: float = opt(0.25, check=positive, doc="first h (MLP fields)")
    # remedies, see insr/equations/advection.py; weights in units of length^2, 0 = off
    sobolev_weight: float = opt(0.0, check=at_least(0.0), doc="step-0 |grad u - grad u0|^2")
    gradient_supervision: float = opt(0.0, check=at_least(0.0), doc="gradient-transport term")
    omega0_auto_iters: int = opt(300, check=at_least(1), doc="fit iterations per omega0 trial")

    def validate(self, path: str) -> None:
        if isinstance(self.h, str):
            if self.h not in ("auto", "cell", "2cell"):
                raise ConfigError(
                    f"{path}.h = {self.h!r} is not allowed: "
                    "expected a number > 0, 'auto', 'cell' or '2cell'"
                )
        elif not self.h > 0:
            raise ConfigError(f"{path}.h = {self.h!r} is not allowed: expected a number > 0")


@dataclass
class EvalConfig:
    """Evaluation grid where fields, gradients and errors are logged: ``resolution``
    uniformly spaced nodes per axis, box faces included."""

    resolution: int = opt(401, check=at_least(2), doc="nodes per axis, box faces included")
    every: int = opt(1, check=at_least(1), doc="log every k-th step (step 0 and last always)")


@dataclass
class RunSection:
    """Reproducibility and placement."""

    seed: int = opt(
        0, check=in_range(0, 2**63 - 1), doc="torch seed of the initial weights and the samples"
    )
    device: Literal["auto", "cpu", "cuda"] = opt("auto", doc="auto: cuda when available")
    dtype: Literal["float32", "float64"] = opt("float32", doc="floating-point type of the fields")
    threads: int = opt(
        0,
        check=in_range(0, 4096),
        doc="torch threads of this run (restored after it); 0 = auto: 1 for a representation "
        "below 1 M parameters on the CPU (small ops; README 'Performance'), else all cores",
    )
    compile: bool | Literal["auto"] = opt(
        "auto",
        doc="torch.compile the closed-form MLP sweep and fused loss pass; auto: for MLP "
        "fields on the CPU with >= 100 steps when a C++ compiler is found (insr/run/compiling.py)",
    )
    name: str = opt("", doc="run name; default '<representation>-<timestamp>'")
    on_poor_fit: Literal["stop", "continue"] = opt(
        "stop",
        doc="a failed step-0 fit (insr/verdict.py) stops the run; 'continue' runs on anyway",
    )
    checkpoint_every: int = opt(
        10,
        check=at_least(1),
        doc="write the checkpoint every k-th step; also after the last step, on Ctrl-C/SIGTERM "
        "and when a step fails (--resume recomputes the steps after it, bit-identically)",
    )
    presets: list[str] = opt([], doc="(recorded) preset layers applied, lowest first")

    def validate(self, path: str) -> None:
        check_name(f"{path}.name", self.name, empty=True)  # a folder under outputs/<case>/


@dataclass
class RunConfig:
    case: CaseConfig
    representation: RepresentationConfig = opt(RepresentationConfig())
    solver: SolverConfig = opt(SolverConfig())
    derivative: DerivativeConfig = opt(DerivativeConfig())
    eval: EvalConfig = opt(EvalConfig())
    run: RunSection = opt(RunSection())
    extra: dict = opt({}, doc="equation-specific settings (e.g. [extra.fluid])")

    def as_dict(self) -> dict[str, Any]:
        d = to_dict(self)
        d["representation"] = {"kind": self.representation.kind, **self.representation.params}
        return d
