"""Sweep execution: executors (local pool, Ray), cancellation, resume, multirun, seeds.

Members are tiny 1D advection runs (a few iterations, a coarse evaluation grid). Faults
are real: a real SIGINT / SIGKILL to a real ``python -m insr compare`` subprocess, and the
surviving processes are looked up in /proc.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from insr import compare as cmp
from insr.cli import app
from insr.verdict import is_complete

ROOT = Path(__file__).resolve().parents[2]
TINY = [  # small, but enough for an `ok` fit verdict over 8 steps (seed statistics skip poor fits)
    "solver.max_iters=10",
    "solver.init.max_iters=100",  # measured: fit error <= 0.11 over 8 steps, seeds 0-2
    "solver.check_every=2",
    "solver.samples=256",
    "eval.resolution=33",
    "run.on_poor_fit=continue",  # tiny budgets: these tests are not about fit quality
]
cli = CliRunner()


def _args(out: Path, *extra: str, steps: int = 2) -> list[str]:
    args = ["compare", "representations", "--case", "advection1d", "--steps", str(steps)]
    for s in TINY:
        args += ["--set", s]
    return [*args, "--out", str(out), "-q", *extra]


def _spawn(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "insr", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            status = (d / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("PPid:") and int(line.split()[1]) == pid:
                out.append(int(d.name))
    return out


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _wait_for(cond, what: str, limit: float = 300.0) -> None:
    deadline = time.monotonic() + limit
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def _done_step(out: Path, name: str) -> int:
    try:
        return int(json.loads((out / ".sweep" / f"{name}.json").read_text()).get("done", -1))
    except (OSError, ValueError):
        return -1


def _manifest(out: Path) -> dict[str, dict]:
    return {m["name"]: m for m in json.loads((out / "sweep.json").read_text())["members"]}


# ----------------------------------------------------------------- input checks (no runs)
def test_bad_global_set_is_refused_before_any_member_starts(tmp_path):
    out = tmp_path / "c"
    res = cli.invoke(app, _args(out, "--set", "representation.siren.omega0=5,30"))
    assert res.exit_code == 2, res.output
    assert "error:" in res.output and "omega0" in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not out.exists()  # no sweep.json, no member log


def test_plain_representation_kinds_are_members():
    ms = cmp.select_members("representations", ["siren,hashgrid"])
    assert [(m.name, m.sets) for m in ms] == [
        ("siren", ["representation.kind=siren"]),
        ("hashgrid", ["representation.kind=hashgrid"]),
    ]
    defaults = {m.name for m in cmp.select_members("representations", None)}
    assert "siren-w30" in defaults  # named members of the default set still work


def test_sweep_expands_to_the_cartesian_product_with_seeds():
    base = [cmp.Member("siren", ["representation.kind=siren"])]
    ms = cmp.expand_members(
        base,
        ["representation.siren.omega0=5,30", "solver.lr=1e-3,1e-4,1e-5"],
        cmp.parse_seeds("0..1"),
    )
    assert len(ms) == 2 * 3 * 2
    m = next(m for m in ms if m.name == "siren-omega030-lr1e-4-s1")
    assert m.sets == [
        "representation.kind=siren",
        "representation.siren.omega0=30",
        "solver.lr=1e-4",
        "run.seed=1",
    ]
    assert m.group == "siren-omega030-lr1e-4" and m.seed == 1
    via_sweep = cmp.expand_members(base, ["run.seed=0,1,2"])
    assert [(m.name, m.seed) for m in via_sweep] == [
        ("siren-s0", 0),
        ("siren-s1", 1),
        ("siren-s2", 2),
    ]
    assert cmp.parse_seeds("0..2,7,1") == [0, 1, 2, 7]
    for bad in ("x", "3..1", "-1"):
        with pytest.raises(cmp.UsageError):
            cmp.parse_seeds(bad)
    for bad in ("omega0=5", "representation.siren.omega0", "a.b=1,,2", "a.b=1,1"):
        with pytest.raises(cmp.UsageError):
            cmp.expand_members(base, [bad])


def test_bad_sweep_and_seeds_are_one_line_usage_errors(tmp_path):
    for extra in (["--sweep", "omega0=5"], ["--seeds", "4..1"], ["--executor", "slurm"]):
        res = cli.invoke(app, _args(tmp_path / "c", "--reprs", "siren", *extra))
        assert res.exit_code == 2, res.output
        assert "Traceback" not in res.output
        assert not (tmp_path / "c").exists()


def test_a_worker_that_cannot_write_the_sweep_directory_says_so(tmp_path):
    from insr.executors import MemberTask, ProgressFile

    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    task = MemberTask("m", "insr.compare:member_work", {}, str(not_a_dir))
    with pytest.raises(cmp.UsageError, match="filesystem every node sees") as e:
        ProgressFile(task).update(phase="starting")
    assert str(not_a_dir) in str(e.value) and "\n" not in str(e.value)


# ----------------------------------------------------------------- a real local sweep
@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory) -> Path:
    """siren with seeds 0 and 1 through the local pool, one thread per member."""
    out = tmp_path_factory.mktemp("local") / "sweep"
    res = cli.invoke(
        app,
        _args(
            out, "--reprs", "siren", "--seeds", "0,1", "--workers", "2", "--cpus-per-member", "1"
        ),
    )
    assert res.exit_code == 0, res.output
    return out


def test_seed_summary_equals_an_independent_computation(local_sweep):
    data = json.loads((local_sweep / "summary_seeds.json").read_text())
    [row] = data["members"]
    assert row["member"] == "siren" and row["seeds"] == [0, 1] and row["n"] == 2
    last = {}
    for seed in (0, 1):
        with h5py.File(local_sweep / f"siren-s{seed}" / "run.h5", "r") as f:
            assert json.loads(f.attrs["config"])["run"]["seed"] == seed
            n = int(f.attrs["completed_steps"])
            u = f["field"][:n].astype(np.float64)
            ue = f["exact/field"][:n].astype(np.float64)
        last[seed] = np.abs(u[-1] - ue[-1]).max()
    v = np.array([last[0], last[1]])
    assert v[0] != v[1]  # the seed changes the run
    assert row["field_max_error_last_mean"] == pytest.approx(v.mean(), rel=1e-5)
    assert row["field_max_error_last_std"] == pytest.approx(np.std(v, ddof=1), rel=1e-4)
    assert row["field_max_error_last_min"] == pytest.approx(v.min(), rel=1e-5)
    assert row["field_max_error_last_max"] == pytest.approx(v.max(), rel=1e-5)


def test_resume_reruns_a_member_whose_log_has_another_config(local_sweep, tmp_path):
    out = tmp_path / "sweep"
    shutil.copytree(local_sweep, out)
    shutil.copy(out / "siren-s1" / "run.h5", out / "siren-s0" / "run.h5")  # seed 1's log
    before_s1 = (out / "siren-s1" / "run.h5").read_bytes()
    res = cli.invoke(
        app, _args(out, "--reprs", "siren", "--seeds", "0,1", "--workers", "1", "--resume")
    )
    assert res.exit_code == 0, res.output
    m = _manifest(out)
    assert "re-run: stored config differs (run.seed" in m["siren-s0"]["reason"]
    assert "skipped" in m["siren-s1"]["reason"]
    assert (out / "siren-s1" / "run.h5").read_bytes() == before_s1  # reused untouched
    with h5py.File(out / "siren-s0" / "run.h5", "r") as f:
        assert json.loads(f.attrs["config"])["run"]["seed"] == 0
        assert is_complete(str(f.attrs["status"]))


# ----------------------------------------------------------------- Ray
@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray cluster with 2 CPUs in this process."""
    ray = pytest.importorskip("ray", reason="the ray extra (pip install 'insr[ray]') is missing")
    # a loaded CI machine can take longer than Ray's default to register the node
    os.environ.setdefault("RAY_raylet_start_wait_time_s", "180")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_executor_summary_equals_local_bit_for_bit(local_sweep, ray_cluster, tmp_path):
    out = tmp_path / "ray"
    res = cli.invoke(
        app,
        _args(
            out,
            "--reprs",
            "siren",
            "--seeds",
            "0,1",
            "--executor",
            "ray",
            "--cpus-per-member",
            "1",
        ),
    )
    assert res.exit_code == 0, res.output
    recs = [json.loads((out / ".sweep" / f"siren-s{s}.json").read_text()) for s in (0, 1)]
    assert all(r["threads"] == 1 for r in recs)
    assert all(r["pid"] != os.getpid() for r in recs)  # ran in Ray workers

    def numbers(d: Path) -> list[dict]:
        rows = json.loads((d / "summary.json").read_text())["members"]
        return [{k: v for k, v in r.items() if k != "wall_s"} for r in rows]

    assert numbers(out) == numbers(local_sweep)
    assert json.loads((out / "sweep.json").read_text())["executor"] == "ray"


