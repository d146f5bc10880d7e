"""``run.compile``: what "auto" decides (insr/run/compiling.py) and that a compiled run
gives the eager run's numbers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from insr.config import load_config
from insr.fields.mlp import _compiled_objective as compiled_objective
from insr.log import RunLogReader
from insr.run import compiling, execute
from insr.schema import ConfigError

CPU = torch.device("cpu")
ROOT = Path(__file__).resolve().parents[2]


def decide(*sets: str, device: torch.device = CPU) -> tuple[bool, str]:
    return compiling.compile_decision(load_config("advection1d", sets=list(sets)), device)


def test_auto_compiles_long_cpu_mlp_runs_only() -> None:
    has_cxx = compiling.cpp_compiler() is not None
    assert decide()[0] is has_cxx  # advection1d: 240 steps, SIREN
    assert decide("representation.kind=gauss")[0] is has_cxx
    on, why = decide(f"case.steps={compiling.AUTO_MIN_STEPS - 1}")
    assert not on and f"< {compiling.AUTO_MIN_STEPS}" in why
    on, why = decide("representation.kind=hashgrid")
    assert not on and "hashgrid" in why
    on, why = decide(device=torch.device("cuda"))
    assert not on and "CPU only" in why
    on, why = decide("derivative.gradient_supervision=0.01")
    assert not on and "double backward" in why
    on, why = decide("derivative.loss=autodiff")
    assert not on and "derivative.loss = autodiff" in why and "double backward" in why
    assert decide("derivative.loss=fd")[0] is has_cxx  # fd differentiates nothing twice


def test_compile_true_with_gradient_supervision_is_one_clear_line(tmp_path: Path) -> None:
    """A double backward through a compiled sweep fails inside torch; refused up front."""
    with pytest.raises(ConfigError, match="gradient_supervision"):
        decide("run.compile=true", "derivative.gradient_supervision=0.01")
    from typer.testing import CliRunner

    from insr.cli import app

    sets = ["run.compile=true", "derivative.gradient_supervision=0.01", "case.steps=1"]
    res = CliRunner().invoke(
        app,
        ["run", "advection1d", "-q", "--out", str(tmp_path / "r")]
        + [a for s in sets for a in ("--set", s)],
    )
    assert res.exit_code != 0
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "gradient_supervision" in lines[0], res.output
    assert "Traceback" not in res.output


def test_explicit_settings_win_over_auto() -> None:
    assert decide("run.compile=true", "case.steps=2") == (True, "run.compile = true")
    assert decide("run.compile=false") == (False, "run.compile = false")
    # false on a grid field is not a silent knob (it is what auto does there)
    assert not decide("run.compile=false", "representation.kind=hashgrid")[0]
    with pytest.raises(ConfigError, match="run.compile"):
        load_config("advection1d", sets=["run.compile=true", "representation.kind=hashgrid"])


def test_auto_without_a_cpp_compiler_stays_eager() -> None:
    """A real missing compiler: a fresh process whose CXX (inductor reads it at import)
    names no program."""
    code = (
        "import torch; from insr.config import load_config; from insr.run import compiling;"
        "print(compiling.compile_decision(load_config('advection1d'), torch.device('cpu')))"
    )
    env = {**os.environ, "CXX": "/nonexistent/c++", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(False, 'auto: no C++ compiler for torch inductor')"


TINY = ["eval.resolution=41", "solver.samples=64", "solver.max_iters=8"]
TINY += ["solver.init.max_iters=30", "run.on_poor_fit=continue", "run.threads=1", "case.steps=2"]


@pytest.mark.skipif(compiling.cpp_compiler() is None, reason="no C++ compiler for inductor")
def test_an_auto_compiled_run_matches_the_eager_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compiling, "AUTO_MIN_STEPS", 2)  # compile this 2-step run
    errors = {}
    for mode in ("auto", "false"):
        res = execute(
            load_config("advection1d", sets=[*TINY, f"run.compile={mode}"]), tmp_path / mode
        )
        with RunLogReader(res.log_path) as log:
            errors[mode] = np.asarray(log.metrics()["field_max_error"], dtype=float)
            assert log.attrs["compile"].startswith("on: auto" if mode == "auto" else "off: run")
    assert compiled_objective.cache_info().currsize > 0  # the fused pass was compiled
    # the same accuracy: inductor reassociates float32 sums, and an L-BFGS trajectory
    # amplifies round-off (7 % apart at step 1 here), so equal numbers are checked where
    # they are defined -- the loss pass itself (tests/fields/test_second_order_backward.py)
    np.testing.assert_allclose(errors["auto"], errors["false"], rtol=0.25)


@pytest.mark.skipif(compiling.cpp_compiler() is None, reason="no C++ compiler for inductor")
def test_an_autodiff_loss_runs_eager_under_auto(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real run: with derivative.loss = autodiff a compiled sweep would be differentiated
    twice, which torch.compile refuses at the first backward; auto keeps it eager."""
    monkeypatch.setattr(compiling, "AUTO_MIN_STEPS", 2)  # a 2-step run counts as long
    res = execute(load_config("advection1d", sets=[*TINY, "derivative.loss=autodiff"]), tmp_path)
    with RunLogReader(res.log_path) as log:
        assert log.attrs["status"] == "complete"
        assert log.attrs["compile"].startswith("off: auto: derivative.loss = autodiff")
        assert log.n == 3
    with pytest.raises(ConfigError, match="derivative.loss = 'autodiff'"):
        decide("run.compile=true", "derivative.loss=autodiff")


PROBE = (
    "import json, torch; from insr.run import compiling;"
    "from torch._inductor import cpu_vec_isa as c;"
    "reused = compiling.reuse_isa_probe(compiling.cpp_compiler());"
    "print(json.dumps([reused, [str(i) for i in c.valid_vec_isa_list()], str(c.pick_vec_isa())]))"
)


def _probe_process(cache: Path) -> list:
    """A fresh process (inductor probes once per process) with its own inductor cache."""
    import json

    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    env.pop("TORCHINDUCTOR_VEC_ISA_OK", None)
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(compiling.cpp_compiler() is None, reason="no C++ compiler for inductor")
@pytest.mark.skipif(
    sys.platform != "linux" or os.uname().machine != "x86_64", reason="inductor's x86 ISA rule"
)
def test_a_recorded_isa_probe_gives_the_probed_isa_list(tmp_path: Path) -> None:
    """Real processes: the first probes and records, the next reuses the record and sees
    the same ISA list and pick; a record that is not "all", or is unreadable, is probed."""
    import json

    reused, isas, pick = _probe_process(tmp_path)
    assert reused is False and isas  # the first process ran inductor's own probe
    record_file = tmp_path / "insr_vec_isa.json"
    record = json.loads(record_file.read_text())
    assert list(record.values()) == ["all"]  # every candidate passed on this machine
    assert _probe_process(tmp_path) == [True, isas, pick]
    record_file.write_text(json.dumps(dict.fromkeys(record, "some")))
    assert _probe_process(tmp_path) == [False, isas, pick]
    record_file.write_text("{not json")
    assert _probe_process(tmp_path) == [False, isas, pick]
    assert json.loads(record_file.read_text()) == record  # rewritten by the probe
