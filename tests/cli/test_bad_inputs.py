"""150+ bad inputs and faults across run, compare, study, render, info and gradcheck.

Each is called in-process through the typer app and must give exactly one stderr line
(empty lines ignored), its exit code, no traceback, leave every file written before it
unchanged (the fixture directory is hashed before and after) and leave nothing half-made
(no ``--out`` directory, no ``run.h5.tmp``). All fail at validation time, before training.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from insr.cli import app
from insr.config import load_config
from insr.run import execute

TINY = [
    "case.steps=2",
    "eval.resolution=17",
    "solver.max_iters=5",
    "solver.init.max_iters=5",
    "solver.check_every=5",
    "solver.samples=50",
    "run.threads=1",
    "run.device=cpu",
    "solver.substeps=1",
    "run.on_poor_fit=continue",
]
HUGE = str(10**30)
LONG = "x" * 300


def _edit(src: Path, dst: Path, fn) -> None:
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        fn(f)


def _replace(name: str, make):
    def fn(f):
        del f[name]
        make(f, name)

    return fn


def _set_attr(key: str, value):
    return lambda f: f.attrs.__setitem__(key, value)


def _ckpt_meta(meta) -> callable:
    def fn(f):
        for slot in ("checkpoint", "checkpoint_new", "checkpoint_a", "checkpoint_b"):
            if slot in f:
                f[slot].attrs["meta"] = json.dumps(meta)

    return fn


@pytest.fixture(scope="module")
def fx(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("bad")
    ref = d / "done"
    res = execute(load_config("advection1d", [], TINY), ref)
    assert res.completed_steps == 3
    src = ref / "run.h5"
    (d / "bad.toml").write_text("[solver\nlr = 1")
    (d / "binary.toml").write_bytes(b"\xff\xfe\x00\x01")
    (d / "empty.toml").write_text("")
    (d / "scalar.toml").write_text("solver = 3\n")
    (d / "unknown_section.toml").write_text("[solvr]\nlr = 1e-3\n")
    (d / "steps_str.toml").write_text('[solver]\nlr = "fast"\n')
    (d / "nocase.toml").write_text("[solver]\nlr = 1e-3\n")
    (d / "text.h5").write_text("hello, not HDF5\n")
    (d / "empty.h5").write_bytes(b"")
    with h5py.File(d / "foreign.h5", "w") as f:
        f["x"] = np.arange(3)
    data = src.read_bytes()
    (d / "truncated.h5").write_bytes(data[: len(data) // 2])
    (d / "head.h5").write_bytes(data[:512])
    base = (
        Path(__file__).resolve().parents[2] / "insr" / "data" / "cases" / "advection1d.toml"
    ).read_text()

    def case_file(name: str, replace: str, by: str) -> None:
        assert replace in base
        (d / name).write_text(base.replace(replace, by))

    case_file("pde.toml", 'pde = "advection"', 'pde = "navier"')
    case_file("nopde.toml", 'pde = "advection"\n', "")
    case_file("wall.toml", 'boundary = "dirichlet"', 'boundary = "wall"')
    case_file("family.toml", 'family = "gaussian"', 'family = "gausian"')
    case_file("sigma0.toml", "sigma = 0.1", "sigma = 0.0")
    case_file("mu3.toml", "mu = [-1.5]", "mu = [-1.5, 0.0, 1.0]")
    case_file("velocity.toml", 'kind = "constant"', 'kind = "swirl"')
    case_file("name_slash.toml", 'name = "advection1d"', 'name = "../escape"')
    cal = 'initial = { family = "callable", target = "%s" }'
    gauss = 'initial = { family = "gaussian", mu = [-1.5], sigma = 0.1, amplitude = 1.0 }'
    for nm, target in [
        ("cal_nomod", "no_such_module_xyz:f"),
        ("cal_nofn", "math:no_such_function"),
        ("cal_nocolon", "math.sin"),
        ("cal_notfn", "math:pi"),
        ("cal_none", "insr_bad_callables:returns_none"),
        ("cal_args", "insr_bad_callables:two_args"),
        ("cal_shape", "insr_bad_callables:wrong_rows"),
        ("cal_nan", "insr_bad_callables:nan"),
        ("cal_raises", "insr_bad_callables:raises"),
        ("cal_list", "insr_bad_callables:a_list"),
        ("cal_channels", "insr_bad_callables:three_channels"),
    ]:
        case_file(f"{nm}.toml", gauss, cal % target)
    (d / "casedir").mkdir()
    # damaged logs
    for name, fn in [
        ("future.h5", _set_attr("schema", 99)),
        ("schema_text.h5", _set_attr("schema", "one")),
        ("no_schema.h5", lambda f: f.attrs.__delitem__("schema")),
        ("rows.h5", _set_attr("completed_steps", 50)),
        ("rows_neg.h5", _set_attr("completed_steps", -2)),
        ("rows_text.h5", _set_attr("completed_steps", "three")),
        ("json.h5", _set_attr("config", "{not json")),
        ("cfg_null.h5", _set_attr("config", "null")),
        ("cfg_list.h5", _set_attr("config", "[1, 2]")),
        ("cfg_unknown.h5", _set_attr("config", json.dumps({"case": {"pde": "advection"}}))),
        ("no_status.h5", lambda f: f.attrs.__delitem__("status")),
        ("no_config.h5", lambda f: f.attrs.__delitem__("config")),
        ("field_shape.h5", _replace("field", lambda f, n: f.create_dataset(n, data=np.zeros(3)))),
        (
            "field_dtype.h5",
            _replace("field", lambda f, n: f.create_dataset(n, data=np.array([b"a"] * 3))),
        ),
        ("field_group.h5", _replace("field", lambda f, n: f.create_group(n))),
        ("step_group.h5", _replace("step", lambda f, n: f.create_group(n))),
        ("grid_missing.h5", lambda f: f.__delitem__("grid")),
        ("metric_group.h5", _replace("metrics/loss", lambda f, n: f.create_group(n))),
        ("ckpt_empty_meta.h5", _ckpt_meta({})),
        ("ckpt_neg.h5", _ckpt_meta({"step": -4, "t": -0.2})),
        ("ckpt_far.h5", _ckpt_meta({"step": 99, "t": 4.95})),
        ("ckpt_text.h5", _ckpt_meta({"step": "two", "t": 0.1})),
        ("zero_rows.h5", _set_attr("completed_steps", 0)),
    ]:
        _edit(src, d / name, fn)
    # run directories holding a damaged log (for --resume / render on a directory)
    for name in (
        "ckpt_empty_meta",
        "ckpt_neg",
        "ckpt_far",
        "ckpt_text",
        "cfg_null",
        "cfg_list",
        "zero_rows",
    ):
        (d / f"run_{name}").mkdir()
        shutil.copy(d / f"{name}.h5", d / f"run_{name}" / "run.h5")
    (d / "tmponly").mkdir()
    (d / "tmponly" / "run.h5.tmp").write_bytes(data[:100])
    (d / "dirlog" / "run.h5").mkdir(parents=True)
    (d / "emptydir").mkdir()
    (d / "afile").write_text("x")
    (d / "busy").mkdir()
    (d / "busy" / "notes.txt").write_text("x")
    (d / "members_bad.toml").write_text("[[member\n")
    (d / "members_empty.toml").write_text("")
    (d / "members_dup.toml").write_text(
        '[[member]]\nname = "a"\n[representation]\n[[member]]\nname = "a"\n'
    )
    (d / "study_bad.toml").write_text("[study\n")
    (d / "study_empty.toml").write_text("")
    (d / "notcompare").mkdir()
    (d / "notcompare" / "x.txt").write_text("x")
    return {"tmp": str(d), "ref": str(ref)}


@pytest.fixture(scope="module")
def bad_callables(fx, tmp_path_factory):
    d = tmp_path_factory.mktemp("mods")
    (d / "insr_bad_callables.py").write_text(
        "import torch\n"
        "def returns_none(x):\n    return None\n"
        "def two_args(x, y):\n    return x[:, 0]\n"
        "def wrong_rows(x):\n    return torch.zeros(3)\n"
        "def nan(x):\n    return x[:, 0] * float('nan')\n"
        "def raises(x):\n    raise ValueError('boom')\n"
        "def a_list(x):\n    return [1.0, 2.0]\n"
        "def three_channels(x):\n    return torch.zeros(x.shape[0], 3)\n"
    )
    import sys

    sys.path.insert(0, str(d))
    yield
    sys.path.remove(str(d))


def _hash(d: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(d.rglob("*")):
        if f.is_file():
            h.update(str(f.relative_to(d)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()


TA = [a for s in TINY for a in ("-s", s)]
R = ["run", "advection1d", "-q"]
RT = [*R, *TA]
C = ["compare", "representations", "--case", "advection1d", "-q", "--reprs", "siren", *TA]
C += ["--steps", "1"]
G = ["gradcheck"]
S = lambda kv: [*RT, "-s", kv]  # noqa: E731
SIREN = "representation.siren."
HASH = "representation.hashgrid."


# (id, args, exit code, needle in the one line)
BAD: list[tuple[str, list[str], int, str]] = [
    # ---------------------------------------------------------------- run: --set syntax
    ("set-empty", S(""), 2, "section.key=value"),
    ("set-only-equals", S("="), 2, "section.key=value"),
    ("set-empty-key", S("solver.=1"), 2, ""),
    ("set-leading-dot", S(".lr=1"), 2, ""),
    ("set-empty-value", S("case.steps="), 2, "case.steps"),
    ("set-inline-table", S("solver.lr={a=1}"), 2, "solver.lr"),
    ("set-list-for-number", S("solver.lr=[1,2]"), 2, "solver.lr"),
    ("set-string-number", S('solver.lr="1e-3"'), 2, "solver.lr"),
    ("set-name-nul", S("run.name='a\\u0000b'"), 2, "run.name"),
    ("set-unknown-deep", S("solver.init.lrr=1"), 2, "lr"),
    ("set-unknown-extra", S("extra.foo=1"), 2, "extra"),
    ("set-unknown-reference", S("case.reference.foo=1"), 2, "case.reference"),
    ("set-section-as-value", S("solver=3"), 2, "solver"),
    ("set-table-into-value", S("solver.lr.x=1"), 2, "solver.lr"),
    # ------------------------------------------------- run: types and ranges of values
    ("lr-negative", S("solver.lr=-1"), 2, "solver.lr = -1"),
    ("lr-zero", S("solver.lr=0"), 2, "solver.lr = 0"),
    ("lr-inf", S("solver.lr=inf"), 2, "finite"),
    ("lr-bool", S("solver.lr=true"), 2, "solver.lr"),
    ("lbfgs-lr-negative", S("solver.lbfgs_lr=-1"), 2, "solver.lbfgs_lr"),
    ("max-iters-zero", S("solver.max_iters=0"), 2, "solver.max_iters = 0"),
    ("max-iters-negative", S("solver.max_iters=-5"), 2, "solver.max_iters = -5"),
    ("max-iters-huge", S(f"solver.max_iters={HUGE}"), 2, "solver.max_iters"),
    ("init-max-iters-huge", S(f"solver.init.max_iters={HUGE}"), 2, "solver.init.max_iters"),
    ("samples-negative", S("solver.samples=-1"), 2, "solver.samples = -1"),
    ("samples-memory", S("solver.samples=1000000000"), 2, "memory"),
    ("samples-2-70", S(f"solver.samples={2**70}"), 2, "solver.samples"),
    ("check-every-zero", S("solver.check_every=0"), 2, "solver.check_every"),
    ("optimizer-unknown", S("solver.optimizer=sgd"), 2, "'sgd'"),
    ("init-optimizer-unknown", S("solver.init.optimizer=sgd"), 2, "'sgd'"),
    ("substeps-zero", S("solver.substeps=0"), 2, "solver.substeps"),
    ("seed-2-70", S(f"run.seed={2**70}"), 2, "run.seed"),
    ("seed-negative", S("run.seed=-1"), 2, "run.seed"),
    ("seed-float", S("run.seed=1.5"), 2, "run.seed"),
    ("threads-huge", S("run.threads=1000000000000"), 2, "run.threads"),
    ("threads-text", S("run.threads=many"), 2, "run.threads"),
    ("dtype-int", S("run.dtype=1"), 2, "run.dtype"),
    ("on-poor-fit-unknown", S("run.on_poor_fit=maybe"), 2, "run.on_poor_fit"),
    ("steps-huge-set", S(f"case.steps={HUGE}"), 2, "case.steps"),
    ("steps-float", S("case.steps=1.5"), 2, "case.steps"),
    ("steps-huge-cli", [*RT, "--steps", HUGE], 2, "below 2**63"),
    ("steps-2-63", [*RT, "--steps", str(2**63)], 2, "case.steps"),
    ("dt-underflow", S("case.dt=1e-400"), 2, "case.dt"),
    ("dt-text", S("case.dt=fast"), 2, "case.dt"),
    ("dt-nan", S("case.dt=nan"), 2, "case.dt"),
    ("resolution-zero", S("eval.resolution=0"), 2, "eval.resolution = 0"),
    ("resolution-negative", S("eval.resolution=-1"), 2, "eval.resolution = -1"),
    ("resolution-2-70", S(f"eval.resolution={2**70}"), 2, "eval.resolution"),
    ("every-negative", S("eval.every=-1"), 2, "eval.every"),
    ("every-huge", S(f"eval.every={HUGE}"), 2, "eval.every"),
    ("h-zero", S("derivative.h=0"), 2, "derivative.h"),
    ("h-inf", S("derivative.h=inf"), 2, "derivative.h"),
    ("h-nan", S("derivative.h=nan"), 2, "derivative.h"),
    ("log-number", S("derivative.log=[1]"), 2, "derivative.log"),
    ("log-duplicate-unknown", S('derivative.log=["autodiff","fdx"]'), 2, "'fdx'"),
    ("loss-empty", S("derivative.loss=''"), 2, "unknown derivative strategy ''"),
    ("kind-empty", S("representation.kind=''"), 2, "unknown representation ''"),
    ("kind-number", S("representation.kind=42"), 2, "unknown representation '42'"),
    ("kind-unknown", S("representation.kind=transformer"), 2, "'transformer'"),
    # -------------------------------------------------- representations: sizes and memory
    ("siren-features-memory", S(f"{SIREN}hidden_features=1000000"), 2, "memory"),
    ("siren-features-zero", S(f"{SIREN}hidden_features=0"), 2, "hidden_features"),
    ("siren-layers-many", S(f"{SIREN}hidden_layers=1000000"), 2, "at most 1000"),
    ("siren-layers-huge", S(f"{SIREN}hidden_layers={HUGE}"), 2, "hidden_layers"),
    ("siren-omega-nan", S(f"{SIREN}omega0=nan"), 2, "omega0"),
    ("siren-omega-inf", S(f"{SIREN}omega0=inf"), 2, "omega0"),
    ("siren-omega-text", S(f"{SIREN}omega0=high"), 2, "omega0"),
    ("siren-unknown-key", S(f"{SIREN}width=3"), 2, "width"),
    (
        "gauss-sigma-zero",
        [*S("representation.kind=gauss"), "-s", "representation.gauss.sigma=0"],
        2,
        "sigma",
    ),
    (
        "mlp-activation",
        [*S("representation.kind=mlp"), "-s", "representation.mlp.activation=relu9"],
        2,
        "relu9",
    ),
    (
        "hash-table-memory",
        [*S("representation.kind=hashgrid"), "-s", f"{HASH}log2_hashmap_size=60"],
        2,
        "log2_hashmap_size",
    ),
    (
        "hash-levels-zero",
        [*S("representation.kind=hashgrid"), "-s", f"{HASH}n_levels=0"],
        2,
        "n_levels",
    ),
    (
        "hash-scale-nan",
        [*S("representation.kind=hashgrid"), "-s", f"{HASH}per_level_scale=nan"],
        2,
        "per_level_scale",
    ),
    (
        "hash-interp",
        [*S("representation.kind=hashgrid"), "-s", f"{HASH}interpolation=cubic"],
        2,
        "cubic",
    ),
    (
        "hash-backend",
        [*S("representation.kind=hashgrid"), "-s", f"{HASH}backend=opencl"],
        2,
        "opencl",
    ),
    (
        "densegrid-memory",
        [
            *S("representation.kind=densegrid"),
            "-s",
            "representation.densegrid.resolutions=[1000000000]",
        ],
        2,
        "GiB",
    ),
    # ---------------------------------------------------------- case values
    ("mu-nan", S("case.initial.mu=[nan]"), 2, "mu"),
    ("sigma-negative", S("case.initial.sigma=-0.1"), 2, "sigma"),
    ("amplitude-inf", S("case.initial.amplitude=inf"), 2, "amplitude"),
    ("channels-zero", S("case.initial.channels=0"), 2, "channels"),
    ("channels-text", S("case.initial.channels='two'"), 2, "channels"),
    ("domain-huge", S("case.domain=[[-1e308, 1e308]]"), 2, "case.domain"),
    ("domain-nan", S("case.domain=[[nan, 1.0]]"), 2, "case.domain"),
    ("domain-text", S("case.domain='x'"), 2, "case.domain"),
    ("domain-3-bounds", S("case.domain=[[0.0, 1.0, 2.0]]"), 2, "case.domain"),
    ("domain-4d", S("case.domain=[[0,1],[0,1],[0,1],[0,1]]"), 2, "case.domain"),
    (
        "domain-2d-for-1d-case",
        [*S("case.domain=[[0,1],[0,1]]"), "-s", "solver.min_iters=1"],
        2,
        "case.initial.mu",
    ),
    ("boundary-wall", S("case.boundary=wall"), 2, "case.boundary"),
    ("boundary-unknown", S("case.boundary=sticky"), 2, "'sticky'"),
    ("boundary-value-nan", S("case.boundary_value=nan"), 2, "boundary_value"),
    ("velocity-kind", S("case.velocity.kind=swirl"), 2, "swirl"),
    ("velocity-nan", S("case.velocity.value=[nan]"), 2, "velocity"),
    ("family-unknown", S("case.initial.family=box"), 2, "'box'"),
    ("pde-unknown", S("case.pde=navier"), 2, "navier"),
    # ---------------------------------------------------------- names and paths
    ("name-slash", [*RT, "--name", "a/b"], 2, "run.name"),
    ("name-dotdot", [*RT, "--name", ".."], 2, "run.name"),
    ("name-dot", [*RT, "--name", "."], 2, "run.name"),
    ("name-long", [*RT, "--name", LONG], 2, "run.name"),
    ("name-nul", [*RT, "--name", "a\x00b"], 2, "run.name"),
    ("run-name-set-slash", S("run.name='../../x'"), 2, "run.name"),
    ("case-name-set-slash", S("case.name='../x'"), 2, "case.name"),
    ("case-name-backslash", S("case.name='a\\\\b'"), 2, "case.name"),
    ("out-component-long", [*RT, "--out", "{tmp}/" + LONG], 2, "too long"),
    ("out-path-long", [*RT, "--out", "{tmp}/" + "/".join(["d" * 200] * 25)], 2, "too long"),
    ("out-no-space", [*RT, "--out", "/proc/insr-no/run"], 2, "free on /proc"),
    ("out-under-file", [*RT, "--out", "{tmp}/afile/run"], 2, "cannot write"),
    ("out-is-file", [*RT, "--out", "{tmp}/afile"], 2, "is a file"),
    ("out-exists", [*RT, "--out", "{tmp}/busy"], 2, "--overwrite"),
    ("out-exists-run", [*RT, "--out", "{ref}"], 2, "--overwrite"),
    ("out-nul", [*RT, "--out", "{tmp}/a\x00b"], 2, "--out"),
    # ---------------------------------------------------------- without -q: no progress line
    ("display-memory", ["run", "advection1d", *TA, "-s", "solver.samples=1000000000"], 2, "memory"),
    ("display-callable", ["run", "{tmp}/cal_none.toml", *TA], 2, "returned"),
    (
        "display-resume-kind",
        ["run", "--resume", "{ref}", "-s", "representation.kind=mlp"],
        2,
        "cannot change",
    ),
    # ---------------------------------------------------------- config files
    ("config-dev-zero", [*RT, "-c", "/dev/zero"], 2, "/dev/zero"),
    ("config-dev-null-dir", [*RT, "-c", "/dev"], 2, "directory"),
    ("config-scalar-section", [*RT, "-c", "{tmp}/scalar.toml"], 2, "top level"),
    ("config-unknown-section", [*RT, "-c", "{tmp}/unknown_section.toml"], 2, "solvr"),
    ("config-lr-string", [*RT, "-c", "{tmp}/steps_str.toml"], 2, "solver.lr"),
    ("config-bad-toml", [*RT, "-c", "{tmp}/bad.toml"], 2, "TOML"),
    ("config-binary", [*RT, "-c", "{tmp}/binary.toml"], 2, "TOML"),
    ("config-missing", [*RT, "-c", "{tmp}/nope.toml"], 2, "not found"),
    ("config-long-name", [*RT, "-c", "{tmp}/" + LONG + ".toml"], 2, "too long"),
    # ---------------------------------------------------------- case files
    ("case-empty", ["run", "", "-q"], 2, "the case is empty"),
    ("case-dotdot", ["run", "..", "-q"], 2, ""),
    ("case-dir", ["run", "{tmp}/casedir", "-q"], 2, "casedir"),
    ("case-binary", ["run", "{tmp}/binary.toml", "-q", *TA], 2, "TOML"),
    ("case-empty-file", ["run", "{tmp}/empty.toml", "-q", *TA], 2, "[case]"),
    ("case-nocase", ["run", "{tmp}/nocase.toml", "-q", *TA], 2, "[case]"),
    ("case-pde-unknown", ["run", "{tmp}/pde.toml", "-q", *TA], 2, "navier"),
    ("case-pde-missing", ["run", "{tmp}/nopde.toml", "-q", *TA], 2, "pde"),
    ("case-wall", ["run", "{tmp}/wall.toml", "-q", *TA], 2, "wall"),
    ("case-family", ["run", "{tmp}/family.toml", "-q", *TA], 2, "gausian"),
    ("case-sigma-zero", ["run", "{tmp}/sigma0.toml", "-q", *TA], 2, "sigma"),
    ("case-mu-dim", ["run", "{tmp}/mu3.toml", "-q", *TA], 2, "mu"),
    ("case-velocity", ["run", "{tmp}/velocity.toml", "-q", *TA], 2, "swirl"),
    ("case-name-escape", ["run", "{tmp}/name_slash.toml", "-q", *TA], 2, "case.name"),
    ("case-long-path", ["run", "{tmp}/" + LONG + ".toml", "-q"], 2, "too long"),
    # ---------------------------------------------------------- callable targets
    ("callable-no-module", ["run", "{tmp}/cal_nomod.toml", "-q", *TA], 2, "no_such_module_xyz"),
    ("callable-no-function", ["run", "{tmp}/cal_nofn.toml", "-q", *TA], 2, "no_such_function"),
    ("callable-no-colon", ["run", "{tmp}/cal_nocolon.toml", "-q", *TA], 2, "module:function"),
    ("callable-not-callable", ["run", "{tmp}/cal_notfn.toml", "-q", *TA], 2, "'pi'"),
    ("callable-returns-none", ["run", "{tmp}/cal_none.toml", "-q", *TA], 2, "returned"),
    ("callable-two-args", ["run", "{tmp}/cal_args.toml", "-q", *TA], 2, "two_args"),
    ("callable-wrong-rows", ["run", "{tmp}/cal_shape.toml", "-q", *TA], 2, "shape"),
    ("callable-raises", ["run", "{tmp}/cal_raises.toml", "-q", *TA], 2, "boom"),
    ("callable-list", ["run", "{tmp}/cal_list.toml", "-q", *TA], 2, "returned"),
    ("callable-channels", ["run", "{tmp}/cal_channels.toml", "-q", *TA], 2, "channels"),
    # ---------------------------------------------------------- resume
    ("resume-neg-ckpt", ["run", "--resume", "{tmp}/run_ckpt_neg", "-q"], 2, "checkpoint"),
    ("resume-far-ckpt", ["run", "--resume", "{tmp}/run_ckpt_far", "-q"], 2, "checkpoint"),
    ("resume-empty-meta", ["run", "--resume", "{tmp}/run_ckpt_empty_meta", "-q"], 2, "checkpoint"),
    ("resume-text-ckpt", ["run", "--resume", "{tmp}/run_ckpt_text", "-q"], 2, "checkpoint"),
    ("resume-cfg-null", ["run", "--resume", "{tmp}/run_cfg_null", "-q"], 2, "config"),
    ("resume-cfg-list", ["run", "--resume", "{tmp}/run_cfg_list", "-q"], 2, "config"),
    ("resume-tmp-only", ["run", "--resume", "{tmp}/tmponly", "-q"], 2, "run.h5"),
    ("resume-log-is-dir", ["run", "--resume", "{tmp}/dirlog", "-q"], 2, "run.h5"),
    ("resume-text", ["run", "--resume", "{tmp}/text.h5", "-q"], 2, "HDF5"),
    ("resume-foreign", ["run", "--resume", "{tmp}/foreign.h5", "-q"], 2, "insr run log"),
    ("resume-future", ["run", "--resume", "{tmp}/future.h5", "-q"], 2, "schema 99"),
    ("resume-config", ["run", "--resume", "{ref}", "-c", "{tmp}/empty.toml"], 2, "--config"),
    ("resume-name", ["run", "--resume", "{ref}", "--name", "x"], 2, "--name"),
    ("resume-dt", ["run", "--resume", "{ref}", "-s", "case.dt=0.1", "--steps", "5"], 2, "case.dt"),
    (
        "resume-kind",
        ["run", "--resume", "{ref}", "-s", "representation.kind=gauss"],
        2,
        "representation.kind",
    ),
    ("resume-steps-below", ["run", "--resume", "{ref}", "--steps", "1"], 2, ""),
    ("resume-steps-zero", ["run", "--resume", "{ref}", "--steps", "0"], 2, "case.steps"),
    ("resume-steps-huge", ["run", "--resume", "{ref}", "--steps", HUGE], 2, "below 2**63"),
    ("resume-bad-set", ["run", "--resume", "{ref}", "-s", "solver.lr=-1"], 2, "solver.lr"),
    (
        "resume-init-after-0",
        ["run", "--resume", "{ref}", "--steps", "4", "-s", "solver.init.max_iters=9"],
        2,
        "step-0",
    ),
    # ---------------------------------------------------------- info
    ("info-dev-null", ["info", "/dev/null"], 2, "/dev/null"),
    ("info-long-component", ["info", "{tmp}/" + LONG], 2, "too long"),
    ("info-long-path", ["info", "{tmp}/" + "/".join(["d" * 200] * 25)], 2, "too long"),
    ("info-emptydir", ["info", "{tmp}/emptydir"], 2, "run.h5"),
    ("info-head", ["info", "{tmp}/head.h5"], 2, "HDF5"),
    ("info-schema-text", ["info", "{tmp}/schema_text.h5"], 2, "schema"),
    ("info-no-schema", ["info", "{tmp}/no_schema.h5"], 2, "schema"),
    ("info-rows-negative", ["info", "{tmp}/rows_neg.h5"], 2, "completed_steps"),
    ("info-rows-text", ["info", "{tmp}/rows_text.h5"], 2, "completed_steps"),
    ("info-cfg-null", ["info", "{tmp}/cfg_null.h5"], 2, "config"),
    ("info-cfg-list", ["info", "{tmp}/cfg_list.h5"], 2, "config"),
    ("info-no-status", ["info", "{tmp}/no_status.h5"], 2, "status"),
    ("info-no-config", ["info", "{tmp}/no_config.h5"], 2, "config"),
    ("info-field-shape", ["info", "{tmp}/field_shape.h5"], 2, "field"),
    ("info-field-dtype", ["info", "{tmp}/field_dtype.h5"], 2, "field"),
    ("info-field-group", ["info", "{tmp}/field_group.h5"], 2, "field"),
    ("info-step-group", ["info", "{tmp}/step_group.h5"], 2, "/step is a group"),
    ("info-grid-missing", ["info", "{tmp}/grid_missing.h5"], 2, "grid"),
    ("info-metric-group", ["info", "{tmp}/metric_group.h5"], 2, "metrics/loss"),
    # ---------------------------------------------------------- render
    ("render-missing", ["render", "{tmp}/nope"], 2, "nope"),
    ("render-text", ["render", "{tmp}/text.h5"], 2, "HDF5"),
    ("render-truncated", ["render", "{tmp}/truncated.h5"], 2, "HDF5"),
    ("render-foreign", ["render", "{tmp}/foreign.h5"], 2, "insr run log"),
    ("render-no-steps", ["render", "{tmp}/run_zero_rows"], 2, "no completed"),
    ("render-field-shape", ["render", "{tmp}/field_shape.h5"], 2, "field"),
    ("render-field-group", ["render", "{tmp}/field_group.h5"], 2, "field"),
    ("render-grid-missing", ["render", "{tmp}/grid_missing.h5"], 2, "grid"),
    ("render-cfg-null", ["render", "{tmp}/cfg_null.h5"], 2, "config"),
    ("render-fps-zero", ["render", "{ref}", "--fps", "0"], 2, "--fps"),
    ("render-fps-negative", ["render", "{ref}", "--fps", "-1"], 2, "--fps"),
    ("render-fps-nan", ["render", "{ref}", "--fps", "nan"], 2, "--fps"),
    ("render-fps-huge", ["render", "{ref}", "--fps", "1e9"], 2, "--fps"),
    ("render-dpi-zero", ["render", "{ref}", "--dpi", "0"], 2, "--dpi"),
    ("render-dpi-huge", ["render", "{ref}", "--dpi", "1000000"], 2, "--dpi"),
    ("render-frame-missing", ["render", "{ref}", "--frame", "77"], 2, "77"),
    ("render-frame-negative", ["render", "{ref}", "--frame", "-1"], 2, "--frame"),
    ("render-steps-text", ["render", "{ref}", "--steps", "a-b"], 2, "expected a:b:k"),
    ("render-steps-none", ["render", "{ref}", "--steps", "50-60"], 2, "--steps"),
    ("render-strategy", ["render", "{ref}", "--strategy", "magic"], 2, "magic"),
    ("render-out-dir", ["render", "{ref}", "--out", "{tmp}/emptydir"], 2, "emptydir"),
    ("render-out-ext", ["render", "{ref}", "--out", "{tmp}/x.avi"], 2, ".avi"),
    (
        "render-out-unwritable",
        ["render", "{ref}", "--out", "/proc/insr-no/x.gif"],
        2,
        "cannot write",
    ),
    ("render-out-long", ["render", "{ref}", "--out", "{tmp}/" + LONG + ".gif"], 2, "too long"),
    ("render-emptydir", ["render", "{tmp}/emptydir"], 2, "emptydir"),
    # ---------------------------------------------------------- gradcheck
    ("gradcheck-points-memory", [*G, "--points", "1000000000000"], 2, "--points"),
    ("gradcheck-points-zero", [*G, "--points", "0"], 2, "--points"),
    ("gradcheck-points-negative", [*G, "--points", "-1"], 2, "--points"),
    ("gradcheck-points-huge", [*G, "--points", HUGE], 2, "--points"),
    ("gradcheck-repr", [*G, "--repr", "sirne"], 2, "siren"),
    ("gradcheck-dim", [*G, "--dim", "4"], 2, "--dim"),
    ("gradcheck-dim-negative", [*G, "--dim", "-1"], 2, "--dim"),
    ("gradcheck-eps-zero", [*G, "--eps", "0"], 2, "--eps"),
    ("gradcheck-eps-nan", [*G, "--eps", "nan"], 2, "--eps"),
    ("gradcheck-eps-inf", [*G, "--eps", "inf"], 2, "--eps"),
    ("gradcheck-seed-huge", [*G, "--seed", str(2**70)], 2, "--seed"),
    ("gradcheck-seed-negative", [*G, "--seed", "-1"], 2, "--seed"),
    # ---------------------------------------------------------- compare
    (
        "compare-case",
        ["compare", "representations", "--case", "advection1e", "-q"],
        2,
        "advection1d",
    ),
    ("compare-kind", ["compare", "repr"], 2, "repr"),
    ("compare-reprs", [*C, "--reprs", "sirne"], 2, "sirne"),
    ("compare-workers-zero", [*C, "--workers", "0"], 2, "--workers"),
    ("compare-workers-huge", [*C, "--workers", "1000000"], 2, "--workers"),
    ("compare-cpus-zero", [*C, "--cpus-per-member", "0"], 2, "--cpus-per-member"),
    ("compare-cpus-huge", [*C, "--cpus-per-member", "100000"], 2, "--cpus-per-member"),
    ("compare-steps-negative", [*C[:-1], "-1"], 2, "--steps"),
    ("compare-steps-huge", [*C[:-1], HUGE], 2, "below 2**63"),
    ("compare-seeds-text", [*C, "--seeds", "a"], 2, "--seeds"),
    ("compare-seeds-reversed", [*C, "--seeds", "3-1"], 2, "--seeds"),
    ("compare-seeds-huge", [*C, "--seeds", f"0..{HUGE}"], 2, "--seeds"),
    ("compare-set-unknown", [*C, "-s", "solver.lrr=1"], 2, "lr"),
    ("compare-set-value", [*C, "-s", "solver.lr=-1"], 2, "solver.lr"),
    ("compare-set-name", [*C, "-s", "run.name='../x'"], 2, "run.name"),
    ("compare-out-file", [*C, "--out", "{tmp}/afile"], 2, "afile"),
    ("compare-out-long", [*C, "--out", "{tmp}/" + LONG], 2, "too long"),
    ("compare-resume-missing", [*C, "--resume", "--out", "{tmp}/nope"], 2, "nope"),
    ("compare-resume-not-sweep", [*C, "--resume", "--out", "{tmp}/notcompare"], 2, "notcompare"),
    ("compare-sweep-syntax", [*C, "--sweep", "solver.lr"], 2, "--sweep"),
    ("compare-sweep-empty", [*C, "--sweep", "solver.lr="], 2, "--sweep"),
    ("compare-executor", [*C, "--executor", "slurm"], 2, "slurm"),
    ("compare-config-missing", [*C, "-c", "{tmp}/nope.toml"], 2, "not found"),
    ("compare-config-bad", [*C, "-c", "{tmp}/bad.toml"], 2, "TOML"),
    ("compare-strategies-case", ["compare", "gradients", "--case", "nope", "-q"], 2, "nope"),
    # ---------------------------------------------------------- study
    ("study-unknown", ["study", "nope"], 2, "nope"),
    ("study-bad-toml", ["study", "{tmp}/study_bad.toml"], 2, "TOML"),
    ("study-empty", ["study", "{tmp}/study_empty.toml"], 2, ""),
    ("study-workers-zero", ["study", "noisy-gradients", "--workers", "0"], 2, "--workers"),
    (
        "study-out-file",
        ["study", "noisy-gradients", "--out", "{tmp}/afile", "--quick"],
        2,
        "afile",
    ),
]


@pytest.mark.parametrize(("args", "code", "needle"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input(fx, bad_callables, tmp_path, args, code, needle):
    args = [a.replace("{tmp}", fx["tmp"]).replace("{ref}", fx["ref"]) for a in args]
    if args[0] in ("run", "compare") and "--out" not in args and "--resume" not in args:
        args += ["--out", str(tmp_path / "o")]
    before = _hash(Path(fx["tmp"]))
    r = CliRunner().invoke(app, args)
    text = r.stderr + r.stdout
    assert "Traceback" not in text
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    table = os.environ.get("INSR_BAD_INPUT_TABLE")  # write the note's table (id, code, line)
    if table:
        name = os.environ.get("PYTEST_CURRENT_TEST", "").split("[")[-1].split("]")[0]
        line = " / ".join(lines).replace(fx["tmp"], "T").replace("|", "\\|")
        with open(table, "a") as f:
            f.write(f"| {name} | {r.exit_code} | {line} |\n")
    assert len(lines) == 1, text
    assert lines[0].startswith("error: "), text
    assert needle in lines[0], text
    assert r.exit_code == code, text
    assert _hash(Path(fx["tmp"])) == before, "a file written before changed"
    assert not (tmp_path / "o").exists()
    assert not list(Path(fx["tmp"]).rglob("*.h5.tmp")) or (Path(fx["tmp"]) / "tmponly").exists()


def test_the_table_is_large_and_distinct():
    assert len(BAD) >= 150
    assert len({b[0] for b in BAD}) == len(BAD)
    assert len({tuple(b[1]) for b in BAD}) == len(BAD)
