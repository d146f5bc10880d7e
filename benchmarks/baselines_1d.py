"""advection1d at equal memory: every grid baseline against the neural members.

    nice -n 10 env PYTHONPATH=. python benchmarks/baselines_1d.py --compare DIR
    nice -n 10 env PYTHONPATH=. python benchmarks/baselines_1d.py --neural-steps 20

For each neural member (siren-w30, gauss, hashgrid-16L of configs/compare/representations
.toml) and its trained-parameter count P, the grid baselines of this insr run 240 steps
(the case's full length) with at most P stored floats:

- ``semi_lagrangian``: exact characteristic foot + cubic Lagrange (exact in time);
- ``mol_pade4_cd4`` / ``mol_midpoint_cd4``: the network's time schemes (Padé(2,2), the
  midpoint rule) with 4th-order central differences, periodic (scheme-matched);
- ``lax_wendroff`` / ``upwind``: explicit, stable only for Courant ``c = a dt/dx <= 1``;
  run on the largest grid that fits in P with ``c <= 0.8`` (``COURANT``), so they may use
  less memory than P (the table says how much). Not at ``c = 1``: there both schemes
  reduce to the exact shift ``u_i <- u_{i-1}`` (error = the initial sampling only), a
  coincidence of this dt and grid, not a property of the scheme.

Neural rows come from compare directories of ``insr compare representations --case
advection1d`` (``--compare``, repeatable: each member from the directory where its log has
the most steps; whatever steps it ran) or are run here (``--neural-steps``).
Errors: ``max|u - u*|`` and ``||grad u - grad u*|| / ||grad u*||`` on the 401-point
evaluation grid at steps 20 and 240 (``-`` when the run is shorter); a grid's gradient is
its own finite difference interpolated to the evaluation points (``gradient/fd``), a
network's is autodiff (fd in brackets).

Writes ``benchmarks/results/baselines_1d.md`` and ``baselines_1d.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from pathlib import Path

import numpy as np

import insr  # noqa: F401  (OpenMP defaults before torch loads)
from insr import compare as cmp
from insr.config import base_raw, build_config, load_config
from insr.log import RunLogReader
from insr.run import Run, execute

RESULTS = Path(__file__).resolve().parent / "results"
NEURAL = ("siren-w30", "gauss", "hashgrid-16L")
SCHEMES = ("semi_lagrangian", "mol_pade4_cd4", "mol_midpoint_cd4", "lax_wendroff", "upwind")
EXPLICIT = ("lax_wendroff", "upwind")
STEPS = (20, 240)
COURANT = 0.8


def metrics_at(log: Path, steps: tuple[int, ...]) -> dict:
    with RunLogReader(log) as r:
        m = {k: np.asarray(v, dtype=float) for k, v in r.metrics().items()}
        st = np.asarray(r.series("step")) if r.has("step") else np.arange(r.n)
        a = dict(r.attrs)
    out: dict = {"n_params": int(a["n_params"]), "scheme": cmp.scheme_label(a)}
    for s in steps:
        idx = np.nonzero(st == s)[0]
        for k in ("field_max_error", "gradient_rel_error_autodiff", "gradient_rel_error_fd"):
            if k in m and idx.size:
                out[f"{k}@{s}"] = float(m[k][idx[0]])
    return out


def neural_members() -> dict[str, cmp.Member]:
    ms = {m.name: m for m in cmp.select_members("representations", None)}
    return {n: ms[n] for n in NEURAL}


def longest_log(compare_dirs: list[Path], name: str) -> Path:
    """The member's log with the most logged rows over ``compare_dirs``."""
    logs = [d / name / "run.h5" for d in compare_dirs if (d / name / "run.h5").exists()]
    if not logs:
        raise SystemExit(f"member {name} has no run.h5 in {', '.join(map(str, compare_dirs))}")

    def rows(p: Path) -> int:
        with RunLogReader(p) as r:
            return int(r.n)

    return max(logs, key=rows)


