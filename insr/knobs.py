"""No silent knobs: configuration keys that would be accepted but act on nothing in a mode.

Each :class:`Rule` names one key and says, for a validated config, why that key has no
effect there (``None``: it acts). :func:`check_effective` refuses a key whose value
differs from its dataclass default in a config where its rule says it does nothing, with
one line naming the knob that applies instead. A key left at its default is never an
error (stored configs list every key).

Grid runs (``representation.kind = "grid"``) step a classical solver that reads no
``[solver]``/``[derivative]`` key; those are not checked for them, because case files
state numerics for every representation (README "Fit verdicts", "No silent knobs").
Equation-specific settings are refused by the equations themselves
(:class:`insr.equations.base.SettingError`, e.g. the Sobolev weight on the heat equation).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from insr.schema import ConfigError
from insr.settings import RunConfig

#: representation kinds that are MLPs (closed-form sweep, no levels)
MLP_KINDS = ("siren", "gauss", "mlp")
#: strategies that read derivative.h / derivative.scheme
H_STRATEGIES = ("fd", "average", "coarse_to_fine")
SCHEME_STRATEGIES = ("fd",)


@dataclass(frozen=True)
class Rule:
    """``key`` (dotted) has no effect in ``cfg`` when ``inert(cfg)`` returns a reason."""

    key: str
    inert: Callable[[RunConfig], str | None]


def _uses(cfg: RunConfig, names: tuple[str, ...]) -> bool:
    d = cfg.derivative
    return any(s in names for s in [d.loss, *d.log])


def _optimizers(cfg: RunConfig) -> set[str]:
    return {cfg.solver.optimizer, cfg.solver.init.optimizer}


def _adam_key(prefix: str, key: str) -> Rule:
    def inert(cfg: RunConfig) -> str | None:
        opt = cfg.solver.init.optimizer if prefix.endswith("init") else cfg.solver.optimizer
        if opt != "lbfgs":
            return None
        if key == "lr":
            return (
                f"{prefix}.optimizer = 'lbfgs': the L-BFGS step is set by {prefix}.lbfgs_lr "
                "(torch LBFGS lr, the first trial step of its line search)"
            )
        return (
            f"{prefix}.optimizer = 'lbfgs': L-BFGS stops at its first stall; "
            f"{prefix}.{key} decays Adam's learning rate only"
        )

    return Rule(f"{prefix}.{key}", inert)


def _lbfgs_key(prefix: str) -> Rule:
    def inert(cfg: RunConfig) -> str | None:
        opt = cfg.solver.init.optimizer if prefix.endswith("init") else cfg.solver.optimizer
        if opt != "adam":
            return None
        return f"{prefix}.optimizer = 'adam': Adam's step is {prefix}.lr"

    return Rule(f"{prefix}.lbfgs_lr", inert)


def _shared(key: str, wants: tuple[str, ...], what: str) -> Rule:
    def inert(cfg: RunConfig) -> str | None:
        if _optimizers(cfg) & set(wants):
            return None
        opts = sorted(_optimizers(cfg))
        return f"solver.optimizer / solver.init.optimizer are {' / '.join(opts)}: {what}"

    return Rule(f"solver.{key}", inert)


def _boundary(key: str) -> Rule:
    def inert(cfg: RunConfig) -> str | None:
        b = cfg.case.boundary
        if b == "wall":
            return (
                "case.boundary = 'wall' has no Dirichlet penalty; the walls are penalized by "
                "extra.fluid.wall_weight / extra.fluid.wall_samples"
            )
        if b != "dirichlet":
            return f"case.boundary = {b!r} has no boundary penalty (only 'dirichlet' has one)"
        if key == "boundary_samples" and len(cfg.case.domain) == 1:
            return "a 1D box has two boundary points, both always used"
        return None

    return Rule(f"solver.{key}", inert)


def _derivative(key: str, names: tuple[str, ...]) -> Rule:
    def inert(cfg: RunConfig) -> str | None:
        if _uses(cfg, names):
            return None
        d = cfg.derivative
        return (
            f"no strategy that reads it is used (derivative.loss = {d.loss!r}, derivative.log = "
            f"{d.log}); it acts for {', '.join(names)}"
        )

    return Rule(f"derivative.{key}", inert)


def _c2f(key: str, mlp_only: bool) -> Rule:
    def inert(cfg: RunConfig) -> str | None:
        if cfg.derivative.loss != "coarse_to_fine":
            return (
                f"derivative.loss = {cfg.derivative.loss!r}: the coarse-to-fine schedule runs "
                "only with derivative.loss = 'coarse_to_fine'"
            )
        if mlp_only and cfg.representation.kind not in MLP_KINDS:
            return (
                f"representation.kind = {cfg.representation.kind!r} has levels of its own; "
                "derivative.coarse_to_fine_start_levels / _interval apply"
            )
        return None

    return Rule(f"derivative.{key}", inert)


def _omega0_auto_iters(cfg: RunConfig) -> str | None:
    omega0 = cfg.representation.params.get("omega0")
    if cfg.representation.kind == "siren" and omega0 == "auto":
        return None
    return "it sets the trial fits of representation.siren.omega0 = 'auto' only"


def _compile(cfg: RunConfig) -> str | None:
    if cfg.run.compile is not True or cfg.representation.kind in MLP_KINDS:
        return None
    return f"representation.kind = {cfg.representation.kind!r} has no closed-form MLP sweep"


def _boundary_value(cfg: RunConfig) -> str | None:
    if cfg.case.boundary == "dirichlet":
        return None
    return f"case.boundary = {cfg.case.boundary!r}: the value applies to 'dirichlet' only"


RULES: tuple[Rule, ...] = (
    *(_adam_key(p, k) for p in ("solver", "solver.init") for k in ("lr", "lr_decay", "lr_decays")),
    _lbfgs_key("solver"),
    _lbfgs_key("solver.init"),
    _shared("switch_after", ("adam+lbfgs",), "it acts for adam+lbfgs only"),
    _shared("lbfgs_history", ("lbfgs", "adam+lbfgs"), "it acts for L-BFGS only"),
    _shared("lbfgs_resample", ("lbfgs", "adam+lbfgs"), "it acts for L-BFGS only"),
    _shared("lbfgs_impl", ("lbfgs", "adam+lbfgs"), "it acts for L-BFGS only"),
    _shared(
        "resample_every",
        ("adam", "adam+lbfgs"),
        "L-BFGS holds its samples fixed (solver.lbfgs_resample: new samples per check window)",
    ),
    _boundary("boundary_weight"),
    _boundary("boundary_samples"),
    _derivative("h", H_STRATEGIES),
    _derivative("scheme", SCHEME_STRATEGIES),
    _c2f("coarse_to_fine_start_levels", False),
    _c2f("coarse_to_fine_interval", False),
    _c2f("coarse_to_fine_unit", False),
    _c2f("coarse_to_fine_levels", True),
    _c2f("coarse_to_fine_h_start", True),
    Rule("derivative.omega0_auto_iters", _omega0_auto_iters),
    Rule("run.compile", _compile),
    Rule("case.boundary_value", _boundary_value),
)
#: keys not checked for grid runs (the grid solver reads none of them; see module doc)
GRID_EXEMPT = ("solver.", "derivative.")


def _value(obj: Any, dotted: str) -> tuple[Any, Any]:
    """(value, dataclass default) of ``dotted`` below ``obj``."""
    *path, last = dotted.split(".")
    for p in path:
        obj = getattr(obj, p)
    f = {x.name: x for x in dataclasses.fields(obj)}[last]
    default = f.default if f.default is not dataclasses.MISSING else None
    return getattr(obj, last), default


def check_effective(cfg: RunConfig) -> None:
    """Raise :class:`ConfigError` for the first key set away from its default in a mode
    where it has no effect (see the module docstring)."""
    grid = cfg.representation.kind == "grid"
    for rule in RULES:
        if grid and rule.key.startswith(GRID_EXEMPT):
            continue
        value, default = _value(cfg, rule.key)
        if value == default:
            continue
        why = rule.inert(cfg)
        if why is not None:
            raise ConfigError(f"{rule.key} = {value!r} has no effect here: {why}")
