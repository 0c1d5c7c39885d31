"""Spreadsheets coming in (member imports, delegate lists): XLSX and CSV read safely.

A file from outside is hostile until read:
- an XLSX is a ZIP: it must start like one (a text file named .xlsx is refused), and its
  parts are checked *before anything is unpacked*: at most MAX_PARTS parts, at most
  `max_unpacked` bytes in all and no part that unpacks to more than MAX_RATIO times its
  packed size (a ZIP bomb);
- the XML is never given entity definitions: a part that declares a DTD (the "billion
  laughs" XML bomb, external entities) refuses the whole file, and what we parse in Python
  (the workbook's sheet list, a sheet's dimension) goes through defusedxml;
- the rows and columns of each sheet are capped, from the sheet's declared dimension
  before reading and again while reading;
- formulas are read as the values Excel cached when it saved the file, never evaluated;
  macros (vbaProject.bin), external links and pictures are simply not read;
- hidden sheets are skipped; a merged range gives its value to every cell it covers
  (what the clerk sees on the screen).

CSV: UTF-8, with or without a byte order mark. Vietnamese ANSI (Windows-1258) and other
legacy encodings are refused with a message saying how to save the file as UTF-8: their
bytes can decode "successfully" into the wrong letters.

Two XLSX readers are offered (python-calamine, openpyxl read-only); bench/ingest.py
measures them on a 100k-row file and DEFAULT_ENGINE is the faster one.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from webapp.domain.errors import N_, DomainError

MAX_PARTS = 2000
MAX_RATIO = 200  # sheet XML compresses about 10–30:1; a bomb 1000:1
RATIO_FLOOR = 1024 * 1024  # small parts pass whatever their ratio
DTD_MARKERS = (b"<!DOCTYPE", b"<!ENTITY")
XLSX_MAGIC = b"PK\x03\x04"
CSV_DELIMITERS = ",;\t"


@dataclass(frozen=True)
class ReadLimits:
    max_bytes: int = 20 * 1024 * 1024  # the file itself
    max_unpacked: int = 400 * 1024 * 1024  # all parts of an XLSX, unpacked
    max_rows: int = 200_000  # per sheet
    max_columns: int = 200

    @classmethod
    def from_config(cls, config: Any) -> ReadLimits:
        return cls(
            max_bytes=int(config.get("IMPORT_MAX_MB", 20)) * 1024 * 1024,
            max_unpacked=int(config.get("IMPORT_MAX_UNPACKED_MB", 400)) * 1024 * 1024,
            max_rows=int(config.get("IMPORT_MAX_ROWS", 200_000)),
            max_columns=int(config.get("IMPORT_MAX_COLUMNS", 200)),
        )


class FileRefused(DomainError):
    """The file as a whole cannot be read (not a workbook, a bomb, too large, …)."""


@dataclass
class Sheet:
    """A visible sheet: its name and its rows as (row number from 1, cell values). Empty
    cells are None; numbers, dates and text as the file holds them."""

    name: str
    rows: list[tuple[int, list[Any]]] = field(default_factory=list)


TOO_MANY_ROWS = N_(
    "The sheet %(sheet)s has more than %(limit)s rows; split the file into smaller ones."
)
TOO_MANY_COLUMNS = N_("The sheet %(sheet)s has more than %(limit)s columns.")


def read_spreadsheet(
    path: Path, file_name: str, limits: ReadLimits, *, engine: str | None = None
) -> list[Sheet]:
    """The visible sheets of an XLSX, or the one sheet of a CSV, by the file's content and
    its name's suffix; FileRefused with a clear message otherwise."""
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise FileRefused(
            N_("The file is larger than %(limit)s MB."), limit=limits.max_bytes // (1024 * 1024)
        )
    with path.open("rb") as handle:
        head = handle.read(8)
    suffix = Path(file_name).suffix.lower()
    if suffix == ".csv":
        return [read_csv(path.read_bytes(), limits)]
    if suffix in (".xlsx", ".xlsm"):
        if not head.startswith(XLSX_MAGIC):
            raise FileRefused(
                N_(
                    "The file is not an Excel (XLSX) workbook, although its name ends in "
                    "%(suffix)s. Open it in Excel and save it as an Excel workbook."
                ),
                suffix=suffix,
            )
        return read_xlsx(path, limits, engine=engine or DEFAULT_ENGINE)
    raise FileRefused(N_("Upload an Excel workbook (.xlsx) or a CSV file (.csv)."))


# --- CSV ---------------------------------------------------------------------------------


