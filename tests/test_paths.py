"""Where cases, configs and outputs are found: the working directory first, then the package
data; a directory is never a case file; outputs under ./outputs, $INSR_OUTPUTS or --out."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import h5py
import pytest
from typer.testing import CliRunner

from insr import paths
from insr.cli import app
from insr.compare import default_compare_dir, default_members_file
from insr.config import ConfigError, list_cases, load_config, resolve_case_path
from insr.run import default_run_dir
from insr.study.execute import list_studies

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
SHIPPED_ADV = paths.SHIPPED_CASES / "advection1d.toml"
TINY = [
    "eval.resolution=17",
    "solver.max_iters=5",
    "solver.init.max_iters=5",
    "solver.samples=64",
    "run.threads=1",
    "run.device=cpu",
]


@pytest.fixture
def cwd(tmp_path, monkeypatch) -> Path:
    """An empty working directory, no INSR_OUTPUTS."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(paths.OUTPUTS_ENV, raising=False)
    return tmp_path


def _user_case(cwd: Path, name: str = "advection1d", steps: int = 7) -> Path:
    """A copy of the shipped advection1d under ./cases/<name>.toml with other steps."""
    text = SHIPPED_ADV.read_text()
    data = tomllib.loads(text)
    old = f"steps = {data['case']['steps']}"
    assert old in text and data["case"]["steps"] != steps
    path = cwd / "cases" / f"{name}.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text.replace(old, f"steps = {steps}", 1))
    return path


# ------------------------------------------------------------------------ package data
def test_shipped_data_is_inside_the_package():
    assert paths.DATA_DIR == ROOT / "insr" / "data"
    assert SHIPPED_ADV.is_file()
    assert (paths.SHIPPED_CONFIGS / "presets" / "siren.toml").is_file()
    assert not (ROOT / "cases").exists() and not (ROOT / "configs").exists()


