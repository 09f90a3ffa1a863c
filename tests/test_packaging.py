"""The distribution lists every package, and every module imports on its own."""

from __future__ import annotations

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
