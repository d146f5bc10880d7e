"""2D cases: advection2d exact solution, fluid initial conditions, one fluid step, grid runs.

Fast: tiny evaluation grids, a few iterations, one or two steps.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from insr.config import ConfigError, load_config
from insr.equations import make_case
from insr.metrics import fluid_metrics
from insr.reference import euler2d
from insr.reference import initial as ref_ic
from insr.run import eval_grid, execute, grid_points

TINY = [
    "solver.min_iters=0",
    "solver.init.min_iters=0",
    "solver.samples=64",
    "solver.max_iters=3",
    "solver.init.max_iters=3",
    "solver.check_every=1",
    "eval.resolution=9",
    "representation.siren.hidden_layers=1",
    "representation.siren.hidden_features=8",
    "extra.fluid.wall_samples=4",
]


# ----------------------------------------------------------------------------- advection2d


@pytest.mark.parametrize("case", ["advection2d", "advection2d_translate"])
def test_advection2d_exact_gradient_matches_finite_differences(case: str) -> None:
    """The exact solution's gradient (autograd through the characteristic foot) equals
    central differences of the exact solution itself (float64, h = 1e-5: error ~h^2)."""
    c = make_case(load_config(case).case)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(200, 2, generator=gen, dtype=torch.float64) * 1.6 - 0.8
    t = 3 * c.config.dt
    u, g = c.exact(x, t)
    h = 1e-5
    fd = torch.stack(
        [
            (c.exact_fn(x + h * e, t) - c.exact_fn(x - h * e, t)) / (2 * h)
            for e in torch.eye(2, dtype=x.dtype)
        ],
        dim=-1,
    )
    assert torch.allclose(g, fd, atol=1e-8, rtol=0)
    assert u.abs().max() > 0.1  # the blob is inside the sampled region at this time


def test_advection2d_rotation_exact_is_rotated_initial() -> None:
    """A quarter turn (omega t = pi/2) maps the blob at (0.5, 0) to (0, 0.5)."""
    cfg = load_config("advection2d").case
    c = make_case(cfg)
    t = (np.pi / 2) / c.velocity.omega
    x = torch.tensor([[0.0, 0.5], [0.5, 0.0]], dtype=torch.float64)
    u, _ = c.exact(x, t)
    u0 = c.initial(torch.tensor([[0.5, 0.0], [0.0, -0.5]], dtype=torch.float64))
    assert torch.allclose(u, u0, atol=1e-12)


def test_advection2d_run_writes_2d_log(tmp_path) -> None:
    cfg = load_config("advection2d", sets=[*TINY[:8], "case.steps=1"])
    res = execute(cfg, tmp_path / "r")
    with h5py.File(res.log_path) as f:
        assert f["field"].shape == (2, 9, 9, 1)
        assert f["gradient/autodiff"].shape == (2, 9, 9, 1, 2)
        assert f["exact/gradient"].shape == (2, 9, 9, 1, 2)
        assert np.isfinite(f["metrics/gradient_rel_error_autodiff"][:]).all()


# -------------------------------------------------------------------------- fluid initials


@pytest.mark.parametrize(
    "spec, ref",
    [
        ({"family": "taylor_green"}, ref_ic.taylor_green),
        (
            {"family": "taylor_green_multiscale", "k": 3, "amplitude": 0.4},
            lambda x, y: ref_ic.taylor_green_multiscale(x, y, k=3, amplitude=0.4),
        ),
        (
            {"family": "vortex_pair", "separation": 0.5, "core_radius": 0.12, "peak_speed": 0.8},
            lambda x, y: ref_ic.vortex_pair(x, y, separation=0.5, core_radius=0.12, peak_speed=0.8),
        ),
    ],
)
def test_torch_fluid_initials_equal_numpy_reference(spec: dict, ref) -> None:
    from insr.cases.initial import make_initial

    u0, channels = make_initial(spec, 2)
    assert channels == 2
    rng = np.random.default_rng(1)
    pts = rng.uniform(-1, 1, size=(500, 2))
    pts[:3] = [[-0.25, 0.0], [0.25, 0.0], [0.0, 0.0]]  # vortex centres (r -> 0 limit)
    got = u0(torch.from_numpy(pts)).numpy()
    u, v = ref(pts[:, 0], pts[:, 1])
    np.testing.assert_allclose(got, np.stack([u, v], 1), rtol=1e-12, atol=1e-12)


def test_taylor_green_is_divergence_free_and_satisfies_walls() -> None:
    from insr.cases.fluid import taylor_green_torch
    from insr.cases.initial import value_and_gradient

    gen = torch.Generator().manual_seed(0)
    x = torch.rand(300, 2, generator=gen, dtype=torch.float64) * 2 - 1
    _, jac = value_and_gradient(taylor_green_torch, x)
    div = jac[:, 0, 0] + jac[:, 1, 1]
    assert div.abs().max() < 1e-12
    assert jac.abs().max() > 0.5  # not trivially zero
    s = torch.rand(100, dtype=torch.float64, generator=gen) * 2 - 1
    one = torch.ones_like(s)
    for pts, axis in (
        (torch.stack([-one, s], 1), 0),
        (torch.stack([one, s], 1), 0),
        (torch.stack([s, -one], 1), 1),
        (torch.stack([s, one], 1), 1),
    ):
        assert taylor_green_torch(pts)[:, axis].abs().max() < 1e-12  # u.n = 0


def test_fluid_initial_rejects_1d_and_unknown_keys() -> None:
    from insr.cases.initial import make_initial

    with pytest.raises(ConfigError, match="2D"):
        make_initial({"family": "taylor_green"}, 1)
    with pytest.raises(ConfigError, match="unknown key"):
        make_initial({"family": "vortex_pair", "radius": 0.1}, 2)


# ------------------------------------------------------------------------------ fluid runs


def test_one_step_taylor_green_run_writes_fluid_datasets(tmp_path) -> None:
    cfg = load_config("taylor_green", sets=[*TINY, "case.steps=1"])
    res = execute(cfg, tmp_path / "r")
    assert res.status == "complete"
    with h5py.File(res.log_path) as f:
        assert f.attrs["completed_steps"] == 2
        assert f["field"].shape == (2, 9, 9, 2)
        for s in cfg.derivative.log:
            assert f[f"gradient/{s}"].shape == (2, 9, 9, 2, 2)
        for name in ("fluid/vorticity", "fluid/divergence", "fluid/pressure"):
            assert f[name].shape == (2, 9, 9)
            assert np.isfinite(f[name][:]).all()
        for m in (
            "kinetic_energy",
            "enstrophy",
            "velocity_rel_error",
            "vorticity_rel_error",
            "loss_advect",
            "loss_pressure",
            "loss_project",
        ):
            assert np.isfinite(f[f"metrics/{m}"][-1]), m
        # the logged vorticity is the antisymmetric part of the logged Jacobian
        jac = f[f"gradient/{cfg.derivative.log[0]}"][-1]
        np.testing.assert_allclose(
            f["fluid/vorticity"][-1], jac[..., 1, 0] - jac[..., 0, 1], atol=1e-6
        )
        # exact = steady initial field
        np.testing.assert_allclose(f["exact/field"][0], f["exact/field"][1])


def test_fluid_metrics_on_exact_taylor_green() -> None:
    """Closed forms on [-1, 1]^2: ∫|u|² = 2/π² so KE = 1/π²; ω = 2 sin(πX) sin(πY),
    ∫ω² = 4 so enstrophy = 2 (trapezoid rule on a 129² grid, exact to ~1e-6 here)."""
    from insr.cases.fluid import taylor_green_torch
    from insr.cases.initial import value_and_gradient

    axes = [np.linspace(-1, 1, 129)] * 2
    pts = torch.from_numpy(grid_points(axes))
    u, jac = value_and_gradient(taylor_green_torch, pts)
    u, jac = u.numpy().reshape(129, 129, 2), jac.numpy().reshape(129, 129, 2, 2)
    arrays = {"field": u, "fluid/vorticity": jac[..., 1, 0] - jac[..., 0, 1]}
    m = fluid_metrics(arrays, {"field": u, "gradient": jac}, axes)
    assert m["kinetic_energy"] == pytest.approx(1 / np.pi**2, rel=1e-6)
    assert m["enstrophy"] == pytest.approx(2.0, rel=1e-6)
    assert m["velocity_rel_error"] == 0.0 and m["vorticity_rel_error"] == 0.0


# ----------------------------------------------------------------------------- grid runs


def test_grid_representation_reproduces_reference_solver(tmp_path) -> None:
    sets = [
        "representation.kind=grid",
        "representation.grid.resolution=16",
        "case.steps=2",
        "eval.resolution=9",
    ]
    cfg = load_config("taylor_green", sets=sets)
    res = execute(cfg, tmp_path / "g")
    sol = euler2d.solve(ref_ic.taylor_green, cfg.case.domain, n=16, dt=cfg.case.dt, steps=2)
    pts = grid_points(eval_grid(make_case(cfg.case), 9))
    with h5py.File(res.log_path) as f:
        assert f.attrs["representation"] == "grid" and f.attrs["grid_resolution"] == 16
        for k in range(3):
            want = euler2d.sample_velocity(sol, pts, index=k).reshape(9, 9, 2)
            np.testing.assert_allclose(f["field"][k], want, rtol=0, atol=1e-6)
        assert f["gradient/fd"].shape == (3, 9, 9, 2, 2)
        assert np.isfinite(f["metrics/velocity_rel_error"][:]).all()
        # the grid Taylor-Green stays near the steady truth
        assert f["metrics/velocity_rel_error"][-1] < 0.05


def test_grid_equal_memory_resolution_counts_velocity_and_pressure(tmp_path) -> None:
    """Hand count: the taylor_green SIREN (2 -> 32 -> 32 -> 32, 3 hidden layers) has
    velocity 2*32+32 + 2*(32*32+32) + 32*2+2 = 2274 and pressure (same net, 1 output)
    2274 - 33 = 2241 parameters: 4515 in all. The MAC grid of r cells stores
    (r+1) r + r (r+1) + r^2 = 3r^2 + 2r floats: r = 38 gives 4408 <= 4515 < 4641 (r = 39)."""
    from insr.run import Run

    cfg = load_config(
        "taylor_green",
        sets=["representation.kind=grid", "representation.grid.match_params_of=siren"],
    )
    siren = load_config("taylor_green").representation.params
    assert (siren["hidden_layers"], siren["hidden_features"]) == (3, 32)
    run = Run(cfg)
    assert run.attrs["matched_n_params"] == 4515
    assert run.attrs["grid_resolution"] == 38
    assert run.n_params == 3 * 38 * 38 + 2 * 38 == 4408


def test_grid_advection1d_matches_reference_solver(tmp_path) -> None:
    from insr.reference import advection1d

    cfg = load_config(
        "advection1d",
        sets=[
            "representation.kind=grid",
            "representation.grid.resolution=101",
            "case.steps=3",
            "eval.resolution=101",
        ],
    )
    res = execute(cfg, tmp_path / "g")
    x, U = advection1d.solve(advection1d.gaussian_pulse(), 0.25, (-2.0, 2.0), 101, cfg.case.dt, 3)
    with h5py.File(res.log_path) as f:
        np.testing.assert_allclose(f["field"][-1][:, 0], U[-1], atol=1e-6)


def test_grid_config_errors() -> None:
    with pytest.raises(ConfigError, match="resolution"):
        load_config("taylor_green", sets=["representation.kind=grid"])
    with pytest.raises(ConfigError, match="match_params_of"):
        load_config(
            "taylor_green",
            sets=["representation.kind=grid", "representation.grid.match_params_of=sirne"],
        )
    with pytest.raises(ConfigError, match="pressure_representation"):
        cfg = load_config("taylor_green", sets=["extra.fluid.pressure_representation=nope"])
        from insr.run import Run

        Run(cfg)
