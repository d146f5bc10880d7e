"""Kill loop: SIGKILL `insr run` (and `insr compare --workers 2`) at random moments, resume
after each kill, and check that every log stays readable, holds a bit-identical prefix of an
uninterrupted run, that the final result is bit-identical to it, and that no process is left.

    PYTHONPATH=. python benchmarks/kill_loop.py --kills 20            # insr run
    PYTHONPATH=. python benchmarks/kill_loop.py --kills 20 --compare  # and compare --workers 2

A kill counts as *mid-write* when the killed log shows a write in flight: a dataset with
more rows than ``completed_steps``, a checkpoint slot newer than the last row, or a
``run.h5.tmp``. Prints the figures (and writes them to benchmarks/results/ with --save).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from insr.log import RunLogReader, checkpoint  # noqa: E402
from insr.verdict import is_complete  # noqa: E402

TINY = [
    "eval.resolution=33",
    "solver.max_iters=20",
    "solver.init.max_iters=30",
    "solver.check_every=10",
    "solver.samples=200",
    "run.threads=1",
    "run.device=cpu",
    "solver.substeps=1",
    "run.on_poor_fit=continue",
]
SETS = [a for s in TINY for a in ("--set", s)]
TIMING = {"metrics/wall_seconds"}


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")


def _insr(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "insr", *args],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def datasets(run_dir: Path) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    with RunLogReader(run_dir) as log:
        for name in log.names():
            out[name] = log.series(name)
        path = log.path
    ck = checkpoint(path)
    if ck is not None:
        out.update({f"checkpoint/{k}": v for k, v in ck[0].items()})
    return out


def complete(run_dir: Path) -> bool:
    with RunLogReader(run_dir) as log:
        return is_complete(log.status)


MISMATCHES: list[str] = []  # what differed (for the report)


def same_prefix(a: dict, b: dict, rows: int | None) -> bool:
    """a's rows (all, or the first ``rows``) equal b's bit for bit (timings aside)."""
    keys = {k for k in a if rows is None or not k.startswith("checkpoint")}
    keys_b = {k for k in b if rows is None or not k.startswith("checkpoint")}
    if rows is not None and rows == 0 and keys <= keys_b:
        return True  # no row yet: datasets are created with the first one
    if keys != keys_b:
        MISMATCHES.append(f"datasets {sorted(keys ^ keys_b)} (rows {rows})")
        return False
    for k in sorted(keys - TIMING):
        x, y = a[k], b[k] if rows is None else b[k][:rows]
        if x.shape != y.shape or not np.array_equal(x, y, equal_nan=True):
            MISMATCHES.append(f"{k} (rows {rows}, shapes {x.shape} vs {y.shape})")
            return False
    return True


def mid_write(run_dir: Path) -> bool:
    """Did the kill land inside a write? (rows past completed_steps, a checkpoint slot ahead
    of the rows, or the temporary file of a log being created)."""
    if (run_dir / "run.h5.tmp").exists():
        return True
    path = run_dir / "run.h5"
    if not path.exists():
        return False
    try:
        with h5py.File(path, "r", locking=False) as f:
            n = int(f.attrs["completed_steps"])
            for name in ("field", "step", "time"):
                if name in f and f[name].shape[0] > n:
                    return True
            steps = f["step"][:n] if "step" in f else []
            last = int(steps[-1]) if len(steps) else -1
            for slot in [k for k in f if k.startswith("checkpoint")]:
                meta = json.loads(f[slot].attrs.get("meta", "{}") or "{}")
                complete = bool(f[slot].attrs.get("complete", True))
                if not complete or int(meta.get("step", -1)) > last:
                    return True
    except Exception:  # noqa: BLE001 - an unreadable file is reported by the caller
        return False
    return False


def rows_now(path: Path) -> int:
    try:
        with h5py.File(path, "r", locking=False) as f:
            return int(f.attrs["completed_steps"])
    except Exception:  # noqa: BLE001 - not there yet, or being created
        return -1


def wait_moment(p: subprocess.Popen, log: Path, rng: random.Random, wall: float) -> str:
    """Sleep until the kill moment: half the time a random delay, half the time the instant
    a new row is committed (the checkpoint write follows it: aimed at a write)."""
    if rng.random() < 0.5:
        time.sleep(rng.uniform(0.5, max(wall, 1.0)))
        return "random"
    start = rows_now(log)
    target = start + rng.randint(1, 2)
    deadline = time.monotonic() + 3 * wall + 30
    while p.poll() is None and time.monotonic() < deadline and rows_now(log) < target:
        time.sleep(0.002)
    return "after a row commit"


def descendants(pid: int) -> list[int]:
    kids: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def wait_gone(pids: list[int], limit: float = 20.0) -> list[int]:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


def run_loop(kills: int, steps: int, rng: random.Random, work: Path) -> dict:
    ref = work / "ref"
    t0 = time.perf_counter()
    p = _insr("run", "advection1d", *SETS, "--steps", str(steps), "--out", str(ref), "-q")
    _, err = p.communicate()
    assert p.returncode == 0, err
    wall = time.perf_counter() - t0
    truth = datasets(ref)
    run = work / "killed"
    landed = mid = resumes = finished_early = unreadable = bad_prefix = 0
    orphans: list[int] = []
    fresh = True
    while landed < kills:
        args = ["run", "advection1d", *SETS, "--steps", str(steps), "--out", str(run), "-q"]
        if not fresh:
            args = ["run", "--resume", str(run), "-q"]
            resumes += 1
        p = _insr(*args)
        wait_moment(p, run / "run.h5", rng, wall)
        if p.poll() is not None:  # it ended first: start over from scratch
            p.communicate()
            finished_early += 1
            shutil.rmtree(run, ignore_errors=True)
            fresh = True
            continue
        kids = descendants(p.pid)
        p.send_signal(signal.SIGKILL)
        p.wait()
        orphans += wait_gone(kids)
        landed += 1
        mid += mid_write(run)
        if not (run / "run.h5").exists():  # killed before the log existed: start afresh
            fresh = True  # (a stale run.h5.tmp is removed by the next run, under its lock)
            continue
        try:
            data = datasets(run)
            with RunLogReader(run) as log:
                n = log.n
        except Exception:  # noqa: BLE001 - counted and reported
            unreadable += 1
            fresh = True
            shutil.rmtree(run, ignore_errors=True)
            continue
        bad_prefix += not same_prefix(data, truth, n)
        fresh = False
    # finish: resume until complete (one more resume unless the last kill hit after the end)
    if fresh:  # the last kill came before the log existed: one plain run to the end
        p = _insr("run", "advection1d", *SETS, "--steps", str(steps), "--out", str(run), "-q")
    else:
        p = _insr("run", "--resume", str(run), "-q")
        resumes += 1
    p.communicate()  # (exit 2 "already complete" when the last kill came after the end)
    identical = complete(run) and same_prefix(datasets(run), truth, None)
    return {
        "what": f"insr run advection1d (tiny, {steps} steps)",
        "kills": landed,
        "mid_write": mid,
        "resumes": resumes,
        "runs_that_finished_before_the_kill": finished_early,
        "unreadable_logs": unreadable,
        "prefix_mismatches": bad_prefix,
        "final_identical": identical,
        "orphans": len(orphans),
        "uninterrupted_wall_s": round(wall, 1),
    }


def compare_loop(kills: int, steps: int, rng: random.Random, work: Path) -> dict:
    base = ["compare", "representations", "--case", "advection1d", "--reprs", "siren"]
    base += ["--seeds", "0,1", "--workers", "2", "--steps", str(steps), *SETS, "-q"]
    ref = work / "cref"
    t0 = time.perf_counter()
    p = _insr(*base, "--out", str(ref))
    _, err = p.communicate()
    assert p.returncode == 0, err
    wall = time.perf_counter() - t0
    members = ("siren-s0", "siren-s1")
    truth = {m: datasets(ref / m) for m in members}
    out = work / "ckilled"
    landed = mid = resumes = finished_early = unreadable = bad_prefix = 0
    orphans: list[int] = []
    started = False
    while landed < kills:
        resume = started and (out / "sweep.json").exists()
        p = _insr(*base, "--out", str(out), *(["--resume"] if resume else []))
        resumes += resume
        wait_moment(p, out / rng.choice(members) / "run.h5", rng, wall)
        if p.poll() is not None:
            p.communicate()
            finished_early += 1
            shutil.rmtree(out, ignore_errors=True)
            started = False
            continue
        kids = descendants(p.pid)
        p.send_signal(signal.SIGKILL)
        p.wait()
        orphans += wait_gone(kids)  # the workers die with their parent (PDEATHSIG)
        landed += 1
        started = True
        for m in members:
            if not (out / m / "run.h5").exists():
                continue
            mid += mid_write(out / m)
            try:
                data = datasets(out / m)
                with RunLogReader(out / m) as log:
                    n = log.n
            except Exception:  # noqa: BLE001
                unreadable += 1
                continue
            bad_prefix += not same_prefix(data, truth[m], n)
    p = _insr(*base, "--out", str(out), *(["--resume"] if (out / "sweep.json").exists() else []))
    _, err = p.communicate()
    resumes += 1
    identical = all(
        complete(out / m) and same_prefix(datasets(out / m), truth[m], None) for m in members
    )
    return {
        "what": f"insr compare --workers 2 (siren seeds 0,1, tiny, {steps} steps)",
        "kills": landed,
        "mid_write": mid,
        "resumes": resumes,
        "sweeps_that_finished_before_the_kill": finished_early,
        "unreadable_logs": unreadable,
        "prefix_mismatches": bad_prefix,
        "final_identical": identical,
        "orphans": len(orphans),
        "uninterrupted_wall_s": round(wall, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--seed", type=int, default=None, help="random moments (default: fresh)")
    ap.add_argument("--compare", action="store_true", help="also kill insr compare --workers 2")
    ap.add_argument("--save", action="store_true", help="write benchmarks/results/kill_loop.json")
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else random.SystemRandom().randrange(2**31)
    rng = random.Random(seed)
    results = []
    with tempfile.TemporaryDirectory(prefix="insr-kill-loop-") as tmp:
        results.append(run_loop(a.kills, a.steps, rng, Path(tmp)))
        print(json.dumps(results[-1]), flush=True)
        if a.compare:
            results.append(compare_loop(a.kills, a.steps, rng, Path(tmp)))
            print(json.dumps(results[-1]), flush=True)
    print(f"seed {seed} (contended machine; times are wall seconds)")
    for m in MISMATCHES:
        print(f"mismatch: {m}")
    for r in results:
        print(
            f"{r['what']}: {r['kills']} SIGKILLs ({r['mid_write']} mid-write), "
            f"{r['resumes']} resumes, unreadable logs {r['unreadable_logs']}, prefix "
            f"mismatches {r['prefix_mismatches']}, final bit-identical "
            f"{'yes' if r['final_identical'] else 'NO'}, orphaned processes {r['orphans']}"
        )
    if a.save:
        path = ROOT / "benchmarks" / "results" / "kill_loop.json"
        path.write_text(json.dumps({"seed": seed, "results": results}, indent=2) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
