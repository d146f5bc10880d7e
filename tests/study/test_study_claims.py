"""Claim statements evaluated on synthetic run logs written with the real log writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from insr.log import RunLogWriter
from insr.schema import ConfigError
from insr.study.claims import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, evaluate
from insr.study.spec import parse_study

X = np.linspace(-1.0, 1.0, 9)


def write_log(
    run_dir: Path,
    noise: list[float],
    *,
    status: str = "complete",
    verdict: str | None = None,
    peak: list[float] | None = None,
) -> Path:
    """A log with one row per step: metric gradient_noise_autodiff and a gradient/average
    array whose max |value| is ``peak[k]`` at step k."""
    attrs = {} if verdict is None else {"fit_verdict": verdict}
    w = RunLogWriter.create(run_dir / "run.h5", config={}, axes=[X], attrs=attrs)
    for k, v in enumerate(noise):
        g = np.zeros((X.size, 1, 1))
        g[4, 0, 0] = -(peak[k] if peak else 1.0)
        w.append(
            {"step": np.asarray(k), "gradient/average": g},
            {"gradient_noise_autodiff": v},
        )
    w.close(status)
    return run_dir


def study(claims: list[dict]) -> object:
    runs = {n: {"case": "advection1d", "steps": 3} for n in ("a", "b", "c")}
    return parse_study({"study": {"name": "t"}, "run": runs, "claim": claims}, "test")


COMPARE = {
    "id": "X",
    "text": "a is noisier than 3x b",
    "kind": "compare",
    "left": "a:gradient_noise_autodiff@2",
    "op": ">",
    "factor": 3.0,
    "right": "b:gradient_noise_autodiff@2",
}


def test_compare_true_and_false(tmp_path: Path) -> None:
    logs = {
        "a": write_log(tmp_path / "a", [0.1, 0.2, 0.31]),
        "b": write_log(tmp_path / "b", [0.1, 0.1, 0.1]),
        "c": write_log(tmp_path / "c", [0.1, 0.1, 0.11]),
    }
    flipped = {**COMPARE, "id": "Y", "right": "c:gradient_noise_autodiff@2"}
    res = evaluate(study([COMPARE, flipped]), logs)
    assert res[0].verdict == REPRODUCED  # 0.31 > 3 * 0.1
    assert res[1].verdict == NOT_REPRODUCED  # 0.31 < 3 * 0.11
    assert [v.value for v in res[0].values] == pytest.approx([0.31, 0.1])
    assert [v.step for v in res[0].values] == [2, 2]


def test_poor_fit_verdict_is_inconclusive(tmp_path: Path) -> None:
    logs = {
        "a": write_log(tmp_path / "a", [0.1, 0.2, 0.9]),
        "b": write_log(tmp_path / "b", [0.1, 0.1, 0.1], verdict="poor"),
        "c": None,
    }
    (res,) = evaluate(study([COMPARE]), logs)
    assert res.verdict == INCONCLUSIVE
    assert "'b'" in res.reason and "poor" in res.reason


def test_unfinished_missing_step_and_missing_log_are_inconclusive(tmp_path: Path) -> None:
    logs = {
        "a": write_log(tmp_path / "a", [0.1, 0.2]),  # no step 2
        "b": write_log(tmp_path / "b", [0.1, 0.1, 0.1], status="interrupted"),
        "c": None,
    }
    to_c = {**COMPARE, "id": "Z", "left": "c:gradient_noise_autodiff@0"}
    to_b = {**COMPARE, "id": "W", "left": "b:gradient_noise_autodiff@0"}
    r_a, r_c, r_b = evaluate(study([COMPARE, to_c, to_b]), logs)
    assert r_a.verdict == INCONCLUSIVE and "no step 2" in r_a.reason
    assert r_c.verdict == INCONCLUSIVE and "no log" in r_c.reason
    assert r_b.verdict == INCONCLUSIVE and "interrupted" in r_b.reason


def test_growth_of_a_derived_peak(tmp_path: Path) -> None:
    logs = {
        "a": write_log(tmp_path / "a", [0.1, 0.1, 0.1], peak=[2.0, 2.1, 2.3]),
        "b": None,
        "c": None,
    }
    claim = {
        "id": "G",
        "text": "peaks grow",
        "kind": "growth",
        "quantity": "a:gradient_peak_average@0",
        "to_step": "last",
        "op": ">",
        "threshold": 0.10,
    }
    (res,) = evaluate(study([claim]), logs)
    assert res.verdict == REPRODUCED  # (2.3 - 2.0) / 2.0 = 0.15 > 0.10
    assert res.values[-1].value == pytest.approx(0.15)
    strict = {**claim, "threshold": 0.2}
    (res,) = evaluate(study([strict]), logs)
    assert res.verdict == NOT_REPRODUCED


def test_best_and_quick_step_mapping(tmp_path: Path) -> None:
    logs = {
        "a": write_log(tmp_path / "a", [0.5, 0.4]),
        "b": write_log(tmp_path / "b", [0.3, 0.2]),
        "c": write_log(tmp_path / "c", [0.6, 0.1]),
    }
    claim = {
        "id": "B",
        "text": "b is best",
        "kind": "best",
        "candidates": [
            "a:gradient_noise_autodiff@0",
            "b:gradient_noise_autodiff@0",
            "c:gradient_noise_autodiff@0",
        ],
        "expect": "b",
    }
    (res,) = evaluate(study([claim]), logs)
    assert res.verdict == REPRODUCED
    later = {**claim, "candidates": [c.replace("@0", "@10") for c in claim["candidates"]]}
    # full-study step 10 read at step 1 (quick: 10 * 1 / 10)
    (res,) = evaluate(study([later]), logs, step_map=lambda run, k: k // 10)
    assert res.verdict == NOT_REPRODUCED  # c (0.1) ranks first at step 1
    assert {v.step for v in res.values} == {1}


@pytest.mark.parametrize(
    "bad, message",
    [
        ({**COMPARE, "left": "a:gradient_noise_autodiff"}, "RUN:NAME@STEP"),
        ({**COMPARE, "right": "zzz:gradient_noise_autodiff@1"}, "run 'zzz'"),
        ({**COMPARE, "kind": "bigger"}, "kind"),
        ({**{k: v for k, v in COMPARE.items() if k != "right"}}, "claim[0].right"),
        ({**COMPARE, "op": "=="}, "op"),
    ],
)
def test_bad_claims_are_one_line_errors(bad: dict, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        study([bad])
    assert message in str(e.value) and "\n" not in str(e.value)


def test_full_study_estimate_from_per_step_wall_times(tmp_path: Path) -> None:
    from insr.study.execute import estimate_seconds

    def timed(run_dir: Path, steps: list[int], wall: list[float]) -> Path:
        w = RunLogWriter.create(run_dir / "run.h5", config={}, axes=[X], attrs={})
        for k, s in zip(steps, wall, strict=True):
            w.append({"step": np.asarray(k)}, {"wall_seconds": s})
        w.close("complete")
        return run_dir

    runs = {
        "a": {"case": "advection1d", "steps": 30, "quick_steps": 3},
        "b": {"case": "advection1d", "steps": 0},
    }
    claim = {**COMPARE, "left": "a:wall_seconds@0", "right": "b:wall_seconds@0"}
    s = parse_study({"study": {"name": "t"}, "run": runs, "claim": [claim]}, "test")
    logs = {
        "a": timed(tmp_path / "a", [0, 1, 3], [10.0, 2.0, 8.0]),  # 2 s/step, then 4 s/step
        "b": timed(tmp_path / "b", [0], [7.0]),
    }
    # a: 10 + 30 * mean(2, 8 / 2) = 100; b: its step-0 fit, 7
    assert estimate_seconds(s, logs) == pytest.approx(107.0)
    assert estimate_seconds(s, logs, full=False) == pytest.approx(10 + 3 * 3.0 + 7)
    assert estimate_seconds(s, {**logs, "b": None}) is None
