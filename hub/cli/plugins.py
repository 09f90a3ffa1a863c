"""``hub plugins``: what is installed."""

from __future__ import annotations

from dataclasses import asdict

import click

from hub.app import App
from hub.cli.output import emit, info, json_option, print_table


@click.group("plugins")
def group() -> None:
    """Installed platform plugins."""


@group.command("list")
@json_option
@click.pass_obj
def list_(app: App, as_json: bool) -> None:
    """List plugins with their distribution, version, platforms and hooks.

    Plugins that failed to load are reported by name; the rest still work."""
    host = app.host
    plugins = host.list_plugins()
    errors = [{"name": e.name, "distribution": e.distribution, "error": str(e)} for e in host.load_errors]

    def table() -> None:
        print_table(
            ["plugin", "distribution", "version", "platforms", "hooks"],
            [(p.name, p.distribution, p.version, p.platforms, len(p.hooks)) for p in plugins],
            empty="no plugins installed",
        )
        for error in errors:
            info(f"failed to load: {error['error']}")

    emit(as_json, {"plugins": [asdict(p) for p in plugins], "errors": errors}, table)
