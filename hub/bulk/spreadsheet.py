"""Reading and writing the spreadsheets operations staff exchange with the hub: CSV and XLSX.

Reading streams: rows come one at a time with the line (CSV) or row (XLSX) number the user
sees, header = line 1, so a million-row file never sits in memory. Every cell comes back as
text (XLSX numbers are formatted the way Excel shows them), so the import rules apply the
same way to both formats.

CSV encodings: a UTF-8 or UTF-16 byte-order mark decides; otherwise a file that is valid
UTF-8 throughout is UTF-8, and anything else is GB18030 (the superset of GBK that Excel on
Chinese Windows writes). ``encoding=`` overrides the detection. The delimiter is a comma,
unless the file starts with Excel's ``sep=X`` line or its header only makes sense split on
tabs or semicolons (the caller scores candidate headers against the column names it knows).

Damage is reported, never guessed around: a truncated XLSX (a cut zip), bytes that are not
text in the encoding, a quoted cell that never closes, a last line without a line break (a
half-written file) and rows whose cell count differs from the header's.

Formula neutralisation (OWASP "CSV injection"): a text cell that begins with ``=``, ``+``,
``-``, ``@``, tab or carriage return is written with a leading single quote, so no exported
sheet carries a live formula; :func:`unneutralise` removes that quote on import. A value that
itself begins with a quote gets one more, so every text survives the round trip exactly.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import coordinate_to_tuple
from openpyxl.xml.functions import iterparse

from hub.errors import InputError

CSV_SUFFIXES = (".csv", ".txt", ".tsv")
XLSX_SUFFIXES = (".xlsx", ".xlsm")
DELIMITERS = (",", "\t", ";")  # in order of preference when headers score the same
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
EXPORT_ENCODINGS = ("utf-8-sig", "utf-8", "gb18030", "gbk")
EXCEL_COLUMNS = 16_384  # XFD
MAX_COLUMNS = 1_000  # an import file has a handful; more is the wrong file, refused before any row
# XLSX is a zip: what it inflates to is capped before parsing (a "zip bomb" of a few hundred
# KB can inflate to gigabytes). Shared strings and styles are read whole into memory.
MAX_XLSX_BYTES = 2_000_000_000  # every part together (a million-row sheet is ~100-250 MB)
MAX_XLSX_PART_BYTES = 200_000_000  # any part other than the worksheets, which are streamed
MAX_XLSX_RATIO = 100  # sheets inflate ~13x (even a million equal rows); a bomb ~1000x

HeaderScore = Callable[[Sequence[str]], int]
"""How many of a candidate header's cells name a known column (picks the delimiter)."""


# --- cells -------------------------------------------------------------------------------------


def neutralise(text: str) -> str:
    """``text`` made safe for a spreadsheet cell: never a formula (see the module docs)."""
    if text and (text.startswith(FORMULA_STARTS) or text.startswith(QUOTE)):
        return QUOTE + text
    return text


def unneutralise(text: str) -> str:
    """Undo :func:`neutralise`: drop one leading quote that guards a formula character or
    another quote. A quote before anything else is the value's own and stays."""
    if len(text) >= 2 and text[0] == QUOTE and (text[1] in FORMULA_STARTS or text[1] == QUOTE):
        return text[1:]
    return text


def cell_text(value: Any) -> str:
    """An XLSX cell value as the text a person sees in Excel."""
    if value is None:
        return ""
    if isinstance(value, bool):  # before int: bool is an int
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # Excel keeps 15 significant digits and shows no more, so 65.89000000000001 (a
        # formula's binary noise) is the 65.89 the user sees; a real 59.999 stays.
        return format(value, ".15g")
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def column_letter(index: int) -> str:
    """0-based column index -> the letter Excel shows (0 -> A); beyond Excel's last
    column, the column's number (#20000)."""
    return get_column_letter(index + 1) if index < EXCEL_COLUMNS else f"#{index + 1}"


# --- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SheetRow:
    """One non-blank data row. ``damage`` says why the row shows the file is damaged;
    ``uncached`` lists the cells (0-based) that hold a formula with no saved value, which
    read as empty although the spreadsheet program would show a number."""

    line: int
    cells: tuple[str, ...]
    damage: str | None = None
    uncached: frozenset[int] = frozenset()


