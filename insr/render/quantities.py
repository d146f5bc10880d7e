"""What is plotted and on which scale: quantities of a log row, shared colour limits, 1D crop.

Scales are shared by every run drawn together (same quantity, same limits, same colour map),
so panels side by side compare at a glance:

- values (field, gradient): the exact solution's range over the drawn steps (1D: plus 5 %
  padding), so a noise spike in one run cannot stretch the others; without an exact
  solution, the 0.5–99.5 percentile range of the predictions. Values outside are marked
  (1D: triangles at the panel edge; 2D: the colour bar's end colours, beyond a tolerance of
  2 % of the span, so round-off below a non-negative field's 0 is not flagged);
- errors: one limit for all runs, the largest over runs and steps of the 99th percentile of
  |error| (a few spiking points are marked out of range instead of flattening the rest);
  signed errors (1D) are symmetric around 0, magnitudes (2D) start at 0; ``log`` draws
  magnitudes on a logarithmic scale spanning ``LOG_DECADES`` decades below the limit.

Colour maps: sequential (viridis) for fields that are non-negative, diverging (RdBu_r,
symmetric around 0) only for signed ones; sequential magma for error magnitudes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from insr.errors import UsageError

LOG_DECADES = 4
ERROR_PERCENTILE = 99.0
VALUE_PERCENTILES = (0.5, 99.5)
VALUE_TOLERANCE = 0.02  # 2D values: overshoot up to 2 % of the span is not marked
CROP_THRESHOLD = 1e-4  # relative to the largest |u*| (and |du*/dx|) over the drawn steps
CROP_MARGIN = 0.1  # of the cropped width, each side

LABELS_1D = {
    "field": "u (exact dashed)",
    "gradient": "du/dx ({s}; exact dashed)",
    "field_error": "u − u*",
    "gradient_error": "du/dx − du*/dx ({s})",
}
LABELS_1D_LOG = {"field_error": "|u − u*|", "gradient_error": "|du/dx − du*/dx| ({s})"}
LABELS_2D = {
    "field": "{scalar}",
    "gradient": "|∇u| ({s})",
    "field_error": "|{scalar} − {scalar}*|",
    "gradient_error": "|∇u − ∇u*| ({s})",
}


def rows_for(what: str) -> list[str]:
    """Quantities drawn for ``--what``."""
    if what == "all":
        return ["field", "gradient", "field_error", "gradient_error"]
    if what == "error":
        return ["field_error", "gradient_error"]
    return [what, f"{what}_error"]


def logged_strategies(reader: Any) -> list[str]:
    return [n.split("/", 1)[1] for n in reader.names() if n.startswith("gradient/")]


def default_strategy(reader: Any, wanted: str | None = None) -> str | None:
    """``wanted`` if logged, else autodiff, closed or the first logged strategy (None: none)."""
    grads = logged_strategies(reader)
    if wanted and wanted in grads:
        return wanted
    for s in ("autodiff", "closed"):
        if s in grads:
            return s
    return grads[0] if grads else None


def strict_strategy(name: str, reader: Any, wanted: str | None) -> str:
    """Like :func:`default_strategy`, but a missing ``wanted`` or no gradient is an error."""
    grads = logged_strategies(reader)
    if wanted and wanted not in grads:
        raise UsageError(
            f"{name}: no gradient '{wanted}' in the log; logged: {', '.join(grads) or 'none'}"
        )
    s = default_strategy(reader, wanted)
    if s is None:
        raise UsageError(f"{name}: the log holds no gradient")
    return s


def scalar_of(reader: Any, row: int, exact: bool = False) -> np.ndarray | None:
    """The displayed scalar on the grid: the field (1 channel), or vorticity (2D velocity:
    ``/fluid/vorticity``, or dv/dx - du/dy of the exact gradient), else |u|."""
    pre = "exact/" if exact else ""
    if not reader.has(f"{pre}field"):
        return None
    c = int(reader.attrs.get("channels", reader.h5[f"{pre}field"].shape[-1]))
    if c == 1:
        return reader.row(f"{pre}field", row)[..., 0]
    if not exact and reader.has("fluid/vorticity"):
        v = reader.row("fluid/vorticity", row)
        return v[..., 0] if v.ndim == 3 else v
    if exact and reader.has("exact/vorticity"):
        v = reader.row("exact/vorticity", row)
        return v[..., 0] if v.ndim == 3 else v
    if exact and reader.has("exact/gradient") and c == 2:
        J = reader.row("exact/gradient", row)
        return J[..., 1, 0] - J[..., 0, 1]
    return np.linalg.norm(reader.row(f"{pre}field", row), axis=-1)


def quantity(reader: Any, row: int, q: str, strategy: str, dim: int) -> tuple[Any, Any]:
    """(value, exact-or-None) of quantity ``q`` at ``row``; errors return (error, None).

    1D errors are signed; 2D errors are magnitudes (|s − s*|, Frobenius |J − J*|).
    """
    if q in ("field", "field_error"):
        u = scalar_of(reader, row)
        ex = scalar_of(reader, row, exact=True)
        if q == "field":
            return u, ex
        if ex is None:
            return None, None
        return (u - ex if dim == 1 else np.abs(u - ex)), None
    J = reader.row(f"gradient/{strategy}", row)
    Jx = reader.row("exact/gradient", row) if reader.has("exact/gradient") else None
    if dim == 1:
        g, gx = J[:, 0, 0], (None if Jx is None else Jx[:, 0, 0])
        if q == "gradient":
            return g, gx
        return (None if gx is None else g - gx), None
    if q == "gradient":
        return np.linalg.norm(J, axis=(-2, -1)), (
            None if Jx is None else np.linalg.norm(Jx, axis=(-2, -1))
        )
    return (None if Jx is None else np.linalg.norm(J - Jx, axis=(-2, -1))), None


@dataclass(frozen=True)
class Scale:
    """Limits and colours of one quantity, shared by every run drawn together."""

    lo: float
    hi: float
    signed: bool  # diverging map, symmetric around 0
    log: bool = False
    basis: str = ""  # what fixed the limits (shown in the caption)
    tolerance: float = 0.0  # values this far outside [lo, hi] are drawn at the limit, unmarked

    @property
    def cmap(self) -> str:
        return "RdBu_r" if self.signed else "viridis"


def within_tolerance(v: np.ndarray, scale: Scale) -> np.ndarray:
    """``v`` with values less than ``scale.tolerance`` outside [lo, hi] moved onto the limit
    (drawn at the end colour, not marked as out of range)."""
    v = np.asarray(v, dtype=float)
    lo, hi, tol = scale.lo, scale.hi, scale.tolerance
    v = np.where((v < lo) & (v >= lo - tol), lo, v)
    return np.where((v > hi) & (v <= hi + tol), hi, v)


@dataclass
class _Range:
    lo: float = np.inf
    hi: float = -np.inf
    plo: float = np.inf  # robust: smallest low percentile over rows
    phi: float = -np.inf  # robust: largest high percentile over rows

    def add(self, arr: np.ndarray | None, pct: tuple[float, float]) -> None:
        if arr is None:
            return
        f = np.asarray(arr, dtype=float)
        f = f[np.isfinite(f)]
        if not f.size:
            return
        self.lo, self.hi = min(self.lo, float(f.min())), max(self.hi, float(f.max()))
        a, b = np.percentile(f, pct)
        self.plo, self.phi = min(self.plo, float(a)), max(self.phi, float(b))

    @property
    def empty(self) -> bool:
        return not np.isfinite(self.lo)


def _ranges(sources: list, qs: list[str], steps: list[int], strats: dict, dim: int) -> tuple:
    pred = {q: _Range() for q in qs}
    exact = {q: _Range() for q in qs}
    for src in sources:
        for st in steps:
            row = src.row_of(st)
            if row is None:
                continue
            for q in qs:
                v, ex = quantity(src.reader, row, q, strats[src.name], dim)
                if q.endswith("error") and v is not None:
                    v = np.abs(v)
                    pred[q].add(v, (0.0, ERROR_PERCENTILE))
                else:
                    pred[q].add(v, VALUE_PERCENTILES)
                exact[q].add(ex, (0.0, 100.0))
    return pred, exact


def _value_scale(p: _Range, e: _Range, dim: int) -> Scale:
    if not e.empty:
        lo, hi, basis = e.lo, e.hi, "exact range"
    elif not p.empty:
        lo, hi, basis = p.plo, p.phi, f"{VALUE_PERCENTILES[0]}–{VALUE_PERCENTILES[1]} percentile"
    else:
        lo, hi, basis = 0.0, 1.0, "no data"
    span = hi - lo
    signed = lo < -1e-6 * max(abs(hi), abs(lo), 1e-300)
    if span <= 0:
        lo, hi = lo - 0.5, hi + 0.5
    if dim == 1:
        pad = 0.05 * (hi - lo)
        return Scale(lo - pad, hi + pad, signed, basis=basis)
    if signed:
        m = max(-lo, hi)
        return Scale(-m, m, True, basis=basis, tolerance=VALUE_TOLERANCE * 2 * m)
    return Scale(lo, hi, False, basis=basis, tolerance=VALUE_TOLERANCE * (hi - lo))


def _error_scale(p: _Range, dim: int, log: bool) -> Scale:
    m = p.phi if np.isfinite(p.phi) and p.phi > 0 else 1e-12
    basis = f"p{ERROR_PERCENTILE:g} of |error|, all runs"
    if log:
        return Scale(m * 10.0**-LOG_DECADES, m, False, log=True, basis=basis)
    if dim == 1:
        return Scale(-m, m, True, basis=basis)
    return Scale(0.0, m, False, basis=basis)


def shared_scales(
    sources: list, qs: list[str], steps: list[int], strats: dict, dim: int, log_errors: bool
) -> dict[str, Scale]:
    """One :class:`Scale` per quantity, from a pass over the drawn rows of every source."""
    pred, exact = _ranges(sources, qs, steps, strats, dim)
    return {
        q: _error_scale(pred[q], dim, log_errors)
        if q.endswith("error")
        else _value_scale(pred[q], exact[q], dim)
        for q in qs
    }


def crop_1d(sources: list, steps: list[int], x: np.ndarray) -> tuple[float, float]:
    """The x window where the solution lives over the drawn steps (plus a margin).

    Support: points where |u*| or |du*/dx| exceeds ``CROP_THRESHOLD`` times its maximum
    (the exact solution; the predicted field when no run has one). The whole axis when the
    support is empty or reaches both ends.
    """
    mask = np.zeros(x.shape, dtype=bool)
    for src in sources:
        r = src.reader
        names = [n for n in ("exact/field", "exact/gradient") if r.has(n)] or ["field"]
        for st in steps:
            row = src.row_of(st)
            if row is None:
                continue
            for n in names:
                a = np.abs(np.asarray(r.row(n, row), dtype=float).reshape(x.size, -1)).max(axis=1)
                top = np.nanmax(a) if np.isfinite(a).any() else 0.0
                if top > 0:
                    mask |= a > CROP_THRESHOLD * top
    if not mask.any():
        return float(x[0]), float(x[-1])
    i0, i1 = np.nonzero(mask)[0][[0, -1]]
    lo, hi = float(x[i0]), float(x[i1])
    margin = max(CROP_MARGIN * (hi - lo), 2 * float(np.min(np.diff(x))) if x.size > 1 else 0.0)
    return max(float(x[0]), lo - margin), min(float(x[-1]), hi + margin)
