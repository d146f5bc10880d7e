"""`insr config show` / `insr config keys` and the stored config in `insr info`."""

from __future__ import annotations

import tomllib

from typer.testing import CliRunner

from insr.cli import app
from insr.config import load_config
from insr.run import execute

cli = CliRunner()
TINY = [
    "case.steps=1",
    "eval.resolution=9",
    "solver.samples=32",
    "solver.max_iters=2",
    "solver.init.max_iters=2",
    "solver.check_every=1",
    "representation.siren.hidden_features=8",
    "run.on_poor_fit=continue",
]


def _err(res) -> str:
    return res.stderr if hasattr(res, "stderr") else res.output


def test_config_show_round_trips_through_config(tmp_path):
    first = cli.invoke(app, ["config", "show", "advection1d"])
    assert first.exit_code == 0, _err(first)
    assert "# L-BFGS: draw new samples every check_every iterations" in first.stdout
    f = tmp_path / "shown.toml"
    f.write_text(first.stdout)
    again = cli.invoke(app, ["config", "show", "advection1d", "--config", str(f)])
    assert again.exit_code == 0, _err(again)
    assert again.stdout == first.stdout
    assert load_config("advection1d", [str(f)]).as_dict() == load_config("advection1d").as_dict()


def test_config_show_applies_set_and_refuses_bad_values():
    res = cli.invoke(app, ["config", "show", "advection1d", "--set", "solver.samples=123"])
    assert res.exit_code == 0
    assert tomllib.loads(res.stdout)["solver"]["samples"] == 123
    bad = cli.invoke(app, ["config", "show", "advection1d", "--set", "solver.samples=0"])
    assert bad.exit_code == 2
    lines = [ln for ln in _err(bad).splitlines() if ln.strip()]
    assert len(lines) == 1 and "solver.samples" in lines[0]


def test_config_keys_solver_lists_every_solver_key_with_its_doc():
    res = cli.invoke(app, ["config", "keys", "solver", "--format", "markdown"])
    assert res.exit_code == 0, _err(res)
    rows = [ln for ln in res.stdout.splitlines() if ln.startswith("| `")]
    names = {r.split("`")[1] for r in rows}
    assert {"solver.lbfgs_resample", "solver.boundary_samples", "solver.init.max_iters"} <= names
    assert all(not n.startswith(("derivative.", "run.")) for n in names)
    assert all(r.rstrip(" |").split("|")[-1].strip() for r in rows)  # a doc in every row
    table = cli.invoke(app, ["config", "keys", "solver"], terminal_width=200)
    assert table.exit_code == 0 and "solver.lbfgs_resample" in table.stdout


def test_config_keys_unknown_section_is_one_line():
    res = cli.invoke(app, ["config", "keys", "sovler"])
    assert res.exit_code == 2
    lines = [ln for ln in _err(res).splitlines() if ln.strip()]
    assert len(lines) == 1 and "did you mean 'solver'" in lines[0]


def test_info_and_config_show_print_the_stored_config(tmp_path):
    cfg = load_config("advection1d", sets=TINY)
    run_dir = tmp_path / "r"
    execute(cfg, run_dir)
    info = cli.invoke(app, ["info", str(run_dir)], terminal_width=200)
    assert info.exit_code == 0, _err(info)
    stored = info.stdout.split("stored config", 1)[1].split("\n", 1)[1]
    assert tomllib.loads(stored)["solver"]["samples"] == 32
    shown = cli.invoke(app, ["config", "show", str(run_dir)])
    assert shown.exit_code == 0, _err(shown)
    assert tomllib.loads(shown.stdout) == tomllib.loads(stored)
