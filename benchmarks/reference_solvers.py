"""Convergence orders and step timings of the classical reference solvers.

Run: ``PYTHONPATH=. python benchmarks/reference_solvers.py``. Prints tables; asserts nothing.
"""

from __future__ import annotations

import time

import numpy as np

from insr.reference import advection1d as A
from insr.reference import euler2d as E
from insr.reference import initial as I


def advection_orders() -> None:
    u0 = A.gaussian_pulse(-1.5, 0.1)
    print("1D advection, Gaussian sigma=0.1 on [-2, 2], a=0.25, t=1, rms error")
    for scheme, courant in (("semi_lagrangian", 0.7), ("lax_wendroff", 0.5), ("upwind", 0.5)):
        errs = []
        for n in (201, 401, 801):
            dx = 4.0 / (n - 1)
            steps = round(1.0 / (courant * dx / 0.25))
            x, U = A.solve(u0, 0.25, (-2.0, 2.0), n, 1.0 / steps, steps, scheme)
            errs.append(float(np.sqrt(np.mean((U[-1] - A.exact(u0, 0.25, x, 1.0)) ** 2))))
        orders = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
        print(f"  {scheme:16s} C={courant}: errors {np.array(errs)} orders {orders}")


def taylor_green_orders() -> None:
    print("2D Taylor-Green, t=0.5, Courant 0.5 (peak speed 1/pi), relative L2 velocity error")
    for interp in ("cubic", "linear"):
        errs = []
        for n in (16, 32, 64, 128):
            steps = int(round(0.5 / (0.5 * (2.0 / n) * np.pi)))
            r = E.solve(
                I.taylor_green,
                n=n,
                dt=0.5 / steps,
                steps=steps,
                save_every=steps,
                interpolation=interp,
            )
            X, Y = np.meshgrid(r["x"], r["y"], indexing="ij")
            ex = np.stack(I.taylor_green(X, Y), axis=-1)
            errs.append(float(np.linalg.norm(r["velocity"][-1] - ex) / np.linalg.norm(ex)))
        orders = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
        print(f"  {interp:6s}: errors {np.array(errs)} orders {orders}")


def step_timings() -> None:
    print("2D Euler time per step (vortex pair, Courant 0.5)")
    for interp in ("cubic", "linear"):
        for n in (64, 128, 256):
            s = E.make_state(I.vortex_pair, n=n, interpolation=interp)
            dt = 0.5 * 2.0 / n
            s = E.step(s, dt)
            reps = 10
            t0 = time.perf_counter()
            for _ in range(reps):
                s = E.step(s, dt)
            ms = 1e3 * (time.perf_counter() - t0) / reps
            print(f"  {interp:6s} n={n:4d}: {ms:7.1f} ms/step")


if __name__ == "__main__":
    advection_orders()
    taylor_green_orders()
    step_timings()
