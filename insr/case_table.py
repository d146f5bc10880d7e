"""The ``[case]`` table: the physical problem (a leaf: cases, equations and config use it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from insr.schema import ConfigError, at_least, check_name, opt, positive

MAX_COORD = 1e12  # coordinates beyond this lose all precision in float32 grids and samples


@dataclass
class CaseConfig:
    """The physical problem. Units are the case's own (domain length, time)."""

    name: str = opt(doc="case name, used for the output folder")
    pde: str = opt(doc="which equation: a name in the equation registry (insr.equations)")
    domain: list[list[float]] = opt(doc="box [[lo, hi], ...] per axis")
    dt: float = opt(check=positive, doc="time step")
    steps: int = opt(
        check=at_least(0), doc="number of time steps after step 0 (0: the initial fit only)"
    )
    initial: dict = opt(doc="initial condition: {family = ..., params...}")
    velocity: dict = opt({}, doc="advection velocity: {kind = constant|rotation|..., ...}")
    boundary: Literal["dirichlet", "none", "wall"] = opt("dirichlet", doc="boundary condition")
    boundary_value: float = opt(0.0, doc="Dirichlet value at the box faces")
    description: str = opt("", doc="one line shown by `insr cases`")
    reference: dict = opt({}, doc="reference-solver settings for cases without exact truth")

    def validate(self, path: str) -> None:
        check_name(f"{path}.name", self.name)  # the folder outputs/<case>/
        if not self.domain or any(len(iv) != 2 for iv in self.domain):
            raise ConfigError(f"{path}.domain must be a list of [lo, hi] pairs, got {self.domain}")
        for iv in self.domain:
            if not iv[1] > iv[0]:
                raise ConfigError(f"{path}.domain interval {iv} is empty: need lo < hi")
            if not max(abs(iv[0]), abs(iv[1])) <= MAX_COORD:
                raise ConfigError(
                    f"{path}.domain interval {iv} is not allowed: expected bounds of magnitude "
                    f"at most {MAX_COORD:g}"
                )
        if len(self.domain) not in (1, 2, 3):
            raise ConfigError(f"{path}.domain has {len(self.domain)} axes; allowed 1, 2 or 3")
        if "family" not in self.initial:
            raise ConfigError(f"{path}.initial needs a 'family' key (e.g. family = \"gaussian\")")

    @property
    def dim(self) -> int:
        return len(self.domain)
