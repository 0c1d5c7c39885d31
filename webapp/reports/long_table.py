"""Long lists (a province's 100,000 members) drawn straight with reportlab's platypus.

xhtml2pdf's cost grows faster than linearly with table length and it needs the whole HTML
document in memory, so very long tables are laid out here instead, in the same visual
style as the HTML templates (heading, repeated header rows, group rows, page numbers,
signature block). Rows come from an iterator and are turned into small tables lazily while
the document is built, so memory does not grow with the number of rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape, portrait
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph, Spacer, Table, TableStyle
from reportlab.platypus.doctemplate import BaseDocTemplate, PageTemplate
from reportlab.platypus.frames import Frame

from webapp.reports.document import Column, Heading, format_cell
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


def render_long_table_pdf(
    path: Path,
    heading: Heading,
    columns: Sequence[Column],
    header: Sequence[str],
    groups: Iterable[tuple[str, Iterable[Sequence[Any]]]],
    total_line: Callable[[], str],
    *,
    chunk_rows: int = 60,
) -> None:
    """Draw `groups` — (group title, rows) pairs, rows of cell values in `columns` order —
    as one long table under `header`, split into tables of `chunk_rows` rows that each
    repeat the header. `total_line()` is asked for once every row has been drawn."""
    register_fonts()
    styles = _styles()
    page_size = landscape(A4) if heading.orientation == "landscape" else portrait(A4)
    margins = {"left": 1.5 * cm, "right": 1.2 * cm, "top": 1.5 * cm, "bottom": 1.8 * cm}
    width = page_size[0] - margins["left"] - margins["right"]
    total_weight = sum(column.width for column in columns)
    col_widths = [width * column.width / total_weight for column in columns]
    header_row = [Paragraph(escape(text), styles["header"]) for text in header]
    cell_style = {
        "integer": styles["number"],
        "date": styles["centre"],
    }
    base_style = TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 2),
            ("RIGHTPADDING", (0, 0), (-1, -1), 2),
            ("TOPPADDING", (0, 0), (-1, -1), 1.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
        ]
    )

    def footer(canvas, document) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 8)
        canvas.drawCentredString(
            page_size[0] / 2,
            0.8 * cm,
            f"Trang {document.page} — {heading.title} — {heading.unit_code}",
        )
        canvas.restoreState()

    def make_table(rows: list[list[Any]], group_rows: list[int]) -> Table:
        table = Table([header_row, *rows], colWidths=col_widths, repeatRows=1)
        commands = list(base_style.getCommands())
        for index in group_rows:
            commands += [
                ("SPAN", (0, index), (-1, index)),
                ("BACKGROUND", (0, index), (-1, index), colors.HexColor("#f6f6f6")),
            ]
        table.setStyle(TableStyle(commands))
        return table

    def flowables() -> Iterator[Flowable]:
        yield from _heading_flowables(heading, width, styles)
        rows: list[list[Any]] = []
        group_rows: list[int] = []
        for title, group in groups:
            group_rows.append(len(rows) + 1)
            rows.append([Paragraph(escape(title), styles["group"])] + [""] * (len(columns) - 1))
            for values in group:
                rows.append(
                    [
                        Paragraph(
                            escape(format_cell(value, column.kind)).replace("\n", "<br/>"),
                            cell_style.get(column.kind, styles["cell"]),
                        )
                        for value, column in zip(values, columns, strict=True)
                    ]
                )
                if len(rows) >= chunk_rows:
                    yield make_table(rows, group_rows)
                    rows, group_rows = [], []
        if rows:
            yield make_table(rows, group_rows)
        yield Spacer(1, 6)
        yield Paragraph(f"<b>{escape(total_line())}</b>", styles["cell"])
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
    document.build(_RefillingList(flowables()))
