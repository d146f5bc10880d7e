"""Common machinery of the multi-resolution grid fields (hash grid, dense grid).

A grid field has ``L`` levels. Level ``l`` stores ``F = n_features_per_level`` features
per grid node and spans the unit box with ``scale_l`` cells per unit length (one grid
unit = ``1 / scale_l`` of the box). A point's features at the active levels are
interpolated (:mod:`insr.fields.interp`), concatenated level by level into a vector of
``L * F`` numbers (levels that are masked out contribute zeros), and either fed to a
small MLP head or, for a plain dense grid, summed over levels.

Inputs outside the domain are **clamped** to the box (unit coordinates to ``[0, 1]``):
the field is extended constantly along each axis outside, and the Jacobian's component
along an axis is zero where that coordinate lies outside (as autodiff of the clamp).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

import torch
from torch import nn

from insr.fields.base import Field, SampleMemo
from insr.fields.interp import (
    corner_curvatures,
    corner_weights,
    interpolate_levels,
    interpolate_levels_second,
)
from insr.fields.mlp import _Softplus, _Tanh
from insr.schema import ConfigError

#: Largest parameter memory (float32 bytes) a grid field may allocate.
MAX_PARAM_BYTES = 4 * 2**30


class _ReLU:
    def value_and_slope(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.relu(z), (z > 0).to(z.dtype)

    def curvature(self, z: torch.Tensor, a: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        """Zero (almost everywhere), as autodiff of ``relu``."""
        return torch.zeros_like(z)

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return torch.relu(z)


ACTIVATIONS = {"relu": _ReLU, "tanh": _Tanh, "softplus": _Softplus}


def check_memory(n_floats: int, what: str, path: str) -> None:
    """Raise :class:`ConfigError` if ``n_floats`` float32 parameters exceed the 4 GiB guard."""
    nbytes = 4 * int(n_floats)
    if nbytes > MAX_PARAM_BYTES:
        raise ConfigError(
            f"{path}: {what} needs {n_floats:,} parameters = {nbytes / 2**30:.2f} GiB "
            f"(float32), above the {MAX_PARAM_BYTES / 2**30:.0f} GiB limit; "
            "use fewer levels, features or a smaller table"
        )


def mlp_param_count(n_in: int, hidden_layers: int, hidden_features: int, n_out: int) -> int:
    dims = [n_in] + [hidden_features] * hidden_layers + [n_out]
    return sum((a + 1) * b for a, b in zip(dims[:-1], dims[1:], strict=True))


class GridField(Field):
    """Base class: level bookkeeping, masking, clamping, MLP head and the Jacobian pass.

    Subclasses set ``self._scales`` (cells per unit length of each level, floats),
    ``self._resolutions`` (nodes per axis of each level, ints) and implement
    :meth:`_encode`.
    """

    has_closed_form = True
    table: nn.Parameter  # rows of all levels (R, F), set by the subclass

    def __init__(
        self,
        domain: Sequence[Sequence[float]],
        out_features: int,
        n_levels: int,
        n_features_per_level: int,
        interpolation: str,
    ) -> None:
        super().__init__(domain, out_features)
        self.n_levels = int(n_levels)
        self.n_features_per_level = int(n_features_per_level)
        self.interpolation = interpolation
        # linear interpolation has kinks at cell borders: no usable second derivative
        self.smooth_hessian = interpolation == "smoothstep"
        self._active = self.n_levels
        self._scales: list[float] = []
        self._resolutions: list[int] = []
        self.layers = nn.ModuleList()
        self.head: nn.Linear | None = None
        self.acts: list = []

    # ------------------------------------------------------------------ levels
    @property
    def n_grid_features(self) -> int:
        """Length ``L * F`` of the concatenated feature vector fed to the head."""
        return self.n_levels * self.n_features_per_level

    def set_active_levels(self, k: int) -> None:
        """Use only levels ``0 .. k-1`` (``0 <= k <= n_levels``); levels ``>= k``
        contribute zero features and get zero parameter gradients (coarse-to-fine
        training, Neuralangelo). The default is all levels active."""
        k = int(k)
        if not 0 <= k <= self.n_levels:
            raise ValueError(f"active levels must be in [0, {self.n_levels}], got {k}")
        self._active = k

    @property
    def n_active_levels(self) -> int:
        """Number of levels currently contributing (coarse-to-fine training)."""
        return self._active

    @property
    def level_resolutions(self) -> list[int]:
        """Grid nodes per axis of each level (the tcnn ``grid_resolution``)."""
        return list(self._resolutions)

    @property
    def level_scales(self) -> list[float]:
        """Cells per unit length (unit box ``[0, 1]``) of each level."""
        return list(self._scales)

    def cell_of_level(self, level: int) -> float:
        """Physical cell width of ``level``: domain length along axis 0 / level scale."""
        lo, hi = self.domain[0]
        return (hi - lo) / self._scales[level]

    @property
    def finest_cell(self) -> float:  # type: ignore[override]
        """Physical cell width of the finest level (all levels, masking ignored)."""
        return min(self.cell_of_level(l) for l in range(self.n_levels))

    @property
    def coarsest_cell(self) -> float:  # type: ignore[override]
        """Physical cell width of the coarsest level."""
        return max(self.cell_of_level(l) for l in range(self.n_levels))

    # ------------------------------------------------------------------ head
    def _build_head(
        self, use_mlp: bool, hidden_layers: int, hidden_features: int, activation: str
    ) -> None:
        if not use_mlp:
            return
        dims = [self.n_grid_features] + [hidden_features] * hidden_layers
        self.layers = nn.ModuleList(
            nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:], strict=True)
        )
        self.head = nn.Linear(dims[-1], self.out_features)
        self.acts = [ACTIVATIONS[activation]() for _ in range(hidden_layers)]

    # ------------------------------------------------------------------ encoding
    def _unit(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_unit(x).clamp(0.0, 1.0)

    def _cells(self, u: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Of levels ``0..k-1`` at unit points ``u`` (N, d): table rows ``(k, C, N)`` of
        the cell corners (level offsets included), in-cell fractions ``t`` ``(k, d, N)``
        and grid units per unit length ``(k,)`` (``dt/du``)."""
        raise NotImplementedError

    def _encode(
        self, u: torch.Tensor, k: int, with_grad: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Features ``(k, N, F)`` of levels ``0..k-1`` at unit points ``u`` (N, d) and,
        if ``with_grad``, their derivatives w.r.t. ``u``: ``(k, d, N, F)``."""
        rows, t, scale = self._cells(u, k)
        w, dw = corner_weights(t, self.interpolation, with_grad)
        if dw is not None:
            dw = dw * scale.view(k, 1, 1, 1)  # dt/du = scale_l
        return interpolate_levels(self.table, rows, w, dw)

    def _pad_levels(self, feat: torch.Tensor, n: int) -> torch.Tensor:
        """``(k, ..., N, F)`` of the active levels -> ``(N, ..., L*F)`` with zeros after."""
        k = feat.shape[0]
        if k < self.n_levels:
            pad = feat.new_zeros((self.n_levels - k, *feat.shape[1:]))
            feat = torch.cat((feat, pad), dim=0)
        perm = list(range(1, feat.dim() - 1)) + [0, feat.dim() - 1]
        # (L, ..., N, F) -> (N?, ...): move N first, then level, then feature
        feat = feat.permute(*perm)  # (..., N, L, F)
        return feat.reshape(*feat.shape[:-2], self.n_grid_features)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Concatenated grid features ``(N, L*F)`` at physical points ``x``."""
        n = x.shape[0]
        k = self._active
        if k == 0:
            return x.new_zeros((n, self.n_grid_features))
        feat, _ = self._encode(self._unit(x), k, with_grad=False)
        return self._pad_levels(feat, n)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.head is None:  # plain grid: sum of level features
            k = self._active
            if k == 0:
                return x.new_zeros((x.shape[0], self.out_features))
            feat, _ = self._encode(self._unit(x), k, with_grad=False)
            return feat.sum(dim=0)
        h = self.encode(x)
        for layer, act in zip(self.layers, self.acts, strict=True):
            h = act(layer(h))
        return self.head(h)

    def value_and_jacobian(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Values ``(N, c)`` and Jacobian ``(N, c, d)`` w.r.t. physical ``x``, in closed form.

        Chain rule: ``d feat/dx_j = d feat/du_j * du_j/dx_j`` with ``du_j/dx_j = 1/(hi_j -
        lo_j)`` inside the box and 0 where the clamp is active; then ``dz = W dh``,
        ``da = s'(z) dz`` through the head as in :class:`insr.fields.mlp.ActivationMLP`.
        """
        n, d = x.shape
        k = self._active
        if k == 0:
            feat = x.new_zeros((0, n, self.n_features_per_level))
            dfeat = x.new_zeros((0, d, n, self.n_features_per_level))
        else:
            rows, w, dw = self._cell_weights_once(x, k)
            feat, maybe_dfeat = interpolate_levels(self.table, rows, w, dw)
            assert maybe_dfeat is not None  # dw given: always returned
            dfeat = maybe_dfeat  # (k, d, N, F)
        if self.head is None:
            if k == 0:
                z = x.new_zeros((n, self.out_features))
                return z, x.new_zeros((n, self.out_features, d))
            return feat.sum(dim=0), dfeat.sum(dim=0).permute(1, 2, 0)  # (N, c, d)
        h = self._pad_levels(feat, n)  # (N, L*F)
        dh = self._pad_levels(dfeat, n).transpose(0, 1)  # (d, N, LF) -> (N, d, LF)
        params = [t for layer in [*self.layers, self.head] for t in (layer.weight, layer.bias)]
        if d == 1:
            dh = dh[:, 0]  # (N, LF): one axis
        # autograd through the sweep: a hand-written backward of the head (gradients for
        # the parameters and the features) measured 1.2-1.4x slower than autograd's fused
        # softplus/sigmoid backward kernels on the hash-grid preset (benchmarks/perf.py
        # hash-grid loss, 1,000 samples, contended machine), so it was not kept
        return _head_sweep(h, dh, self.acts, params)[:2]

    def _cell_weights_once(
        self, x: torch.Tensor, k: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Table rows ``(k, C, N)``, corner weights ``(k, C, N)`` and their derivatives
        w.r.t. physical ``x`` ``(k, d, C, N)`` (``dt/du = scale_l``, ``du/dx = 1/(hi - lo)``
        inside the box, 0 where the clamp is active) of levels ``0..k-1`` at ``x``.

        They depend on the points only, not on the table or the head: remembered for the
        last ``x`` (its identity and in-place version, as :class:`insr.equations.base.
        PerSampleSet`) and ``k``, so L-BFGS, which passes the same points on every
        evaluation of a step, computes them once per step. Points with a graph (``x``
        requiring grad: second derivatives in ``x``, e.g. :func:`insr.derivatives.
        operators.hessian`) get weights with their graph to ``x``, never remembered."""
        with_graph = x.requires_grad and torch.is_grad_enabled()
        cache = self.cell_cache and not with_graph
        memo = self.__dict__.setdefault("_cells_memo", SampleMemo())
        cached = memo.get(x, (k,)) if cache else None
        if cached is not None:
            return cached
        with contextlib.nullcontext() if with_graph else torch.no_grad():
            rows, t, scale, du_dx = self._unit_cells(x, k)
            w, dw = corner_weights(t, self.interpolation, True)
            assert dw is not None
            n, d = x.shape
            dw = dw * (scale.view(k, 1, 1, 1) * du_dx.t().reshape(1, d, 1, n))
        value = (rows, w, dw)
        return memo.put(x, value, (k,)) if cache else value

    def _unit_cells(
        self, x: torch.Tensor, k: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Rows, in-cell coordinates and per-level scales of :meth:`_cells` for the first
        ``k`` levels at ``x`` (clamped into the box), and ``du/dx`` per point and axis
        ``(N, d)`` (zero outside the box, where the clamp holds the encoding constant)."""
        u_raw = self.to_unit(x)
        inside = ((u_raw >= 0.0) & (u_raw <= 1.0)).to(x.dtype)  # (N, d)
        du_dx = inside * self.unit_scale(x.dtype).to(x.device)  # (N, d)
        rows, t, scale = self._cells(u_raw.clamp(0.0, 1.0), k)
        return rows, t, scale, du_dx

    #: remember rows and weights per sample set (False: every call recomputes, the path
    #: before; kept measurable by ``benchmarks/perf.py``)
    cell_cache: bool = True

    # ------------------------------------------------------------------ Laplacian
    @property
    def closed_laplacian(self) -> Callable | None:
        """The closed-form Laplacian hook of :func:`insr.derivatives.operators.laplacian`
        (:meth:`_closed_laplacian`), or None where the field has no closed form (the
        tinycudann backend): the operator then differentiates by autodiff."""
        return self._closed_laplacian if self.has_closed_form else None

    def _closed_laplacian(
        self, x: torch.Tensor, create_graph: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Values ``(N, c)``, Jacobian ``(N, c, d)`` and Laplacian ``(N, c)`` in one forward
        sweep carrying, per axis ``j``, the first and the pure second derivative.

        Features: ``d^2 feat / dx_j^2 = d^2 feat / du_j^2 (du_j/dx_j)^2`` (zero for linear
        interpolation, zero where the clamp is active). Head, per layer and axis:
        ``dz = W dh``, ``d2z = W d2h``, ``d2a = s''(z) dz^2 + s'(z) d2z``. The parameter
        gradient is first-order autograd through this sweep (no third-order backward)."""
        n, d = x.shape
        k = self._active
        c = self.out_features
        if k == 0:
            z = x.new_zeros((n, c))
            return z, x.new_zeros((n, c, d)), x.new_zeros((n, c))
        rows, t, scale, du_dx = self._unit_cells(x, k)
        w, dw = corner_weights(t, self.interpolation, True)
        assert dw is not None
        d2w = corner_curvatures(t, self.interpolation)
        dt_dx = (scale.view(k, 1, 1) * du_dx.t().unsqueeze(0)).unsqueeze(2)  # (k, d, 1, N)
        feat, dfeat, d2feat = interpolate_levels_second(
            self.table, rows, w, dw * dt_dx, None if d2w is None else d2w * (dt_dx * dt_dx)
        )
        if self.head is None:
            lap = d2feat.sum(dim=(0, 1)) if d2feat is not None else x.new_zeros((n, c))
            return feat.sum(dim=0), dfeat.sum(dim=0).permute(1, 2, 0), lap
        h = self._pad_levels(feat, n)  # (N, L*F)
        dh = self._pad_levels(dfeat, n).transpose(0, 1)  # (N, d, LF)
        d2h = None if d2feat is None else self._pad_levels(d2feat, n).transpose(0, 1)
        for layer, act in zip(self.layers, self.acts, strict=True):
            assert isinstance(layer, torch.nn.Linear)
            z = layer(h)
            dz = dh @ layer.weight.t()
            a, s1 = act.value_and_slope(z)
            s2 = act.curvature(z, a, s1)
            d2a = s2.unsqueeze(1) * dz * dz
            if d2h is not None:
                d2a = d2a + s1.unsqueeze(1) * (d2h @ layer.weight.t())
            h, dh, d2h = a, s1.unsqueeze(1) * dz, d2a
        u = self.head(h)
        wt = self.head.weight.t()
        jac = (dh @ wt).transpose(1, 2)
        lap = (d2h @ wt).sum(dim=1) if d2h is not None else x.new_zeros((n, c))
        return u, jac, lap


def _head_sweep(
    h: torch.Tensor, dh: torch.Tensor, acts: Sequence, params: Sequence[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor, list]:
    """The head's closed-form value + Jacobian sweep from grid features ``h (N, LF)`` and
    their derivatives ``dh (N, d, LF)``: ``z = W h + b``, ``dz = W dh``, ``a = s(z)``,
    ``da = s'(z) dz``; in 1D ``dh`` may be ``(N, LF)`` (one axis, every stream 2D: fewer,
    larger operations). Returns ``u (N, c)``, ``J (N, c, d)`` and per-layer tensors."""
    one_axis = dh.dim() == 2
    saved = []
    for i, act in enumerate(acts):
        w, b = params[2 * i], params[2 * i + 1]
        z = torch.addmm(b, h, w.t())
        dz = dh @ w.t()
        a, s = act.value_and_slope(z)
        saved.append((h, dh, z, dz, a, s))
        h, dh = a, (s if one_axis else s.unsqueeze(1)) * dz
    wo, bo = params[-2], params[-1]
    u = torch.addmm(bo, h, wo.t())
    jac = (dh @ wo.t()).unsqueeze(-1) if one_axis else (dh @ wo.t()).transpose(1, 2)
    return u, jac, saved + [(h, dh)]


def next_multiple(v: int, m: int) -> int:
    return ((v + m - 1) // m) * m
