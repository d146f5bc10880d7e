"""Every configuration key, documented from the schema: ``insr config keys`` / ``show``.

The keys, their types, defaults, allowed values and docs are read from the dataclasses
that validate them (:mod:`insr.settings`, each representation's config class in
:mod:`insr.fields`, each equation's ``[extra.<table>]`` settings), so the listing cannot
drift from what is accepted. :func:`to_toml` writes a resolved configuration as TOML with
each key's doc as a comment; fed back with ``--config`` it resolves to the same config.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass
from typing import Any

from insr.cases.fluid import ReferenceSettings
from insr.cases.initial import families, family_table
from insr.cases.velocity import VELOCITIES
from insr.derivatives import STRATEGIES
from insr.equations import EQUATIONS, equation_names
from insr.fields import REPRESENTATIONS, config_class
from insr.schema import ConfigError, check_text, suggest, type_name
from insr.settings import RunConfig

#: keys whose allowed values come from a registry, not from their type
_REGISTRY_CHOICES = {
    "case.pde": lambda: equation_names(),
    "representation.kind": lambda: list(REPRESENTATIONS),
    "derivative.loss": lambda: list(STRATEGIES),
    "derivative.log": lambda: list(STRATEGIES),
    "representation.grid.match_params_of": lambda: ["", *(k for k in REPRESENTATIONS)],
    "extra.fluid.pressure_representation": lambda: ["", *REPRESENTATIONS],
}
#: recorded by insr, not set by a user (shown as comments)
RECORDED = (
    "run.presets",
    "representation.grid.matched_params",
    "representation.grid.matched_member",
)
REQUIRED = "(required)"


@dataclass(frozen=True)
class Key:
    """One configuration key."""

    key: str  # dotted, e.g. "solver.init.lr"
    type: str  # "an integer", "one of 'adam', 'lbfgs'", ...
    default: Any  # REQUIRED when the key has no default
    allowed: str  # range or choices ('' when the type says it all)
    doc: str
    when: str = ""  # a key of one variant of its table: "family = 'gaussian'"

    @property
    def section(self) -> str:
        return self.key.rsplit(".", 1)[0]

    @property
    def label(self) -> str:
        return f"{self.key} ({self.when})" if self.when else self.key


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return REQUIRED


def _walk(cls: type, prefix: str, when: str = "") -> list[Key]:
    hints = typing.get_type_hints(cls)
    out: list[Key] = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        key = f"{prefix}.{f.name}"
        tp = hints[f.name]
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            out += _walk(tp, key, when)
            continue
        choices = _REGISTRY_CHOICES.get(key)
        allowed = (
            "one of " + ", ".join(repr(c) for c in choices())
            if choices is not None
            else check_text(f.metadata.get("check"))
        )
        doc = f.metadata.get("doc", "")
        out.append(Key(key, type_name(tp), _default(f), allowed, doc, when))
    return out


def _case_tables() -> list[Key]:
    """The keys of ``[case.initial]`` per family, ``[case.velocity]`` per kind and
    ``[case.reference]`` (euler)."""
    fams = families()
    out = [
        Key(
            "case.initial.family",
            "a string",
            REQUIRED,
            "one of " + ", ".join(repr(f) for f in fams),
            "initial-condition family; its keys follow",
        )
    ]
    for fam in fams:
        out += _walk(family_table(fam), "case.initial", f"family = {fam!r}")
    kinds = list(VELOCITIES)
    out.append(
        Key(
            "case.velocity.kind",
            "a string",
            "constant",
            "one of " + ", ".join(repr(k) for k in kinds),
            "advection velocity; its keys follow",
        )
    )
    for kind, cls in VELOCITIES.items():
        keys = _walk(cls, "case.velocity", f"kind = {kind!r}")
        out += [k for k in keys if k.key != "case.velocity.kind"]
    out += _walk(ReferenceSettings, "case.reference", "pde = 'euler'")
    return out


def extra_tables() -> dict[str, type]:
    """``[extra.<table>]`` -> its settings dataclass (tables shared by PDEs listed once)."""
    out: dict[str, type] = {}
    for entry in EQUATIONS.values():
        out.setdefault(entry.table, entry.settings)
    return out


def all_keys() -> list[Key]:
    """Every key, in the order of the sections of a config file."""
    hints = typing.get_type_hints(RunConfig)
    out: list[Key] = []
    for f in dataclasses.fields(RunConfig):
        if f.name == "representation":
            rep = {x.name: x for x in dataclasses.fields(hints["representation"])}["kind"]
            kinds = ", ".join(repr(k) for k in REPRESENTATIONS)
            out.append(
                Key(
                    "representation.kind",
                    "a string",
                    rep.default,
                    f"one of {kinds}",
                    "the representation that carries the field; its settings are "
                    "[representation.<kind>]",
                )
            )
            for kind in REPRESENTATIONS:
                out += _walk(config_class(kind), f"representation.{kind}")
        elif f.name == "extra":
            for table, cls in extra_tables().items():
                out += _walk(cls, f"extra.{table}")
        elif f.name == "case":
            out += _walk(hints["case"], "case") + _case_tables()
        else:
            out += _walk(hints[f.name], f.name)
    return out


def sections() -> list[str]:
    """Every table that holds keys (``solver``, ``solver.init``, ``representation.siren``...)
    and the top-level sections."""
    names: list[str] = []
    for k in all_keys():
        parts = k.section.split(".")
        for i in range(1, len(parts) + 1):
            s = ".".join(parts[:i])
            if s not in names:
                names.append(s)
    return names


def keys_of(section: str | None = None) -> list[Key]:
    """The keys in ``section`` and below (all keys for None); an unknown section is one
    :class:`ConfigError` listing the sections."""
    keys = all_keys()
    if not section:
        return keys
    names = sections()
    if section not in names:
        raise ConfigError(
            f"unknown config section '{section}'{suggest(section, names)}; "
            f"allowed: {', '.join(names)}"
        )
    return [k for k in keys if k.section == section or k.section.startswith(section + ".")]


# --------------------------------------------------------------------------- text
def format_value(v: Any) -> str:
    """A value as TOML (inline)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        esc = v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{esc}"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(format_value(x) for x in v) + "]"
    if isinstance(v, dict):
        inner = ", ".join(f"{_bare(k)} = {format_value(x)}" for k, x in v.items())
        return "{" + inner + "}" if inner else "{}"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")  # programming error


