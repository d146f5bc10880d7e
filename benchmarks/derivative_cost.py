"""Cost of one optimizer iteration of the advection loss, per derivative strategy.

Compares, interleaved in one process: autograd double backward, the closed-form sweep
with autograd's backward, the closed form with the hand-written backward
(:class:`insr.fields.mlp.ClosedFormMLP`), and optionally the latter under
``torch.compile``.
"""

from __future__ import annotations

import torch

import insr  # noqa: F401  (OpenMP defaults before torch loads)
from benchmarks.common import config, interleaved
from insr.run import Run
from insr.stepper import Budget, _make_optimizer


def iteration_fn(
    case: str, sets: list[str], *, custom_backward: bool = True, compile_field: bool = False
):
    """A closure running one Adam iteration (sample, loss, backward, step) of step 1."""
    cfg = config(case, sets)
    run = Run(cfg)
    eq = run.equation
    for f in eq.fields.values():
        if hasattr(f, "custom_backward"):
            f.custom_backward = custom_backward
            f.compiled = compile_field
    problem = list(eq.step_problems(1, cfg.case.dt, cfg.case.dt))[0]
    loss_fn = problem.loss
    params = [p for p in problem.field.parameters() if p.requires_grad]
    opt = _make_optimizer(params, Budget(lr=1e-4, max_iters=1))
    gen = torch.Generator().manual_seed(0)

    def one() -> None:
        x = problem.sample(gen)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(x)
        loss.backward()
        opt.step()

    return one


STRATEGIES = {
    "autodiff (double backward)": dict(loss="autodiff", custom_backward=False),
    "closed, autograd backward": dict(loss="closed", custom_backward=False),
    "closed, hand-written backward": dict(loss="closed", custom_backward=True),
}


def measure(
    case: str = "advection1d",
    samples: int = 5000,
    compile_too: bool = False,
    rounds: int = 5,
    reps: int = 20,
    extra: list[str] | None = None,
) -> dict[str, float]:
    """Milliseconds per iteration for each strategy, interleaved."""
    fns = {}
    for name, kw in STRATEGIES.items():
        sets = [f"derivative.loss={kw['loss']}", f"solver.samples={samples}", *(extra or [])]
        fns[name] = iteration_fn(case, sets, custom_backward=kw["custom_backward"])
    if compile_too:
        sets = ["derivative.loss=closed", f"solver.samples={samples}", *(extra or [])]
        fns["closed, torch.compile (run.compile)"] = iteration_fn(
            case, sets, custom_backward=False, compile_field=True
        )
    sec = interleaved(fns, rounds=rounds, reps=reps)
    return {k: 1e3 * v for k, v in sec.items()}


if __name__ == "__main__":
    for k, v in measure(compile_too=False).items():
        print(f"{k:45s} {v:7.3f} ms")
