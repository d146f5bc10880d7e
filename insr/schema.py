"""Typed dataclass schema: fields with checks and docs, dict <-> dataclass, one-line errors.

A leaf module: nothing in insr sits below it. Config sections, representation settings,
case tables and equation settings are all dataclasses built with :func:`opt` and read with
:func:`from_dict`, so every bad value is one :class:`ConfigError` naming its key.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import math
import types
import typing
from dataclasses import field
from typing import Any, Literal

from insr.errors import UsageError

__all__ = [
    "ConfigError",
    "at_least",
    "check_name",
    "check_text",
    "from_dict",
    "in_range",
    "opt",
    "positive",
    "suggest",
    "to_dict",
    "type_name",
]


class ConfigError(UsageError):
    """A configuration value is unknown, of the wrong type or out of range."""


def suggest(name: str, choices: typing.Iterable[str]) -> str:
    """A ' (did you mean X?)' hint, or '' when nothing is close."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _check(path: str, ok: bool, allowed: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"{path} = {value!r} is not allowed: expected {allowed}")


def positive(path: str, v: float) -> None:
    _check(path, v > 0, "a number > 0", v)


positive.allowed = "> 0"  # type: ignore[attr-defined]


def at_least(lo: float) -> typing.Callable[[str, float], None]:
    def check(path: str, v: float) -> None:
        _check(path, v >= lo, f"a number >= {lo}", v)

    check.allowed = f">= {lo}"  # type: ignore[attr-defined]
    return check


def in_range(lo: float, hi: float) -> typing.Callable[[str, float], None]:
    def check(path: str, v: float) -> None:
        _check(path, lo <= v <= hi, f"a number in [{lo}, {hi}]", v)

    check.allowed = f"in [{lo}, {hi}]"  # type: ignore[attr-defined]
    return check


def check_text(check: Any) -> str:
    """What a range check allows, for documentation (``'>= 1'``; '' when unknown)."""
    return str(getattr(check, "allowed", "")) if check is not None else ""


def type_name(tp: Any) -> str:
    """A type as the error messages name it (``'an integer'``, ``"one of 'a', 'b'"``)."""
    return _type_name(tp)


MAX_NAME_BYTES = 200  # a path component (file systems allow 255; room for suffixes)


def check_name(path: str, v: str, *, empty: bool = False) -> None:
    """``v`` names a folder: one path component, never ``/``, ``..`` or too long."""
    if v == "" and empty:
        return
    bad = (
        not v
        or v in (".", "..")
        or any(c in v for c in "/\\\0")
        or any(ord(c) < 32 for c in v)
        or len(v.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES
    )
    if bad:
        shown = repr(v) if len(v) <= 60 else f"{v[:40]!r}... ({len(v)} characters)"
        raise ConfigError(
            f"{path} = {shown} is not allowed: expected a folder name (no '/', '\\', control "
            f"characters, '.' or '..'; at most {MAX_NAME_BYTES} bytes)"
        )


def opt(default: Any = dataclasses.MISSING, check: Any = None, doc: str = "", **kw: Any) -> Any:
    """A dataclass field with an optional range check and a one-line doc."""
    md = {"check": check, "doc": doc}
    if isinstance(default, (list, dict)) or (
        dataclasses.is_dataclass(default) and not isinstance(default, type)
    ):
        snapshot = copy.deepcopy(default)
        return field(default_factory=lambda: copy.deepcopy(snapshot), metadata=md, **kw)
    return field(default=default, metadata=md, **kw)


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is list:
        (inner,) = typing.get_args(tp) or (Any,)
        name = _type_name(inner)
        plural = {
            "a number": "numbers",
            "an integer": "integers",
            "a string": "strings",
            "a list of numbers": "lists of numbers",
            "a table": "tables",
        }
        return f"a list of {plural.get(name, name)}"
    if origin is dict or tp is dict:
        return "a table"
    if tp is type(None):
        return "nothing"
    if tp is float:
        return "a number"
    if tp is int:
        return "an integer"
    if tp is bool:
        return "true or false"
    if tp is str:
        return "a string"
    if dataclasses.is_dataclass(tp):
        return "a table"
    return getattr(tp, "__name__", str(tp))


def _coerce(path: str, tp: Any, value: Any) -> Any:
    """Convert ``value`` to type ``tp`` or raise ConfigError."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin is Literal:
        choices = typing.get_args(tp)
        if value in choices:
            return value
        hint = suggest(str(value), [str(c) for c in choices])
        raise ConfigError(f"{path} = {value!r} is not allowed: expected {_type_name(tp)}{hint}")
    if origin in (typing.Union, types.UnionType):
        errors = []
        for arg in typing.get_args(tp):
            try:
                return _coerce(path, arg, value)
            except ConfigError as e:
                errors.append(e)
        raise ConfigError(f"{path} = {value!r} is not allowed: expected {_type_name(tp)}")
    if origin is list:
        (inner,) = typing.get_args(tp) or (Any,)
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list):
            raise ConfigError(f"{path} = {value!r} is not allowed: expected {_type_name(tp)}")
        return [_coerce(f"{path}[{i}]", inner, v) for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path} = {value!r} is not allowed: expected a table")
        return dict(value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{path} = {value!r} is not allowed: expected a table")
        return from_dict(tp, value, path)
    if tp is type(None):
        if value is None:
            return None
        raise ConfigError(f"{path} = {value!r} is not allowed")
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{path} = {value!r} is not allowed: expected true or false")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and math.isfinite(value) and value.is_integer():
                value = int(value)
            else:
                raise ConfigError(f"{path} = {value!r} is not allowed: expected an integer")
        if not -(2**63) <= value < 2**63:
            raise ConfigError(
                f"{path} = {value} is not allowed: expected an integer of magnitude below 2**63"
            )
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path} = {value!r} is not allowed: expected a number")
        if not math.isfinite(value):
            raise ConfigError(f"{path} = {value!r} is not allowed: expected a finite number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path} = {value!r} is not allowed: expected a string")
        return value
    raise TypeError(f"unsupported config type {tp!r} at {path}")  # programming error


def from_dict(cls: type, data: dict[str, Any], path: str = "") -> Any:
    """Build dataclass ``cls`` from ``data``, rejecting unknown keys and bad values."""
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls) if f.init}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        where = f"{path}.{key}" if path else key
        if key not in known:
            allowed = (
                f"allowed: {', '.join(sorted(known))}" if known else "this table takes no keys"
            )
            raise ConfigError(f"unknown key '{where}'{suggest(key, known)}; {allowed}")
        kwargs[key] = _coerce(where, hints[key], value)
    for name, f in known.items():
        if (
            name not in kwargs
            and f.default is dataclasses.MISSING
            and (f.default_factory is dataclasses.MISSING)
        ):
            where = f"{path}.{name}" if path else name
            raise ConfigError(f"missing key '{where}' ({_type_name(hints[name])})")
    obj = cls(**kwargs)
    for name, f in known.items():
        check = f.metadata.get("check")
        value = getattr(obj, name)
        if check is not None and value is not None and not isinstance(value, str):
            check(f"{path}.{name}" if path else name, value)
    validate = getattr(obj, "validate", None)
    if validate is not None:
        validate(path)
    return obj


def to_dict(obj: Any) -> Any:
    """Dataclass -> plain dict (TOML/JSON friendly)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj
