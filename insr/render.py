"""Animations and still frames from run logs (one run, or every member of a compare dir).

The log is read lazily, one row at a time (:meth:`RunLogReader.row`): a first pass over
the selected rows fixes the axis / colour limits, a second draws and writes the frames,
so a long run never has to fit in memory.

What is drawn (one column per run; rows chosen by ``what``):

- 1D: ``field`` (u with the exact u* dashed), ``gradient`` (du/dx by the chosen strategy,
  exact dashed), ``error`` (u - u* and du/dx - du*/dx, signed);
- 2D: heat maps of the scalar (the field, or the vorticity for a 2D velocity field:
  ``/fluid/vorticity``, exact vorticity from the exact Jacobian), of the gradient magnitude
  ``|J|`` (Frobenius norm of the Jacobian) and of the errors ``|s - s*|`` and ``|J - J*|``.

``what = all`` draws the values and the errors. GIFs are written by Pillow (frames are
palette-quantized as they are produced), MP4 by ffmpeg (imageio-ffmpeg's bundled binary,
or ``ffmpeg`` on PATH).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from insr.errors import UsageError

What = Literal["field", "gradient", "error", "all"]
WHATS = ("field", "gradient", "error", "all")
FORMATS = ("gif", "mp4")


# --------------------------------------------------------------------------- inputs
def parse_steps(text: str | None) -> tuple[int | None, int | None, int]:
    """``"a:b:k"`` (any part may be empty; ``"a"`` alone means just step a) -> (a, b, k).

    Selects logged steps s with ``a <= s < b`` and ``(s - a) % k == 0`` (Python slice rule on
    step numbers, not on rows).
    """
    if text is None or text.strip() == "":
        return None, None, 1
    m = re.fullmatch(r"\s*(-?\d*)\s*(?::\s*(-?\d*)\s*(?::\s*(-?\d*)\s*)?)?", text)
    if not m:
        raise UsageError(f"--steps {text!r} is not a step slice: expected a:b:k (e.g. 0:40:2)")
    a, b, k = (int(g) if g not in (None, "") else None for g in m.groups())
    if ":" not in text:
        if a is None:
            raise UsageError(f"--steps {text!r} is not a step slice: expected a:b:k")
        return a, a + 1, 1
    if k is not None and k <= 0:
        raise UsageError(f"--steps {text!r}: the stride k must be >= 1")
    for v in (a, b):
        if v is not None and v < 0:
            raise UsageError(f"--steps {text!r}: step numbers must be >= 0")
    if a is not None and b is not None and b <= a:
        raise UsageError(f"--steps {text!r} is empty: need a < b")
    return a, b, k or 1


def select_steps(available: list[int], sl: tuple[int | None, int | None, int]) -> list[int]:
    a, b, k = sl
    lo = a if a is not None else (min(available) if available else 0)
    return [s for s in sorted(available) if s >= lo and (b is None or s < b) and (s - lo) % k == 0]


def find_ffmpeg() -> str | None:
    """Path of an ffmpeg executable: imageio-ffmpeg's bundled one, else the system's."""
    try:
        import imageio_ffmpeg  # type: ignore[import-not-found]

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except Exception:  # not installed, or its binary is missing
        pass
    return shutil.which("ffmpeg")


@dataclass
class Source:
    """One run to draw: a label and its open log."""

    name: str
    reader: Any  # RunLogReader
    steps: np.ndarray  # step number of each completed row

    def row_of(self, step: int) -> int | None:
        idx = np.nonzero(self.steps == step)[0]
        return int(idx[0]) if idx.size else None


def open_sources(path: Path) -> tuple[list[Source], Path, str]:
    """A run dir / run.h5 or a compare dir -> (sources, directory beside which to write,
    title)."""
    from insr.compare import is_compare_dir, read_manifest
    from insr.log import RunLogReader

    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path} does not exist: expected a run directory, run.h5 or compare dir")
    if is_compare_dir(path):
        manifest = read_manifest(path)
        sources = []
        for m in manifest.get("members", []):
            log = path / m["name"] / "run.h5"
            if not log.exists():
                continue
            try:
                r = RunLogReader(log)
            except UsageError:
                continue
            if r.n == 0:
                r.close()
                continue
            sources.append(Source(m["name"], r, _steps(r)))
        if not sources:
            raise UsageError(f"{path}: no member of this compare directory has a logged step")
        title = f"{manifest.get('case', '')} — {manifest.get('kind', 'compare')}"
        return sources, path, title
    if path.is_dir() and not (path / "run.h5").exists():
        raise UsageError(f"{path} is neither a run directory (no run.h5) nor a compare directory")
    r = RunLogReader(path)
    if r.n == 0:
        r.close()
        raise UsageError(f"{r.path} has no completed step to render")
    src = Source(str(r.attrs.get("representation", "run")), r, _steps(r))
    return [src], r.path.parent, f"{r.attrs.get('case', '')} — {src.name}"


def _steps(r: Any) -> np.ndarray:
    return np.asarray(r.series("step")) if r.has("step") else np.arange(r.n)


# --------------------------------------------------------------------------- quantities
def _rows_for(what: str) -> list[str]:
    if what == "all":
        return ["field", "gradient", "field_error", "gradient_error"]
    if what == "error":
        return ["field_error", "gradient_error"]
    return [what, f"{what}_error"]


LABELS_1D = {
    "field": "u (exact dashed)",
    "gradient": "du/dx ({s}; exact dashed)",
    "field_error": "u − u*",
    "gradient_error": "du/dx − du*/dx ({s})",
}
LABELS_2D = {
    "field": "{scalar}",
    "gradient": "|∇u| ({s})",
    "field_error": "|{scalar} − {scalar}*|",
    "gradient_error": "|∇u − ∇u*| ({s})",
}


def _strategy(src: Source, wanted: str | None) -> str:
    grads = [n.split("/", 1)[1] for n in src.reader.names() if n.startswith("gradient/")]
    if wanted:
        if wanted not in grads:
            raise UsageError(
                f"{src.name}: no gradient '{wanted}' in the log; "
                f"logged: {', '.join(grads) or 'none'}"
            )
        return wanted
    for s in ("autodiff", "closed"):
        if s in grads:
            return s
    if not grads:
        raise UsageError(f"{src.name}: the log holds no gradient")
    return grads[0]


def quantity(src: Source, row: int, q: str, strategy: str, dim: int) -> tuple[Any, Any]:
    """(value, exact-or-None) of quantity ``q`` at ``row``; errors return (error, None)."""
    from insr.compare import scalar_of

    r = src.reader
    has_exact_g = r.has("exact/gradient")
    if q in ("field", "field_error"):
        u = scalar_of(r, row)
        ex = scalar_of(r, row, exact=True)
        if q == "field":
            return u, ex
        if ex is None:
            return None, None
        return (u - ex if dim == 1 else np.abs(u - ex)), None
    J = r.row(f"gradient/{strategy}", row)
    Jx = r.row("exact/gradient", row) if has_exact_g else None
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


def _limits(
    sources: list[Source], qs: list[str], steps: list[int], strats: dict[str, str], dim: int
) -> dict[str, tuple[float, float]]:
    """Shared limits per quantity from a pass over the selected rows (one row at a time).

    Values: the exact range, widened to the prediction but by at most one exact span on
    each side (a noisy spike must not flatten the picture); errors: symmetric (1D) or
    [0, max] (2D).
    """
    lo: dict[str, float] = {q: np.inf for q in qs}
    hi: dict[str, float] = {q: -np.inf for q in qs}
    elo: dict[str, float] = {q: np.inf for q in qs}
    ehi: dict[str, float] = {q: -np.inf for q in qs}
    for src in sources:
        for st in steps:
            row = src.row_of(st)
            if row is None:
                continue
            for q in qs:
                v, ex = quantity(src, row, q, strats[src.name], dim)
                for arr, (a, b) in ((v, (lo, hi)), (ex, (elo, ehi))):
                    if arr is None:
                        continue
                    f = arr[np.isfinite(arr)]
                    if f.size:
                        a[q] = min(a[q], float(f.min()))
                        b[q] = max(b[q], float(f.max()))
    out: dict[str, tuple[float, float]] = {}
    for q in qs:
        a, b = lo[q], hi[q]
        if np.isfinite(elo[q]):
            span = max(ehi[q] - elo[q], 1e-12)
            a = max(min(a, elo[q]), elo[q] - span)
            b = min(max(b, ehi[q]), ehi[q] + span)
        if not np.isfinite(a) or not np.isfinite(b):
            a, b = 0.0, 1.0
        if q.endswith("error"):
            m = max(abs(a), abs(b), 1e-12)
            a, b = (-m, m) if dim == 1 else (0.0, m)
        if b <= a:
            a, b = a - 0.5, b + 0.5
        pad = 0.05 * (b - a) if dim == 1 else 0.0
        out[q] = (a - pad, b + pad)
    return out


# --------------------------------------------------------------------------- drawing
class FramePainter:
    """Owns the figure; ``draw(step)`` updates every panel to that step."""

    def __init__(
        self,
        sources: list[Source],
        qs: list[str],
        steps: list[int],
        strats: dict[str, str],
        dim: int,
        title: str,
        dpi: int,
    ) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        self.plt = plt
        self.sources, self.qs, self.strats, self.dim, self.title = sources, qs, strats, dim, title
        # values share limits across runs (same exact solution); errors get each run's own
        # scale, so one failed run cannot flatten the noise of the others
        vals = [q for q in qs if not q.endswith("error")]
        shared = _limits(sources, vals, steps, strats, dim)
        self.limits = {(q, src.name): lim for src in sources for q, lim in shared.items()}
        for src in sources:
            errs = [q for q in qs if q.endswith("error")]
            for q, lim in _limits([src], errs, steps, strats, dim).items():
                self.limits[(q, src.name)] = lim
        ncol, nrow = len(sources), len(qs)
        w = 3.6 * ncol if dim == 2 else 4.2 * ncol
        h = 2.9 * nrow if dim == 2 else 2.0 * nrow
        self.fig, axs = plt.subplots(
            nrow, ncol, figsize=(max(w, 4.5), h + 0.7), squeeze=False, dpi=dpi
        )
        self.axs = axs
        self.artists: dict[tuple[int, int], dict[str, Any]] = {}
        for j, src in enumerate(sources):
            axes = src.reader.axes()
            for i, q in enumerate(qs):
                ax = axs[i, j]
                a: dict[str, Any] = {}
                s = strats[src.name]
                if dim == 1:
                    x = axes[0]
                    a["exact"] = ax.plot(x, np.full_like(x, np.nan), "k--", lw=0.9)[0]
                    a["value"] = ax.plot(x, np.full_like(x, np.nan), color="C0", lw=1.2)[0]
                    ax.set_ylim(*self.limits[(q, src.name)])
                    ax.set_xlim(x[0], x[-1])
                    ax.grid(alpha=0.3)
                    label = LABELS_1D[q].format(s=s)
                    if i == nrow - 1:
                        ax.set_xlabel("x")
                else:
                    ext = [axes[0][0], axes[0][-1], axes[1][0], axes[1][-1]]
                    blank = np.full((len(axes[1]), len(axes[0])), np.nan)
                    vmin, vmax = self.limits[(q, src.name)]
                    cmap = "magma" if q.endswith("error") else "viridis"
                    if q == "field" and vmin < 0 < vmax:
                        cmap, m = "RdBu_r", max(-vmin, vmax)
                        vmin, vmax = -m, m
                    a["image"] = ax.imshow(
                        blank, origin="lower", extent=ext, cmap=cmap, vmin=vmin, vmax=vmax
                    )
                    self.fig.colorbar(a["image"], ax=ax, fraction=0.046, pad=0.03)
                    ax.set_xticks([])
                    ax.set_yticks([])
                    scalar = "u" if int(src.reader.attrs.get("channels", 1)) == 1 else "ω"
                    label = LABELS_2D[q].format(s=s, scalar=scalar)
                a["note"] = ax.text(
                    0.5, 0.5, "", ha="center", va="center", transform=ax.transAxes, color="0.4"
                )
                if ncol == 1:
                    ax.set_title(label, fontsize=9)
                else:
                    if i == 0:
                        ax.set_title(src.name, fontsize=9)
                    if j == 0:
                        ax.set_ylabel(label, fontsize=8)
                self.artists[(i, j)] = a
        self.suptitle = self.fig.suptitle("", fontsize=10)
        top = 1.0 - 0.35 / (h + 0.7)  # leave room for the suptitle (figure fraction)
        self.fig.tight_layout(rect=(0.0, 0.0, 1.0, top))

    def draw(self, step: int) -> None:
        t = None
        for j, src in enumerate(self.sources):
            row = src.row_of(step)
            if row is not None and t is None and src.reader.has("time"):
                t = float(src.reader.row("time", row))
            for i, q in enumerate(self.qs):
                a = self.artists[(i, j)]
                v, ex = (None, None)
                if row is not None:
                    v, ex = quantity(src, row, q, self.strats[src.name], self.dim)
                note = (
                    ""
                    if v is not None
                    else (f"step {step} not logged" if row is None else "no exact solution")
                )
                a["note"].set_text(note)
                if self.dim == 1:
                    nan = np.full_like(a["value"].get_xdata(), np.nan, dtype=float)
                    a["value"].set_ydata(nan if v is None else v)
                    a["exact"].set_ydata(nan if ex is None else ex)
                else:
                    img = a["image"]
                    shape = img.get_array().shape
                    img.set_data(np.full(shape, np.nan) if v is None else np.asarray(v).T)
        tt = f", t = {t:.4g}" if t is not None else ""
        self.suptitle.set_text(f"{self.title} — step {step}{tt}")

    def rgb(self) -> np.ndarray:
        self.fig.canvas.draw()
        return np.asarray(self.fig.canvas.buffer_rgba())[..., :3].copy()

    def close(self) -> None:
        self.plt.close(self.fig)


# --------------------------------------------------------------------------- entry point
def default_output(base: Path, what: str, fmt: str, frame: int | None) -> Path:
    if frame is not None:
        return base / f"render-{what}-step{frame}.png"
    return base / f"render-{what}.{fmt}"


def resolve_output(
    base: Path, what: str, fmt: str | None, frame: int | None, out: Path | None
) -> tuple[Path, str]:
    """Output path and format ('gif', 'mp4' or 'png'), checked for consistency."""
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r} is not allowed: expected gif or mp4")
    if frame is not None:
        if fmt is not None:
            raise UsageError("--frame writes one PNG; leave out --format")
        if out is not None and out.suffix.lower() != ".png":
            raise UsageError(f"--out {out}: --frame writes a PNG, so the name must end in .png")
        return (out or default_output(base, what, "png", frame)), "png"
    if out is not None:
        suf = out.suffix.lower().lstrip(".")
        if suf not in FORMATS:
            raise UsageError(f"--out {out}: expected a name ending in .gif or .mp4")
        if fmt is not None and fmt != suf:
            raise UsageError(f"--out {out} does not match --format {fmt}")
        return out, suf
    fmt = fmt or "gif"
    return default_output(base, what, fmt, None), fmt


def render(
    path: Path,
    *,
    what: str = "all",
    fmt: str | None = None,
    fps: float = 10.0,
    steps: str | None = None,
    dpi: int = 100,
    frame: int | None = None,
    out: Path | None = None,
    strategy: str | None = None,
    on_frame: Callable[[int, int], None] | None = None,
) -> tuple[Path, int]:
    """Render ``path`` (run or compare dir); returns (output file, number of frames)."""
    if what not in WHATS:
        raise UsageError(f"--what {what!r} is not allowed: expected one of {', '.join(WHATS)}")
    if not 0 < fps <= 120:
        raise UsageError(f"--fps {fps} is not allowed: expected a number in (0, 120]")
    if not 20 <= dpi <= 600:
        raise UsageError(f"--dpi {dpi} is not allowed: expected an integer in [20, 600]")
    sl = parse_steps(steps)
    if frame is not None and steps is not None:
        raise UsageError("give either --frame N or --steps a:b:k, not both")
    sources, base, title = open_sources(path)
    try:
        output, kind = resolve_output(base, what, fmt, frame, out)
        ffmpeg = None
        if kind == "mp4":
            ffmpeg = find_ffmpeg()
            if ffmpeg is None:
                raise UsageError(
                    "MP4 needs ffmpeg and none was found (pip install imageio-ffmpeg, or put "
                    "ffmpeg on PATH); use --format gif instead"
                )
        dims = {int(s.reader.attrs.get("dim", len(s.reader.axes()))) for s in sources}
        if len(dims) != 1 or next(iter(dims)) not in (1, 2):
            raise UsageError(f"can render 1D or 2D logs of one dimension; got dims {sorted(dims)}")
        dim = dims.pop()
        available = sorted({int(s) for src in sources for s in src.steps})
        if frame is not None:
            if frame not in available:
                raise UsageError(
                    f"--frame {frame} is out of range: logged steps are {_describe(available)}"
                )
            chosen = [frame]
        else:
            chosen = select_steps(available, sl)
            if not chosen:
                raise UsageError(
                    f"--steps {steps} selects no logged step; "
                    f"logged steps are {_describe(available)}"
                )
        strats = {s.name: _strategy(s, strategy) for s in sources}
        qs = _rows_for(what)
        if not any(s.reader.has("exact/field") for s in sources):
            qs = [q for q in qs if not q.endswith("error")]
            if not qs:
                raise UsageError("--what error needs an exact solution, and these logs have none")
        output.parent.mkdir(parents=True, exist_ok=True)
        painter = FramePainter(sources, qs, chosen, strats, dim, title, dpi)
        try:
            if kind == "png":
                painter.draw(chosen[0])
                painter.fig.savefig(output, dpi=dpi)
                if on_frame:
                    on_frame(1, 1)
                return output, 1
            if kind == "gif":
                _write_gif(painter, chosen, output, fps, on_frame)
            else:
                _write_mp4(painter, chosen, output, fps, dpi, str(ffmpeg), on_frame)
        finally:
            painter.close()
        return output, len(chosen)
    finally:
        for s in sources:
            s.reader.close()


def _describe(steps: list[int]) -> str:
    if len(steps) <= 6:
        return ", ".join(map(str, steps))
    return f"{steps[0]}, {steps[1]}, ..., {steps[-1]} ({len(steps)} in all)"


def _write_gif(
    painter: FramePainter,
    steps: list[int],
    output: Path,
    fps: float,
    on_frame: Callable[[int, int], None] | None,
) -> None:
    from PIL import Image

    n = len(steps)

    def frames():
        for k, st in enumerate(steps[1:], start=2):
            painter.draw(st)
            yield Image.fromarray(painter.rgb()).convert("P", palette=Image.Palette.ADAPTIVE)
            if on_frame:
                on_frame(k, n)

    painter.draw(steps[0])
    first = Image.fromarray(painter.rgb()).convert("P", palette=Image.Palette.ADAPTIVE)
    if on_frame:
        on_frame(1, n)
    tmp = output.with_name(output.name + ".part")
    try:
        first.save(
            tmp,
            format="GIF",
            save_all=True,
            append_images=frames(),
            duration=int(round(1000 / fps)),
            loop=0,
            optimize=False,
        )
        tmp.replace(output)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {output}: {e.strerror or e}") from None


def _write_mp4(
    painter: FramePainter,
    steps: list[int],
    output: Path,
    fps: float,
    dpi: int,
    ffmpeg: str,
    on_frame: Callable[[int, int], None] | None,
) -> None:
    import matplotlib
    from matplotlib.animation import FFMpegWriter

    matplotlib.rcParams["animation.ffmpeg_path"] = ffmpeg
    # yuv420p (playable everywhere) needs even frame sizes: pad by one pixel when odd
    pad = ["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-pix_fmt", "yuv420p"]
    writer = FFMpegWriter(fps=fps, codec="libx264", extra_args=pad)
    with writer.saving(painter.fig, str(output), dpi):
        for k, st in enumerate(steps, start=1):
            painter.draw(st)
            writer.grab_frame()
            if on_frame:
                on_frame(k, len(steps))
