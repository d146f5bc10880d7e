"""Typed run configuration: TOML files + ``--set`` overrides -> validated dataclasses.

A run's configuration is the merge, in this order (later wins), of

1. ``configs/default.toml``  (numerics shared by all cases),
2. the case file ``cases/<case>.toml`` (its ``[case]`` table, plus any numerics tables
   it carries as case-specific defaults),
3. ``--config FILE`` presets (e.g. ``configs/paper.toml``),
4. ``--set section.key=value`` overrides (values parsed as TOML, bare words as strings).

Every key is checked: unknown keys, wrong types and out-of-range values raise
:class:`ConfigError` naming the key and what is allowed.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from insr.schema import (  # noqa: F401 - re-exported for callers
    ConfigError,
    at_least,
    from_dict,
    in_range,
    opt,
    positive,
    suggest,
    to_dict,
)

ROOT = Path(__file__).resolve().parent.parent
CASES_DIR = ROOT / "cases"
CONFIGS_DIR = ROOT / "configs"


# --------------------------------------------------------------------------- sections
@dataclass
class CaseConfig:
    """The physical problem. Units are the case's own (domain length, time)."""

    name: str = opt(doc="case name, used for the output folder")
    pde: Literal["advection", "euler"] = opt(doc="which equation")
    domain: list[list[float]] = opt(doc="box [[lo, hi], ...] per axis")
    dt: float = opt(check=positive, doc="time step")
    steps: int = opt(check=at_least(1), doc="number of time steps after step 0")
    initial: dict = opt(doc="initial condition: {family = ..., params...}")
    velocity: dict = opt({}, doc="advection velocity: {kind = constant|rotation|..., ...}")
    boundary: Literal["dirichlet", "none", "wall"] = opt("dirichlet", doc="boundary condition")
    boundary_value: float = opt(0.0, doc="Dirichlet value at the box faces")
    description: str = opt("", doc="one line shown by `insr cases`")
    reference: dict = opt({}, doc="reference-solver settings for cases without exact truth")

    def validate(self, path: str) -> None:
        if not self.domain or any(len(iv) != 2 for iv in self.domain):
            raise ConfigError(f"{path}.domain must be a list of [lo, hi] pairs, got {self.domain}")
        for iv in self.domain:
            if not iv[1] > iv[0]:
                raise ConfigError(f"{path}.domain interval {iv} is empty: need lo < hi")
        if len(self.domain) not in (1, 2, 3):
            raise ConfigError(f"{path}.domain has {len(self.domain)} axes; allowed 1, 2 or 3")
        if "family" not in self.initial:
            raise ConfigError(f"{path}.initial needs a 'family' key (e.g. family = \"gaussian\")")

    @property
    def dim(self) -> int:
        return len(self.domain)


@dataclass
class RepresentationConfig:
    """Which representation carries the field; per-kind parameters live in sub-tables
    ``[representation.<kind>]`` (validated by that kind's own config class)."""

    kind: str = opt("siren", doc="siren | gauss | mlp | hashgrid | densegrid | grid")
    params: dict = opt({}, doc="per-kind sub-tables (filled from [representation.<kind>])")


