"""Every spreadsheet the product writes: reports to XLSX or CSV, and the CLI's CSV lists.

Two things are done here once, for every cell:
- text is cleaned of control characters (`printable_text`): XML, so XLSX, forbids most of them
  and openpyxl refuses the whole workbook for one (IllegalCharacterError), and legacy rows
  may hold them;
- text that a spreadsheet would take for a formula (it starts with =, +, -, @, tab, CR or
  LF; OWASP "CSV injection") stays text: an XLSX cell is written as a string with Excel's
  quote prefix, a CSV field gets a leading apostrophe and every text field is quoted.
  Numbers stay numbers (-5 is a number, "-5" text is escaped).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from webapp.reports.document import (
    CLOSING,
    DATE,
    EMPTY,
    GROUP,
    INTEGER,
    PERCENT,
    ROW,
    TEXT,
    TOTAL,
    Column,
    DataTable,
    HeaderCell,
    Heading,
    TableReport,
    header_grid,
    printable_text,
    table_lines,
)

NUMBER_FORMATS = {INTEGER: "#,##0", PERCENT: "0.0%", DATE: "dd/mm/yyyy"}
# What makes Excel, LibreOffice or Google Sheets read a field as a formula (OWASP), with
# the full-width forms some input methods produce; \r is already \n after printable_text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
CELL_LIMIT = 32767  # characters Excel holds in a cell; longer text makes it "repair" the file


def starts_like_formula(text: str) -> bool:
    return text.startswith(FORMULA_STARTS)


def cell_value(value: Any) -> Any:
    """A value as stored in an XLSX cell: text cleaned and cut to what Excel holds."""
    if isinstance(value, str):
        return printable_text(value)[:CELL_LIMIT]
    return value


def csv_field(value: Any) -> Any:
    """A value as written to a CSV field: text cleaned, and prefixed with an apostrophe
    when a spreadsheet would run it as a formula; numbers as they are."""
    if isinstance(value, str):
        text = printable_text(value)
        return f"'{text}" if starts_like_formula(text) else text
    return value


class CsvWriter:
    """csv.writer whose fields go through `csv_field`, every text field quoted."""

    def __init__(self, handle: IO[str], **options: Any) -> None:
        self._writer = csv.writer(handle, quoting=csv.QUOTE_NONNUMERIC, **options)

    def writerow(self, values: Iterable[Any]) -> None:
        self._writer.writerow([csv_field(value) for value in values])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for values in rows:
            self.writerow(values)


def open_csv(path: Path) -> tuple[IO[str], CsvWriter]:
    """A CSV file for Excel (UTF-8 with a byte order mark) and its escaping writer."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("w", newline="", encoding="utf-8-sig")
    return handle, CsvWriter(handle)


