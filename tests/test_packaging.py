"""The distribution lists every package, every module imports on its own, and the import
graph has no cycle and no upward import."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_hub_package_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "hub").rglob("__init__.py")}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"


def test_every_module_imports_alone() -> None:
    """Each module is imported in a fresh interpreter, so import cycles show up."""
    modules = sorted(
        ".".join(p.with_suffix("").relative_to(ROOT).parts)
        for p in (ROOT / "hub").rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    )

    def run(module: str) -> tuple[str, subprocess.CompletedProcess[str]]:
        # One interpreter per module: a cycle would hide behind earlier imports.
        return module, subprocess.run(
            [sys.executable, "-c", f"import {module}"], capture_output=True, text=True
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        for module, result in pool.map(run, modules):
            assert result.returncode == 0, f"{module}: {result.stderr[-500:]}"


# --- the import graph --------------------------------------------------------------------------

# Lower layers never import higher ones: (importer prefix, forbidden prefix).
BELOW_CLI = ("hub.core", "hub.storage", "hub.push", "hub.bulk", "hub.console", "hub.simulator", "hub.testing")
LAYERS = (
    [(low, "hub.cli") for low in BELOW_CLI]
    + [
        (low, high)
        for low in ("hub.core", "hub.storage", "hub.push", "hub.bulk")
        for high in ("hub.simulator", "hub.testing", "hub.console")
    ]
    + [("hub.simulator", "hub.testing"), ("hub.storage", "hub.core")]
)

# The stock cycle reads a constant of hub.core.stock lazily from hub.core.catalog; it goes
# with the split of hub/core/stock.py into a package. No other cycle is allowed, nor one that
# grows this one; when it is gone, delete it here.
KNOWN_CYCLES = [["hub.core.catalog", "hub.core.stock"]]


def _module_name(path: Path) -> str:
    parts = path.with_suffix("").relative_to(ROOT).parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Each hub module -> the hub modules it imports, at import time or lazily in a function
    (imports under ``if TYPE_CHECKING:`` are not imports at run time, so they are left out).
    ``from package import module`` counts as an import of the module only."""
    paths = {_module_name(p): p for p in (ROOT / "hub").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        tree = ast.parse(path.read_text())
        typing_only = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for inner in ast.walk(node)
        }
        found: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                submodules = {f"{node.module}.{alias.name}" for alias in node.names} & set(paths)
                found |= submodules or {node.module}
        graph[name] = {m for m in found if m in paths and m != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def new_cycles(found: list[list[str]], known: list[list[str]]) -> list[list[str]]:
    """The cycles in ``found`` that are not (part of) a known one."""
    return [c for c in found if not any(set(c) <= set(k) for k in known)]


def test_only_unknown_cycles_are_refused() -> None:
    known = [["a", "b"]]
    assert new_cycles([["a", "b"]], known) == [] and new_cycles([], known) == []
    assert new_cycles([["a", "b", "c"], ["d", "e"]], known) == [["a", "b", "c"], ["d", "e"]]


def test_hub_modules_import_no_cycle() -> None:
    assert new_cycles(cycles(import_graph()), KNOWN_CYCLES) == []


def test_lower_layers_never_import_higher_ones() -> None:
    """The core and storage know nothing of the entry points; the pytest kit and the
    simulator do not import the CLI; the simulator is not test code."""

    def within(module: str, prefix: str) -> bool:
        return module == prefix or module.startswith(prefix + ".")

    upward = [
        f"{module} imports {dep}"
        for module, deps in sorted(import_graph().items())
        for dep in sorted(deps)
        for low, high in LAYERS
        if within(module, low) and within(dep, high)
    ]
    assert upward == []
