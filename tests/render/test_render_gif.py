"""The GIF has one palette for all frames: a frame's colour bars match the PNG of that step."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageSequence
from render_synthetic import blob_2d, compare_dir

from insr.render import prepare, render


def test_gif_colour_bars_match_the_png_of_the_same_frame(tmp_path):
    blob_2d(tmp_path / "a", 1e-3)
    blob_2d(tmp_path / "b", 2e-2)
    root = compare_dir(tmp_path, ["a", "b"])
    gif, _ = render(root, out=tmp_path / "all.gif", dpi=60)
    step = 2
    png, _ = render(root, frame=step, out=tmp_path / "f.png", dpi=60)
    p = prepare(root, frame=step, dpi=60)
    try:
        boxes = p.painter.colorbar_boxes()
    finally:
        p.close()
    assert len(boxes) == 4  # one shared bar per row of panels
    with Image.open(gif) as im:
        frames = [f.convert("RGB") for f in ImageSequence.Iterator(im)]
        palettes = {bytes(f.getpalette() or []) for f in ImageSequence.Iterator(im)} - {b""}
    assert len(frames) == 4 and len(palettes) == 1  # one palette (local tables absent)
    g = np.asarray(frames[step], dtype=float)
    with Image.open(png) as im:
        ref = np.asarray(im.convert("RGB"), dtype=float)
    assert g.shape == ref.shape
    for x0, y0, x1, y1 in boxes:
        d = np.abs(g[y0:y1, x0:x1] - ref[y0:y1, x0:x1])
        assert d.size > 0
        # tolerance: 6/255 on average, 24/255 at worst (a palette entry per ~4 colour-map steps)
        assert d.mean() < 6 and d.max() <= 24, (d.mean(), d.max())
