"""Runs survive crashes and bad input: kill -9, Ctrl-C, NaN, disk full, 30+ bad inputs.

Every run here is tiny (6 steps, 33 evaluation nodes, tens of iterations, one thread) and
is compared *bit for bit* with one uninterrupted reference run made in this process.
"""

from __future__ import annotations

import errno
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import _tiny
import h5py
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from insr.cli import app
from insr.config import load_config
from insr.log import RunLogReader, RunLogWriter, checkpoint
from insr.run import execute
from insr.settings import RunSection
from insr.verdict import is_complete

ROOT = Path(__file__).resolve().parents[2]
# _tiny.TINY has one sub-problem per step (the NaN-injection counts rely on it); tiny
# budgets: these tests are not about fit quality
TINY = [*_tiny.TINY, "run.on_poor_fit=continue"]
TINY_ARGS = [a for s in TINY for a in ("--set", s)]
TIMING = {"metrics/wall_seconds"}  # the only per-row numbers allowed to differ


def _datasets(path: Path) -> dict[str, np.ndarray]:
    """Every per-step dataset's completed rows plus the checkpoint, by name."""
    out: dict[str, np.ndarray] = {}
    with RunLogReader(path) as log:
        for name in log.names():
            out[name] = log.series(name)
    ck = checkpoint(path / "run.h5" if path.is_dir() else path)
    if ck is not None:
        for k, v in ck[0].items():
            out[f"checkpoint/{k}"] = v
        out["checkpoint/step"] = np.asarray(ck[1]["step"])
    return out


def assert_identical(a: dict[str, np.ndarray], b: dict[str, np.ndarray], rows: int | None = None):
    if rows is not None:  # a prefix of rows; checkpoints are checked separately
        a = {k: v for k, v in a.items() if not k.startswith("checkpoint")}
        b = {k: v for k, v in b.items() if not k.startswith("checkpoint")}
    assert set(a) == set(b), set(a) ^ set(b)
    for k in a:
        if k in TIMING:
            continue
        x, y = (a[k], b[k]) if rows is None else (a[k], b[k][:rows])
        assert x.shape == y.shape, (k, x.shape, y.shape)
        assert np.array_equal(x, y, equal_nan=True), f"{k} differs"


@pytest.fixture(scope="module")
def ref(tmp_path_factory) -> dict[str, np.ndarray]:
    """One uninterrupted tiny run (the truth every interrupted run must reproduce)."""
    out = tmp_path_factory.mktemp("ref") / "run"
    res = execute(load_config("advection1d", [], TINY), out)
    assert is_complete(res.status) and res.completed_steps == 7
    data = _datasets(out)
    data["_path"] = out  # type: ignore[assignment]
    return data


def _ref_data(ref) -> dict[str, np.ndarray]:
    return {k: v for k, v in ref.items() if k != "_path"}


def cli(*args: str):
    return CliRunner().invoke(app, list(args))


