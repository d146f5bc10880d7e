"""Benchmarks are not run by the suite (they print figures and take minutes), but they must
not rot: every script under ``benchmarks/`` imports against the current package (a renamed
module or function fails here, as ``insr.runner`` once did for ``fd_step.py``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
SCRIPTS = sorted(p for p in BENCH.glob("*.py"))


def test_there_are_benchmark_scripts() -> None:
    assert len(SCRIPTS) >= 5


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_benchmark_script_imports(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCH))  # scripts import their shared `common` module
    spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)  # runs the top level only (scripts guard __main__)


@pytest.mark.parametrize("case", sorted((BENCH / "cases").glob("*.toml")), ids=lambda p: p.name)
def test_benchmark_cases_state_no_numerics_and_get_presets(case: Path) -> None:
    """The TOML-only cases the README measures (Fit verdicts): valid, with no solver,
    derivative or representation tables of their own, so their numerics are the preset's."""
    from insr.config import load_config, read_toml

    assert set(read_toml(case)) <= {"case", "eval"}
    cfg = load_config(str(case))
    assert cfg.run.presets and all(p.startswith("presets/siren.toml:") for p in cfg.run.presets)


@pytest.mark.parametrize("case", ["advection1d", "advection2d"])
def test_coarse_to_fine_members_are_valid_configs(case: str, monkeypatch) -> None:
    """Every member of benchmarks/coarse_to_fine.py resolves to a config on both cases (a
    preset key that has no effect under its Adam override was once refused here)."""
    import argparse

    from insr.config import load_config

    monkeypatch.syspath_prepend(str(BENCH))
    spec = importlib.util.spec_from_file_location("bench_c2f", BENCH / "coarse_to_fine.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, mod)
    spec.loader.exec_module(mod)
    args = argparse.Namespace(init_iters=120, iters=30, samples=400, lr=3e-3, steps=2, threads=1)
    for name, sets in mod.members(args, 0.02).items():
        cfg = load_config(case, sets=[*mod.common(args, args.iters), *sets])
        assert cfg.representation.kind == "hashgrid", name
        assert cfg.solver.optimizer == "adam" and cfg.solver.init.optimizer == "adam"
