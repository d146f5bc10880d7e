"""Animations and still frames from run logs (one run, or every member of a compare dir).

The log is read lazily, one row at a time (:meth:`RunLogReader.row`): a first pass over
the selected rows fixes the axis / colour limits (:mod:`insr.render.quantities`), a second
draws and writes the frames, so a long run never has to fit in memory.

What is drawn (one block of panels per run; rows chosen by ``what``):

- 1D: ``field`` (u with the exact u* dashed), ``gradient`` (du/dx by the chosen strategy,
  exact dashed), ``error`` (u - u* and du/dx - du*/dx, signed; |·| on a log scale);
- 2D: heat maps of the scalar (the field, or the vorticity for a 2D velocity field:
  ``/fluid/vorticity``, exact vorticity from the exact Jacobian), of the gradient magnitude
  ``|J|`` (Frobenius norm of the Jacobian) and of the errors ``|s - s*|`` and ``|J - J*|``.

``what = all`` draws the values and the errors. GIFs are written by Pillow with one palette
for all frames, MP4 by ffmpeg (imageio-ffmpeg's bundled binary, or ``ffmpeg`` on PATH).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from insr.errors import UsageError, check_path_length
from insr.render.painter import FramePainter
from insr.render.quantities import crop_1d, rows_for, shared_scales, strict_strategy
from insr.render.sources import (
    Source,
    describe_steps,
    open_sources,
    parse_steps,
    select_steps,
)
from insr.render.writers import find_ffmpeg, write_gif, write_mp4, write_png

What = Literal["field", "gradient", "error", "all"]
WHATS = ("field", "gradient", "error", "all")
FORMATS = ("gif", "mp4")
ERROR_SCALES = ("linear", "log")


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


def _check_options(what: str, fps: float, dpi: int, error_scale: str) -> None:
    if what not in WHATS:
        raise UsageError(f"--what {what!r} is not allowed: expected one of {', '.join(WHATS)}")
    if not 0 < fps <= 120:
        raise UsageError(f"--fps {fps} is not allowed: expected a number in (0, 120]")
    if not 20 <= dpi <= 600:
        raise UsageError(f"--dpi {dpi} is not allowed: expected an integer in [20, 600]")
    if error_scale not in ERROR_SCALES:
        raise UsageError(f"--error-scale {error_scale!r} is not allowed: expected linear or log")


def _dimension(sources: list[Source]) -> int:
    dims = {int(s.reader.attrs.get("dim", len(s.reader.axes()))) for s in sources}
    if len(dims) != 1 or next(iter(dims)) not in (1, 2):
        raise UsageError(f"can render 1D or 2D logs of one dimension; got dims {sorted(dims)}")
    return dims.pop()


def _chosen_steps(sources: list[Source], frame: int | None, steps: str | None) -> list[int]:
    if frame is not None and steps is not None:
        raise UsageError("give either --frame N or --steps a:b:k, not both")
    sl = parse_steps(steps)
    available = sorted({int(s) for src in sources for s in src.steps})
    if frame is not None:
        if frame not in available:
            raise UsageError(
                f"--frame {frame} is out of range: logged steps are {describe_steps(available)}"
            )
        return [frame]
    chosen = select_steps(available, sl)
    if not chosen:
        raise UsageError(
            f"--steps {steps} selects no logged step; logged steps are {describe_steps(available)}"
        )
    return chosen


def _quantities(sources: list[Source], what: str) -> list[str]:
    qs = rows_for(what)
    if not any(s.reader.has("exact/field") for s in sources):
        qs = [q for q in qs if not q.endswith("error")]
        if not qs:
            raise UsageError("--what error needs an exact solution, and these logs have none")
    return qs


@dataclass
class Prepared:
    """Everything decided before drawing: the painter, the steps, where and how to write."""

    painter: FramePainter
    sources: list[Source]
    steps: list[int]
    output: Path
    kind: str  # png | gif | mp4
    ffmpeg: str | None

    def close(self) -> None:
        self.painter.close()
        for s in self.sources:
            s.reader.close()


def check_writable(output: Path) -> None:
    """Refuse an output file that cannot be written, before any frame is drawn."""
    check_path_length(output, "the output file")
    if output.is_dir():
        raise UsageError(f"--out {output} is a directory; name a file (e.g. {output}/run.gif)")
    parent = output.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write {output}: {parent} is not a writable folder")


def prepare(
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
    error_scale: str = "linear",
    full_domain: bool = False,
) -> Prepared:
    """Validate the options, open the logs, fix the scales and build the figure."""
    _check_options(what, fps, dpi, error_scale)
    parse_steps(steps)
    sources, base, title = open_sources(path)
    try:
        output, kind = resolve_output(base, what, fmt, frame, out)
        check_writable(output)
        ffmpeg = find_ffmpeg() if kind == "mp4" else None
        if kind == "mp4" and ffmpeg is None:
            raise UsageError(
                "MP4 needs ffmpeg and none was found (pip install imageio-ffmpeg, or put "
                "ffmpeg on PATH); use --format gif instead"
            )
        dim = _dimension(sources)
        chosen = _chosen_steps(sources, frame, steps)
        strats = {s.name: strict_strategy(s.name, s.reader, strategy) for s in sources}
        qs = _quantities(sources, what)
        scales = shared_scales(sources, qs, chosen, strats, dim, error_scale == "log")
        xlim = None
        if dim == 1 and not full_domain:
            xlim = crop_1d(sources, chosen, sources[0].reader.axes()[0])
        painter = FramePainter(sources, qs, strats, dim, title, dpi, scales, xlim)
    except BaseException:
        for s in sources:
            s.reader.close()
        raise
    return Prepared(painter, sources, chosen, output, kind, ffmpeg)


def render(
    path: Path,
    *,
    on_frame: Callable[[int, int], None] | None = None,
    **options: Any,
) -> tuple[Path, int]:
    """Render ``path`` (run or compare dir); returns (output file, number of frames).

    ``options`` are those of :func:`prepare`.
    """
    p = prepare(path, **options)
    try:
        try:
            p.output.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UsageError(f"cannot write {p.output}: {e.strerror or e}") from None
        if p.kind == "png":
            write_png(p.painter, p.steps[0], p.output, options.get("dpi", 100))
            if on_frame:
                on_frame(1, 1)
            return p.output, 1
        if p.kind == "gif":
            write_gif(p.painter, p.steps, p.output, options.get("fps", 10.0), on_frame)
        else:
            fps, dpi = options.get("fps", 10.0), options.get("dpi", 100)
            write_mp4(p.painter, p.steps, p.output, fps, dpi, str(p.ffmpeg), on_frame)
        return p.output, len(p.steps)
    finally:
        p.close()
