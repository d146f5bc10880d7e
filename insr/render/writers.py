"""Writing frames: one PNG, a GIF with one palette for every frame, or an MP4 via ffmpeg.

GIF holds at most 256 colours per frame. Quantizing each frame on its own (an adaptive
palette per frame) bands colour bars and posterizes smooth fields, differently in every
frame. Here the palette is computed once: entries reserved for every colour map drawn
(sampled evenly, with their out-of-range colours), the rest a median cut of up to
``PALETTE_SAMPLES`` frames spread over the animation; every frame is then mapped to that
palette without dithering.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from insr.errors import UsageError
from insr.render.painter import FramePainter

PALETTE_SAMPLES = 8
OnFrame = Callable[[int, int], None] | None


def find_ffmpeg() -> str | None:
    """Path of an ffmpeg executable: imageio-ffmpeg's bundled one, else the system's."""
    try:
        import imageio_ffmpeg  # type: ignore[import-not-found]

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except Exception:  # not installed, or its binary is missing
        pass
    return shutil.which("ffmpeg")


def _cmap_colours(painter: FramePainter) -> np.ndarray:
    cmaps = {id(img.cmap): img.cmap for img in painter.images.values()}
    if not cmaps:
        return np.zeros((0, 3), dtype=np.uint8)
    per = min(96, 180 // len(cmaps))
    rows = []
    for cm in cmaps.values():
        rows.append(cm(np.linspace(0.0, 1.0, per))[:, :3])
        rows.append(np.asarray([cm.get_over()[:3], cm.get_under()[:3], cm.get_bad()[:3]]))
    rgb = np.round(np.concatenate(rows) * 255).astype(np.uint8)
    return np.unique(rgb, axis=0)


def global_palette(painter: FramePainter, steps: list[int]) -> Image.Image:
    """One 256-colour palette image for every frame of ``steps``."""
    reserved = _cmap_colours(painter)
    idx = np.unique(np.linspace(0, len(steps) - 1, min(PALETTE_SAMPLES, len(steps))).round())
    frames = []
    for i in idx.astype(int):
        painter.draw(steps[i])
        frames.append(painter.rgb())
    mosaic = Image.fromarray(np.concatenate(frames, axis=0))
    rest = mosaic.quantize(colors=256 - len(reserved), method=Image.Quantize.MEDIANCUT)
    rest_rgb = np.asarray((rest.getpalette() or [])[: 3 * (256 - len(reserved))], dtype=np.uint8)
    colours = np.concatenate([reserved.reshape(-1), rest_rgb])
    pal = Image.new("P", (1, 1))
    pal.putpalette(colours.tolist() + [0] * (768 - colours.size))
    return pal


def to_palette(rgb: np.ndarray, palette: Image.Image) -> Image.Image:
    return Image.fromarray(rgb).quantize(palette=palette, dither=Image.Dither.NONE)


def write_png(painter: FramePainter, step: int, output: Path, dpi: int) -> None:
    painter.draw(step)
    painter.fig.savefig(output, dpi=dpi)


def write_gif(
    painter: FramePainter, steps: list[int], output: Path, fps: float, on_frame: OnFrame
) -> None:
    palette = global_palette(painter, steps)
    n = len(steps)

    def frames() -> Iterator[Image.Image]:
        for k, st in enumerate(steps[1:], start=2):
            painter.draw(st)
            yield to_palette(painter.rgb(), palette)
            if on_frame:
                on_frame(k, n)

    painter.draw(steps[0])
    first = to_palette(painter.rgb(), palette)
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


def write_mp4(
    painter: FramePainter,
    steps: list[int],
    output: Path,
    fps: float,
    dpi: int,
    ffmpeg: str,
    on_frame: OnFrame,
) -> None:
    import matplotlib
    from matplotlib.animation import FFMpegWriter

    matplotlib.rcParams["animation.ffmpeg_path"] = ffmpeg
    # yuv420p (playable everywhere) needs even frame sizes: pad by one pixel when odd
    pad = ["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-pix_fmt", "yuv420p"]
    writer = FFMpegWriter(
        fps=fps,  # type: ignore[arg-type]  # ffmpeg takes fractional rates
        codec="libx264",
        extra_args=pad,
    )
    with writer.saving(painter.fig, str(output), dpi):
        for k, st in enumerate(steps, start=1):
            painter.draw(st)
            writer.grab_frame()
            if on_frame:
                on_frame(k, len(steps))