class Sheet:
    """An open spreadsheet: its header and a stream of rows (see :func:`open_sheet`)."""

    format: str = ""
    encoding: str | None = None
    delimiter: str | None = None

    def __init__(self, path: Path):
        self.path = path
        self.name = path.name
        self.header: tuple[str, ...] = ()
        self.header_line = 0
        self.rows_read = 0
        self.notices: list[str] = []  # how the file was read, when it was not as it says

    def rows(self) -> Iterator[SheetRow]:
        """Data rows after the header, blank rows skipped."""
        raise NotImplementedError

    def fraction(self) -> float | None:
        """How much of the file has been read (0..1), if known."""
        return None

    def close(self) -> None:
        """Release the file."""

    def error(self, message: str) -> InputError:
        return InputError(f"{self.name}: {message}; nothing changed")

    def __enter__(self) -> Sheet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_sheet(path: str | os.PathLike[str], *, encoding: str | None = None, score: HeaderScore) -> Sheet:
    """Open a CSV or XLSX file for reading (by its suffix). Raises :class:`InputError`
    naming the file when it cannot be read at all."""
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if suffix == ".xls":
        raise InputError(
            f"{path.name}: the old Excel 97-2003 format is not supported; save it as .xlsx or CSV"
        )
    if suffix in XLSX_SUFFIXES:
        sheet: Sheet = XlsxSheet(path, score)
    elif suffix in CSV_SUFFIXES:
        sheet = CsvSheet(path, encoding, score)
    else:
        raise InputError(f"{path.name}: unknown file type {suffix or '(none)'!r}; use .csv or .xlsx")
    if len(sheet.header) > MAX_COLUMNS:
        sheet.close()
        raise sheet.error(
            f"the header row (line {sheet.header_line}) has {len(sheet.header):,} columns; "
            f"at most {MAX_COLUMNS:,} are read (is this the right file?)"
        )
    return sheet


def detect_encoding(path: Path) -> str:
    """The encoding of a CSV file: by byte-order mark, else UTF-8 if every byte decodes as
    UTF-8, else GB18030 (the superset of GBK). Streams the file; nothing is kept."""
    with path.open("rb") as f:
        start = f.read(4)
        if start.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        f.seek(0)
        unmarked = _utf16_without_bom(f.read(4096))
        if unmarked:
            return unmarked
        f.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        while chunk := f.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                return "gb18030"
        # Ending inside a multi-byte character is a cut-off UTF-8 file, not GBK: reading
        # reports the cut line rather than garbling the whole file as another encoding.
        return "utf-8"


def _utf16_without_bom(head: bytes) -> str | None:
    """``utf-16-le``/``utf-16-be`` when ``head`` reads as UTF-16 without a byte-order mark:
    the line breaks, commas, digits and Latin letters of such text put a 0 byte in every
    other position (odd ones little-endian), and almost never in the others."""
    if len(head) < 4 or b"\x00" not in head:
        return None
    even, odd = head[0::2], head[1::2]
    for zeros, others, name in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if zeros.count(0) >= len(zeros) // 5 and others.count(0) <= len(others) // 20:
            return name
    return None


def check_encoding(name: str) -> str:
    """A codec name the user typed, checked (``gbk``, ``utf-8-sig``…)."""
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise InputError(f"unknown encoding {name!r}; try utf-8, utf-8-sig, gbk or gb18030") from None


