"""An official report as data: the heading, tables of rows, notes.

Every report's build returns a `TableReport`; `webapp.reports.render.write_report` draws it
to PDF (xhtml2pdf for short tables, `long_table` for long ones, by size) or writes it to
XLSX/CSV (`spreadsheet`). A table's sections and their rows may be iterators, so a
province's 100,000-member list streams from the database to the file without being held
in memory; its closing line and count are then read only after the rows were drawn.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import current_app

from webapp.domain.text import is_disallowed
from webapp.models.unit import Unit
from webapp.reports.spec import describe_parameters

TEXT, INTEGER, PERCENT, DATE = "text", "integer", "percent", "date"


@dataclass(frozen=True)
class Heading:
    """The official heading and signature block shared by every report."""

    title: str  # e.g. "Báo cáo tăng, giảm đảng viên"
    subtitle: str  # unit and period
    issuing_committee: str
    unit_name: str
    unit_code: str
    place: str
    issued_on: date
    document_number: str = "……/BC-BTC"
    signer_title: str = "T/M BAN TỔ CHỨC"
    orientation: str = "landscape"


@dataclass(frozen=True)
class Column:
    title: str
    kind: str = TEXT
    width: float = 10  # relative width in the PDF, characters in the XLSX


@dataclass(frozen=True)
class HeaderCell:
    text: str
    colspan: int = 1
    rowspan: int = 1


@dataclass
class Section:
    """A block of rows under an optional title row (e.g. one unit's members)."""

    title: str | None
    rows: Iterable[Sequence[Any]] = field(default_factory=list)


@dataclass
class DataTable:
    columns: Sequence[Column]
    sections: Iterable[Section]
    # Header rows above the column titles for grouped columns (e.g. "Tăng" over its kinds);
    # when empty the column titles alone form the header.
    header_rows: list[list[HeaderCell]] = field(default_factory=list)
    total: list[Any] | None = None  # a bold row of figures after the rows
    # Rows of figures drawn like the total, between the rows and the total: what makes the
    # total follow from the rows when it is not their sum (increase/decrease).
    summary: list[list[Any]] = field(default_factory=list)
    caption: str | None = None  # e.g. "I. Tổng hợp", printed above the table
    sheet_name: str = "Báo cáo"
    # A line across the whole table after its rows ("Tổng số: 3 đảng viên"); a callable is
    # asked only once every row was drawn, so it can count streamed rows.
    closing: str | Callable[[], str] | None = None
    empty: str | None = None  # the line printed instead of rows when there are none
    counted: bool = True  # its rows count in the run's row count (not a summary table)
    dense: bool = False  # many narrow columns: cells in small print (7.5 pt, not 9 pt)

    @property
    def row_count(self) -> int:
        """The rows of a table whose sections are lists (not for streamed tables)."""
        return sum(len(section.rows) for section in self.sections)  # type: ignore[arg-type]

    def header(self) -> list[list[HeaderCell]]:
        return self.header_rows or [[HeaderCell(column.title) for column in self.columns]]

    def closing_text(self) -> str | None:
        return self.closing() if callable(self.closing) else self.closing


@dataclass
class TableReport:
    # None for a plain data file (the card printer's): no heading lines, no signature.
    heading: Heading | None
    tables: list[DataTable]
    notes: list[str] = field(default_factory=list)
    intro: list[str] = field(default_factory=list)  # paragraphs of a decision, before tables
    annex_title: str | None = None  # "Danh sách kèm theo Quyết định", centred above tables
    # The run's row count when it is not the counted tables' rows (asked after rendering).
    count: Callable[[], int] | None = None

    @property
    def row_count(self) -> int:
        if self.count is not None:
            return self.count()
        return sum(table.row_count for table in self.tables if table.counted)


# Text stored before input was checked (legacy rows, another instance's data) may hold
# control characters, which XML — so XLSX — forbids and which print as garbage or break the
# PDF tools; vertical tab and form feed are line breaks of old spreadsheets. What the input
# rule refuses (webapp/domain/text.py) is dropped here, tabs and line breaks kept.
_LINE_BREAKS = str.maketrans({"\x0b": "\n", "\x0c": "\n", "\r": "\n"})


def printable_text(text: str) -> str:
    """`text` without control characters; tabs and line breaks kept (as \\t and \\n)."""
    if text.isprintable():  # the common case, and much faster than the two passes
        return text
    text = text.replace("\r\n", "\n").translate(_LINE_BREAKS)
    return "".join(ch for ch in text if not is_disallowed(ch, multiline=True))


def format_cell(value: Any, kind: str) -> str:
    """A value as printed in the PDF: thousands with a dot and percentages with a comma,
    as Vietnamese documents write them."""
    if value is None or value == "":
        return ""
    if kind == INTEGER and not isinstance(value, str):
        return f"{int(value):,}".replace(",", ".")
    if kind == PERCENT and not isinstance(value, str):
        return f"{value * 100:.1f}%".replace(".", ",")
    if kind == DATE and isinstance(value, date):
        return f"{value:%d/%m/%Y}"
    return printable_text(str(value))


@dataclass(frozen=True)
class PlacedHeader:
    """A header cell on the column grid: its first row and column and its last ones."""

    cell: HeaderCell
    row: int
    column: int
    last_row: int
    last_column: int


def header_grid(header_rows: Sequence[Sequence[HeaderCell]], column_count: int) -> list:
    """Where each header cell lands on the grid: a cell spanning rows keeps its columns
    covered in the rows below, so the next row's labels land over their own columns."""
    placed: list[PlacedHeader] = []
    covered: dict[int, int] = {}  # column → rows still covered from above
    for row_index, header in enumerate(header_rows):
        labels = iter(header)
        column = 0
        while column < column_count:
            if covered.get(column, 0) > 0:
                column += 1
                continue
            cell = next(labels, None)
            if cell is None:
                break
            last_column = min(column + cell.colspan, column_count) - 1
            placed.append(
                PlacedHeader(cell, row_index, column, row_index + cell.rowspan - 1, last_column)
            )
            if cell.rowspan > 1:
                for spanned in range(column, last_column + 1):
                    covered[spanned] = cell.rowspan
            column = last_column + 1
        covered = {c: rows - 1 for c, rows in covered.items() if rows > 1}
    return placed


# What a renderer draws for a table, row by row: ("group", title), ("row", values),
# ("total", values), ("closing", text) or ("empty", text).
GROUP, ROW, TOTAL, CLOSING, EMPTY = "group", "row", "total", "closing", "empty"


def table_lines(table: DataTable) -> Iterator[tuple[str, Any]]:
    """The table's lines in drawing order; the closing line is asked for last."""
    rows = 0
    for section in table.sections:
        if section.title:
            yield GROUP, printable_text(section.title)
        for values in section.rows:
            rows += 1
            yield ROW, values
    if not rows and table.empty:
        yield EMPTY, table.empty
    for values in table.summary:
        yield TOTAL, values
    if table.total is not None:
        yield TOTAL, table.total
    closing = table.closing_text()
    if closing:
        yield CLOSING, printable_text(closing)


def official_heading(
    unit: Unit,
    title: str,
    parameters: Mapping[str, Any],
    *,
    orientation: str = "landscape",
    document_number: str = "……/BC-BTC",
    subtitle: str | None = None,
    signer_title: str = "T/M BAN TỔ CHỨC",
) -> Heading:
    """The heading of a report on `unit`'s subtree, with the instance's committee and place;
    the subtitle names the unit and the period unless given."""
    config = current_app.config
    if subtitle is None:
        # Reports of the records as they are now carry no day: they are as of today.
        period = describe_parameters(parameters) or describe_parameters(
            {"as_of": date.today().isoformat()}
        )
        subtitle = f"{unit.name} ({unit.code}){' – ' + period if period else ''}"
    return Heading(
        title=title,
        subtitle=subtitle,
        issuing_committee=config["ISSUING_COMMITTEE"],
        unit_name=unit.name,
        unit_code=unit.code,
        place=config["ISSUING_PLACE"],
        issued_on=date.today(),
        document_number=document_number,
        signer_title=signer_title,
        orientation=orientation,
    )


def percent(part: int, whole: int) -> float | None:
    return part / whole if whole else None
