"""Forward+backward throughput of the pure-torch 2D hash grid (points/s), float32.

Config of PERFORMANCE-NOTES.md: 16 levels x 2 features, T = 2**19, base 16, scale 1.5,
MLP head 32 -> 64 -> 64 -> 1. Prints plain forward+backward and closed-form
value+Jacobian forward+backward, and their ratio (one run, no assertion).
"""

from __future__ import annotations

import sys
import time

import torch

from insr.fields import build_field


def rate(fn, n: int, reps: int) -> tuple[float, float]:
    """Points per wall-clock second and per process CPU-second (robust to a busy machine)."""
    fn()  # warm-up
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(reps):
        fn()
    return n * reps / (time.perf_counter() - t0), n * reps / (time.process_time() - c0)


def main(n: int = 2**16, reps: int = 5) -> None:
    torch.manual_seed(0)
    f = build_field("hashgrid", {"log2_hashmap_size": 19}, [[-1.0, 1.0], [-1.0, 1.0]], 1)
    x = torch.rand(n, 2) * 2 - 1

    def fwd_bwd() -> None:
        f.zero_grad(set_to_none=True)
        f(x).square().mean().backward()

    def jac_bwd() -> None:
        f.zero_grad(set_to_none=True)
        u, jac = f.value_and_jacobian(x)
        (u.square().mean() + jac.square().mean()).backward()

    a = rate(fwd_bwd, n, reps)
    b = rate(jac_bwd, n, reps)
    print(f"threads={torch.get_num_threads()} N={n} params={f.n_params:,}")
    print(
        f"forward+backward:                  {a[0] / 1e6:.3f} M points/s wall, "
        f"{a[1] / 1e6:.3f} M points/CPU-s"
    )
    print(
        f"value+Jacobian (closed) + backward: {b[0] / 1e6:.3f} M points/s wall, "
        f"{b[1] / 1e6:.3f} M points/CPU-s ({a[1] / b[1]:.2f}x the CPU time)"
    )


if __name__ == "__main__":
    main(*(int(v) for v in sys.argv[1:]))
