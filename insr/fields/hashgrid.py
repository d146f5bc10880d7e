"""Multi-resolution hash encoding + small MLP (Instant-NGP, Müller et al. 2022).

Pure-torch implementation that reproduces tiny-cuda-nn's ``HashGrid`` encoding (same
parameter names, same per-level resolution rule, same dense/hash indexing, same feature
order), so that a config means the same thing on CPU and GPU; ``backend = "tcnn"`` uses
``tinycudann.Encoding`` itself (CUDA only, d = 2 or 3).

Per level ``l = 0 .. n_levels-1`` (tiny-cuda-nn ``include/tiny-cuda-nn/encodings/grid.h``,
``GridEncodingTemplated`` constructor and ``kernel_grid``)::

    scale_l      = base_resolution * per_level_scale**l - 1      # cells per unit length
    resolution_l = ceil(scale_l) + 1                              # nodes per axis
    size_l       = min(next_multiple(resolution_l**d, 8), 2**log2_hashmap_size)  # table rows
    p            = u * scale_l + 0.5        # u in [0, 1]^d: the unit coordinate
    corner       = floor(p) (+ 0/1 per axis),  t = p - floor(p)
    row          = sum_i corner_i * resolution_l**i         if resolution_l**d <= size_l  (dense)
                   XOR_i corner_i * prime_i (uint32 arith.)  otherwise                    (hash)
    row          = row % size_l

with primes ``(1, 2654435761, 805459861)``. tcnn computes ``scale_l`` in float32 as
``exp2f(l * log2(per_level_scale)) * base_resolution - 1``; here it is float64. For the
default base 16 / scale 1.5 both give the same resolutions at all 16 levels (checked with
numpy float32); unusual scales could in principle round across an integer differently.
Note the tcnn quirk kept on purpose: when ``scale_l`` is an integer, the corner
``floor(p) + 1`` can equal ``resolution_l`` in the last half cell next to ``u = 1``, and its
dense row wraps (modulo ``size_l``) onto another node, exactly as in tcnn.

The table is initialized uniform in ``[-1e-4, 1e-4]`` (as tcnn). Features are in
"feature units" (arbitrary); the MLP head maps the ``n_levels * n_features_per_level``
concatenated features to the ``out_features`` outputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from insr.fields.base import Field
from insr.fields.gridbase import GridField, check_memory, mlp_param_count, next_multiple
from insr.fields.interp import (
    cell_position,
    combine_corners,
)
from insr.schema import ConfigError, at_least, in_range, opt

#: tiny-cuda-nn ``fast_hash`` primes for the first three dimensions.
PRIMES = (1, 2654435761, 805459861)


@dataclass
class HashGridConfig:
    """Hash-grid encoding (tiny-cuda-nn names and meaning) + MLP head.

    ``interpolation`` defaults to tcnn's ``linear`` (gradient discontinuous across cell
    faces, no second derivatives from the grid); ``smoothstep`` makes the encoding C^1 so
    Laplacians exist. ``activation`` of the head defaults to ``softplus`` (smooth, so the
    head adds no kinks to the gradient; ``relu`` is Instant-NGP's choice). ``backend``
    defaults to ``torch`` (closed-form Jacobian, float64 capable); ``auto`` takes tcnn when
    CUDA and tinycudann are present and d is 2 or 3.
    """

    n_levels: int = opt(16, check=in_range(1, 32), doc="number of resolution levels")
    n_features_per_level: int = opt(2, check=at_least(1), doc="features stored per node")
    log2_hashmap_size: int = opt(19, check=in_range(10, 24), doc="log2 of max rows per level")
    base_resolution: int = opt(16, check=at_least(2), doc="coarsest level: ~cells per axis + 1")
    per_level_scale: float = opt(1.5, check=at_least(1.0), doc="resolution growth per level")
    interpolation: Literal["linear", "smoothstep"] = opt(
        "linear", doc="cell interpolation; smoothstep is C^1 (second derivatives exist)"
    )
    backend: Literal["torch", "tcnn", "auto"] = opt(
        "torch", doc="torch, tinycudann (CUDA, 2D/3D), or auto (tcnn where it can run)"
    )
    hidden_layers: int = opt(2, check=at_least(1), doc="hidden layers of the MLP head")
    hidden_features: int = opt(64, check=at_least(1), doc="width of the MLP head")
    activation: Literal["relu", "tanh", "softplus"] = opt(
        "softplus", doc="activation of the MLP head"
    )

    def validate(self, path: str) -> None:
        if self.backend == "tcnn" and self.n_features_per_level not in (1, 2, 4, 8):
            raise ConfigError(
                f"{path}.n_features_per_level = {self.n_features_per_level} is not allowed "
                "with backend 'tcnn': expected 1, 2, 4 or 8"
            )

    def build(self, domain: Sequence[Sequence[float]], out_features: int) -> HashGrid:
        """The field for box ``domain`` with ``out_features`` channels."""
        return HashGrid(self, domain, out_features)


def tcnn_unavailable_reason(d: int) -> str | None:
    """Why the tinycudann backend cannot be used for ``d``-dimensional inputs (None if it can)."""
    if d not in (2, 3):
        return f"tinycudann's HashGrid takes 2 or 3 input dimensions, got {d}D inputs"
    if not torch.cuda.is_available():
        return "CUDA is not available (tinycudann needs a GPU)"
    try:
        import tinycudann  # noqa: F401
    except Exception as e:  # ImportError, or a broken CUDA extension
        return f"tinycudann is not installed or fails to import ({type(e).__name__}: {e})"
    return None


def level_geometry(
    d: int, n_levels: int, base_resolution: int, per_level_scale: float, log2_hashmap_size: int
) -> tuple[list[float], list[int], list[int]]:
    """Per-level ``(scale, resolution, table rows)`` by tcnn's rule (see module docstring)."""
    scales, res, sizes = [], [], []
    t = 2**log2_hashmap_size
    for level in range(n_levels):
        s = base_resolution * per_level_scale**level - 1.0
        r = math.ceil(s) + 1
        scales.append(s)
        res.append(r)
        sizes.append(min(next_multiple(r**d, 8), t))
    return scales, res, sizes


class HashGrid(GridField):
    """Instant-NGP field: hash encoding of ``[0, 1]^d`` unit coordinates + MLP head.

    Attributes: ``level_resolutions`` (nodes per axis), ``level_scales`` (cells per unit
    length), ``level_sizes`` (table rows per level), ``level_hashed`` (True where the level
    uses the spatial hash), ``table`` (``(rows, n_features_per_level)`` parameter, all
    levels stacked; :meth:`level_rows` gives one level's slice), ``backend``.
    """

    _offsets: torch.Tensor
    _sizes: torch.Tensor
    _strides: torch.Tensor
    _primes: torch.Tensor

    def __init__(self, cfg: HashGridConfig, domain: Sequence[Sequence[float]], out_features: int):
        super().__init__(
            domain, out_features, cfg.n_levels, cfg.n_features_per_level, cfg.interpolation
        )
        d = self.in_features
        path = "representation.hashgrid"
        self._scales, self._resolutions, self.level_sizes = level_geometry(
            d, cfg.n_levels, cfg.base_resolution, cfg.per_level_scale, cfg.log2_hashmap_size
        )
        self.level_hashed = [
            r**d > s for r, s in zip(self._resolutions, self.level_sizes, strict=True)
        ]
        n_rows = sum(self.level_sizes)
        head = mlp_param_count(
            self.n_grid_features, cfg.hidden_layers, cfg.hidden_features, out_features
        )
        check_memory(n_rows * cfg.n_features_per_level + head, "the hash grid", path)

        backend = cfg.backend
        reason = tcnn_unavailable_reason(d) if backend in ("tcnn", "auto") else "not requested"
        if backend == "tcnn" and reason is not None:
            raise ConfigError(f"{path}.backend = 'tcnn' is not possible: {reason}")
        self.backend = "tcnn" if backend in ("tcnn", "auto") and reason is None else "torch"

        offsets = [0]
        for s in self.level_sizes:
            offsets.append(offsets[-1] + s)
        self.register_buffer("_offsets", torch.tensor(offsets[:-1]), persistent=False)
        self.register_buffer("_sizes", torch.tensor(self.level_sizes), persistent=False)
        strides = [[r**i for i in range(d)] for r in self._resolutions]
        self.register_buffer("_strides", torch.tensor(strides, dtype=torch.int64), persistent=False)
        self.register_buffer("_primes", torch.tensor(PRIMES[:d]), persistent=False)
        self._row_starts = offsets
        self._n_dense = sum(1 for h in self.level_hashed if not h)
        assert all(self.level_hashed[self._n_dense :]), "dense levels must form a prefix"
        self._hash_mask = 2**cfg.log2_hashmap_size - 1

        if self.backend == "torch":
            self.table = nn.Parameter(torch.empty(n_rows, cfg.n_features_per_level))
            with torch.no_grad():
                self.table.uniform_(-1e-4, 1e-4)
        else:
            self._build_tcnn(cfg)
        self._build_head(True, cfg.hidden_layers, cfg.hidden_features, cfg.activation)

    # ------------------------------------------------------------------ tcnn
    def _build_tcnn(self, cfg: HashGridConfig) -> None:
        import tinycudann as tcnn

        self.has_closed_form = False  # tcnn computes d(features)/dx internally only
        self.encoding = tcnn.Encoding(
            self.in_features,
            {
                "otype": "HashGrid",
                "n_levels": cfg.n_levels,
                "n_features_per_level": cfg.n_features_per_level,
                "log2_hashmap_size": cfg.log2_hashmap_size,
                "base_resolution": cfg.base_resolution,
                "per_level_scale": cfg.per_level_scale,
                "interpolation": "Smoothstep" if cfg.interpolation == "smoothstep" else "Linear",
            },
            dtype=torch.float32,
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        if self.backend == "torch":
            return super().encode(x)
        u = self._unit(x).float().contiguous()
        feat = self.encoding(u)  # (N, L*F) float32, level-major like the torch path
        mask = torch.zeros(self.n_levels, self.n_features_per_level, device=feat.device)
        mask[: self._active] = 1.0
        return (feat * mask.view(1, -1)).to(x.dtype)

    def value_and_jacobian(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.backend != "torch":
            # tcnn has no closed form (has_closed_form = False): the derivative operators
            # (insr.derivatives.operators) differentiate it by autodiff
            return Field.value_and_jacobian(self, x)
        return super().value_and_jacobian(x)

    # ------------------------------------------------------------------ torch
    def level_rows(self, level: int) -> slice:
        """Rows of :attr:`table` that hold ``level``."""
        return slice(self._row_starts[level], self._row_starts[level + 1])

    def _rows(self, corner: torch.Tensor, first: int = 0) -> torch.Tensor:
        """Table rows ``(k, C, N)`` (level offsets included) of the cell corners above the
        lower corners ``corner`` ``(k, d, N)`` (int64 grid coordinates) of the levels
        ``first .. first+k-1``. Dense levels form a prefix (resolutions never decrease), so
        the levels split into one dense and one hashed block."""
        k, d, _ = corner.shape
        split = min(max(self._n_dense - first, 0), k)
        blocks: list[torch.Tensor] = []
        if split > 0:  # dense: row = sum_i c_i * res**i, then % size (tcnn's wrap)
            c = corner[:split]
            stride = self._strides[first : first + split].view(split, d, 1)
            lo = (c * stride).unbind(1)
            up = [a + b for a, b in zip(lo, stride.unbind(1), strict=True)]
            row = combine_corners(lo, up, torch.add)
            blocks.append(row % self._sizes[first : first + split].view(split, 1, 1))
        if split < k:  # hash: XOR_i c_i * prime_i; size = 2**log2_hashmap_size divides 2**32,
            # so the low bits of the int64 products equal those of tcnn's uint32 arithmetic
            c = corner[split:]
            primes = self._primes.view(1, d, 1)
            lo = (c * primes).unbind(1)
            up = list(((c + 1) * primes).unbind(1))
            blocks.append(combine_corners(lo, up, torch.bitwise_xor) & self._hash_mask)
        row = blocks[0] if len(blocks) == 1 else torch.cat(blocks, dim=0)
        return row + self._offsets[first : first + k].view(k, 1, 1)

    def node_rows(self, level: int, nodes: torch.Tensor) -> torch.Tensor:
        """Rows *within* ``level``'s table of integer grid nodes ``nodes`` ``(N, d)``."""
        corner = nodes.to(torch.int64).t().unsqueeze(0)  # (1, d, N): corner 0 = the node
        return self._rows(corner, first=level)[0, 0] - self._row_starts[level]

    def corner_indices(self, x: torch.Tensor, level: int) -> torch.Tensor:
        """Rows *within* ``level``'s table ``(2**d, N)`` of the cell corners around physical
        points ``x`` (corner ``c`` is offset ``(c >> i) & 1`` along axis ``i``); same code
        path as :meth:`forward`."""
        scale = torch.tensor(self._scales[: level + 1], dtype=torch.float64)
        corner, _ = cell_position(self._unit(x.double()), scale, 0.5)
        return self._rows(corner[level:], first=level)[0] - self._row_starts[level]

    def _cells(self, u: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        scale = torch.tensor(self._scales[:k], dtype=u.dtype, device=u.device)
        corner, t = cell_position(u, scale, 0.5)
        return self._rows(corner), t, scale
