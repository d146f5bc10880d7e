"""Numerical-vs-analytic derivative checks of every representation (``insr gradcheck``).

For each representation, in float64, at random points that keep every finite-difference
stencil inside one cell of every grid level (so no kink is crossed), each analytic path --
``autodiff`` (reverse mode) and ``closed`` (the field's closed-form value+Jacobian pass) --
is compared against

- central differences along each axis, ``(f(x + eps e_j) - f(x - eps e_j)) / 2 eps``
  (the project's ``fd`` strategy), and
- a random-direction check: ``delta^T grad f`` against
  ``(f(x + eps delta) - f(x - eps delta)) / 2 eps`` with ``delta`` uniform in the unit ball,

and ``closed`` against ``autodiff`` directly. The error of a comparison is

    err = ||g_num - g_ana||_2 / (||g_num||_2 + ||g_ana||_2)       (norms over all points)

``pass`` below :data:`PASS`, ``fail`` above :data:`FAIL`, ``warn`` between.

Why the step matters: central differences have truncation error ``~ eps^2 |f'''| / 6`` and
round-off error ``~ u |f| / eps`` (``u`` = machine epsilon, 2.2e-16 in float64), so the
error against the true derivative falls as ``eps^2`` while ``eps`` is large and rises as
``1/eps`` once it is small: a V-shaped curve with its bottom near ``eps ~ (3u)^(1/3) ~ 1e-5``
(times the field's length scale), where the error is ~1e-10. The default ``eps = 1e-6``
sits near the bottom; :func:`sweep_eps` prints the whole curve.

Custom ``torch.autograd.Function`` subclasses anywhere in the ``insr`` package are found
and checked with :func:`torch.autograd.gradcheck`; a Function declares its sample inputs
with a static method ``gradcheck_inputs() -> tuple`` (float64 tensors, those to check
with ``requires_grad=True``); one without it is reported as ``warn``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from dataclasses import dataclass
from typing import Any

import torch

from insr.derivatives.core import autodiff, closed
from insr.derivatives.fd import FiniteDifference
from insr.fields import build_field, field_kinds
from insr.fields.base import Field

PASS = 1e-7
FAIL = 1e-4
DEFAULT_EPS = 1e-6

#: Domains used per dimension (not the unit box, so the coordinate scaling is checked too).
DOMAINS = {1: [[-2.0, 2.0]], 2: [[-2.0, 2.0], [-1.0, 0.5]], 3: [[-1.0, 1.0]] * 3}

#: Extra variants checked besides each kind's defaults (kind -> [(label, params)]).
VARIANTS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "hashgrid": [
        ("", {"log2_hashmap_size": 12, "n_levels": 8}),
        ("smoothstep", {"log2_hashmap_size": 12, "n_levels": 8, "interpolation": "smoothstep"}),
    ],
    "densegrid": [
        ("", {}),
        ("plain", {"mlp": False, "n_features_per_level": 2, "n_levels": 3}),
    ],
    "mlp": [("", {}), ("softplus", {"activation": "softplus"})],
}


@dataclass
class CheckRow:
    representation: str
    check: str
    error: float | None
    status: str
    note: str = ""


def status_of(err: float) -> str:
    if not err == err or err > FAIL:  # NaN fails
        return "fail"
    return "pass" if err < PASS else "warn"


def rel_error(num: torch.Tensor, ana: torch.Tensor) -> float:
    """``||num - ana|| / (||num|| + ||ana||)`` (0 when both are zero)."""
    den = float(num.norm() + ana.norm())
    diff = float((num - ana).norm())
    return 0.0 if den == 0.0 else diff / den


def check_field(kind: str, params: dict[str, Any], dim: int, channels: int = 2, seed: int = 0):
    """A float64 field of ``kind`` with non-trivial parameters (grid tables re-drawn in
    ``[-1, 1]`` so that the grid part of the field is not negligible)."""
    torch.manual_seed(seed)
    if kind == "hashgrid":
        params = {"backend": "torch", **params}
    f = build_field(kind, params, DOMAINS[dim], channels).double()
    with torch.no_grad():
        for name, p in f.named_parameters():
            if name.split(".")[-1] == "table":
                p.uniform_(-1.0, 1.0)
    return f


def safe_points(
    f: Field, n: int, margin: float, gen: torch.Generator, dtype=torch.float64
) -> torch.Tensor:
    """``n`` random points whose distance to every grid cell border of every level (both
    node-centred and cell-centred conventions) and to the box faces exceeds ``margin``
    (physical units) along every axis."""
    lo = torch.tensor([a for a, _ in f.domain], dtype=dtype)
    hi = torch.tensor([b for _, b in f.domain], dtype=dtype)
    width = hi - lo
    scales = list(getattr(f, "level_scales", []) or [])
    m_unit = margin / width  # (d,)
    keep: list[torch.Tensor] = []
    count = 0
    for _ in range(1000):
        u = torch.rand(4 * n, len(f.domain), generator=gen, dtype=dtype) * 0.9 + 0.05
        ok = torch.ones(u.shape[0], dtype=torch.bool)
        for s in scales:
            for off in (0.0, 0.5):
                p = u * s + off
                frac = p - torch.floor(p)
                dist = torch.minimum(frac, 1.0 - frac) / s
                ok &= (dist > m_unit).all(dim=1)
        keep.append(u[ok])
        count += int(ok.sum())
        if count >= n:
            break
    u = torch.cat(keep)[:n]
    if u.shape[0] < n:
        raise RuntimeError(f"could not place {n} points away from cell borders (margin {margin})")
    return lo + u * width


def _unit_ball(n: int, d: int, gen: torch.Generator) -> torch.Tensor:
    v = torch.randn(n, d, generator=gen, dtype=torch.float64)
    v = v / v.norm(dim=1, keepdim=True)
    r = torch.rand(n, 1, generator=gen, dtype=torch.float64) ** (1.0 / d)
    return v * r


def check_representation(
    kind: str,
    dim: int,
    *,
    params: dict[str, Any] | None = None,
    label: str = "",
    n_points: int = 64,
    eps: float = DEFAULT_EPS,
    seed: int = 0,
) -> list[CheckRow]:
    """All derivative checks of one representation (see module doc)."""
    f = check_field(kind, params or {}, dim, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    x = safe_points(f, n_points, 4.0 * eps, gen)
    name = f"{kind}{'/' + label if label else ''} {dim}D"
    _, g_fd = FiniteDifference(h=eps, scheme="central")(f, x)
    _, g_ad = autodiff(f, x)
    _, g_cl = closed(f, x)
    note_cl = "" if f.has_closed_form else "no closed form: autodiff fallback"
    delta = _unit_ball(n_points, dim, gen)
    with torch.no_grad():
        dir_num = (f(x + eps * delta) - f(x - eps * delta)) / (2.0 * eps)  # (N, c)
    rows = []
    for check, num, ana, note in [
        ("autodiff vs central FD", g_fd, g_ad, ""),
        ("closed vs central FD", g_fd, g_cl, note_cl),
        ("closed vs autodiff", g_ad, g_cl, note_cl),
        ("direction: autodiff", dir_num, (g_ad * delta.unsqueeze(1)).sum(-1), ""),
        ("direction: closed", dir_num, (g_cl * delta.unsqueeze(1)).sum(-1), note_cl),
    ]:
        err = rel_error(num, ana)
        rows.append(CheckRow(name, check, err, status_of(err), note))
    return rows


def variants(kind: str) -> list[tuple[str, dict[str, Any]]]:
    return VARIANTS.get(kind, [("", {})])


def check_all(
    kinds: list[str] | None = None,
    dims: tuple[int, ...] = (1, 2),
    n_points: int = 64,
    eps: float = DEFAULT_EPS,
    seed: int = 0,
) -> list[CheckRow]:
    """:func:`check_representation` for every (kind, variant, dim), plus custom Functions."""
    rows: list[CheckRow] = []
    for kind in kinds or field_kinds():
        for label, params in variants(kind):
            for dim in dims:
                rows += check_representation(
                    kind, dim, params=params, label=label, n_points=n_points, eps=eps, seed=seed
                )
    rows += check_custom_functions()
    return rows


# ----------------------------------------------------------------- custom autograd functions
def custom_functions(package: str = "insr") -> list[tuple[str, type[torch.autograd.Function]]]:
    """``(qualified name, class)`` of every ``torch.autograd.Function`` subclass defined in
    the package's modules (modules that fail to import are skipped)."""
    pkg = importlib.import_module(package)
    found: dict[str, type] = {}
    for info in pkgutil.walk_packages(pkg.__path__, package + "."):
        if info.name.endswith("__main__"):
            continue
        try:
            mod = importlib.import_module(info.name)
        except Exception:  # noqa: BLE001 - optional backends (tinycudann) may be absent
            continue
        for _, obj in inspect.getmembers(mod, inspect.isclass):
            if (
                issubclass(obj, torch.autograd.Function)
                and obj.__module__ == mod.__name__
                and obj is not torch.autograd.Function
            ):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return sorted(found.items())


