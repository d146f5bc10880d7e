"""Typed run configuration: TOML layers + ``--set`` overrides -> validated dataclasses.

A run's configuration is the merge, in this order (later wins), of

1. the dataclass defaults of :mod:`insr.settings` — the ONE place where defaults live (no
   defaults TOML; ``tests/test_config.py`` checks that nothing else injects defaults),
2. the presets of the representation kind for the case's PDE and dimension,
   ``configs/presets/<kind>.toml`` tables ``[<pde>.<dim>d.*]``, then that file's
   per-case tables ``[<pde>.<dim>d.cases.<case name>.*]`` (see :func:`preset_layer`),
3. the case file ``cases/<case>.toml`` (its ``[case]`` table, plus anything it states
   for every representation, e.g. ``[eval]``),
4. ``--config FILE`` files (e.g. ``paper.toml``, the shipped ``configs/paper.toml``),
5. ``--set section.key=value`` overrides (values parsed as TOML, bare words as strings).

``cases/`` and ``configs/`` are looked up in the working directory first, then in the
shipped package data ``insr/data/`` (:mod:`insr.paths`).

The presets applied are recorded in ``run.presets`` of the resolved (and stored) config.
Every key is checked: unknown keys, wrong types and out-of-range values raise
:class:`ConfigError` naming the key and what is allowed. The flat step-0 budget keys
``solver.init_<key>`` of older files are read as ``solver.init.<key>`` with a one-line
deprecation warning on stderr.
"""

from __future__ import annotations

import copy
import sys
import tomllib
from pathlib import Path
from typing import Any

from insr import paths
from insr.case_table import CaseConfig  # noqa: F401 - re-exported for callers
from insr.derivatives import STRATEGIES
from insr.equations import equation_names
from insr.errors import check_path_length
from insr.fields import REPRESENTATIONS, parse_settings
from insr.knobs import check_effective
from insr.schema import (  # noqa: F401 - re-exported for callers
    ConfigError,
    at_least,
    from_dict,
    in_range,
    opt,
    positive,
    suggest,
    to_dict,
)
from insr.settings import (  # noqa: F401 - re-exported for callers
    BUDGET_KEYS,
    DerivativeConfig,
    EvalConfig,
    InitConfig,
    RepresentationConfig,
    RunConfig,
    RunSection,
    SolverConfig,
)

#: the shipped data (package data ``insr/data``); lookup order and outputs: :mod:`insr.paths`
CASES_DIR = paths.SHIPPED_CASES
CONFIGS_DIR = paths.SHIPPED_CONFIGS
PRESETS_DIR = CONFIGS_DIR / "presets"


# --------------------------------------------------------------------------- loading
MAX_TOML_BYTES = 4 * 2**20


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file, turning I/O and syntax problems into one-line errors."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_TOML_BYTES + 1)  # /dev/zero or a huge file: never all of it
        if len(data) > MAX_TOML_BYTES:
            raise ConfigError(
                f"{path} is not a TOML config: larger than {MAX_TOML_BYTES // 2**20} MiB"
            )
        return tomllib.loads(data.decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"expected a TOML file, got a directory: {path}") from None
    except PermissionError:
        raise ConfigError(f"cannot read {path}: permission denied") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path} is not valid TOML: {e}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not a text TOML file") from None
    except OSError as e:  # a name too long, a fifo, an I/O error: one line naming the file
        raise ConfigError(f"cannot read {path}: {e.strerror or e}") from None


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge; tables merge, everything else replaces."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


# ------------------------------------------------------------------- deprecated keys
_WARNED: set[str] = set()


def _deprecated(old: str, new: str, source: str) -> None:
    """One stderr line per (key, source) and process."""
    msg = f"insr: warning: {old} is deprecated, use {new} ({source})"
    if msg not in _WARNED:
        _WARNED.add(msg)
        print(msg, file=sys.stderr)


def upgrade_legacy(raw: dict[str, Any], source: str = "", warn: bool = True) -> dict[str, Any]:
    """Map the flat step-0 keys ``solver.init_<key>`` to ``solver.init.<key>``."""
    solver = raw.get("solver")
    if not isinstance(solver, dict):
        return raw
    old = [k for k in solver if k.startswith("init_") and k[5:] in BUDGET_KEYS]
    if not old:
        return raw
    out = copy.deepcopy(raw)
    s = out["solver"]
    init = s.get("init", {})
    if not isinstance(init, dict):
        raise ConfigError(f"solver.init = {init!r} is not allowed: expected a table")
    for k in old:
        new = k[5:]
        if new in init:
            raise ConfigError(
                f"solver.{k} and solver.init.{new} both given{f' ({source})' if source else ''}; "
                f"keep solver.init.{new}"
            )
        if warn:
            _deprecated(f"solver.{k}", f"solver.init.{new}", source or "config")
        init[new] = s.pop(k)
    s["init"] = init
    return out


