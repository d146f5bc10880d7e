"""Shared, robust colour scales across members; 1D crop; screen-sized compare layout.

Limits are read back from the figure objects (image colour limits, axis limits) and
compared with numbers computed here from the arrays the synthetic logs hold.
"""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import LogNorm
from render_synthetic import blob_2d, compare_dir, pulse_1d

from insr.render import prepare


@pytest.fixture(scope="module")
def cmp2d(tmp_path_factory):
    """Three 2D members: clean, noisier, and one with a gradient spike of 22."""
    root = tmp_path_factory.mktemp("c2d")
    exact = blob_2d(root / "good", 1e-4)
    blob_2d(root / "noisy", 3e-3)
    blob_2d(root / "spiky", 1e-4, spike=22.0)
    return compare_dir(root, ["good", "noisy", "spiky"]), exact


def _images(p, q):
    return {name: img for (qq, name), img in p.painter.images.items() if qq == q}


def test_2d_members_share_value_and_error_limits(cmp2d):
    root, exact = cmp2d
    p = prepare(root, frame=2)
    try:
        for q in ("field", "gradient", "field_error", "gradient_error"):
            clims = {n: img.get_clim() for n, img in _images(p, q).items()}
            assert len(set(clims.values())) == 1, (q, clims)  # one scale for all members
        # values: the exact range over the drawn step, so the spike of 22 does not stretch it
        gmax = max(float(np.linalg.norm(exact[2][1], axis=(-2, -1)).max()), 0.0)
        lo, hi = _images(p, "gradient")["good"].get_clim()
        assert hi == pytest.approx(gmax, rel=1e-5) and hi < 22.0 / 2
        ue = exact[2][0]
        assert _images(p, "field")["good"].get_clim() == pytest.approx((ue.min(), ue.max()), 1e-5)
        # errors: one limit that is not set by the single spiking point
        _, emax = _images(p, "gradient_error")["good"].get_clim()
        assert emax < 22.0 / 10
        assert p.painter.scales["gradient_error"].lo == 0.0  # magnitudes start at 0
    finally:
        p.close()


def test_2d_sequential_map_for_nonnegative_field_diverging_for_signed(cmp2d, tmp_path):
    root, _ = cmp2d
    p = prepare(root, frame=1)
    try:
        assert _images(p, "field")["good"].cmap.name.startswith("viridis")
        assert _images(p, "field_error")["good"].cmap.name.startswith("magma")
    finally:
        p.close()
    blob_2d(tmp_path / "signed", 1e-3, signed=True)
    p = prepare(tmp_path / "signed", frame=1)
    try:
        img = _images(p, "field")["siren"]
        assert img.cmap.name.startswith("RdBu")
        lo, hi = img.get_clim()
        assert lo == pytest.approx(-hi) and hi > 0.5  # symmetric around 0
        ax = img.axes
        assert ax.get_xlabel().startswith("x") and ax.get_ylabel().startswith("y")
        assert len(ax.get_xticks()) > 1  # axes with ticks, not a bare image
    finally:
        p.close()


def test_log_error_scale(cmp2d):
    root, _ = cmp2d
    p = prepare(root, frame=1, error_scale="log", what="error")
    try:
        for img in p.painter.images.values():
            assert isinstance(img.norm, LogNorm)
            assert img.norm.vmax / img.norm.vmin == pytest.approx(1e4)
    finally:
        p.close()


def test_1d_members_share_axes_and_errors_are_symmetric(tmp_path):
    pulse_1d(tmp_path / "a", 1e-4)
    pulse_1d(tmp_path / "b", 2e-2, spike=22.0)
    root = compare_dir(tmp_path, ["a", "b"])
    p = prepare(root, frame=3)
    try:
        pa = p.painter
        for i, _ in enumerate(pa.qs):
            lims = {pa.axs[pa.layout.cell(j, i)].get_ylim() for j in range(2)}
            assert len(lims) == 1
        lo, hi = pa.axs[pa.layout.cell(0, pa.qs.index("gradient_error"))].get_ylim()
        assert lo == pytest.approx(-hi)
        glo, ghi = pa.axs[pa.layout.cell(0, pa.qs.index("gradient"))].get_ylim()
        assert ghi < 22.0 / 2  # the spike is marked, not allowed to stretch the axis
    finally:
        p.close()


def test_1d_crop_contains_the_support_of_the_exact_solution(tmp_path):
    exact = pulse_1d(tmp_path / "run", 1e-3)
    x = np.linspace(-2.0, 2.0, 257)
    steps = [0, 1, 2, 3]
    p = prepare(tmp_path / "run", steps="0:4")
    try:
        x0, x1 = p.painter.axs[0, 0].get_xlim()
    finally:
        p.close()
    support = np.zeros(x.shape, bool)
    for s in steps:
        ue, ge = exact[s]
        support |= np.abs(ue) > 1e-2 * np.abs(ue).max()
        support |= np.abs(ge) > 1e-2 * np.abs(ge).max()
    assert x0 <= x[support].min() and x1 >= x[support].max()
    assert x1 - x0 < 0.5 * (x[-1] - x[0])  # really cropped: the pulse covers < 1/4
    p = prepare(tmp_path / "run", steps="0:4", full_domain=True)
    try:
        assert p.painter.axs[0, 0].get_xlim() == pytest.approx((-2.0, 2.0))
    finally:
        p.close()


@pytest.mark.parametrize("dim", [1, 2])
def test_compare_animation_fits_a_screen(tmp_path, dim):
    names = [f"m{k}" for k in range(9)]
    for k, n in enumerate(names):
        (pulse_1d if dim == 1 else blob_2d)(tmp_path / n, 1e-3 * (k + 1), steps=1)
    p = prepare(compare_dir(tmp_path, names), frame=1)
    try:
        h, w, _ = p.painter.rgb().shape
    finally:
        p.close()
    assert w <= 1920 and h <= 1080, (w, h)
