"""The finite-difference / averaging step ``h`` (``derivative.h``) and its stencil.

``h`` is a number (physical units) or a rule resolved by :func:`resolve_h`:

- ``"auto"`` (default): ``h = AUTO_SPACINGS * dx`` with ``AUTO_SPACINGS = 2``, ``dx`` the
  evaluation grid spacing (largest over the axes: ``(hi - lo) / (eval.resolution - 1)``).
  The eval grid is the finest length on which insr looks at a field, so the step follows
  what the log resolves; the same h is used inside the loss (``derivative.loss = "fd"``),
  so there ``eval.resolution`` also sets the step -- give a number to decouple them.
  Measured on advection1d (``benchmarks/fd_step.py``, dx = 0.01): at ``h = 1e-3`` the fd
  gradient of a trained SIREN equals autodiff to 8e-5 (fd and average are no-ops); at
  ``2 dx`` it differs by 1.3e-2 while its error against the exact gradient stays within
  1.2x of autodiff's (1.87e-2 vs 1.55e-2); at ``3 dx`` it is 2x and at ``5 dx`` 5x
  (truncation dominates). A central difference multiplies wavenumber ``k`` by
  ``sin(k h)/(k h)``: at ``2 dx`` content within a few grid cells (noise) is damped,
  smooth content is not.
- ``"cell"`` / ``"2cell"``: once / twice the finest cell of a grid field (hashgrid,
  densegrid, grid); refused for fields without cells.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from insr.fields.base import Field

#: ``"auto"`` = this many evaluation grid spacings (chosen from benchmarks/fd_step.py)
AUTO_SPACINGS = 2.0

#: the rule names ``derivative.h`` accepts besides numbers
H_RULES = ("auto", "cell", "2cell")


def grid_spacing(domain: Sequence[Sequence[float]], resolution: int) -> float:
    """Largest node spacing of a uniform grid with ``resolution`` nodes per axis (faces
    included) on the box ``domain``."""
    if resolution < 2:
        raise ValueError(f"an evaluation grid needs >= 2 nodes per axis, got {resolution}")
    return max((float(hi) - float(lo)) / (resolution - 1) for lo, hi in domain)


def resolve_h(h: float | str, field: Field, spacing: float | None = None) -> float:
    """The step in physical units for ``field`` (see the module docstring for the rules);
    ``spacing`` is the evaluation grid spacing that ``"auto"`` multiplies."""
    if not isinstance(h, str):
        return float(h)
    if h == "auto":
        if spacing is None:
            raise ValueError("h = 'auto' needs the evaluation grid spacing (spacing=...)")
        return AUTO_SPACINGS * float(spacing)
    if h in ("cell", "2cell"):
        cell = field.finest_cell
        if cell is None:
            raise ValueError(f"h = '{h}' needs a grid representation (hashgrid, densegrid, grid)")
        return cell * (2.0 if h == "2cell" else 1.0)
    raise ValueError(f"h = {h!r} is not allowed: expected a number > 0 or one of {H_RULES}")


def stencil(x: torch.Tensor, h: float) -> torch.Tensor:
    """Points ``[x + h e_1, ..., x + h e_d, x - h e_1, ..., x - h e_d]`` stacked ``(2d, N, d)``."""
    d = x.shape[1]
    eye = torch.eye(d, dtype=x.dtype, device=x.device) * h
    return torch.cat([x.unsqueeze(0) + eye.unsqueeze(1), x.unsqueeze(0) - eye.unsqueeze(1)])
