"""Where insr finds its cases and configs and where it writes its outputs (a leaf module).

* Shipped data lives inside the package, ``insr/data/cases`` and ``insr/data/configs``
  (package data, found with :mod:`importlib.resources`, so it works from a wheel).
* A case is an explicit path to a case *file*, or a name looked up in ``./cases/<name>.toml``
  of the working directory, then in the shipped cases. A directory is never a case file: a
  folder ``./advection1d`` does not hide the case ``advection1d``.
* Config files (``--config``, presets, compare member sets, studies) are looked up the same
  way: an explicit file path, then ``./configs/<rel>``, then the shipped ``configs/<rel>``.
* Outputs go to ``$INSR_OUTPUTS`` when it is set, else ``./outputs`` of the working
  directory; ``--out`` of each command overrides both.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

#: the environment variable that moves the outputs root
OUTPUTS_ENV = "INSR_OUTPUTS"


def _data_dir() -> Path:
    root = resources.files("insr").joinpath("data")
    # a regular (unzipped) install: a real directory the TOML readers can open
    return Path(str(root))


DATA_DIR = _data_dir()
SHIPPED_CASES = DATA_DIR / "cases"
SHIPPED_CONFIGS = DATA_DIR / "configs"


def user_cases_dir() -> Path:
    """``./cases`` of the current working directory."""
    return Path.cwd() / "cases"


def user_configs_dir() -> Path:
    """``./configs`` of the current working directory."""
    return Path.cwd() / "configs"


def outputs_root() -> Path:
    """``$INSR_OUTPUTS`` if set (and not empty), else ``./outputs`` of the working directory."""
    env = os.environ.get(OUTPUTS_ENV, "").strip()
    return Path(env).expanduser().absolute() if env else Path.cwd() / "outputs"


def looks_like_path(text: str) -> bool:
    """A TOML file name or anything with a directory separator is meant as a path."""
    return text.endswith(".toml") or "/" in text or os.sep in text


def case_dirs() -> list[tuple[str, Path]]:
    """The case directories in lookup order, each with a label for listings."""
    return [("./cases", user_cases_dir()), ("shipped", SHIPPED_CASES)]


def find_case(name: str) -> Path | None:
    """The case file for a case *name* (``./cases`` first, then shipped), or None."""
    for _, d in case_dirs():
        p = d / f"{name}.toml"
        if p.is_file():
            return p
    return None


def all_cases() -> dict[str, tuple[str, Path]]:
    """Every case name found -> (label, file) of the one that is used (``./cases`` wins)."""
    out: dict[str, tuple[str, Path]] = {}
    for label, d in case_dirs():
        if d.is_dir():
            for p in sorted(d.glob("*.toml")):
                if p.is_file():
                    out.setdefault(p.stem, (label, p))
    return out


def find_config(rel: str | Path) -> Path | None:
    """``./configs/<rel>`` if it is a file, else the shipped ``configs/<rel>``, else None."""
    for d in (user_configs_dir(), SHIPPED_CONFIGS):
        p = d / rel
        if p.is_file():
            return p
    return None


def config_glob(sub: str, pattern: str = "*.toml") -> list[Path]:
    """Files of ``configs/<sub>`` (``./configs`` ones hide shipped ones of the same name)."""
    found: dict[str, Path] = {}
    for d in (user_configs_dir() / sub, SHIPPED_CONFIGS / sub):
        if d.is_dir():
            for p in sorted(d.glob(pattern)):
                if p.is_file():
                    found.setdefault(p.name, p)
    return [found[k] for k in sorted(found)]


def resolve_config_file(text: str) -> Path:
    """A ``--config`` argument: an existing file path, else a name (``paper`` or
    ``paper.toml``, also ``configs/paper.toml``) in ``./configs``, then the shipped configs.
    Returns the path as given when nothing matches (the reader reports it missing)."""
    p = Path(text).expanduser()
    try:
        if p.is_file():
            return p
    except OSError:  # a name too long, ...: the reader reports it in one line
        return p
    rel = Path(text)
    if rel.parts and rel.parts[0] == "configs":
        rel = Path(*rel.parts[1:]) if len(rel.parts) > 1 else rel
    if rel.suffix != ".toml":
        rel = rel.with_name(rel.name + ".toml")
    if not rel.is_absolute():
        hit = find_config(rel)
        if hit is not None:
            return hit
    return p