def neural_rows(compare_dirs: list[Path], steps: int) -> dict[str, dict]:
    out = {}
    for name, m in neural_members().items():
        if compare_dirs:
            log = longest_log(compare_dirs, name)
            out[name] = {**metrics_at(log, STEPS), "source": str(log)}
            continue
        raw = cmp.apply_sets(
            cmp.member_raw(base_raw("advection1d"), [], m), [f"case.steps={steps}"]
        )
        with tempfile.TemporaryDirectory() as tmp:
            execute(build_config(raw), Path(tmp) / "r", overwrite=True)
            out[name] = metrics_at(Path(tmp) / "r" / "run.h5", STEPS)
    return out


def trained_params(name: str) -> int:
    m = neural_members()[name]
    return Run(build_config(cmp.member_raw(base_raw("advection1d"), [], m))).n_params


def grid_row(scheme: str, budget: int) -> dict:
    cfg0 = load_config("advection1d")
    (lo, hi), a, dt = cfg0.case.domain[0], abs(cfg0.case.velocity["value"][0]), cfg0.case.dt
    n = budget
    if scheme in EXPLICIT:  # nodal grid: dx = (hi-lo)/(n-1); c = a dt/dx <= COURANT
        n = min(budget, int(math.floor(COURANT * (hi - lo) / (a * dt) + 1e-9)) + 1)
    sets = [
        "representation.kind=grid",
        f"representation.grid.resolution={n}",
        f"representation.grid.scheme={scheme}",
        f"case.steps={max(STEPS)}",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        execute(load_config("advection1d", [], sets), Path(tmp) / "r", overwrite=True)
        return metrics_at(Path(tmp) / "r" / "run.h5", STEPS)


def fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3g}"


def table(results: dict) -> str:
    head = "| member / baseline | scheme | floats | % of member |"
    head += "".join(f" max err @{s} | grad err @{s} |" for s in STEPS)
    lines = [head, "|" + "---|" * (4 + 2 * len(STEPS))]
    for name, block in results["members"].items():
        nr, p = block["neural"], block["params"]
        cells = [f"**{name}**", nr["scheme"], str(nr["n_params"]), "100 %"]
        for s in STEPS:
            ad, fd = (
                nr.get(f"gradient_rel_error_autodiff@{s}"),
                nr.get(f"gradient_rel_error_fd@{s}"),
            )
            grad = "-" if ad is None else f"{fmt(ad)} ({fmt(fd)})"
            cells += [fmt(nr.get(f"field_max_error@{s}")), grad]
        lines.append("| " + " | ".join(cells) + " |")
        for scheme, g in block["grids"].items():
            cells = [f"grid {scheme}", g["scheme"], str(g["n_params"])]
            cells.append(f"{100.0 * g['n_params'] / p:.0f} %")
            for s in STEPS:
                cells += [
                    fmt(g.get(f"field_max_error@{s}")),
                    fmt(g.get(f"gradient_rel_error_fd@{s}")),
                ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--compare",
        type=Path,
        action="append",
        default=[],
        help="compare dir of advection1d (neural rows); repeatable: each member from the"
        " dir where it logged the most steps",
    )
    ap.add_argument("--neural-steps", type=int, default=20, help="steps if run here")
    args = ap.parse_args()
    neural = neural_rows(args.compare, args.neural_steps)
    results: dict = {
        "neural_source": (
            ", ".join(map(str, args.compare)) if args.compare else f"run here, {args.neural_steps}"
        ),
        "members": {},
    }
    for name in NEURAL:
        p = trained_params(name)
        assert p == neural[name]["n_params"], (name, p, neural[name]["n_params"])
        grids = {s: grid_row(s, p) for s in SCHEMES}
        results["members"][name] = {"params": p, "neural": neural[name], "grids": grids}
        print(name, p, json.dumps(grids), flush=True)
    md = table(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "baselines_1d.json").write_text(json.dumps(results, indent=1))
    (RESULTS / "baselines_1d.md").write_text(
        "# advection1d baselines at equal memory (benchmarks/baselines_1d.py)\n\n"
        f"Neural rows: {results['neural_source']}. Grid rows: 240 steps each.\n\n" + md + "\n"
    )
    print(md)


if __name__ == "__main__":
    main()
