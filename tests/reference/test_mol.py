"""The scheme-matched grid baseline (insr.reference.mol) converges at its stated orders.

Truths are closed forms written here, independently of the code under test:

- a single Fourier mode ``sin(k . x)`` advected by a constant velocity ``v`` is exactly
  ``sin(k . x - (v . k) t)`` (PDE), and exactly ``sin(k . x - (v . kappa) t)`` for the
  *semi-discrete* system (exact in time, FD in space), with the modified wavenumbers
  ``kappa_cd2 = sin(kh)/h`` and ``kappa_cd4 = (8 sin(kh) - sin(2kh)) / (6h)`` (Fourier
  symbols of the central differences);
- a Gaussian under solid-body rotation is the Gaussian rotated back (foot of the
  characteristic).

Orders are measured as ``log2`` of error ratios under halving ``h`` or ``dt``; tolerances
are stated at each assertion.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from insr.reference.errors import ReferenceInputError
from insr.reference.mol import MOLAdvection

TWO_PI = 2.0 * math.pi


def kappa(k: float, h: float, space: str) -> float:
    if space == "cd2":
        return math.sin(k * h) / h
    if space == "cd4":
        return (8.0 * math.sin(k * h) - math.sin(2.0 * k * h)) / (6.0 * h)
    raise ValueError(space)


def nodes(n: int, dim: int) -> np.ndarray:
    ax = TWO_PI * np.arange(n) / n
    mesh = np.meshgrid(*([ax] * dim), indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)


def mode_run(
    n: int, dim: int, time: str, space: str, dt: float, t_end: float, k: tuple, v: tuple
) -> tuple[np.ndarray, np.ndarray]:
    """(numerical, nodes) after ``t_end`` for the mode ``sin(k . x)`` on ``[0, 2 pi)^dim``."""
    x = nodes(n, dim)
    kv = np.asarray(k, dtype=float)
    vel = np.tile(np.asarray(v, dtype=float), (x.shape[0], 1))
    m = MOLAdvection([(0.0, TWO_PI)] * dim, n, vel, np.sin(x @ kv), time, space)
    steps = int(round(t_end / dt))
    for _ in range(steps):
        m.step(dt)
    return m.u[:, 0], x


def semi_discrete(x: np.ndarray, n: int, space: str, k: tuple, v: tuple, t: float) -> np.ndarray:
    h = TWO_PI / n
    omega = sum(vi * kappa(ki, h, space) for ki, vi in zip(k, v, strict=True))
    return np.sin(x @ np.asarray(k, dtype=float) - omega * t)


def order(errors: list[float]) -> list[float]:
    return [math.log2(a / b) for a, b in zip(errors, errors[1:], strict=False)]


@pytest.mark.parametrize(("space", "p"), [("cd2", 2), ("cd4", 4)])
@pytest.mark.parametrize("dim", [1, 2])
def test_space_order_against_exact_solution(space: str, p: int, dim: int) -> None:
    """Fine pade4 time steps (time error < 1e-9, far below the space error), h halved
    twice: the max-norm error against the PDE's exact solution falls at the stated
    order, measured order within 0.25 of p."""
    k, v = ((2.0,), (1.0,)) if dim == 1 else ((2.0, 1.0), (1.0, 0.5))
    ns = [16, 32, 64] if dim == 1 else [12, 24, 48]
    errs = []
    for n in ns:
        u, x = mode_run(n, dim, "pade4", space, 0.01, 1.0, k, v)
        exact = np.sin(x @ np.asarray(k) - np.dot(k, v) * 1.0)
        errs.append(float(np.max(np.abs(u - exact))))
    for q in order(errs):
        assert abs(q - p) < 0.25, (errs, order(errs))


@pytest.mark.parametrize(("time", "p"), [("midpoint", 2), ("pade4", 4)])
@pytest.mark.parametrize("dim", [1, 2])
def test_time_order_against_semi_discrete_solution(time: str, p: int, dim: int) -> None:
    """dt halved twice at fixed grid: the error against the exact semi-discrete
    solution (space error removed exactly) falls at the stated order, within 0.2."""
    k, v = ((3.0,), (1.0,)) if dim == 1 else ((2.0, 1.0), (1.0, 0.5))
    n = 64 if dim == 1 else 24
    errs = []
    for dt in (0.2, 0.1, 0.05):
        u, x = mode_run(n, dim, time, "cd4", dt, 2.0, k, v)
        errs.append(float(np.max(np.abs(u - semi_discrete(x, n, "cd4", k, v, 2.0)))))
    assert errs[-1] > 1e-11  # still above round-off, so the ratios mean something
    for q in order(errs):
        assert abs(q - p) < 0.2, (errs, order(errs))


def test_rotation_second_order_in_space() -> None:
    """A Gaussian (sigma 0.1, at radius 0.4; <= 2e-8 at the box faces, so the periodic
    wrap is invisible) rotated a quarter turn by pade4/cd2 with fine steps: the error
    against the rotated Gaussian falls at order 2 (measured within 0.4) from n = 40
    to 80."""
    errs = []
    for n in (40, 80):
        ax = -1.0 + 2.0 * np.arange(n) / n
        mesh = np.meshgrid(ax, ax, indexing="ij")
        x = np.stack([m.ravel() for m in mesh], axis=1)
        vel = np.stack([-x[:, 1], x[:, 0]], axis=1)  # omega = 1 about the origin

        def gauss(p: np.ndarray) -> np.ndarray:
            return np.exp(-((p[:, 0] - 0.4) ** 2 + p[:, 1] ** 2) / (2 * 0.1**2))

        m = MOLAdvection([(-1.0, 1.0)] * 2, n, vel, gauss(x), "pade4", "cd2")
        t_end, steps = math.pi / 2, 20
        for _ in range(steps):
            m.step(t_end / steps)
        th = -t_end  # foot: rotate back
        foot = np.stack(
            [
                math.cos(th) * x[:, 0] - math.sin(th) * x[:, 1],
                math.sin(th) * x[:, 0] + math.cos(th) * x[:, 1],
            ],
            axis=1,
        )
        errs.append(float(np.max(np.abs(m.u[:, 0] - gauss(foot)))))
    assert abs(order(errs)[0] - 2.0) < 0.4, errs


def test_sampling_and_gradient_between_nodes() -> None:
    """Off-node samples of the state and of its stencil gradient match sin / cos to
    the interpolation's 4th order: error < 2e-4 at n = 64 (h = 0.098; h^4 ~ 1e-4)."""
    n = 64
    x = nodes(n, 1)
    m = MOLAdvection([(0.0, TWO_PI)], n, np.ones((n, 1)), np.sin(x[:, 0]), "pade4", "cd4")
    q = np.linspace(0.0, TWO_PI, 101)[:, None]
    assert np.max(np.abs(m.sample(m.u, q)[:, 0] - np.sin(q[:, 0]))) < 2e-4
    g = m.sample(m.gradient_nodes(), q)
    assert g.shape == (101, 1, 1)
    assert np.max(np.abs(g[:, 0, 0] - np.cos(q[:, 0]))) < 2e-4


def test_refuses_unknown_schemes() -> None:
    x = nodes(16, 1)
    with pytest.raises(ReferenceInputError, match="time scheme"):
        MOLAdvection([(0.0, 1.0)], 16, np.ones((16, 1)), x[:, 0], "rk4", "cd2")
    with pytest.raises(ReferenceInputError, match="space scheme"):
        MOLAdvection([(0.0, 1.0)], 16, np.ones((16, 1)), x[:, 0], "pade4", "cd8")
