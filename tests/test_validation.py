"""One rule per field (hub.validation), the same on every path: arguments, files, import-from, settings."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from hub import validation
from hub.app import App
from hub.core.allocation import sellable
from hub.settings import HubSettings
from tests.conftest import Invoke
from tests.test_bulk_support import add_sku, on_hand, problem_lines, sku_price, snapshot, write_text

# --- the rules --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2147483648", "larger than 1,000,000,000"),
        ("99999999999999999999", "larger than 1,000,000,000"),
        ("١٢", "has a digit other than 0-9 (ARABIC-INDIC DIGIT ONE)"),
        ("-1", "negative"),
        ("1.5", "not a whole number"),
        ("1e3", "not a number"),
    ],
)
def test_quantities_refused(text: str, reason: str) -> None:
    with pytest.raises(validation.InvalidValue, match=re.escape(reason)):
        validation.quantity(text)


def test_full_width_digits_are_read_with_a_notice() -> None:
    assert validation.quantity("１２０") == 120
    assert validation.fullwidth_notice("１２０") == "'１２０' has full-width characters: read as '120'"
    assert validation.price("¥５９.９０") == 5990
    assert validation.fullwidth_notice("120") is None


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("", "is empty"),
        ("SKU-1\u00a0", "NO-BREAK SPACE"),
        ("SKU\u200b-1", "ZERO WIDTH SPACE"),
        ("SKU-1 ", "starts or ends with a space"),
        ("x" * 300, "300 characters long; at most 64"),
        ("ＳＫＵ-1", "did you mean 'SKU-1'"),
        ("SKU-\u04211", "mixes Latin letters with Cyrillic"),  # a Cyrillic С
        ("A\tB", "U+0009"),
    ],
)
def test_codes_refused(code: str, reason: str) -> None:
    with pytest.raises(validation.InvalidValue, match=re.escape(reason)):
        validation.code(code)


@pytest.mark.parametrize("code", ["CUP-500", "杯子 红色/XL", "=1+1", "'quoted", "x" * 64])
def test_codes_accepted(code: str) -> None:
    assert validation.code(code) == code


def test_prices_have_one_upper_bound() -> None:
    assert validation.price("100000000.00") == 10_000_000_000
    with pytest.raises(validation.InvalidValue, match=re.escape("larger than 100000000.00")):
        validation.price("1000000000000000")


def test_sellable_never_exceeds_what_a_platform_can_hold() -> None:
    assert sellable(3 * validation.MAX_QUANTITY, 0, 0) == validation.MAX_QUANTITY


# --- the price change limit -----------------------------------------------------------------------


@pytest.mark.parametrize(("value", "share"), [("50%", 0.5), ("0.5", 0.5), ("150%", 1.5), ("5 %", 0.05)])
def test_price_change_limit_units(monkeypatch: pytest.MonkeyPatch, value: str, share: float) -> None:
    monkeypatch.setenv("HUB_PRICE_CHANGE_LIMIT", value)
    assert HubSettings().price_change_limit == pytest.approx(share)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("50", "write 50% if you mean 50%"),
        ("0", "share from 0 to 1"),
        ("abc", "not a percentage"),
        ("0%", "more than 0%"),
        ("5000%", "at most 1000%"),
    ],
)
def test_ambiguous_or_out_of_range_limits_are_refused(
    monkeypatch: pytest.MonkeyPatch, value: str, reason: str
) -> None:
    monkeypatch.setenv("HUB_PRICE_CHANGE_LIMIT", value)
    with pytest.raises(ValidationError, match=reason):
        HubSettings()


def test_a_50_percent_limit_refuses_75_50_to_500(app: App, invoke: Invoke) -> None:
    app.settings = app.settings.model_copy(update={"price_change_limit": validation.percent_limit("50%")})
    add_sku(app, "CUP", 7550)
    result = invoke("price", "set", "CUP", "500.00")
    assert result.exit_code == 2
    assert "more than 50%" in result.stderr
    assert sku_price(app, "CUP") == 7550


# --- every path applies them ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("stock", "set", "CUP", "2147483648"), "larger than 1,000,000,000"),
        (("stock", "set", "CUP", "99999999999999999999"), "larger than 1,000,000,000"),
        (("stock", "set", "CUP", "١٢"), "digit other than 0-9"),
        (("stock", "set", "CUP", "5", "--warehouse", "north\u200b", "--create"), "ZERO WIDTH SPACE"),
        (("stock", "rules", "set", "tb", "--cap", "2147483648"), "larger than 1,000,000,000"),
        (("stock", "rules", "set", "tb", "--share", "１０１"), "from 0 to 100"),
        (("skus", "set", "CUP", "--safety-stock", "1e9"), "not a number"),
        (("skus", "set", "CUP", "--price-floor", "1000000000000000"), "larger than 100000000.00"),
        (("price", "set", "CUP", "1000000000000000", "--force"), "larger than 100000000.00"),
        (("skus", "add", "", "--price", "1"), "SKU code is empty"),
        (("skus", "add", "SKU-1\u00a0", "--price", "1"), "NO-BREAK SPACE"),
        (("skus", "add", "SKU\u200b1", "--price", "1"), "ZERO WIDTH SPACE"),
        (("skus", "add", "S" * 300, "--price", "1"), "at most 64"),
        (("skus", "add", "NEW", "--price", "1000000000000000"), "larger than 100000000.00"),
        (("skus", "add", "NEW", "--price", "1", "--title", "t" * 300), "title is 300 characters long"),
        (("skus", "set", "CUP", "--title", "t" * 300), "title is 300 characters long"),
    ],
)
def test_bad_arguments_get_one_line_exit_2_and_change_nothing(
    app: App, invoke: Invoke, args: tuple[str, ...], reason: str
) -> None:
    add_sku(app, "CUP", 1000, 5)
    before = snapshot(app)
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert reason in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.output
    assert snapshot(app) == before


def test_full_width_argument_is_read_with_a_notice(app: App, invoke: Invoke) -> None:
    add_sku(app, "CUP", 1000, 5)
    result = invoke("stock", "set", "CUP", "１２")
    assert result.exit_code == 0, result.output
    assert "note: '１２' has full-width characters: read as '12'" in result.stderr
    assert on_hand(app, "CUP") == 12


def test_files_apply_the_same_rules(app: App, invoke: Invoke, tmp_path: Path) -> None:
    add_sku(app, "CUP", 1000, 5)
    add_sku(app, "LID", 300, 1)
    f = write_text(
        tmp_path / "s.csv",
        "sku,quantity,warehouse\nCUP,١٢,\nLID\u200b,3,\nLID,2147483648,\nCUP,1,south\u00a0x\n",
    )
    result = invoke("stock", "import", str(f))
    assert result.exit_code == 2
    problems = problem_lines(result.stderr)
    assert problems[2].startswith("quantity '١٢' has a digit other than 0-9")
    assert problems[3].startswith("SKU code 'LID\\u200b' contains an invisible or unusual character")
    assert problems[4] == "quantity '2147483648' is larger than 1,000,000,000"
    assert problems[5].startswith("warehouse code 'south\\xa0x' contains an invisible")


def test_full_width_digits_in_a_file_are_noted_on_the_row(app: App, invoke: Invoke, tmp_path: Path) -> None:
    add_sku(app, "CUP", 1000, 5)
    f = write_text(tmp_path / "s.csv", "sku,quantity\nCUP,１２\n")
    result = invoke("stock", "import", str(f), "--apply", "--json")
    assert result.exit_code == 0, result.output
    change = json.loads(result.stdout)["changes"][0]
    assert (change["new"], change["note"]) == (12, "'１２' has full-width characters: read as '12'")
    assert on_hand(app, "CUP") == 12


# --- hostile files ----------------------------------------------------------------------------------


def test_a_header_of_150k_columns_is_refused_in_one_line(app: App, invoke: Invoke, tmp_path: Path) -> None:
    add_sku(app, "CUP", 1000, 5)
    f = tmp_path / "wide.csv"
    f.write_text(",".join(["sku", "quantity", *(f"c{i}" for i in range(150_000))]) + "\nCUP,1\n")
    result = invoke("stock", "import", str(f))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: wide.csv: the header row (line 1) has 150,002 columns; at most 1,000 are read "
        "(is this the right file?); nothing changed"
    )


def test_column_letters_beyond_excel_are_numbers() -> None:
    from hub.bulk.spreadsheet import column_letter

    assert (column_letter(0), column_letter(16_383), column_letter(20_000)) == ("A", "XFD", "#20001")


def _workbook(path: Path, sheet_xml: bytes | None = None) -> Path:
    import zipfile

    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["sku", "quantity"])
    book.active.append(["CUP", 1])
    plain = path.with_suffix(".plain.xlsx")
    book.save(plain)
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info.filename)
            if sheet_xml is not None and info.filename == "xl/worksheets/sheet1.xml":
                data = sheet_xml
            out.writestr(info.filename, data)
    return path


def test_an_xlsx_zip_bomb_is_refused_before_parsing(
    app: App, invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hub.bulk.spreadsheet as spreadsheet

    xml = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    bomb = _workbook(tmp_path / "bomb.xlsx", xml + b"<row/>" * 3_000_000 + b"</sheetData></worksheet>")
    assert bomb.stat().st_size < 200_000

    def never(*args: object, **kw: object) -> None:
        raise AssertionError("the workbook was parsed")

    monkeypatch.setattr(spreadsheet.openpyxl, "load_workbook", never)
    result = invoke("stock", "import", str(bomb))
    assert result.exit_code == 2
    assert "xl/worksheets/sheet1.xml would inflate" in result.stderr
    assert "a zip bomb, not a spreadsheet; refused unread" in result.stderr


def test_an_xlsx_part_read_whole_is_capped(
    app: App, invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hub.bulk.spreadsheet as spreadsheet

    monkeypatch.setattr(spreadsheet, "MAX_XLSX_PART_BYTES", 5_000)  # the theme is ~10 KB
    result = invoke("stock", "import", str(_workbook(tmp_path / "s.xlsx")))
    assert result.exit_code == 2
    assert "xl/theme/theme1.xml would inflate to 10,140 bytes, more than 5,000" in result.stderr
    monkeypatch.setattr(spreadsheet, "MAX_XLSX_BYTES", 5_000)
    result = invoke("stock", "import", str(_workbook(tmp_path / "t.xlsx")))
    assert result.exit_code == 2
    assert "the workbook would inflate to" in result.stderr and "refused unread" in result.stderr


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs Linux /proc")
def test_export_to_an_unwritable_place_is_one_line(app: App, invoke: Invoke) -> None:
    result = invoke("export", "stock", "/proc/x.csv")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: /proc/x.csv: cannot write the file here (")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("codec", "header", "order"),
    [("utf-16-le", "sku,quantity", "little"), ("utf-16-be", "商家编码,库存", "big")],
)
def test_utf16_without_a_byte_order_mark_is_detected_and_said(
    app: App, invoke: Invoke, tmp_path: Path, codec: str, header: str, order: str
) -> None:
    add_sku(app, "CUP", 1000, 5)
    f = tmp_path / "u16.csv"
    f.write_bytes(f"{header}\r\nCUP,3\r\n".encode(codec))
    result = invoke("stock", "import", str(f), "--apply")
    assert result.exit_code == 0, result.output
    assert f"note: u16.csv has no byte-order mark but is UTF-16 text ({order}-endian): read as such" in (
        result.stderr
    )
    assert on_hand(app, "CUP") == 3
