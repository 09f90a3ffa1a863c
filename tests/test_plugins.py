"""Plugin discovery, blocking, failure isolation and what a plugin may register."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from hub import hookimpl
from hub.errors import PluginError
from hub.plugins import PluginHost
from hub.testing.fake import FakePlatformPlugin

pytestmark = pytest.mark.anyio


class FakeEntryPoint:
    def __init__(self, name: str, target: Any, dist: str = "hub-thing"):
        self.name = name
        self._target = target
        self.dist = SimpleNamespace(name=dist, version="9.9")

    def load(self) -> Any:
        if isinstance(self._target, Exception):
            raise self._target
        return self._target


def host_with(monkeypatch: pytest.MonkeyPatch, *eps: FakeEntryPoint, **kw: Any) -> PluginHost:
    monkeypatch.setattr("hub.plugins.entry_points", lambda group: list(eps) if group == "hub" else [])
    return PluginHost(autoload=True, **kw)


def test_entry_points_are_loaded_with_their_distribution(monkeypatch: pytest.MonkeyPatch) -> None:
    host = host_with(monkeypatch, FakeEntryPoint("fake", FakePlatformPlugin()))
    [info] = host.list_plugins()
    assert (info.name, info.distribution, info.version, info.platforms) == (
        "fake",
        "hub-thing",
        "9.9",
        ["fake"],
    )
    assert info.hooks == ["hub_register_platforms"]


def test_a_broken_plugin_is_named_and_the_rest_keep_working(monkeypatch: pytest.MonkeyPatch) -> None:
    host = host_with(
        monkeypatch,
        FakeEntryPoint("broken", ImportError("No module named 'nope'")),
        FakeEntryPoint("fake", FakePlatformPlugin()),
    )
    assert [p.name for p in host.list_plugins()] == ["fake"]
    [error] = host.load_errors
    assert "'broken'" in str(error) and "hub-thing" in str(error) and "nope" in str(error)


def test_plugins_can_be_blocked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_DISABLE_PLUGINS", "fake, other")
    host = host_with(monkeypatch, FakeEntryPoint("fake", FakePlatformPlugin()), blocked=None)
    assert host.list_plugins() == [] and "fake" not in host.registry


def test_unknown_hooks_and_duplicate_platforms_are_refused() -> None:
    host = PluginHost(autoload=False)

    class Typo:
        @hookimpl
        def hub_fetch_listing(self, shop: Any) -> None:  # missing "s"
            return None

    with pytest.raises(Exception, match="hub_fetch_listing"):
        host.register(Typo(), name="typo")
    host.register(FakePlatformPlugin(), name="one")
    with pytest.raises(PluginError, match="registered twice"):
        host.register(FakePlatformPlugin(), name="two")
    assert [p.name for p in host.list_plugins()] == ["one"]


def test_a_plugin_package_installed_from_a_folder_is_listed(tmp_path: Path) -> None:
    """A throw-away distribution built and installed by pip shows up in `hub plugins list`,
    and a broken one is reported by name, without any core change."""
    for name, body in [
        (
            "hub_demo_ok",
            """
            from hub import hookimpl
            from hub.testing.fake import FakePlatformPlugin
            _fake = FakePlatformPlugin("demo")

            @hookimpl
            def hub_register_platforms(registry):
                _fake.hub_register_platforms(registry)
        """,
        ),
        ("hub_demo_broken", "raise RuntimeError('this plugin is broken on purpose')\n"),
    ]:
        pkg = tmp_path / name
        (pkg / name).mkdir(parents=True)
        (pkg / name / "__init__.py").write_text(textwrap.dedent(body))
        (pkg / "pyproject.toml").write_text(
            textwrap.dedent(f"""
            [build-system]
            requires = ["setuptools>=61"]
            build-backend = "setuptools.build_meta"
            [project]
            name = "{name.replace("_", "-")}"
            version = "1.2.3"
            [project.entry-points.hub]
            {name.removeprefix("hub_")} = "{name}"
        """)
        )
        target = tmp_path / "site"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--no-build-isolation",
                "--target",
                str(target),
                str(pkg),
            ],
            check=True,
            capture_output=True,
        )
    env = {"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "hub", "plugins", "list", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    listing = json.loads(result.stdout)
    demo = next(p for p in listing["plugins"] if p["name"] == "demo_ok")
    assert demo["distribution"] == "hub-demo-ok" and demo["version"] == "1.2.3"
    assert demo["platforms"] == ["demo"]
    [error] = [e for e in listing["errors"] if e["name"] == "demo_broken"]
    assert "broken on purpose" in error["error"]
    assert "demo_broken" in result.stderr  # also warned about on stderr
