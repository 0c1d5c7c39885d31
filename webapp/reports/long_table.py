"""Long lists (a province's 100,000 members) drawn straight with reportlab's platypus.

xhtml2pdf's cost grows faster than linearly with table length and it needs the whole HTML
document in memory, so very long tables are laid out here instead, in the same visual
style as the HTML templates (heading, repeated header rows, group rows, page numbers,
signature block). Rows come from an iterator and are turned into small tables lazily while
the document is built, so memory does not grow with the number of rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape, portrait
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfdoc import PDFArray, PDFName, PDFStream, PDFZCompress
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, Spacer, Table, TableStyle
from reportlab.platypus.doctemplate import BaseDocTemplate, PageTemplate
from reportlab.platypus.frames import Frame

from webapp.reports.document import Column, HeaderCell, Heading, format_cell
from webapp.reports.pdf import FONT_DIR

FONT = "DangVienSerif"
_fonts_registered = False


def register_fonts() -> None:
    global _fonts_registered
    if _fonts_registered:
        return
    faces = {
        FONT: "DejaVuSerif.ttf",
        f"{FONT}-Bold": "DejaVuSerif-Bold.ttf",
        f"{FONT}-Italic": "DejaVuSerif-Italic.ttf",
        f"{FONT}-BoldItalic": "DejaVuSerif-BoldItalic.ttf",
    }
    for name, file in faces.items():
        pdfmetrics.registerFont(TTFont(name, str(FONT_DIR / file)))
    pdfmetrics.registerFontFamily(
        FONT,
        normal=FONT,
        bold=f"{FONT}-Bold",
        italic=f"{FONT}-Italic",
        boldItalic=f"{FONT}-BoldItalic",
    )
    _fonts_registered = True


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("cell", fontName=FONT, fontSize=7.5, leading=9)
    return {
        "cell": base,
        "number": ParagraphStyle("number", parent=base, alignment=TA_RIGHT),
        "centre": ParagraphStyle("centre", parent=base, alignment=TA_CENTER),
        "header": ParagraphStyle(
            "header", parent=base, fontName=f"{FONT}-Bold", alignment=TA_CENTER
        ),
        "group": ParagraphStyle("group", parent=base, fontName=f"{FONT}-Bold"),
        "number_bold": ParagraphStyle(
            "number_bold", parent=base, fontName=f"{FONT}-Bold", alignment=TA_RIGHT
        ),
        "heading": ParagraphStyle(
            "heading", parent=base, fontSize=10, leading=12.5, alignment=TA_CENTER
        ),
        "title": ParagraphStyle(
            "title",
            parent=base,
            fontName=f"{FONT}-Bold",
            fontSize=14,
            leading=18,
            alignment=TA_CENTER,
            spaceBefore=10,
        ),
        "subtitle": ParagraphStyle(
            "subtitle",
            parent=base,
            fontName=f"{FONT}-Italic",
            fontSize=9,
            leading=11,
            alignment=TA_CENTER,
            spaceAfter=8,
        ),
    }


class CompressingCanvas(Canvas):
    """A canvas that compresses each page's content stream as soon as the page is done.
    Stock reportlab keeps every page's uncompressed stream (about 34 kB for a page of the
    member list) until save(), so memory would grow with the page count: 459 MB for a
    province's 9,200 pages, against 306 MB with this (bench/reports.py)."""

    def showPage(self):  # noqa: N802 - reportlab's name
        super().showPage()
        page = self._doc.Pages.pages[-1]
        if getattr(page, "stream", None) and not page.Contents and page.compression:
            contents = PDFStream(content=PDFZCompress.encode(page.stream))
            contents.dictionary["Filter"] = PDFArray([PDFName(PDFZCompress.pdfname)])
            contents.__Comment__ = "page stream"
            page.Contents = contents
            page.stream = None


