"""What to draw: the runs (one log, or every member of a compare dir) and the steps."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from insr.compare import is_compare_dir, log_status, read_manifest
from insr.errors import UsageError
from insr.log import RunLogReader


def parse_steps(text: str | None) -> tuple[int | None, int | None, int]:
    """``"a:b:k"`` (any part may be empty; ``"a"`` alone means just step a) -> (a, b, k).

    Selects logged steps s with ``a <= s < b`` and ``(s - a) % k == 0`` (Python slice rule on
    step numbers, not on rows).
    """
    if text is None or text.strip() == "":
        return None, None, 1
    m = re.fullmatch(r"\s*(-?\d*)\s*(?::\s*(-?\d*)\s*(?::\s*(-?\d*)\s*)?)?", text)
    if not m:
        raise UsageError(f"--steps {text!r} is not a step slice: expected a:b:k (e.g. 0:40:2)")
    a, b, k = (int(g) if g not in (None, "") else None for g in m.groups())
    if ":" not in text:
        if a is None:
            raise UsageError(f"--steps {text!r} is not a step slice: expected a:b:k")
        return a, a + 1, 1
    if k is not None and k <= 0:
        raise UsageError(f"--steps {text!r}: the stride k must be >= 1")
    for v in (a, b):
        if v is not None and v < 0:
            raise UsageError(f"--steps {text!r}: step numbers must be >= 0")
    if a is not None and b is not None and b <= a:
        raise UsageError(f"--steps {text!r} is empty: need a < b")
    return a, b, k or 1


def select_steps(available: list[int], sl: tuple[int | None, int | None, int]) -> list[int]:
    """The logged step numbers that the slice ``sl`` (from :func:`parse_steps`) selects."""
    a, b, k = sl
    lo = a if a is not None else (min(available) if available else 0)
    return [s for s in sorted(available) if s >= lo and (b is None or s < b) and (s - lo) % k == 0]


def describe_steps(steps: list[int]) -> str:
    """A short list of step numbers for error messages."""
    if len(steps) <= 6:
        return ", ".join(map(str, steps))
    return f"{steps[0]}, {steps[1]}, ..., {steps[-1]} ({len(steps)} in all)"


@dataclass
class Source:
    """One run to draw: a label and its open log."""

    name: str
    reader: Any  # RunLogReader
    steps: np.ndarray  # step number of each completed row

    @property
    def label(self) -> str:
        """The name, and for a grid baseline its scheme (figure legends and titles)."""
        scheme = self.reader.attrs.get("grid_scheme")
        return f"{self.name}\n{scheme}" if scheme else self.name

    def row_of(self, step: int) -> int | None:
        idx = np.nonzero(self.steps == step)[0]
        return int(idx[0]) if idx.size else None


def _steps(r: Any) -> np.ndarray:
    return np.asarray(r.series("step")) if r.has("step") else np.arange(r.n)


def member_logs(compare_dir: Path) -> list[tuple[str, Path]]:
    """(name, run.h5) of every member of a compare dir that has a readable log."""
    manifest = read_manifest(compare_dir)
    out = []
    for m in manifest["members"]:
        p = Path(compare_dir) / m["name"] / "run.h5"
        if p.exists() and log_status(Path(compare_dir) / m["name"]) is not None:
            out.append((m["name"], p))
    return out


def _open_members(path: Path) -> tuple[list[Source], Path, str]:
    manifest = read_manifest(path)
    sources = []
    for m in manifest.get("members", []):
        log = path / m["name"] / "run.h5"
        if not log.exists():
            continue
        try:
            r = RunLogReader(log)
        except UsageError:
            continue
        if r.n == 0:
            r.close()
            continue
        sources.append(Source(m["name"], r, _steps(r)))
    if not sources:
        raise UsageError(f"{path}: no member of this compare directory has a logged step")
    title = f"{manifest.get('case', '')} — {manifest.get('kind', 'compare')}"
    return sources, path, title


def open_sources(path: Path) -> tuple[list[Source], Path, str]:
    """A run dir / run.h5 or a compare dir -> (sources, directory beside which to write,
    title)."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path} does not exist: expected a run directory, run.h5 or compare dir")
    if is_compare_dir(path):
        return _open_members(path)
    if path.is_dir() and not (path / "run.h5").exists():
        raise UsageError(f"{path} is neither a run directory (no run.h5) nor a compare directory")
    r = RunLogReader(path)
    if r.n == 0:
        r.close()
        raise UsageError(f"{r.path} has no completed step to render")
    src = Source(str(r.attrs.get("representation", "run")), r, _steps(r))
    return [src], r.path.parent, f"{r.attrs.get('case', '')} — {src.name}"
