"""Every hook is documented, with every one of its arguments (datasette's rule)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from hub import hookspecs

DOC = Path(__file__).resolve().parents[1] / "docs" / "plugin_hooks.md"
HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("hub_"))


def sections() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    parts = re.split(r"^### ", text, flags=re.M)[1:]
    return {part.split("(", 1)[0].strip(): part for part in parts}


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented_with_its_signature_and_arguments(hook: str) -> None:
    documented = sections()
    assert hook in documented, f"docs/plugin_hooks.md has no '### {hook}(...)' section"
    section = documented[hook]
    params = list(inspect.signature(getattr(hookspecs, hook)).parameters)
    heading = section.splitlines()[0]
    assert heading == f"{hook}({', '.join(params)})", f"heading should show the signature: {heading}"
    for param in params:
        assert f"`{param}`" in section, f"{hook}: argument {param!r} is not described"
    assert "Return" in section, f"{hook}: say what to return"


def test_no_documented_hook_is_missing_from_the_specs() -> None:
    assert sorted(sections()) == HOOKS
