"""Pointwise activations of the coordinate MLPs with their first three derivatives.

Every activation ``s`` offers, elementwise on pre-activations ``z``:

- ``s(z)`` (``__call__``) and ``value_and_slope(z) -> (s(z), s'(z))``;
- ``curvature(z, a, s1) = s''(z)`` given ``a = s(z)`` and ``s1 = s'(z)``;
- ``third(z, a, s1, s2) = s'''(z)`` given also ``s2 = s''(z)``.

The closed-form sweeps of :mod:`insr.fields.mlp` propagate value, first and second
derivatives through a layer with ``s, s', s''``; their hand-written backward passes need
one more derivative, ``s'''``. ``key`` identifies an activation with its constants (for
caches of compiled sweeps).
"""

from __future__ import annotations

from collections.abc import Callable

import torch


class Sine:
    """``s(z) = sin(w0 z)`` (SIREN)."""

    def __init__(self, w0: float) -> None:
        self.w0 = float(w0)
        self.key: tuple = ("sine", self.w0)

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.w0 * z)

    def value_and_slope(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        wz = self.w0 * z
        return torch.sin(wz), self.w0 * torch.cos(wz)

    def curvature(self, z: torch.Tensor, a: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        """``-w0^2 sin(w0 z)``."""
        return (-self.w0 * self.w0) * a

    def third(
        self, z: torch.Tensor, a: torch.Tensor, s1: torch.Tensor, s2: torch.Tensor
    ) -> torch.Tensor:
        """``-w0^3 cos(w0 z) = -w0^2 s'``."""
        return (-self.w0 * self.w0) * s1


class Gauss:
    """``s(z) = exp(-z^2 / (2 sigma^2))``; with ``c = 1 / (2 sigma^2)``: ``s' = -2 c z s``."""

    def __init__(self, sigma: float) -> None:
        self.c = 1.0 / (2.0 * float(sigma) ** 2)
        self.key: tuple = ("gauss", float(sigma))

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return torch.exp(-self.c * z * z)

    def value_and_slope(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = torch.exp(-self.c * z * z)
        return a, -2.0 * self.c * z * a

    def curvature(self, z: torch.Tensor, a: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        """``d/dz (-2 c z s) = -2 c (s + z s')``."""
        return -2.0 * self.c * (a + z * s1)

    def third(
        self, z: torch.Tensor, a: torch.Tensor, s1: torch.Tensor, s2: torch.Tensor
    ) -> torch.Tensor:
        """``d/dz (-2 c (s + z s')) = -2 c (2 s' + z s'')``."""
        return -2.0 * self.c * (2.0 * s1 + z * s2)


class Tanh:
    """``s(z) = tanh z``: ``s' = 1 - s^2``."""

    key: tuple = ("tanh",)

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(z)

    def value_and_slope(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = torch.tanh(z)
        return a, 1.0 - a * a

    def curvature(self, z: torch.Tensor, a: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        """``-2 s s'``."""
        return -2.0 * a * s1

    def third(
        self, z: torch.Tensor, a: torch.Tensor, s1: torch.Tensor, s2: torch.Tensor
    ) -> torch.Tensor:
        """``d/dz (-2 s s') = -2 (s'^2 + s s'')``."""
        return -2.0 * (s1 * s1 + a * s2)


class Softplus:
    """``s(z) = log(1 + e^z)``: ``s' = sigmoid(z)``."""

    key: tuple = ("softplus",)

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.softplus(z)

    def value_and_slope(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.nn.functional.softplus(z), torch.sigmoid(z)

    def curvature(self, z: torch.Tensor, a: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        """``sigma (1 - sigma)``."""
        return s1 * (1.0 - s1)

    def third(
        self, z: torch.Tensor, a: torch.Tensor, s1: torch.Tensor, s2: torch.Tensor
    ) -> torch.Tensor:
        """``d/dz sigma (1 - sigma) = sigma (1 - sigma) (1 - 2 sigma)``."""
        return s2 * (1.0 - 2.0 * s1)


#: activation name (the first element of its ``key``) -> class
ACTIVATIONS: dict[str, Callable] = {
    "sine": Sine,
    "gauss": Gauss,
    "tanh": Tanh,
    "softplus": Softplus,
}
