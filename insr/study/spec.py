"""A study file: the runs it needs and the claims it makes about them.

A study is a TOML file (shipped ones live in ``configs/study/``)::

    [study]
    name = "noisy-gradients"
    description = "..."

    [run.siren-w5]                        # one ordinary insr run, shared by every claim naming it
    case = "advection1d"
    steps = 30                            # full study
    quick_steps = 10                      # --quick (default: steps)
    set = ["representation.siren.omega0=5"]
    quick_set = []                        # extra overrides under --quick

    [[claim]]
    id = "C2"
    text = "A larger SIREN omega0 gives noisier gradients."
    kind = "compare"                      # see insr.study.claims.STATEMENTS
    left = "siren-w50:gradient_noise_autodiff@20"
    op = ">"
    factor = 3.0
    right = "siren-w5:gradient_noise_autodiff@20"

A quantity is written ``RUN:NAME@STEP``: NAME is a per-step metric of the run's log
(``metrics/NAME``) or a derived quantity (:data:`insr.study.claims.DERIVED`); STEP is a step
number of the full study, ``first`` or ``last``. Under ``--quick`` a step k of a run with
``steps = S`` and ``quick_steps = Q`` is read at ``round(k * Q / S)`` and the report says so.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from insr.schema import ConfigError, at_least, from_dict, opt, suggest

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
QUANTITY_RE = re.compile(
    r"^(?P<run>[A-Za-z0-9][A-Za-z0-9_.+-]*):(?P<name>[A-Za-z0-9_]+)@(?P<step>\d+|first|last)$"
)


@dataclass
class RunSpec:
    """One run a study needs: a case and overrides, as ``insr run CASE --set ...`` takes them."""

    case: str = opt(doc="case name or case TOML path")
    steps: int = opt(check=at_least(0), doc="time steps of the full study")
    quick_steps: int | None = opt(None, check=at_least(0), doc="time steps under --quick")
    set: list[str] = opt([], doc="section.key=value overrides")
    quick_set: list[str] = opt([], doc="extra overrides under --quick")
    description: str = opt("", doc="what the run is for")

    def n_steps(self, quick: bool) -> int:
        return self.quick_steps if quick and self.quick_steps is not None else self.steps

    def overrides(self, quick: bool) -> list[str]:
        return [*self.set, *(self.quick_set if quick else [])]


@dataclass
class Quantity:
    """``RUN:NAME@STEP`` parsed."""

    run: str
    name: str
    step: int | Literal["first", "last"]

    @classmethod
    def parse(cls, text: str, where: str) -> Quantity:
        m = QUANTITY_RE.match(text.strip()) if isinstance(text, str) else None
        if m is None:
            raise ConfigError(
                f"{where} = {text!r} is not allowed: expected RUN:NAME@STEP "
                "(e.g. 'siren-w5:gradient_noise_autodiff@20', STEP a number, first or last)"
            )
        step = m["step"]
        return cls(m["run"], m["name"], int(step) if step.isdigit() else step)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return f"{self.run}:{self.name}@{self.step}"


Op = Literal[">", "<", ">=", "<="]


@dataclass
class ClaimSpec:
    """One claim: words, and a statement of one of the kinds in ``claims.STATEMENTS``."""

    id: str = opt(doc="short identifier, e.g. C1")
    text: str = opt(doc="the claim in words")
    kind: Literal["compare", "growth", "best"] = opt(doc="statement kind")
    left: str | None = opt(None, doc="compare: the left quantity")
    right: str | None = opt(None, doc="compare: the right quantity")
    op: Op = opt(">", doc="comparison operator")
    factor: float = opt(1.0, doc="compare: left OP factor * right")
    quantity: str | None = opt(None, doc="growth: the quantity at its first step")
    to_step: int | str | None = opt(None, doc="growth: the later step (number or last)")
    threshold: float = opt(
        0.0, doc="growth: relative change (later - first) / |first| OP threshold"
    )
    candidates: list[str] = opt([], doc="best: quantities to rank")
    expect: str | None = opt(None, doc="best: the run expected to rank first")
    order: Literal["lowest", "highest"] = opt("lowest", doc="best: which end ranks first")
    note: str = opt("", doc="what the study reported, or how insr's setup differs")

    def validate(self, path: str) -> None:
        need = {
            "compare": ("left", "right"),
            "growth": ("quantity", "to_step"),
            "best": ("expect",),
        }
        for key in need[self.kind]:
            if getattr(self, key) is None:
                raise ConfigError(f"missing key '{path}.{key}' (needed by kind = '{self.kind}')")
        if self.kind == "best" and len(self.candidates) < 2:
            raise ConfigError(f"{path}.candidates needs at least two quantities")
        for q in self.quantities_text():
            Quantity.parse(q, f"{path}")

    def quantities_text(self) -> list[str]:
        if self.kind == "compare":
            return [str(self.left), str(self.right)]
        if self.kind == "growth":
            return [str(self.quantity)]
        return list(self.candidates)


@dataclass
class StudyInfo:
    name: str = opt(doc="study name (used by `insr study NAME`)")
    description: str = opt("", doc="what the study asks")
    source: str = opt("", doc="where the claims come from")


@dataclass
class Study:
    """A parsed, cross-checked study file."""

    info: StudyInfo
    runs: dict[str, RunSpec]
    claims: list[ClaimSpec]
    path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def runs_of(self, claim: ClaimSpec) -> list[str]:
        names = [Quantity.parse(q, claim.id).run for q in claim.quantities_text()]
        return list(dict.fromkeys(names))


def parse_study(raw: dict[str, Any], where: str) -> Study:
    """Validate a study table (one-line :class:`ConfigError` for every problem)."""
    unknown = set(raw) - {"study", "run", "claim"}
    if unknown:
        raise ConfigError(
            f"{where}: unknown table(s) {sorted(unknown)}; allowed: study, run, claim"
        )
    if not isinstance(raw.get("study"), dict):
        raise ConfigError(f"{where}: missing table [study] (with at least name = ...)")
    info = from_dict(StudyInfo, raw["study"], "study")
    runs_raw = raw.get("run", {})
    if not isinstance(runs_raw, dict) or not runs_raw:
        raise ConfigError(f"{where}: needs at least one [run.NAME] table")
    runs = {}
    for name, r in runs_raw.items():
        if not NAME_RE.match(name):
            raise ConfigError(
                f"{where}: run name {name!r} is not allowed: use letters, digits, _.+-"
            )
        if not isinstance(r, dict):
            raise ConfigError(f"{where}: run.{name} must be a table")
        runs[name] = from_dict(RunSpec, r, f"run.{name}")
    claims_raw = raw.get("claim", [])
    if not isinstance(claims_raw, list) or not claims_raw:
        raise ConfigError(f"{where}: needs at least one [[claim]]")
    claims: list[ClaimSpec] = []
    for i, c in enumerate(claims_raw):
        if not isinstance(c, dict):
            raise ConfigError(f"{where}: claim {i + 1} must be a table")
        claims.append(from_dict(ClaimSpec, c, f"claim[{i}]"))
    study = Study(info, runs, claims, extra={"where": where})
    seen: set[str] = set()
    for c in claims:
        if c.id in seen:
            raise ConfigError(f"{where}: claim id '{c.id}' appears twice")
        seen.add(c.id)
        for run in study.runs_of(c):
            if run not in runs:
                raise ConfigError(
                    f"{where}: claim {c.id} names run '{run}'{suggest(run, runs)}, "
                    f"which has no [run.{run}] table"
                )
        if c.kind == "best" and c.expect not in study.runs_of(c):
            raise ConfigError(f"{where}: claim {c.id}: expect = '{c.expect}' is not a candidate")
    return study


def load_study(path: Path) -> Study:
    """Read and validate a study TOML file."""
    try:
        raw = tomllib.loads(path.read_text())
    except OSError as e:
        raise ConfigError(f"cannot read study file {path}: {e.strerror or e}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path} is not valid TOML: {e}") from None
    study = parse_study(raw, str(path))
    study.path = path
    return study