def read_layer(path: Path) -> dict[str, Any]:
    """A TOML layer (case file or ``--config`` file) with deprecated keys mapped."""
    raw = read_toml(path)
    for k, v in raw.items():
        if not isinstance(v, dict):
            raise ConfigError(
                f"{path}: '{k}' = {v!r} is not allowed at the top level: expected a table "
                f"[{k}] of settings"
            )
    run = raw.get("run")
    if isinstance(run, dict) and "presets" in run:
        raise ConfigError(
            f"{path}: run.presets is recorded, not set; override the preset's keys instead"
        )
    return upgrade_legacy(raw, str(path))


# --------------------------------------------------------------------------- --set
def parse_value(text: str) -> Any:
    """Parse the right-hand side of ``--set key=value`` as TOML; bare words are strings."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_set(item: str) -> tuple[list[str], Any]:
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected section.key=value")
    key, value = item.split("=", 1)
    parts = [p.strip() for p in key.strip().split(".")]
    if not all(parts) or len(parts) < 2:
        raise ConfigError(f"--set {item!r}: expected section.key=value (e.g. solver.lr=1e-3)")
    if parts[:2] == ["run", "presets"]:
        raise ConfigError(
            "--set run.presets: the applied presets are recorded, not set; "
            "override the preset's keys instead"
        )
    if parts[0] == "solver" and len(parts) == 2 and parts[1].startswith("init_"):
        new = parts[1][5:]
        if new in BUDGET_KEYS:
            _deprecated(f"solver.{parts[1]}", f"solver.init.{new}", f"--set {item}")
            parts = ["solver", "init", new]
    return parts, parse_value(value.strip())


def apply_sets(data: dict[str, Any], sets: list[str]) -> dict[str, Any]:
    out = upgrade_legacy(data, warn=False)
    out = copy.deepcopy(out)
    for item in sets:
        parts, value = parse_set(item)
        node = out
        for p in parts[:-1]:
            nxt = node.setdefault(p, {})
            if not isinstance(nxt, dict):
                raise ConfigError(f"--set {item!r}: '{p}' is a value, not a table")
            node = nxt
        node[parts[-1]] = value
    return out


# --------------------------------------------------------------------------- cases
def list_cases() -> list[str]:
    """Case names: ``./cases/*.toml`` of the working directory and the shipped cases."""
    return sorted(paths.all_cases())


def resolve_case_path(case: str) -> Path:
    """A case name (``advection1d``: ``./cases/<name>.toml``, then shipped) or a path to a
    case TOML file. Only a *file* is a case file: a directory named like a case (``outputs``
    holds ``advection1d/``) does not hide the case of that name."""
    if not case.strip():
        raise ConfigError(
            "the case is empty: expected a case name (see `insr cases`) or a TOML path"
        )
    check_path_length(case, "the case file")
    p = Path(case).expanduser()
    if p.is_file():
        return p
    if paths.looks_like_path(case):
        if p.is_dir():
            raise ConfigError(f"{p} is a directory, not a case file (a case is a .toml file)")
        raise ConfigError(f"case file not found: {p}")
    found = paths.find_case(case)
    if found is None:
        names = list_cases()
        raise ConfigError(
            f"unknown case '{case}'{suggest(case, names)}; allowed: {', '.join(names)}"
        )
    return found


# --------------------------------------------------------------------------- presets
#: the tables a preset may set (``representation`` only for the preset file's own kind)
PRESET_SECTIONS = ("solver", "derivative", "representation")


def known_pdes() -> tuple[str, ...]:
    """The ``case.pde`` values: the names in the equation registry (:mod:`insr.equations`)."""
    return tuple(equation_names())


def preset_path(kind: str) -> Path:
    """``./configs/presets/<kind>.toml`` of the working directory, else the shipped one."""
    user = paths.user_configs_dir() / "presets" / f"{kind}.toml"
    return user if user.is_file() else PRESETS_DIR / f"{kind}.toml"


def _check_preset_table(table: Any, kind: str, where: str) -> None:
    if not isinstance(table, dict):
        raise ConfigError(f"{where} = {table!r} is not allowed: expected a table")
    for sec, val in table.items():
        if sec not in PRESET_SECTIONS:
            raise ConfigError(
                f"unknown preset table '{where}.{sec}'{suggest(sec, PRESET_SECTIONS)}; "
                f"allowed: {', '.join(PRESET_SECTIONS)}"
            )
        if sec == "representation":
            if not isinstance(val, dict) or set(val) - {kind}:
                raise ConfigError(
                    f"{where}.representation may only hold [{where}.representation.{kind}] "
                    f"(a preset of '{kind}' configures its own kind)"
                )


def preset_layer(kind: str, pde: str, dim: int, case: str) -> tuple[dict[str, Any], list[str]]:
    """The preset numerics of ``kind`` for a ``pde`` in ``dim`` dimensions, and the names of
    the tables applied (lowest first).

    ``configs/presets/<kind>.toml`` holds tables ``[<pde>.<dim>d.<section>]`` (section:
    solver, derivative, representation.<kind>) and, for numerics that differ between cases
    of one PDE and dimension, ``[<pde>.<dim>d.cases.<case name>.<section>]`` above them.
    A kind without a preset file, or without a table for this PDE/dimension, adds nothing.
    """
    path = preset_path(kind)
    if not path.exists():
        return {}, []
    data = read_toml(path)
    rel = f"presets/{kind}.toml" if path.parent == PRESETS_DIR else str(path)
    pdes = known_pdes()
    for p, by_dim in data.items():
        if pdes is not None and p not in pdes:
            raise ConfigError(
                f"{rel}: unknown pde '{p}'{suggest(p, pdes)}; allowed: {', '.join(pdes)}"
            )
        if not isinstance(by_dim, dict):
            raise ConfigError(f"{rel}: [{p}] must hold tables [{p}.1d], [{p}.2d], ...")
        for d in by_dim:
            if d not in ("1d", "2d", "3d"):
                raise ConfigError(f"{rel}: unknown dimension '{p}.{d}'; allowed: 1d, 2d, 3d")
    table = data.get(pde, {}).get(f"{dim}d")
    if table is None:
        return {}, []
    key = f"{pde}.{dim}d"
    table = dict(table)
    cases = table.pop("cases", {})
    _check_preset_table(table, kind, f"{rel}:{key}")
    layer, names = upgrade_legacy(table, f"{rel}:{key}"), [f"{rel}:{key}"]
    if not isinstance(cases, dict):
        raise ConfigError(f"{rel}:{key}.cases = {cases!r} is not allowed: expected a table")
    if case in cases:
        _check_preset_table(cases[case], kind, f"{rel}:{key}.cases.{case}")
        layer = merge(layer, upgrade_legacy(cases[case], f"{rel}:{key}.cases.{case}"))
        names.append(f"{rel}:{key}.cases.{case}")
    return layer, names


def preset_hint(cfg: RunConfig) -> str:
    """Which presets a run used and which to try, for a poor or failed fit (one clause):
    the preset tables applied (or that its kind has none for this PDE/dimension, so the
    global defaults ran), and the other kinds with a preset for this PDE and dimension."""
    kind, pde, dim = cfg.representation.kind, cfg.case.pde, len(cfg.case.domain)
    where = f"{pde} {dim}D"
    used = list(cfg.run.presets)
    if used:
        head = "numerics from " + ", ".join(f"configs/{n}" for n in used)
    else:
        head = f"no preset of '{kind}' for {where} (the global defaults ran)"
    others = []
    for path in sorted(PRESETS_DIR.glob("*.toml")):
        if path.stem == kind:
            continue
        try:
            if preset_layer(path.stem, pde, dim, cfg.case.name)[1]:
                others.append(path.stem)
        except ConfigError:
            continue
    tail = (
        f"; kinds with a preset for {where}: {', '.join(others)} (--set representation.kind=...)"
        if others
        else ""
    )
    return head + tail


def _matched_kind(rep: dict[str, Any]) -> str:
    """The kind an equal-memory grid matches (``representation.grid.match_params_of``)."""
    if rep.get("kind") != "grid":
        return ""
    grid = rep.get("grid", {})
    m = rep.get(
        "match_params_of", grid.get("match_params_of", "") if isinstance(grid, dict) else ""
    )
    return m if isinstance(m, str) and m in REPRESENTATIONS and m != "grid" else ""


def _with_presets(raw: dict[str, Any]) -> dict[str, Any]:
    """``raw`` merged above the presets of its kind, PDE and dimension (recorded in
    ``run.presets``); left alone when those cannot be read (validation reports it)."""
    case = raw.get("case")
    rep = raw.get("representation", {})
    kind = rep.get("kind", "siren") if isinstance(rep, dict) else None
    if not isinstance(case, dict) or not isinstance(kind, str) or kind not in REPRESENTATIONS:
        return raw
    pde, domain, name = case.get("pde"), case.get("domain"), case.get("name", "")
    pdes = known_pdes()
    if not isinstance(pde, str) or (pdes is not None and pde not in pdes):
        return raw
    if not isinstance(domain, list) or not isinstance(name, str):
        return raw
    layer, names = preset_layer(kind, pde, len(domain), name)
    matched = _matched_kind(rep)
    if matched:
        # an equal-memory grid is sized by the matched kind as it runs on this case
        m_layer, m_names = preset_layer(matched, pde, len(domain), name)
        if "representation" in m_layer:
            layer = merge({"representation": m_layer["representation"]}, layer)
            names = [f"{n} [representation.{matched}]" for n in m_names] + names
    out = merge(layer, raw)
    run = out.setdefault("run", {})
    if isinstance(run, dict):
        run["presets"] = names
    return out


# --------------------------------------------------------------------------- building
SECTIONS = ("case", "representation", "solver", "derivative", "eval", "run", "extra")


def _representation(rep_raw: dict[str, Any]) -> RepresentationConfig:
    """``[representation]`` -> typed settings of the selected kind (flat keys apply to it)."""
    rep_raw = dict(rep_raw)
    kind = rep_raw.pop("kind", "siren")
    if not isinstance(kind, str) or kind not in REPRESENTATIONS:
        raise ConfigError(
            f"unknown representation '{kind}'{suggest(str(kind), REPRESENTATIONS)}; "
            f"allowed: {', '.join(REPRESENTATIONS)}"
        )
    sub = rep_raw.pop(kind, {})
    # sub-tables of other kinds are kept (a file may configure several) but validated too;
    # a non-table value named like a kind is a flat key (densegrid's `mlp = true`)
    others_raw = {k: v for k, v in rep_raw.items() if k in REPRESENTATIONS and isinstance(v, dict)}
    loose = {k: v for k, v in rep_raw.items() if k not in others_raw}
    if loose:
        # flat keys (representation.omega0) apply to the selected kind
        sub = merge(sub, loose)
    others = {k: parse_settings(k, v, f"representation.{k}") for k, v in others_raw.items()}
    settings = parse_settings(kind, sub, f"representation.{kind}")
    matched = getattr(settings, "match_params_of", "")
    if kind == "grid" and matched and not settings.matched_params:
        # equal-memory grid: keep the matched representation's parameters (they set its size)
        m = others.get(matched) or parse_settings(matched, {}, f"representation.{matched}")
        settings.matched_params = to_dict(m)
    return RepresentationConfig(kind=kind, settings=settings, others=others)


def build_config(raw: dict[str, Any]) -> RunConfig:
    """Validate a merged raw dict (above the presets it selects) into a :class:`RunConfig`."""
    for key in raw:
        if key not in SECTIONS:
            raise ConfigError(
                f"unknown section '{key}'{suggest(key, SECTIONS)}; allowed: {', '.join(SECTIONS)}"
            )
    if "case" not in raw:
        raise ConfigError("the configuration has no [case] table")
    raw = _with_presets(upgrade_legacy(raw, warn=False))
    rep = _representation(raw.get("representation", {}))
    cfg = from_dict(RunConfig, {k: v for k, v in raw.items() if k != "representation"})
    cfg.representation = rep
    for s in [cfg.derivative.loss, *cfg.derivative.log]:
        if s not in STRATEGIES:
            raise ConfigError(
                f"unknown derivative strategy '{s}'{suggest(s, STRATEGIES)}; "
                f"allowed: {', '.join(STRATEGIES)}"
            )
    check_effective(cfg)  # no silent knobs: a key set where it acts on nothing is refused
    return cfg


def base_raw(case: str, config_files: list[str] | None = None) -> dict[str, Any]:
    """Merged raw config (case < --config files), not yet validated; the dataclass defaults
    and the presets go beneath it in :func:`build_config`."""
    raw = read_layer(resolve_case_path(case))
    if "case" not in raw:
        raise ConfigError(f"{case}: a case file needs a [case] table")
    for f in config_files or []:
        raw = merge(raw, read_layer(paths.resolve_config_file(str(f))))
    return raw


def load_config(
    case: str, config_files: list[str] | None = None, sets: list[str] | None = None
) -> RunConfig:
    """Resolve a case name/path, config files and overrides into a validated RunConfig."""
    return build_config(apply_sets(base_raw(case, config_files), sets or []))


def config_from_text(text: str) -> RunConfig:
    """Rebuild a RunConfig from the JSON stored in a run log."""
    import json

    return build_config(json.loads(text))