class CsvSheet(Sheet):
    format = "csv"

    def __init__(self, path: Path, encoding: str | None, score: HeaderScore):
        super().__init__(path)
        self.size = path.stat().st_size
        self._file = path.open("rb")
        try:
            self._setup(encoding, score)
        except BaseException:
            self._file.close()
            raise

    def _setup(self, encoding: str | None, score: HeaderScore) -> None:
        start = self._file.read(4)
        if start.startswith(b"PK\x03\x04"):
            raise self.error("this is an XLSX (zip) file, not CSV; give it the .xlsx suffix")
        if start.startswith(b"\xd0\xcf\x11\xe0"):
            raise self.error("this is an old Excel (.xls) file, not CSV; save it as .xlsx or CSV")
        self._file.seek(0)
        self.detected = encoding is None
        self.encoding = check_encoding(encoding) if encoding else detect_encoding(self.path)
        if self.detected and self.encoding in ("utf-16-le", "utf-16-be"):
            self.notices.append(
                f"{self.name} has no byte-order mark but is UTF-16 text "
                f"({'little' if self.encoding.endswith('le') else 'big'}-endian): read as such"
            )
        self.bytes_read = 0
        self.line = 0  # physical lines consumed so far
        self._unterminated = 0  # the last line, when it has no line break
        if self.encoding.startswith(("utf-16", "utf-32")):
            # No byte-level line splitting in UTF-16: let the text layer find the lines.
            self._text = io.TextIOWrapper(self._file, encoding=self.encoding, newline="")
        else:
            if self.encoding == "utf-8-sig":  # skip the mark; the lines decode as plain UTF-8
                if self._file.read(3) == codecs.BOM_UTF8:
                    self.bytes_read = 3
                else:
                    self._file.seek(0)
            self._text = None
        self._lines = self._decoded_lines()
        self._read_header(score)

    def _decoded_lines(self) -> Iterator[str]:
        """Decoded physical lines, line endings kept (the csv module needs them for cells
        with line breaks). Splitting bytes on LF is safe: no UTF-8 or GB18030 multi-byte
        character contains the byte 0x0A."""
        source: Iterator[Any] = iter(self._text if self._text is not None else self._file)
        encoding = "utf-8" if self.encoding in (None, "utf-8-sig") else self.encoding
        while True:
            try:
                raw = next(source)
            except StopIteration:
                return
            except UnicodeDecodeError as exc:  # from the text layer (UTF-16)
                self.line += 1
                raise self._decode_error(exc) from None
            self.line += 1
            if self._text is None:
                self.bytes_read += len(raw)
                try:
                    text = raw.decode(encoding)
                except UnicodeDecodeError as exc:
                    raise self._decode_error(exc) from None
            else:
                text = raw
            if not text.endswith(("\n", "\r")) and text.strip():
                self._unterminated = self.line
            yield text

    def _decode_error(self, exc: UnicodeDecodeError) -> InputError:
        bad = exc.object[exc.start : exc.start + 1].hex()
        if self.detected and self.encoding == "utf-8" and exc.reason == "unexpected end of data":
            return self.error(f"line {self.line} ends inside a character: the file is cut off (half-written)")
        what = "neither UTF-8 nor GB18030/GBK text" if self.detected else f"not valid {self.encoding} text"
        return self.error(
            f"line {self.line} is {what} (byte 0x{bad} at column {exc.start + 1}): save the file as "
            "'CSV UTF-8' in Excel, or pass --encoding"
        )

    def _read_header(self, score: HeaderScore) -> None:
        for text in self._lines:
            if not text.strip():
                continue
            stripped = text.strip().lstrip("\ufeff")
            if stripped.lower().startswith("sep=") and len(stripped) == 5:
                self.delimiter = stripped[4]  # Excel's explicit delimiter line
                continue
            if self.delimiter is None:
                best = max(DELIMITERS, key=lambda d: (score(_split(text, d)), -DELIMITERS.index(d)))
                self.delimiter = best
            self.header = tuple(_split(text, self.delimiter))
            self.header_line = self.line
            return
        raise self.error("the file is empty (no header row)")

    def rows(self) -> Iterator[SheetRow]:
        reader = csv.reader(self._lines, delimiter=self.delimiter or ",", strict=True)
        width = len(self.header)
        while True:
            start = self.line + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise self._csv_error(start, exc) from None
            if not any(c.strip() for c in cells):
                continue
            self.rows_read += 1
            damage = None
            if self._unterminated and self.line == self._unterminated:
                damage = (
                    "the file ends without a line break after this row, so it may have been cut off "
                    "while being written or copied; if the file is complete, end it with a line break"
                )
            elif len(cells) != width:
                damage = f"{len(cells)} cells, but the header has {width} (a damaged or hand-edited file?)"
            yield SheetRow(start, tuple(cells), damage)

    def _csv_error(self, line: int, exc: csv.Error) -> InputError:
        text = str(exc)
        if "end of data" in text:
            return self.error(f"line {line}: a quoted cell never closes; the file is cut off or damaged")
        if "NUL" in text:
            return self.error(f"line {line} contains NUL bytes: this is not a text CSV file")
        return self.error(f"line {line}: unreadable CSV ({text})")

    def fraction(self) -> float | None:
        if self._text is not None or not self.size:
            return None
        return min(1.0, self.bytes_read / self.size)

    def close(self) -> None:
        self._file.close()