class _RefillingList(list):
    """The flowables list handed to platypus, topped up from a generator whenever it runs
    low, so only a few tables exist at any time."""

    def __init__(self, source: Iterator[Flowable], low_water: int = 3) -> None:
        super().__init__()
        self.source = source
        self.low_water = low_water
        self._refill()

    def _refill(self) -> None:
        while list.__len__(self) < self.low_water:
            try:
                self.append(next(self.source))
            except StopIteration:
                return

    def __len__(self) -> int:
        self._refill()
        return list.__len__(self)


def _heading_flowables(heading: Heading, width: float, styles) -> list[Flowable]:
    left = Paragraph(
        f"{escape(heading.issuing_committee)}<br/><b>{escape(heading.unit_name.upper())}</b>"
        f"<br/>*<br/>Số: {escape(heading.document_number)}",
        styles["heading"],
    )
    right = Paragraph(
        "<b>ĐẢNG CỘNG SẢN VIỆT NAM</b><br/>―――――――――<br/>"
        f"<i>{escape(heading.place)}, ngày {heading.issued_on.day} tháng "
        f"{heading.issued_on.month} năm {heading.issued_on.year}</i>",
        styles["heading"],
    )
    table = Table([[left, right]], colWidths=[width * 0.45, width * 0.55])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return [
        table,
        Paragraph(escape(heading.title.upper()), styles["title"]),
        Paragraph(escape(heading.subtitle), styles["subtitle"]),
    ]


def _signature(heading: Heading, width: float, styles) -> Table:
    table = Table(
        [
            [
                Paragraph("<i>Nơi nhận:</i><br/>- Lưu hồ sơ.", styles["cell"]),
                Paragraph(
                    f"<b>{escape(heading.signer_title)}</b><br/><i>(Ký, ghi rõ họ tên)</i>",
                    styles["heading"],
                ),
            ]
        ],
        colWidths=[width / 2, width / 2],
    )
    table.setStyle(
        TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("TOPPADDING", (0, 0), (-1, -1), 12)])
    )
    return table


@dataclass
class LongTable:
    """One table of a long document: rows come in groups, each under an optional title
    row; `header_rows` may span columns and rows like the HTML templates' headers."""

    columns: Sequence[Column]
    header_rows: Sequence[Sequence[HeaderCell]]
    groups: Iterable[tuple[str | None, Iterable[Sequence[Any]]]]
    caption: str | None = None
    total: Sequence[Any] | None = None


def _header_grid(header_rows, column_count: int, style) -> tuple[list[list[Any]], list]:
    """Header cells laid out on the column grid, and the SPAN commands for them."""
    grid: list[list[Any]] = []
    spans: list = []
    covered: dict[int, int] = {}
    for row_index, header in enumerate(header_rows):
        row: list[Any] = [""] * column_count
        labels = iter(header)
        column = 0
        while column < column_count:
            if covered.get(column, 0) > 0:
                column += 1
                continue
            cell = next(labels, None)
            if cell is None:
                break
            row[column] = Paragraph(escape(cell.text), style)
            last_column = column + cell.colspan - 1
            last_row = row_index + cell.rowspan - 1
            if last_column > column or last_row > row_index:
                spans.append(("SPAN", (column, row_index), (last_column, last_row)))
            if cell.rowspan > 1:
                for spanned in range(column, last_column + 1):
                    covered[spanned] = cell.rowspan
            column = last_column + 1
        grid.append(row)
        covered = {c: rows - 1 for c, rows in covered.items() if rows > 1}
    return grid, spans


