"""Coordinate MLPs: SIREN (sine), Gaussian-activation and tanh/softplus networks.

All three share one structure -- ``hidden_layers`` hidden layers of width
``hidden_features`` and a linear output layer -- and differ in the activation and
the initialization. Inputs are physical coordinates, mapped to ``[-1, 1]^d`` first.

Each supports a closed-form derivative pass: for ``z = W h + b`` and ``a = s(z)``,
``dz = W dh`` and ``da = s'(z) * dz``, carried for all ``d`` input directions at
once, which yields the spatial Jacobian in one forward sweep (no double backward).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from insr.fields.base import Field
from insr.schema import ConfigError, at_least, opt, positive


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
                    f"{path}.omega0 = {self.omega0!r} is not allowed: "
                    "expected a number > 0 or 'auto'"
                )
        elif not self.omega0 > 0:
            raise ConfigError(
                f"{path}.omega0 = {self.omega0} is not allowed: expected a number > 0"
            )
        if not self.omega0_candidates or any(c <= 0 for c in self.omega0_candidates):
            raise ConfigError(f"{path}.omega0_candidates must be a non-empty list of numbers > 0")

    def build(self, domain: Sequence[Sequence[float]], out_features: int) -> Siren:
        """The field for box ``domain`` with ``out_features`` channels."""
        return Siren(self, domain, out_features)


@dataclass
class GaussConfig:
    """Gaussian-activation MLP (Ramasinghe & Lucey 2022): ``exp(-z^2 / (2 sigma^2))``."""

    hidden_layers: int = opt(2, check=at_least(1))
    hidden_features: int = opt(32, check=at_least(1))
    sigma: float = opt(0.1, check=positive)

    def build(self, domain: Sequence[Sequence[float]], out_features: int) -> GaussMLP:
        """The field for box ``domain`` with ``out_features`` channels."""
        return GaussMLP(self, domain, out_features)


@dataclass
class MLPConfig:
    """Classical PINN MLP with a smooth activation."""

    hidden_layers: int = opt(3, check=at_least(1))
    hidden_features: int = opt(32, check=at_least(1))
    activation: Literal["tanh", "softplus"] = opt("tanh")

    def build(self, domain: Sequence[Sequence[float]], out_features: int) -> TanhMLP:
        """The field for box ``domain`` with ``out_features`` channels."""
        return TanhMLP(self, domain, out_features)


class _Sine:
    def __init__(self, w0: float) -> None:
        self.w0 = w0
        self.key = ("sine", float(w0))

    def value_and_slope(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        wz = self.w0 * z
        return torch.sin(wz), self.w0 * torch.cos(wz)

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.w0 * z)

    def curvature(self, z: torch.Tensor, a: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """``s''(z)`` given ``a = s(z)`` and ``s'(z)``: ``-w0^2 sin(w0 z)``."""
        return (-self.w0 * self.w0) * a


