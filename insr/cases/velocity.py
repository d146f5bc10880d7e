"""Prescribed advection velocities and their exact characteristics.

Each velocity gives ``v(x, t)`` (``(N, d)``, physical units per unit time) and the foot
of the characteristic ``X(x, t)`` such that the exact solution of ``u_t + v . grad u = 0``
is ``u(x, t) = u0(X(x, t))``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from insr.schema import ConfigError, from_dict, opt, suggest


@dataclass
class Constant:
    """Uniform velocity ``a`` (a translation)."""

    a: tuple[float, ...]

    def __call__(self, x: torch.Tensor, t: float = 0.0) -> torch.Tensor:
        return torch.tensor(self.a, dtype=x.dtype, device=x.device).expand_as(x)

    def foot(self, x: torch.Tensor, t: float) -> torch.Tensor:
        return x - t * torch.tensor(self.a, dtype=x.dtype, device=x.device)

    def jacobian(self, x: torch.Tensor) -> torch.Tensor:
        """``dv_i/dx_j`` ``(N, d, d)``."""
        d = x.shape[1]
        return torch.zeros(x.shape[0], d, d, dtype=x.dtype, device=x.device)


@dataclass
class Rotation:
    """Solid-body rotation with angular velocity ``omega`` (rad per unit time) about ``center``
    (2D): ``v = omega * (-(y - cy), x - cx)``."""

    omega: float
    center: tuple[float, float] = (0.0, 0.0)

    def __call__(self, x: torch.Tensor, t: float = 0.0) -> torch.Tensor:
        c = torch.tensor(self.center, dtype=x.dtype, device=x.device)
        r = x - c
        return self.omega * torch.stack([-r[:, 1], r[:, 0]], dim=1)

    def foot(self, x: torch.Tensor, t: float) -> torch.Tensor:
        c = torch.tensor(self.center, dtype=x.dtype, device=x.device)
        r = x - c
        th = -self.omega * t
        cs, sn = math.cos(th), math.sin(th)
        return c + torch.stack([cs * r[:, 0] - sn * r[:, 1], sn * r[:, 0] + cs * r[:, 1]], dim=1)

    def jacobian(self, x: torch.Tensor) -> torch.Tensor:
        j = torch.tensor([[0.0, -self.omega], [self.omega, 0.0]], dtype=x.dtype, device=x.device)
        return j.expand(x.shape[0], 2, 2)


@dataclass(kw_only=True)
class ConstantTable:
    """``{kind = "constant", value = [a_1, ..., a_d]}``."""

    kind: Literal["constant"] = opt("constant")
    value: list[float] = opt(doc="velocity, one number per axis")

    def build(self, dim: int, path: str) -> Constant:
        if len(self.value) != dim:
            raise ConfigError(
                f"{path}.value = {self.value!r} is not allowed: expected {dim} number(s)"
            )
        return Constant(tuple(self.value))


@dataclass
class RotationTable:
    """``{kind = "rotation", omega = 1.0, center = [cx, cy]}`` (2D)."""

    kind: Literal["rotation"] = opt("rotation")
    omega: float = opt(1.0, doc="angular velocity, rad per unit time")
    center: list[float] = opt([0.0, 0.0], doc="center of rotation")

    def build(self, dim: int, path: str) -> Rotation:
        if dim != 2:
            raise ConfigError(f"{path}.kind = 'rotation' needs a 2D domain, got {dim}D")
        if len(self.center) != 2:
            raise ConfigError(f"{path}.center = {self.center!r} is not allowed: expected 2 numbers")
        return Rotation(self.omega, (self.center[0], self.center[1]))


#: velocity kind -> its typed table (``build(dim, path)`` makes the velocity)
VELOCITIES: dict[str, type] = {"constant": ConstantTable, "rotation": RotationTable}
KINDS = tuple(VELOCITIES)


def make_velocity(spec: dict, dim: int, path: str = "case.velocity") -> Constant | Rotation:
    """Build the velocity of a ``[case.velocity]`` table."""
    kind = spec.get("kind", "constant")
    if kind not in VELOCITIES:
        raise ConfigError(
            f"unknown velocity kind '{kind}'{suggest(str(kind), KINDS)}; "
            f"allowed: {', '.join(KINDS)}"
        )
    return from_dict(VELOCITIES[kind], spec, path).build(dim, path)