def _bare(k: str) -> str:
    ok = k and all(c.isalnum() or c in "-_" for c in k)
    return k if ok else format_value(k)


def kind_text(k: Key) -> str:
    """The type with its range or choices: ``'an integer >= 1'``, ``"one of 'a', 'b'"``."""
    if not k.allowed:
        return k.type
    if k.allowed.startswith("one of"):
        return f"{k.type}, each {k.allowed}" if k.type.startswith("a list") else k.allowed
    return f"{k.type} {k.allowed}"


def describe(k: Key) -> str:
    """One line: the doc, then the type/allowed values."""
    return "; ".join(p for p in (k.doc, kind_text(k)) if p)


def default_text(k: Key) -> str:
    if k.default is REQUIRED:
        return REQUIRED
    if k.default is None:
        return "(not set)"
    return format_value(k.default)


def to_toml(cfg: RunConfig, docs: bool = True) -> str:
    """``cfg`` as TOML (tables in config-file order; each key's doc as a comment above it
    when ``docs``). Keys insr records (``run.presets``, ...) and unset optional keys are
    written as comments, so the text fed back with ``--config`` gives the same config."""
    d = cfg.as_dict()
    kind = d["representation"].pop("kind")
    d["representation"] = {"kind": kind, kind: d["representation"]}
    by_key: dict[str, list[Key]] = {}
    for entry in all_keys():
        by_key.setdefault(entry.key, []).append(entry)
    lines: list[str] = []

    def table(name: str, values: dict[str, Any], defaults: dict[str, Any] | None = None) -> None:
        scalars = {k: v for k, v in values.items() if not _is_table(f"{name}.{k}", v)}
        subs = {k: v for k, v in values.items() if _is_table(f"{name}.{k}", v)}
        if scalars or defaults or not subs:
            lines.append(f"[{name}]")
        for k, v in scalars.items():
            key = f"{name}.{k}"
            meta = _variant(by_key.get(key, []), values)
            if docs and meta is not None and describe(meta):
                lines.append(f"# {describe(meta)}")
            if key in RECORDED or v is None:
                why = "recorded by insr, not set" if key in RECORDED else "not set"
                shown = "" if v is None else f" = {format_value(v)}"
                lines.append(f"# {k}{shown}  ({why})")
            else:
                lines.append(f"{_bare(k)} = {format_value(v)}")
        for k, v in (defaults or {}).items():  # extra.* keys left at their defaults
            meta = _variant(by_key.get(f"{name}.{k}", []), values)
            if docs and meta is not None and describe(meta):
                lines.append(f"# {describe(meta)}")
            lines.append(f"# {k} = {format_value(v)}  (default)")
        lines.append("")
        for k, v in subs.items():
            table(f"{name}.{k}", v)

    for section in ("case", "representation", "solver", "derivative", "eval", "run"):
        table(section, d[section])
    tables = extra_tables()
    for name, cls in tables.items():
        if name != _table_of(cfg.case.pde):
            continue
        given = dict(d["extra"].get(name, {}))
        defaults = {
            f.name: _default(f)
            for f in dataclasses.fields(cls)
            if f.init and f.name not in given and _default(f) is not None
        }
        if given or defaults:
            if not given:  # nothing set: the whole table as comments
                lines.append(f"# [extra.{name}]  (all keys at their defaults)")
                for k, v in defaults.items():
                    meta = _variant(by_key.get(f"extra.{name}.{k}", []), {})
                    if docs and meta is not None and describe(meta):
                        lines.append(f"# {describe(meta)}")
                    lines.append(f"# {k} = {format_value(v)}")
                lines.append("")
            else:
                table(f"extra.{name}", given, defaults)
    return "\n".join(lines).rstrip("\n") + "\n"


