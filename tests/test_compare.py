"""insr compare (sweeps, summary, failures) and insr render (frames, formats, errors).

The sweep runs tiny 1D advection members (one time step, a few dozen iterations); render
tests use a synthetic log with known arrays, so frame counts and errors are exact.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image, ImageSequence
from typer.testing import CliRunner

from insr import compare as cmp
from insr.cli import app
from insr.log import RunLogWriter
from insr.render import make_figures
from insr.run import driver as runner_mod
from insr.verdict import is_complete

TINY = [
    "solver.max_iters=10",
    "solver.init.max_iters=30",
    "solver.check_every=10",
    "solver.samples=256",
    "eval.resolution=65",
    "case.steps=1",
    "run.on_poor_fit=continue",  # tiny budgets: these tests are not about fit quality
]

cli = CliRunner()


def _gif_frames(path: Path) -> int:
    with Image.open(path) as im:
        assert im.format == "GIF"
        return sum(1 for _ in ImageSequence.Iterator(im))


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    """A sweep with two good members, one invalid override, one crash, one unavailable kind."""
    out = tmp_path_factory.mktemp("cmp") / "sweep"
    members = [
        cmp.Member(
            "bad-override", ["representation.kind=siren", "representation.siren.hidden_layers=0"]
        ),
        cmp.Member("crashes", ["representation.kind=siren"]),
        cmp.Member("w5", ["representation.kind=siren", "representation.siren.omega0=5.0"]),
        cmp.Member("nokind", ["representation.kind=hologram"]),  # never registered
        cmp.Member("w50", ["representation.kind=siren", "representation.siren.omega0=50.0"]),
    ]
    real = runner_mod.execute

    def flaky(cfg, run_dir, **kw):
        if Path(run_dir).name == "crashes":
            raise RuntimeError("simulated crash in member\nsecond line")
        return real(cfg, run_dir, **kw)

    mp = pytest.MonkeyPatch()
    mp.setattr(runner_mod, "execute", flaky)
    try:
        outcomes = cmp.run_sweep(
            kind="representations",
            case="advection1d",
            members=members,
            compare_dir=out,
            sets=TINY,
            workers=1,
        )
    finally:
        mp.undo()
    return out, outcomes


def test_failing_members_are_reported_and_others_complete(sweep):
    out, outcomes = sweep
    by = {o.name: o for o in outcomes}
    assert is_complete(by["w5"].status) and is_complete(by["w50"].status)
    assert by["bad-override"].status == "failed"
    assert "hidden_layers" in by["bad-override"].reason
    assert by["crashes"].status == "failed"
    assert by["crashes"].reason == "simulated crash in member"  # one line
    assert by["nokind"].status == "unavailable" and "hologram" in by["nokind"].reason
    rows = {r["member"]: r for r in cmp.summarize(out)}
    assert [r for r in rows] == ["bad-override", "crashes", "w5", "nokind", "w50"]
    assert rows["crashes"]["status"] == "failed"
    assert not (out / "bad-override" / "run.h5").exists()


def test_summary_equals_numbers_recomputed_from_logs(sweep):
    out, _ = sweep
    rows = {r["member"]: r for r in cmp.summarize(out)}
    for name in ("w5", "w50"):
        r = rows[name]
        with h5py.File(out / name / "run.h5", "r") as f:
            n = int(f.attrs["completed_steps"])
            assert r["rows"] == n == 2
            assert r["n_params"] == int(f.attrs["n_params"])
            m = {k: f["metrics"][k][:n] for k in f["metrics"]}
            steps = f["step"][:n]
            u, ue = f["field"][:n].astype(np.float64), f["exact/field"][:n].astype(np.float64)
            ge = f["exact/gradient"][:n].astype(np.float64)
            grads = {  # leave out the group's netCDF coordinate copies (step, x, ...)
                k: d[:n].astype(np.float64)
                for k, d in f["gradient"].items()
                if "insr_coordinate" not in d.attrs
            }
        assert r["wall_s"] == pytest.approx(float(np.sum(m["wall_seconds"])), rel=1e-12)
        assert r["iters_per_step"] == pytest.approx(float(np.mean(m["iterations"][steps >= 1])))
        assert r["init_iters"] == m["iterations"][0]
        # field errors straight from the arrays (float32 storage -> rel 1e-5)
        maxerr = np.abs(u - ue).reshape(n, -1).max(axis=1)
        rmse = np.sqrt(((u - ue) ** 2).reshape(n, -1).mean(axis=1))
        assert r["field_max_error_last"] == pytest.approx(maxerr[-1], rel=1e-5)
        assert r["field_max_error_worst"] == pytest.approx(maxerr.max(), rel=1e-5)
        assert r["field_rmse_last"] == pytest.approx(rmse[-1], rel=1e-5)
        assert r["field_rmse_worst"] == pytest.approx(rmse.max(), rel=1e-5)
        assert set(grads) == {"autodiff", "fd"}
        for s, g in grads.items():
            rel = [np.linalg.norm(g[i] - ge[i]) / np.linalg.norm(ge[i]) for i in range(n)]
            assert r[f"gradient_rel_error_{s}_last"] == pytest.approx(rel[-1], rel=1e-5)
            assert r[f"gradient_rel_error_{s}_worst"] == pytest.approx(max(rel), rel=1e-5)
            noise = m[f"gradient_noise_{s}"]
            assert r[f"gradient_noise_{s}_last"] == noise[-1]
            assert r[f"gradient_noise_{s}_worst"] == noise.max()


def test_summary_files_round_trip(sweep):
    out, _ = sweep
    rows = cmp.summarize(out)
    csv_path, json_path = cmp.write_summary(out, rows)
    with open(csv_path) as f:
        table = list(csv.DictReader(f))
    assert [t["member"] for t in table] == [r["member"] for r in rows]
    w5_csv = next(t for t in table if t["member"] == "w5")
    w5 = next(r for r in rows if r["member"] == "w5")
    assert (
        float(w5_csv["gradient_rel_error_autodiff_last"]) == w5["gradient_rel_error_autodiff_last"]
    )
    data = json.loads(json_path.read_text())
    assert data["case"] == "advection1d" and data["kind"] == "representations"
    assert data["members"][2]["field_rmse_worst"] == w5["field_rmse_worst"]
    figs = make_figures(out)
    assert {p.name for p in figs} == {"fields.png", "errors.png"}
    for p in figs:
        with Image.open(p) as im:
            assert im.format == "PNG" and im.size[0] > 100


def test_resume_skips_complete_members(sweep, monkeypatch):
    out, _ = sweep
    calls = []
    monkeypatch.setattr(runner_mod, "execute", lambda cfg, d, **kw: calls.append(d))
    members = [cmp.Member("w5", ["representation.kind=siren", "representation.siren.omega0=5.0"])]
    res = cmp.run_sweep(
        kind="representations",
        case="advection1d",
        members=members,
        compare_dir=out,
        sets=TINY,
        workers=1,
        resume=True,
    )
    assert calls == [] and is_complete(res[0].status) and "skipped" in res[0].reason


def test_render_compare_dir_one_frame_per_step(sweep, tmp_path):
    out, _ = sweep
    gif = tmp_path / "all.gif"
    res = cli.invoke(app, ["render", str(out), "--out", str(gif), "--dpi", "40", "-q"])
    assert res.exit_code == 0, res.output
    assert _gif_frames(gif) == 2  # steps 0 and 1 of the two complete members


# ----------------------------------------------------------------- synthetic log
def _synthetic_log(run_dir: Path, steps: int = 6, every: int = 1) -> Path:
    x = np.linspace(-1.0, 1.0, 33)
    w = RunLogWriter.create(
        run_dir / "run.h5",
        config={"case": {"name": "synthetic"}},
        axes=[x],
        attrs={
            "case": "synthetic",
            "representation": "siren",
            "dim": 1,
            "channels": 1,
            "n_params": 3,
        },
    )
    for s in range(0, steps + 1, every):
        ue = np.sin(np.pi * (x - 0.1 * s))
        u = ue + 0.01 * np.cos(20 * x)
        ge = np.pi * np.cos(np.pi * (x - 0.1 * s))
        arrays = {
            "field": u[:, None].astype(np.float32),
            "exact/field": ue[:, None].astype(np.float32),
            "gradient/autodiff": (ge - 0.2 * np.sin(20 * x))[:, None, None].astype(np.float32),
            "exact/gradient": ge[:, None, None].astype(np.float32),
            "step": np.asarray(s, dtype=np.int64),
            "time": np.asarray(0.1 * s),
        }
        w.append(arrays, {"loss": 1.0, "iterations": 5.0, "wall_seconds": 0.1})
    w.close("complete")
    return run_dir


@pytest.mark.parametrize(
    ("steps_arg", "expected"), [(None, 7), ("1:6:2", 3), ("4:", 3), (":3", 3), ("2", 1)]
)
def test_render_frame_count_matches_selected_steps(tmp_path, steps_arg, expected):
    run = _synthetic_log(tmp_path / "run")
    args = ["render", str(run), "--what", "gradient", "--dpi", "30", "-q"]
    if steps_arg is not None:
        args += ["--steps", steps_arg]
    res = cli.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert _gif_frames(run / "render-gradient.gif") == expected


def test_render_steps_are_step_numbers_not_rows(tmp_path):
    run = _synthetic_log(tmp_path / "run", steps=12, every=3)  # steps 0, 3, 6, 9, 12
    out = tmp_path / "e.gif"
    res = cli.invoke(
        app, ["render", str(run), "--steps", "3:10", "--out", str(out), "-q", "--dpi", "30"]
    )
    assert res.exit_code == 0, res.output
    assert _gif_frames(out) == 3  # 3, 6, 9


def test_render_single_frame_png(tmp_path):
    run = _synthetic_log(tmp_path / "run")
    res = cli.invoke(app, ["render", str(run), "--frame", "4", "--dpi", "50", "-q"])
    assert res.exit_code == 0, res.output
    png = run / "render-all-step4.png"
    with Image.open(png) as im:
        assert im.format == "PNG"
        assert im.size[0] > 50


def test_mp4_without_ffmpeg_is_a_clear_error(tmp_path, monkeypatch):
    run = _synthetic_log(tmp_path / "run")
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # import fails
    monkeypatch.setattr("shutil.which", lambda name, *a, **k: None)
    res = cli.invoke(app, ["render", str(run), "--format", "mp4", "-q"])
    assert res.exit_code == 2
    err = res.stderr if hasattr(res, "stderr") else res.output
    assert "ffmpeg" in err and len(err.strip().splitlines()) == 1
    assert not (run / "render-all.mp4").exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--steps", "5:2"], "empty"),
        (["--steps", "a:b"], "not a step slice"),
        (["--steps", "0:4:0"], "stride"),
        (["--steps", "40:50"], "selects no logged step"),
        (["--frame", "99"], "out of range"),
        (["--what", "vorticity"], "--what"),
        (["--out", "x.avi"], ".gif or .mp4"),
        (["--frame", "1", "--out", "x.gif"], ".png"),
        (["--dpi", "5"], "--dpi"),
    ],
)
def test_render_bad_input_is_one_line_exit_2(tmp_path, args, needle):
    run = _synthetic_log(tmp_path / "run")
    res = cli.invoke(app, ["render", str(run), *args, "-q"])
    assert res.exit_code == 2, res.output
    err = res.stderr if hasattr(res, "stderr") else res.output
    assert needle in err and len(err.strip().splitlines()) == 1


def test_render_not_a_log(tmp_path):
    (tmp_path / "run.h5").write_text("not hdf5")
    res = cli.invoke(app, ["render", str(tmp_path), "-q"])
    assert res.exit_code == 2 and "not a readable HDF5" in res.output
    res = cli.invoke(app, ["render", str(tmp_path / "nothing"), "-q"])
    assert res.exit_code == 2 and "does not exist" in res.output


def test_compare_unknown_member_is_a_usage_error(tmp_path):
    res = cli.invoke(
        app,
        [
            "compare",
            "representations",
            "--case",
            "advection1d",
            "--reprs",
            "siren-w6",
            "--out",
            str(tmp_path / "c"),
        ],
    )
    assert res.exit_code == 2
    assert "unknown member 'siren-w6'" in res.output and "did you mean" in res.output


def test_default_member_sets_and_member_files(tmp_path):
    names = [m.name for m in cmp.select_members("representations", None)]
    assert names == [
        "siren-w5",
        "siren-w30",
        "siren-w50",
        "gauss",
        "mlp-tanh",
        "hashgrid-16L",
        "hashgrid-3L",
        "densegrid",
        "grid-eqmem-siren",
        "grid-eqmem-gauss",
        "grid-eqmem-mlp-tanh",
        "grid-eqmem-hashgrid-16L",
        "grid-eqmem-hashgrid-3L",
        "grid-eqmem-densegrid",
        "grid-mol-pade4-siren",
        "grid-mol-midpoint-siren",
    ]
    f = tmp_path / "extra.toml"
    f.write_text('set = ["solver.lr=1e-4"]\n[[member]]\nname = "x"\nset = ["eval.every=2"]\n')
    ms = cmp.select_members("representations", ["siren-w50, " + str(f)])
    assert [m.name for m in ms] == ["siren-w50", "x"]
    assert ms[1].sets == ["solver.lr=1e-4", "eval.every=2"]
    with pytest.raises(cmp.UsageError, match="appears twice"):
        cmp.select_members("representations", ["gauss", "gauss"])


def _synthetic_2d(run_dir: Path, channels: int, steps: int = 2) -> Path:
    x = np.linspace(-1.0, 1.0, 17)
    y = np.linspace(-1.0, 1.0, 13)
    X, Y = np.meshgrid(x, y, indexing="ij")
    w = RunLogWriter.create(
        run_dir / "run.h5",
        config={},
        axes=[x, y],
        attrs={
            "case": "syn2d",
            "representation": "siren",
            "dim": 2,
            "channels": channels,
            "n_params": 3,
        },
    )
    for s in range(steps + 1):
        # u = (sin(pi x), cos(pi y)) per channel; exact Jacobian diagonal
        f = np.stack([np.sin(np.pi * X + s), np.cos(np.pi * Y)], -1)[..., :channels]
        J = np.zeros((*X.shape, 2, 2))
        J[..., 0, 0] = np.pi * np.cos(np.pi * X + s)
        J[..., 1, 1] = -np.pi * np.sin(np.pi * Y)
        J = J[..., :channels, :]
        arrays = {
            "field": (f + 0.01).astype(np.float32),
            "exact/field": f.astype(np.float32),
            "gradient/autodiff": (J + 0.1).astype(np.float32),
            "exact/gradient": J.astype(np.float32),
            "step": np.asarray(s, dtype=np.int64),
            "time": np.asarray(0.1 * s),
        }
        if channels == 2:
            arrays["fluid/vorticity"] = np.zeros(X.shape, dtype=np.float32)
        w.append(arrays, {"field_max_error": 0.01, "gradient_rel_error_autodiff": 0.1 + s})
    w.close("complete")
    return run_dir


@pytest.mark.parametrize("channels", [1, 2])
def test_render_and_figures_2d(tmp_path, channels):
    comp = tmp_path / "cmp"
    _synthetic_2d(comp / "a", channels)
    _synthetic_2d(comp / "b", channels)
    (comp / "sweep.json").write_text(
        json.dumps(
            {
                "kind": "representations",
                "case": "syn2d",
                "members": [
                    {"name": "a", "kind": "siren", "status": "complete"},
                    {"name": "b", "kind": "siren", "status": "complete"},
                ],
            }
        )
    )
    res = cli.invoke(app, ["render", str(comp), "--dpi", "30", "-q"])
    assert res.exit_code == 0, res.output
    assert _gif_frames(comp / "render-all.gif") == 3
    res = cli.invoke(app, ["render", str(comp / "a"), "--frame", "1", "--dpi", "30", "-q"])
    assert res.exit_code == 0, res.output
    figs = make_figures(comp)
    assert [p.name for p in figs] == ["fields.png", "errors.png"]
    rows = cmp.summarize(comp)
    assert rows[1]["gradient_rel_error_autodiff_worst"] == pytest.approx(2.1)
    assert rows[1]["gradient_rel_error_autodiff_last"] == pytest.approx(2.1)


# ---------------------------------------------------------------- equal-memory members
def _grid_run(case: str, member: str):
    from insr.config import base_raw, build_config
    from insr.run import Run

    m = {x.name: x for x in cmp.select_members("representations", None)}[member]
    return Run(build_config(cmp.member_raw(base_raw(case), [], m)))


@pytest.mark.parametrize(
    ("member", "target", "params"),
    [
        # hand counts, 1D (one input, one output):
        # siren 2 x 20: (1*20+20) + (20*20+20) + (20+1) = 481
        ("grid-eqmem-siren", "siren-w30", 481),
        # gauss 2 x 32: (32+32) + (32*32+32) + (32+1) = 1153
        ("grid-eqmem-gauss", "gauss", 1153),
        # mlp 3 x 32: (32+32) + 2*(32*32+32) + (32+1) = 2209
        ("grid-eqmem-mlp-tanh", "mlp-tanh", 2209),
    ],
)
def test_each_grid_member_matches_its_own_member_advection1d(member, target, params):
    """Each neural member gets its own grid: a 1D nodal grid of exactly as many nodes as
    the member has parameters, and the stored config names the member it matches."""
    run = _grid_run("advection1d", member)
    assert run.attrs["matched_n_params"] == params
    assert run.n_params == params  # r^1 * 1 channel <= params, largest r
    grid = run.cfg.representation.settings
    assert grid.matched_member == target
    assert "semi-Lagrangian" in run.attrs["grid_scheme"]


def test_grid_member_matches_a_hash_grid_like_its_own_run():
    """The hash-grid's count is not hand-made here: it must equal the parameters of the
    neural member's own run (a different code path: the equation's built fields)."""
    from insr.config import base_raw, build_config
    from insr.run import Run

    ms = {x.name: x for x in cmp.select_members("representations", None)}
    for target in ("hashgrid-16L", "densegrid"):
        neural = Run(build_config(cmp.member_raw(base_raw("advection1d"), [], ms[target])))
        grid = _grid_run("advection1d", f"grid-eqmem-{target}")
        assert grid.attrs["matched_n_params"] == neural.n_params
        assert grid.n_params == neural.n_params  # 1D nodal: r = budget


def test_fluid_grid_member_counts_pressure_network_and_mac_faces():
    """taylor_green, gauss (2 x 32, 2D): velocity (2*32+32) + (32*32+32) + (32*2+2) = 1218
    and pressure (same, 1 output) 1185: 2403 trained parameters. The MAC grid of r cells
    stores 3r^2 + 2r floats: r = 27 gives 2241 <= 2403 < 2408 (r = 28)."""
    run = _grid_run("taylor_green", "grid-eqmem-gauss")
    assert run.attrs["matched_n_params"] == 2403
    assert run.attrs["grid_resolution"] == 27
    assert run.n_params == 2241


def test_scheme_matched_members_apply_to_advection_only(tmp_path):
    from insr.config import base_raw

    ms = {x.name: x for x in cmp.select_members("representations", None)}
    for case, status in (("taylor_green", "unavailable"), ("advection1d", "pending")):
        plan = cmp._Plan()
        cmp._plan_member(plan, ms["grid-mol-pade4-siren"], base_raw(case), [], tmp_path, False)
        assert plan.outcomes["grid-mol-pade4-siren"].status == status
    run = _grid_run("advection1d", "grid-mol-pade4-siren")
    assert run.attrs["grid_scheme"].startswith("MOL Pade(2,2) + cd4")
    assert run.n_params == 481


def test_match_memory_of_must_name_an_unmatched_member_of_the_file(tmp_path):
    f = tmp_path / "m.toml"
    f.write_text(
        '[[member]]\nname = "a"\nset = ["representation.kind=siren"]\n'
        '[[member]]\nname = "g"\nmatch_memory_of = "b"\nset = ["representation.kind=grid"]\n'
    )
    with pytest.raises(cmp.ConfigError, match="match_memory_of = 'b' is not allowed"):
        cmp.read_members(f)


# ------------------------------------------------ command-line values checked before a run
def _refused(tmp_path, *extra: str) -> str:
    out = tmp_path / "c"
    args = ["compare", "representations", "--case", "advection1d", "--steps", "1"]
    res = cli.invoke(app, [*args, "--out", str(out), "-q", *extra])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), res.output
    assert not out.exists()  # no sweep.json, no member directory
    return lines[0]


def test_a_global_set_that_breaks_one_member_refuses_the_sweep(tmp_path):
    # valid for siren (its advection1d preset runs L-BFGS), no effect for hashgrid (Adam)
    line = _refused(tmp_path, "--reprs", "siren,hashgrid", "--set", "solver.lbfgs_lr=0.5")
    assert "member hashgrid (--set solver.lbfgs_lr=0.5)" in line
    assert "solver.lbfgs_lr = 0.5 has no effect here" in line


def test_a_bad_sweep_value_refuses_the_sweep(tmp_path):
    line = _refused(tmp_path, "--reprs", "siren", "--sweep", "representation.siren.omega0=5,abc")
    assert "member siren-omega0abc (--sweep representation.siren.omega0=abc)" in line
    assert "'abc' is not allowed" in line


def test_a_members_own_bad_config_is_still_recorded_not_refused(tmp_path):
    bad = cmp.Member("own", ["representation.kind=siren", "representation.siren.hidden_layers=0"])
    cmp.check_members("advection1d", [], TINY, [bad])  # not the command line's fault
    with pytest.raises(cmp.ConfigError, match=r"member own \(--set solver.lbfgs_lr=0.5\)"):
        ok = cmp.Member("own", ["representation.kind=hashgrid"])
        cmp.check_members("advection1d", [], ["solver.lbfgs_lr=0.5"], [ok])
