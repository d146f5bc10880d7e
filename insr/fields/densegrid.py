"""Multi-resolution dense grid (+ optional MLP head); one level without MLP = plain grid.

Level ``l`` has ``resolution_l`` nodes per axis placed *on* the box: node ``i`` sits at
unit coordinate ``i / (resolution_l - 1)`` (so the first and last nodes are the box faces),
and the level stores ``resolution_l**d`` rows of ``n_features_per_level`` features,
row ``sum_i node_i * resolution_l**i``. Resolutions are

    resolution_l = floor(base_resolution * per_level_scale**l)      (nodes per axis)

unless ``resolutions`` lists them explicitly. A point's position in grid units is
``p = u * (resolution_l - 1)``; its cell is ``floor(p)`` clamped to ``[0, resolution_l - 2]``
so that ``u = 1`` lies in the last cell (``t = 1``). Weights: linear or smoothstep
(:mod:`insr.fields.interp`). With ``mlp = true`` the concatenated features of all levels go
through an MLP head; with ``mlp = false`` the output is the **sum over levels** of the
interpolated features (``n_features_per_level`` must equal the number of outputs), so one
level without MLP stores exactly the nodal values of the field.

Tables are initialized uniform in ``[-1e-4, 1e-4]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from insr.fields.gridbase import GridField, check_memory, mlp_param_count
from insr.fields.interp import combine_corners
from insr.schema import ConfigError, at_least, in_range, opt


@dataclass
class DenseGridConfig:
    """Dense multi-resolution grid. When ``resolutions`` is given it defines the levels and
    ``n_levels``, ``base_resolution`` and ``per_level_scale`` are ignored."""

    n_levels: int = opt(4, check=in_range(1, 32), doc="number of levels")
    base_resolution: int = opt(16, check=at_least(2), doc="nodes per axis of level 0")
    per_level_scale: float = opt(2.0, check=at_least(1.0), doc="node-count growth per level")
    resolutions: list[int] | None = opt(None, doc="explicit nodes per axis of each level")
    n_features_per_level: int = opt(2, check=at_least(1), doc="features stored per node")
    interpolation: Literal["linear", "smoothstep"] = opt(
        "linear", doc="cell interpolation; smoothstep is C^1 (second derivatives exist)"
    )
    mlp: bool = opt(True, doc="MLP head on the features; false: output = sum of level features")
    hidden_layers: int = opt(2, check=at_least(1), doc="hidden layers of the MLP head")
    hidden_features: int = opt(64, check=at_least(1), doc="width of the MLP head")
    activation: Literal["relu", "tanh", "softplus"] = opt(
        "softplus", doc="activation of the MLP head"
    )

    def validate(self, path: str) -> None:
        if self.resolutions is not None:
            if not self.resolutions:
                raise ConfigError(f"{path}.resolutions must not be empty (or leave it out)")
            if len(self.resolutions) > 32:
                raise ConfigError(
                    f"{path}.resolutions has {len(self.resolutions)} levels; at most 32"
                )
            for i, r in enumerate(self.resolutions):
                if r < 2:
                    raise ConfigError(
                        f"{path}.resolutions[{i}] = {r} is not allowed: expected an integer >= 2"
                    )

    def level_resolutions(self) -> list[int]:
        if self.resolutions is not None:
            return list(self.resolutions)
        return [
            max(2, int(self.base_resolution * self.per_level_scale**level + 1e-9))
            for level in range(self.n_levels)
        ]

    def build(self, domain: Sequence[Sequence[float]], out_features: int) -> DenseGrid:
        """The field for box ``domain`` with ``out_features`` channels."""
        return DenseGrid(self, domain, out_features)


class DenseGrid(GridField):
    """Dense multi-resolution grid on ``[0, 1]^d`` unit coordinates (see module docstring).

    Attributes: ``level_resolutions`` (nodes per axis), ``level_scales`` (cells per unit
    length = resolution - 1), ``table`` (``(rows, n_features_per_level)``, levels stacked;
    :meth:`level_rows` gives one level's slice), ``use_mlp``.
    """

    _offsets: torch.Tensor
    _strides: torch.Tensor
    _last_cell: torch.Tensor

    def __init__(self, cfg: DenseGridConfig, domain: Sequence[Sequence[float]], out_features: int):
        res = cfg.level_resolutions()
        super().__init__(
            domain, out_features, len(res), cfg.n_features_per_level, cfg.interpolation
        )
        d = self.in_features
        path = "representation.densegrid"
        self.use_mlp = bool(cfg.mlp)
        if not self.use_mlp and cfg.n_features_per_level != out_features:
            raise ConfigError(
                f"{path}.mlp = false needs n_features_per_level = number of outputs "
                f"({out_features}), got {cfg.n_features_per_level}"
            )
        self._resolutions = res
        self._scales = [float(r - 1) for r in res]
        sizes = [r**d for r in res]
        head = (
            mlp_param_count(
                self.n_grid_features, cfg.hidden_layers, cfg.hidden_features, out_features
            )
            if self.use_mlp
            else 0
        )
        check_memory(sum(sizes) * cfg.n_features_per_level + head, "the dense grid", path)
        offsets = [0]
        for s in sizes:
            offsets.append(offsets[-1] + s)
        self._row_starts = offsets
        self.register_buffer("_offsets", torch.tensor(offsets[:-1]), persistent=False)
        strides = [[r**i for i in range(d)] for r in res]
        self.register_buffer("_strides", torch.tensor(strides, dtype=torch.int64), persistent=False)
        self.register_buffer("_last_cell", torch.tensor([r - 2 for r in res]), persistent=False)
        self.table = nn.Parameter(torch.empty(offsets[-1], cfg.n_features_per_level))
        with torch.no_grad():
            self.table.uniform_(-1e-4, 1e-4)
        self._build_head(self.use_mlp, cfg.hidden_layers, cfg.hidden_features, cfg.activation)

    def level_rows(self, level: int) -> slice:
        """Rows of :attr:`table` that hold ``level`` (row ``sum_i node_i * res**i``)."""
        return slice(self._row_starts[level], self._row_starts[level + 1])

    def _cells(self, u: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        d = u.shape[1]
        scale = torch.tensor(self._scales[:k], dtype=u.dtype, device=u.device)
        p = u.t().unsqueeze(0) * scale.view(k, 1, 1)  # (k, d, N) grid units
        lo = torch.floor(p).clamp(min=0.0)
        lo = torch.minimum(lo, self._last_cell[:k].to(u.dtype).view(k, 1, 1))
        t = p - lo
        stride = self._strides[:k].view(k, d, 1)
        lo_rows = (lo.to(torch.int64) * stride).unbind(1)
        up_rows = [a + b for a, b in zip(lo_rows, stride.unbind(1), strict=True)]
        rows = combine_corners(lo_rows, up_rows, torch.add) + self._offsets[:k].view(k, 1, 1)
        return rows, t, scale
