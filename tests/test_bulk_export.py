"""`hub export stock|prices`: the import format, round trips, encodings, formula neutralisation."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy.orm import Session

from hub.app import App
from hub.bulk.spreadsheet import neutralise, unneutralise
from hub.core import catalog
from hub.storage import tables as t
from tests.conftest import Invoke
from tests.test_bulk_support import add_sku, add_warehouse, on_hand, snapshot


@pytest.fixture
def stocked(app: App) -> App:
    add_sku(app, "CUP", 1000, 5, title="杯子 红色")
    add_sku(app, "LID", 330, title="盖子")  # counted nowhere
    add_sku(app, "=1+1", 990, 2, title='=HYPERLINK("http://evil","点我")')
    add_sku(app, "-5", 120, 1, title="@SUM(A1)")
    add_sku(app, "'quoted", 100, 1, title="+plus")
    add_warehouse(app, "north")
    app.db.run_sync(
        lambda s: catalog.set_on_hand(s, catalog.sku_by_code(s, "CUP"), 8, "north", app.clock.now())
    )

    def shop_price(s: Session) -> None:
        shop = t.Shop(
            name="tb", platform="fake", app_key="k", app_secret="s", options={}, created_at=app.clock.now()
        )
        s.add(shop)
        s.flush()
        s.add(t.ShopPrice(sku_id=catalog.sku_by_code(s, "CUP").id, shop_id=shop.id, price=1090))

    app.db.run_sync(shop_price)
    return app


def dry_run(invoke: Invoke, kind: str, path: Path) -> dict[str, int]:
    command = ("stock", "import") if kind == "stock" else ("price", "import")
    result = invoke(*command, str(path), "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["counts"]


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
@pytest.mark.parametrize("kind", ["stock", "prices"])
def test_export_then_import_is_a_no_op(
    stocked: App, invoke: Invoke, tmp_path: Path, kind: str, suffix: str
) -> None:
    path = tmp_path / f"{kind}.{suffix}"
    result = invoke("export", kind, str(path))
    assert result.exit_code == 0, result.output
    rows = 6  # 5 SKUs, and CUP twice: stock in main and north / prices for all shops and for tb
    assert f"wrote {rows} row(s)" in result.stderr
    before = snapshot(stocked)
    assert dry_run(invoke, kind, path) == {
        "rows": rows,
        "changes": 0,
        "unchanged": rows,
        "bad": 0,
        "applied": 0,
    }
    command = ("stock", "import") if kind == "stock" else ("price", "import")
    assert invoke(*command, str(path), "--apply").exit_code == 0
    assert snapshot(stocked) == before


def test_stock_export_rows_and_csv_bytes(stocked: App, invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    invoke("export", "stock", str(path))
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: Excel shows the Chinese
    lines = data.decode("utf-8-sig").split("\r\n")
    assert lines[0] == "sku,title,warehouse,quantity"
    assert "CUP,杯子 红色,main,5" in lines and "CUP,杯子 红色,north,8" in lines
    assert "LID,盖子,main," in lines  # counted nowhere: one row, quantity empty (0 would be a count)
    assert '\'=1+1,"\'=HYPERLINK(""http://evil"",""点我"")",main,2' in lines
    assert "'-5,'@SUM(A1),main,1" in lines
    assert "''quoted,'+plus,main,1" in lines


def test_price_export_rows(stocked: App, invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    invoke("export", "prices", str(path), "--headers", "zh")
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "商家编码,名称,店铺,价格"
    assert lines[1:] == [  # by SKU code
        "''quoted,'+plus,,1.00",
        "'-5,'@SUM(A1),,1.20",
        '\'=1+1,"\'=HYPERLINK(""http://evil"",""点我"")",,9.90',
        "CUP,杯子 红色,,10.00",
        "CUP,杯子 红色,tb,10.90",
        "LID,盖子,,3.30",
    ]


def test_xlsx_export_carries_no_formula(stocked: App, invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "p.xlsx"
    invoke("export", "prices", str(path))
    sheet = openpyxl.load_workbook(path).worksheets[0]  # not data_only: formulas would show as such
    cells = [c for row in sheet.iter_rows() for c in row]
    assert all(c.data_type != "f" for c in cells)
    texts = {c.value for c in cells if isinstance(c.value, str)}
    assert {"'=1+1", '\'=HYPERLINK("http://evil","点我")', "'@SUM(A1)", "'-5"} <= texts
    prices = {
        sheet.cell(row=r, column=1).value: sheet.cell(row=r, column=4) for r in range(2, sheet.max_row + 1)
    }
    assert prices["LID"].value == pytest.approx(3.3) and prices["LID"].number_format == "0.00"


def test_reimported_formula_lookalikes_are_the_same_codes(
    stocked: App, invoke: Invoke, tmp_path: Path
) -> None:
    for suffix in ("csv", "xlsx"):
        path = tmp_path / f"s.{suffix}"
        invoke("export", "stock", str(path))
        if suffix == "csv":
            text = (
                path.read_text(encoding="utf-8-sig")
                .replace("'=1+1,\"", "'=1+1,\"x")
                .replace(",main,2", ",main,3")
            )
            path.write_text(text, encoding="utf-8-sig")
        else:
            book = openpyxl.load_workbook(path)
            sheet = book.worksheets[0]
            for row in sheet.iter_rows(min_row=2):
                if row[0].value == "'=1+1":
                    row[3].value = 4
            book.save(path)
        result = invoke("stock", "import", str(path), "--apply", "--json")
        assert result.exit_code == 0, result.output
        assert [c["sku"] for c in json.loads(result.stdout)["changes"]] == ["=1+1"]
    assert on_hand(stocked, "=1+1") == 4


def test_gb18030_export_and_chinese_headers(stocked: App, invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "gb.csv"
    assert invoke("export", "stock", str(path), "--encoding", "gb18030", "--headers", "zh").exit_code == 0
    data = path.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    assert data.decode("gb18030").startswith("商家编码,名称,仓库,库存\r\n")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert dry_run(invoke, "stock", path)["changes"] == 0  # detected as GB18030 on import


def test_export_errors_leave_no_file(stocked: App, invoke: Invoke, tmp_path: Path) -> None:
    add_sku(stocked, "EMOJI", 100, 1, title="杯子 😀")
    gbk = invoke("export", "stock", str(tmp_path / "gbk.csv"), "--encoding", "gbk")
    assert gbk.exit_code == 2 and "gbk cannot store" in gbk.stderr and "gb18030" in gbk.stderr
    odd = invoke("export", "stock", str(tmp_path / "s.ods"))
    assert odd.exit_code == 2 and "use .csv or .xlsx" in odd.stderr
    nowhere = invoke("export", "stock", str(tmp_path / "no" / "s.csv"))
    assert nowhere.exit_code == 2
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith("hub.db")] == []  # no temp files


@pytest.mark.parametrize(
    "text",
    ["", "plain", "=1+1", "+1", "-1", "@x", "\tx", "\rx", "'", "'a", "'=x", "''", "a=b", "杯子"],
)
def test_neutralise_round_trips_and_never_starts_a_formula(text: str) -> None:
    safe = neutralise(text)
    assert unneutralise(safe) == text
    assert not safe.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_unneutralise_keeps_a_users_own_leading_quote() -> None:
    assert unneutralise("'abc") == "'abc"  # typed by a person, not by our export
    assert unneutralise("'=1+1") == "=1+1"
