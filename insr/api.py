"""The public Python API, re-exported at the package root (``import insr``):

* :func:`load_config` -- a case (name or TOML path) with overrides -> a validated RunConfig,
* ``insr.run(config, run_dir=None)`` -- run it (the callable :mod:`insr.run` package),
* :func:`insr.open_run` -- a run log as arrays, a metrics table, the stored config, xarray,
* :func:`load_field` -- the trained field of a run, evaluated and differentiated anywhere.

``import insr`` imports none of this (no torch, no h5py) until a name is first used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from insr.config import load_config as _load_config
from insr.errors import UsageError
from insr.settings import RunConfig

__all__ = ["load_config"]


def _toml_value(key: str, v: Any) -> str:
    """A Python value as the TOML right-hand side of ``--set key=...``."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v) if isinstance(v, int) else f"{v!r}"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(key, x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{k} = {_toml_value(key, x)}" for k, x in v.items()) + "}"
    raise UsageError(f"override {key}: a {type(v).__name__} is not a TOML value")


def load_config(
    case: str | Path,
    overrides: Sequence[str] | Mapping[str, Any] | None = None,
    *,
    config_files: Sequence[str | Path] | None = None,
) -> RunConfig:
    """The validated configuration of ``case`` (a name from ``insr cases`` or a case TOML),
    as ``insr run`` resolves it: defaults < preset < case file < ``config_files`` <
    ``overrides``. ``overrides`` are ``--set`` strings (``["solver.lr=1e-3"]``) or a
    mapping of dotted keys to Python values (``{"solver.lr": 1e-3}``). A bad key or value
    raises :class:`insr.schema.ConfigError` (a :class:`insr.errors.UsageError`) with the
    same one line the CLI prints."""
    if isinstance(overrides, str):
        overrides = [overrides]
    if isinstance(overrides, Mapping):
        sets = [f"{k}={_toml_value(k, v)}" for k, v in overrides.items()]
    else:
        sets = list(overrides or [])
    return _load_config(str(case), [str(f) for f in config_files or []], sets)
