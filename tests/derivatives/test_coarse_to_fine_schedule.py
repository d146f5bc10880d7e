"""The per-step coarse-to-fine schedule: level and FD-step values at given iterations.

Expected values are written out by hand from the schedule's definition (module docstring of
insr/derivatives/coarse_to_fine.py): with cells c_0 > ... > c_{L-1}, k0 start levels and
``interval`` iterations per level, after t iterations k = min(L, k0 + t // interval) levels
are active and h = max(c_0 (h_end / c_0)^((t / interval) / (L - k0)), c_{k-1}) while k < L,
h = h_end once k = L.
"""

from __future__ import annotations

import pytest

from insr.derivatives.coarse_to_fine import CoarseToFineSchedule
from insr.fields import build_field

# five levels, cells halving: 0.8, 0.4, 0.2, 0.1, 0.05
CELLS = [0.8, 0.4, 0.2, 0.1, 0.05]


def test_step_iterations_ramp_restarts_every_step() -> None:
    s = CoarseToFineSchedule(CELLS, start_levels=2, interval=4, unit="step_iterations")
    # 3 levels to add over 12 iterations; h from 0.8 down to 0.05 = 0.8 / 16:
    # h(t) = 0.8 * 16^(-t/12), i.e. halves every 3 iterations
    expected = {0: (2, 0.8), 3: (2, 0.4), 4: (3, 0.8 * 16 ** (-1 / 3)), 6: (3, 0.2)}
    expected |= {9: (4, 0.1), 12: (5, 0.05), 40: (5, 0.05)}
    for t, (k, h) in expected.items():
        assert s.active_levels(t) == k, t
        assert s.h(t) == pytest.approx(h, rel=1e-12), t
    s.set_step(0)
    for it in range(7):
        s.on_iteration(it)
    assert s.t == 7 and s.active_levels() == 3
    s.set_step(1)  # a new step: the ramp starts again
    assert s.t == 0 and s.active_levels() == 2 and s.h() == pytest.approx(0.8)
    for it in range(20):
        s.on_iteration(it)
    assert s.active_levels() == 5 and s.h() == pytest.approx(0.05)


def test_iterations_unit_ramps_once_over_the_run() -> None:
    s = CoarseToFineSchedule(CELLS, start_levels=2, interval=4, unit="iterations")
    for it in range(10):
        s.on_iteration(it)
    s.set_step(1)  # steps do not reset it
    assert s.t == 10 and s.active_levels() == 4
    # decayed step 0.8 * 16^(-10/12) = 0.079 is below the newest active cell 0.1
    assert s.h() == pytest.approx(0.1)


def test_h_never_below_newest_active_cell() -> None:
    s = CoarseToFineSchedule(CELLS, start_levels=2, interval=5, unit="step_iterations")
    for t in range(0, 30):
        assert s.h(t) >= CELLS[s.active_levels(t) - 1] * (1 - 1e-12), t
    assert s.h(0) == CELLS[0] > CELLS[1]  # starts beyond the newest active level's cell


def test_h_end_rules_on_a_hashgrid() -> None:
    f = build_field("hashgrid", {"n_levels": 6, "log2_hashmap_size": 10}, [[-2, 2]], 1)

    def cell(level: int) -> float:  # tcnn rule: scale_l = 16 * 1.5^l - 1 on a length-4 box
        return 4.0 / (16 * 1.5**level - 1.0)

    for rule, end in [("auto", cell(5)), ("cell", cell(5)), ("2cell", 2 * cell(5)), (0.02, 0.02)]:
        s = CoarseToFineSchedule.for_field(f, start_levels=2, interval=3, h_end=rule)
        assert s.h(0) == pytest.approx(cell(0), rel=1e-12)
        assert s.h(12) == pytest.approx(end, rel=1e-12), rule
        # halfway (2 of 4 levels added): the geometric mean of the two ends, or the
        # newest active cell, cell(3) = 0.0755, where that is larger (h_end = 0.02: 0.073)
        half = max((cell(0) * end) ** 0.5, cell(3))
        assert s.h(6) == pytest.approx(half, rel=1e-12), rule
    assert f.n_active_levels == 2  # for_field applies the mask
    with pytest.raises(ValueError, match="h_end"):
        CoarseToFineSchedule.for_field(f, h_end="half")


def test_single_level_span_uses_h_end() -> None:
    s = CoarseToFineSchedule([0.3, 0.1], start_levels=2, interval=1, h_end=0.2)
    assert s.h(0) == 0.2 and s.active_levels(0) == 2
    s = CoarseToFineSchedule([0.3, 0.1], start_levels=1, interval=2, h_end=0.01)
    assert s.h(1) == 0.3  # decayed 0.3 (0.01 / 0.3)^(1/2) = 0.055 < the active cell 0.3
    assert s.h(2) == 0.01  # the last level is on: h_end, even below the finest cell
    with pytest.raises(ValueError, match="unit"):
        CoarseToFineSchedule(CELLS, unit="epochs")


def test_advection_restarts_the_ramp_each_step() -> None:
    import torch

    from insr.config import load_config
    from insr.run import Run
    from insr.stepper import Budget, optimize

    cfg = load_config(
        "advection1d",
        sets=[
            "representation.kind=hashgrid",
            "representation.hashgrid.log2_hashmap_size=10",
            "derivative.loss=coarse_to_fine",
            "derivative.coarse_to_fine_unit=step_iterations",
            "derivative.coarse_to_fine_interval=2",
            "solver.time_scheme=midpoint",
            "solver.samples=32",
            "eval.resolution=33",
        ],
    )
    eq = Run(cfg).equation
    gen = torch.Generator().manual_seed(0)
    for p in eq.initial_problems():
        optimize(p, Budget(lr=1e-3, max_iters=5, rel_tol=0.0), gen)
    assert eq.schedule.t == 5 and eq.field.n_active_levels == 6
    (p,) = eq.step_problems(1, cfg.case.dt, cfg.case.dt)
    assert eq.schedule.t == 0 and eq.field.n_active_levels == 4
    optimize(p, Budget(lr=1e-3, max_iters=3, rel_tol=0.0), gen)
    assert eq.field.n_active_levels == 5


def test_lbfgs_fit_advances_the_schedule() -> None:
    import torch

    from insr.config import load_config
    from insr.run import Run
    from insr.stepper import Budget, optimize

    cfg = load_config(
        "advection1d",
        sets=[
            "representation.kind=hashgrid",
            "representation.hashgrid.log2_hashmap_size=10",
            "derivative.loss=coarse_to_fine",
            "derivative.coarse_to_fine_interval=5",
            "solver.time_scheme=midpoint",
            "solver.samples=32",
            "eval.resolution=33",
        ],
    )
    eq = Run(cfg).equation
    (p,) = eq.initial_problems()
    b = Budget(lr=1.0, optimizer="lbfgs", max_iters=10, check_every=5, rel_tol=0.0)
    res = optimize(p, b, torch.Generator().manual_seed(0))
    # one call per loss evaluation, in chunks of check_every: levels follow the count
    assert eq.schedule.t == res.iterations >= 5
    assert eq.field.n_active_levels == min(16, 4 + res.iterations // 5)