@dataclass
class SolverConfig:
    """Per-step optimization: Adam (or L-BFGS) with a convergence-based stopping rule.

    A step ends when the mean loss over the last ``check_every`` iterations improved by
    less than ``rel_tol`` (relative) against the previous window, or fell below
    ``abs_tol``, and at least ``min_iters`` iterations were done; never after ``max_iters``.
    """

    optimizer: Literal["adam", "lbfgs", "adam+lbfgs"] = opt("adam")
    init_optimizer: Literal["adam", "lbfgs", "adam+lbfgs"] = opt("adam", doc="step-0 fit")
    switch_after: int = opt(0, check=at_least(0), doc="adam+lbfgs: Adam iterations at most")
    lbfgs_history: int = opt(20, check=at_least(1))
    lbfgs_resample: bool = opt(False, doc="L-BFGS: new samples every check_every iterations")
    substeps: int = opt(1, check=at_least(1), doc="sub-steps of dt/substeps per time step")
    time_scheme: Literal["midpoint", "pade4", "auto"] = opt(
        "midpoint",
        doc="advection: midpoint rule (2nd order), Pade(2,2) (4th order), or auto (pade4 "
        "where the loss strategy and field allow it, else midpoint)",
    )
    lr: float = opt(1e-3, check=positive, doc="learning rate of each step")
    lr_decay: float = opt(1.0, check=in_range(1e-6, 1.0), doc="lr factor on a stall")
    lr_decays: int = opt(0, check=at_least(0), doc="stalls that decay lr before stopping")
    min_iters: int = opt(0, check=at_least(0))
    max_iters: int = opt(2000, check=at_least(1))
    check_every: int = opt(50, check=at_least(1))
    rel_tol: float = opt(1e-2, check=at_least(0.0))
    abs_tol: float = opt(0.0, check=at_least(0.0))
    samples: int = opt(2000, check=at_least(1), doc="random sample points per iteration")
    resample_every: int = opt(1, check=at_least(1), doc="draw new samples every k iterations")
    boundary_weight: float = opt(1.0, check=at_least(0.0))
    boundary_samples: int = opt(2, check=at_least(0), doc="boundary points per face")
    init_lr: float = opt(1e-3, check=positive, doc="learning rate of the step-0 fit")
    init_max_iters: int = opt(5000, check=at_least(1))
    init_min_iters: int = opt(0, check=at_least(0))
    init_rel_tol: float = opt(1e-3, check=at_least(0.0))
    init_abs_tol: float = opt(0.0, check=at_least(0.0))
    init_lr_decay: float = opt(1.0, check=in_range(1e-6, 1.0))
    init_lr_decays: int = opt(0, check=at_least(0))

    def validate(self, path: str) -> None:
        if self.min_iters > self.max_iters:
            raise ConfigError(
                f"{path}.min_iters = {self.min_iters} exceeds max_iters = {self.max_iters}"
            )


@dataclass
class DerivativeConfig:
    """How spatial derivatives are obtained inside the loss and in the log."""

    loss: str = opt("autodiff", doc="strategy used inside the PDE loss")
    log: list[str] = opt(["autodiff", "fd"], doc="strategies evaluated and logged each step")
    h: float | str = opt("auto", doc="FD / averaging step: number, 'auto', 'cell' or '2cell'")
    scheme: Literal["central", "forward"] = opt("central")
    # coarse-to-fine (Neuralangelo), see insr/derivatives/coarse_to_fine.py
    coarse_to_fine_start_levels: int = opt(4, check=at_least(1), doc="levels active at first")
    coarse_to_fine_interval: int = opt(500, check=at_least(1), doc="steps/iterations per level")
    coarse_to_fine_unit: Literal["steps", "iterations"] = opt("iterations")
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

    resolution: int = opt(401, check=at_least(2))
    every: int = opt(1, check=at_least(1), doc="log every k-th step (step 0 and last always)")


@dataclass
class RunSection:
    """Reproducibility and placement."""

    seed: int = opt(0)
    device: Literal["auto", "cpu", "cuda"] = opt("auto")
    dtype: Literal["float32", "float64"] = opt("float32")
    threads: int = opt(0, check=at_least(0), doc="torch threads; 0 = all cores")
    compile: bool = opt(False, doc="torch.compile the closed-form MLP sweep (slow start)")
    name: str = opt("", doc="run name; default '<representation>-<timestamp>'")


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
        rep = d["representation"]
        d["representation"] = {"kind": rep["kind"], **rep["params"]}
        return d


