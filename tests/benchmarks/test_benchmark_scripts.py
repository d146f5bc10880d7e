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
