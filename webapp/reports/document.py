"""An official report as data, and its two renderings: PDF (xhtml2pdf) and XLSX.

Aggregate reports build a `TableReport` (a few hundred rows at most) and hand it to
`write_report`; long member lists stream through `webapp.reports.long_table` instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from flask import current_app
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from webapp.models.unit import Unit
from webapp.reports.pdf import render_pdf
from webapp.reports.spec import describe_parameters, report_context, templates

TEXT, INTEGER, PERCENT, DATE = "text", "integer", "percent", "date"
NUMBER_FORMATS = {INTEGER: "#,##0", PERCENT: "0.0%", DATE: "dd/mm/yyyy"}


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
    rows: list[list[Any]] = field(default_factory=list)


@dataclass
class DataTable:
    columns: Sequence[Column]
    sections: list[Section]
    # Header rows above the column titles for grouped columns (e.g. "Tăng" over its kinds);
    # when empty the column titles alone form the header.
    header_rows: list[list[HeaderCell]] = field(default_factory=list)
    total: list[Any] | None = None
    caption: str | None = None  # e.g. "I. Tổng hợp", printed above the table
    sheet_name: str = "Báo cáo"

    @property
    def row_count(self) -> int:
        return sum(len(section.rows) for section in self.sections)

    def header(self) -> list[list[HeaderCell]]:
        return self.header_rows or [[HeaderCell(column.title) for column in self.columns]]


@dataclass
class TableReport:
    heading: Heading
    tables: list[DataTable]
    notes: list[str] = field(default_factory=list)

    @property
    def row_count(self) -> int:
        return sum(table.row_count for table in self.tables)


def format_cell(value: Any, kind: str) -> str:
    """A value as printed in the PDF: thousands with a dot and percentages with a comma,
    as Vietnamese documents write them."""
    if value is None or value == "":
        return ""
    if kind == INTEGER:
        return f"{int(value):,}".replace(",", ".")
    if kind == PERCENT:
        return f"{value * 100:.1f}%".replace(".", ",")
    if kind == DATE and isinstance(value, date):
        return f"{value:%d/%m/%Y}"
    return str(value)


def _pdf_table(table: DataTable) -> dict[str, Any]:
    def cells(values: Sequence[Any]) -> list[tuple[str, str]]:
        return [
            (format_cell(value, column.kind), column.kind)
            for value, column in zip(values, table.columns, strict=True)
        ]

    total_width = sum(column.width for column in table.columns) or 1
    return {
        "caption": table.caption,
        "header": table.header(),
        "widths": [f"{100 * column.width / total_width:.1f}%" for column in table.columns],
        "column_count": len(table.columns),
        "sections": [
            {"title": section.title, "rows": [cells(row) for row in section.rows]}
            for section in table.sections
        ],
        "total": cells(table.total) if table.total is not None else None,
    }


def render_table_pdf(report: TableReport, path: Path) -> None:
    heading = report.heading
    html = templates.get_template("table.html").render(
        report_context(
            title=heading.title,
            subtitle=heading.subtitle,
            orientation=heading.orientation,
            issuing_committee=heading.issuing_committee,
            place=heading.place,
            issued_on=heading.issued_on,
            unit_name=heading.unit_name,
            unit_code=heading.unit_code,
            document_number=heading.document_number,
            signer_title=heading.signer_title,
            tables=[_pdf_table(table) for table in report.tables],
            notes=report.notes,
        )
    )
    with path.open("wb") as output:
        render_pdf(html, output)


class XlsxWriter:
    """A streaming (write-only) workbook with the heading lines, a frozen header, number
    formats and column widths; rows are appended one at a time, so memory stays flat."""

    def __init__(
        self,
        heading: Heading,
        columns: Sequence[Column],
        sheet_name: str,
        workbook: Workbook | None = None,
    ) -> None:
        self.columns = columns
        self.workbook = workbook or Workbook(write_only=True)
        self.sheet = self.workbook.create_sheet(sheet_name[:31])
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

    def _cell(self, value: Any, *, font=None, fill=None, alignment=None, number_format=None):
        cell = WriteOnlyCell(self.sheet, value=value)
        if font is not None:
            cell.font = font
        if fill is not None:
            cell.fill = fill
        if alignment is not None:
            cell.alignment = alignment
        if number_format is not None:
            cell.number_format = number_format
        cell.border = self.border
        return cell

    def _append(self, cells: list[Any]) -> None:
        self.sheet.append(cells)
        self.rows_written += 1

    def start(self, header_rows: list[list[HeaderCell]], caption: str | None = None) -> None:
        heading = self.heading
        lines = [
            "ĐẢNG CỘNG SẢN VIỆT NAM",
            f"{heading.issuing_committee} – {heading.unit_name}",
            heading.title.upper(),
            heading.subtitle,
            f"{heading.place}, ngày {heading.issued_on:%d/%m/%Y}",
        ]
        lines = [*lines, caption] if caption else lines
        # Write-only sheets write their view settings with the first row: freeze first.
        self.sheet.freeze_panes = f"A{len(lines) + 1 + len(header_rows) + 1}"
        for text in lines:
            cell = WriteOnlyCell(self.sheet, value=text)
            cell.font = self.bold
            self._append([cell])
        self._append([])
        # Spanned header cells take their first column; the rest stay blank (write-only
        # sheets cannot merge cells). A cell spanning rows keeps its columns blank in the
        # rows below, so the next row's labels land over their own columns.
        covered: dict[int, int] = {}  # column → rows still covered from above
        for header in header_rows:
            cells: list[Any] = []
            labels = iter(header)
            while len(cells) < len(self.columns):
                column = len(cells)
                if covered.get(column, 0) > 0:
                    cells.append(self._cell(None, fill=self.header_fill))
                    continue
                header_cell = next(labels, None)
                if header_cell is None:
                    break
                cells.append(
                    self._cell(
                        header_cell.text,
                        font=self.bold,
                        fill=self.header_fill,
                        alignment=self.centre,
                    )
                )
                cells.extend(
                    self._cell(None, fill=self.header_fill) for _ in range(header_cell.colspan - 1)
                )
                if header_cell.rowspan > 1:
                    for spanned in range(column, column + header_cell.colspan):
                        covered[spanned] = header_cell.rowspan
            self._append(cells)
            covered = {column: rows - 1 for column, rows in covered.items() if rows > 1}

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

    def finish(self, path: Path, notes: Sequence[str] = ()) -> None:
        for note in notes:
            self._append([note])
        self.workbook.save(path)


def render_table_xlsx(report: TableReport, path: Path) -> None:
    workbook = None
    for table in report.tables:
        writer = XlsxWriter(report.heading, table.columns, table.sheet_name, workbook)
        workbook = writer.workbook
        writer.start(table.header(), table.caption)
        for section in table.sections:
            if section.title:
                writer.title_row(section.title)
            for row in section.rows:
                writer.row(row)
        if table.total is not None:
            writer.row(table.total, bold=True)
    writer.finish(path, report.notes)


# xhtml2pdf's time grows faster than linearly with a table's length (a province's year of
# commendations took minutes): longer reports are drawn with platypus in the same style.
LONG_REPORT_ROWS = 300


def render_long_report_pdf(report: TableReport, path: Path) -> None:
    from webapp.reports.long_table import LongTable, render_long_pdf

    render_long_pdf(
        path,
        report.heading,
        [
            LongTable(
                table.columns,
                table.header(),
                [(section.title, section.rows) for section in table.sections],
                caption=table.caption,
                total=table.total,
            )
            for table in report.tables
        ],
        lambda: report.notes,
    )


def write_report(report: TableReport, output_format: str, path: Path) -> int:
    if output_format == "pdf" and report.row_count > LONG_REPORT_ROWS:
        render_long_report_pdf(report, path)
    elif output_format == "pdf":
        render_table_pdf(report, path)
    else:
        render_table_xlsx(report, path)
    return report.row_count


def official_heading(
    unit: Unit,
    title: str,
    parameters: Mapping[str, Any],
    *,
    orientation: str = "landscape",
    document_number: str = "……/BC-BTC",
) -> Heading:
    """The heading of a report on `unit`'s subtree, with the instance's committee and place."""
    config = current_app.config
    # Reports of the records as they are now carry no day: they are as of today.
    period = describe_parameters(parameters) or describe_parameters(
        {"as_of": date.today().isoformat()}
    )
    return Heading(
        title=title,
        subtitle=f"{unit.name} ({unit.code}){' – ' + period if period else ''}",
        issuing_committee=config["ISSUING_COMMITTEE"],
        unit_name=unit.name,
        unit_code=unit.code,
        place=config["ISSUING_PLACE"],
        issued_on=date.today(),
        document_number=document_number,
        orientation=orientation,
    )


def percent(part: int, whole: int) -> float | None:
    return part / whole if whole else None
