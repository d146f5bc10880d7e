"""Prescribed advection velocities and their exact characteristics.

Each velocity gives ``v(x, t)`` (``(N, d)``, physical units per unit time) and the foot
of the characteristic ``X(x, t)`` such that the exact solution of ``u_t + v . grad u = 0``
is ``u(x, t) = u0(X(x, t))``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from insr.schema import ConfigError, suggest


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


KINDS = ("constant", "rotation")


def make_velocity(spec: dict, dim: int, path: str = "case.velocity"):
    kind = spec.get("kind", "constant")
    if kind == "constant":
        v = spec.get("value")
        if not isinstance(v, list) or len(v) != dim:
            raise ConfigError(f"{path}.value = {v!r} is not allowed: expected {dim} number(s)")
        extra = set(spec) - {"kind", "value"}
        if extra:
            raise ConfigError(f"unknown key '{path}.{sorted(extra)[0]}'; allowed: kind, value")
        return Constant(tuple(float(a) for a in v))
    if kind == "rotation":
        if dim != 2:
            raise ConfigError(f"{path}.kind = 'rotation' needs a 2D domain, got {dim}D")
        extra = set(spec) - {"kind", "omega", "center"}
        if extra:
            raise ConfigError(
                f"unknown key '{path}.{sorted(extra)[0]}'; allowed: kind, omega, center"
            )
        c = spec.get("center", [0.0, 0.0])
        return Rotation(float(spec.get("omega", 1.0)), (float(c[0]), float(c[1])))
    raise ConfigError(
        f"unknown velocity kind '{kind}'{suggest(str(kind), KINDS)}; allowed: {', '.join(KINDS)}"
    )
