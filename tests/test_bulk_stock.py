"""`hub stock import`: dry run, atomic apply, --partial, every validation rule, audit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.app import App
from tests.conftest import Invoke
from tests.test_bulk_support import (
    add_sku,
    add_warehouse,
    audit_rows,
    on_hand,
    problem_lines,
    snapshot,
    write_text,
    write_xlsx,
)


@pytest.fixture
def shop(app: App) -> App:
    """CUP (5 on hand), LID (nothing counted), BOWL (9 in main), warehouse north."""
    add_sku(app, "CUP", 1000, 5, title="杯子")
    add_sku(app, "LID", 300)
    add_sku(app, "BOWL", 2000, 9)
    add_warehouse(app, "north")
    return app


def test_dry_run_shows_the_diff_and_counts_and_changes_nothing(
    shop: App, invoke: Invoke, tmp_path: Path
) -> None:
    f = write_text(tmp_path / "stock.csv", "sku,quantity,warehouse\nCUP,7,\nLID,3,north\nBOWL,9,main\n")
    before = snapshot(shop)
    result = invoke("stock", "import", str(f))
    assert result.exit_code == 0, result.output
    assert "stock.csv: 3 row(s), 2 change(s), 1 unchanged, 0 bad" in result.stdout
    lines = [line for line in result.stdout.splitlines() if "│" in line]
    assert any("CUP" in line and "5" in line and "7" in line for line in lines)
    assert any("LID" in line and "north" in line and "3" in line for line in lines)
    assert not any("BOWL" in line for line in lines)  # unchanged rows are counted, not listed
    assert "dry run: nothing changed" in result.stderr
    assert snapshot(shop) == before


def test_apply_sets_counts_in_one_go_and_audits_every_row(shop: App, invoke: Invoke, tmp_path: Path) -> None:
    f = write_text(tmp_path / "count.csv", "sku,quantity,warehouse\nCUP,7,\nLID,3,north\nBOWL,9,main\n")
    result = invoke("stock", "import", str(f), "--apply")
    assert result.exit_code == 0, result.output
    assert "applied 2 change(s)" in result.stderr
    assert (on_hand(shop, "CUP"), on_hand(shop, "LID", "north"), on_hand(shop, "BOWL")) == (7, 3, 9)
    entries = [
        e for e in audit_rows(shop) if e["action"] == "stock.set" and e["source"].startswith("count.csv")
    ]
    assert [(e["sku"], e["old"], e["new"], e["source"]) for e in entries] == [
        ("CUP", "5", "7", "count.csv:2, warehouse main"),
        ("LID", "0", "3", "count.csv:3, warehouse north"),
    ]
    assert {e["at"] for e in entries} == {shop.clock.now()}
    assert {e["actor"] for e in entries} == {shop.actor}


def test_unchanged_rows_are_not_written(shop: App, invoke: Invoke, tmp_path: Path) -> None:
    f = write_text(tmp_path / "same.csv", "sku,quantity,warehouse\nCUP,5,\nLID,,\nBOWL,0,north\n")
    before = snapshot(shop)
    shop.clock.advance(60)  # type: ignore[attr-defined]
    result = invoke("stock", "import", str(f), "--apply")
    assert result.exit_code == 0, result.output
    assert "3 unchanged" in result.stdout
    # CUP's count time kept; LID (empty: not counted) and BOWL's 0 in north add no row
    assert snapshot(shop) == before


def test_a_zero_is_the_first_count_of_an_uncounted_sku(shop: App, invoke: Invoke, tmp_path: Path) -> None:
    f = write_text(tmp_path / "zero.csv", "sku,quantity\nLID,0\n")
    result = invoke("stock", "import", str(f), "--apply", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["counts"]["changes"] == 1
    assert data["changes"][0]["note"] == "first count (the SKU was not counted)"
    assert on_hand(shop, "LID") == 0
    assert ("LID", "0", "0") in [(e["sku"], e["old"], e["new"]) for e in audit_rows(shop)]


def test_an_empty_quantity_leaves_only_an_uncounted_sku_alone(
    shop: App, invoke: Invoke, tmp_path: Path
) -> None:
    f = write_text(tmp_path / "blank.csv", "sku,quantity\nLID,\nCUP,\n")
    result = invoke("stock", "import", str(f), "--apply")
    assert result.exit_code == 2
    assert "line 3: the quantity cell is empty (the SKU is counted" in result.stderr


BAD_ROWS = [
    ("NOPE,1,", "unknown SKU 'NOPE'"),
    ("CUP,-1,", "quantity '-1' is negative"),
    ("CUP,1.5,", "quantity '1.5' is not a whole number"),
    ("CUP,lots,", "quantity 'lots' is not a number"),
    (",4,", "the sku cell is empty"),
    ("CUP,,", "the quantity cell is empty"),
    ("CUP,4,south", "unknown warehouse 'south' (--create-warehouses creates it)"),
    ("CUP,99999999999,", "larger than"),
]


@pytest.mark.parametrize(("row", "reason"), BAD_ROWS, ids=[r for _, r in BAD_ROWS])
def test_each_validation_rule_names_the_line_and_reason(
    shop: App, invoke: Invoke, tmp_path: Path, row: str, reason: str
) -> None:
    f = write_text(tmp_path / "bad.csv", f"sku,quantity,warehouse\nLID,3,\n{row}\n")
    before = snapshot(shop)
    result = invoke("stock", "import", str(f), "--apply")
    assert result.exit_code == 2
    assert "bad.csv: 1 bad row(s); nothing changed" in result.stderr
    assert reason in problem_lines(result.stderr)[3]
    assert snapshot(shop) == before  # LID's good row was not applied either


def test_every_bad_row_is_listed_and_one_bad_row_stops_the_whole_file(
    shop: App, invoke: Invoke, tmp_path: Path
) -> None:
    text = "sku,quantity,warehouse\nLID,3,\n" + "\n".join(row for row, _ in BAD_ROWS) + "\nBOWL,1,\n"
    f = write_text(tmp_path / "bad.csv", text)
    before = snapshot(shop)
    result = invoke("stock", "import", str(f), "--apply")
    assert result.exit_code == 2
    problems = problem_lines(result.stderr)
    assert sorted(problems) == list(range(3, 3 + len(BAD_ROWS)))
    for (_, reason), line in zip(BAD_ROWS, range(3, 3 + len(BAD_ROWS)), strict=True):
        assert reason in problems[line]
    assert snapshot(shop) == before


def test_duplicate_rows_are_all_bad_but_other_warehouses_are_not_duplicates(
    shop: App, invoke: Invoke, tmp_path: Path
) -> None:
    f = write_text(tmp_path / "dup.csv", "sku,quantity,warehouse\nCUP,1,\nCUP,2,north\nLID,1,\nCUP,3,main\n")
    result = invoke("stock", "import", str(f))
    assert result.exit_code == 2
    problems = problem_lines(result.stderr)
    assert set(problems) == {2, 5}  # a blank warehouse is main
    assert problems[2] == "duplicate: SKU 'CUP' in warehouse 'main' is also on line 5"
    assert problems[5] == "duplicate: SKU 'CUP' in warehouse 'main' is also on line 2"


def test_partial_applies_the_good_rows_and_lists_the_bad_ones(
    shop: App, invoke: Invoke, tmp_path: Path
) -> None:
    f = write_text(tmp_path / "mixed.csv", "sku,quantity\nCUP,8\nNOPE,1\nLID,-2\nBOWL,4\n")
    preview = invoke("stock", "import", str(f), "--partial")
    assert preview.exit_code == 1 and "would not be applied" in preview.stderr
    assert on_hand(shop, "CUP") == 5
    result = invoke("stock", "import", str(f), "--apply", "--partial")
    assert result.exit_code == 1
    assert "2 bad row(s) not applied" in result.stderr
    assert set(problem_lines(result.stderr)) == {3, 4}
    assert (on_hand(shop, "CUP"), on_hand(shop, "BOWL"), on_hand(shop, "LID")) == (8, 4, None)
    assert [e["source"] for e in audit_rows(shop) if e["source"].startswith("mixed")] == [
        "mixed.csv:2, warehouse main",
        "mixed.csv:5, warehouse main",
    ]


def test_the_main_warehouse_needs_no_creating(app: App, invoke: Invoke, tmp_path: Path) -> None:
    add_sku(app, "CUP", 1000)  # a fresh database: nothing counted anywhere yet
    f = write_text(tmp_path / "first.csv", "sku,quantity\nCUP,3\n")
    result = invoke("stock", "import", str(f), "--apply")
    assert result.exit_code == 0, result.output
    assert on_hand(app, "CUP") == 3
    again = invoke("stock", "import", str(f), "--apply")
    assert again.exit_code == 0 and "nothing to change" in again.stderr


def test_create_warehouses(shop: App, invoke: Invoke, tmp_path: Path) -> None:
    f = write_text(tmp_path / "wh.csv", "sku,quantity,warehouse\nCUP,6,south\nBOWL,0,east\nLID,0,west\n")
    result = invoke("stock", "import", str(f), "--apply", "--create-warehouses")
    assert result.exit_code == 0, result.output
    assert on_hand(shop, "CUP", "south") == 6
    assert ("east",) not in snapshot(shop)["warehouses"]  # BOWL is counted: nothing to count there
    assert on_hand(shop, "LID", "west") == 0  # LID's first count


def test_missing_unknown_and_repeated_columns_are_refused_before_any_row(
    shop: App, invoke: Invoke, tmp_path: Path
) -> None:
    missing = invoke("stock", "import", str(write_text(tmp_path / "m.csv", "sku,qty\nCUP,1\n")))
    assert missing.exit_code == 2
    assert "missing required column quantity (库存/数量)" in missing.stderr
    assert "unknown column 'qty'" in missing.stderr
    typo = invoke(
        "stock", "import", str(write_text(tmp_path / "t.csv", "sku,quantity,warehose\nCUP,1,north\n"))
    )
    assert typo.exit_code == 2 and "column C: unknown column 'warehose'" in typo.stderr
    twice = invoke("stock", "import", str(write_text(tmp_path / "r.csv", "sku,库存,quantity\nCUP,1,2\n")))
    assert twice.exit_code == 2 and "repeats the quantity column (B)" in twice.stderr
    prices = invoke("stock", "import", str(write_text(tmp_path / "p.csv", "sku,price\nCUP,1.00\n")))
    assert prices.exit_code == 2 and "does not fit a stock file" in prices.stderr


def test_headers_are_case_insensitive_and_chinese_with_title_and_note_ignored(
    shop: App, invoke: Invoke, tmp_path: Path
) -> None:
    f = write_text(tmp_path / "zh.csv", " 商家编码 ,名称,库存,仓库,备注\nCUP,杯子,11,main,盘点\n")
    assert invoke("stock", "import", str(f), "--apply").exit_code == 0
    g = write_text(tmp_path / "en.csv", "SKU,Title,Quantity,WAREHOUSE\nCUP,x,12,\n")
    assert invoke("stock", "import", str(g), "--apply").exit_code == 0
    assert on_hand(shop, "CUP") == 12


@pytest.mark.parametrize(
    ("name", "encoding", "prefix"),
    [
        ("gbk.csv", "gbk", b""),
        ("gb18030.csv", "gb18030", b""),
        ("bom.csv", "utf-8", b"\xef\xbb\xbf"),
        ("plain.csv", "utf-8", b""),
        ("unicode.txt", "utf-16", b""),
    ],
)
def test_csv_encodings_are_detected(
    app: App, invoke: Invoke, tmp_path: Path, name: str, encoding: str, prefix: bytes
) -> None:
    add_sku(app, "杯子-红", 1000, 1)
    f = tmp_path / name
    sep = "\t" if encoding == "utf-16" else ","  # Excel's "Unicode text" is tab-separated
    f.write_bytes(prefix + f"商家编码{sep}库存{sep}仓库\r\n杯子-红{sep}4{sep}main\r\n".encode(encoding))
    result = invoke("stock", "import", str(f), "--apply", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["counts"]["applied"] == 1
    assert on_hand(app, "杯子-红") == 4


def test_explicit_encoding_and_undecodable_files(app: App, invoke: Invoke, tmp_path: Path) -> None:
    add_sku(app, "杯子", 1000, 1)
    f = tmp_path / "gbk.csv"
    f.write_bytes("sku,quantity\r\n杯子,3\r\n".encode("gbk"))
    wrong = invoke("stock", "import", str(f), "--encoding", "utf-8")
    assert wrong.exit_code == 2 and "line 2 is not valid utf-8 text" in wrong.stderr
    assert invoke("stock", "import", str(f), "--encoding", "GBK", "--apply").exit_code == 0
    assert on_hand(app, "杯子") == 3
    unknown = invoke("stock", "import", str(f), "--encoding", "klingon")
    assert unknown.exit_code == 2 and "unknown encoding 'klingon'" in unknown.stderr
    junk = tmp_path / "junk.csv"
    junk.write_bytes(b"sku,quantity\r\nCUP,1\r\n\xff\xfe\xff,2\r\n")
    result = invoke("stock", "import", str(junk))
    assert result.exit_code == 2
    assert "junk.csv: line 3 is neither UTF-8 nor GB18030/GBK text" in result.stderr


def test_xlsx_import_with_numbers_gaps_and_row_numbers(app: App, invoke: Invoke, tmp_path: Path) -> None:
    add_sku(app, "10023", 1000, 1)  # Excel turns a numeric-looking code into a number
    add_sku(app, "CUP", 1000, 1)
    add_sku(app, "LID", 1000, 1)
    f = write_xlsx(
        tmp_path / "s.xlsx",
        [["SKU", "Quantity"], [10023, 7.0], [], ["CUP", 2], ["LID", 2.5], [None, None, "stray"]],
    )
    result = invoke("stock", "import", str(f))
    assert result.exit_code == 2
    problems = problem_lines(result.stderr)
    assert set(problems) == {5, 6}  # Excel's row numbers, blank row 3 skipped but counted
    assert "quantity '2.5' is not a whole number" in problems[5]
    assert "column C, which has no header" in problems[6]
    ok = write_xlsx(tmp_path / "ok.xlsx", [["SKU", "Quantity"], [10023, 7.0], ["CUP", "1,200"]])
    assert invoke("stock", "import", str(ok), "--apply").exit_code == 0
    assert (on_hand(app, "10023"), on_hand(app, "CUP")) == (7, 1200)


def test_a_formula_with_no_saved_value_is_named_not_called_empty(
    app: App, invoke: Invoke, tmp_path: Path
) -> None:
    add_sku(app, "CUP", 1000, 1)
    add_sku(app, "LID", 1000, 1)
    # openpyxl, like many scripts and exporters, stores formulas without calculating them.
    f = write_xlsx(tmp_path / "f.xlsx", [["SKU", "Quantity"], ["CUP", "=2+3"], ["LID", None], ["CUP", 4]])
    result = invoke("stock", "import", str(f))
    assert result.exit_code == 2
    problems = problem_lines(result.stderr)
    assert problems[2].startswith("the quantity cell (column B) is a formula with no saved value")
    assert problems[3].startswith("the quantity cell is empty")  # a truly empty cell stays so
    assert on_hand(app, "CUP") == 1


def test_tab_and_semicolon_files_and_excel_sep_line(shop: App, invoke: Invoke, tmp_path: Path) -> None:
    tab = write_text(tmp_path / "tab.tsv", "sku\tquantity\nCUP\t21\n")
    assert invoke("stock", "import", str(tab), "--apply").exit_code == 0
    assert on_hand(shop, "CUP") == 21
    semi = write_text(tmp_path / "semi.csv", "sku;quantity\nCUP;22\n")
    assert invoke("stock", "import", str(semi), "--apply").exit_code == 0
    assert on_hand(shop, "CUP") == 22
    sep = write_text(tmp_path / "sep.csv", "sep=;\nsku;quantity;warehouse\nCUP;23;\n")
    result = invoke("stock", "import", str(sep), "--apply", "--json")
    assert json.loads(result.stdout)["changes"][0]["line"] == 3  # the sep= line is line 1
    assert on_hand(shop, "CUP") == 23


def test_damaged_files_are_refused_whole_even_with_partial(shop: App, invoke: Invoke, tmp_path: Path) -> None:
    before = snapshot(shop)
    ragged = write_text(tmp_path / "ragged.csv", "sku,quantity\nCUP,1\nLID,2,extra\nBOWL\n")
    result = invoke("stock", "import", str(ragged), "--apply", "--partial")
    assert result.exit_code == 2
    assert "ragged.csv looks damaged or half-written; nothing changed" in result.stderr
    problems = problem_lines(result.stderr)
    assert "3 cells, but the header has 2" in problems[3]
    assert "1 cells, but the header has 2" in problems[4]
    cut = write_text(tmp_path / "cut.csv", "sku,quantity\r\nCUP,1\r\nLID,2\r\nBOWL,1")  # cut mid-row
    result = invoke("stock", "import", str(cut), "--apply", "--partial")
    assert result.exit_code == 2
    assert "may have been cut off" in problem_lines(result.stderr)[4]
    quote = write_text(tmp_path / "quote.csv", 'sku,quantity\r\nCUP,1\r\n"LID,2\r\n')
    result = invoke("stock", "import", str(quote), "--apply")
    assert result.exit_code == 2
    assert "quote.csv: line 3: a quoted cell never closes" in result.stderr
    utf8 = tmp_path / "utf8cut.csv"
    utf8.write_bytes("sku,quantity\nCUP,1\n杯".encode()[:-1])
    result = invoke("stock", "import", str(utf8))
    assert result.exit_code == 2 and "line 3 ends inside a character" in result.stderr
    assert snapshot(shop) == before


def test_truncated_or_fake_xlsx_is_refused(shop: App, invoke: Invoke, tmp_path: Path) -> None:
    good = write_xlsx(tmp_path / "good.xlsx", [["sku", "quantity"], *[[f"X{i}", i] for i in range(200)]])
    data = good.read_bytes()
    for n, cut in enumerate((len(data) // 2, len(data) - 30, 100)):
        f = tmp_path / f"cut{n}.xlsx"
        f.write_bytes(data[:cut])
        result = invoke("stock", "import", str(f), "--apply", "--partial")
        assert result.exit_code == 2, result.output
        assert f"cut{n}.xlsx: not a readable XLSX file" in result.stderr
    renamed = write_text(tmp_path / "csv.xlsx", "sku,quantity\nCUP,1\n")
    assert "not a readable XLSX file" in invoke("stock", "import", str(renamed)).stderr
    as_csv = tmp_path / "book.csv"
    as_csv.write_bytes(data)
    assert "this is an XLSX (zip) file" in invoke("stock", "import", str(as_csv)).stderr
    old = write_text(tmp_path / "old.xls", "whatever")
    assert "Excel 97-2003" in invoke("stock", "import", str(old)).stderr
    assert invoke("stock", "import", str(tmp_path / "missing.csv")).exit_code == 2


def test_json_has_the_diff_and_the_problems(shop: App, invoke: Invoke, tmp_path: Path) -> None:
    f = write_text(tmp_path / "j.csv", "sku,quantity,warehouse\nCUP,6,\nNOPE,1,\nLID,2,north\n")
    result = invoke("stock", "import", str(f), "--json")
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data["counts"] == {"rows": 3, "changes": 2, "unchanged": 0, "bad": 1, "applied": 0}
    assert data["changes"] == [
        {"line": 2, "sku": "CUP", "warehouse": "main", "old": 5, "new": 6, "note": None},
        {"line": 4, "sku": "LID", "warehouse": "north", "old": 0, "new": 2, "note": None},
    ]
    assert data["problems"] == [{"line": 3, "reason": "unknown SKU 'NOPE'"}]
    assert data["applied"] is False and data["format"] == "csv" and data["encoding"] == "utf-8"


def test_long_files_list_the_first_changes_only(app: App, invoke: Invoke, tmp_path: Path) -> None:
    for i in range(120):
        add_sku(app, f"S{i:03d}", 100, 0)
    f = write_text(
        tmp_path / "many.csv", "sku,quantity\n" + "".join(f"S{i:03d},{i + 1}\n" for i in range(120))
    )
    result = invoke("stock", "import", str(f))
    assert "changes (first 50 of 120)" in result.stdout
    assert "70 more change(s)" in result.stderr
    data = json.loads(invoke("stock", "import", str(f), "--json", "--show", "0").stdout)
    assert len(data["changes"]) == 120 and data["changes_not_listed"] == 0


def test_formula_quote_is_stripped_from_text_cells(app: App, invoke: Invoke, tmp_path: Path) -> None:
    add_sku(app, "=1+1", 100, 0)
    add_warehouse(app, "-cold")
    f = write_text(tmp_path / "q.csv", "sku,quantity,warehouse\n'=1+1,4,'-cold\n")
    assert invoke("stock", "import", str(f), "--apply").exit_code == 0
    assert on_hand(app, "=1+1", "-cold") == 4


def test_push_needs_apply(shop: App, invoke: Invoke, tmp_path: Path) -> None:
    f = write_text(tmp_path / "p.csv", "sku,quantity\nCUP,1\n")
    result = invoke("stock", "import", str(f), "--push")
    assert result.exit_code == 2 and "--push needs --apply" in result.stderr


def test_help_documents_the_columns(invoke: Invoke) -> None:
    text = invoke("stock", "import", "--help").output
    for word in ("商家编码", "库存/数量", "仓库", "--partial", "--apply", "GB18030", "FILE:LINE"):
        assert word in text