class XlsxWriter:
    """A streaming (write-only) sheet with the heading lines, a frozen header, number
    formats and column widths; rows are appended one at a time, so memory stays flat."""

    def __init__(
        self,
        heading: Heading | None,
        columns: Sequence[Column],
        sheet_name: str,
        workbook: Workbook | None = None,
    ) -> None:
        self.columns = columns
        self.workbook = workbook or Workbook(write_only=True)
        self.sheet = self.workbook.create_sheet(printable_text(sheet_name)[:31])
        self.bold = Font(bold=True)
        self.header_fill = PatternFill("solid", fgColor="EEEEEE")
        thin = Side(style="thin")
        self.border = Border(left=thin, right=thin, top=thin, bottom=thin)
        self.wrap = Alignment(wrap_text=True, vertical="top")
        self.centre = Alignment(horizontal="center", vertical="center", wrap_text=True)
        for index, column in enumerate(columns, start=1):
            self.sheet.column_dimensions[get_column_letter(index)].width = column.width
        self.heading = heading
        self.rows_written = 0

    def _cell(
        self, value: Any, *, font=None, fill=None, alignment=None, number_format=None, border=True
    ) -> WriteOnlyCell:
        value = cell_value(value)
        cell = WriteOnlyCell(self.sheet, value=value)
        if isinstance(value, str) and starts_like_formula(value):
            # Text, not a formula; the quote prefix keeps it text when the cell is edited.
            cell.data_type = "s"
            cell.quotePrefix = True
        if font is not None:
            cell.font = font
        if fill is not None:
            cell.fill = fill
        if alignment is not None:
            cell.alignment = alignment
        if number_format is not None:
            cell.number_format = number_format
        if border:
            cell.border = self.border
        return cell

    def _append(self, cells: list[Any]) -> None:
        self.sheet.append(cells)
        self.rows_written += 1

    def start(
        self,
        header_rows: list[list[HeaderCell]],
        caption: str | None = None,
        intro: Sequence[str] = (),
    ) -> None:
        lines: list[str] = []
        heading = self.heading
        if heading is not None:
            lines = [
                "ĐẢNG CỘNG SẢN VIỆT NAM",
                f"{heading.issuing_committee} – {heading.unit_name}",
                heading.title.upper(),
                heading.subtitle,
                f"{heading.place}, ngày {heading.issued_on:%d/%m/%Y}",
                *intro,
            ]
        lines = [*lines, caption] if caption else lines
        blank = 1 if lines else 0
        # Write-only sheets write their view settings with the first row: freeze first.
        self.sheet.freeze_panes = f"A{len(lines) + blank + len(header_rows) + 1}"
        for text in lines:
            self._append([self._cell(text, font=self.bold, border=False)])
        if blank:
            self._append([])
        # Spanned header cells take their first column; the rest stay blank (write-only
        # sheets cannot merge cells).
        grid: list[list[Any]] = [
            [self._cell(None, fill=self.header_fill) for _ in self.columns] for _ in header_rows
        ]
        for placed in header_grid(header_rows, len(self.columns)):
            grid[placed.row][placed.column] = self._cell(
                placed.cell.text, font=self.bold, fill=self.header_fill, alignment=self.centre
            )
        for cells in grid:
            self._append(cells)

    def title_row(self, text: str) -> None:
        self._append([self._cell(text, font=self.bold)])

    def row(self, values: Iterable[Any], *, bold: bool = False) -> None:
        cells = []
        for value, column in zip(values, self.columns, strict=True):
            cells.append(
                self._cell(
                    value,
                    font=self.bold if bold else None,
                    alignment=self.wrap if column.kind == TEXT else None,
                    number_format=NUMBER_FORMATS.get(column.kind),
                )
            )
        self._append(cells)

    def lines(self, table: DataTable) -> None:
        for kind, content in table_lines(table):
            if kind == ROW:
                self.row(content)
            elif kind == TOTAL:
                self.row(content, bold=True)
            elif kind in (GROUP, CLOSING, EMPTY):
                self.title_row(content)

    def finish(self, path: Path, notes: Sequence[str] = ()) -> None:
        for note in notes:
            self._append([self._cell(note, border=False)])
        self.workbook.save(path)


def write_xlsx(report: TableReport, path: Path) -> None:
    """One sheet per table, each under the heading; the notes end the last sheet."""
    workbook = None
    writer = None
    for index, table in enumerate(report.tables):
        writer = XlsxWriter(report.heading, table.columns, table.sheet_name, workbook)
        workbook = writer.workbook
        writer.start(table.header(), table.caption, report.intro if index == 0 else ())
        writer.lines(table)
    if writer is None:
        raise ValueError("a report has at least one table")
    writer.finish(path, report.notes)


def write_csv(report: TableReport, path: Path) -> None:
    """The tables one after another, each under its column titles (a data file: the
    heading lines are the PDF's and the workbook's)."""
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = CsvWriter(handle)
        for table in report.tables:
            writer.writerow([column.title for column in table.columns])
            for kind, content in table_lines(table):
                writer.writerow(content if kind in (ROW, TOTAL) else [content])
