"""Synthetic run logs and compare dirs with known arrays (for render tests)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from insr.log import RunLogWriter

X1 = np.linspace(-2.0, 2.0, 257)
X2, Y2 = np.linspace(-1.0, 1.0, 41), np.linspace(-1.0, 1.0, 33)


def pulse_1d(run_dir: Path, noise: float, steps: int = 3, spike: float = 0.0) -> dict:
    """Gaussian pulse (mu = -1.5 + 0.05 s, sigma = 0.1) plus a ripple of amplitude ``noise``;
    ``spike`` is added to the gradient at x = 0. Returns the exact arrays per step."""
    x = X1
    w = RunLogWriter.create(
        run_dir / "run.h5",
        config={},
        axes=[x],
        attrs={"case": "pulse", "representation": "siren", "dim": 1, "channels": 1, "n_params": 1},
    )
    exact = {}
    for s in range(steps + 1):
        mu = -1.5 + 0.05 * s
        ue = np.exp(-((x - mu) ** 2) / (2 * 0.1**2))
        ge = -(x - mu) / 0.01 * ue
        g = ge + 10 * noise * np.cos(40 * x)
        g[128] += spike
        exact[s] = (ue, ge)
        w.append(
            {
                "field": (ue + noise * np.sin(40 * x))[:, None].astype(np.float32),
                "exact/field": ue[:, None].astype(np.float32),
                "gradient/autodiff": g[:, None, None].astype(np.float32),
                "exact/gradient": ge[:, None, None].astype(np.float32),
                "step": np.asarray(s, dtype=np.int64),
                "time": np.asarray(0.05 * s),
            },
            {"field_max_error": noise, "gradient_rel_error_autodiff": 10 * noise},
        )
    w.close("complete")
    return exact


def blob_2d(
    run_dir: Path, noise: float, steps: int = 3, spike: float = 0.0, signed: bool = False
) -> dict:
    """A Gaussian blob in [0, 1] (or a signed sine field) moving in x, plus seeded noise."""
    X, Y = np.meshgrid(X2, Y2, indexing="ij")
    w = RunLogWriter.create(
        run_dir / "run.h5",
        config={},
        axes=[X2, Y2],
        attrs={"case": "blob", "representation": "siren", "dim": 2, "channels": 1, "n_params": 1},
    )
    rng = np.random.default_rng(int(noise * 1e6) + 1)
    exact = {}
    for s in range(steps + 1):
        cx = -0.4 + 0.2 * s
        if signed:
            ue = np.sin(np.pi * (X - cx)) * np.cos(np.pi * Y)
            J = np.stack(
                [
                    np.pi * np.cos(np.pi * (X - cx)) * np.cos(np.pi * Y),
                    -np.pi * np.sin(np.pi * (X - cx)) * np.sin(np.pi * Y),
                ],
                -1,
            )[:, :, None, :]
        else:
            ue = np.exp(-((X - cx) ** 2 + Y**2) / (2 * 0.2**2))
            J = np.stack([-(X - cx) / 0.04 * ue, -Y / 0.04 * ue], -1)[:, :, None, :]
        g = J + 10 * noise * rng.standard_normal(J.shape)
        g[20, 16, 0, 0] += spike
        exact[s] = (ue, J)
        w.append(
            {
                "field": (ue + noise * rng.standard_normal(ue.shape))[..., None].astype(np.float32),
                "exact/field": ue[..., None].astype(np.float32),
                "gradient/autodiff": g.astype(np.float32),
                "exact/gradient": J.astype(np.float32),
                "step": np.asarray(s, dtype=np.int64),
                "time": np.asarray(0.1 * s),
            },
            {"field_max_error": noise, "gradient_rel_error_autodiff": 10 * noise},
        )
    w.close("complete")
    return exact


def compare_dir(root: Path, names: list[str]) -> Path:
    """Write the sweep.json of a compare dir whose members are already in ``root/<name>``."""
    members = [{"name": n, "kind": "siren", "status": "complete"} for n in names]
    (root / "sweep.json").write_text(
        json.dumps({"kind": "representations", "case": "synthetic", "members": members})
    )
    return root
