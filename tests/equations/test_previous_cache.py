"""The previous step's loss terms computed once per sample set (``PerSampleSet``): the
cached path gives the same losses and parameter gradients, bit for bit, as recomputing them
on every call, and it recomputes whenever the samples change."""

from __future__ import annotations

import pytest
import torch

from insr.config import load_config
from insr.equations import advection, base, fluid
from insr.equations.base import PerSampleSet
from insr.run import Run


def test_computed_once_per_sample_tensor_and_recomputed_when_it_changes():
    calls = []

    def fn(x: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        return 2.0 * x

    cache = PerSampleSet(fn)
    x = torch.rand(4, 1)
    first = cache(x)
    assert cache(x) is first and len(calls) == 1
    x.mul_(3.0)  # changed in place: version bump
    assert torch.equal(cache(x), 2.0 * x) and len(calls) == 2
    y = x.clone()  # equal values, another sample set
    cache(y)
    assert len(calls) == 3
    cache(x)  # only the last set is remembered
    assert len(calls) == 4


def test_no_graph_in_cached_terms():
    w = torch.ones(1, requires_grad=True)
    assert PerSampleSet(lambda x: w * x)(torch.rand(3, 1)).grad_fn is None


@pytest.mark.parametrize("enabled,reuse", [(False, True), (True, False)])
def test_disabled_or_not_reusable_recomputes_every_call(monkeypatch, enabled, reuse):
    monkeypatch.setattr(PerSampleSet, "enabled", enabled)
    cache = PerSampleSet(lambda x: x + 1.0, reuse=reuse)
    x = torch.rand(3, 1)
    for _ in range(3):
        cache(x)
    assert cache.evaluations == 3


CASES = {
    "advection1d pade4 (default)": ("advection1d", ["solver.samples=200"]),
    "advection1d midpoint": (
        "advection1d",
        ["solver.samples=200", "solver.time_scheme=midpoint"],
    ),
    "advection1d midpoint + gradient supervision, fd": (
        "advection1d",
        [
            "solver.samples=200",
            "solver.time_scheme=midpoint",
            "derivative.gradient_supervision=0.1",
            "derivative.loss=fd",
        ],
    ),
    "advection2d rotation pade4": ("advection2d", ["solver.samples=128"]),
    "taylor_green": ("taylor_green", ["solver.samples=128"]),
}


def _evaluations(case: str, sets: list[str], monkeypatch) -> tuple[list, list]:
    """Losses and parameter gradients of every sub-problem of step 1, each loss evaluated
    three times on one sample set (as L-BFGS does), plus the PerSampleSet instances."""
    made: list[PerSampleSet] = []

    class Recording(PerSampleSet):
        def __init__(self, *a, **k) -> None:
            super().__init__(*a, **k)
            made.append(self)

    for mod in (base, advection, fluid):
        monkeypatch.setattr(mod, "PerSampleSet", Recording)
    cfg = load_config(case, [], sets)
    torch.manual_seed(0)
    eq = Run(cfg).equation
    out = []
    gen = torch.Generator().manual_seed(7)
    for problem in eq.step_problems(1, cfg.case.dt, cfg.case.dt):
        x = problem.sample(gen)
        for _ in range(3):
            problem.field.zero_grad(set_to_none=True)
            loss = problem.loss(x)
            loss.backward()
            grads = [p.grad.clone() for p in problem.field.parameters() if p.grad is not None]
            out.append((loss.detach().clone(), grads))
        with torch.no_grad():  # move on, as an optimizer would (next stage freezes this)
            for p in problem.field.parameters():
                p.add_(1e-3 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return out, made


@pytest.mark.parametrize("name", CASES)
def test_cached_path_equals_recomputing_bit_for_bit(name, monkeypatch):
    case, sets = CASES[name]
    cached, made = _evaluations(case, sets, monkeypatch)
    assert made and all(c.evaluations == 1 for c in made)  # one per sample set
    monkeypatch.setattr(PerSampleSet, "enabled", False)
    fresh, made_off = _evaluations(case, sets, monkeypatch)
    assert all(c.evaluations == 3 for c in made_off)
    assert len(cached) == len(fresh)
    for (l_c, g_c), (l_f, g_f) in zip(cached, fresh, strict=True):
        assert torch.equal(l_c, l_f)
        assert len(g_c) == len(g_f) > 0
        assert all(torch.equal(a, b) for a, b in zip(g_c, g_f, strict=True))