def render_long_pdf(
    path: Path,
    heading: Heading,
    tables: Iterable[LongTable],
    closing_lines: Callable[[], Sequence[str]],
    *,
    chunk_rows: int = 15,
) -> None:
    """Draw `tables` one after another, each split into tables of `chunk_rows` rows that
    repeat its header; `closing_lines()` (totals, notes) is asked for once every row has
    been drawn, then the signature block follows."""
    register_fonts()
    styles = _styles()
    page_size = landscape(A4) if heading.orientation == "landscape" else portrait(A4)
    margins = {"left": 1.5 * cm, "right": 1.2 * cm, "top": 1.5 * cm, "bottom": 1.8 * cm}
    width = page_size[0] - margins["left"] - margins["right"]
    cell_style = {
        "integer": styles["number"],
        "percent": styles["number"],
        "date": styles["centre"],
    }
    bold_style = {"integer": styles["number_bold"], "percent": styles["number_bold"]}
    padding = [
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 2),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ]

    def footer(canvas, document) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 8)
        canvas.drawCentredString(
            page_size[0] / 2,
            0.8 * cm,
            f"Trang {document.page} — {heading.title} — {heading.unit_code}",
        )
        canvas.restoreState()

    def table_flowables(table: LongTable) -> Iterator[Flowable]:
        columns = table.columns
        total_weight = sum(column.width for column in columns)
        col_widths = [width * column.width / total_weight for column in columns]
        header, spans = _header_grid(table.header_rows, len(columns), styles["header"])
        head = len(header)

        def cells(values, bold: bool = False) -> list[Any]:
            styles_by_kind = bold_style if bold else cell_style
            default = styles["group"] if bold else styles["cell"]
            return [
                Paragraph(
                    escape(format_cell(value, column.kind)).replace("\n", "<br/>"),
                    styles_by_kind.get(column.kind, default),
                )
                for value, column in zip(values, columns, strict=True)
            ]

        def make(rows: list[list[Any]], group_rows: list[int], total: bool) -> Table:
            built = Table([*header, *rows], colWidths=col_widths, repeatRows=head)
            commands = [
                *padding,
                ("BACKGROUND", (0, 0), (-1, head - 1), colors.HexColor("#eeeeee")),
                *spans,
            ]
            for index in group_rows:
                commands += [
                    ("SPAN", (0, index), (-1, index)),
                    ("BACKGROUND", (0, index), (-1, index), colors.HexColor("#f6f6f6")),
                ]
            if total:
                commands.append(("BACKGROUND", (0, -1), (-1, -1), colors.HexColor("#f6f6f6")))
            built.setStyle(TableStyle(commands))
            return built

        if table.caption:
            yield Paragraph(f"<b>{escape(table.caption)}</b>", styles["cell"])
            yield Spacer(1, 3)
        rows: list[list[Any]] = []
        group_rows: list[int] = []
        for title, group in table.groups:
            if title:
                group_rows.append(head + len(rows))
                rows.append([Paragraph(escape(title), styles["group"])] + [""] * (len(columns) - 1))
            for values in group:
                rows.append(cells(values))
                if len(rows) >= chunk_rows:
                    yield make(rows, group_rows, False)
                    rows, group_rows = [], []
        if table.total is not None:
            rows.append(cells(table.total, bold=True))
        if rows or not table.caption:
            yield make(rows, group_rows, table.total is not None)
        yield Spacer(1, 8)

    def flowables() -> Iterator[Flowable]:
        yield from _heading_flowables(heading, width, styles)
        for table in tables:
            yield from table_flowables(table)
        for line in closing_lines():
            yield Paragraph(f"<i>{escape(line)}</i>", styles["cell"])
        yield _signature(heading, width, styles)

    document = BaseDocTemplate(
        str(path),
        pagesize=page_size,
        leftMargin=margins["left"],
        rightMargin=margins["right"],
        topMargin=margins["top"],
        bottomMargin=margins["bottom"],
        title=heading.title,
        author=heading.issuing_committee,
        pageCompression=1,
    )
    frame = Frame(
        margins["left"],
        margins["bottom"],
        width,
        page_size[1] - margins["top"] - margins["bottom"],
        id="body",
    )
    document.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=footer)])
    document.build(_RefillingList(flowables()), canvasmaker=CompressingCanvas)
