"""The benchmark suite: ``PYTHONPATH=. python benchmarks/run.py [--quick] [--steps N]``.

Prints and writes to ``benchmarks/results/suite-<time>.json``:

1. advection1d on the defaults: time per step, iterations per step, errors at step 10
   and the last step, time to reach step 10 (and its error), peak memory;
2. the reference recipe (double-backward autodiff, Adam lr 1e-4, 5000 resampled points,
   fixed iteration counts) run for a few capped steps *in the same invocation*; its
   ms/iteration is extrapolated to the full recipe (20,000 iterations at step 0, ~5,000
   per step -- PERFORMANCE-NOTES) and labelled as such;
3. the derivative alone: one Adam iteration, closed form vs double backward;
4. a scaling table: ms per iteration vs samples and vs hidden width;
5. taylor_green when that case exists (skipped with a message otherwise).

The machine may be shared: ratios within one invocation are the figures to trust.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import insr  # noqa: E402,F401  (OpenMP defaults before torch loads)
from benchmarks import derivative_cost  # noqa: E402
from benchmarks.common import interleaved, write_json  # noqa: E402
from insr.config import CASES_DIR  # noqa: E402
from insr.settings import SolverConfig  # noqa: E402

REF_ITERS_STEP0, REF_ITERS_STEP = 20000, 5000  # the original recipe (PERFORMANCE-NOTES)
REFERENCE = [
    "derivative.loss=autodiff",
    "solver.optimizer=adam",
    "solver.init.optimizer=adam",
    "solver.lr=1e-4",
    "solver.init.lr=1e-4",
    "solver.samples=5000",
    "solver.resample_every=1",
    "solver.substeps=1",
    "solver.time_scheme=midpoint",
    "derivative.sobolev_weight=0",
    "solver.rel_tol=0.0",
    "solver.init.rel_tol=0.0",
    "representation.siren.omega0=30",
    # back to the default: the advection1d preset's L-BFGS history is refused under Adam
    f"solver.lbfgs_history={SolverConfig().lbfgs_history}",
]


def case_run(case: str, steps: int, sets: list[str]) -> dict:
    """One configuration in a fresh process (own peak memory, clean OpenMP state)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "benchmarks.case_run", case, str(steps), *sets]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"benchmark run failed: {' '.join(cmd)}\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _at(r: dict, key: str, step: int) -> float:
    v = r["metrics"].get(key)
    return float(v[min(step, len(v) - 1)]) if v else float("nan")


def advection(steps: int, ref_steps: int, ref_iters: int) -> dict:
    ours = case_run("advection1d", steps, [])
    ref = case_run(
        "advection1d",
        ref_steps,
        [*REFERENCE, f"solver.max_iters={ref_iters}", f"solver.init.max_iters={ref_iters}"],
    )
    ref_ms = 1e3 * ref["total_seconds"] / (ref["iterations_step0"] + ref_steps * ref_iters)
    k = min(10, steps)
    ours_t10 = ours["cumulative_seconds"][k]
    ref_t10 = 1e-3 * ref_ms * (REF_ITERS_STEP0 + k * REF_ITERS_STEP)
    res = {
        "ours": ours,
        "reference_short": ref,
        "reference_ms_per_iteration": ref_ms,
        "reference_seconds_per_step_extrapolated": 1e-3 * ref_ms * REF_ITERS_STEP,
        "reference_seconds_to_step10_extrapolated": ref_t10,
        "ours_seconds_to_step10": ours_t10,
        "time_to_accuracy_ratio": ref_t10 / ours_t10,
        "per_step_ratio": 1e-3 * ref_ms * REF_ITERS_STEP / ours["seconds_per_step"],
    }
    g = "gradient_rel_error_autodiff"
    print(
        f"\n== advection1d: defaults, {steps} steps (reference: {ref_steps} steps capped at "
        f"{ref_iters} iterations, extrapolated to {REF_ITERS_STEP0}/{REF_ITERS_STEP})"
    )
    print(f"{'':34s}{'ours':>12s}{'reference':>14s}")
    print(
        f"{'seconds per step':34s}{ours['seconds_per_step']:12.3f}"
        f"{res['reference_seconds_per_step_extrapolated']:14.1f}  (extrapolated)"
    )
    print(f"{'iterations per step':34s}{ours['iterations_per_step']:12.0f}{REF_ITERS_STEP:14d}")
    print(
        f"{'step-0 seconds / iterations':34s}{ours['step0_seconds']:7.2f} / "
        f"{ours['iterations_step0']:.0f}"
    )
    print(
        f"{'ms per iteration':34s}{1e3 * ours['total_seconds'] / (ours['iterations_step0'] + steps * ours['iterations_per_step']):12.3f}{ref_ms:14.3f}"  # noqa: E501
    )
    print(f"{'seconds to step ' + str(k):34s}{ours_t10:12.1f}{ref_t10:14.0f}  (extrapolated)")
    print(
        f"{'gradient rel. error at step ' + str(k):34s}{_at(ours, g, k):12.4f}{'0.0091':>14s}  (notes)"  # noqa: E501
    )
    print(
        f"{'max |u-u*| at step ' + str(k):34s}{_at(ours, 'field_max_error', k):12.2e}{'2.5e-03':>14s}  (notes)"  # noqa: E501
    )
    print(f"{'gradient rel. error, last step':34s}{_at(ours, g, steps):12.4f}")
    print(f"{'max |u-u*|, last step':34s}{_at(ours, 'field_max_error', steps):12.2e}")
    print(f"{'peak RSS (MiB)':34s}{ours['peak_rss_mib']:12.0f}{ref['peak_rss_mib']:14.0f}")
    ok = _at(ours, g, k) <= 0.0091
    verdict = (
        "at equal or better error"
        if ok
        else (f"NOT at equal error: ours {_at(ours, g, k):.4f} vs reference 0.0091")
    )
    ratio = res["time_to_accuracy_ratio"]
    print(
        f"speed ratio reference/ours to step {k}: {ratio:.0f}x, per step: "
        f"{res['per_step_ratio']:.0f}x ({verdict})"
    )
    return res