def test_ray_task_killed_mid_run_is_retried_by_resuming_its_log(ray_cluster, tmp_path):
    import threading

    out = tmp_path / "ray-kill"
    killed: dict[str, int] = {}

    def killer() -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if _done_step(out, "siren") >= 1:
                rec = json.loads((out / ".sweep" / "siren.json").read_text())
                killed.update(pid=int(rec["pid"]), step=int(rec["done"]))
                os.kill(killed["pid"], signal.SIGKILL)  # the Ray worker running the member
                return
            time.sleep(0.02)

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    res = cli.invoke(
        app, _args(out, "--reprs", "siren", "--executor", "ray", "--cpus-per-member", "1", steps=8)
    )
    t.join(timeout=5)
    assert res.exit_code == 0, res.output
    assert killed, "the member finished before it could be killed"
    rec = json.loads((out / ".sweep" / "siren.json").read_text())
    assert rec["pid"] != killed["pid"]  # a new worker ran the retry
    assert 1 <= rec["resumed_from"] <= killed["step"] + 2  # not from step 0
    m = _manifest(out)
    assert is_complete(m["siren"]["status"]) and "resumed from step" in m["siren"]["reason"]
    with h5py.File(out / "siren" / "run.h5", "r") as f:
        n = int(f.attrs["completed_steps"])
        assert f["step"][:n].tolist() == list(range(9))