def _split(line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        return [line]


class XlsxSheet(Sheet):
    """The first worksheet of an XLSX workbook, read in openpyxl's streaming mode."""

    format = "xlsx"

    def __init__(self, path: Path, score: HeaderScore):
        super().__init__(path)
        self._at = 0
        self._check_size()
        try:
            self._book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError):
            raise self.error("not a readable XLSX file (the zip is cut off or damaged)") from None
        except Exception as exc:  # openpyxl raises many kinds for a broken workbook
            raise self.error(f"not a readable XLSX file ({type(exc).__name__}: {exc})") from None
        try:
            self._sheet = self._book.worksheets[0]
            # The stored dimension only feeds progress: files from some tools under-state
            # it, and openpyxl would stop reading there, so it is not trusted for reading.
            self.total = self._sheet.max_row if isinstance(self._sheet.max_row, int) else None
            self._sheet.reset_dimensions()
            self._uncached = _uncached_formulas(self._sheet._get_source)
            self._iter = self._raw_rows()
            self._read_header()
        except BaseException:
            self.close()
            raise

    def _check_size(self) -> None:
        """Refuse, before parsing, a workbook that would inflate beyond the caps. The sizes
        come from the zip directory; a part that inflates past its stated size fails its
        read (the zip module stops at the stated size and checks the CRC)."""
        try:
            with zipfile.ZipFile(self.path) as archive:
                parts = archive.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError):
            return  # openpyxl reports a damaged file in its own words below
        for part in parts:
            ratio = part.file_size / max(1, part.compress_size)
            if part.file_size > 10_000_000 and ratio > MAX_XLSX_RATIO:
                raise self.error(
                    f"{part.filename} would inflate {ratio:,.0f} times, from {part.compress_size:,} to "
                    f"{part.file_size:,} bytes: a zip bomb, not a spreadsheet; refused unread"
                )
        total = sum(p.file_size for p in parts)
        big = max(
            (p for p in parts if not p.filename.startswith("xl/worksheets/")),
            key=lambda p: p.file_size,
            default=None,
        )
        if total > MAX_XLSX_BYTES:
            raise self.error(
                f"the workbook would inflate to {total:,} bytes, more than {MAX_XLSX_BYTES:,}: "
                "refused unread. Split it, or save it as CSV"
            )
        if big is not None and big.file_size > MAX_XLSX_PART_BYTES:
            raise self.error(
                f"{big.filename} would inflate to {big.file_size:,} bytes, more than "
                f"{MAX_XLSX_PART_BYTES:,} for a part read whole: refused unread. Save the sheet as CSV"
            )

    def _raw_rows(self) -> Iterator[tuple[int, tuple[str, ...]]]:
        try:
            for number, values in enumerate(self._sheet.iter_rows(values_only=True), start=1):
                cells = [cell_text(v) for v in values]
                while cells and not cells[-1].strip():
                    cells.pop()
                yield number, tuple(cells)
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise self.error(f"the XLSX file is damaged ({exc})") from None
        except Exception as exc:  # a broken sheet XML
            raise self.error(f"the XLSX file is damaged ({type(exc).__name__}: {exc})") from None

    def _read_header(self) -> None:
        for number, cells in self._iter:
            if cells:
                self.header, self.header_line = cells, number
                return
        raise self.error("the first worksheet is empty (no header row)")

    def rows(self) -> Iterator[SheetRow]:
        for number, cells in self._iter:
            if not cells:
                continue
            self.rows_read += 1
            self._at = number
            yield SheetRow(number, cells, uncached=self._uncached.get(number, frozenset()))

    def fraction(self) -> float | None:
        return min(1.0, self._at / self.total) if self.total else None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._book.close()


_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")


