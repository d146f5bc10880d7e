"""Error metrics of a field and its gradient on the evaluation grid.

All metrics compare arrays sampled on the uniform nodal evaluation grid (box faces
included); norms are discrete L2 norms over all grid points and components, so they
approximate the continuous L2 norms up to the constant cell volume, which cancels in
every ratio below.

- ``field_rmse``: ``sqrt(mean((u - u*)^2))`` (units of u).
- ``field_max_error``: ``max |u - u*|`` (units of u).
- ``gradient_rel_error``: ``||grad u - grad u*||_2 / ||grad u*||_2`` (dimensionless).
- ``gradient_noise``: the high-frequency part of the gradient error, relative to the
  exact gradient: ``||P_hi (grad u - grad u*)||_2 / ||grad u*||_2``, where ``P_hi`` keeps
  the discrete Fourier modes of the error with wavenumber ``|k| > k_c``, and ``k_c`` is
  ``NOISE_BAND`` times the wavenumber below which the exact gradient holds
  ``NOISE_ENERGY`` of its energy (at least one grid mode). Noise is thus "error at
  frequencies the true solution does not have". Both are dimensionless; noise <=
  relative error always (Parseval).
"""

from __future__ import annotations

import numpy as np

NOISE_ENERGY = 0.999
NOISE_BAND = 2.0


def field_rmse(u: np.ndarray, u_exact: np.ndarray) -> float:
    return float(np.sqrt(np.mean((u - u_exact) ** 2)))


def field_max_error(u: np.ndarray, u_exact: np.ndarray) -> float:
    return float(np.max(np.abs(u - u_exact)))


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """``||a - b|| / ||b||`` (inf when b is zero and a is not)."""
    nb = float(np.linalg.norm(b))
    diff = float(np.linalg.norm(a - b))
    if nb == 0.0:
        return 0.0 if diff == 0.0 else float("inf")
    return diff / nb


gradient_rel_error = relative_error


def _wavenumber_magnitude(shape: tuple[int, ...]) -> np.ndarray:
    """``|k|`` in cycles per grid length for an array of spatial ``shape``."""
    ks = np.meshgrid(*[np.fft.fftfreq(n) * n for n in shape], indexing="ij")
    return np.sqrt(sum(k.astype(np.float64) ** 2 for k in ks))


def noise_cutoff(exact: np.ndarray, spatial_ndim: int) -> float:
    """Cut-off wavenumber ``k_c`` (cycles per grid length) of :func:`gradient_noise`."""
    shape = exact.shape[:spatial_ndim]
    spec = np.abs(np.fft.fftn(exact, axes=tuple(range(spatial_ndim)))) ** 2
    spec = spec.reshape(*shape, -1).sum(-1)
    kmag = _wavenumber_magnitude(shape).ravel()
    order = np.argsort(kmag, kind="stable")
    cum = np.cumsum(spec.ravel()[order])
    total = cum[-1]
    if total == 0.0:
        return 1.0
    k_energy = kmag[order][np.searchsorted(cum, NOISE_ENERGY * total)]
    return max(NOISE_BAND * float(k_energy), 1.0)


def gradient_noise(grad: np.ndarray, exact: np.ndarray, spatial_ndim: int) -> float:
    """High-frequency part of the gradient error relative to the exact gradient (see module doc).

    ``grad`` and ``exact`` have shape ``(*grid, ...)`` with ``spatial_ndim`` grid axes first.
    """
    axes = tuple(range(spatial_ndim))
    denom = float(np.linalg.norm(exact))
    if denom == 0.0:
        return 0.0
    kc = noise_cutoff(exact, spatial_ndim)
    err_hat = np.fft.fftn(grad - exact, axes=axes)
    mask = _wavenumber_magnitude(exact.shape[:spatial_ndim]) > kc
    mask = mask.reshape(mask.shape + (1,) * (grad.ndim - spatial_ndim))
    # Parseval: ||x||^2 = sum |X_k|^2 / n
    n = int(np.prod(exact.shape[:spatial_ndim]))
    hi = np.sqrt(np.sum(np.abs(err_hat * mask) ** 2) / n)
    return float(hi / denom)


def step_metrics(
    snapshot: dict[str, np.ndarray], exact: dict[str, np.ndarray] | None, spatial_ndim: int
) -> dict[str, float]:
    """All field and gradient metrics of one logged step."""
    if exact is None:
        return {}
    out = {
        "field_rmse": field_rmse(snapshot["field"], exact["field"]),
        "field_max_error": field_max_error(snapshot["field"], exact["field"]),
    }
    for name, g in snapshot.items():
        if name.startswith("gradient/") and "gradient" in exact:
            s = name.split("/", 1)[1]
            out[f"gradient_rel_error_{s}"] = gradient_rel_error(g, exact["gradient"])
            out[f"gradient_noise_{s}"] = gradient_noise(g, exact["gradient"], spatial_ndim)
    return out