def check_custom_functions(package: str = "insr") -> list[CheckRow]:
    """``torch.autograd.gradcheck`` on each custom Function's ``gradcheck_inputs()``."""
    rows = []
    for name, cls in custom_functions(package):
        make = getattr(cls, "gradcheck_inputs", None)
        if make is None:
            rows.append(
                CheckRow(
                    name,
                    "torch.autograd.gradcheck",
                    None,
                    "warn",
                    "no gradcheck_inputs() to call it with",
                )
            )
            continue
        try:
            ok = torch.autograd.gradcheck(
                cls.apply, make(), eps=1e-6, atol=1e-7, rtol=1e-5, raise_exception=False
            )
            rows.append(CheckRow(name, "torch.autograd.gradcheck", None, "pass" if ok else "fail"))
        except Exception as e:  # noqa: BLE001 - report, do not crash the table
            rows.append(
                CheckRow(name, "torch.autograd.gradcheck", None, "fail", f"{type(e).__name__}: {e}")
            )
    return rows


# ----------------------------------------------------------------- step-size sweep
SWEEP = [10.0**-k for k in range(1, 13)]


def sweep_eps(
    kind: str,
    dim: int = 1,
    *,
    params: dict[str, Any] | None = None,
    eps_list: list[float] | None = None,
    n_points: int = 64,
    seed: int = 0,
) -> list[tuple[float, float]]:
    """``(eps, err)`` of central differences with step ``eps`` against the closed-form
    (or autodiff) gradient: the V-shaped truncation / round-off curve. Points are kept
    ``4 * 1e-6`` away from grid cell borders, so for grids the large steps also cross
    kinks (their error then is the grid's, not round-off's)."""
    f = check_field(kind, params or {}, dim, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    x = safe_points(f, n_points, 4.0 * DEFAULT_EPS, gen)
    _, g = closed(f, x)
    out = []
    for eps in eps_list or SWEEP:
        _, g_fd = FiniteDifference(h=eps, scheme="central")(f, x)
        out.append((eps, rel_error(g_fd, g)))
    return out
