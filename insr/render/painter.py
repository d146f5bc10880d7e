"""The animation figure: a grid of panels (runs × quantities) updated in place per step."""

from __future__ import annotations

import math
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
)

SCREEN_INCHES = 19.2  # 1920 px at the default 100 dpi
OVER, UNDER = "lime", "magenta"  # out-of-range colours of the 2D maps
CAPTION = "scales shared by all runs · values: {vbasis} · errors: {ebasis} · out of range: {marks}"


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
    """A grid no wider than a 1920 px screen at 100 dpi (one row of panels per quantity)."""
    panel = (3.4, 2.9) if dim == 2 else (3.6, 1.8)
    fit = max(1, int((SCREEN_INCHES - 0.6) // panel[0]))
    bands = math.ceil(n_runs / fit)
    cols = math.ceil(n_runs / bands)
    return Layout(cols, bands, nq, panel)


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
    def _panel(self, ax: Any, src: Any, q: str, i: int, j: int) -> dict[str, Any]:
        s = self.strats[src.name]
        scale = self.scales[q]
        if self.dim == 1:
            a = self._panel_1d(ax, src, q, scale)
            labels = LABELS_1D_LOG if scale.log and q in LABELS_1D_LOG else LABELS_1D
            label = labels[q].format(s=s)
        else:
            scalar = "u" if int(src.reader.attrs.get("channels", 1)) == 1 else "ω"
            label = LABELS_2D[q].format(s=s, scalar=scalar)
            a = self._panel_2d(ax, src, q, scale, label)
        a["note"] = ax.text(
            0.5, 0.5, "", ha="center", va="center", transform=ax.transAxes, color="0.4"
        )
        if len(self.sources) == 1:
            ax.set_title(label, fontsize=9)
        else:
            if i == 0:
                ax.set_title(src.name, fontsize=9, fontweight="bold")
            if j % self.layout.cols == 0:
                ax.set_ylabel(label, fontsize=8)
        return a

    def _panel_1d(self, ax: Any, src: Any, q: str, scale: Scale) -> dict[str, Any]:
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
        ax.tick_params(labelsize=7)
        if q == self.qs[-1]:
            ax.set_xlabel(axis_label(src.reader, "x"), fontsize=8)
        return a

    def _panel_2d(self, ax: Any, src: Any, q: str, scale: Scale, label: str) -> dict[str, Any]:
        axes = src.reader.axes()
        ext = [axes[0][0], axes[0][-1], axes[1][0], axes[1][-1]]
        blank = np.full((len(axes[1]), len(axes[0])), np.nan)
        name = "magma" if q.endswith("error") else scale.cmap
        cmap = plt.get_cmap(name).with_extremes(over=OVER, under=UNDER, bad="0.85")
        norm = (
            LogNorm(scale.lo, scale.hi) if scale.log else Normalize(scale.lo, scale.hi, clip=False)
        )
        img = ax.imshow(blank, origin="lower", extent=ext, cmap=cmap, norm=norm)
        self.images[(q, src.name)] = img
        extend = "max" if q.endswith("error") else "both"
        cb = self.fig.colorbar(img, ax=ax, fraction=0.046, pad=0.03, extend=extend)
        cb.ax.tick_params(labelsize=7)
        cb.set_label(label, fontsize=7)
        self.colorbars.append(cb)
        ax.set_xlabel(axis_label(src.reader, "x"), fontsize=7)
        ax.set_ylabel(axis_label(src.reader, "y"), fontsize=7)
        ax.tick_params(labelsize=6)
        return {"image": img}

    def _finish_layout(self) -> None:
        vals = [s for q, s in self.scales.items() if not q.endswith("error")]
        errs = [s for q, s in self.scales.items() if q.endswith("error")]
        caption = CAPTION.format(
            vbasis=vals[0].basis if vals else "-",
            ebasis=(errs[0].basis + (", log" if errs[0].log else "")) if errs else "-",
            marks="▲/▼ at the edge" if self.dim == 1 else f"{OVER} / {UNDER}",
        )
        h = self.layout.figsize[1]
        self.fig.text(0.01, 0.08 / h, caption, fontsize=7, color="0.3")
        self.suptitle = self.fig.suptitle("", fontsize=10)
        self.fig.tight_layout(rect=(0.0, 0.3 / h, 1.0, 1.0 - 0.4 / h))

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
        if self.dim == 2:
            img = a["image"]
            img.set_data(np.full(img.get_array().shape, np.nan) if v is None else np.asarray(v).T)
            return
        scale = self.scales[q]
        x = a["value"].get_xdata()
        if v is not None and scale.log:
            v = np.abs(v)
        a["value"].set_ydata(np.full_like(x, np.nan, dtype=float) if v is None else v)
        a["exact"].set_ydata(np.full_like(x, np.nan, dtype=float) if ex is None else ex)
        vv = np.full_like(x, np.nan, dtype=float) if v is None else np.asarray(v, dtype=float)
        over, under = vv > scale.hi, vv < scale.lo
        a["over"].set_data(x[over], np.full(int(over.sum()), scale.hi))
        a["under"].set_data(x[under], np.full(int(under.sum()), scale.lo))

    def rgb(self) -> np.ndarray:
        self.fig.canvas.draw()
        return np.asarray(self.fig.canvas.buffer_rgba())[..., :3].copy()

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