def decode_csv(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        data.decode("cp1258")
    except UnicodeDecodeError:
        raise FileRefused(
            N_(
                "The CSV file is not in UTF-8. Save it again as “CSV UTF-8 (Comma "
                "delimited)” and upload that file."
            )
        ) from None
    raise FileRefused(
        N_(
            "The CSV file is in Windows-1258 (Vietnamese ANSI), not UTF-8: its letters would "
            "be read wrong. Save it again as “CSV UTF-8 (Comma delimited)” and upload that "
            "file."
        )
    )


def read_csv(data: bytes, limits: ReadLimits) -> Sheet:
    text = decode_csv(data)
    first_line = text.split("\n", 1)[0]
    delimiter = max(CSV_DELIMITERS, key=first_line.count) if first_line else ","
    sheet = Sheet(name="CSV")
    for number, cells in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), start=1):
        if number > limits.max_rows:
            raise FileRefused(TOO_MANY_ROWS, sheet=sheet.name, limit=limits.max_rows)
        if len(cells) > limits.max_columns:
            raise FileRefused(TOO_MANY_COLUMNS, sheet=sheet.name, limit=limits.max_columns)
        sheet.rows.append((number, [cell if cell != "" else None for cell in cells]))
    return sheet


# --- XLSX --------------------------------------------------------------------------------

NOT_A_WORKBOOK = N_("The file is not an Excel (XLSX) workbook, or it is damaged.")
ZIP_BOMB = N_(
    "The file unpacks to far more data than a member list holds (a “ZIP bomb”); it was not opened."
)
XML_BOMB = N_(
    "The workbook contains XML entity definitions (a DTD), which Excel never writes; it "
    "was not opened."
)


def check_package(path: Path, limits: ReadLimits) -> zipfile.ZipFile:
    """The XLSX's ZIP, its parts checked before anything is unpacked (see the module)."""
    try:
        archive = zipfile.ZipFile(path)
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise FileRefused(NOT_A_WORKBOOK) from None
    if len(infos) > MAX_PARTS:
        raise FileRefused(NOT_A_WORKBOOK)
    total = 0
    for info in infos:
        total += info.file_size
        if total > limits.max_unpacked:
            raise FileRefused(ZIP_BOMB)
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise FileRefused(ZIP_BOMB)
    names = {info.filename for info in infos}
    if "xl/workbook.xml" not in names:
        raise FileRefused(NOT_A_WORKBOOK)
    for info in infos:
        if info.filename.endswith((".xml", ".rels")):
            _refuse_dtd(archive, info, limits)
    return archive


def _refuse_dtd(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ReadLimits) -> None:
    """A DTD may only come before the root element: its prolog is in the first bytes, but
    we read the part to the end in chunks (bounded by the unpacked cap) to be sure."""
    carry = b""
    read = 0
    try:
        with archive.open(info) as part:
            while chunk := part.read(1 << 20):
                read += len(chunk)
                if read > limits.max_unpacked:  # more than declared: a forged header
                    raise FileRefused(ZIP_BOMB)
                window = carry + chunk
                if any(marker in window for marker in DTD_MARKERS):
                    raise FileRefused(XML_BOMB)
                carry = chunk[-16:]
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError):
        raise FileRefused(NOT_A_WORKBOOK) from None


DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s+ref=\"([A-Z]+)?(\d+)?(?::([A-Z]+)(\d+))?\"")


def _column_number(letters: str) -> int:
    number = 0
    for ch in letters:
        number = number * 26 + (ord(ch) - 64)
    return number


