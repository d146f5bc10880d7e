"""No silent knobs: a key set where it acts on nothing is refused with one line naming the
knob that applies; the L-BFGS step size is a real knob; retries halve the step of the
optimizer in use."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from insr.cli import app
from insr.config import ConfigError, load_config
from insr.run import Run
from insr.run.driver import likely_causes, step_size_knobs
from insr.run.solvers import scaled
from insr.stepper import Budget

ADAM = ["solver.optimizer=adam", "solver.init.optimizer=adam"]
LBFGS = ["solver.optimizer=lbfgs", "solver.init.optimizer=lbfgs"]


@pytest.mark.parametrize(
    "case, sets, key, needle",
    [
        # advection1d's preset is L-BFGS for both budgets
        ("advection1d", ["solver.lr=1e3"], "solver.lr", "solver.lbfgs_lr"),
        ("advection1d", ["solver.init.lr=0.1"], "solver.init.lr", "solver.init.lbfgs_lr"),
        ("advection1d", ["solver.lr_decay=0.5"], "solver.lr_decay", "Adam"),
        ("advection1d", ["solver.init.lr_decays=2"], "solver.init.lr_decays", "Adam"),
        ("advection1d", ["solver.resample_every=5"], "solver.resample_every", "lbfgs_resample"),
        ("advection1d", ["solver.switch_after=10"], "solver.switch_after", "adam+lbfgs"),
        ("advection2d", [*ADAM, "solver.lbfgs_lr=0.5"], "solver.lbfgs_lr", "solver.lr"),
        ("advection2d", [*ADAM, "solver.lbfgs_history=5"], "solver.lbfgs_history", "L-BFGS"),
        ("advection2d", [*ADAM, "solver.lbfgs_resample=true"], "solver.lbfgs_resample", "L-BFGS"),
        ("advection1d", ["solver.boundary_samples=8"], "solver.boundary_samples", "1D box"),
        ("taylor_green", ["solver.boundary_weight=3"], "solver.boundary_weight", "wall_weight"),
        ("taylor_green", ["case.boundary_value=1"], "case.boundary_value", "dirichlet"),
        (
            "advection1d",
            ["derivative.loss=closed", "derivative.log=['autodiff']", "derivative.h=0.01"],
            "derivative.h",
            "fd",
        ),
        (
            "advection1d",
            ["derivative.log=['autodiff', 'average']", "derivative.scheme=forward"],
            "derivative.scheme",
            "fd",
        ),
        (
            "advection1d",
            ["derivative.coarse_to_fine_interval=9"],
            "derivative.coarse_to_fine_interval",
            "loss",
        ),
        (
            "advection1d",
            [
                "representation.kind=hashgrid",
                "derivative.loss=coarse_to_fine",
                "derivative.coarse_to_fine_h_start=0.1",
            ],
            "derivative.coarse_to_fine_h_start",
            "levels of its own",
        ),
        (
            "advection1d",
            ["derivative.omega0_auto_iters=50"],
            "derivative.omega0_auto_iters",
            "'auto'",
        ),
        ("advection1d", ["representation.kind=hashgrid", "run.compile=true"], "run.compile", "MLP"),
    ],
)
def test_inert_key_is_refused_naming_what_applies(case, sets, key, needle) -> None:
    with pytest.raises(ConfigError) as e:
        load_config(case, sets=sets)
    msg = str(e.value)
    assert msg.startswith(key) and "has no effect" in msg and needle in msg, msg
    assert "\n" not in msg


@pytest.mark.parametrize(
    "case, sets",
    [
        ("advection1d", ["solver.lbfgs_lr=0.5", "solver.init.lbfgs_lr=0.5"]),
        ("advection2d", ["solver.lr=1e-2", "solver.boundary_samples=4"]),
        ("advection1d", ["solver.optimizer=adam+lbfgs", "solver.switch_after=5", "solver.lr=2e-3"]),
        ("advection1d", ["solver.lr=1e-3"]),  # the default value is never an error
        ("advection1d", ["derivative.loss=fd", "derivative.h=0.01", "derivative.scheme=forward"]),
        ("advection1d", ["representation.siren.omega0=auto", "derivative.omega0_auto_iters=50"]),
    ],
)
def test_keys_that_act_are_accepted(case, sets) -> None:
    load_config(case, sets=sets)


@pytest.mark.parametrize(
    "sets",
    [
        ["derivative.sobolev_weight=0.01"],
        ["solver.time_scheme=pade4"],
        ["derivative.loss=coarse_to_fine"],
    ],
)
def test_euler_refuses_numerics_it_has_no_use_for(sets) -> None:
    with pytest.raises(ConfigError, match="Euler"):
        Run(load_config("taylor_green", sets=[*sets, "eval.resolution=9"]))


def test_refusal_on_the_cli_is_one_line_exit_2(tmp_path) -> None:
    out = tmp_path / "r"
    r = CliRunner().invoke(
        app, ["run", "advection1d", "--set", "solver.lr=1e30", "--out", str(out)]
    )
    assert r.exit_code == 2
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: solver.lr = 1e+30 has no effect")
    assert "solver.lbfgs_lr" in lines[0] and "Traceback" not in r.output
    assert not out.exists()  # nothing written


def _field_after_one_step(lbfgs_lr: float) -> np.ndarray:

    cfg = load_config(
        "advection1d",
        sets=[
            "case.steps=1",
            "eval.resolution=41",
            "solver.samples=128",
            "solver.max_iters=25",
            f"solver.lbfgs_lr={lbfgs_lr}",
            "run.on_poor_fit=continue",
        ],
    )
    run = Run(cfg)
    run.solver.advance(0, cfg.case.dt)
    run.solver.advance(1, cfg.case.dt)
    return run.solver.evaluate(cfg.case.dt)["field"]


def test_lbfgs_lr_changes_the_result() -> None:
    a, b, c = (_field_after_one_step(lr) for lr in (1.0, 1.0, 0.05))
    assert np.array_equal(a, b)  # deterministic: the difference below is the knob
    assert np.all(np.isfinite(c)) and np.max(np.abs(a - c)) > 1e-6


def test_retry_halves_the_step_of_the_optimizer_in_use() -> None:
    b = scaled(Budget(lr=1e-3, max_iters=10, lbfgs_lr=1.0), 0.5)
    assert (b.lr, b.lbfgs_lr) == (5e-4, 0.5)
    lb = load_config("advection1d")  # L-BFGS at step 0 and after
    assert step_size_knobs(lb, 0) == ["solver.init.lbfgs_lr"]
    assert step_size_knobs(lb, 3) == ["solver.lbfgs_lr"]
    ad = load_config("advection2d")  # Adam
    assert step_size_knobs(ad, 3) == ["solver.lr"] and "solver.lr" in likely_causes(ad, 3)
    assert "solver.lbfgs_lr" in likely_causes(lb, 3) and "solver.lr " not in likely_causes(lb, 3)
