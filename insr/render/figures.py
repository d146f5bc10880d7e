"""Still figures of a compare dir: fields.png (members side by side) and errors.png.

Panels of one quantity share their scale across members (see :mod:`insr.render.quantities`);
1D panels are cropped to where the solution lives unless ``full_domain``.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import Normalize  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from insr.errors import UsageError  # noqa: E402
from insr.log import RunLogReader  # noqa: E402
from insr.render.painter import axis_label, colour_map  # noqa: E402
from insr.render.quantities import (  # noqa: E402
    crop_1d,
    default_strategy,
    quantity,
    shared_scales,
    within_tolerance,
)
from insr.render.sources import Source, member_logs  # noqa: E402
from insr.render.styles import member_styles  # noqa: E402
from insr.verdict import BAD  # noqa: E402


def _bad_fit(src: Source) -> str:
    """`` [poor fit]`` / `` [failed fit]`` when the member's fit verdict is bad
    (insr.verdict), else ``""``."""
    v = str(src.reader.attrs.get("fit_verdict", ""))
    return f" [{v} fit]" if v in BAD else ""


def member_label(src: Source) -> str:
    """The member's label (name, and a grid baseline's scheme), marked when its fit
    verdict is poor or failed."""
    return src.label + _bad_fit(src)


def _row_name(src: Source) -> str:
    """A row label: the member's name and a bad verdict (the scheme of a grid baseline
    goes into the panel, :func:`_scheme_note`)."""
    return src.name + _bad_fit(src)


def _scheme_note(ax: Any, src: Source) -> None:
    """A grid baseline's scheme, top left inside its first panel."""
    scheme = src.reader.attrs.get("grid_scheme")
    if scheme:
        box = {"fc": "white", "alpha": 0.8, "lw": 0}
        ax.text(0.01, 0.97, str(scheme), transform=ax.transAxes, fontsize=7, va="top", bbox=box)


def pick_steps(steps: np.ndarray, n: int = 3) -> list[int]:
    """Up to ``n`` logged step numbers spread from first to last."""
    if steps.size == 0:
        return []
    idx = np.unique(np.linspace(0, steps.size - 1, n).round().astype(int))
    return [int(steps[i]) for i in idx]


def _open(compare_dir: Path) -> list[Source]:
    out = []
    for name, p in member_logs(compare_dir):
        try:
            r = RunLogReader(p)
        except UsageError:
            continue
        if r.n == 0:
            r.close()
            continue
        out.append(
            Source(name, r, np.asarray(r.series("step")) if r.has("step") else np.arange(r.n))
        )
    return out


def make_figures(
    compare_dir: Path, strategy: str | None = None, full_domain: bool = False
) -> list[Path]:
    """Field/gradient figure (1D curves or 2D image grid) and error-over-time figure."""
    compare_dir = Path(compare_dir)
    sources = _open(compare_dir)
    paths: list[Path] = []
    if not sources:
        return paths
    try:
        dim = int(sources[0].reader.attrs.get("dim", len(sources[0].reader.axes())))
        if dim == 1:
            paths.append(_figure_1d(compare_dir, sources, strategy, full_domain))
        elif dim == 2:
            paths.append(_figure_2d(compare_dir, sources, strategy))
        paths.append(_figure_errors(compare_dir, sources))
    finally:
        for s in sources:
            s.reader.close()
    return paths


