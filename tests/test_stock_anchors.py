"""Only :mod:`hub.core.stock.anchors` writes the columns a listing's stock model is anchored on."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = "platform_quantity|quantity_as_of|needs_read|pushed_quantity|pushed_at"
# An assignment (``row.needs_read = True``) or a keyword (``.values(needs_read=True)``,
# ``t.Listing(pushed_at=None)``) names a write; comparisons and reads do not.
WRITE = re.compile(rf"\b({COLUMNS})\s*=(?!=)")
ALLOWED = {Path("hub/core/stock/anchors.py"), Path("hub/storage/tables.py")}


def writers() -> dict[str, list[str]]:
    """Lines of product code (the hub and the plugins) outside ``ALLOWED`` that write an anchor column."""
    found: dict[str, list[str]] = {}
    for path in sorted([*(ROOT / "hub").rglob("*.py"), *(ROOT / "plugins").glob("*/hub_*/**/*.py")]):
        rel = path.relative_to(ROOT)
        if rel in ALLOWED:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if WRITE.search(line.split("#", 1)[0]):
                found.setdefault(str(rel), []).append(f"{number}: {line.strip()}")
    return found


def test_only_anchors_writes_the_stock_anchor_columns() -> None:
    assert writers() == {}, "write these columns through hub.core.stock.anchors"


def test_the_scan_sees_each_form_of_write() -> None:
    for line in ("row.needs_read = True", ".values(platform_quantity=q)", "t.Listing(pushed_at=None)"):
        assert WRITE.search(line), line
    for line in ("if row.needs_read == x:", "shown = row.platform_quantity", '"pushed_at": row.pushed_at'):
        assert not WRITE.search(line), line
