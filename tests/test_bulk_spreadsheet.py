"""hub.bulk.spreadsheet and the import helpers, below the CLI: encodings, cells, rows, progress."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.bulk.columns import header_key, parse_price_cell, parse_quantity
from hub.bulk.spreadsheet import OutColumn, cell_text, detect_encoding, open_sheet, write_sheet
from hub.cli.fileimport import ImportProgress
from hub.errors import InputError
from tests.test_bulk_support import write_xlsx


def score(header: list[str] | tuple[str, ...]) -> int:
    return sum(1 for cell in header if header_key(cell) in {"sku", "quantity"})


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"sku\r\n", "utf-8"),
        ("商家编码\r\n".encode(), "utf-8"),
        (b"\xef\xbb\xbfsku\r\n", "utf-8-sig"),
        ("商家编码\r\n".encode("gbk"), "gb18030"),
        ("sku\r\n".encode("utf-16"), "utf-16"),
        ("sku\r\n杯".encode()[:-1], "utf-8"),  # cut inside a character: still UTF-8
    ],
)
def test_detect_encoding(tmp_path: Path, data: bytes, expected: str) -> None:
    f = tmp_path / "x.csv"
    f.write_bytes(data)
    assert detect_encoding(f) == expected


def test_detection_reads_the_whole_file_not_just_its_start(tmp_path: Path) -> None:
    f = tmp_path / "late.csv"
    f.write_bytes(b"sku,quantity\r\n" + b"A,1\r\n" * 300_000 + "杯子,1\r\n".encode("gbk"))
    assert detect_encoding(f) == "gb18030"
    with open_sheet(f, score=score) as sheet:
        rows = list(sheet.rows())
    assert rows[-1].cells == ("杯子", "1") and rows[-1].line == 300_002


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, ""), (7, "7"), (7.0, "7"), (59.9, "59.9"), (10.9 * 1.1, "11.99"), (True, "TRUE"), ("x", "x")],
)
def test_xlsx_cells_read_as_excel_shows_them(value: object, text: str) -> None:
    assert cell_text(value) == text


def test_csv_rows_keep_file_line_numbers_with_blank_and_multiline_cells(tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_text('\r\nsku,quantity\r\nA,1\r\n\r\n"B\r\nC",2\r\nD,3\r\n', encoding="utf-8")
    with open_sheet(f, score=score) as sheet:
        assert sheet.header == ("sku", "quantity") and sheet.header_line == 2
        assert [(r.line, r.cells) for r in sheet.rows()] == [
            (3, ("A", "1")),
            (5, ("B\r\nC", "2")),
            (7, ("D", "3")),
        ]


def test_xlsx_header_below_blank_rows(tmp_path: Path) -> None:
    f = write_xlsx(tmp_path / "x.xlsx", [[], ["sku", "quantity", None], ["A", 1], [None], ["B", 2]])
    with open_sheet(f, score=score) as sheet:
        assert sheet.header_line == 2 and sheet.header == ("sku", "quantity")
        assert [(r.line, r.cells) for r in sheet.rows()] == [(3, ("A", "1")), (5, ("B", "2"))]


def test_empty_files(tmp_path: Path) -> None:
    empty = tmp_path / "e.csv"
    empty.write_bytes(b"\r\n\r\n")
    with pytest.raises(InputError, match="the file is empty"):
        open_sheet(empty, score=score)
    with pytest.raises(InputError, match="first worksheet is empty"):
        open_sheet(write_xlsx(tmp_path / "e.xlsx", []), score=score)


@pytest.mark.parametrize(
    ("text", "value"),
    [("7", 7), ("+7", 7), ("7.0", 7), ("1,200", 1200), ("０７", 7), ("0", 0)],
)
def test_quantities(text: str, value: int) -> None:
    assert parse_quantity(text) == (value, None)


@pytest.mark.parametrize(
    ("text", "fen"),
    [("59.90", 5990), ("59.9", 5990), ("59", 5900), (".5", 50), ("¥1,299.00", 129900), ("￥3", 300)],
)
def test_prices(text: str, fen: int) -> None:
    assert parse_price_cell(text) == (fen, None)


@pytest.mark.parametrize("text", ["1e3", "NaN", "inf", "1,2", "12,34.5", "5 yuan", "1.2.3"])
def test_not_numbers(text: str) -> None:
    assert parse_price_cell(text)[1] == f"price {text!r} is not a number"
    assert parse_quantity(text)[1] == f"quantity {text!r} is not a number"


def test_written_files_appear_whole(tmp_path: Path) -> None:
    def rows():  # type: ignore[no-untyped-def]
        yield ("A", 1)
        raise RuntimeError("the database went away")

    target = tmp_path / "out.csv"
    with pytest.raises(RuntimeError):
        write_sheet(target, [OutColumn("sku"), OutColumn("quantity", text=False)], rows())
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temporary twin


def test_plain_progress_lines_only_for_big_files(capsys: pytest.CaptureFixture[str]) -> None:
    small = ImportProgress("s.csv", live=False)
    for rows in range(0, 40_000, 2000):
        small("checking", rows, rows / 40_000)
    assert capsys.readouterr().err == ""
    big = ImportProgress("b.csv", live=False)
    for rows in range(2000, 1_000_001, 2000):
        big("checking", rows, rows / 1_000_000)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "checking b.csv: 10%, 100,000 rows"
    assert len(lines) == 10 and lines[-1].startswith("checking b.csv: 100%")


def test_progress_of_a_file_just_over_the_threshold_starts_at_the_first_tenth(
    capsys: pytest.CaptureFixture[str],
) -> None:
    progress = ImportProgress("m.csv", live=False)
    for phase in ("checking", "applying"):
        for rows in range(2000, 60_001, 2000):
            progress(phase, rows, rows / 60_000)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(": ")[1].split("%")[0] for line in lines[:10]] == [str(n) for n in range(10, 101, 10)]
    assert lines[0] == "checking m.csv: 10%, 6,000 rows" and len(lines) == 20
    assert lines[10] == "applying m.csv: 10%, 6,000 rows"
