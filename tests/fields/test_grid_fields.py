"""Tests of the hash-grid and dense-grid fields (tiny tables, float64 where exactness matters)."""

from __future__ import annotations

import copy
import itertools
import math

import numpy as np
import pytest
import torch

from insr.config import ConfigError
from insr.fields import build_field

PRIMES = (1, 2654435761, 805459861)
SMALL_HASH = {
    "n_levels": 4,
    "log2_hashmap_size": 10,
    "base_resolution": 4,
    "per_level_scale": 1.5,
    "hidden_features": 16,
}
SMALL_DENSE = {"n_levels": 3, "base_resolution": 4, "per_level_scale": 1.5, "hidden_features": 16}


def box(d: int) -> list[list[float]]:
    return [[-1.0, 1.0], [0.0, 2.0], [-0.5, 0.5]][:d]


def make(kind: str, d: int, c: int = 1, seed: int = 0, **over) -> torch.nn.Module:
    torch.manual_seed(seed)
    params = dict(SMALL_HASH if kind == "hashgrid" else SMALL_DENSE)
    params.update(over)
    f = build_field(kind, params, box(d), c).double()
    with torch.no_grad():  # O(1) features so that derivatives are not tiny
        f.table.uniform_(-1.0, 1.0)
    return f


def random_points(n: int, d: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    lo = torch.tensor([a for a, _ in box(d)], dtype=torch.float64)
    hi = torch.tensor([b for _, b in box(d)], dtype=torch.float64)
    return lo + (hi - lo) * torch.rand(n, d, generator=g, dtype=torch.float64)


def away_from_borders(f, x: torch.Tensor, offset: float, margin: float = 1e-3) -> torch.Tensor:
    """Keep points whose in-cell fraction is >= margin from 0 and 1 at every level."""
    u = f.to_unit(x)
    keep = torch.ones(len(x), dtype=torch.bool)
    for s in f.level_scales:
        p = u * s + offset
        t = p - torch.floor(p)
        keep &= ((t > margin) & (t < 1 - margin)).all(dim=1)
    return x[keep]


def autodiff_jacobian(f, x: torch.Tensor) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    y = f(x)
    rows = [torch.autograd.grad(y[:, i].sum(), x, retain_graph=True)[0] for i in range(y.shape[1])]
    return torch.stack(rows, dim=1)


def central_jacobian(f, x: torch.Tensor, h: float) -> torch.Tensor:
    cols = []
    with torch.no_grad():
        for j in range(x.shape[1]):
            e = torch.zeros_like(x)
            e[:, j] = h
            cols.append((f(x + e) - f(x - e)) / (2 * h))
    return torch.stack(cols, dim=2)


def relerr(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach(), b.detach()
    return float((a - b).norm() / (a.norm() + b.norm()))


# --------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("kind", ["hashgrid", "densegrid"])
@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("c", [1, 2])
def test_shapes(kind, d, c):
    f = make(kind, d, c)
    x = random_points(37, d)
    y = f(x)
    assert y.shape == (37, c)
    u, jac = f.value_and_jacobian(x)
    assert u.shape == (37, c) and jac.shape == (37, c, d)
    assert torch.equal(u, y)
    assert f.has_closed_form


@pytest.mark.parametrize("kind", ["hashgrid", "densegrid"])
def test_outside_points_are_clamped_to_the_box(kind):
    d = 2
    f = make(kind, d, 1)
    x = random_points(50, d)
    lo, hi = box(d)[0]
    outside = x.clone()
    outside[:25, 0] = lo - 0.3 - torch.rand(25, dtype=torch.float64)
    outside[25:, 0] = hi + 0.3 + torch.rand(25, dtype=torch.float64)
    clamped = outside.clone()
    clamped[:25, 0] = lo
    clamped[25:, 0] = hi
    assert torch.equal(f(outside), f(clamped))
    _, jac = f.value_and_jacobian(outside)
    assert torch.all(jac[:, :, 0] == 0)
    assert torch.allclose(jac, autodiff_jacobian(f, outside), rtol=1e-10, atol=1e-14)


# --------------------------------------------------------------------------- derivatives
@pytest.mark.parametrize("kind", ["hashgrid", "densegrid"])
@pytest.mark.parametrize("interpolation", ["linear", "smoothstep"])
@pytest.mark.parametrize("d", [1, 2, 3])
def test_closed_form_jacobian_matches_autodiff_and_fd(kind, interpolation, d):
    f = make(kind, d, 2, interpolation=interpolation)
    offset = 0.5 if kind == "hashgrid" else 0.0
    x = away_from_borders(f, random_points(400, d), offset)
    assert len(x) > 20
    u, jac = f.value_and_jacobian(x)
    ad = autodiff_jacobian(f, x)
    assert jac.abs().max() > 1e-3  # the check is not vacuous
    torch.testing.assert_close(jac, ad, rtol=1e-10, atol=1e-12)
    fd = central_jacobian(f, x, 1e-6)
    assert relerr(jac, fd) < 1e-7
    assert relerr(ad, fd) < 1e-7


@pytest.mark.parametrize("kind", ["hashgrid", "densegrid"])
def test_plain_grid_jacobian_without_mlp_or_with_masked_levels(kind):
    # the mlp-less dense grid and a partly masked hash grid take other branches
    if kind == "densegrid":
        f = make(kind, 2, 2, mlp=False, n_features_per_level=2, interpolation="smoothstep")
    else:
        f = make(kind, 2, 2, interpolation="smoothstep")
        f.set_active_levels(2)
    x = random_points(100, 2)
    _, jac = f.value_and_jacobian(x)
    torch.testing.assert_close(jac, autodiff_jacobian(f, x), rtol=1e-10, atol=1e-12)


def test_smoothstep_gradient_is_continuous_across_a_cell_face_and_linear_is_not():
    jumps = {}
    for interpolation in ("linear", "smoothstep"):
        f = make(
            "densegrid",
            1,
            1,
            mlp=False,
            n_features_per_level=1,
            resolutions=[5],
            interpolation=interpolation,
        )
        face = -1.0 + 2.0 * 2 / 4  # node 2 of 5 on [-1, 1]
        eps = 1e-9
        x = torch.tensor([[face - eps], [face + eps]], dtype=torch.float64)
        _, jac = f.value_and_jacobian(x)
        jumps[interpolation] = float((jac[1] - jac[0]).abs().max().detach())
    assert jumps["smoothstep"] < 1e-6
    assert jumps["linear"] > 1e-3


# --------------------------------------------------------------------------- hash / indexing
def tcnn_index(node: tuple[int, ...], resolution: int, size: int) -> int:
    """tiny-cuda-nn grid_index for one node, written with python ints and uint32 wraps."""
    d = len(node)
    if resolution**d <= size:
        index = sum(c * resolution**i for i, c in enumerate(node))
    else:
        index = 0
        for i, c in enumerate(node):
            index ^= (c * PRIMES[i]) & 0xFFFFFFFF
    return index % size


@pytest.mark.parametrize("d", [1, 2, 3])
def test_hash_indices_match_an_independent_tcnn_reimplementation(d):
    # 16 * 2**7 = 2048 nodes per axis at the finest level: hashed even in 1D; in 3D a
    # 2**12 table keeps level 0 (16³ nodes) dense
    f = make(
        "hashgrid",
        d,
        1,
        log2_hashmap_size=12 if d == 3 else 10,
        n_levels=8,
        base_resolution=16,
        per_level_scale=2.0,
    )
    x = random_points(60, d, seed=3)
    checked_hash = checked_dense = False
    for level in range(f.n_levels):
        scale, res, size = f.level_scales[level], f.level_resolutions[level], f.level_sizes[level]
        got = f.corner_indices(x, level)  # (2**d, N)
        for n, point in enumerate(f.to_unit(x).tolist()):
            lower = [math.floor(u * scale + 0.5) for u in point]
            for corner in range(2**d):
                node = tuple(lower[i] + ((corner >> i) & 1) for i in range(d))
                assert int(got[corner, n]) == tcnn_index(node, res, size)
        checked_hash |= f.level_hashed[level]
        checked_dense |= not f.level_hashed[level]
    assert checked_dense and checked_hash


@pytest.mark.parametrize("d", [2, 3])
def test_dense_levels_have_no_collisions(d):
    f = make("hashgrid", d, 1, log2_hashmap_size=12, n_levels=3, base_resolution=8)
    dense_levels = [lv for lv in range(f.n_levels) if not f.level_hashed[lv]]
    assert dense_levels
    for level in dense_levels:
        res = f.level_resolutions[level]
        assert res**d <= f.level_sizes[level] <= 2**12
        nodes = torch.tensor(list(itertools.product(range(res), repeat=d)))
        rows = f.node_rows(level, nodes)
        assert len(torch.unique(rows)) == res**d
        assert int(rows.min()) >= 0 and int(rows.max()) < f.level_sizes[level]
    # and a hashed level does collide (its table is smaller than its node count)
    g = make("hashgrid", d, 1, log2_hashmap_size=10, n_levels=4, base_resolution=16)
    level = g.level_hashed.index(True)
    res = g.level_resolutions[level]
    nodes = torch.tensor(list(itertools.product(range(res), repeat=d)))
    assert len(torch.unique(g.node_rows(level, nodes))) <= g.level_sizes[level] < res**d


def test_level_resolutions_follow_the_tcnn_rule():
    f = build_field(
        "hashgrid",
        {"n_levels": 8, "base_resolution": 16, "per_level_scale": 1.5, "log2_hashmap_size": 12},
        [[-1.0, 1.0], [-1.0, 1.0]],
        1,
    )
    # scale = 16 * 1.5**l - 1 = 15, 23, 35, 53, 80, 120.5, 181.25, 272.375; res = ceil(scale) + 1
    assert f.level_resolutions == [16, 24, 36, 54, 81, 122, 183, 274]
    assert f.level_scales[5] == pytest.approx(120.5)
    # dense while res² <= 2**12 (rounded up to a multiple of 8), then the full hash table
    assert f.level_sizes == [256, 576, 1296, 2920, 4096, 4096, 4096, 4096]
    assert f.level_hashed == [False, False, False, False, True, True, True, True]
    assert f.coarsest_cell == pytest.approx(2.0 / 15)
    assert f.finest_cell == pytest.approx(2.0 / 272.375)
    assert f.cell_of_level(3) == pytest.approx(2.0 / 53)


def test_densegrid_resolutions():
    f = build_field(
        "densegrid", {"n_levels": 3, "base_resolution": 5, "per_level_scale": 2.0}, [[0.0, 4.0]], 1
    )
    assert f.level_resolutions == [5, 10, 20]
    assert f.coarsest_cell == pytest.approx(1.0) and f.finest_cell == pytest.approx(4.0 / 19)
    g = build_field("densegrid", {"resolutions": [3, 7]}, [[0.0, 4.0]], 1)
    assert g.level_resolutions == [3, 7] and g.n_levels == 2
    assert g.table.shape == (3 + 7, 2)


# --------------------------------------------------------------------------- level mask
@pytest.mark.parametrize("kind", ["hashgrid", "densegrid"])
def test_level_mask(kind):
    f = make(kind, 2, 1)
    assert f.n_active_levels == f.n_levels
    k = 2
    f.set_active_levels(k)
    assert f.n_active_levels == k
    x = random_points(100, 2)
    y0 = f(x)
    _, j0 = f.value_and_jacobian(x)
    with torch.no_grad():
        for level in range(k, f.n_levels):
            f.table[f.level_rows(level)] += 1.0
    assert torch.equal(f(x), y0)
    assert torch.equal(f.value_and_jacobian(x)[1], j0)
    with torch.no_grad():
        f.table[f.level_rows(k - 1)] += 1.0
    assert (f(x) - y0).abs().max() > 1e-6
    f.set_active_levels(f.n_levels)
    with pytest.raises(ValueError):
        f.set_active_levels(f.n_levels + 1)


def test_masked_levels_get_no_gradient():
    f = make("hashgrid", 2, 1)
    f.set_active_levels(1)
    f(random_points(50, 2)).sum().backward()
    g = f.table.grad
    assert g[f.level_rows(0)].abs().sum() > 0
    assert torch.all(g[f.level_rows(1).start :] == 0)


# --------------------------------------------------------------------------- dense grid
def test_plain_densegrid_is_linear_interpolation_of_nodal_values():
    lo, hi, n = -2.0, 2.0, 11
    f = build_field(
        "densegrid",
        {"resolutions": [n], "mlp": False, "n_features_per_level": 1},
        [[lo, hi]],
        1,
    ).double()
    nodes = np.linspace(lo, hi, n)
    with torch.no_grad():
        f.table[:, 0] = torch.from_numpy(nodes**2)
    x = np.concatenate([np.random.default_rng(0).uniform(lo, hi, 200), nodes])
    y = f(torch.from_numpy(x).unsqueeze(1))[:, 0].detach().numpy()
    np.testing.assert_allclose(y, np.interp(x, nodes, nodes**2), rtol=0, atol=1e-13)
    # slope = divided difference of the cell
    _, jac = f.value_and_jacobian(torch.tensor([[0.1]], dtype=torch.float64))
    assert float(jac[0, 0, 0].detach()) == pytest.approx((0.4**2 - 0.0**2) / 0.4, rel=1e-12)


def test_densegrid_without_mlp_needs_matching_features():
    with pytest.raises(ConfigError, match="n_features_per_level"):
        build_field("densegrid", {"mlp": False, "n_features_per_level": 2}, [[0.0, 1.0]], 1)


def test_densegrid_sum_over_levels():
    f = make("densegrid", 1, 1, mlp=False, n_features_per_level=1, resolutions=[3, 5])
    x = random_points(30, 1)
    f.set_active_levels(1)
    y1 = f(x)
    f.set_active_levels(2)
    y2 = f(x)
    with torch.no_grad():
        f.table[f.level_rows(0)] = 0.0
    torch.testing.assert_close(f(x) + y1, y2, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- config / backend
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA error")
def test_tcnn_backend_without_cuda_raises():
    with pytest.raises(ConfigError, match="CUDA"):
        build_field("hashgrid", {"backend": "tcnn"}, box(2), 1)
    f = build_field("hashgrid", {"backend": "auto", **SMALL_HASH}, box(2), 1)
    assert f.backend == "torch"


def test_tcnn_backend_rejects_1d():
    with pytest.raises(ConfigError, match="1D"):
        build_field("hashgrid", {"backend": "tcnn"}, box(1), 1)


def _tcnn_importable() -> bool:
    try:
        import tinycudann  # noqa: F401
    except Exception:
        return False
    return True


@pytest.mark.skipif(
    not (torch.cuda.is_available() and _tcnn_importable()), reason="needs CUDA and tinycudann"
)
def test_tcnn_backend_runs():
    f = build_field("hashgrid", {"backend": "tcnn", **SMALL_HASH}, box(2), 1).cuda()
    x = random_points(64, 2).float().cuda()
    u, jac = f.value_and_jacobian(x)
    assert f.backend == "tcnn" and u.shape == (64, 1) and jac.shape == (64, 1, 2)
    assert torch.isfinite(jac).all()


@pytest.mark.parametrize(
    ("kind", "params", "d"),
    [
        ("hashgrid", {"n_levels": 32, "n_features_per_level": 8, "log2_hashmap_size": 24}, 3),
        ("densegrid", {"resolutions": [2048], "n_features_per_level": 64}, 3),
    ],
)
def test_memory_guard(kind, params, d):
    with pytest.raises(ConfigError, match="GiB"):
        build_field(kind, params, box(d), 1)


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("hashgrid", {"log2_hashmap_size": 25}),
        ("hashgrid", {"log2_hashmap_size": 9}),
        ("hashgrid", {"interpolation": "cubic"}),
        ("hashgrid", {"backend": "cuda"}),
        ("hashgrid", {"backend": "tcnn", "n_features_per_level": 3}),
        ("densegrid", {"resolutions": [16, 1]}),
        ("densegrid", {"activation": "sine"}),
    ],
)
def test_bad_configs(kind, params):
    with pytest.raises(ConfigError):
        build_field(kind, params, box(2), 1)


@pytest.mark.parametrize("kind", ["hashgrid", "densegrid"])
@pytest.mark.parametrize("d", [1, 2])
def test_cell_weights_once_per_sample_set(kind: str, d: int) -> None:
    """value_and_jacobian remembers rows and weights for the last points: the same points
    again give the same values as a fresh copy of them; points changed in place, new
    points and a changed number of active levels recompute (a stale memo would give
    the old points' values)."""
    f = make(kind, d)
    with torch.no_grad():
        for p in f.parameters():
            p.normal_(0.0, 0.5, generator=torch.Generator().manual_seed(3))
    x = random_points(64, d)
    first = f.value_and_jacobian(x)
    again = f.value_and_jacobian(x)
    fresh = f.value_and_jacobian(x.clone())
    for a, b, c in zip(first, again, fresh, strict=True):
        assert torch.equal(a, b) and torch.equal(a, c)
    with torch.no_grad():
        x.mul_(0.5)
    moved = f.value_and_jacobian(x)
    expect = f.value_and_jacobian(x.clone())
    assert not torch.equal(moved[0], first[0])
    for a, b in zip(moved, expect, strict=True):
        assert torch.equal(a, b)
    copied = copy.deepcopy(f)  # the previous step's frozen copy starts without the memo
    assert copied.__dict__["_cells_memo"].key is None
    for a, b in zip(copied.value_and_jacobian(x), moved, strict=True):
        assert torch.equal(a, b)
    f.set_active_levels(2)
    coarse = f.value_and_jacobian(x)
    expect = f.value_and_jacobian(x.clone())
    assert not torch.equal(coarse[0], moved[0])
    for a, b in zip(coarse, expect, strict=True):
        assert torch.equal(a, b)