def visible_sheet_parts(archive: zipfile.ZipFile) -> list[tuple[str, str, bool]]:
    """(sheet name, part name, visible) in workbook order, parsed with defusedxml."""
    from defusedxml import ElementTree

    ns = {
        "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
        "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    }
    try:
        workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except Exception:  # noqa: BLE001 - any parse failure is a damaged file
        raise FileRefused(NOT_A_WORKBOOK) from None
    targets = {rel.get("Id"): rel.get("Target", "") for rel in rels}
    sheets = []
    for sheet in workbook.iterfind("m:sheets/m:sheet", ns):
        target = targets.get(sheet.get(f"{{{ns['r']}}}id"), "")
        part = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
        visible = sheet.get("state", "visible") == "visible"
        sheets.append((sheet.get("name", ""), part, visible))
    return sheets


def _check_dimension(archive: zipfile.ZipFile, name: str, part: str, limits: ReadLimits) -> None:
    """The sheet's declared size, from the start of its XML, before the sheet is read."""
    try:
        with archive.open(part) as handle:
            head = handle.read(4096)
    except KeyError:
        raise FileRefused(NOT_A_WORKBOOK) from None
    match = DIMENSION.search(head)
    if not match:
        return
    last_column, last_row = match.group(3), match.group(4)
    if last_row and int(last_row) > limits.max_rows + 1:
        raise FileRefused(TOO_MANY_ROWS, sheet=name, limit=limits.max_rows)
    if last_column and _column_number(last_column.decode()) > limits.max_columns:
        raise FileRefused(TOO_MANY_COLUMNS, sheet=name, limit=limits.max_columns)


MERGE = re.compile(rb"<(?:\w+:)?mergeCell\s+ref=\"([A-Z]+)(\d+):([A-Z]+)(\d+)\"")


def _merged_ranges(archive: zipfile.ZipFile, part: str) -> list[tuple[int, int, int, int]]:
    """(first row, first column index, last row, last column index) of each merged range:
    rows from 1, columns from 0. The sheet XML is bounded by the unpacked cap."""
    data = archive.read(part)
    return [
        (int(r0), _column_number(c0.decode()) - 1, int(r1), _column_number(c1.decode()) - 1)
        for c0, r0, c1, r1 in MERGE.findall(data)
    ]


def read_xlsx(path: Path, limits: ReadLimits, *, engine: str) -> list[Sheet]:
    merges: dict[str, list[tuple[int, int, int, int]]] = {}
    with check_package(path, limits) as archive:
        parts = visible_sheet_parts(archive)
        for name, part, visible in parts:
            if visible:
                _check_dimension(archive, name, part, limits)
                merges[name] = _merged_ranges(archive, part)
    visible_names = [name for name, _part, visible in parts if visible]
    reader = READERS[engine]
    try:
        return [_filled(sheet, merges[sheet.name]) for sheet in reader(path, visible_names, limits)]
    except FileRefused:
        raise
    except Exception:  # noqa: BLE001 - a reader's failure on a damaged file
        raise FileRefused(NOT_A_WORKBOOK) from None


def _capped(name: str, rows: Iterator[list[Any]], limits: ReadLimits, first: int = 1, pad: int = 0):
    for number, cells in enumerate(rows, start=first):
        cells = [None] * pad + list(cells)
        if number > limits.max_rows + 1:
            raise FileRefused(TOO_MANY_ROWS, sheet=name, limit=limits.max_rows)
        while cells and cells[-1] in (None, ""):
            cells = cells[:-1]
        if len(cells) > limits.max_columns:
            raise FileRefused(TOO_MANY_COLUMNS, sheet=name, limit=limits.max_columns)
        yield number, [_value(cell) for cell in cells]


def _value(cell: Any) -> Any:
    """Empty cells are None; a date stored with no time of day is a date (openpyxl gives
    datetimes, calamine dates)."""
    if cell == "":
        return None
    if isinstance(cell, datetime) and cell.time() == datetime.min.time():
        return cell.date()
    return cell


def _read_calamine(path: Path, names: list[str], limits: ReadLimits) -> Iterator[Sheet]:
    from python_calamine import CalamineWorkbook

    workbook = CalamineWorkbook.from_path(str(path))
    try:
        for name in names:
            data = workbook.get_sheet_by_name(name)
            # calamine gives every row from the first, but its columns start at the first
            # used one: place them as the sheet does.
            start_column = (data.start or (0, 0))[1]
            rows = _capped(name, data.iter_rows(), limits, 1, start_column)
            yield Sheet(name=name, rows=list(rows))
    finally:
        workbook.close()


def _read_openpyxl(path: Path, names: list[str], limits: ReadLimits) -> Iterator[Sheet]:
    import warnings

    from openpyxl import load_workbook

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "data validation extension not supported" etc.
        # read_only streams the sheet; data_only gives cached formula values; no links.
        workbook = load_workbook(path, read_only=True, data_only=True, keep_links=False)
    try:
        for name in names:
            data = workbook[name]
            rows = (list(row) for row in data.iter_rows(values_only=True))
            yield Sheet(name=name, rows=list(_capped(name, rows, limits)))
    finally:
        workbook.close()


READERS = {"calamine": _read_calamine, "openpyxl": _read_openpyxl}
# Chosen by bench/ingest.py's figures (python-calamine reads the 100k-row file several
# times faster than openpyxl's read-only mode; see docs/member-import.md).
DEFAULT_ENGINE = "calamine"


def _filled(sheet: Sheet, merged: list[tuple[int, int, int, int]]) -> Sheet:
    """Every cell of a merged range takes the range's value (read from the sheet's XML,
    the same for both readers: openpyxl's read-only mode does not name the ranges)."""
    if not merged:
        return sheet
    by_number = {number: cells for number, cells in sheet.rows}
    for first_row, first_col, last_row, last_col in merged:
        top = by_number.get(first_row)
        if top is None or first_col >= len(top):
            continue
        value = top[first_col]
        for number in range(first_row, last_row + 1):
            cells = by_number.get(number)
            if cells is None:
                continue
            if len(cells) <= last_col:
                cells.extend([None] * (last_col + 1 - len(cells)))
            for column in range(first_col, last_col + 1):
                cells[column] = value
    return sheet


def is_date(value: Any) -> bool:
    return isinstance(value, date | datetime)
