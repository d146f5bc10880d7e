"""The equation registry: every pde is an entry; unknown names are refused, never routed."""

from __future__ import annotations

import pytest
import torch

from insr.config import list_cases, load_config
from insr.equations import EQUATIONS, Numerics, SettingError, get_equation, make_case
from insr.equations.advection import Advection
from insr.equations.fluid import Fluid
from insr.equations.heat import Heat
from insr.run import Run
from insr.schema import ConfigError, from_dict
from insr.verdict import is_complete

TINY = ["eval.resolution=9", "solver.samples=16", "solver.max_iters=2", "solver.init.max_iters=2"]
TINY += ["run.on_poor_fit=continue"]  # tiny budgets: not about fit quality


def test_registry_holds_the_three_equations_with_typed_settings() -> None:
    assert {"advection", "euler", "heat"} <= set(EQUATIONS)
    for pde, entry in EQUATIONS.items():
        assert entry.pde == pde
        from_dict(entry.settings, {}, f"extra.{entry.table}")  # defaults are valid


@pytest.mark.parametrize("bad,hint", [("heta", "heat"), ("eulr", "euler"), ("advect", "advection")])
def test_unknown_pde_is_a_config_error_with_did_you_mean(bad: str, hint: str) -> None:
    cfg = load_config("advection1d", sets=[f"case.pde={bad}", *TINY])
    with pytest.raises(ConfigError, match=rf"case.pde = '{bad}' is not allowed.*'{hint}'"):
        Run(cfg)
    with pytest.raises(ConfigError, match="allowed: advection, euler, heat"):
        make_case(cfg.case)


def test_every_shipped_case_names_a_registered_equation() -> None:
    for name in list_cases():
        assert load_config(name).case.pde in EQUATIONS, name


@pytest.mark.parametrize(
    "case,cls", [("advection1d", Advection), ("taylor_green", Fluid), ("heat1d", Heat)]
)
def test_every_equation_is_built_the_same_way(case: str, cls: type) -> None:
    run = Run(load_config(case, sets=TINY))
    assert type(run.equation) is cls
    assert get_equation(run.cfg.case.pde).equation is cls
    assert set(run.equation.fields) == ({"u", "p"} if cls is Fluid else {"u"})


def test_settings_table_is_validated_with_its_key() -> None:
    with pytest.raises(ConfigError, match="extra.heat.kapa"):
        Run(load_config("heat1d", sets=["extra.heat.kapa=1", *TINY]))
    with pytest.raises(ConfigError, match="extra.heat.kappa"):
        Run(load_config("heat1d", sets=["extra.heat.kappa=-1", *TINY]))
    with pytest.raises(ConfigError, match="extra.fluid = 3 is not allowed: expected a table"):
        Run(load_config("taylor_green", sets=["extra.fluid=3", *TINY]))


def test_settings_of_another_equation_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"extra.fluid has no effect on case.pde = 'heat'"):
        Run(load_config("heat1d", sets=["extra.fluid.wall_weight=1", *TINY]))


def test_equations_name_their_settings_and_the_run_layer_names_the_keys() -> None:
    case = make_case(load_config("heat1d").case, {})
    f = torch.nn.Linear(1, 1)
    with pytest.raises(SettingError) as e:
        Heat(case, {"u": f}, None, Numerics(loss_strategy="fd"))
    assert "loss_strategy = 'fd'" in str(e.value) and "derivative." not in str(e.value)
    with pytest.raises(ConfigError, match=r"derivative.loss = 'fd' is not allowed"):
        Run(load_config("heat1d", sets=["derivative.loss=fd", *TINY]))
    with pytest.raises(ConfigError, match=r"derivative.sobolev_weight has no effect"):
        Run(load_config("heat1d", sets=["derivative.sobolev_weight=0.1", *TINY]))


def test_grid_baseline_is_refused_for_an_equation_without_one() -> None:
    import dataclasses

    from insr.equations import register

    register(dataclasses.replace(get_equation("heat"), pde="heat_nogrid", grid=None))
    try:
        sets = ["case.pde=heat_nogrid", "representation.kind=grid"]
        cfg = load_config("heat1d", sets=[*sets, "representation.grid.resolution=16"])
        with pytest.raises(ConfigError, match="registers no grid baseline"):
            Run(cfg)
    finally:
        del EQUATIONS["heat_nogrid"]


def test_heat_grid_baseline_runs_against_the_exact_solution(tmp_path) -> None:
    from insr.run import execute

    sets = ["representation.kind=grid", "representation.grid.resolution=201", "eval.resolution=41"]
    res = execute(load_config("heat1d", sets=[*sets, "case.steps=5"]), tmp_path / "g")
    assert is_complete(res.status) and res.completed_steps == 6
    assert res.last_metrics["field_max_error"] < 1e-3  # CN at dx = 0.02 (see reference tests)


def test_building_a_fluid_case_runs_no_reference_solver(monkeypatch) -> None:
    from insr.reference import euler2d

    calls: list[int] = []
    real = euler2d.solve
    monkeypatch.setattr(euler2d, "solve", lambda *a, **k: calls.append(1) or real(*a, **k))
    cfg = load_config("vortex_pair", sets=["case.reference.resolution=16", "case.steps=1"])
    case = make_case(cfg.case)
    assert calls == [] and case.reference is None and case.needs_reference
    case.prepare_truth()  # what the run layer does when the truth is first sampled
    assert calls == [1] and case.reference is not None and not case.needs_reference
    x = torch.zeros(1, 2, dtype=torch.float64)
    u, jac = case.exact(x, cfg.case.dt)
    assert u.shape == (1, 2) and jac.shape == (1, 2, 2)
