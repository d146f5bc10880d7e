"""errors.png of a 16-member sweep: one legend outside every panel, no two members drawn
alike, a baseline in its matched member's colour, shared gradient scale, integer steps.

Members are synthetic logs (known metric series); the checks read the figure objects.
"""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import to_rgba

from insr.log import RunLogReader, RunLogWriter
from insr.render.figures import errors_figure
from insr.render.sources import Source
from insr.render.styles import member_styles

NEURAL = ["siren-w5", "siren-w30", "siren-w50", "gauss", "mlp-tanh", "hash16", "hash3", "dense"]
SL = "semi-Lagrangian, exact foot, cubic Lagrange (exact in time)"
# (name, matched member, scheme): as the default representations sweep
BASELINES = [(f"grid-eqmem-{m}", m, SL) for m in ["siren-w30", *NEURAL[3:]]] + [
    ("grid-mol-pade4-siren", "siren-w30", "MOL Pade(2,2) + cd4, periodic (scheme-matched)"),
    ("grid-mol-midpoint-siren", "siren-w30", "MOL midpoint + cd4, periodic (scheme-matched)"),
]


def _member(path, i: int, matched: str | None, scheme: str | None, verdict: str) -> None:
    attrs = {"case": "synthetic", "dim": 1, "channels": 1, "n_params": 1, "fit_verdict": verdict}
    rep: dict = {"kind": "grid" if scheme else "siren"}
    if scheme:
        attrs["grid_scheme"] = scheme
        rep["matched_member"] = matched
    w = RunLogWriter.create(
        path, config={"representation": rep}, axes=[np.linspace(0, 1, 9)], attrs=attrs
    )
    for s in range(6):
        e = 10.0 ** (-(i % 5) - 1) * (1 + 0.1 * s)
        metrics = {"field_max_error": e, "gradient_rel_error_fd": 3 * e, "gradient_noise_fd": e}
        if not scheme:
            metrics |= {"gradient_rel_error_autodiff": 20 * e, "gradient_noise_autodiff": 2 * e}
        w.append({"field": np.zeros((9, 1), np.float32), "step": np.asarray(s)}, metrics)
    w.close("complete")


@pytest.fixture()
def sources(tmp_path):
    rows = [(n, None, None) for n in NEURAL] + BASELINES
    out = []
    for i, (name, matched, scheme) in enumerate(rows):
        p = tmp_path / f"{name}.h5"
        _member(p, i, matched, scheme, "failed" if name == "hash3" else "ok")
        r = RunLogReader(p)
        out.append(Source(name, r, np.asarray(r.series("step"))))
    yield out
    for s in out:
        s.reader.close()


def test_sixteen_members_get_sixteen_distinct_styles(sources):
    st = member_styles(sources)
    pairs = [(st[s.name].colour, str(st[s.name].dash)) for s in sources]
    assert len(set(pairs)) == 16
    assert len({st[n].colour for n in NEURAL}) == len(NEURAL)  # networks: own colours
    for name, matched, _ in BASELINES:
        assert st[name].colour == st[matched].colour  # a baseline pairs with its member
        assert st[name].dash != "-"


def test_errors_figure_layout(sources):
    fig = errors_figure(sources)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    (legend,) = fig.legends
    assert len(legend.get_texts()) == 16
    box = legend.get_window_extent(renderer)
    used = [a for a in fig.axes if a.axison]
    assert len(used) == 5  # field, fd and autodiff errors, fd and autodiff noise
    for a in used:  # the legend covers no panel (nor its tick labels)
        assert not box.overlaps(a.get_tightbbox(renderer)), a.get_title()
    grad = [a for a in used if "gradient" in a.get_title()]
    assert len({a.get_ylim() for a in grad}) == 1  # one scale for every gradient panel
    lo, hi = grad[0].get_ylim()
    assert lo <= 3e-5 * 1.0 and hi >= 20 * 0.1 * 1.5  # holds every drawn gradient value
    for a in used:
        ticks = [t for t in a.get_xticks() if 0 <= t <= 5]
        assert ticks and all(float(t).is_integer() for t in ticks)
    # the member with a failed fit is marked on its line and in its label
    bad = [ln for a in used for ln in a.get_lines() if "[failed fit]" in ln.get_label()]
    assert bad and all(ln.get_marker() == "x" for ln in bad)
    # lines use the style table's colours
    st = member_styles(sources)
    by_label = {ln.get_label(): ln for ln in used[0].get_lines()}
    assert to_rgba(by_label["gauss"].get_color()) == st["gauss"].colour
