"""The layering rules of the house, checked on the source: lower layers never import higher
ones, and ``insr.reference`` is a pure numpy/scipy leaf."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOWER = ("schema", "fields", "derivatives", "cases", "reference")
HIGHER = ("equations", "run", "compare", "study", "render", "cli")


def _imports(path: Path) -> set[str]:
    """Every ``insr`` module a file imports, at top level or inside functions."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("insr"):
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("insr"))
    return out


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_no_lower_layer_imports_a_higher_one() -> None:
    bad = []
    for path in sorted((ROOT / "insr").rglob("*.py")):
        rel = path.relative_to(ROOT / "insr").parts
        layer = rel[0].removesuffix(".py")
        if layer not in LOWER:
            continue
        bad += [(str(path.relative_to(ROOT)), m) for m in _imports(path) if _layer(m) in HIGHER]
    assert bad == []


def test_reference_is_a_numpy_scipy_leaf() -> None:
    for path in (ROOT / "insr" / "reference").glob("*.py"):
        # the only insr module below reference: the error base classes
        assert all(m.startswith("insr.reference") or m == "insr.errors" for m in _imports(path))
    code = (
        "import sys, insr.reference, insr.reference.euler2d, insr.reference.advection1d, "
        "insr.reference.heat1d, insr.reference.initial, insr.reference.equal_memory; "
        "print('torch' in sys.modules)"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert r.stdout.strip() == "False"
