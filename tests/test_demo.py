"""`hub demo`, the README's first command, end to end on a small catalogue.

The demo races real buyers against real sync cycles, so it runs on real time (a few
seconds) and sits with the slow tests. It asserts what must hold whatever the timing:
nothing oversold, every listing linked, every sale stored, and a report a user can act on.
SQLite only: `hub demo` always makes its own SQLite file in ``--folder``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from hub.cli import cli
from hub.storage import tables as t
from hub.storage.db import Database

SHOPS = {"taobao-main", "jd-pop", "douyin-live", "wechat-store"}


def run_demo(folder: Path, *extra: str) -> dict:
    result = CliRunner().invoke(
        cli,
        ["demo", "--folder", str(folder), "--skus", "20", "--seconds", "3", "--rate", "60", "--json", *extra],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.slow
@pytest.mark.parametrize("faults", [False, True], ids=["calm", "faults"])
def test_the_demo_sells_without_overselling_and_stores_every_sale(tmp_path: Path, faults: bool) -> None:
    report = run_demo(tmp_path, *(["--faults"] if faults else []))
    assert report["oversold"] == 0
    assert report["listings"] == dict.fromkeys(SHOPS, 20)
    assert 0 < report["sold"] <= report["stock"] == 10 * 25
    assert sum(report["units_sold"].values()) == report["sold"]
    assert report["unpropagated"] == 0 and report["failed_writes"] == 0
    if faults:
        assert sum(report["faults_injected"].values()) > 0
    db = Database(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        stored = db.run_sync(lambda s: s.scalar(select(func.count()).select_from(t.Order)))
    finally:
        db.dispose()
    assert stored >= sum(report["orders"].values())  # every sale of the race, and any before it


@pytest.mark.slow
def test_the_demo_report_names_the_outcome_and_what_to_run_next(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["demo", "--folder", str(tmp_path), "--skus", "20", "--seconds", "2"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "oversold units: 0" in result.stdout
    assert f"--database-url sqlite:///{tmp_path / 'hub.db'} orders list" in result.stdout


@pytest.mark.parametrize(
    ("argv0", "on_path", "shown"),
    [
        (".venv/bin/hub", None, ".venv/bin/hub"),
        (".venv/bin/hub", "/usr/bin/hub", "hub"),
        ("pytest", None, "hub"),
    ],
)
def test_the_next_commands_call_the_hub_the_way_it_was_started(
    monkeypatch: pytest.MonkeyPatch, argv0: str, on_path: str | None, shown: str
) -> None:
    from hub.cli import demo as demo_cli

    monkeypatch.setattr(demo_cli.sys, "argv", [argv0, "demo"])
    monkeypatch.setattr(demo_cli.shutil, "which", lambda name: on_path)
    assert demo_cli._hub_command() == shown
