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


def _module_graph() -> dict[str, set[str]]:
    """``module -> insr modules it imports`` (``from insr import x`` counts as ``insr.x``
    when ``insr/x`` exists; the root package itself is left out: it only re-exports)."""
    graph: dict[str, set[str]] = {}
    for path in sorted((ROOT / "insr").rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(rel[:-1] if rel[-1] == "__init__" else rel)
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("insr"):
                for a in node.names:
                    sub = f"{node.module}.{a.name}"
                    as_path = ROOT / sub.replace(".", "/")
                    exists = as_path.with_suffix(".py").exists() or as_path.is_dir()
                    deps.add(sub if exists else node.module)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("insr"))
        graph[name] = {d for d in deps if d != "insr" and d != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_finds_a_planted_cycle() -> None:
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(g) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_between_insr_modules() -> None:
    """Counting imports inside functions too: a lazy import is no excuse for a cycle.
    A package's ``__init__`` that re-exports its own modules is not a cycle with them
    unless one of them imports the package back."""
    assert _cycles(_module_graph()) == []


def _package_graph() -> dict[str, set[str]]:
    """``top-level package/module -> the other top-level ones it imports``."""
    out: dict[str, set[str]] = {}
    for mod, deps in _module_graph().items():
        top = mod.split(".")[1] if "." in mod else mod
        out.setdefault(top, set()).update(d.split(".")[1] for d in deps if d.split(".")[1] != top)
    return {k: v for k, v in out.items() if v and k not in ("insr", "__main__")}


def test_readme_import_graph_is_the_real_one() -> None:
    """The README's package import graph is the one this file computes from the source."""
    text = (ROOT / "README.md").read_text()
    block = text.split("The package-level import graph it checks:\n\n```\n", 1)[1].split("```")[0]
    readme: dict[str, set[str]] = {}
    key = ""
    for line in block.splitlines():
        if "->" in line:
            key, rhs = (s.strip() for s in line.split("->"))
        else:
            rhs = line.strip()
        readme.setdefault(key, set()).update(s.strip() for s in rhs.split(",") if s.strip())
    assert readme == _package_graph()
