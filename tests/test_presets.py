"""Presets per representation kind x PDE x dimension, and the resolved-config invariance
of every shipped case (fixtures recorded from the code at commit 1daa92e, before presets)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from insr import config as config_mod
from insr.config import (
    ConfigError,
    InitConfig,
    SolverConfig,
    list_cases,
    load_config,
    preset_layer,
    read_toml,
    to_dict,
)
from insr.fields import config_class

DATA = Path(__file__).parent / "data"
FIXTURES = json.loads((DATA / "resolved_configs_1daa92e.json").read_text())
# cases whose resolved config is pinned; wave_packet1d (TOML-only) gained its presets
PINNED = sorted(c for c in FIXTURES if c != "wave_packet1d")


def resolved(case: str, sets: list[str] | None = None) -> tuple[dict, list[str]]:
    d = load_config(case, sets=sets).as_dict()
    return d, d["run"].pop("presets")


CASES_ADDED_SINCE_1DAA92E = {"heat1d"}
# keys added since 1daa92e that change no numerics (section, key, its dataclass default)
KEYS_ADDED_SINCE_1DAA92E = [("run", "checkpoint_every", 10), ("solver", "lbfgs_impl", "torch")]
#: defaults changed since: (section, key, value then, value now)
DEFAULTS_CHANGED_SINCE_1DAA92E = [("run", "compile", False, "auto")]
#: values the preset search changed since (benchmarks/preset_search.py, presets/siren.toml):
#: case -> (section, key, value then, value now)
SEARCHED_SINCE_1DAA92E = {
    case: [("solver", "lr", 1e-3, 3e-4)] for case in ("advection2d", "advection2d_translate")
}


def test_fixtures_cover_every_shipped_case():
    assert set(list_cases()) - set(FIXTURES) == CASES_ADDED_SINCE_1DAA92E


@pytest.mark.parametrize("case", PINNED)
def test_shipped_case_resolves_as_before_presets(case):
    d, presets = resolved(case)
    for section, key, default in KEYS_ADDED_SINCE_1DAA92E:
        assert d[section].pop(key) == default
    for section, key, then, now in DEFAULTS_CHANGED_SINCE_1DAA92E:
        assert d[section][key] == now and FIXTURES[case][section][key] == then
        d[section][key] = then
    for section, key, then, now in SEARCHED_SINCE_1DAA92E.get(case, []):
        assert d[section][key] == now and FIXTURES[case][section][key] == then
        d[section][key] = then
    assert d == FIXTURES[case]
    assert presets and all(p.startswith("presets/siren.toml:") for p in presets)


def test_toml_only_case_gets_the_presets_of_its_pde_and_dim():
    d, presets = resolved("wave_packet1d")
    assert presets == ["presets/siren.toml:advection.1d"]
    for section, key, default in KEYS_ADDED_SINCE_1DAA92E:
        assert d[section].pop(key) == default
    ref = FIXTURES["advection1d"]  # the shipped case of the same pde/dim on siren
    for section in ("solver", "derivative", "representation"):
        assert d[section] == ref[section], section
    # and not the untuned defaults it resolved to before presets existed
    assert FIXTURES["wave_packet1d"]["solver"]["optimizer"] == "adam"
    assert d["solver"]["optimizer"] == "lbfgs"


def test_fresh_toml_case_gets_presets_and_stores_them(tmp_path):
    case = tmp_path / "blob.toml"
    case.write_text(
        '[case]\nname = "blob"\npde = "advection"\ndomain = [[-1.0, 1.0], [-1.0, 1.0]]\n'
        "dt = 0.1\nsteps = 2\n"
        'velocity = { kind = "constant", value = [0.25, 0.0] }\n'
        'initial = { family = "gaussian", mu = [0.0, 0.0], sigma = 0.2 }\n'
    )
    cfg = load_config(str(case))
    assert cfg.run.presets == ["presets/siren.toml:advection.2d"]
    assert cfg.solver.samples == 1024 and cfg.representation.settings.omega0 == 10.0
    assert cfg.derivative.sobolev_weight == 0.0  # advection2d's own entry is not applied
    assert cfg.as_dict()["run"]["presets"] == ["presets/siren.toml:advection.2d"]


def test_presets_visible_in_the_run_log(tmp_path):
    from insr.log import RunLogReader
    from insr.run import execute

    sets = [
        "case.steps=1",
        "eval.resolution=17",
        "solver.max_iters=3",
        "solver.init.max_iters=3",
        "solver.samples=50",
        "run.threads=1",
        "run.device=cpu",
    ]
    cfg = load_config("wave_packet1d", sets=sets)
    execute(cfg, tmp_path / "r", overwrite=True)
    with RunLogReader(tmp_path / "r" / "run.h5") as log:
        stored = log.config
    assert stored["run"]["presets"] == ["presets/siren.toml:advection.1d"]
    assert stored["solver"]["optimizer"] == "lbfgs"  # from the preset
    assert stored["solver"]["init"]["max_iters"] == 3  # --set above the preset


def test_per_case_table_sits_above_the_pde_dim_table():
    tg, tg_presets = resolved("taylor_green")
    vp, vp_presets = resolved("vortex_pair")
    assert tg["representation"]["omega0"] == 10.0 and vp["representation"]["omega0"] == 20.0
    assert tg_presets[-1] == "presets/siren.toml:euler.2d.cases.taylor_green"
    assert vp_presets == ["presets/siren.toml:euler.2d"]


def test_siren_numerics_do_not_reach_other_kinds(tmp_path, monkeypatch):
    monkeypatch.setattr(config_mod, "PRESETS_DIR", tmp_path)  # no preset for any kind
    (tmp_path / "siren.toml").write_bytes(
        (config_mod.CONFIGS_DIR / "presets/siren.toml").read_bytes()
    )
    cfg = load_config("advection1d", sets=["representation.kind=gauss"])
    assert cfg.run.presets == []
    assert to_dict(cfg.solver) == to_dict(SolverConfig())  # the case file sets no numerics
    assert cfg.derivative.sobolev_weight == 0.0


def test_layering_case_and_set_beat_the_preset(tmp_path):
    case = tmp_path / "c.toml"
    text = (config_mod.CASES_DIR / "advection1d.toml").read_text()
    case.write_text(text + "\n[solver]\nsamples = 77\n")
    cfg = load_config(str(case), sets=["solver.max_iters=9", "representation.omega0=12.5"])
    assert cfg.solver.samples == 77  # case file > preset (1000)
    assert cfg.solver.max_iters == 9  # --set > preset (75)
    assert cfg.representation.settings.omega0 == 12.5  # flat key > preset (20)
    assert cfg.solver.optimizer == "lbfgs"  # untouched preset value


def _preset_items(kind: str):
    data = read_toml(config_mod.PRESETS_DIR / f"{kind}.toml")
    for pde, by_dim in data.items():
        for dim, table in by_dim.items():
            tables = [(f"{pde}.{dim}", {k: v for k, v in table.items() if k != "cases"})]
            tables += [(f"{pde}.{dim}.cases.{c}", t) for c, t in table.get("cases", {}).items()]
            yield from tables


def _kinds_with_presets() -> list[str]:
    return sorted(p.stem for p in config_mod.PRESETS_DIR.glob("*.toml"))


@pytest.mark.parametrize("kind", _kinds_with_presets())
def test_shipped_presets_state_only_what_differs_from_the_defaults(kind):
    """A preset restating a default means the two sources of defaults drifted together."""
    defaults = {
        "solver": to_dict(SolverConfig()),
        "derivative": to_dict(config_mod.DerivativeConfig()),
        "representation": {kind: to_dict(config_class(kind)())},
    }
    defaults["solver"]["init"] = to_dict(InitConfig())

    def walk(where, table, dflt):
        for k, v in table.items():
            if isinstance(v, dict):
                walk(f"{where}.{k}", v, dflt[k])
            else:
                assert k in dflt, f"{where}.{k} is not a key"
                assert v != dflt[k], f"{where}.{k} = {v!r} restates the default"

    for where, table in _preset_items(kind):
        walk(where, table, defaults)


@pytest.mark.parametrize(
    "text, needle",
    [
        ("[advection.1d.solver]\nsampels = 3\n", "solver.sampels"),
        ("[advection.1d.representation.gauss]\nsigma = 0.2\n", "its own kind"),
        ("[advection.1d.eval]\nresolution = 9\n", "unknown preset table"),
        ("[advecton.1d.solver]\nsamples = 3\n", "did you mean 'advection'"),
        ("[advection.4d.solver]\nsamples = 3\n", "unknown dimension"),
    ],
)
def test_bad_preset_files_are_one_line_errors(tmp_path, monkeypatch, text, needle):
    monkeypatch.setattr(config_mod, "PRESETS_DIR", tmp_path)
    (tmp_path / "siren.toml").write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config("advection1d")
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_preset_layer_of_a_kind_without_presets_is_empty(tmp_path, monkeypatch):
    monkeypatch.setattr(config_mod, "PRESETS_DIR", tmp_path)
    assert preset_layer("hashgrid", "advection", 1, "advection1d") == ({}, [])


def test_presets_are_recorded_not_set(tmp_path):
    with pytest.raises(ConfigError, match="recorded, not set"):
        load_config("advection1d", sets=["run.presets=['x']"])
    f = tmp_path / "p.toml"
    f.write_text('[run]\npresets = ["x"]\n')
    with pytest.raises(ConfigError, match="recorded, not set"):
        load_config("advection1d", config_files=[str(f)])


def test_stored_config_round_trips_with_its_presets():
    from insr.config import config_from_text

    cfg = load_config("taylor_green")
    again = config_from_text(json.dumps(cfg.as_dict()))
    assert again.as_dict() == cfg.as_dict()


@pytest.mark.parametrize("case", ["advection1d", "advection2d", "taylor_green", "vortex_pair"])
def test_equal_memory_grid_is_sized_by_the_matched_kind_as_it_runs_on_the_case(case):
    cfg = load_config(
        case, sets=["representation.kind=grid", "representation.grid.match_params_of=siren"]
    )
    want = {k: v for k, v in FIXTURES[case]["representation"].items() if k != "kind"}
    assert cfg.representation.settings.matched_params == want
    assert all(p.endswith("[representation.siren]") for p in cfg.run.presets)


def test_compare_member_gets_the_presets_of_its_own_kind():
    from insr.compare import Member, member_raw
    from insr.config import base_raw, build_config

    base = base_raw("advection1d")
    siren = build_config(member_raw(base, [], Member("s", ["representation.kind=siren"])))
    gauss = build_config(member_raw(base, [], Member("g", ["representation.kind=gauss"])))
    assert siren.run.presets == ["presets/siren.toml:advection.1d"]
    assert siren.solver.optimizer == "lbfgs"
    assert not any(p.startswith("presets/siren.toml") for p in gauss.run.presets)
    old = Member("o", [], config={"solver": {"init_max_iters": 9}})
    assert build_config(member_raw(base, [], old)).solver.init.max_iters == 9


def test_hashgrid_preset_is_the_1daa92e_recipe_with_the_searched_changes():
    """The hash-grid recipe recorded at 1daa92e (the README's overrides then) resolves as
    recorded except for what benchmarks/preset_search.py changed (preset_search.md): 4,000
    samples per iteration instead of 2,000, Sobolev weight 0.001 instead of 0.01."""
    fx = json.loads((DATA / "readme_hashgrid_advection1d_1daa92e.json").read_text())
    want = json.loads(json.dumps(fx["resolved"]))
    want["solver"]["samples"] = 4000
    want["derivative"]["sobolev_weight"] = 0.001
    d, presets = resolved(fx["case"], ["representation.kind=hashgrid"])
    for section, key, default in KEYS_ADDED_SINCE_1DAA92E:
        assert d[section].pop(key) == default
    for section, key, then, now in DEFAULTS_CHANGED_SINCE_1DAA92E:
        assert d[section][key] == now and want[section][key] == then
        d[section][key] = then
    assert d == want
    assert presets == ["presets/hashgrid.toml:advection.1d"]


def test_flat_init_keys_in_a_preset_are_mapped(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(config_mod, "PRESETS_DIR", tmp_path)
    monkeypatch.setattr(config_mod, "_WARNED", set())
    (tmp_path / "siren.toml").write_text(
        "[advection.1d.solver]\ninit_max_iters = 11\n"
        "[advection.1d.cases.advection1d.solver]\ninit_lr = 0.5\n"
    )
    cfg = load_config("advection1d")
    assert cfg.solver.init.max_iters == 11 and cfg.solver.init.lr == 0.5
    err = capsys.readouterr().err
    assert "use solver.init.max_iters" in err and "use solver.init.lr" in err


@pytest.mark.parametrize("kind", ["hashgrid", "densegrid", "gauss", "mlp"])
def test_toml_only_case_gets_the_searched_preset_in_its_stored_config(tmp_path, kind):
    """A case written here (1D advection, no numerics of its own) run on ``kind``: its
    stored config names the preset table and carries the preset's solver values (read
    from the preset file itself, the input of the layering under test)."""
    from insr.log import RunLogReader
    from insr.run import execute

    table = read_toml(config_mod.PRESETS_DIR / f"{kind}.toml")["advection"]["1d"]
    case = tmp_path / "pulse.toml"
    case.write_text(
        '[case]\nname = "pulse"\npde = "advection"\ndomain = [[-1.0, 1.0]]\n'
        "dt = 0.05\nsteps = 1\n"
        'velocity = { kind = "constant", value = [0.3] }\n'
        'initial = { family = "gaussian", mu = [0.0], sigma = 0.2 }\n'
        "[eval]\nresolution = 17\n"
    )
    # only the step-0 budget is cut (to keep the test fast); the step recipe is the preset's
    sets = [f"representation.kind={kind}", "solver.init.max_iters=2", "run.threads=1"]
    if kind in ("hashgrid", "densegrid"):
        sets += ["representation.n_levels=2"]
    execute(load_config(str(case), sets=sets), tmp_path / "r", overwrite=True)
    with RunLogReader(tmp_path / "r" / "run.h5") as log:
        stored = log.config
    assert stored["run"]["presets"] == [f"presets/{kind}.toml:advection.1d"]
    for key, value in table["solver"].items():
        if isinstance(value, dict):
            continue
        assert stored["solver"][key] == value, key
    for key, value in table.get("derivative", {}).items():
        assert stored["derivative"][key] == value, key
    # not the global defaults (the preset changed at least the optimizer or iterations)
    defaults = to_dict(SolverConfig())
    assert any(stored["solver"][k] != defaults[k] for k in ("optimizer", "max_iters", "lr"))


def test_preset_hint_names_the_presets_used_and_the_kinds_to_try():
    """The clause a poor/failed fit ends with (README 'Fit verdicts')."""
    from insr.config import preset_hint

    h = preset_hint(load_config("taylor_green", sets=["representation.kind=mlp"]))
    assert h.startswith("no preset of 'mlp' for euler 2D (the global defaults ran)")
    assert h.endswith(
        "kinds with a preset for euler 2D: densegrid, gauss, hashgrid, siren "
        "(--set representation.kind=...)"
    )
    h = preset_hint(load_config("advection1d", sets=["representation.kind=gauss"]))
    assert h.startswith("numerics from configs/presets/gauss.toml:advection.1d; ")
    others = h.split("kinds with a preset for advection 1D: ")[1].split(" (")[0].split(", ")
    assert "gauss" not in others and {"siren", "hashgrid"} <= set(others)
    assert set(others) == {p.stem for p in config_mod.PRESETS_DIR.glob("*.toml")} - {"gauss"}


def test_hashgrid_on_euler_2d_interpolates_with_smoothstep():
    """The hash grid's searched Euler 2D preset (presets/hashgrid.toml): smoothstep and the
    other kinds' Euler recipe (Adam lr 1e-4, 100 iterations on 1,024 points)."""
    d, presets = resolved("vortex_pair", ["representation.kind=hashgrid"])
    assert d["representation"]["interpolation"] == "smoothstep"
    assert presets == ["presets/hashgrid.toml:euler.2d"]
    sv = d["solver"]
    assert (sv["lr"], sv["max_iters"], sv["samples"], sv["init"]["max_iters"]) == (
        1e-4,
        100,
        1024,
        1000,
    )
    # the kind without an Euler preset runs the global defaults there
    assert resolved("vortex_pair", ["representation.kind=mlp"])[0]["solver"]["lr"] == 1e-3


def test_densegrid_on_euler_2d_interpolates_with_smoothstep():
    """The pressure projection fits a Laplacian: the Euler 2D dense grid gets the smoothstep
    encoding (second derivatives inside a cell); so does 1D advection (its searched preset)."""
    d, presets = resolved("vortex_pair", ["representation.kind=densegrid"])
    assert d["representation"]["interpolation"] == "smoothstep"
    assert presets == ["presets/densegrid.toml:euler.2d"]
    d, _ = resolved(
        "vortex_pair",
        ["representation.kind=densegrid", "representation.densegrid.interpolation=linear"],
    )
    assert d["representation"]["interpolation"] == "linear"  # --set wins over the preset
    d, presets = resolved("advection1d", ["representation.kind=densegrid"])
    assert d["representation"]["interpolation"] == "smoothstep"
    assert presets == ["presets/densegrid.toml:advection.1d"]
