"""Local process pool vs Ray on the same small sweep, and Ray's overhead per member.

Runs `insr compare representations` on advection1d (siren, seeds 0..N-1, tiny budgets)
through `--executor local --workers 2` and `--executor ray` (a local Ray cluster with
2 CPUs started in this process, its start-up timed separately), alternating, ROUNDS times.
Prints per run: sweep wall time, the summed time members spent inside their work
function (`seconds` of the end records), and the overhead per member
(wall × 2 slots − Σ member seconds) / members: process or task start, imports, scheduling.

    PYTHONPATH=. python benchmarks/sweep_executors.py [members] [rounds]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from typer.testing import CliRunner

from insr.cli import app

TINY = [
    "solver.max_iters=4",
    "solver.init.max_iters=6",
    "solver.check_every=2",
    "solver.samples=64",
    "eval.resolution=33",
]


def sweep(out: Path, n: int, executor: str) -> tuple[float, float]:
    args = [
        "compare",
        "representations",
        "--case",
        "advection1d",
        "--steps",
        "3",
        "--reprs",
        "siren",
        "--seeds",
        f"0..{n - 1}",
        "--cpus-per-member",
        "1",
        "--out",
        str(out),
        "-q",
        "--executor",
        executor,
    ]
    if executor == "local":
        args += ["--workers", "2"]
    for s in TINY:
        args += ["--set", s]
    t0 = time.perf_counter()
    res = CliRunner().invoke(app, args)
    wall = time.perf_counter() - t0
    assert res.exit_code == 0, res.output
    inside = sum(
        json.loads(p.read_text())["seconds"]
        for p in (out / ".sweep").glob("*-s*.json")
        if not p.name.endswith(".task.json")
    )
    return wall, inside


def main() -> None:
    import ray

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    print(f"ray.init(num_cpus=2): {time.perf_counter() - t0:.1f} s (not counted below)")
    res: dict[str, list[tuple[float, float]]] = {"local": [], "ray": []}
    with tempfile.TemporaryDirectory() as d:
        for r in range(rounds):
            for ex in ("local", "ray"):
                res[ex].append(sweep(Path(d) / f"{ex}{r}", n, ex))
                w, i = res[ex][-1]
                print(
                    f"round {r} {ex:5s}: wall {w:6.1f} s, inside members {i:6.1f} s, "
                    f"overhead/member {(2 * w - i) / n:5.1f} s"
                )
    ray.shutdown()
    lw = sum(w for w, _ in res["local"])
    rw = sum(w for w, _ in res["ray"])
    lo = sum(2 * w - i for w, i in res["local"]) / (n * rounds)
    ro = sum(2 * w - i for w, i in res["ray"]) / (n * rounds)
    print(
        f"{n} members x {rounds} rounds: ray/local wall = {rw / lw:.2f}; overhead per "
        f"member local {lo:.1f} s, ray {ro:.1f} s (ray extra {ro - lo:+.1f} s)"
    )


if __name__ == "__main__":
    main()