def _uncached_formulas(open_part: Callable[[], Any]) -> dict[int, frozenset[int]]:
    """Row number -> 0-based columns of cells holding a formula without a saved value.

    A workbook written by a program that does not calculate (a script, some exporters)
    stores formulas without their results; with ``data_only`` openpyxl reads those cells
    as empty. One cheap pass looks for any formula at all (most data files have none);
    only then is the sheet parsed to find the cells."""
    with open_part() as part:
        tail = b""
        while chunk := part.read(1 << 20):
            if _FORMULA.search(tail + chunk):
                break
            tail = chunk[-16:]
        else:
            return {}
    found: dict[int, set[int]] = {}
    with open_part() as part:
        rows_parent = None
        for event, element in iterparse(part, events=("start", "end")):
            tag = element.tag.rsplit("}", 1)[-1]
            if event == "start":
                if tag == "sheetData":
                    rows_parent = element
                continue
            if tag == "row" and rows_parent is not None:
                rows_parent.remove(element)  # keep memory flat on a big sheet
            if tag != "c":
                continue
            children = {child.tag.rsplit("}", 1)[-1]: child for child in element}
            value = children.get("v")
            coordinate = element.get("r")
            if "f" in children and (value is None or value.text is None) and coordinate:
                row, column = coordinate_to_tuple(coordinate)
                found.setdefault(row, set()).add(column - 1)
    return {row: frozenset(columns) for row, columns in found.items()}


# --- writing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutColumn:
    """A column of a written sheet: ``text`` cells are neutralised; ``number_format`` is
    the XLSX display format of a numeric column (e.g. ``0.00`` for prices)."""

    header: str
    text: bool = True
    number_format: str | None = None
    width: int = 14


def write_sheet(
    path: str | os.PathLike[str],
    columns: Sequence[OutColumn],
    rows: Iterable[Sequence[Any]],
    *,
    encoding: str = "utf-8-sig",
    sheet_title: str = "Sheet1",
) -> int:
    """Write ``rows`` (streamed) as CSV or XLSX by the file's suffix; returns the row count.

    The file is written next to its destination and renamed into place at the end, so a
    reader never sees it half-written. CSV: ``encoding`` (UTF-8 with BOM by default, so
    Excel shows Chinese correctly), CRLF line ends as Excel writes them."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in CSV_SUFFIXES + XLSX_SUFFIXES:
        raise InputError(f"{path.name}: unknown file type {suffix or '(none)'!r}; use .csv or .xlsx")
    if not path.parent.is_dir():
        raise InputError(f"{path.parent}: no such directory")
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=suffix)
    except OSError as exc:
        raise _write_error(path, exc) from None
    os.close(fd)
    try:
        if suffix in XLSX_SUFFIXES:
            count = _write_xlsx(Path(tmp), columns, rows, sheet_title)
        else:
            count = _write_csv(Path(tmp), columns, rows, encoding)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise _write_error(path, exc) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return count


def _write_error(path: Path, exc: OSError) -> InputError:
    return InputError(f"{path}: cannot write the file here ({exc.strerror or exc}); nothing written")


def _text_cells(columns: Sequence[OutColumn], row: Sequence[Any]) -> list[Any]:
    return [
        neutralise("" if value is None else str(value)) if column.text else value
        for column, value in zip(columns, row, strict=True)
    ]


def _write_csv(path: Path, columns: Sequence[OutColumn], rows: Iterable[Sequence[Any]], encoding: str) -> int:
    encoding = check_encoding(encoding)
    count = 0
    with path.open("w", encoding=encoding, newline="") as f:
        writer = csv.writer(f)
        try:
            writer.writerow([neutralise(c.header) for c in columns])
            for row in rows:
                writer.writerow(_text_cells(columns, row))
                count += 1
        except UnicodeEncodeError as exc:
            bad = exc.object[exc.start : exc.end]
            raise InputError(
                f"row {count + 2} has a character {encoding} cannot store ({bad!r}); "
                "use --encoding gb18030 or utf-8-sig"
            ) from None
    return count


def _write_xlsx(path: Path, columns: Sequence[OutColumn], rows: Iterable[Sequence[Any]], title: str) -> int:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet(title)
    sheet.freeze_panes = "A2"
    for index, column in enumerate(columns):
        sheet.column_dimensions[column_letter(index)].width = column.width
    bold = Font(bold=True)
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=neutralise(column.header))
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    count = 0
    for row in rows:
        cells: list[Any] = []
        for column, value in zip(columns, _text_cells(columns, row), strict=True):
            if column.number_format and value is not None:
                cell = WriteOnlyCell(sheet, value=value)
                cell.number_format = column.number_format
                cells.append(cell)
            else:
                # Text is written as a string cell: openpyxl would store a str that starts
                # with "=" as a formula, which neutralise() has already ruled out.
                cells.append(value)
        sheet.append(cells)
        count += 1
    book.save(path)
    return count