# --------------------------------------------------------------------------- loading
def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file, turning I/O and syntax problems into one-line errors."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"expected a TOML file, got a directory: {path}") from None
    except PermissionError:
        raise ConfigError(f"cannot read {path}: permission denied") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path} is not valid TOML: {e}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not a text TOML file") from None


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge; tables merge, everything else replaces."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def parse_value(text: str) -> Any:
    """Parse the right-hand side of ``--set key=value`` as TOML; bare words are strings."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_set(item: str) -> tuple[list[str], Any]:
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected section.key=value")
    key, value = item.split("=", 1)
    parts = [p.strip() for p in key.strip().split(".")]
    if not all(parts) or len(parts) < 2:
        raise ConfigError(f"--set {item!r}: expected section.key=value (e.g. solver.lr=1e-3)")
    return parts, parse_value(value.strip())


def apply_sets(data: dict[str, Any], sets: list[str]) -> dict[str, Any]:
    out = copy.deepcopy(data)
    for item in sets:
        parts, value = parse_set(item)
        node = out
        for p in parts[:-1]:
            nxt = node.setdefault(p, {})
            if not isinstance(nxt, dict):
                raise ConfigError(f"--set {item!r}: '{p}' is a value, not a table")
            node = nxt
        node[parts[-1]] = value
    return out


def list_cases() -> list[str]:
    return sorted(p.stem for p in CASES_DIR.glob("*.toml"))


def resolve_case_path(case: str) -> Path:
    """A case name (``advection1d``) or a path to a case TOML file."""
    p = Path(case)
    if p.suffix == ".toml" or p.exists():
        if not p.exists():
            raise ConfigError(f"case file not found: {p}")
        return p
    path = CASES_DIR / f"{case}.toml"
    if not path.exists():
        names = list_cases()
        raise ConfigError(
            f"unknown case '{case}'{suggest(case, names)}; allowed: {', '.join(names)}"
        )
    return path


SECTIONS = ("case", "representation", "solver", "derivative", "eval", "run", "extra")


def build_config(raw: dict[str, Any]) -> RunConfig:
    """Validate a merged raw dict into a :class:`RunConfig`."""
    from insr.derivatives import STRATEGIES
    from insr.fields import REPRESENTATIONS, representation_params

    for key in raw:
        if key not in SECTIONS:
            raise ConfigError(
                f"unknown section '{key}'{suggest(key, SECTIONS)}; allowed: {', '.join(SECTIONS)}"
            )
    if "case" not in raw:
        raise ConfigError("the configuration has no [case] table")
    rep_raw = dict(raw.get("representation", {}))
    kind = rep_raw.pop("kind", "siren")
    if not isinstance(kind, str) or kind not in REPRESENTATIONS:
        raise ConfigError(
            f"unknown representation '{kind}'{suggest(str(kind), REPRESENTATIONS)}; "
            f"allowed: {', '.join(REPRESENTATIONS)}"
        )
    sub = rep_raw.pop(kind, {})
    # sub-tables of other kinds are kept (a preset may configure several) but validated too
    others = {k: v for k, v in rep_raw.items() if k in REPRESENTATIONS}
    loose = {k: v for k, v in rep_raw.items() if k not in REPRESENTATIONS}
    if loose:
        # flat keys (representation.omega0) apply to the selected kind
        sub = merge(sub, loose)
    for k, v in others.items():
        representation_params(k, v, f"representation.{k}")
    params = representation_params(kind, sub, f"representation.{kind}")
    if kind == "grid" and params.get("match_params_of") and not params.get("matched_params"):
        # equal-memory grid: keep the matched representation's parameters (they set its size)
        m = params["match_params_of"]
        sub_m = others.get(m, {})
        params["matched_params"] = representation_params(m, sub_m, f"representation.{m}")
    cfg_raw = {k: v for k, v in raw.items() if k != "representation"}
    cfg = from_dict(RunConfig, cfg_raw)
    cfg.representation = RepresentationConfig(kind=kind, params=params)
    for s in [cfg.derivative.loss, *cfg.derivative.log]:
        if s not in STRATEGIES:
            raise ConfigError(
                f"unknown derivative strategy '{s}'{suggest(s, STRATEGIES)}; "
                f"allowed: {', '.join(STRATEGIES)}"
            )
    return cfg


def base_raw(case: str, config_files: list[str] | None = None) -> dict[str, Any]:
    """Merged raw config (defaults < case < presets), not yet validated."""
    raw = read_toml(CONFIGS_DIR / "default.toml")
    case_raw = read_toml(resolve_case_path(case))
    if "case" not in case_raw:
        raise ConfigError(f"{case}: a case file needs a [case] table")
    raw = merge(raw, case_raw)
    for f in config_files or []:
        raw = merge(raw, read_toml(Path(f)))
    return raw


def load_config(
    case: str, config_files: list[str] | None = None, sets: list[str] | None = None
) -> RunConfig:
    """Resolve a case name/path, presets and overrides into a validated RunConfig."""
    return build_config(apply_sets(base_raw(case, config_files), sets or []))


def config_from_text(text: str) -> RunConfig:
    """Rebuild a RunConfig from the JSON stored in a run log."""
    import json

    return build_config(json.loads(text))
