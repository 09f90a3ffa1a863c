"""A million-row stock file: streamed, bounded memory, a short dry run, one-transaction apply.

Runs the real `hub` console script in a subprocess so its wall time and peak memory (the
child's maximum resident set size) are measured alone; the figures are printed as JSON
(`pytest -m slow -s tests/test_bulk_scale.py` shows them). Memory is asserted against a
bound, time is not (DESIGN: no timed asserts in tests).

SQLite only, on purpose: these are the embedded default's figures (the seed below writes
SQLite's datetime text); the import itself runs on both backends in test_bulk_stock.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.storage import migrate
from hub.storage import tables as t
from hub.storage.db import Database

ROWS = 1_000_000
MEMORY_BOUND_MB = 400  # the hub process, imports and plugins included; a 1M-row list would be several GB
NOW = "2026-11-11 00:00:00.000000"  # how SQLite stores the hub's UTC datetimes


def _seed(db: Database) -> None:
    """1M SKUs with 10 units each in main, inserted with executemany a batch at a time."""
    batch = 100_000
    with db.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO warehouses (code, name) VALUES ('main', 'main')")
        for start in range(0, ROWS, batch):
            conn.exec_driver_sql(
                "INSERT INTO skus (id, code, title, price, partitioned, created_at, updated_at) "
                "VALUES (?, ?, '', 1000, 0, ?, ?)",
                [(i + 1, f"SKU{i:07d}", NOW, NOW) for i in range(start, start + batch)],
            )
            conn.exec_driver_sql(
                "INSERT INTO stock_on_hand (sku_id, warehouse_id, quantity, counted_at, updated_at) "
                "VALUES (?, 1, 10, ?, ?)",
                [(i + 1, NOW, NOW) for i in range(start, start + batch)],
            )


def _hub(
    args: list[str], env: dict[str, str], tmp: Path
) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """Run `hub ARGS`; returns (result, seconds, the child's peak resident memory in MB)."""
    hub = str(Path(sys.executable).with_name("hub"))
    out, err = tmp / "stdout", tmp / "stderr"
    start = time.perf_counter()
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen([hub, *args], env=env, stdout=stdout, stderr=stderr)
        # Reap the child ourselves: wait4 gives this child's own resource usage.
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    result = subprocess.CompletedProcess([hub, *args], proc.returncode, out.read_text(), err.read_text())
    return result, seconds, usage.ru_maxrss / 1024  # Linux: kilobytes


@pytest.mark.slow
def test_a_million_row_stock_import(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    db = Database(url)
    migrate.upgrade(db)
    started = time.perf_counter()
    _seed(db)
    seed_seconds = time.perf_counter() - started
    big = tmp_path / "big.csv"
    with big.open("w", encoding="utf-8", newline="") as f:
        f.write("sku,quantity,warehouse\r\n")
        for i in range(ROWS):
            f.write(f"SKU{i:07d},{10 + i % 2},main\r\n")  # every other row changes 10 -> 11
    env = {**os.environ, "HUB_DATABASE_URL": url, "HUB_ACTOR": "bench"}
    figures: dict[str, Any] = {"rows": ROWS, "file_mb": round(big.stat().st_size / 2**20, 1)}
    figures["seed_seconds"] = round(seed_seconds, 1)

    dry, seconds, peak = _hub(["stock", "import", str(big)], env, tmp_path)
    assert dry.returncode == 0, dry.stderr[-2000:]
    figures.update(dry_run_seconds=round(seconds, 1), dry_run_peak_mb=round(peak))
    assert "changes (first 50 of 500,000)" in dry.stdout
    assert f"big.csv: {ROWS:,} row(s), 500,000 change(s), 500,000 unchanged, 0 bad" in dry.stdout
    assert len(dry.stdout.splitlines()) < 80  # a short table, not a million lines
    assert "checking big.csv: 50%" in dry.stderr  # plain progress lines off a terminal
    assert db.run_sync(lambda s: s.scalar(select(func.count()).select_from(t.AuditEntry))) == 0

    applied, seconds, peak = _hub(["stock", "import", str(big), "--apply", "--show", "5"], env, tmp_path)
    assert applied.returncode == 0, applied.stderr[-2000:]
    figures.update(apply_seconds=round(seconds, 1), apply_peak_mb=round(peak))
    assert "applied 500,000 change(s)" in applied.stderr

    def check(s: Any) -> tuple[int, int, str | None]:
        elevens = s.scalar(
            select(func.count()).select_from(t.StockOnHand).where(t.StockOnHand.quantity == 11)
        )
        audits = s.scalar(select(func.count()).select_from(t.AuditEntry).where(t.AuditEntry.actor == "bench"))
        last = s.scalar(select(t.AuditEntry.source).order_by(t.AuditEntry.id.desc()).limit(1))
        return elevens, audits, last

    assert db.run_sync(check) == (500_000, 500_000, f"big.csv:{ROWS + 1}, warehouse main")
    db.dispose()
    print(json.dumps({"bench": "stock import", **figures}))
    assert figures["dry_run_peak_mb"] < MEMORY_BOUND_MB and figures["apply_peak_mb"] < MEMORY_BOUND_MB, (
        figures
    )
