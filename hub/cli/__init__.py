"""The ``hub`` command line (the group and its commands live in :mod:`hub.cli.root`).

Kept light on purpose: importing ``hub.cli.app`` must not
import every command module.
"""

from __future__ import annotations

from typing import Any


def main() -> None:
    """Console-script entry point."""
    from hub.cli.root import main as run

    run()


def __getattr__(name: str) -> Any:
    if name == "cli":  # `from hub.cli import cli` for tests and embedding
        from hub.cli.root import cli

        return cli
    raise AttributeError(name)
