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

from insr.fields.activations import ACTIVATIONS, Gauss, Sine, Softplus, Tanh
from insr.fields.base import Field, SampleMemo
from insr.fields.stacked import STACKED, second_backward_stacked, second_sweep_stacked
from insr.schema import ConfigError, at_least, opt, positive


@dataclass
class SirenConfig:
    """SIREN (Sitzmann et al. 2020): ``sin(omega0 * (W x + b))`` layers.

    ``omega0 = "auto"`` picks it at step 0 from ``omega0_candidates`` (lowest gradient
    error of the initial fit against the exact initial gradient).
    """

    hidden_layers: int = opt(2, check=at_least(1), doc="hidden sine layers")
    hidden_features: int = opt(20, check=at_least(1), doc="width of each hidden layer")
    omega0: float | str = opt(
        30.0, doc="first-layer frequency (number > 0), or 'auto': picked from omega0_candidates"
    )
    hidden_omega0: float = opt(30.0, check=positive, doc="frequency of the hidden layers")
    omega0_candidates: list[float] = opt(
        [5.0, 10.0, 20.0, 30.0, 50.0], doc="omega0 = 'auto': the values tried (all > 0)"
    )

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

    hidden_layers: int = opt(2, check=at_least(1), doc="hidden Gaussian layers")
    hidden_features: int = opt(32, check=at_least(1), doc="width of each hidden layer")
    sigma: float = opt(0.1, check=positive, doc="width of the Gaussian activation")

    def build(self, domain: Sequence[Sequence[float]], out_features: int) -> GaussMLP:
        """The field for box ``domain`` with ``out_features`` channels."""
        return GaussMLP(self, domain, out_features)


@dataclass
class MLPConfig:
    """Classical PINN MLP with a smooth activation."""

    hidden_layers: int = opt(3, check=at_least(1), doc="hidden layers")
    hidden_features: int = opt(32, check=at_least(1), doc="width of each hidden layer")
    activation: Literal["tanh", "softplus"] = opt("tanh", doc="activation of the hidden layers")

    def build(self, domain: Sequence[Sequence[float]], out_features: int) -> TanhMLP:
        """The field for box ``domain`` with ``out_features`` channels."""
        return TanhMLP(self, domain, out_features)


