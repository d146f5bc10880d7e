"""A study's report: ``report.md``, ``summary.json`` and one figure per claim."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from insr.errors import UsageError
from insr.log import RunLogReader
from insr.study.claims import DERIVED, ClaimResult, _derived
from insr.study.spec import Quantity, Study


def quantity_series(reader: RunLogReader, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of a quantity over every logged step of one run."""
    steps = np.asarray(reader.series("step")).astype(int)
    fn = _derived(name)
    if fn is not None:
        return steps, np.array([fn(reader, i) for i in range(steps.size)])
    return steps, np.asarray(reader.series(f"metrics/{name}"), dtype=float)


def claim_figure(
    result: ClaimResult, study: Study, logs: Mapping[str, Path | None], out: Path
) -> Path:
    """Each quantity of the claim over steps (one line per run), the points read marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    claim = next(c for c in study.claims if c.id == result.id)
    quantities = [Quantity.parse(q, claim.id) for q in claim.quantities_text()]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    read = {v.quantity: v for v in result.values}
    for q in quantities:
        path = logs.get(q.run)
        if path is None:
            continue
        try:
            with RunLogReader(path) as reader:
                steps, values = quantity_series(reader, q.name)
        except UsageError:
            continue
        (line,) = ax.plot(steps, values, label=f"{q.run}: {q.name}")
        v = read.get(str(q))
        if v is not None:
            ax.plot([v.step], [v.value], "o", color=line.get_color())
    ax.set_xlabel("time step")
    ax.set_ylabel("value (log scale)")
    if ax.lines and all(np.all(np.asarray(ln.get_ydata()) > 0) for ln in ax.lines):
        ax.set_yscale("log")
    ax.set_title(f"{result.id}: {result.verdict}", fontsize=11)
    if ax.lines:
        ax.legend(fontsize=8)
    else:
        ax.text(
            0.5, 0.5, result.reason, ha="center", va="center", transform=ax.transAxes, wrap=True
        )
    fig.tight_layout()
    path = out / f"claim-{result.id}.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def _md_escape(s: str) -> str:
    return s.replace("|", "\\|")


def _header(study: Study, meta: dict[str, Any], runs: list[dict[str, Any]]) -> list[str]:
    """Title, mode and wall time, the full-study estimate (quick mode), failed runs."""
    lines = [
        f"# Study: {study.info.name}",
        "",
        study.info.description,
        "",
        f"Mode: {'quick' if meta.get('quick') else 'full'}; "
        f"wall time {meta.get('wall_seconds', 0):.0f} s.",
        "",
    ]
    est = meta.get("estimated_full_seconds_one_worker")
    if meta.get("quick") and est is not None:
        lines += [
            f"Estimated full study (every run at its full step count): about {est / 3600:.1f} h "
            "of one worker, from this run's per-step wall times (step 0 + mean later step x "
            "steps; an estimate); divide by the workers for a lower bound on wall time.",
            "",
        ]
    failed = [r for r in runs if not r["complete"]]
    if failed:
        lines += [
            f"**{len(failed)} of {len(runs)} runs did not complete** (the claims that need "
            "them are inconclusive): "
            + "; ".join(f"`{r['run']}` {r['status']}: {r['reason']}" for r in failed),
            "",
        ]
    return lines


def _claims(study: Study, results: list[ClaimResult], figures: dict[str, Path]) -> list[str]:
    """The verdict table, then one section per claim with its figure."""
    lines = ["| claim | verdict | statement | numbers | reason |", "|---|---|---|---|---|"]
    for r in results:
        nums = "; ".join(f"{v.quantity} (step {v.step}) = {v.value:.4g}" for v in r.values)
        lines.append(
            f"| {r.id} | **{r.verdict}** | {_md_escape(r.statement)} | {_md_escape(nums)} | "
            f"{_md_escape(r.reason)} |"
        )
    lines.append("")
    for r in results:
        claim = next(c for c in study.claims if c.id == r.id)
        lines += [f"## {r.id}: {r.verdict}", "", claim.text, ""]
        if claim.note:
            lines += [claim.note, ""]
        lines += [f"Statement: `{r.statement}` — {r.reason}.", ""]
        lines += [f"![{r.id}]({figures[r.id].name})", ""]
    return lines


def _runs_table(runs: list[dict[str, Any]]) -> list[str]:
    """One row per run: status, wall time of this call and of the log's own steps."""
    if not runs:
        return []
    lines = ["## Runs", ""]
    lines += ["| run | case | steps | status | wall s (this call) | log's steps s | note |"]
    lines += ["|---|---|---|---|---|---|---|"]
    for row in runs:
        lines.append(
            f"| {row['run']} | {row['case']} | {row['steps']} | {_md_escape(row['status'])} "
            f"| {row['seconds']:.0f} | {row.get('log_seconds', 0.0):.0f} "
            f"| {_md_escape(row['reason'])} |"
        )
    return [*lines, ""]


def write_report(
    study: Study,
    results: list[ClaimResult],
    logs: Mapping[str, Path | None],
    out: Path,
    meta: dict[str, Any],
    runs: list[dict[str, Any]] | None = None,
) -> tuple[Path, Path]:
    """Write report.md, summary.json and claim-<id>.png into ``out``; return the two paths.

    ``runs``: one row per run (run, case, steps, status, seconds, reason, complete); runs
    that did not complete are named at the top of the report."""
    runs = runs or []
    figures = {r.id: claim_figure(r, study, logs, out) for r in results}
    lines = [*_header(study, meta, runs), *_claims(study, results, figures), *_runs_table(runs)]
    lines += ["## Derived quantities", ""]
    lines += [f"- `{k}`" for k in [*DERIVED, "gradient_peak_<strategy>"]]
    report = out / "report.md"
    report.write_text("\n".join(lines) + "\n")
    summary = out / "summary.json"
    data = {
        **meta,
        "study": study.info.name,
        "claims": [asdict(r) for r in results],
        "run_outcomes": runs,
        "runs": {k: (str(v) if v else None) for k, v in logs.items()},
    }
    summary.write_text(json.dumps(data, indent=2))
    return report, summary
