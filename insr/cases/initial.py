"""Initial-condition families, written once in torch so values and exact gradients
(by autograd in float64, exact to round-off) come from the same expression.

A family maps a TOML table to a function ``u0(x: (N, d)) -> (N, c)`` in physical units.

Scalar families (c = 1), any dimension d:

- ``gaussian``: ``A exp(-|x - mu|^2 / (2 sigma^2))`` (keys: mu, sigma, amplitude=1)
- ``gaussians``: sum of gaussians (key: components = [{mu, sigma, amplitude}, ...])
- ``wave_packet``: ``A exp(-|x - mu|^2 / (2 sigma^2)) cos(k . (x - mu))`` (mu, sigma, k, amplitude)
- ``callable``: ``target = "package.module:function"``, a torch function
  ``(N, d) -> (N,)`` or ``(N, c)``

Each family is a typed dataclass table (unknown keys, wrong types and bad values are
one-line :class:`ConfigError` naming the key); other modules add families (e.g. fluid
velocity fields) with :func:`register_family`.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from insr.derivatives.operators import jacobian
from insr.schema import ConfigError, at_least, from_dict, opt, suggest

InitialFn = Callable[[torch.Tensor], torch.Tensor]
FamilyBuilder = Callable[[dict[str, Any], int, str], tuple[InitialFn, int]]


class FamilyTable(Protocol):
    """A family's typed table (a dataclass read with :func:`insr.schema.from_dict`)."""

    def build(self, dim: int, path: str) -> tuple[InitialFn, int]: ...


_FAMILIES: dict[str, type] = {}


def register_family(name: str, table: type) -> None:
    """Register family ``name``: a dataclass whose fields are the family's keys and whose
    ``build(dim, path) -> (u0, channels)`` makes the initial condition."""
    if not dataclasses.is_dataclass(table) or not hasattr(table, "build"):
        raise TypeError(f"family {name!r}: expected a dataclass with build(dim, path)")
    _FAMILIES[name] = table


def families() -> list[str]:
    return sorted(_FAMILIES)


def family_table(name: str) -> type:
    """The typed table (dataclass) of family ``name`` (its keys and docs)."""
    return _FAMILIES[name]


def vector(v: float | list[float], dim: int, path: str) -> torch.Tensor:
    """A number (same on every axis) or ``dim`` numbers, as a float64 tensor."""
    vals = [float(v)] * dim if isinstance(v, (int, float)) else list(v)
    if len(vals) != dim:
        raise ConfigError(f"{path} = {v!r} is not allowed: expected {dim} number(s)")
    return torch.tensor(vals, dtype=torch.float64)


def _positive_vector(v: float | list[float], dim: int, path: str) -> torch.Tensor:
    t = vector(v, dim, path)
    if (t <= 0).any():
        raise ConfigError(f"{path} = {v!r} is not allowed: expected number(s) > 0")
    return t


def _gaussian_fn(mu: torch.Tensor, sigma: torch.Tensor, amp: float) -> InitialFn:
    def u0(x: torch.Tensor) -> torch.Tensor:
        m, s = mu.to(x), sigma.to(x)
        r2 = (((x - m) / s) ** 2).sum(dim=1, keepdim=True)
        return amp * torch.exp(-0.5 * r2)

    return u0


@dataclass
class Gaussian:
    """``gaussian``: ``A exp(-|x - mu|^2 / (2 sigma^2))``."""

    mu: list[float] | float = opt(doc="center, one number per axis (or one for all)")
    sigma: list[float] | float = opt(doc="width > 0 per axis (or one for all)")
    amplitude: float = opt(1.0, doc="peak value A")

    def build(self, dim: int, path: str) -> tuple[InitialFn, int]:
        sigma = _positive_vector(self.sigma, dim, f"{path}.sigma")
        return _gaussian_fn(vector(self.mu, dim, f"{path}.mu"), sigma, self.amplitude), 1