def _figure_1d(out: Path, sources: list[Source], strategy: str | None, full: bool) -> Path:
    n = len(sources)
    fig, axs = plt.subplots(n, 2, figsize=(11, 2.2 * n + 0.8), squeeze=False, sharex=True)
    cmap = plt.get_cmap("viridis")
    chosen = {s.name: pick_steps(s.steps) for s in sources}
    every = sorted({st for c in chosen.values() for st in c})
    strats = {s.name: default_strategy(s.reader, strategy) for s in sources}
    qs = ["field"] + (["gradient"] if all(strats.values()) else [])
    scales = shared_scales(sources, qs, every, strats, 1, False)
    for i, src in enumerate(sources):
        r, s = src.reader, strats[src.name]
        x = r.axes()[0]
        for j, st in enumerate(chosen[src.name]):
            row = src.row_of(st)
            c = cmap(j / max(1, len(chosen[src.name]) - 1) * 0.85)
            axs[i, 0].plot(x, r.row("field", row)[:, 0], color=c, lw=1.2, label=f"step {st}")
            if r.has("exact/field"):
                axs[i, 0].plot(x, r.row("exact/field", row)[:, 0], "k--", lw=0.8)
            if s:
                axs[i, 1].plot(x, r.row(f"gradient/{s}", row)[:, 0, 0], color=c, lw=1.0)
            if r.has("exact/gradient"):
                axs[i, 1].plot(x, r.row("exact/gradient", row)[:, 0, 0], "k--", lw=0.8)
        for k, q in enumerate(qs):
            axs[i, k].set_ylim(scales[q].lo, scales[q].hi)
            axs[i, k].grid(alpha=0.3)
        axs[i, 0].set_ylabel(_row_name(src), fontsize=9)
        _scheme_note(axs[i, 0], src)
        if i == 0 or chosen[src.name] != chosen[sources[i - 1].name]:
            axs[i, 0].legend(fontsize=7, loc="upper right")
        axs[i, 1].set_title(f"gradient ({s})" if i == 0 else "", fontsize=9)
        axs[i, 0].set_title("field (exact dashed)" if i == 0 else "", fontsize=9)
    x = sources[0].reader.axes()[0]
    axs[-1, 0].set_xlim(*((x[0], x[-1]) if full else crop_1d(sources, every, x)))
    for k in (0, 1):
        axs[-1, k].set_xlabel(axis_label(sources[0].reader, "x"))
    fig.text(0.01, 0.01, f"y limits shared by all members ({scales['field'].basis})", fontsize=7)
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    path = out / "fields.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


COLUMNS_2D = [
    ("field", "scalar"),
    ("gradient", "|∇u|"),
    ("field_error", "scalar error"),
    ("gradient_error", "|∇u − ∇u*|"),
]


def _figure_2d(out: Path, sources: list[Source], strategy: str | None) -> Path:
    n = len(sources)
    fig, axs = plt.subplots(n, 4, figsize=(13, 2.9 * n + 0.7), squeeze=False)
    last = {s.name: int(s.steps[-1]) for s in sources}
    strats = {s.name: default_strategy(s.reader, strategy) for s in sources}
    qs = [q for q, _ in COLUMNS_2D if q.startswith("field") or all(strats.values())]
    scales = shared_scales([s for s in sources], qs, sorted(set(last.values())), strats, 2, False)
    for i, src in enumerate(sources):
        r = src.reader
        ax_ = r.axes()
        ext = [ax_[0][0], ax_[0][-1], ax_[1][0], ax_[1][-1]]
        row = int(src.row_of(last[src.name]) or 0)  # the member's own last step
        for j, (q, title) in enumerate(COLUMNS_2D):
            a = axs[i, j]
            im = None if q not in qs else quantity(r, row, q, strats[src.name] or "", 2)[0]
            if im is None:
                a.text(0.5, 0.5, "n/a", ha="center", va="center", transform=a.transAxes)
                a.set_xticks([])
                a.set_yticks([])
                continue
            _map(fig, a, im, ext, scales[q], q)
            a.set_xlabel(axis_label(r, "x"), fontsize=7)
            a.set_ylabel(axis_label(r, "y"), fontsize=7)
            a.tick_params(labelsize=6)
            if i == 0:
                a.set_title(title, fontsize=9)
        axs[i, 0].set_ylabel(
            f"{_row_name(src)}  step {last[src.name]}\n{axis_label(r, 'y')}", fontsize=8
        )
        scheme = r.attrs.get("grid_scheme")
        if scheme:  # above the row's first panel (a narrow image: no room inside)
            axs[i, 0].set_title(textwrap.fill(str(scheme), 44), fontsize=6.5, loc="left")
    fig.text(0.01, 0.005, "colour scales shared by all members (per column)", fontsize=7)
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    path = out / "fields.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _map(fig: Any, ax: Any, im: np.ndarray, ext: list, scale: Any, q: str) -> None:
    cmap = colour_map(q, scale)
    h = ax.imshow(
        within_tolerance(im, scale).T,
        origin="lower",
        extent=ext,
        cmap=cmap,
        norm=Normalize(scale.lo, scale.hi),
    )
    cb = fig.colorbar(h, ax=ax, fraction=0.046, extend="max" if q.endswith("error") else "both")
    cb.ax.tick_params(labelsize=6)


def _figure_errors(out: Path, sources: list[Source]) -> Path:
    fig = errors_figure(sources)
    path = out / "errors.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def errors_figure(sources: list[Source]) -> Any:
    """Field and gradient errors over the steps, one curve per member (styles from
    :mod:`insr.render.styles`); the gradient panels share one log scale (noise <= rel.
    error, :mod:`insr.metrics`); one legend, right of the panels."""
    metrics = {s.name: s.reader.metrics() for s in sources}  # read once per member
    strategies: list[str] = []
    for met in metrics.values():
        for k in met:
            if k.startswith("gradient_rel_error_") and k[19:] not in strategies:
                strategies.append(k[19:])
    panels = [("field_max_error", "max |u − u*|", "max |u − u*|  (units of u)")]
    panels += [
        (f"gradient_rel_error_{s}", f"gradient rel. error ({s})", "‖∇u − ∇u*‖₂ / ‖∇u*‖₂")
        for s in strategies
    ]
    panels += [
        (f"gradient_noise_{s}", f"gradient noise ({s})", "high-frequency part / ‖∇u*‖₂")
        for s in strategies
    ]
    ncol = min(3, len(panels))
    nrow = math.ceil(len(panels) / ncol)
    styles = member_styles(sources)
    fig, axs = plt.subplots(nrow, ncol, figsize=(4.3 * ncol + 3.2, 3.2 * nrow), squeeze=False)
    handles: dict[str, Any] = {}
    grad_axes, grad_lims = [], [math.inf, -math.inf]
    for k, (metric, title, ylabel) in enumerate(panels):
        a = axs[k // ncol, k % ncol]
        for src in sources:
            met = metrics[src.name]
            if metric not in met:
                continue
            y = np.asarray(met[metric], dtype=float)
            y = np.where(y > 0, y, np.nan)
            st = styles[src.name]
            bad = bool(_bad_fit(src))
            (h,) = a.plot(
                src.steps[: y.size],
                y,
                color=st.colour,
                linestyle=st.dash,
                lw=1.3,
                marker="x" if bad else None,
                markersize=4,
                label=member_label(src),
            )
            handles.setdefault(src.name, h)
            if metric != "field_max_error" and np.isfinite(y).any():
                grad_lims[0] = min(grad_lims[0], float(np.nanmin(y)))
                grad_lims[1] = max(grad_lims[1], float(np.nanmax(y)))
        if metric != "field_max_error":
            grad_axes.append(a)
        a.set_yscale("log")
        a.set_title(title, fontsize=9)
        a.set_xlabel("step")
        a.set_ylabel(ylabel, fontsize=8)
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
        a.tick_params(labelsize=7)
        a.grid(alpha=0.3, which="both")
    if grad_axes and grad_lims[0] < grad_lims[1]:
        for a in grad_axes:
            a.set_ylim(grad_lims[0] / 1.5, grad_lims[1] * 1.5)
    for k in range(len(panels), nrow * ncol):
        axs[k // ncol, k % ncol].axis("off")
    fig.tight_layout(rect=(0, 0.03, 1 - 3.2 / (4.3 * ncol + 3.2), 1))
    fig.legend(
        list(handles.values()),
        [member_label(s) for s in sources if s.name in handles],
        loc="center left",
        bbox_to_anchor=(1 - 3.1 / (4.3 * ncol + 3.2), 0.5),
        fontsize=7,
        frameon=False,
        labelspacing=0.6,
    )
    fig.text(
        0.01,
        0.005,
        "solid: networks; dashed (semi-Lagrangian), dash-dot or dotted (method of lines): "
        "grid baselines, in the colour of the member they match in memory; x: poor or "
        "failed fit; the gradient panels share one scale",
        fontsize=7,
    )
    return fig