class _Gauss:
    def __init__(self, sigma: float) -> None:
        self.c = 1.0 / (2.0 * sigma * sigma)
        self.key = ("gauss", float(sigma))

    def value_and_slope(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = torch.exp(-self.c * z * z)
        return a, -2.0 * self.c * z * a

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return torch.exp(-self.c * z * z)

    def curvature(self, z: torch.Tensor, a: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        # d/dz (-2 c z a) = -2 c a - 2 c z s
        return -2.0 * self.c * (a + z * s)


class _Tanh:
    key = ("tanh",)

    def value_and_slope(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = torch.tanh(z)
        return a, 1.0 - a * a

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(z)

    def curvature(self, z: torch.Tensor, a: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return -2.0 * a * s


class _Softplus:
    key = ("softplus",)

    def value_and_slope(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.nn.functional.softplus(z), torch.sigmoid(z)

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.softplus(z)

    def curvature(self, z: torch.Tensor, a: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return s * (1.0 - s)


_ACTS: dict[str, Callable] = {
    "sine": _Sine,
    "gauss": _Gauss,
    "tanh": _Tanh,
    "softplus": _Softplus,
}


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
        self.layers = nn.ModuleList(
            nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:], strict=True)
        )
        self.head = nn.Linear(hidden_features, out_features)
        self.acts = list(activations)
        assert len(self.acts) == hidden_layers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.to_symmetric(x)
        for layer, act in zip(self.layers, self.acts, strict=True):
            h = act(layer(h))
        return self.head(h)

    def value_and_jacobian(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Values ``(N, c)`` and Jacobian ``(N, c, d)`` in one closed-form sweep.

        When a graph for the parameters is needed and ``x`` does not require grad, the
        sweep runs as :class:`ClosedFormMLP` (a ``torch.autograd.Function`` with a
        hand-written backward, about half the ops of autograd through the sweep);
        otherwise, or with ``custom_backward = False``, it uses plain autograd.
        """
        scale = self._sym_scale(x)
        h0 = self.to_symmetric(x)
        params = self._flat_params()
        if self.compiled:
            return _compiled_sweep(tuple(a.key for a in self.acts))(h0, scale, *params)
        # The hand-written backward gives parameter gradients only: when derivatives with
        # respect to x are wanted (x.requires_grad, e.g. for a Laplacian), use autograd.
        if (
            self.custom_backward
            and torch.is_grad_enabled()
            and not x.requires_grad
            and any(p.requires_grad for p in params)
        ):
            return ClosedFormMLP.apply(h0, scale, self.acts, *params)
        return _closed_sweep(h0, scale, self.acts, params)[:2]

    def directional_derivatives(
        self, x: torch.Tensor, v: torch.Tensor, create_graph: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Values ``(N, c)``, Jacobian ``(N, c, d)`` and ``v^T H v`` ``(N, c)`` in one
        closed-form forward sweep (see :func:`_directional_sweep`); the parameter
        gradient, when ``create_graph``, is plain autograd through the sweep."""
        with torch.set_grad_enabled(create_graph and torch.is_grad_enabled()):
            v = v.to(x.dtype)
            out = _directional_sweep(
                self.to_symmetric(x), self._sym_scale(x), v, self.acts, self._flat_params()
            )
        if not create_graph:
            return tuple(t.detach() for t in out)  # type: ignore[return-value]
        return out

    def _sym_scale(self, x: torch.Tensor) -> torch.Tensor:
        """``d(symmetric coordinate)/d(physical coordinate)`` per axis, shape ``(d,)``."""
        return 2.0 * self.unit_scale(x.dtype).to(x.device)

    def _flat_params(self) -> list[torch.Tensor]:
        out: list[torch.Tensor] = []
        for layer in [*self.layers, self.head]:
            out += [layer.weight, layer.bias]
        return out

    custom_backward: bool = True
    compiled: bool = False  # torch.compile the sweep (autograd backward); see run.compile


def _closed_sweep(
    h0: torch.Tensor, scale: torch.Tensor, acts: Sequence, params: Sequence[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor, list]:
    """The closed-form forward: ``z = W h + b``, ``dz = W dh``, ``h' = s(z)``,
    ``dh' = s'(z) dz`` for every input axis at once (``dh`` is ``(N, d, width)``).

    Returns ``u (N, c)``, ``J (N, c, d)`` and the per-layer tensors the backward needs.
    """
    n_hidden = len(acts)
    w1, b1 = params[0], params[1]
    z = torch.addmm(b1, h0, w1.t())
    dz = (w1.t() * scale.unsqueeze(1)).unsqueeze(0)  # (1, d, width): same for every point
    saved = []
    h_in, dh_in = h0, None
    h = dh = z  # placeholders for type checkers
    for i in range(n_hidden):
        if i > 0:
            w, b = params[2 * i], params[2 * i + 1]
            z = torch.addmm(b, h, w.t())
            dz = dh @ w.t()
        a, s = acts[i].value_and_slope(z)
        saved.append((h_in, dh_in, z, dz, a, s))
        h, dh = a, s.unsqueeze(1) * dz
        h_in, dh_in = h, dh
    wo, bo = params[-2], params[-1]
    u = torch.addmm(bo, h, wo.t())
    jac = (dh @ wo.t()).transpose(1, 2)  # (N, c, d)
    return u, jac, saved + [(h, dh)]


def _directional_sweep(
    h0: torch.Tensor,
    scale: torch.Tensor,
    v: torch.Tensor,
    acts: Sequence,
    params: Sequence[torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Closed-form value, Jacobian and second directional derivative along ``v``.

    Per layer, with ``dz`` the derivatives along every input axis ``(N, d, width)``,
    ``dz_v = sum_j v_j dz_j`` and ``ddz`` the second derivative along ``v``:
    ``z = W h + b``, ``dz = W dh``, ``ddz = W ddh``; ``a = s(z)``, ``da = s'(z) dz``,
    ``dda = s''(z) dz_v^2 + s'(z) ddz`` (the first layer is linear in ``x``: ``ddz = 0``).
    Returns ``u (N, c)``, ``J (N, c, d)``, ``v^T H v (N, c)``.
    """
    w1, b1 = params[0], params[1]
    z = torch.addmm(b1, h0, w1.t())
    dz = (w1.t() * scale.unsqueeze(1)).unsqueeze(0)  # (1, d, width)
    ddz = None
    h = dh = ddh = z
    for i, act in enumerate(acts):
        if i > 0:
            w, b = params[2 * i], params[2 * i + 1]
            z = torch.addmm(b, h, w.t())
            dz = dh @ w.t()
            ddz = ddh @ w.t()
        dzv = (v.unsqueeze(-1) * dz).sum(-2)  # (N, width), or (width,) on layer 1 with v (d,)
        a, s = act.value_and_slope(z)
        h, dh = a, s.unsqueeze(1) * dz
        ddh = act.curvature(z, a, s) * dzv * dzv
        if ddz is not None:
            ddh = ddh + s * ddz
    wo, bo = params[-2], params[-1]
    u = torch.addmm(bo, h, wo.t())
    jac = (dh @ wo.t()).transpose(1, 2)
    return u, jac, ddh @ wo.t()


@functools.lru_cache(maxsize=16)
def _compiled_sweep(key: tuple) -> Callable:
    """One compiled closed-form sweep per activation stack, shared by every field with
    that stack (the previous step's frozen copy included), so nothing recompiles."""
    acts = [_ACTS[k[0]](*k[1:]) for k in key]

    def sweep(h0: torch.Tensor, scale: torch.Tensor, *params: torch.Tensor):
        u, jac, _ = _closed_sweep(h0, scale, acts, params)
        return u, jac

    return torch.compile(sweep, dynamic=False)


class ClosedFormMLP(torch.autograd.Function):
    """Closed-form value+Jacobian of an :class:`ActivationMLP` with a hand-written backward.

    ``apply(h0, scale, acts, W1, b1, ..., Wo, bo) -> (u, J)`` with ``h0`` the symmetric
    coordinates ``(N, d)``, ``scale`` ``(d,)`` the chain-rule factor to physical units.
    Backward (for layer ``h = s(z), dh = s'(z) dz``): ``gz = gh s' + sum_d(gdh dz) s''``,
    ``gdz = gdh s'``, then ``gW = gz^T h_in + gdz^T dh_in``, ``gh_in = gz W``,
    ``gdh_in = gdz W``. No gradient flows to ``h0`` or ``scale``.
    """

    @staticmethod
    def gradcheck_inputs() -> tuple:
        """Sample float64 inputs for ``torch.autograd.gradcheck`` (used by ``insr gradcheck``):
        a 2-layer sine network, 2D inputs; the parameters are the checked inputs."""
        gen = torch.Generator().manual_seed(0)
        dims = [2, 5, 4, 2]
        params = []
        for a, b in zip(dims[:-1], dims[1:], strict=True):
            params.append(torch.randn(b, a, generator=gen, dtype=torch.float64).requires_grad_())
            params.append(torch.randn(b, generator=gen, dtype=torch.float64).requires_grad_())
        h0 = torch.rand(7, 2, generator=gen, dtype=torch.float64) * 2 - 1
        scale = torch.tensor([0.5, 2.0], dtype=torch.float64)
        return (h0, scale, [_Sine(3.0), _Gauss(0.7)], *params)

    @staticmethod
    def forward(ctx, h0, scale, acts, *params):
        u, jac, saved = _closed_sweep(h0, scale, acts, params)
        ctx.acts = acts
        ctx.layers = saved
        ctx.save_for_backward(scale, *params)
        return u, jac

    @staticmethod
    def backward(ctx, gu, gjac):
        scale, *params = ctx.saved_tensors
        acts = ctx.acts
        *layers, (h, dh) = ctx.layers
        n, d, w_last = dh.shape
        grads = [None] * len(params)
        wo = params[-2]
        gjt = gjac.transpose(1, 2)  # (N, d, c)
        c = gjt.shape[2]
        grads[-2] = gu.t() @ h + gjt.reshape(-1, c).t() @ dh.reshape(-1, w_last)
        grads[-1] = gu.sum(0)
        gh = gu @ wo
        gdh = gjt @ wo  # (N, d, width)
        for i in range(len(acts) - 1, -1, -1):
            h_in, dh_in, z, dz, a, s = layers[i]
            gz = gh * s + (gdh * dz).sum(1) * acts[i].curvature(z, a, s)
            gdz = gdh * s.unsqueeze(1)
            w = params[2 * i]
            if i > 0:
                width_in = dh_in.shape[2]
                grads[2 * i] = gz.t() @ h_in + gdz.reshape(-1, gdz.shape[2]).t() @ dh_in.reshape(
                    -1, width_in
                )
                grads[2 * i + 1] = gz.sum(0)
                gh = gz @ w
                gdh = gdz @ w
            else:
                # dz1 = scale_j W1[:, j] for every point
                grads[0] = gz.t() @ h_in + gdz.sum(0).t() * scale.unsqueeze(0)
                grads[1] = gz.sum(0)
        return (None, None, None, *grads)


class Siren(ActivationMLP):
    """SIREN with the initialization of Sitzmann et al. (2020), Sec. 3.2."""

    def __init__(self, cfg: SirenConfig, domain: Sequence[Sequence[float]], out_features: int):
        w0 = float(cfg.omega0) if not isinstance(cfg.omega0, str) else 30.0
        acts = [_Sine(w0)] + [_Sine(cfg.hidden_omega0)] * (cfg.hidden_layers - 1)
        super().__init__(domain, out_features, cfg.hidden_layers, cfg.hidden_features, acts)
        self.omega0 = w0
        with torch.no_grad():
            first = self.layers[0]
            assert isinstance(first, nn.Linear)
            first.weight.uniform_(-1.0 / first.in_features, 1.0 / first.in_features)
            for layer in [*self.layers[1:], self.head]:
                assert isinstance(layer, nn.Linear)
                bound = math.sqrt(6.0 / layer.in_features) / cfg.hidden_omega0
                layer.weight.uniform_(-bound, bound)


class GaussMLP(ActivationMLP):
    def __init__(self, cfg: GaussConfig, domain: Sequence[Sequence[float]], out_features: int):
        acts = [_Gauss(cfg.sigma)] * cfg.hidden_layers
        super().__init__(domain, out_features, cfg.hidden_layers, cfg.hidden_features, acts)


class TanhMLP(ActivationMLP):
    def __init__(self, cfg: MLPConfig, domain: Sequence[Sequence[float]], out_features: int):
        act = _Tanh() if cfg.activation == "tanh" else _Softplus()
        super().__init__(
            domain, out_features, cfg.hidden_layers, cfg.hidden_features, [act] * cfg.hidden_layers
        )
        with torch.no_grad():
            for layer in [*self.layers, self.head]:
                nn.init.xavier_uniform_(layer.weight)
                layer.bias.zero_()