def _spawn(out: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "insr", "run", "advection1d", *TINY_ARGS, "--out", str(out), "-q"]
    return subprocess.Popen(
        [*cmd, *extra], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _completed(log: Path) -> int:
    try:
        with h5py.File(log, "r", locking=False) as f:
            return int(f.attrs["completed_steps"])
    except Exception:
        return -1


def _signal_when(p: subprocess.Popen, log: Path, rows: int, delay: float, sig: int) -> bool:
    """Send ``sig`` ``delay`` s after the log reaches ``rows`` completed rows; False if the
    process ended first."""
    deadline = time.monotonic() + 120
    while p.poll() is None and time.monotonic() < deadline:
        if _completed(log) >= rows:
            time.sleep(delay)
            p.send_signal(sig)
            p.wait(timeout=60)
            return True
        time.sleep(0.01)
    p.wait(timeout=60)
    return False


def _check_prefix(out: Path, ref) -> int:
    """The log opens, holds exactly completed_steps rows equal to the reference's, and a
    checkpoint no further than the last row: at the last row (written when a signal ends
    the run) or at one of the last two due steps (every ``run.checkpoint_every`` steps and
    the last; a kill -9 can land between a row and its checkpoint)."""
    data = _datasets(out)
    with RunLogReader(out) as log:
        n = log.n
        for name in log.names():
            assert log.h5[name].shape[0] >= n
    assert_identical({k: v for k, v in data.items()}, _ref_data(ref), rows=n)
    if n:
        assert list(data["step"]) == list(range(n))
        ck = checkpoint(out / "run.h5")
        every = RunSection().checkpoint_every
        due = [s for s in range(n) if s % every == 0 or s == 6]
        assert (n == 1 and ck is None) or ck[1]["step"] in {n - 1, *due[-2:]}
    return n


# ----------------------------------------------------------------------------- (a) SIGKILL
def test_sigkill_at_random_moments_then_resume_is_bit_identical(ref, tmp_path):
    rng = random.Random()
    out, log = tmp_path / "k", tmp_path / "k" / "run.h5"
    moments = []
    p = _spawn(out)
    rows, delay = rng.randint(1, 3), rng.uniform(0.0, 0.15)
    killed = _signal_when(p, log, rows, delay, signal.SIGKILL)
    n = _check_prefix(out, ref)
    moments.append((rows, round(delay, 3), killed, n))
    if n < 7:
        p = _spawn(out, "--resume")
        # kill once the resumed run logged at least one more row (up to the 7th, the last)
        rows, delay = rng.randint(n + 1, max(n + 1, 6)), rng.uniform(0.0, 0.15)
        killed = _signal_when(p, log, rows, delay, signal.SIGKILL)
        n2 = _check_prefix(out, ref)
        assert n2 >= n, moments
        moments.append((rows, round(delay, 3), killed, n2))
        n = n2
    with RunLogReader(out) as lg:
        finished = is_complete(lg.status)
    if n < 7 or not finished:  # a kill after the last row but before 'complete' resumes too
        r = cli("run", "--resume", str(out), "-q")
        assert r.exit_code == 0, (moments, r.stderr)
    with RunLogReader(out) as lg:
        assert is_complete(lg.status) and lg.n == 7, moments
    assert_identical(_datasets(out), _ref_data(ref))


def _fork_writer_killed_at(path: Path, kill_at: int, rows: int = 4) -> None:
    """In a forked child, write ``rows`` rows + checkpoints of synthetic data, SIGKILLing
    itself at the ``kill_at``-th h5py mutating call (inside a row or checkpoint write)."""
    pid = os.fork()
    if pid == 0:  # child: no torch, only h5py
        try:
            count = [0]

            def wrap(cls, name):
                orig = getattr(cls, name)

                def f(*a, **k):
                    count[0] += 1
                    if count[0] == kill_at:
                        os.kill(os.getpid(), signal.SIGKILL)
                    return orig(*a, **k)

                setattr(cls, name, f)

            for cls, name in [
                (h5py.Dataset, "__setitem__"),
                (h5py.Dataset, "resize"),
                (h5py.AttributeManager, "__setitem__"),
                (h5py.File, "flush"),
                (h5py.Group, "create_dataset"),
                (h5py.Group, "move"),
                (h5py.Group, "__delitem__"),
            ]:
                wrap(cls, name)
            w = RunLogWriter.create(path, config={"case": {}}, axes=[np.arange(5.0)], attrs={})
            for i in range(rows):
                w.append({"field": np.full((5, 1), i, np.float32), "step": np.int64(i)}, {"m": i})
                w.save_checkpoint({"field/w": np.full(7, i, np.float64)}, {"step": i})
            w.close("complete")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def test_kill_inside_every_hdf5_call_of_a_row_and_checkpoint(tmp_path):
    """Deterministic kill -9 at each h5py call of the write path: the log always opens,
    holds exactly completed_steps correct rows, and its checkpoint is at most one behind."""
    seen = set()
    for kill_at in range(1, 115, 2):  # ~110 h5py calls for 4 rows + checkpoints
        path = tmp_path / f"k{kill_at}.h5"
        _fork_writer_killed_at(path, kill_at)
        if not path.exists():  # killed before the log was renamed into place
            assert not any(tmp_path.glob(f"k{kill_at}.h5")), kill_at
            seen.add("none")
            continue
        with RunLogReader(path) as log:
            n = log.n
            if n:
                assert np.array_equal(log.series("step"), np.arange(n)), kill_at
                assert np.array_equal(log.series("field")[:, 0, 0], np.arange(n)), kill_at
                assert np.array_equal(log.series("metrics/m"), np.arange(n)), kill_at
        ck = checkpoint(path)
        if ck is None:  # only a kill inside the very first checkpoint leaves none
            assert n <= 1, (kill_at, n)
        else:
            assert ck[1]["step"] in (n - 1, n - 2), (kill_at, n, ck[1])
            assert np.all(ck[0]["field/w"] == ck[1]["step"])
        seen.add(n)
        # reopening drops rows past the checkpoint and continues cleanly
        keep = 0 if ck is None else ck[1]["step"] + 1
        w = RunLogWriter.reopen(path, keep)
        w.append({"field": np.full((5, 1), keep, np.float32), "step": np.int64(keep)}, {"m": keep})
        w.close("complete")
        with RunLogReader(path) as log:
            assert np.array_equal(log.series("step"), np.arange(keep + 1))
    assert {0, 1, 2, 3, 4} <= seen  # kills landed in every row


# ----------------------------------------------------------------------------- (b) NaN
def _nan_at(monkeypatch, step: int, times: int | None):
    """Make the advection loss NaN at ``step`` (for its first ``times`` attempts; all if None)."""
    from insr.equations import advection

    orig = advection.Advection.step_problems
    calls = {"n": 0}

    def step_problems(self, s, t, dt):
        problems = orig(self, s, t, dt)
        if s != step:
            return problems
        calls["n"] += 1
        if times is not None and calls["n"] > times:
            return problems
        for p in problems:
            loss = p.loss
            p.loss = lambda x, loss=loss: loss(x) * float("nan")
        return problems

    monkeypatch.setattr(advection.Advection, "step_problems", step_problems)
    return calls


def _one_line_error(r) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    return lines[0]


def test_nan_stops_run_keeps_earlier_steps_and_resumes(ref, tmp_path, monkeypatch):
    out = tmp_path / "nan"
    calls = _nan_at(monkeypatch, 3, None)
    r = cli("run", "advection1d", *TINY_ARGS, "--out", str(out), "-q")
    assert r.exit_code == 1
    msg = _one_line_error(r)
    assert "diverged at step 3" in msg and "likely causes" in msg and "case.dt" in msg
    # advection1d steps with L-BFGS: the advice names its step size, not Adam's lr
    assert "--set solver.lbfgs_lr=" in msg and "--resume" in msg and "solver.lr " not in msg
    assert calls["n"] == 1
    with RunLogReader(out) as log:
        assert log.status == "diverged at step 3" and log.n == 3
    assert checkpoint(out / "run.h5")[1]["step"] == 2
    assert _check_prefix(out, ref) == 3
    monkeypatch.undo()
    r = cli("run", "--resume", str(out), "-q")
    assert r.exit_code == 0, r.stderr
    assert_identical(_datasets(out), _ref_data(ref))


def test_on_diverge_retry_recovers_or_fails_bounded(tmp_path, monkeypatch):
    calls = _nan_at(monkeypatch, 2, 1)  # NaN at the first try of step 2 only
    r = cli(
        "run",
        "advection1d",
        *TINY_ARGS,
        "--out",
        str(tmp_path / "a"),
        "-q",
        "--on-diverge",
        "retry",
    )
    assert r.exit_code == 0, r.stderr
    assert calls["n"] == 2
    with RunLogReader(tmp_path / "a") as log:
        assert is_complete(log.status) and log.n == 7
        assert list(log.series("metrics/retries")) == [0, 0, 1, 0, 0, 0, 0]
        assert np.all(np.isfinite(log.series("field")))
    monkeypatch.undo()
    calls = _nan_at(monkeypatch, 2, None)
    r = cli(
        "run",
        "advection1d",
        *TINY_ARGS,
        "--out",
        str(tmp_path / "b"),
        "-q",
        "--on-diverge",
        "retry",
    )
    assert r.exit_code == 1
    lines = r.stderr.strip().splitlines()
    assert [ln.split(";")[1] for ln in lines[:3]] == [
        f" retry {i} with solver.lbfgs_lr x{0.5**i:g}" for i in (1, 2, 3)
    ]
    assert len(lines) == 4 and lines[3].startswith("error: diverged at step 2")
    assert "3 retries with halved solver.lbfgs_lr" in lines[3] and "Traceback" not in r.stderr
    assert calls["n"] == 4  # first try + 3 retries, then stop
    with RunLogReader(tmp_path / "b") as log:
        assert log.status == "diverged at step 2" and log.n == 2


# ----------------------------------------------------------------------------- disk full
def test_disk_full_keeps_log_valid_and_resumes(ref, tmp_path, monkeypatch):
    out = tmp_path / "full"
    orig = h5py.Dataset.__setitem__

    def full(self, key, value):
        if self.name == "/field" and key == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return orig(self, key, value)

    monkeypatch.setattr(h5py.Dataset, "__setitem__", full)
    r = cli("run", "advection1d", *TINY_ARGS, "--out", str(out), "-q")
    assert r.exit_code == 1
    msg = _one_line_error(r)
    assert "disk full" in msg and "--resume" in msg
    monkeypatch.undo()
    with RunLogReader(out) as log:
        assert log.status.startswith("failed at step 3: disk full") and log.n == 3
    assert _check_prefix(out, ref) == 3
    r = cli("run", "--resume", str(out), "-q")
    assert r.exit_code == 0, r.stderr
    assert_identical(_datasets(out), _ref_data(ref))


def test_log_larger_than_free_disk_is_refused_before_writing(tmp_path, monkeypatch):
    import insr.run.limits

    monkeypatch.setattr(insr.run.limits, "free_bytes", lambda p: 1000)
    r = cli("run", "advection1d", "--out", str(tmp_path / "d"), "-q")
    assert r.exit_code == 2
    msg = _one_line_error(r)
    # the rows alone: 401 nodes x (field + exact + 3 gradients) x float32 x 242 rows; the
    # estimate adds checkpoints, chunk index, headers and a reserve, so it is larger
    rows_only = 401 * 5 * 4 * 242
    need = float(msg.split("need about ")[1].split()[0]) * 2**20
    assert "free on" in msg and need > rows_only
    assert not (tmp_path / "d").exists()


# ----------------------------------------------------------------------------- (d) SIGINT
def test_sigint_closes_log_interrupted_and_resumable(ref, tmp_path):
    out, log = tmp_path / "int", tmp_path / "int" / "run.h5"
    p = _spawn(out)
    sent = _signal_when(p, log, 2, random.uniform(0.0, 0.02), signal.SIGINT)
    stderr = p.stderr.read()
    if not sent:
        pytest.skip("the run finished before the signal could be sent")
    assert p.returncode == 130, stderr
    assert "Traceback" not in stderr
    n = _check_prefix(out, ref)
    with RunLogReader(out) as lg:
        status = lg.status
    if status == "complete":  # the signal came after the last row: nothing to resume
        assert n == 7 and "interrupted" in stderr and "--resume" not in stderr, stderr
        assert_identical(_datasets(out), _ref_data(ref))
        return
    assert status == f"interrupted at step {n}"
    assert f"interrupted at step {n}" in stderr
    assert f"insr run --resume {out}" in stderr
    r = cli("run", "--resume", str(out), "-q")
    assert r.exit_code == 0, r.stderr
    assert_identical(_datasets(out), _ref_data(ref))


# ----------------------------------------------------------------------------- (c) bad input
@pytest.fixture(scope="module")
def bad(tmp_path_factory, ref) -> dict[str, str]:
    d = tmp_path_factory.mktemp("bad")
    (d / "bad.toml").write_text("[solver\nlr = 1")
    (d / "binary.toml").write_bytes(b"\xff\xfe\x00\x01")
    (d / "nocase.toml").write_text("[solver]\nlr = 1e-3\n")
    (d / "text.h5").write_text("hello, not HDF5\n")
    (d / "empty.h5").write_bytes(b"")
    with h5py.File(d / "foreign.h5", "w") as f:
        f["x"] = np.arange(3)
    src = ref["_path"] / "run.h5"
    data = src.read_bytes()
    (d / "truncated.h5").write_bytes(data[: len(data) // 2])
    for name, edit in [
        ("future.h5", lambda f: f.attrs.__setitem__("schema", 99)),
        ("rows.h5", lambda f: f.attrs.__setitem__("completed_steps", 50)),
        ("json.h5", lambda f: f.attrs.__setitem__("config", "{not json")),
    ]:
        shutil.copy(src, d / name)
        with h5py.File(d / name, "r+") as f:
            edit(f)
    (d / "dirlog" / "run.h5").mkdir(parents=True)
    (d / "emptydir").mkdir()
    (d / "afile").write_text("x")
    (d / "busy").mkdir()
    (d / "busy" / "notes.txt").write_text("x")
    shutil.copytree(ref["_path"], d / "done")
    return {"tmp": str(d), "ref": str(d / "done")}


R = ["run", "advection1d", "-q"]
BAD = [
    ("unknown-case", ["run", "advection1e"], "did you mean 'advection1d'"),
    ("unknown-representation", [*R, "-s", "representation.kind=sirne"], "did you mean 'siren'"),
    ("unknown-loss-strategy", [*R, "-s", "derivative.loss=autodif"], "did you mean 'autodiff'"),
    ("unknown-log-strategy", [*R, "-s", 'derivative.log=["fdd"]'], "'fdd'"),
    ("unknown-key", [*R, "-s", "solver.lrr=1e-3"], "did you mean 'lr'"),
    ("unknown-section", [*R, "-s", "solvr.lr=1e-3"], "did you mean 'solver'"),
    ("unknown-rep-key", [*R, "-s", "representation.siren.omega=3"], "did you mean 'omega0'"),
    ("type-number", [*R, "-s", "solver.lr=fast"], "expected a number"),
    ("type-int", [*R, "-s", "solver.max_iters=1.5"], "expected an integer"),
    ("type-bool-for-int", [*R, "-s", "case.steps=true"], "expected an integer"),
    ("type-list", [*R, "-s", "derivative.log=fd"], "expected a list"),
    ("dt-zero", [*R, "-s", "case.dt=0"], "case.dt = 0"),
    ("dt-negative", [*R, "-s", "case.dt=-0.05"], "case.dt = -0.05"),
    ("dt-inf", [*R, "-s", "case.dt=inf"], "finite"),
    ("lr-nan", [*R, "-s", "solver.lr=nan"], "finite"),
    ("steps-minus-one", [*R, "--steps", "-1"], "case.steps = -1"),
    ("steps-negative", [*R, "--steps", "-3"], "case.steps = -3"),
    ("steps-not-int", [*R, "--steps", "abc"], "--steps"),
    ("resolution-1", [*R, "-s", "eval.resolution=1"], "eval.resolution = 1"),
    ("resolution-huge", [*R, "-s", "eval.resolution=10000000000"], "GiB of memory"),
    ("every-zero", [*R, "-s", "eval.every=0"], "eval.every = 0"),
    ("min-above-max", [*R, "-s", "solver.min_iters=5000"], "exceeds max_iters"),
    ("h-negative", [*R, "-s", "derivative.h=-1"], "derivative.h = -1"),
    ("h-word", [*R, "-s", "derivative.h=cells"], "'cell'"),
    ("dtype", [*R, "-s", "run.dtype=float16"], "'float32'"),
    ("device", [*R, "-s", "run.device=tpu"], "'cpu'"),
    ("threads-negative", [*R, "-s", "run.threads=-1"], "run.threads = -1"),
    ("samples-zero", [*R, "-s", "solver.samples=0"], "solver.samples = 0"),
    ("domain-empty", [*R, "-s", "case.domain=[[2.0, -2.0]]"], "is empty"),
    ("layers-zero", [*R, "-s", "representation.siren.hidden_layers=0"], "hidden_layers = 0"),
    ("omega-negative", [*R, "-s", "representation.siren.omega0=-5"], "omega0 = -5"),
    ("set-no-equals", [*R, "-s", "solver.lr"], "expected section.key=value"),
    ("set-no-section", [*R, "-s", "lr=1"], "section.key=value"),
    ("set-into-value", [*R, "-s", "case.steps.x=1"], "'steps' is a value, not a table"),
    ("config-missing", [*R, "-c", "{tmp}/nope.toml"], "config file not found"),
    ("config-directory", [*R, "-c", "{tmp}"], "got a directory"),
    ("config-bad-toml", [*R, "-c", "{tmp}/bad.toml"], "is not valid TOML"),
    ("config-binary", [*R, "-c", "{tmp}/binary.toml"], "not a text TOML file"),
    ("case-file-missing", ["run", "{tmp}/nope/case.toml"], "case file not found"),
    ("case-file-no-case", ["run", "{tmp}/nocase.toml"], "needs a [case] table"),
    ("on-diverge", [*R, "--on-diverge", "explode"], "--on-diverge 'explode'"),
    ("out-unwritable", [*R, "--out", "/dev/null/run"], "cannot write"),
    ("out-is-file", [*R, "--out", "{tmp}/afile"], "is a file"),
    ("out-exists", [*R, "--out", "{tmp}/busy"], "use --resume to continue it or --overwrite"),
    ("resume-missing", ["run", "--resume", "{tmp}/nope"], "does not exist"),
    ("resume-no-log", ["run", "--resume", "{tmp}/emptydir"], "holds no run.h5"),
    ("resume-overwrite", ["run", "--resume", "{ref}", "--overwrite"], "exclude each other"),
    ("resume-complete", ["run", "--resume", "{ref}", "-q"], "already complete"),
    ("resume-change", ["run", "--resume", "{ref}", "-s", "eval.resolution=65"], "cannot change"),
    ("resume-corrupt", ["run", "--resume", "{tmp}/truncated.h5"], "not a readable HDF5"),
    ("resume-other-case", ["run", "other", "--out", "{ref}", "--resume"], "case 'advection1d'"),
    ("info-missing", ["info", "{tmp}/nope"], "no run log"),
    ("info-text", ["info", "{tmp}/text.h5"], "not a readable HDF5"),
    ("info-empty", ["info", "{tmp}/empty.h5"], "not a readable HDF5"),
    ("info-truncated", ["info", "{tmp}/truncated.h5"], "not a readable HDF5"),
    ("info-foreign", ["info", "{tmp}/foreign.h5"], "not an insr run log"),
    ("info-future-schema", ["info", "{tmp}/future.h5"], "schema 99"),
    ("info-rows-missing", ["info", "{tmp}/rows.h5"], "damaged log"),
    ("info-bad-config", ["info", "{tmp}/json.h5"], "not valid JSON"),
    ("info-log-is-dir", ["info", "{tmp}/dirlog"], "is not a file"),
    ("info-no-arg", ["info"], "Missing argument"),
]
if not torch.cuda.is_available():
    BAD.append(("cuda-missing", [*R, "-s", "run.device=cuda"], "no CUDA device"))


@pytest.mark.parametrize("args,needle", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_one_line_exit_2(bad, tmp_path, args, needle):
    args = [a.format(**bad) for a in args]
    if "--out" not in args and args[0] == "run" and "--resume" not in args:
        args += ["--out", str(tmp_path / "o")]
    r = cli(*args)
    text = r.stderr + r.stdout
    assert r.exit_code == 2, text
    assert "Traceback" not in text
    assert needle in text.replace("\n│ ", " ").replace("│", ""), text
    if not text.startswith("Usage:"):  # typer's own argument errors print a usage box
        assert len([ln for ln in r.stderr.splitlines() if ln.strip()]) == 1, text
        assert r.stderr.startswith("error: ")
    assert not (tmp_path / "o" / "run.h5").exists()


def test_bad_input_with_debug_shows_traceback(tmp_path):
    r = cli("--debug", "run", "advection1e", "--out", str(tmp_path / "o"))
    assert r.exit_code != 0 and r.exception is not None
    assert "advection1e" in str(r.exception)
