"""Error metrics of a field and its gradient on the evaluation grid.

All metrics compare arrays sampled on the uniform nodal evaluation grid (box faces
included); norms are discrete L2 norms over all grid points and components, so they
approximate the continuous L2 norms up to the constant cell volume, which cancels in
every ratio below.

- ``field_rmse``: ``sqrt(mean((u - u*)^2))`` (units of u).
- ``field_max_error``: ``max |u - u*|`` (units of u).
- ``gradient_rel_error``: ``||grad u - grad u*||_2 / ||grad u*||_2`` (dimensionless).
- ``gradient_noise``: the high-frequency part of the gradient error, relative to the
  exact gradient (dimensionless)::

      noise = ||P_hi (grad u - grad u*)||_2 / ||grad u*||_2

  ``P_hi`` keeps the spectral modes with wavenumber ``|k| > k_c``. Spectra are taken of
  the *even (mirror) extension* of each array along every grid axis (``a_0 .. a_{n-1},
  a_{n-1} .. a_0``; equivalently a DCT-II), so a non-periodic error does not leak into high
  wavenumbers through the wrap-around jump of a plain DFT. ``|k|`` is counted in cycles
  per extended length (``sqrt(sum_i k_i^2)``, ``k_i = 0 .. n_i``). The cut-off is
  ``k_c = max(NOISE_BAND * k_99, 1)`` where ``k_99`` is the smallest ``|k|`` below which the
  exact gradient holds ``NOISE_ENERGY`` (99.9 %) of its spectral energy: noise is "error at
  wavenumbers the true solution (nearly) does not have". Norms are over all grid points and
  components; by Parseval, ``noise <= gradient_rel_error`` always. Example: an error
  ``eps * cos(k x)`` at a wavenumber far above the exact gradient's band gives
  ``noise = ||eps cos(kx)|| / ||grad u*||``; an error at the exact gradient's own
  wavenumbers gives ``noise ~ 0``.
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
    """``|k|`` (integer cycles per array length) of the DFT modes of an array of ``shape``."""
    ks = np.meshgrid(*[np.fft.fftfreq(n) * n for n in shape], indexing="ij")
    return np.sqrt(sum(k.astype(np.float64) ** 2 for k in ks))


def even_extension(a: np.ndarray, spatial_ndim: int) -> np.ndarray:
    """Mirror ``a`` along each of its first ``spatial_ndim`` axes (length n -> 2n)."""
    for ax in range(spatial_ndim):
        a = np.concatenate([a, np.flip(a, axis=ax)], axis=ax)
    return a


def _spectrum(a: np.ndarray, spatial_ndim: int) -> np.ndarray:
    """``|FFT|^2`` of the even extension, summed over component axes: ``(2n_1, ..)``."""
    ext = even_extension(np.asarray(a, dtype=np.float64), spatial_ndim)
    spec = np.abs(np.fft.fftn(ext, axes=tuple(range(spatial_ndim)))) ** 2
    return spec.reshape(*ext.shape[:spatial_ndim], -1).sum(-1)


def noise_cutoff(exact: np.ndarray, spatial_ndim: int) -> float:
    """Cut-off wavenumber ``k_c`` of :func:`gradient_noise` (cycles per extended length)."""
    spec = _spectrum(exact, spatial_ndim)
    kmag = _wavenumber_magnitude(spec.shape).ravel()
    order = np.argsort(kmag, kind="stable")
    cum = np.cumsum(spec.ravel()[order])
    total = cum[-1]
    if total == 0.0:
        return 1.0
    idx = min(int(np.searchsorted(cum, NOISE_ENERGY * total)), len(cum) - 1)
    return max(NOISE_BAND * float(kmag[order][idx]), 1.0)


def gradient_noise(grad: np.ndarray, exact: np.ndarray, spatial_ndim: int) -> float:
    """High-frequency part of the gradient error relative to the exact gradient (see module doc).

    ``grad`` and ``exact`` have shape ``(*grid, ...)`` with ``spatial_ndim`` grid axes first.
    """
    if float(np.linalg.norm(exact)) == 0.0:
        return 0.0
    kc = noise_cutoff(exact, spatial_ndim)
    err = _spectrum(np.asarray(grad, dtype=np.float64) - exact, spatial_ndim)
    mask = _wavenumber_magnitude(err.shape) > kc
    # Parseval on the extension: both energies carry the same factor 2^d * n_ext
    hi = float(np.sum(err[mask]))
    total = float(np.sum(_spectrum(exact, spatial_ndim)))
    return float(np.sqrt(hi / total))


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


# ------------------------------------------------------- fluid diagnostics (2D velocity)


def _trapezoid_weights(axes: list[np.ndarray]) -> np.ndarray:
    """Nodal quadrature weights (cell area per node) of the tensor evaluation grid."""
    ws = []
    for a in axes:
        w = np.full(len(a), (a[-1] - a[0]) / (len(a) - 1))
        w[0] *= 0.5
        w[-1] *= 0.5
        ws.append(w)
    return np.einsum("i,j->ij", *ws)


def vorticity_of(jac: np.ndarray) -> np.ndarray:
    """``ω = ∂v/∂x − ∂u/∂y`` from a Jacobian ``(..., 2, 2)`` (rows = components)."""
    return jac[..., 1, 0] - jac[..., 0, 1]


def fluid_metrics(
    arrays: dict[str, np.ndarray], exact: dict[str, np.ndarray] | None, axes: list[np.ndarray]
) -> dict[str, float]:
    """Fluid diagnostics of one logged step on the evaluation grid.

    - ``kinetic_energy``: ``½ ∫ |u|² dA`` (trapezoid rule) [L⁴/T²]
    - ``enstrophy``: ``½ ∫ ω² dA`` with ``ω`` = ``fluid/vorticity`` [L²/T²]
    - ``divergence_rms``: RMS of ``fluid/divergence`` over the grid [1/T]
    - against the truth: ``velocity_rel_error`` ``‖u − u*‖/‖u*‖`` and
      ``vorticity_rel_error`` ``‖ω − ω*‖/‖ω*‖`` (``ω*`` from the exact Jacobian).
    """
    w = _trapezoid_weights(axes)
    u = arrays["field"]
    out = {"kinetic_energy": float(0.5 * np.sum(w * np.sum(u.astype(np.float64) ** 2, -1)))}
    if "fluid/vorticity" in arrays:
        om = arrays["fluid/vorticity"].astype(np.float64)
        out["enstrophy"] = float(0.5 * np.sum(w * om**2))
    if "fluid/divergence" in arrays:
        out["divergence_rms"] = float(
            np.sqrt(np.mean(arrays["fluid/divergence"].astype(np.float64) ** 2))
        )
    if exact is not None:
        out["velocity_rel_error"] = relative_error(u, exact["field"])
        if "gradient" in exact and "fluid/vorticity" in arrays:
            out["vorticity_rel_error"] = relative_error(
                arrays["fluid/vorticity"], vorticity_of(exact["gradient"])
            )
    return out
