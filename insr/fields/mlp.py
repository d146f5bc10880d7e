"""Coordinate MLPs: SIREN (sine), Gaussian-activation and tanh/softplus networks.

All three share one structure -- ``hidden_layers`` hidden layers of width
``hidden_features`` and a linear output layer -- and differ in the activation and
the initialization. Inputs are physical coordinates, mapped to ``[-1, 1]^d`` first.

Each supports a closed-form derivative pass: for ``z = W h + b`` and ``a = s(z)``,
``dz = W dh`` and ``da = s'(z) * dz``, carried for all ``d`` input directions at
once, which yields the spatial Jacobian in one forward sweep (no double backward).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from insr.config import ConfigError, at_least, opt, positive
from insr.fields.base import Field


@dataclass
class SirenConfig:
    """SIREN (Sitzmann et al. 2020): ``sin(omega0 * (W x + b))`` layers.

    ``omega0 = "auto"`` picks it at step 0 from ``omega0_candidates`` (lowest gradient
    error of the initial fit against the exact initial gradient).
    """

    hidden_layers: int = opt(2, check=at_least(1))
    hidden_features: int = opt(20, check=at_least(1))
    omega0: float | str = opt(30.0)
    hidden_omega0: float = opt(30.0, check=positive)
    omega0_candidates: list[float] = opt([5.0, 10.0, 20.0, 30.0, 50.0])

    def validate(self, path: str) -> None:
        if isinstance(self.omega0, str):
            if self.omega0 != "auto":
                raise ConfigError(
                    f"{path}.omega0 = {self.omega0!r} is not allowed: expected a number > 0 or 'auto'"
                )
        elif not self.omega0 > 0:
            raise ConfigError(f"{path}.omega0 = {self.omega0} is not allowed: expected a number > 0")
        if not self.omega0_candidates or any(c <= 0 for c in self.omega0_candidates):
            raise ConfigError(f"{path}.omega0_candidates must be a non-empty list of numbers > 0")


@dataclass
class GaussConfig:
    """Gaussian-activation MLP (Ramasinghe & Lucey 2022): ``exp(-z^2 / (2 sigma^2))``."""

    hidden_layers: int = opt(2, check=at_least(1))
    hidden_features: int = opt(32, check=at_least(1))
    sigma: float = opt(0.1, check=positive)


@dataclass
class MLPConfig:
    """Classical PINN MLP with a smooth activation."""

    hidden_layers: int = opt(3, check=at_least(1))
    hidden_features: int = opt(32, check=at_least(1))
    activation: Literal["tanh", "softplus"] = opt("tanh")


class _Sine:
    def __init__(self, w0: float) -> None:
        self.w0 = w0

    def value_and_slope(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        wz = self.w0 * z
        return torch.sin(wz), self.w0 * torch.cos(wz)

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.w0 * z)


class _Gauss:
    def __init__(self, sigma: float) -> None:
        self.c = 1.0 / (2.0 * sigma * sigma)

    def value_and_slope(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = torch.exp(-self.c * z * z)
        return a, -2.0 * self.c * z * a

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return torch.exp(-self.c * z * z)


class _Tanh:
    def value_and_slope(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = torch.tanh(z)
        return a, 1.0 - a * a

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(z)


class _Softplus:
    def value_and_slope(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.nn.functional.softplus(z), torch.sigmoid(z)

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.softplus(z)


class ActivationMLP(Field):
    """MLP on ``[-1, 1]^d`` coordinates with per-layer activations and a linear head."""

    has_closed_form = True

    def __init__(
        self,
        domain: Sequence[Sequence[float]],
        out_features: int,
        hidden_layers: int,
        hidden_features: int,
        activations: Sequence,
    ) -> None:
        super().__init__(domain, out_features)
        dims = [self.in_features] + [hidden_features] * hidden_layers
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.head = nn.Linear(hidden_features, out_features)
        self.acts = list(activations)
        assert len(self.acts) == hidden_layers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.to_symmetric(x)
        for layer, act in zip(self.layers, self.acts):
            h = act(layer(h))
        return self.head(h)

    def value_and_jacobian(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.to_symmetric(x)
        n, d = x.shape
        # dh: (N, d, width) -- derivative of the hidden state along each input axis.
        scale = 2.0 * self.unit_scale(x.dtype).to(x.device)  # d(symmetric)/d(physical)
        first = self.layers[0]
        z = first(h)
        dz = (first.weight.t().unsqueeze(0) * scale.view(1, d, 1)).expand(n, d, -1)
        a, s = self.acts[0].value_and_slope(z)
        h, dh = a, s.unsqueeze(1) * dz
        for layer, act in zip(self.layers[1:], self.acts[1:]):
            z = layer(h)
            dz = dh @ layer.weight.t()
            a, s = act.value_and_slope(z)
            h, dh = a, s.unsqueeze(1) * dz
        u = self.head(h)
        jac = (dh @ self.head.weight.t()).transpose(1, 2)  # (N, c, d)
        return u, jac


class Siren(ActivationMLP):
    """SIREN with the initialization of Sitzmann et al. (2020), Sec. 3.2."""

    def __init__(self, cfg: SirenConfig, domain: Sequence[Sequence[float]], out_features: int):
        w0 = float(cfg.omega0) if not isinstance(cfg.omega0, str) else 30.0
        acts = [_Sine(w0)] + [_Sine(cfg.hidden_omega0)] * (cfg.hidden_layers - 1)
        super().__init__(domain, out_features, cfg.hidden_layers, cfg.hidden_features, acts)
        self.omega0 = w0
        with torch.no_grad():
            first = self.layers[0]
            first.weight.uniform_(-1.0 / first.in_features, 1.0 / first.in_features)
            for layer in [*self.layers[1:], self.head]:
                bound = math.sqrt(6.0 / layer.in_features) / cfg.hidden_omega0
                layer.weight.uniform_(-bound, bound)


class GaussMLP(ActivationMLP):
    def __init__(self, cfg: GaussConfig, domain: Sequence[Sequence[float]], out_features: int):
        acts = [_Gauss(cfg.sigma)] * cfg.hidden_layers
        super().__init__(domain, out_features, cfg.hidden_layers, cfg.hidden_features, acts)


class TanhMLP(ActivationMLP):
    def __init__(self, cfg: MLPConfig, domain: Sequence[Sequence[float]], out_features: int):
        act = _Tanh() if cfg.activation == "tanh" else _Softplus()
        super().__init__(domain, out_features, cfg.hidden_layers, cfg.hidden_features, [act] * cfg.hidden_layers)
        with torch.no_grad():
            for layer in [*self.layers, self.head]:
                nn.init.xavier_uniform_(layer.weight)
                layer.bias.zero_()
