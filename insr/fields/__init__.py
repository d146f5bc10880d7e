"""Representations: a registry ``kind -> Config class``; the config's ``build(domain,
out_features)`` makes the :class:`Field`.

``[representation.<kind>]`` is read into that kind's config dataclass once
(:func:`parse_settings`); the typed settings travel in the run config and build the field.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from insr.errors import UsageError
from insr.fields.base import Field
from insr.schema import from_dict, to_dict

# kind -> (module, config class name, field class name or None for a solver kind);
# imported on first use
_REGISTRY: dict[str, tuple[str, str, str | None]] = {
    "siren": ("insr.fields.mlp", "SirenConfig", "Siren"),
    "gauss": ("insr.fields.mlp", "GaussConfig", "GaussMLP"),
    "mlp": ("insr.fields.mlp", "MLPConfig", "TanhMLP"),
    "hashgrid": ("insr.fields.hashgrid", "HashGridConfig", "HashGrid"),
    "densegrid": ("insr.fields.densegrid", "DenseGridConfig", "DenseGrid"),
}

REPRESENTATIONS: list[str] = list(_REGISTRY)


def register(kind: str, module: str, config_cls: str, field_cls: str | None) -> None:
    """Add a representation kind (used by optional modules)."""
    _REGISTRY[kind] = (module, config_cls, field_cls)
    if kind not in REPRESENTATIONS:
        REPRESENTATIONS.append(kind)


def _classes(kind: str) -> tuple[type, type | None]:
    """(config class, field class); the field class is None for a solver kind."""
    mod_name, cfg_name, field_name = _REGISTRY[kind]
    mod = importlib.import_module(mod_name)
    return getattr(mod, cfg_name), None if field_name is None else getattr(mod, field_name)


def config_class(kind: str) -> type:
    """The settings dataclass of representation ``kind``."""
    return _classes(kind)[0]


def parse_settings(kind: str, raw: dict[str, Any], path: str) -> Any:
    """Validate a ``[representation.<kind>]`` table into the kind's typed settings."""
    return from_dict(config_class(kind), raw, path)


def representation_params(kind: str, raw: dict[str, Any], path: str) -> dict[str, Any]:
    """Validate a ``[representation.<kind>]`` table; returns the full dict with defaults."""
    return to_dict(parse_settings(kind, raw, path))


def build_field(
    kind: str,
    settings: Any,
    domain: Sequence[Sequence[float]],
    out_features: int,
) -> Field:
    """Instantiate representation ``kind`` for a box ``domain`` and ``out_features`` channels.

    ``settings`` is the kind's typed config (as a resolved run config carries it) or a raw
    ``[representation.<kind>]`` dict (validated here).
    """
    cfg_cls, field_cls = _classes(kind)
    if field_cls is None:
        raise UsageError(
            f"representation {kind!r} is a solver, not a field: it runs the whole case "
            f"(insr run CASE --set representation.kind={kind}) and cannot be used as a field"
        )
    if isinstance(settings, dict):
        settings = from_dict(cfg_cls, settings, f"representation.{kind}")
    elif not isinstance(settings, cfg_cls):
        raise TypeError(f"settings of '{kind}' must be a {cfg_cls.__name__} or a dict")
    build = getattr(settings, "build", None)
    if build is not None:
        return build(domain, out_features)
    return field_cls(settings, domain, out_features)


# the classical grid baseline: a solver kind (settings only; insr.run.solvers.GridSolver)
register("grid", "insr.fields.solver_kinds", "GridConfig", None)

#: kinds that are solvers, not differentiable fields (no gradcheck, no neural run)
SOLVER_KINDS = frozenset({"grid"})


def field_kinds() -> list[str]:
    """Registered kinds that build a differentiable :class:`Field`."""
    return [k for k in REPRESENTATIONS if k not in SOLVER_KINDS]


__all__ = [
    "Field",
    "REPRESENTATIONS",
    "SOLVER_KINDS",
    "build_field",
    "config_class",
    "field_kinds",
    "parse_settings",
    "register",
    "representation_params",
]