_Tanh, _Softplus = Tanh, Softplus  # former names (insr.fields.gridbase imports them)


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
        closed-form forward sweep (:func:`_second_sweep` with the one direction ``v``,
        ``(N, d)`` or ``(d,)``, physical units). With ``create_graph`` the parameter
        gradient is the hand-written backward of :class:`SecondOrderMLP` (see
        :meth:`_second`), else there is no graph."""
        v = v.to(x.dtype)
        u, jac, dd = self._second(x, v, create_graph)
        return u, jac, dd[:, 0]

    def directional_objective(
        self, x: torch.Tensor, v: torch.Tensor, objective: Callable
    ) -> torch.Tensor:
        """``loss`` of ``objective(u, J, v^T H v (N, 1, c)) -> (loss, (gu, gJ, gdd))`` at
        ``x`` along ``v`` (as :meth:`directional_derivatives`), its parameter gradient by
        hand in the same pass (:class:`SecondOrderObjective`): one autograd node for a
        whole loss. Needs ``x`` and ``v`` without graphs; under ``no_grad`` only the loss
        is computed."""
        v = v.to(x.dtype)
        h0, scale = self._symmetric_once(x)
        params = self._flat_params()
        if not torch.is_grad_enabled():
            u, jac, dd, _ = _second_sweep(h0, scale, v, self.acts, params, keep=False)
            return objective(u, jac, dd)[0]
        if x.requires_grad or v.requires_grad:
            raise ValueError("directional_objective: x and v must not require grad")
        # run.compile: the same pass under torch.compile
        obj = (
            _CompiledObjective(objective, tuple(a.key for a in self.acts))
            if self.compiled
            else objective
        )
        return SecondOrderObjective.apply(h0, scale, v, self.acts, obj, *params)

    def closed_laplacian(
        self, x: torch.Tensor, create_graph: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Values ``(N, c)``, Jacobian ``(N, c, d)`` and Laplacian ``(N, c)`` in one
        closed-form forward sweep carrying the ``d`` diagonal second derivatives
        (:func:`_second_sweep` with the axes as directions); parameter gradient as in
        :meth:`directional_derivatives`."""
        u, jac, dd = self._second(x, None, create_graph)
        return u, jac, dd.sum(1)

    def _second(
        self, x: torch.Tensor, v: torch.Tensor | None, create_graph: bool
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(u, J, dd)`` of :func:`_second_sweep`. With a parameter graph wanted, ``x`` and
        ``v`` free of graphs and ``second_order_backward``, the sweep runs as
        :class:`SecondOrderMLP` (hand-written backward); with a graph wanted otherwise,
        plain autograd through the sweep (which also gives derivatives in ``x``);
        without ``create_graph``, no graph."""
        h0, scale, params = self.to_symmetric(x), self._sym_scale(x), self._flat_params()
        if not (create_graph and torch.is_grad_enabled()):
            with torch.no_grad():
                return _second_sweep(h0, scale, v, self.acts, params, keep=False)[:3]
        if (
            self.second_order_backward
            and not x.requires_grad
            and (v is None or not v.requires_grad)
            and any(p.requires_grad for p in params)
        ):
            return SecondOrderMLP.apply(h0, scale, v, self.acts, *params)
        return _second_sweep(h0, scale, v, self.acts, params, keep=False)[:3]

    def _symmetric_once(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(to_symmetric(x), _sym_scale(x))``, remembered for the last ``x`` (its identity
        and in-place version, as :class:`insr.equations.base.PerSampleSet`): L-BFGS passes
        the same points on every evaluation of a step."""
        memo = self.__dict__.setdefault("_sym_memo", SampleMemo())
        value = memo.get(x)
        if value is not None:
            return value
        with torch.no_grad():
            return memo.put(x, (self.to_symmetric(x), self._sym_scale(x)))

    def _sym_scale(self, x: torch.Tensor) -> torch.Tensor:
        """``d(symmetric coordinate)/d(physical coordinate)`` per axis, shape ``(d,)``."""
        return 2.0 * self.unit_scale(x.dtype).to(x.device)

    def _flat_params(self) -> list[torch.Tensor]:
        out: list[torch.Tensor] = []
        for layer in [*self.layers, self.head]:
            out += [layer.weight, layer.bias]
        return out

    custom_backward: bool = True
    #: hand-written backward of the second-order sweep (False: autograd through it, the
    #: path before :class:`SecondOrderMLP`; kept measurable by ``benchmarks/perf.py``)
    second_order_backward: bool = True
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


def _second_sweep(
    h0: torch.Tensor,
    scale: torch.Tensor,
    v: torch.Tensor | None,
    acts: Sequence,
    params: Sequence[torch.Tensor],
    keep: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list]:
    """Closed-form value, Jacobian and ``K`` second derivatives along straight lines.

    Directions: ``v`` ``(N, d)`` or ``(d,)`` gives ``K = 1`` (``v^T H v``); ``v = None``
    gives the ``K = d`` axes (the Hessian diagonal, whose sum is the Laplacian). Per layer,
    with ``dz`` the derivatives along every input axis ``(N, d, width)``, ``dzv`` those
    along the ``K`` directions ``(N, K, width)`` (``dzv = sum_j v_j dz_j``, or ``dz``) and
    ``ddz`` the second derivatives along them: ``z = W h + b``, ``dz = W dh``,
    ``ddz = W ddh``; ``a = s(z)``, ``da = s'(z) dz``, ``dda = s''(z) dzv^2 + s'(z) ddz``
    (the first layer is linear in ``x``: ``ddz = 0``).

    Returns ``u (N, c)``, ``J (N, c, d)``, ``dd (N, K, c)`` and, when ``keep``, the
    per-layer tensors :class:`SecondOrderMLP` needs for its backward. One axis runs
    :func:`_second_sweep_1d`; ``d >= 2`` with no autograd graph recorded (no grad mode, or
    no input requiring grad; e.g. inside :class:`SecondOrderMLP`) runs
    :func:`insr.fields.stacked.second_sweep_stacked` unless :data:`STACKED_STREAMS` is off.
    """
    if h0.shape[1] == 1 and (v is None or v.numel() in (1, h0.shape[0])):
        return _second_sweep_1d(h0, scale, v, acts, params, keep)
    if STACKED_STREAMS and not _records_graph(h0, scale, v, params):
        return second_sweep_stacked(h0, scale, v, acts, params, keep)
    w1, b1 = params[0], params[1]
    z = torch.addmm(b1, h0, w1.t())
    dz = (w1.t() * scale.unsqueeze(1)).unsqueeze(0)  # (1, d, width): same for every point
    ddz: torch.Tensor | None = None
    saved: list = []
    h_in: torch.Tensor = h0
    dh_in: torch.Tensor | None = None
    ddh_in: torch.Tensor | None = None
    h = dh = ddh = z  # placeholders for type checkers
    for i, act in enumerate(acts):
        if i > 0:
            w, b = params[2 * i], params[2 * i + 1]
            z = torch.addmm(b, h, w.t())
            dz = dh @ w.t()
            ddz = ddh @ w.t()
        dzv = dz if v is None else (v.unsqueeze(-1) * dz).sum(-2, keepdim=True)
        a, s1 = act.value_and_slope(z)
        s2 = act.curvature(z, a, s1)
        s1e = s1.unsqueeze(1)
        dh = s1e * dz
        ddh = s2.unsqueeze(1) * (dzv * dzv)
        if ddz is not None:
            ddh = ddh + s1e * ddz
        if keep:
            saved.append((h_in, dh_in, ddh_in, z, dz, ddz, dzv, a, s1, s2))
        h = a
        h_in, dh_in, ddh_in = h, dh, ddh
    wo, bo = params[-2], params[-1]
    u = torch.addmm(bo, h, wo.t())
    jac = (dh @ wo.t()).transpose(1, 2)
    dd = ddh @ wo.t()
    return u, jac, dd, saved + [(h, dh, ddh)]


#: ``d >= 2`` sweeps without a graph in the stacked layout of :mod:`insr.fields.stacked`
#: (False: the per-axis layout before, kept measurable by
#: ``benchmarks/second_sweep_2d.py``)
STACKED_STREAMS = True


def _records_graph(
    h0: torch.Tensor, scale: torch.Tensor, v: torch.Tensor | None, params: Sequence[torch.Tensor]
) -> bool:
    """Whether autograd would record a graph through a sweep of these inputs."""
    if not torch.is_grad_enabled():
        return False
    return any(t is not None and t.requires_grad for t in (h0, scale, v, *params))


def _flat(t: torch.Tensor) -> torch.Tensor:
    """``(N, k, w) -> (N k, w)``."""
    return t.reshape(-1, t.shape[-1])


def _second_sweep_1d(
    h0: torch.Tensor,
    scale: torch.Tensor,
    v: torch.Tensor | None,
    acts: Sequence,
    params: Sequence[torch.Tensor],
    keep: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list]:
    """:func:`_second_sweep` for one input axis and one direction (``d = K = 1``), with
    every stream ``(N, width)``: the same formulas in fewer, larger operations. The three
    streams ``h, dh, ddh`` of a layer are stacked into one ``(3N, width)`` tensor so that
    each linear layer is one matrix product (and the backward reuses the stack)."""
    vc = None if v is None else v.reshape(-1, 1)  # (N, 1) or (1, 1)
    n = h0.shape[0]
    w1, b1 = params[0], params[1]
    z = torch.addmm(b1, h0, w1.t())
    dz = w1.t() * scale  # (1, width)
    ddz: torch.Tensor | None = None
    saved: list = []
    stack_in: torch.Tensor = h0  # layer 0: h0 only (its dh is constant, its ddh zero)
    h = dh = ddh = z
    for i, act in enumerate(acts):
        if i > 0:
            w, b = params[2 * i], params[2 * i + 1]
            stack_in = torch.cat([h, dh, ddh])
            out = stack_in @ w.t()
            z, dz, ddz = out[:n] + b, out[n : 2 * n], out[2 * n :]
        dzv = dz if vc is None else vc * dz
        a, s1 = act.value_and_slope(z)
        s2 = act.curvature(z, a, s1)
        dh = s1 * dz
        dzv2 = dzv * dzv
        ddh = s2 * dzv2 if ddz is None else torch.addcmul(s2 * dzv2, s1, ddz)
        if keep:
            saved.append((stack_in, z, dz, ddz, dzv, dzv2, a, s1, s2))
        h = a
    wo, bo = params[-2], params[-1]
    stack = torch.cat([h, dh, ddh])
    out = stack @ wo.t()
    u = out[:n] + bo
    jac = out[n : 2 * n].unsqueeze(-1)  # (N, c, 1)
    dd = out[2 * n :].unsqueeze(1)  # (N, 1, c)
    return u, jac, dd, saved + [(h, dh, ddh, stack)]


def _second_backward_1d(
    layers: list,
    params: Sequence[torch.Tensor],
    scale: torch.Tensor,
    v: torch.Tensor | None,
    acts: Sequence,
    gu: torch.Tensor,
    gjac: torch.Tensor,
    gdd: torch.Tensor,
) -> list[torch.Tensor]:
    """:func:`second_sweep_backward` for :func:`_second_sweep_1d`: the upstream gradients
    of a layer's three streams are stacked like the streams, so ``gW = G^T S`` and
    ``(gh, gdh, gddh) = G W`` are one product each."""
    vc = None if v is None else v.reshape(-1, 1)
    *hidden, (_, _, _, stack) = layers
    n = gu.shape[0]
    grads: list[torch.Tensor] = [gu] * len(params)  # placeholders, all overwritten
    g = torch.cat([gu, gjac[:, :, 0], gdd[:, 0, :]])
    grads[-2] = g.t() @ stack
    grads[-1] = gu.sum(0)
    gs = g @ params[-2]
    gh, gdh, gddh = gs[:n], gs[n : 2 * n], gs[2 * n :]
    for i in range(len(acts) - 1, -1, -1):
        stack_in, z, dz, ddz, dzv, dzv2, a, s1, s2 = hidden[i]
        s3 = acts[i].third(z, a, s1, s2)
        curv = gdh * dz if ddz is None else torch.addcmul(gdh * dz, gddh, ddz)
        gz = torch.addcmul(torch.addcmul(gh * s1, s2, curv), s3, gddh * dzv2)
        gdzv = (2.0 * gddh) * (s2 * dzv)
        gdz = gdh * s1 + gdzv if vc is None else torch.addcmul(gdh * s1, vc, gdzv)
        grads[2 * i + 1] = gz.sum(0)
        if i > 0:
            g = torch.cat([gz, gdz, gddh * s1])
            grads[2 * i] = g.t() @ stack_in
            gs = g @ params[2 * i]
            gh, gdh, gddh = gs[:n], gs[n : 2 * n], gs[2 * n :]
        else:
            grads[0] = gz.t() @ stack_in + gdz.sum(0).unsqueeze(1) * scale
    return grads


def second_sweep_backward(
    layers: list,
    params: Sequence[torch.Tensor],
    scale: torch.Tensor,
    v: torch.Tensor | None,
    acts: Sequence,
    gu: torch.Tensor,
    gjac: torch.Tensor,
    gdd: torch.Tensor,
) -> list[torch.Tensor]:
    """Parameter gradients of :func:`_second_sweep` (``keep=True``: ``layers`` is its last
    return value) for upstream gradients ``gu (N, c)``, ``gjac (N, c, d)``,
    ``gdd (N, K, c)``; the formulas are in :class:`SecondOrderMLP`."""
    if layers[-1][0] is STACKED:  # from second_sweep_stacked
        return second_backward_stacked(layers, params, scale, v, acts, gu, gjac, gdd)
    if layers[-1][1].dim() == 2:  # from _second_sweep_1d
        return _second_backward_1d(layers, params, scale, v, acts, gu, gjac, gdd)
    *hidden, (h, dh, ddh) = layers
    grads: list[torch.Tensor] = [gu] * len(params)  # placeholders, all overwritten
    wo = params[-2]
    gjt = gjac.transpose(1, 2)  # (N, d, c)
    grads[-2] = gu.t() @ h + _flat(gjt).t() @ _flat(dh) + _flat(gdd).t() @ _flat(ddh)
    grads[-1] = gu.sum(0)
    gh, gdh, gddh = gu @ wo, gjt @ wo, gdd @ wo
    for i in range(len(acts) - 1, -1, -1):
        h_in, dh_in, ddh_in, z, dz, ddz, dzv, a, s1, s2 = hidden[i]
        s3 = acts[i].third(z, a, s1, s2)
        s1e = s1.unsqueeze(1)
        gz = gh * s1 + (gdh * dz).sum(1) * s2 + (gddh * (dzv * dzv)).sum(1) * s3
        if ddz is not None:
            gz = gz + (gddh * ddz).sum(1) * s2
        gdzv = 2.0 * gddh * s2.unsqueeze(1) * dzv  # (N, K, width)
        gdz = gdh * s1e + (gdzv if v is None else v.unsqueeze(-1) * gdzv)
        grads[2 * i + 1] = gz.sum(0)
        if i > 0:
            w = params[2 * i]
            gddz = gddh * s1e
            grads[2 * i] = (
                gz.t() @ h_in + _flat(gdz).t() @ _flat(dh_in) + _flat(gddz).t() @ _flat(ddh_in)
            )
            gh, gdh, gddh = gz @ w, gdz @ w, gddz @ w
        else:
            # dz1[j, k] = scale_j W1[k, j] for every point
            grads[0] = gz.t() @ h_in + gdz.sum(0).t() * scale.unsqueeze(0)
    return grads


class SecondOrderMLP(torch.autograd.Function):
    """:func:`_second_sweep` with a hand-written backward (parameter gradients only).

    ``apply(h0, scale, v, acts, W1, b1, ..., Wo, bo) -> (u, J, dd)``; ``v`` ``(N, d)``,
    ``(d,)`` or ``None`` (the axes) as in :func:`_second_sweep`. Backward of one layer
    ``h = s(z)``, ``dh = s1 dz``, ``ddh = s2 dzv^2 + s1 ddz`` (``s1, s2, s3`` the first three
    derivatives of the activation at ``z``; upstream gradients ``gh, gdh, gddh``):
    ``gz = gh s1 + sum_d(gdh dz) s2 + sum_K(gddh dzv^2) s3 + sum_K(gddh ddz) s2``,
    ``gdz = gdh s1 + v (2 gddh s2 dzv)`` (``v`` = identity for the axes),
    ``gddz = gddh s1``; then ``gW = gz^T h_in + gdz^T dh_in + gddz^T ddh_in``,
    ``gb = sum gz``, and ``gh_in, gdh_in, gddh_in = gz W, gdz W, gddz W``. No gradient
    flows to ``h0``, ``scale`` or ``v``.
    """

    @staticmethod
    def forward(ctx, h0, scale, v, acts, *params):
        u, jac, dd, saved = _second_sweep(h0, scale, v, acts, params, keep=True)
        ctx.acts, ctx.layers, ctx.v = acts, saved, v
        ctx.save_for_backward(scale, *params)
        return u, jac, dd

    @staticmethod
    def backward(ctx, gu, gjac, gdd):
        scale, *params = ctx.saved_tensors
        grads = second_sweep_backward(ctx.layers, params, scale, ctx.v, ctx.acts, gu, gjac, gdd)
        return (None, None, None, None, *grads)

    @staticmethod
    def gradcheck_inputs() -> tuple:
        """Sample float64 inputs for ``torch.autograd.gradcheck`` (used by ``insr
        gradcheck``): a sine then a Gaussian layer, 2D inputs, one direction per point;
        the parameters are the checked inputs."""
        gen = torch.Generator().manual_seed(0)
        dims = [2, 5, 4, 2]
        params = []
        for a, b in zip(dims[:-1], dims[1:], strict=True):
            params.append(torch.randn(b, a, generator=gen, dtype=torch.float64).requires_grad_())
            params.append(torch.randn(b, generator=gen, dtype=torch.float64).requires_grad_())
        h0 = torch.rand(7, 2, generator=gen, dtype=torch.float64) * 2 - 1
        scale = torch.tensor([0.5, 2.0], dtype=torch.float64)
        v = torch.randn(7, 2, generator=gen, dtype=torch.float64)
        return (h0, scale, v, [Sine(3.0), Gauss(0.7)], *params)


def _square_objective(u: torch.Tensor, jac: torch.Tensor, dd: torch.Tensor) -> tuple:
    """``sum u^2 + sum J + sum dd^2`` and its gradient (for :meth:`SecondOrderObjective.
    gradcheck_inputs`)."""
    loss = (u * u).sum() + jac.sum() + (dd * dd).sum()
    return loss, (2.0 * u, torch.ones_like(jac), 2.0 * dd)


class SecondOrderObjective(torch.autograd.Function):
    """A scalar loss of :func:`_second_sweep`'s outputs with its parameter gradient
    computed in the forward pass, by hand, with no autograd graph.

    ``apply(h0, scale, v, acts, objective, W1, b1, ..., Wo, bo) -> loss``; ``objective(u,
    J, dd) -> (loss, (gu, gJ, gdd))`` returns the loss and its gradient with respect to
    the three outputs (written out by the caller, e.g. the Padé loss). The parameter
    gradient is :func:`second_sweep_backward` of those; backward scales it by the
    incoming gradient. Not twice differentiable.
    """

    @staticmethod
    def forward(ctx, h0, scale, v, acts, objective, *params):
        if isinstance(objective, _CompiledObjective):
            loss, grads = _compiled_objective(objective.key)(h0, scale, v, objective.fn, *params)
        else:
            loss, grads = _objective_and_gradients(h0, scale, v, acts, objective, params)
        ctx.save_for_backward(*grads)
        return loss

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        grads = ctx.saved_tensors
        # ``loss.backward()`` seeds 1: the saved gradients as they are (exact), no products
        if not (g.device.type == "cpu" and g.item() == 1.0):
            grads = tuple(g * gp for gp in grads)
        return (None, None, None, None, None, *grads)

    @staticmethod
    def gradcheck_inputs() -> tuple:
        """:meth:`SecondOrderMLP.gradcheck_inputs` with a sum-of-squares objective."""
        h0, scale, v, acts, *params = SecondOrderMLP.gradcheck_inputs()
        return (h0, scale, v, acts, _square_objective, *params)


def _objective_and_gradients(
    h0: torch.Tensor,
    scale: torch.Tensor,
    v: torch.Tensor | None,
    acts: Sequence,
    objective: Callable,
    params: Sequence[torch.Tensor],
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``objective``'s loss of :func:`_second_sweep` and its parameter gradient by hand."""
    u, jac, dd, saved = _second_sweep(h0, scale, v, acts, params, keep=True)
    loss, (gu, gjac, gdd) = objective(u, jac, dd)
    return loss, second_sweep_backward(saved, params, scale, v, acts, gu, gjac, gdd)


@dataclass(frozen=True)
class _CompiledObjective:
    """An objective for :class:`SecondOrderObjective` to run under ``torch.compile``
    (``run.compile``): ``fn`` and the activation stack's ``key``."""

    fn: Callable
    key: tuple


@functools.lru_cache(maxsize=16)
def _compiled_objective(key: tuple) -> Callable:
    """:func:`_objective_and_gradients` compiled once per activation stack; the
    objective is an argument (a new closure per step, same code: no recompilation)."""
    acts = [ACTIVATIONS[k[0]](*k[1:]) for k in key]

    def run(h0: torch.Tensor, scale: torch.Tensor, v: torch.Tensor, objective, *params):
        return _objective_and_gradients(h0, scale, v, acts, objective, params)

    return torch.compile(run, dynamic=False)


@functools.lru_cache(maxsize=16)
def _compiled_sweep(key: tuple) -> Callable:
    """One compiled closed-form sweep per activation stack, shared by every field with
    that stack (the previous step's frozen copy included), so nothing recompiles."""
    acts = [ACTIVATIONS[k[0]](*k[1:]) for k in key]

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
        return (h0, scale, [Sine(3.0), Gauss(0.7)], *params)

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
        acts = [Sine(w0)] + [Sine(cfg.hidden_omega0)] * (cfg.hidden_layers - 1)
        super().__init__(domain, out_features, cfg.hidden_layers, cfg.hidden_features, acts)
        self.omega0 = w0
        with torch.no_grad():
            first, *rest = [m for m in [*self.layers, self.head] if isinstance(m, nn.Linear)]
            first.weight.uniform_(-1.0 / first.in_features, 1.0 / first.in_features)
            for layer in rest:
                bound = math.sqrt(6.0 / layer.in_features) / cfg.hidden_omega0
                layer.weight.uniform_(-bound, bound)


class GaussMLP(ActivationMLP):
    def __init__(self, cfg: GaussConfig, domain: Sequence[Sequence[float]], out_features: int):
        acts = [Gauss(cfg.sigma)] * cfg.hidden_layers
        super().__init__(domain, out_features, cfg.hidden_layers, cfg.hidden_features, acts)


class TanhMLP(ActivationMLP):
    def __init__(self, cfg: MLPConfig, domain: Sequence[Sequence[float]], out_features: int):
        act = Tanh() if cfg.activation == "tanh" else Softplus()
        super().__init__(
            domain, out_features, cfg.hidden_layers, cfg.hidden_features, [act] * cfg.hidden_layers
        )
        with torch.no_grad():
            for layer in [*self.layers, self.head]:
                nn.init.xavier_uniform_(layer.weight)
                layer.bias.zero_()
