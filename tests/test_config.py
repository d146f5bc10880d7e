"""Config loading, overrides and one-line validation errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from insr.cli import app
from insr.config import ConfigError, load_config

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
        sets=["solver.lr=0.005", "representation.siren.omega0=12.5", "case.steps=3"],
    )
    assert cfg.solver.lr == 0.005
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
        (["case.steps=0"], "case.steps"),
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
