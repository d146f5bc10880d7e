"""Line styles of compare members: one (colour, dash) pair per member, never repeated.

A network member gets its own colour and a solid line. A grid baseline matched to a member
(``representation.grid.matched_member``) takes that member's colour with a dash for its
scheme family (semi-Lagrangian ``--``, method of lines ``-.``), so a network and its
equal-memory baseline read as a pair; an unmatched baseline gets a free colour.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")
from matplotlib import colormaps  # noqa: E402

from insr.render.sources import Source  # noqa: E402

DASHES: tuple[Any, ...] = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 3)))


@dataclass(frozen=True)
class LineStyle:
    colour: tuple[float, float, float, float]
    dash: Any  # a matplotlib linestyle


def palette(n: int) -> list[tuple[float, float, float, float]]:
    """``n`` colours: tab10, then tab20's light halves, then a cycle of both."""
    tab10, tab20 = (getattr(colormaps[n], "colors") for n in ("tab10", "tab20"))  # noqa: B009
    base = list(tab10) + list(tab20[1::2])
    return [(*base[i % len(base)][:3], 1.0) for i in range(n)]


def _matched(reader: Any) -> str | None:
    try:
        cfg = json.loads(str(reader.attrs.get("config", "{}")))
    except (TypeError, ValueError):
        return None
    rep = cfg.get("representation", {}) if isinstance(cfg, dict) else {}
    # the stored config holds the grid's settings flat under [representation]
    m = rep.get("matched_member") or (rep.get("grid") or {}).get("matched_member")
    return str(m) if m else None


def _family(scheme: str) -> int:
    """Index into DASHES of a baseline's scheme family."""
    return 2 if scheme.lower().startswith("mol") else 1


def member_styles(sources: Sequence[Source]) -> dict[str, LineStyle]:
    """One distinct :class:`LineStyle` per member name (see the module doc)."""
    names = [s.name for s in sources]
    readers = [s.reader for s in sources]
    schemes = [str(r.attrs.get("grid_scheme", "") or "") for r in readers]
    neural = [n for n, s in zip(names, schemes, strict=True) if not s]
    colours = palette(len(names))
    free = iter(colours[len(neural) :])
    out: dict[str, LineStyle] = {n: LineStyle(colours[i], "-") for i, n in enumerate(neural)}
    taken = {(s.colour, 0) for s in out.values()}
    for name, reader, scheme in zip(names, readers, schemes, strict=True):
        if not scheme:
            continue
        target = _matched(reader)
        own = out[target].colour if target in out else next(free, colours[0])
        k = _family(scheme)
        wanted = [(own, k)] + [(own, j) for j in range(1, len(DASHES)) if j != k]
        wanted += [(c, j) for c in colours for j in range(len(DASHES))]
        # the first pair not drawn yet (two baselines of one family matched to one member)
        colour, k = next((p for p in wanted if p not in taken), (own, k))
        taken.add((colour, k))
        out[name] = LineStyle(colour, DASHES[k])
    return out
