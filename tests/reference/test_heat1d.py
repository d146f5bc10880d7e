"""Crank–Nicolson heat solver against the exact Gaussian solution (pure numpy)."""

from __future__ import annotations

import numpy as np
import pytest

from insr.reference.errors import ReferenceInputError
from insr.reference.heat1d import crank_nicolson_step


def _exact(x: np.ndarray, t: float, sigma: float = 0.1, kappa: float = 0.02) -> np.ndarray:
    s2 = sigma**2 + 2 * kappa * t
    return sigma / np.sqrt(s2) * np.exp(-(x**2) / (2 * s2))


def _max_error(n: int, dt: float, t_end: float = 0.5) -> float:
    x = np.linspace(-2.0, 2.0, n)
    u = _exact(x, 0.0)
    u[0] = u[-1] = 0.0
    for _ in range(round(t_end / dt)):
        u = crank_nicolson_step(u, 0.02, x[1] - x[0], dt)
    return float(np.abs(u - _exact(x, t_end)).max())


def test_crank_nicolson_is_second_order() -> None:
    # dx and dt halved together: the error falls by 4 (second order in both); 10 % on the
    # ratio (higher-order terms at these resolutions)
    errs = [_max_error(n, dt) for n, dt in ((201, 0.02), (401, 0.01), (801, 0.005))]
    for coarse, fine in zip(errs[:-1], errs[1:], strict=True):
        assert coarse / fine == pytest.approx(4.0, rel=0.1), errs
    assert errs[-1] < 1e-4


def test_zero_diffusivity_and_zero_step_are_the_identity() -> None:
    x = np.linspace(-2.0, 2.0, 51)
    u = _exact(x, 0.0)
    u[0] = u[-1] = 0.0
    np.testing.assert_array_equal(crank_nicolson_step(u, 0.0, x[1] - x[0], 0.1), u)
    np.testing.assert_array_equal(crank_nicolson_step(u, 0.3, x[1] - x[0], 0.0), u)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ReferenceInputError):
        crank_nicolson_step(np.zeros(5), -1.0, 0.1, 0.1)
