"""`insr compare` with a member that cannot fit (a 3-level, base-256 hash grid on a tiny
budget): reported failed, never complete, in the table and CSV, and the exit code is 1
(a member that accepted a poor fit with run.on_poor_fit = "continue" is shown, not failed)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from insr.cli import app
from insr.render.figures import member_label
from insr.render.sources import Source

H3 = [
    "representation.kind=hashgrid",
    "representation.hashgrid.n_levels=3",
    "representation.hashgrid.base_resolution=256",
    "solver.init.max_iters=5",
    "solver.max_iters=5",
]


def test_compare_reports_a_member_that_cannot_fit_and_exits_non_zero(tmp_path: Path) -> None:
    members = tmp_path / "members.toml"
    members.write_text(
        f'[[member]]\nname = "h3"\nset = {H3!r}\n'
        f'[[member]]\nname = "h3-on"\nset = {[*H3, "run.on_poor_fit=continue"]!r}\n'
    )
    out = tmp_path / "cmp"
    args = ["compare", "representations", "--case", "advection2d", "--reprs", str(members)]
    args += ["--steps", "1", "--out", str(out), "-q", "--workers", "1"]
    args += ["--set", "solver.samples=128", "--set", "eval.resolution=17"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 1, r.output
    last = [ln for ln in r.output.splitlines() if ln.startswith("error:")]
    assert len(last) == 1 and "did not complete: h3" in last[0], r.output
    # h3-on asked to run on (run.on_poor_fit = "continue"): shown failed, but it does not
    # fail the sweep by itself
    assert "h3-on" not in last[0]
    with open(out / "summary.csv") as f:
        rows = {row["member"]: row for row in csv.DictReader(f)}
    assert rows["h3"]["status"] == "failed fit at step 0" and rows["h3"]["verdict"] == "failed"
    # the one-line reason names the preset situation: the numerics that ran, other kinds
    assert "numerics from configs/presets/hashgrid.toml:advection.2d" in rows["h3"]["reason"]
    assert rows["h3-on"]["status"] == "complete (failed fit from step 0)"
    assert rows["h3-on"]["verdict"] == "failed" and rows["h3-on"]["verdict_from_step"] == "0"
    assert "verdict" in r.output  # the table's column


class _Reader:
    def __init__(self, verdict: str) -> None:
        self.attrs = {"fit_verdict": verdict}


def test_figures_mark_members_with_a_bad_verdict() -> None:
    steps = np.arange(2)
    assert member_label(Source("a", _Reader("ok"), steps)) == "a"
    assert member_label(Source("b", _Reader("poor"), steps)) == "b [poor fit]"
    assert member_label(Source("c", _Reader("failed"), steps)) == "c [failed fit]"