def _non_empty(path: str, v: list) -> None:
    if not v:
        raise ConfigError(f"{path} = [] is not allowed: expected at least one table")


@dataclass
class Gaussians:
    """``gaussians``: a sum of gaussians."""

    components: list[dict] = opt(check=_non_empty, doc="[{mu, sigma, amplitude}, ...]")

    def build(self, dim: int, path: str) -> tuple[InitialFn, int]:
        fns = []
        for i, c in enumerate(self.components):
            where = f"{path}.components[{i}]"
            fns.append(from_dict(Gaussian, c, where).build(dim, where)[0])
        return (lambda x: sum(f(x) for f in fns)), 1


@dataclass
class WavePacket:
    """``wave_packet``: ``A exp(-|x - mu|^2 / (2 sigma^2)) cos(k . (x - mu))``."""

    mu: list[float] | float = opt(doc="center of the envelope, per axis (or one for all)")
    sigma: list[float] | float = opt(doc="width of the envelope > 0, per axis (or one for all)")
    k: list[float] | float = opt(doc="wave vector")
    amplitude: float = opt(1.0, doc="peak value A")

    def build(self, dim: int, path: str) -> tuple[InitialFn, int]:
        mu = vector(self.mu, dim, f"{path}.mu")
        sigma = _positive_vector(self.sigma, dim, f"{path}.sigma")
        k = vector(self.k, dim, f"{path}.k")
        env = _gaussian_fn(mu, sigma, self.amplitude)

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


@dataclass
class CallableFamily:
    """``callable``: a torch function ``(N, d) -> (N,)`` or ``(N, c)``."""

    target: str = opt(doc="'package.module:function'")
    channels: int = opt(1, check=at_least(1), doc="components the function returns")

    def build(self, dim: int, path: str) -> tuple[InitialFn, int]:
        fn = load_callable(self.target, f"{path}.target")
        where = f"{path}.target = '{self.target}'"
        channels = self.channels

        def u0(x: torch.Tensor) -> torch.Tensor:
            y = fn(x)
            n = x.shape[0]
            if not isinstance(y, torch.Tensor):
                raise ConfigError(
                    f"{where} returned {type(y).__name__} for points of shape {tuple(x.shape)}; "
                    f"expected a torch tensor of shape ({n},) or ({n}, {channels})"
                )
            if y.shape not in ((n,), (n, channels)) and not (channels == 1 and y.shape == (n, 1)):
                raise ConfigError(
                    f"{where} returned shape {tuple(y.shape)} for points of shape "
                    f"{tuple(x.shape)}; expected ({n},) or ({n}, {channels}) "
                    f"(case.initial.channels = {channels})"
                )
            return y.reshape(n, -1)

        probe = torch.linspace(-0.5, 0.5, 5, dtype=torch.float64)[:, None].repeat(1, dim)
        try:  # called once here, so a bad return or signature is a config error now
            u0(probe)
        except ConfigError:
            raise
        except Exception as e:  # noqa: BLE001 - the user's code: any failure is theirs
            msg = " ".join(str(e).split())[:200]
            raise ConfigError(
                f"{where} failed on test points of shape {tuple(probe.shape)} (float64): "
                f"{type(e).__name__}: {msg}; expected a torch function (N, {dim}) -> (N,) "
                f"or (N, {channels})"
            ) from None
        return u0, channels


register_family("gaussian", Gaussian)
register_family("gaussians", Gaussians)
register_family("wave_packet", WavePacket)
register_family("callable", CallableFamily)


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
    return from_dict(_FAMILIES[family], params, path).build(dim, path)


def value_and_gradient(fn: InitialFn, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact values ``(N, c)`` and Jacobian ``(N, c, d)`` of ``fn`` at ``x`` (float64 autograd)."""
    u, jac = jacobian(fn, x.to(torch.float64), closed=False)
    return u.to(x.dtype), jac.to(x.dtype)
