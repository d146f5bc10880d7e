"""Initial-condition families, written once in torch so values and exact gradients
(by autograd in float64, exact to round-off) come from the same expression.

A family maps a TOML table to a function ``u0(x: (N, d)) -> (N, c)`` in physical units.

Scalar families (c = 1), any dimension d:

- ``gaussian``: ``A exp(-|x - mu|^2 / (2 sigma^2))`` (keys: mu, sigma, amplitude=1)
- ``gaussians``: sum of gaussians (key: components = [{mu, sigma, amplitude}, ...])
- ``wave_packet``: ``A exp(-|x - mu|^2 / (2 sigma^2)) cos(k . (x - mu))`` (mu, sigma, k, amplitude)
- ``callable``: ``target = "package.module:function"``, a torch function
  ``(N, d) -> (N,)`` or ``(N, c)``

Other modules add families (e.g. fluid velocity fields) with :func:`register_family`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import torch

from insr.derivatives.operators import jacobian
from insr.schema import ConfigError, suggest

InitialFn = Callable[[torch.Tensor], torch.Tensor]
FamilyBuilder = Callable[[dict[str, Any], int, str], tuple[InitialFn, int]]

_FAMILIES: dict[str, FamilyBuilder] = {}


def register_family(name: str, builder: FamilyBuilder) -> None:
    """``builder(params, dim, path) -> (u0, channels)``."""
    _FAMILIES[name] = builder


def families() -> list[str]:
    return sorted(_FAMILIES)


def _vec(params: dict, key: str, dim: int, path: str, default: Any = None) -> torch.Tensor:
    v = params.get(key, default)
    if v is None:
        raise ConfigError(f"{path}.{key} is missing")
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        v = [float(v)] * dim
    if (
        not isinstance(v, list)
        or len(v) != dim
        or not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in v)
    ):
        raise ConfigError(f"{path}.{key} = {v!r} is not allowed: expected {dim} number(s)")
    return torch.tensor(v, dtype=torch.float64)


def _num(
    params: dict, key: str, path: str, default: float | None = None, pos: bool = False
) -> float:
    v = params.get(key, default)
    if v is None:
        raise ConfigError(f"{path}.{key} is missing")
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError(f"{path}.{key} = {v!r} is not allowed: expected a number")
    if pos and not v > 0:
        raise ConfigError(f"{path}.{key} = {v!r} is not allowed: expected a number > 0")
    return float(v)


def _only(params: dict, allowed: set[str], path: str) -> None:
    for k in params:
        if k not in allowed:
            raise ConfigError(
                f"unknown key '{path}.{k}'{suggest(k, allowed)}; "
                f"allowed: {', '.join(sorted(allowed))}"
            )


def _gaussian_fn(mu: torch.Tensor, sigma: torch.Tensor, amp: float) -> InitialFn:
    def u0(x: torch.Tensor) -> torch.Tensor:
        m, s = mu.to(x), sigma.to(x)
        r2 = (((x - m) / s) ** 2).sum(dim=1, keepdim=True)
        return amp * torch.exp(-0.5 * r2)

    return u0


def _gaussian(params: dict, dim: int, path: str) -> tuple[InitialFn, int]:
    _only(params, {"mu", "sigma", "amplitude"}, path)
    sigma = _vec(params, "sigma", dim, path)
    if (sigma <= 0).any():
        raise ConfigError(f"{path}.sigma must be > 0")
    return _gaussian_fn(
        _vec(params, "mu", dim, path), sigma, _num(params, "amplitude", path, 1.0)
    ), 1


def _gaussians(params: dict, dim: int, path: str) -> tuple[InitialFn, int]:
    _only(params, {"components"}, path)
    comps = params.get("components")
    if not isinstance(comps, list) or not comps or not all(isinstance(c, dict) for c in comps):
        raise ConfigError(f"{path}.components must be a non-empty list of {{mu, sigma, amplitude}}")
    fns = [_gaussian(c, dim, f"{path}.components[{i}]")[0] for i, c in enumerate(comps)]
    return (lambda x: sum(f(x) for f in fns)), 1


def _wave_packet(params: dict, dim: int, path: str) -> tuple[InitialFn, int]:
    _only(params, {"mu", "sigma", "k", "amplitude"}, path)
    mu = _vec(params, "mu", dim, path)
    sigma = _vec(params, "sigma", dim, path)
    if (sigma <= 0).any():
        raise ConfigError(f"{path}.sigma must be > 0")
    k = _vec(params, "k", dim, path)
    env = _gaussian_fn(mu, sigma, _num(params, "amplitude", path, 1.0))

    def u0(x: torch.Tensor) -> torch.Tensor:
        phase = ((x - mu.to(x)) * k.to(x)).sum(dim=1, keepdim=True)
        return env(x) * torch.cos(phase)

    return u0, 1


def load_callable(target: str, path: str) -> Callable:
    """Import ``package.module:function``."""
    if not isinstance(target, str) or ":" not in target:
        raise ConfigError(f"{path} = {target!r} is not allowed: expected 'module:function'")
    mod_name, fn_name = target.split(":", 1)
    try:
        mod = importlib.import_module(mod_name)
    except Exception as e:  # noqa: BLE001 - any import failure is the user's to fix
        raise ConfigError(f"{path}: cannot import module '{mod_name}': {e}") from None
    fn = getattr(mod, fn_name, None)
    if not callable(fn):
        raise ConfigError(f"{path}: '{mod_name}' has no function '{fn_name}'")
    return fn


def _callable(params: dict, dim: int, path: str) -> tuple[InitialFn, int]:
    _only(params, {"target", "channels"}, path)
    fn = load_callable(params.get("target"), f"{path}.target")
    channels = int(params.get("channels", 1))

    def u0(x: torch.Tensor) -> torch.Tensor:
        y = fn(x)
        return y.reshape(x.shape[0], -1)

    return u0, channels


register_family("gaussian", _gaussian)
register_family("gaussians", _gaussians)
register_family("wave_packet", _wave_packet)
register_family("callable", _callable)


def make_initial(
    spec: dict[str, Any], dim: int, path: str = "case.initial"
) -> tuple[InitialFn, int]:
    """Build ``(u0, channels)`` from a ``{family = ..., ...}`` table."""
    params = dict(spec)
    family = params.pop("family", None)
    if family not in _FAMILIES:
        raise ConfigError(
            f"unknown initial-condition family '{family}'{suggest(str(family), _FAMILIES)}; "
            f"allowed: {', '.join(families())}"
        )
    return _FAMILIES[family](params, dim, path)


def value_and_gradient(fn: InitialFn, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact values ``(N, c)`` and Jacobian ``(N, c, d)`` of ``fn`` at ``x`` (float64 autograd)."""
    u, jac = jacobian(fn, x.to(torch.float64), closed=False)
    return u.to(x.dtype), jac.to(x.dtype)
