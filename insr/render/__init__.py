"""Pictures from run logs: animations of one run or of every member of a compare dir
(:mod:`~insr.render.animate`), the compare figures (:mod:`~insr.render.figures`), and the
shared quantities and scales both draw (:mod:`~insr.render.quantities`)."""

from insr.render.animate import ERROR_SCALES, FORMATS, WHATS, prepare, render
from insr.render.figures import make_figures, pick_steps
from insr.render.quantities import scalar_of
from insr.render.sources import open_sources, parse_steps, select_steps
from insr.render.writers import find_ffmpeg

__all__ = [
    "ERROR_SCALES",
    "FORMATS",
    "WHATS",
    "find_ffmpeg",
    "make_figures",
    "open_sources",
    "parse_steps",
    "pick_steps",
    "prepare",
    "render",
    "scalar_of",
    "select_steps",
]