def derivatives(rounds: int, reps: int) -> dict:
    out = {}
    print("\n== one Adam iteration of the advection loss (ms, interleaved)")
    for n in (2000, 5000):
        ms = derivative_cost.measure(samples=n, rounds=rounds, reps=reps)
        base = ms["autodiff (double backward)"]
        for name, v in ms.items():
            print(f"  N={n:5d}  {name:40s}{v:8.3f} ms  {v / base:5.2f}x")
        out[str(n)] = ms
    return out


def scaling(rounds: int, reps: int) -> dict:
    print("\n== scaling: ms per iteration (closed form, hand-written backward)")
    fns = {
        f"samples={n}": derivative_cost.iteration_fn(
            "advection1d", ["derivative.loss=closed", f"solver.samples={n}"]
        )
        for n in (500, 1000, 2000, 4000, 8000, 16000)
    }
    by_n = {k: 1e3 * v for k, v in interleaved(fns, rounds=rounds, reps=reps).items()}
    fns = {
        f"width={w}": derivative_cost.iteration_fn(
            "advection1d",
            [
                "derivative.loss=closed",
                "solver.samples=2000",
                f"representation.siren.hidden_features={w}",
            ],
        )
        for w in (10, 20, 40, 80, 160)
    }
    by_w = {k: 1e3 * v for k, v in interleaved(fns, rounds=rounds, reps=reps).items()}
    for k, v in {**by_n, **by_w}.items():
        print(f"  {k:16s}{v:8.3f} ms")
    return {"samples": by_n, "width": by_w}


def taylor_green() -> dict | None:
    if not (CASES_DIR / "taylor_green.toml").exists():
        print("\n== taylor_green: skipped (no insr/data/cases/taylor_green.toml on this branch)")
        return None
    r = case_run("taylor_green", 1, [])
    print(
        f"\n== taylor_green: 1 step in {r['seconds_per_step']:.1f} s; metrics at step 1: "
        + ", ".join(f"{k}={v[-1]:.4g}" for k, v in r["metrics"].items() if "error" in k)
    )
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20, help="advection1d steps of our run")
    ap.add_argument("--ref-steps", type=int, default=2, help="reference steps (capped)")
    ap.add_argument("--ref-iters", type=int, default=500, help="reference iterations per step")
    ap.add_argument("--quick", action="store_true", help="fewer rounds, no scaling table")
    ap.add_argument(
        "--skip",
        nargs="*",
        default=[],
        help="parts to skip: advection derivatives scaling taylor_green",
    )
    a = ap.parse_args()
    rounds, reps = (3, 10) if a.quick else (5, 20)
    results: dict = {}
    if "advection" not in a.skip:
        results["advection1d"] = advection(a.steps, a.ref_steps, a.ref_iters)
    if "derivatives" not in a.skip:
        results["derivatives_ms_per_iteration"] = derivatives(rounds, reps)
    if "scaling" not in a.skip and not a.quick:
        results["scaling_ms_per_iteration"] = scaling(rounds, reps)
    if "taylor_green" not in a.skip:
        results["taylor_green"] = taylor_green()
    path = write_json("suite", results)
    print(f"\nresults: {path}")


if __name__ == "__main__":
    main()
