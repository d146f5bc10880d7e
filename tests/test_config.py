"""Config loading, overrides and one-line validation errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from insr.cli import app
from insr.config import ConfigError, build_config, load_config

runner = CliRunner()


def test_defaults_and_case_merge():
    cfg = load_config("advection1d")
    assert cfg.case.name == "advection1d"
    assert cfg.case.domain == [[-2.0, 2.0]]
    assert cfg.case.dt == 0.05 and cfg.case.steps == 240
    assert cfg.representation.kind == "siren"
    assert cfg.representation.params["hidden_features"] == 20


def test_set_overrides_land_in_config():
    cfg = load_config(
        "advection1d",
        sets=["solver.lbfgs_lr=0.5", "representation.siren.omega0=12.5", "case.steps=3"],
    )
    assert cfg.solver.lbfgs_lr == 0.5
    assert cfg.representation.params["omega0"] == 12.5
    assert cfg.case.steps == 3
    stored = cfg.as_dict()
    assert stored["representation"]["omega0"] == 12.5
    # the stored form round-trips through JSON into the same config
    from insr.config import config_from_text

    again = config_from_text(json.dumps(stored))
    assert again.as_dict() == stored


def test_switching_representation_kind_uses_its_defaults():
    cfg = load_config("advection1d", sets=["representation.kind=gauss"])
    assert cfg.representation.kind == "gauss"
    assert "sigma" in cfg.representation.params


@pytest.mark.parametrize(
    "sets, needle",
    [
        (["solver.lrr=1"], "solver.lrr"),
        (["solver.lr=-1"], "solver.lr"),
        (["solver.max_iters=abc"], "solver.max_iters"),
        (["case.dt=0"], "case.dt"),
        (["case.steps=-1"], "case.steps"),
        (["solver.lr=nan"], "finite"),
        (["representation.kind=sirne"], "did you mean 'siren'"),
        (["derivative.loss=autodif"], "did you mean 'autodiff'"),
        (["representation.siren.omega0=-3"], "omega0"),
        (["bogus.key=1"], "unknown section 'bogus'"),
        (["run.device=tpu"], "run.device"),
    ],
)
def test_bad_values_are_rejected_with_the_key(sets, needle):
    with pytest.raises(ConfigError) as e:
        load_config("advection1d", sets=sets)
    assert needle in str(e.value)
    assert "\n" not in str(e.value)


def test_cli_config_error_exit_code_2_one_line(tmp_path):
    res = runner.invoke(
        app, ["run", "advection1d", "--set", "solver.lr=-1", "--out", str(tmp_path / "r")]
    )
    assert res.exit_code == 2
    assert "solver.lr" in res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "r" / "run.h5").exists()


def test_cli_unknown_case_suggests(tmp_path):
    res = runner.invoke(app, ["run", "advection1", "--out", str(tmp_path / "r")])
    assert res.exit_code == 2
    assert "did you mean 'advection1d'" in res.output


# --------------------------------------------------------------- [solver.init], deprecation
@pytest.fixture
def fresh_warnings():
    from insr import config as config_mod

    config_mod._WARNED.clear()
    yield
    config_mod._WARNED.clear()


def test_solver_init_is_a_nested_budget():
    cfg = load_config("advection1d", sets=["solver.init.lbfgs_lr=0.02", "solver.init.max_iters=7"])
    assert cfg.solver.init.lbfgs_lr == 0.02 and cfg.solver.init.max_iters == 7
    assert cfg.solver.init.optimizer == load_config("advection1d").solver.init.optimizer
    assert not any(k.startswith("init_") for k in cfg.as_dict()["solver"])


def test_budgets_read_solver_and_solver_init():
    from insr.run import Run

    sets = ["solver.init.lbfgs_lr=0.02", "solver.init.optimizer=lbfgs", "solver.init.max_iters=40"]
    sets += ["solver.init.min_iters=4", "solver.lr=0.003", "solver.optimizer=adam"]
    sets += ["solver.max_iters=75", "solver.check_every=5"]
    cfg = load_config("advection1d", sets=sets)
    init, step = Run.budgets(type("R", (), {"cfg": cfg})())
    assert (init.lbfgs_lr, init.optimizer, init.max_iters, init.min_iters) == (0.02, "lbfgs", 40, 4)
    assert (step.lr, step.optimizer, step.max_iters) == (0.003, "adam", 75)
    assert init.check_every == step.check_every == 5  # shared keys


def test_flat_init_keys_in_set_map_to_solver_init_with_a_warning(capsys, fresh_warnings):
    cfg = load_config("advection1d", sets=["solver.init_max_iters=7", "solver.init_rel_tol=0.5"])
    assert cfg.solver.init.max_iters == 7 and cfg.solver.init.rel_tol == 0.5
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2
    assert "solver.init_max_iters is deprecated, use solver.init.max_iters" in err[0]
    assert "solver.init_rel_tol is deprecated, use solver.init.rel_tol" in err[1]


def test_flat_init_keys_in_toml_map_to_solver_init_with_a_warning(tmp_path, capsys, fresh_warnings):
    f = tmp_path / "old.toml"
    f.write_text('[solver]\ninit_optimizer = "adam"\ninit_rel_tol = 0.25\n')
    cfg = load_config("advection1d", config_files=[str(f)])
    assert cfg.solver.init.optimizer == "adam" and cfg.solver.init.rel_tol == 0.25
    # the rest of the lower layers' [solver.init] stays
    assert cfg.solver.init.max_iters == load_config("advection1d").solver.init.max_iters
    err = capsys.readouterr().err
    assert "solver.init_optimizer is deprecated, use solver.init.optimizer" in err
    assert str(f) in err


def test_flat_and_nested_init_key_in_one_file_is_an_error(tmp_path):
    f = tmp_path / "both.toml"
    f.write_text("[solver]\ninit_lr = 0.1\n[solver.init]\nlr = 0.2\n")
    with pytest.raises(ConfigError) as e:
        load_config("advection1d", config_files=[str(f)])
    assert "solver.init_lr and solver.init.lr" in str(e.value) and "\n" not in str(e.value)


def test_stored_config_with_flat_init_keys_still_loads(capsys, fresh_warnings):
    """Logs written before [solver.init] keep resuming/rendering: read silently."""
    from insr.config import config_from_text

    stored = load_config("advection1d").as_dict()
    init = stored["solver"].pop("init")
    stored["solver"].update({f"init_{k}": v for k, v in init.items()})
    again = config_from_text(json.dumps(stored))
    assert again.solver.init.__dict__ == init
    assert capsys.readouterr().err == ""


def test_unknown_init_key_suggests():
    with pytest.raises(ConfigError) as e:
        load_config("advection1d", sets=["solver.init.max_iter=3"])
    assert "solver.init.max_iter" in str(e.value) and "did you mean 'max_iters'" in str(e.value)


def test_cli_accepts_flat_init_key_with_warning(tmp_path):
    res = CliRunner().invoke(
        app,
        ["run", "advection1d", "--set", "solver.init_lr=-1", "--out", str(tmp_path / "r")],
    )
    assert res.exit_code == 2
    assert "solver.init.lr = -1" in res.output  # validated at its new place
    assert "deprecated, use solver.init.lr" in res.output


# --------------------------------------------------------------- one place for defaults
def test_dataclass_defaults_are_the_only_defaults(tmp_path, monkeypatch):
    """A case with no numerics, on a kind without presets, resolves to the dataclass defaults
    exactly: no defaults TOML (or anything else) sits beneath the case file."""
    from insr import config as config_mod
    from insr.config import DerivativeConfig, EvalConfig, RunSection, SolverConfig, to_dict
    from insr.fields import config_class

    monkeypatch.setattr(config_mod, "PRESETS_DIR", tmp_path / "none")
    assert not (config_mod.CONFIGS_DIR / "default.toml").exists()
    case = tmp_path / "bare.toml"
    case.write_text(
        '[case]\nname = "bare"\npde = "advection"\ndomain = [[0.0, 1.0]]\ndt = 0.1\n'
        'steps = 1\nvelocity = { kind = "constant", value = [1.0] }\n'
        'initial = { family = "gaussian", mu = 0.5, sigma = 0.1 }\n'
    )
    for kind in ("siren", "hashgrid"):
        d = load_config(str(case), sets=[f"representation.kind={kind}"]).as_dict()
        assert d["solver"] == to_dict(SolverConfig())
        assert d["derivative"] == to_dict(DerivativeConfig())
        assert d["eval"] == to_dict(EvalConfig())
        assert d["run"] == to_dict(RunSection())
        assert {k: v for k, v in d["representation"].items() if k != "kind"} == to_dict(
            config_class(kind)()
        )


# The README's key table is generated from the schema; tests/test_keys.py checks it is
# exactly the generated one (every key of every section, with its doc).


# --------------------------------------------------------------- schema-validated tables
@pytest.mark.parametrize(
    "sets, needle",
    [
        (["case.velocity={kind='constant', valeu=[1.0]}"], "did you mean 'value'"),
        (["case.velocity={kind='constant', value=[1.0, 2.0]}"], "expected 1 number(s)"),
        (["case.velocity={kind='rotaton'}"], "did you mean 'rotation'"),
        (["case.velocity={kind='rotation'}"], "needs a 2D domain"),
        (["case.velocity={kind='constant', value='fast'}"], "case.velocity.value"),
        (["case.initial={family='gaussian', mu=[0.0], sigm=0.1}"], "did you mean 'sigma'"),
        (["case.initial={family='gaussian', mu=[0.0]}"], "missing key 'case.initial.sigma'"),
        (["case.initial={family='gaussian', mu=[0.0], sigma=-1}"], "case.initial.sigma"),
        (["case.initial={family='gausian', mu=[0.0], sigma=1}"], "did you mean 'gaussian'"),
        (["case.initial={family='wave_packet', mu=0, sigma=1, k=true}"], "case.initial.k"),
        (["case.initial={family='gaussians', components=[]}"], "case.initial.components"),
        (
            ["case.initial={family='gaussians', components=[{mu=0, sigma=0}]}"],
            "case.initial.components[0].sigma",
        ),
        (["case.initial={family='callable', target='nomodule'}"], "module:function"),
    ],
)
def test_case_tables_give_one_line_errors(sets, needle):
    from insr.equations import make_case

    with pytest.raises(ConfigError) as e:
        make_case(load_config("advection1d", sets=sets).case)
    assert needle in str(e.value), str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    "sets, needle",
    [
        (["case.initial={family='vortex_pair', core_radius=0}"], "case.initial.core_radius"),
        (["case.initial={family='taylor_green', k=2}"], "takes no keys"),
        (["case.initial={family='taylor_green_multiscale', k=2.5}"], "positive integer"),
        (["case.reference={resolution=2}"], "case.reference.resolution"),
        (["case.reference={interpolation='cubc'}"], "did you mean 'cubic'"),
        (["case.reference={resolutoin=64}"], "did you mean 'resolution'"),
    ],
)
def test_fluid_case_tables_give_one_line_errors(sets, needle):
    from insr.equations import make_case

    with pytest.raises(ConfigError) as e:
        make_case(load_config("vortex_pair", sets=sets).case)
    assert needle in str(e.value), str(e.value)
    assert "\n" not in str(e.value)


# --------------------------------------------------------------- typed representation
def test_resolved_config_carries_typed_representation_settings():
    from insr.fields import build_field
    from insr.fields.hashgrid import HashGridConfig
    from insr.fields.mlp import SirenConfig

    cfg = load_config("advection1d", sets=["representation.siren.hidden_features=8"])
    s = cfg.representation.settings
    assert isinstance(s, SirenConfig) and s.hidden_features == 8
    f = build_field("siren", s, cfg.case.domain, 1)
    assert f.n_params == 1 * 8 + 8 + 8 * 8 + 8 + 8 * 1 + 1  # 2 hidden layers of 8
    h = load_config(
        "advection1d", sets=["representation.kind=hashgrid", "representation.n_levels=3"]
    ).representation
    assert isinstance(h.settings, HashGridConfig) and h.settings.n_levels == 3
    assert h.params["n_levels"] == 3  # the dict view for older call sites


def test_other_kinds_sub_tables_are_validated_and_kept():
    cfg = load_config("advection1d", sets=["representation.gauss.sigma=0.3"])
    assert cfg.representation.kind == "siren"
    assert cfg.representation.others["gauss"].sigma == 0.3
    with pytest.raises(ConfigError, match="representation.gauss.sigma"):
        load_config("advection1d", sets=["representation.gauss.sigma=-1"])


@pytest.mark.parametrize("kind", ["siren", "gauss", "mlp", "hashgrid", "densegrid"])
def test_a_stored_config_rebuilds_to_itself(kind):
    """The config stored in a log (flat representation keys) validates back to the same
    config for every kind -- densegrid's flat `mlp = true` is a key, not the mlp table."""
    cfg = load_config("advection1d", sets=[f"representation.kind={kind}"])
    assert build_config(cfg.as_dict()).as_dict() == cfg.as_dict()


def test_shipped_cases_use_no_deprecated_keys(capsys):
    """Every shipped case loads without a deprecation warning (solver.init.<key>, not the
    flat solver.init_<key>)."""
    from insr.config import _WARNED, list_cases

    _WARNED.clear()
    for case in list_cases():
        load_config(case)
    assert "deprecated" not in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["siren", "gauss", "mlp", "hashgrid", "densegrid", "grid"])
def test_resolved_config_rebuilds_from_its_stored_dict(kind):
    """A log stores cfg.as_dict() (flat representation keys); --resume and sweep reuse
    rebuild it. densegrid's own `mlp = true` once read as the `mlp` kind's table."""
    from insr.compare import config_difference
    from insr.config import build_config

    sets = [f"representation.kind={kind}"]
    if kind == "grid":
        sets.append("representation.grid.resolution=64")
    cfg = load_config("vortex_pair" if kind == "densegrid" else "advection1d", sets=sets)
    again = build_config(cfg.as_dict())
    assert config_difference(again.as_dict(), cfg.as_dict()) is None
    assert again.representation.kind == kind