def test_package_data_globs_cover_every_shipped_file():
    """pyproject's package-data patterns select exactly the files under insr/data (so the
    wheel ships every case and config; .ci/wheel_smoke.sh checks the built wheel itself)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["insr"]
    selected = {p for pat in patterns for p in (ROOT / "insr").glob(pat) if p.is_file()}
    shipped = {p for p in (ROOT / "insr" / "data").rglob("*") if p.is_file()}
    shipped = {p for p in shipped if "__pycache__" not in p.parts}
    assert shipped and selected == shipped


def test_the_built_wheel_ships_the_data_and_the_entry_point(tmp_path):
    """A real wheel, built by the setuptools backend from a copy of the source (about a
    second): every file under insr/data and every module is in it, with the insr script."""
    setuptools = pytest.importorskip("setuptools")
    if int(setuptools.__version__.split(".")[0]) < 68:
        pytest.skip(f"setuptools {setuptools.__version__} < 68 (pyproject's build requirement)")
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "insr", src / "insr", ignore=shutil.ignore_patterns("__pycache__"))
    code = "import sys; from setuptools import build_meta as b; print(b.build_wheel(sys.argv[1]))"
    r = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], cwd=src, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr[-2000:]
    wheel = tmp_path / r.stdout.strip().splitlines()[-1]
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        assert "insr = insr.cli:main" in z.read(entry).decode()
    source = {
        p.relative_to(src).as_posix()
        for p in (src / "insr").rglob("*")
        if p.is_file() and (p.suffix == ".py" or "data" in p.relative_to(src).parts[:2])
    }
    assert "insr/data/cases/advection1d.toml" in source
    assert "insr/data/configs/presets/siren.toml" in source
    assert source - names == set()


# ------------------------------------------------------------------------ case lookup
def test_a_case_name_is_the_shipped_file_from_an_empty_directory(cwd):
    assert resolve_case_path("advection1d") == SHIPPED_ADV
    assert "advection1d" in list_cases()


def test_cwd_cases_win_over_shipped_ones(cwd):
    mine = _user_case(cwd, steps=7)
    assert resolve_case_path("advection1d") == mine
    assert load_config("advection1d").case.steps == 7
    _user_case(cwd, name="mine", steps=9)
    assert "mine" in list_cases() and load_config("mine").case.steps == 9


def test_an_explicit_path_wins_over_a_name_lookup(cwd):
    _user_case(cwd, steps=7)
    other = cwd / "elsewhere"
    other.mkdir()
    explicit = other / "advection1d.toml"
    explicit.write_text(SHIPPED_ADV.read_text())
    shipped_steps = tomllib.loads(SHIPPED_ADV.read_text())["case"]["steps"]
    assert resolve_case_path(str(explicit)) == explicit
    assert load_config("elsewhere/advection1d.toml").case.steps == shipped_steps
    # a file given by its bare name (no suffix, in the working directory) is a path too
    (cwd / "plain").write_text(SHIPPED_ADV.read_text())
    assert resolve_case_path("plain") == Path("plain")


def test_a_directory_named_like_a_case_does_not_hide_it(cwd):
    (cwd / "advection1d").mkdir()
    (cwd / "advection1d" / "siren-x").mkdir()
    assert resolve_case_path("advection1d") == SHIPPED_ADV
    with pytest.raises(ConfigError, match="is a directory, not a case file"):
        resolve_case_path("advection1d/")
    with pytest.raises(ConfigError, match="case file not found"):
        resolve_case_path("missing.toml")
    with pytest.raises(ConfigError, match="unknown case 'advection1"):
        resolve_case_path("advection1")


def test_run_from_inside_outputs_runs_the_shipped_case(cwd, monkeypatch):
    """`cd outputs && insr run advection1d`: the run lands in ./outputs of *that* directory,
    and the folder insr made before (outputs/advection1d/) is not taken for a case file."""
    (cwd / "outputs" / "advection1d" / "old-run").mkdir(parents=True)
    inner = cwd / "outputs"
    monkeypatch.chdir(inner)
    sets = [a for s in TINY for a in ("--set", s)]
    res = runner.invoke(app, ["run", "advection1d", "--steps", "1", "--name", "r", "-q", *sets])
    assert res.exit_code == 0, res.output
    log = inner / "outputs" / "advection1d" / "r" / "run.h5"
    assert res.output.strip().splitlines()[-1] == str(log)
    with h5py.File(log, "r", locking=False) as f:
        assert f.attrs["case"] == "advection1d" and int(f.attrs["completed_steps"]) == 2


def test_cases_command_lists_shipped_and_cwd_cases_marked(cwd):
    _user_case(cwd, name="advection1d")
    _user_case(cwd, name="mine")
    res = runner.invoke(app, ["cases"], terminal_width=250)
    assert res.exit_code == 0, res.output
    rows = {ln.split("│")[1].strip(): ln for ln in res.output.splitlines() if ln.count("│") > 3}
    assert "./cases (hides shipped)" in rows["advection1d"]
    assert "./cases" in rows["mine"] and "hides" not in rows["mine"]
    assert "shipped" in rows["heat1d"] and "./cases" not in rows["heat1d"]
    shipped = {p.stem for p in paths.SHIPPED_CASES.glob("*.toml")}
    assert set(rows) - {"name", ""} == shipped | {"mine"}


# ------------------------------------------------------------------------ config lookup
@pytest.mark.parametrize("arg", ["paper", "paper.toml", "configs/paper.toml"])
def test_config_names_resolve_to_the_shipped_file(cwd, arg):
    assert paths.resolve_config_file(arg) == paths.SHIPPED_CONFIGS / "paper.toml"


def test_cwd_configs_win_and_explicit_paths_win_over_names(cwd):
    mine = cwd / "configs" / "paper.toml"
    mine.parent.mkdir()
    mine.write_text("[solver]\nmax_iters = 11\n")
    assert paths.resolve_config_file("paper") == mine
    assert load_config("advection1d", ["paper"]).solver.max_iters == 11
    direct = cwd / "p2.toml"
    direct.write_text("[solver]\nmax_iters = 13\n")
    assert load_config("advection1d", [str(direct)]).solver.max_iters == 13
    with pytest.raises(ConfigError, match="config file not found: nope.toml"):
        load_config("advection1d", ["nope.toml"])


def test_a_cwd_preset_replaces_the_shipped_one_and_is_recorded(cwd):
    preset = cwd / "configs" / "presets" / "siren.toml"
    preset.parent.mkdir(parents=True)
    preset.write_text("[advection.1d.solver]\nmax_iters = 17\n")
    cfg = load_config("advection1d")
    assert cfg.solver.max_iters == 17
    assert cfg.run.presets == [f"{preset}:advection.1d"]


def test_compare_members_and_studies_look_in_cwd_configs_first(cwd):
    shipped = paths.SHIPPED_CONFIGS / "compare" / "representations.toml"
    assert default_members_file("representations") == shipped
    assert set(list_studies()) == {"noisy-gradients"}
    mine = cwd / "configs" / "compare" / "representations.toml"
    mine.parent.mkdir(parents=True)
    mine.write_text('[[member]]\nname = "m"\n')
    (cwd / "configs" / "study").mkdir()
    (cwd / "configs" / "study" / "my_study.toml").write_text("")
    assert default_members_file("representations") == mine
    assert list_studies()["my-study"] == cwd / "configs" / "study" / "my_study.toml"
    assert "noisy-gradients" in list_studies()


# ------------------------------------------------------------------------ outputs root
def test_outputs_default_to_the_working_directory(cwd):
    cfg = load_config("advection1d", sets=["run.name=n"])
    assert paths.outputs_root() == cwd / "outputs"
    assert default_run_dir(cfg) == cwd / "outputs" / "advection1d" / "n"
    assert default_compare_dir("advection1d", "representations").parent == cwd / "outputs" / (
        "compare"
    )


def test_insr_outputs_moves_the_root(cwd, monkeypatch):
    cfg = load_config("advection1d", sets=["run.name=n"])
    monkeypatch.setenv(paths.OUTPUTS_ENV, str(cwd / "elsewhere"))
    assert default_run_dir(cfg) == cwd / "elsewhere" / "advection1d" / "n"
    monkeypatch.setenv(paths.OUTPUTS_ENV, "rel")  # relative: to the working directory
    assert paths.outputs_root() == cwd / "rel"
    monkeypatch.setenv(paths.OUTPUTS_ENV, "")  # empty: unset
    assert paths.outputs_root() == cwd / "outputs"


def test_out_wins_over_insr_outputs(cwd, monkeypatch):
    monkeypatch.setenv(paths.OUTPUTS_ENV, str(cwd / "env"))
    sets = [a for s in TINY for a in ("--set", s)]
    out = cwd / "explicit"
    res = runner.invoke(app, ["run", "advection1d", "--steps", "1", "--out", str(out), *sets])
    assert res.exit_code == 0, res.output
    assert (out / "run.h5").is_file()
    assert not (cwd / "env").exists() and not (cwd / "outputs").exists()