def _variant(keys: list[Key], values: dict[str, Any]) -> Key | None:
    """The entry of a key that applies to a table with these ``values`` (the variant whose
    ``family``/``kind`` matches; the only one when there is one)."""
    if len(keys) <= 1:
        return keys[0] if keys else None
    for k in keys:
        disc, _, want = k.when.partition(" = ")
        if disc in values and repr(values[disc]) == want:
            return k
    return None


def _table_of(pde: str) -> str:
    entry = EQUATIONS.get(pde)
    return entry.table if entry is not None else ""


#: dict-valued keys written as [sub.tables] when not empty (other dicts, e.g.
#: matched_params, stay inline); representation.<kind> is always a table
_SUBTABLES = ("solver.init", "case.initial", "case.velocity", "case.reference")


def _is_table(key: str, v: Any) -> bool:
    if not isinstance(v, dict):
        return False
    if key.startswith("representation.") and key.count(".") == 1:
        return True
    return key in _SUBTABLES and bool(v)


# --------------------------------------------------------------------------- README
def markdown_table(keys: list[Key] | None = None) -> str:
    """The README's key table (README "Configuration"; ``insr config keys --format
    markdown``)."""
    rows = ["| key | type / allowed | default | doc |", "|---|---|---|---|"]
    for k in keys if keys is not None else all_keys():
        key = f"`{k.key}` ({k.when})" if k.when else f"`{k.key}`"
        cells = [key, kind_text(k), f"`{default_text(k)}`", k.doc]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows) + "\n"
