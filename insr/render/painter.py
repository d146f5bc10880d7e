"""The animation figure: a grid of panels (runs × quantities) updated in place per step."""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm, Normalize  # noqa: E402

from insr.render.quantities import (  # noqa: E402
    LABELS_1D,
    LABELS_1D_LOG,
    LABELS_2D,
    Scale,
    quantity,
    within_tolerance,
)

SCREEN_INCHES = 19.2  # 1920 px at the default 100 dpi
SCREEN_H = 10.8  # 1080 px
MIN_SCALE = 0.6  # smallest panel, relative to the size a single run gets
OVER, UNDER = "lime", "magenta"  # out-of-range colours of the 2D maps
CAPTION = "scales shared by all runs"


@dataclass(frozen=True)
class Layout:
    """Members are blocks of ``nq`` stacked panels; blocks fill rows of ``cols`` blocks."""

    cols: int
    bands: int
    nq: int
    panel: tuple[float, float]

    @property
    def shape(self) -> tuple[int, int]:
        return self.bands * self.nq, self.cols

    @property
    def figsize(self) -> tuple[float, float]:
        w, h = self.panel
        return max(self.cols * w + 0.6, 4.5), self.bands * self.nq * h + 1.0

    def cell(self, member: int, q: int) -> tuple[int, int]:
        return (member // self.cols) * self.nq + q, member % self.cols


def layout(n_runs: int, nq: int, dim: int) -> Layout:
    """The grid that fits a 1920 × 1080 px screen (at 100 dpi) with the largest panels.

    Members are blocks of ``nq`` stacked panels placed in rows of ``cols`` blocks; panels
    shrink (down to ``MIN_SCALE`` of their full size) to fit; below that the figure grows
    taller, never wider than the screen.
    """
    full = (3.4, 2.9) if dim == 2 else (3.6, 1.8)
    best: tuple[float, int] = (-1.0, 1)
    for cols in range(1, n_runs + 1):
        rows = math.ceil(n_runs / cols) * nq
        s = min(1.0, (SCREEN_INCHES - 0.6) / (cols * full[0]), (SCREEN_H - 1.0) / (rows * full[1]))
        wide_enough = cols * full[0] * max(s, MIN_SCALE) + 0.6 <= SCREEN_INCHES
        if wide_enough and s > best[0] + 1e-9:
            best = (s, cols)
    s, cols = best
    s = max(s, MIN_SCALE)
    return Layout(cols, math.ceil(n_runs / cols), nq, (full[0] * s, full[1] * s))


def colour_map(q: str, scale: Scale) -> Any:
    """magma for error magnitudes (tiny errors are not marked), else the scale's map; the
    out-of-range colours ``OVER`` / ``UNDER``, grey for missing values."""
    if q.endswith("error"):
        base = plt.get_cmap("magma")
        return base.with_extremes(over=OVER, under=base(0.0), bad="0.85")
    return plt.get_cmap(scale.cmap).with_extremes(over=OVER, under=UNDER, bad="0.85")


def axis_label(reader: Any, name: str) -> str:
    """``x`` with its unit from the log's grid axis (``units`` attribute), when stored."""
    ds = reader.h5.get(f"grid/{name}") if hasattr(reader, "h5") else None
    units = ds.attrs.get("units") if ds is not None else None
    if isinstance(units, bytes):
        units = units.decode()
    return f"{name} [{units}]" if units else f"{name} [domain units]"


class FramePainter:
    """Owns the figure; ``draw(step)`` updates every panel to that step."""

    def __init__(
        self,
        sources: list,
        qs: list[str],
        strats: dict[str, str],
        dim: int,
        title: str,
        dpi: int,
        scales: dict[str, Scale],
        xlim: tuple[float, float] | None = None,
    ) -> None:
        self.sources, self.qs, self.strats, self.dim, self.title = sources, qs, strats, dim, title
        self.scales, self.xlim = scales, xlim
        self.layout = layout(len(sources), len(qs), dim)
        nrow, ncol = self.layout.shape
        self.fig, self.axs = plt.subplots(
            nrow, ncol, figsize=self.layout.figsize, squeeze=False, dpi=dpi
        )
        self.artists: dict[tuple[int, int], dict[str, Any]] = {}
        self.images: dict[tuple[str, str], Any] = {}  # (quantity, run) -> image (2D)
        self.colorbars: list[Any] = []
        used = set()
        for j, src in enumerate(sources):
            for i, q in enumerate(qs):
                cell = self.layout.cell(j, i)
                used.add(cell)
                self.artists[(i, j)] = self._panel(self.axs[cell], src, q, i, j)
        for r in range(nrow):
            for c in range(ncol):
                if (r, c) not in used:
                    self.axs[r, c].axis("off")
        self._finish_layout()

    # ----------------------------------------------------------------- building
    def _place(self, j: int, i: int) -> tuple[bool, bool, bool]:
        """(first column, last column of its band, bottom panel of its block)."""
        col = j % self.layout.cols
        last = col == self.layout.cols - 1 or j == len(self.sources) - 1
        return col == 0, last, i == len(self.qs) - 1

    def _panel(self, ax: Any, src: Any, q: str, i: int, j: int) -> dict[str, Any]:
        s = self.strats[src.name]
        scale = self.scales[q]
        if self.dim == 1:
            labels = LABELS_1D_LOG if scale.log and q in LABELS_1D_LOG else LABELS_1D
            label = labels[q].format(s=s)
            a = self._panel_1d(ax, src, scale, *self._place(j, i))
        else:
            scalar = "u" if int(src.reader.attrs.get("channels", 1)) == 1 else "ω"
            label = LABELS_2D[q].format(s=s, scalar=scalar)
            a = self._panel_2d(ax, src, q, scale, label, *self._place(j, i))
        a["note"] = ax.text(
            0.5, 0.5, "", ha="center", va="center", transform=ax.transAxes, color="0.4"
        )
        if len(self.sources) == 1:
            ax.set_title(label, fontsize=9)
            return a
        if i == 0:
            ax.set_title(src.label, fontsize=9, fontweight="bold")
        if self._place(j, i)[0]:
            y = f"\n{axis_label(src.reader, 'y')}" if self.dim == 2 else ""
            ax.set_ylabel(label + y, fontsize=7)
        return a

    def _panel_1d(
        self, ax: Any, src: Any, scale: Scale, first: bool, last: bool, bottom: bool
    ) -> dict[str, Any]:
        x = src.reader.axes()[0]
        nan = np.full_like(x, np.nan, dtype=float)
        a = {
            "exact": ax.plot(x, nan, "k--", lw=0.9)[0],
            "value": ax.plot(x, nan, color="C0", lw=1.2)[0],
            "over": ax.plot([], [], ls="none", marker="^", ms=3.5, color="C3")[0],
            "under": ax.plot([], [], ls="none", marker="v", ms=3.5, color="C3")[0],
        }
        if scale.log:
            ax.set_yscale("log")
        ax.set_ylim(scale.lo, scale.hi)
        ax.set_xlim(*(self.xlim or (x[0], x[-1])))
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=6, labelleft=first or len(self.sources) == 1)
        if bottom:
            ax.set_xlabel(axis_label(src.reader, "x"), fontsize=7)
        return a

    def _panel_2d(
        self, ax: Any, src: Any, q: str, scale: Scale, label: str, *place: bool
    ) -> dict[str, Any]:
        first, last, bottom = place
        single = len(self.sources) == 1
        axes = src.reader.axes()
        ext = [axes[0][0], axes[0][-1], axes[1][0], axes[1][-1]]
        blank = np.full((len(axes[1]), len(axes[0])), np.nan)
        cmap = colour_map(q, scale)
        norm = (
            LogNorm(scale.lo, scale.hi) if scale.log else Normalize(scale.lo, scale.hi, clip=False)
        )
        img = ax.imshow(blank, origin="lower", extent=ext, cmap=cmap, norm=norm)
        self.images[(q, src.name)] = img
        extend = "max" if q.endswith("error") else "both"
        cb = self.fig.colorbar(img, ax=ax, fraction=0.046, pad=0.03, extend=extend)
        cb.ax.tick_params(labelsize=6)
        if single or last:  # one shared bar per row of panels; the others keep the space
            cb.set_label(label, fontsize=7)
            self.colorbars.append(cb)
        else:
            cb.ax.set_visible(False)
        if single or bottom:
            ax.set_xlabel(axis_label(src.reader, "x"), fontsize=7)
        if single:
            ax.set_ylabel(axis_label(src.reader, "y"), fontsize=7)
        ax.tick_params(labelsize=6, labelleft=single or first, labelbottom=single or bottom)
        return {"image": img}

    def _caption(self) -> str:
        vals = [s for q, s in self.scales.items() if not q.endswith("error")]
        errs = [s for q, s in self.scales.items() if q.endswith("error")]
        parts = [CAPTION]
        if vals:
            parts.append(f"values: {vals[0].basis}")
        if errs:
            parts.append(f"errors: {errs[0].basis}" + (", log" if errs[0].log else ""))
        marks = "▲/▼ at the edge" if self.dim == 1 else f"{OVER}/{UNDER}"
        parts.append(f"out of range: {marks}")
        if self.xlim is not None:
            parts.append("x cropped to the solution (--full-domain shows all)")
        return " · ".join(parts)

    def _finish_layout(self) -> None:
        caption = self._caption()
        w, h = self.layout.figsize
        lines = textwrap.wrap(caption, width=max(40, int(w * 17)))
        self.fig.text(0.01, 0.06 / h, "\n".join(lines), fontsize=7, color="0.3", va="bottom")
        self.suptitle = self.fig.suptitle("", fontsize=10, y=1.0 - 0.08 / h, va="top")
        bottom = (0.12 + 0.13 * len(lines)) / h
        self.fig.tight_layout(rect=(0.0, bottom, 1.0, 1.0 - 0.3 / h))

    # ----------------------------------------------------------------- drawing
    def draw(self, step: int) -> None:
        t = None
        for j, src in enumerate(self.sources):
            row = src.row_of(step)
            if row is not None and t is None and src.reader.has("time"):
                t = float(src.reader.row("time", row))
            for i, q in enumerate(self.qs):
                v, ex = (None, None)
                if row is not None:
                    v, ex = quantity(src.reader, row, q, self.strats[src.name], self.dim)
                self._update(self.artists[(i, j)], q, v, ex, row, step)
        tt = f", t = {t:.4g}" if t is not None else ""
        self.suptitle.set_text(f"{self.title} — step {step}{tt}")

    def _update(self, a: dict, q: str, v: Any, ex: Any, row: int | None, step: int) -> None:
        missing = f"step {step} not logged" if row is None else "no exact solution"
        a["note"].set_text("" if v is not None else missing)
        scale = self.scales[q]
        if self.dim == 2:
            img = a["image"]
            if v is None:
                img.set_data(np.full(img.get_array().shape, np.nan))
                return
            v = within_tolerance(v, scale)
            img.set_data(v.T)
            return
        x = a["value"].get_xdata()
        if v is not None and scale.log:
            v = np.abs(v)
        a["value"].set_ydata(np.full_like(x, np.nan, dtype=float) if v is None else v)
        a["exact"].set_ydata(np.full_like(x, np.nan, dtype=float) if ex is None else ex)
        vv = np.full_like(x, np.nan, dtype=float) if v is None else np.asarray(v, dtype=float)
        over, under = vv > scale.hi, vv < scale.lo
        a["over"].set_data(x[over], np.full(int(over.sum()), scale.hi))
        if scale.log:  # below the lowest decade is not worth a mark
            under[:] = False
        a["under"].set_data(x[under], np.full(int(under.sum()), scale.lo))

    def rgb(self) -> np.ndarray:
        self.fig.canvas.draw()
        return np.asarray(self.fig.canvas.buffer_rgba())[..., :3].copy()  # type: ignore[attr-defined]

    def colorbar_boxes(self) -> list[tuple[int, int, int, int]]:
        """Pixel boxes (x0, y0, x1, y1), origin top-left, of the colour bars' interiors."""
        self.fig.canvas.draw()
        H = self.fig.canvas.get_width_height()[1]
        out = []
        for cb in self.colorbars:
            b = cb.ax.get_window_extent()
            out.append((int(b.x0) + 2, int(H - b.y1) + 2, int(b.x1) - 2, int(H - b.y0) - 2))
        return out

    def close(self) -> None:
        plt.close(self.fig)