def test_ray_missing_extra_is_one_line(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "ray" else real(n, *a)
    )
    res = cli.invoke(app, _args(tmp_path / "c", "--reprs", "siren", "--executor", "ray"))
    assert res.exit_code == 2 and "pip install 'insr[ray]'" in res.output
    assert not (tmp_path / "c").exists()


# ----------------------------------------------------------------- signals
def test_sigint_cancels_queued_members_and_leaves_no_worker(tmp_path):
    out = tmp_path / "c"
    p = _spawn(_args(out, "--reprs", "siren", "--seeds", "0..2", "--workers", "2", steps=40))
    try:
        both = ("siren-s0", "siren-s1")  # both running members logged step 0 (a loaded machine
        # may start the second one late; one stopped before any step is `cancelled`)
        _wait_for(
            lambda: all(_done_step(out, n) >= 0 for n in both) or p.poll() is not None, "step 0"
        )
        workers = _children(p.pid)
        assert p.poll() is None and len(workers) >= 2
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=300)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, err
    assert "Traceback" not in err
    assert "resume with: insr compare representations --case advection1d" in err
    assert f"--out {out} --resume" in err
    m = _manifest(out)
    assert m["siren-s2"]["status"] == "cancelled"
    assert not (out / "siren-s2" / "run.h5").exists()
    for name in ("siren-s0", "siren-s1"):
        assert m[name]["status"].startswith(("interrupted", "complete")), m[name]
    assert [w for w in workers if _alive(w)] == []


def test_sigkill_of_the_driver_kills_workers_and_resume_completes(tmp_path):
    out = tmp_path / "c"
    # a checkpoint every step, so that the resume starts where the rows end (not at 0)
    sets = ["--set", "run.checkpoint_every=1"]
    args = _args(out, "--reprs", "siren", "--seeds", "0,1", "--workers", "2", *sets, steps=8)
    p = _spawn(args)
    try:
        _wait_for(lambda: _done_step(out, "siren-s0") >= 1 or p.poll() is not None, "step 1")
        workers = _children(p.pid)
        assert p.poll() is None and workers
        p.kill()
        p.wait()
    finally:
        if p.poll() is None:
            p.kill()
    _wait_for(lambda: not any(_alive(w) for w in workers), "the workers to die", limit=30)
    killed_at = _done_step(out, "siren-s0")
    assert _manifest(out)["siren-s0"]["status"] == "pending"  # the driver never saw an end
    res = _spawn([*args, "--resume"])
    _, err = res.communicate(timeout=600)
    assert res.returncode == 0, err
    m = _manifest(out)
    assert all(is_complete(v["status"]) for v in m.values()), m
    assert "resumed from step" in m["siren-s0"]["reason"]
    resumed_from = int(m["siren-s0"]["reason"].split("resumed from step ")[1].split(";")[0])
    assert 1 <= resumed_from <= killed_at + 2
    with h5py.File(out / "siren-s0" / "run.h5", "r") as f:
        n = int(f.attrs["completed_steps"])
        assert f["step"][:n].tolist() == list(range(9))
