"""Long reports (a province's 100,000 members) drawn straight with reportlab's platypus.

xhtml2pdf's cost grows faster than linearly with table length and it needs the whole HTML
document in memory, so long tables are laid out here instead, in the same visual style as
the HTML template (heading, header rows, group rows, signature block, "Trang N/M").

A table is one flowable, `PagedTable`, that pulls its rows from an iterator a page at a
time: each page gets one platypus Table that starts with the header rows and holds as many
rows as fit there. Only one page's rows exist at any time, so memory does not grow with
the number of rows; the header is printed once at the top of every page, never between
rows. Page footers are written when the document is saved, once the page count is known.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_RIGHT
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

from webapp.reports.document import (
    CLOSING,
    DATE,
    EMPTY,
    GROUP,
    INTEGER,
    PERCENT,
    TOTAL,
    DataTable,
    HeaderCell,
    Heading,
    TableReport,
    format_cell,
    header_grid,
    printable_text,
    table_lines,
)
from webapp.reports.pdf import FONT_DIR

FONT = "DangVienSerif"
_fonts_registered = False
# Cell paddings (points) and the grid, as in the HTML template.
LEFT, RIGHT, TOP, BOTTOM = 2, 2, 1.5, 1.5
GRID = [
    ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("LEFTPADDING", (0, 0), (-1, -1), LEFT),
    ("RIGHTPADDING", (0, 0), (-1, -1), RIGHT),
    ("TOPPADDING", (0, 0), (-1, -1), TOP),
    ("BOTTOMPADDING", (0, 0), (-1, -1), BOTTOM),
]
HEADER_GREY, GROUP_GREY = colors.HexColor("#eeeeee"), colors.HexColor("#f6f6f6")
UNLIMITED = 1e9  # the height a cell is measured in


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


def _cell_styles(size: float) -> dict[str, ParagraphStyle]:
    """Table cells in `size` points: 9 as the HTML template's, 7.5 for dense tables."""
    base = ParagraphStyle(f"cell{size}", fontName=FONT, fontSize=size, leading=size * 1.2)
    return {
        "cell": base,
        "number": ParagraphStyle("number", parent=base, alignment=TA_RIGHT),
        "centre": ParagraphStyle("centre", parent=base, alignment=TA_CENTER),
        "group": ParagraphStyle("group", parent=base, fontName=f"{FONT}-Bold"),
        "number_bold": ParagraphStyle(
            "number_bold", parent=base, fontName=f"{FONT}-Bold", alignment=TA_RIGHT
        ),
    }


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("cell", fontName=FONT, fontSize=7.5, leading=9)
    return {
        # Captions, notes and the signature block in the HTML template's body size.
        "text": ParagraphStyle("text", fontName=FONT, fontSize=9, leading=11),
        "header": ParagraphStyle(
            "header", parent=base, fontName=f"{FONT}-Bold", alignment=TA_CENTER
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
        "annex": ParagraphStyle(
            "annex",
            parent=base,
            fontName=f"{FONT}-Bold",
            fontSize=11,
            leading=14,
            alignment=TA_CENTER,
            spaceBefore=6,
            spaceAfter=6,
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
        "intro": ParagraphStyle(
            "intro", parent=base, fontSize=10, leading=13, alignment=TA_JUSTIFY, spaceAfter=4
        ),
    }


def _text(value: str) -> str:
    """Plain text as Paragraph markup."""
    return escape(printable_text(value)).replace("\n", "<br/>")


class PagedCanvas(Canvas):
    """A canvas that compresses each page's content stream as soon as the page is done,
    and writes every page's footer at save, when the page count is known.

    Stock reportlab keeps every page's uncompressed stream (about 34 kB for a page of the
    member list) until save(), so memory would grow with the page count: 459 MB for a
    province's 9,200 pages, against 306 MB compressed (bench/reports.py). The footer of a
    page is a second content stream drawn before the page's own, so "Trang N/M" costs one
    small stream a page at the end (9,200 pages: 1.1 s and 23 MB) instead of a second
    rendering of the whole document (twice the time)."""

    def __init__(self, *args: Any, footer: Callable[[int, int], str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._footer = footer

    def showPage(self):  # noqa: N802 - reportlab's name
        super().showPage()
        page = self._doc.Pages.pages[-1]
        if getattr(page, "stream", None) and not page.Contents and page.compression:
            page.Contents = self._stream(page.stream, "page stream")
            page.stream = None

    @staticmethod
    def _stream(content: str, comment: str) -> PDFStream:
        stream = PDFStream(content=PDFZCompress.encode(content))
        stream.dictionary["Filter"] = PDFArray([PDFName(PDFZCompress.pdfname)])
        stream.__Comment__ = comment
        return stream

    def save(self) -> None:
        if self._code:
            self.showPage()
        if self._footer is not None:
            self._write_footers()
        super().save()

    def _write_footers(self) -> None:
        pages = self._doc.Pages.pages
        for number, page in enumerate(pages, start=1):
            self._code = []
            self.setFont(FONT, 8)
            self.drawCentredString(page.pagewidth / 2, 0.8 * cm, self._footer(number, len(pages)))
            footer = self._stream("\n".join(["q", *self._code, "Q"]), "page footer")
            body = page.Contents or self._stream(page.stream, "page stream")
            page.stream = None
            page.Contents = PDFArray([self._doc.Reference(footer), self._doc.Reference(body)])
        self._code = []


class _Line:
    """One line of a table, its cells made and measured."""

    __slots__ = ("cells", "height", "kind")

    def __init__(self, kind: str, cells: list[Any], height: float) -> None:
        self.kind, self.cells, self.height = kind, cells, height


class PagedTable(Flowable):
    """A table drawn a page at a time from an iterator of its lines (see module doc).

    Platypus asks `wrap` whether the rest fits in the space left; when it does not, it asks
    `split`, which returns this page's Table and a PagedTable for the rest (a group title
    is never left alone at the bottom of a page). A line taller than a whole page is cut
    across pages by platypus itself."""

    def __init__(
        self,
        table: DataTable,
        width: float,
        styles: dict[str, ParagraphStyle],
        caption: Paragraph | None = None,
    ) -> None:
        super().__init__()
        columns = table.columns
        self.columns = columns
        self.width = width
        self.styles = styles
        total_weight = sum(column.width for column in columns) or 1
        self.col_widths = [width * column.width / total_weight for column in columns]
        self.header, self.header_commands = self._header(table.header(), styles["header"])
        measure = Table(self.header, colWidths=self.col_widths, style=self.header_commands)
        measure.wrap(width, UNLIMITED)
        self.header_heights = list(measure._rowHeights)
        self.header_height = sum(self.header_heights)
        self.caption = caption
        self.cells = _cell_styles(7.5 if table.dense else 9)
        self._lines = table_lines(table)
        self._pending: list[_Line] = []
        self._pending_height = 0.0
        self._done = False
        # The rest of a line cut across pages continues on the page where the line ends,
        # without a second header there (`_headed` is decided where the part is placed).
        self._continues = False
        self._headed = True
        self._cell_style = {
            INTEGER: self.cells["number"],
            PERCENT: self.cells["number"],
            DATE: self.cells["centre"],
        }
        self._bold_style = {INTEGER: self.cells["number_bold"], PERCENT: self.cells["number_bold"]}

    # ---------------------------------------------------------------- building lines

    def _header(self, header_rows: Sequence[Sequence[HeaderCell]], style) -> tuple[list, list]:
        grid: list[list[Any]] = [[""] * len(self.columns) for _ in header_rows]
        commands: list[Any] = [
            *GRID,
            ("BACKGROUND", (0, 0), (-1, len(header_rows) - 1), HEADER_GREY),
        ]
        for placed in header_grid(header_rows, len(self.columns)):
            grid[placed.row][placed.column] = Paragraph(_text(placed.cell.text), style)
            if placed.last_column > placed.column or placed.last_row > placed.row:
                commands.append(
                    ("SPAN", (placed.column, placed.row), (placed.last_column, placed.last_row))
                )
        return grid, commands

    def _line(self, kind: str, content: Any) -> _Line:
        if kind in (GROUP, CLOSING, EMPTY):
            style = self.cells["cell" if kind == EMPTY else "group"]
            paragraph = Paragraph(_text(content), style)
            height = paragraph.wrap(self.width - LEFT - RIGHT, UNLIMITED)[1]
            cells = [paragraph] + [""] * (len(self.columns) - 1)
            return _Line(kind, cells, height + TOP + BOTTOM)
        bold = kind == TOTAL
        styles = self._bold_style if bold else self._cell_style
        default = self.cells["group" if bold else "cell"]
        cells: list[Any] = []
        height = self.cells["cell"].leading  # an all-blank row is one line high
        for value, column, width in zip(content, self.columns, self.col_widths, strict=True):
            text = format_cell(value, column.kind)
            if not text:
                cells.append("")  # nothing to wrap or draw
                continue
            paragraph = Paragraph(
                escape(text).replace("\n", "<br/>"), styles.get(column.kind, default)
            )
            height = max(height, paragraph.wrap(width - LEFT - RIGHT, UNLIMITED)[1])
            cells.append(paragraph)
        return _Line(kind, cells, height + TOP + BOTTOM)

    def _place(self) -> bool:
        """Whether this part starts at the top of a frame (platypus sets `_frame` first)."""
        at_top = getattr(getattr(self, "_frame", None), "_atTop", False)
        self._headed = not self._continues or at_top
        return at_top

    def _fill(self, height: float) -> None:
        """Measure lines until they overflow `height` or run out."""
        used = self._used()
        while not self._done and used + self._pending_height <= height:
            try:
                kind, content = next(self._lines)
            except StopIteration:
                self._done = True
                break
            line = self._line(kind, content)
            self._pending.append(line)
            self._pending_height += line.height

    def _used(self) -> float:
        header = self.header_height if self._headed else 0
        return header + (self._caption_height() if self.caption else 0)

    def _caption_height(self) -> float:
        return self.caption.wrap(self.width, UNLIMITED)[1] + 3  # and the space below it

    def _table(self, lines: Sequence[_Line], **options: Any) -> Table | None:
        header = self.header if self._headed else []
        if not header and not lines:
            return None
        head = len(header)
        commands = list(self.header_commands if header else GRID)
        for index, line in enumerate(lines, start=head):
            if line.kind in (GROUP, CLOSING, EMPTY):
                commands.append(("SPAN", (0, index), (-1, index)))
            if line.kind in (GROUP, CLOSING, TOTAL):
                commands.append(("BACKGROUND", (0, index), (-1, index), GROUP_GREY))
        header_heights = self.header_heights if header else []
        heights = None if options else [*header_heights, *(line.height for line in lines)]
        return Table(
            [*header, *(line.cells for line in lines)],
            colWidths=self.col_widths,
            rowHeights=heights,
            style=TableStyle(commands),
            repeatRows=head,
            **options,
        )

    def _parts(self, table: Table | None) -> list[Flowable]:
        if table is None:
            return []
        return [self.caption, Spacer(1, 3), table] if self.caption else [table]

    # ---------------------------------------------------------------- platypus protocol

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803
        self._place()
        self._fill(availHeight)
        return self.width, self._used() + self._pending_height

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:  # noqa: N803
        at_top = self._place()
        self._fill(availHeight)
        fit, used = 0, self._used()
        for line in self._pending:
            if used + line.height > availHeight + 1e-6:
                break
            used += line.height
            fit += 1
        more = fit < len(self._pending) or not self._done
        while fit and more and self._pending[fit - 1].kind == GROUP:
            fit -= 1  # a group title goes over with its first rows
        if fit == 0 and not at_top:
            return []  # nothing fits in what is left of the page: start on the next one
        if fit == 0:
            # A line taller than a whole page (absurdly long stored text), with its group
            # title if it has one: let platypus cut it across pages.
            taken = next(
                (i + 1 for i, line in enumerate(self._pending) if line.kind != GROUP),
                len(self._pending),
            )
            room = availHeight - (self._used() - self.header_height)
            parts = self._table(self._pending[:taken], splitByRow=0, splitInRow=1).split(
                availWidth, room
            )
            if not parts:
                raise ValueError("a table line cannot be laid out on a page")
            return [*self._parts(parts[0]), *parts[1:], self._rest(taken, continues=True)]
        return [*self._parts(self._table(self._pending[:fit])), self._rest(fit)]

    def _rest(self, drawn: int, *, continues: bool = False) -> PagedTable:
        rest = copy.copy(self)
        rest._continues, rest._headed = continues, True
        rest.__dict__.pop("_postponed", None)  # platypus's mark for this part, not the rest's
        rest.caption = None
        rest._pending = self._pending[drawn:]
        rest._pending_height = sum(line.height for line in rest._pending)
        self._pending, self._pending_height = [], 0.0
        return rest

    def draw(self) -> None:
        """Everything left fits here (`wrap` said so)."""
        y = self._used() + self._pending_height
        for part in self._parts(self._table(self._pending)):
            _, height = part.wrap(self.width, UNLIMITED)
            y -= height
            part.drawOn(self.canv, 0, y)
            y -= part.getSpaceAfter()


def _heading_flowables(heading: Heading, width: float, styles) -> list[Flowable]:
    left = Paragraph(
        f"{_text(heading.issuing_committee)}<br/><b>{_text(heading.unit_name.upper())}</b>"
        f"<br/>*<br/>Số: {_text(heading.document_number)}",
        styles["heading"],
    )
    right = Paragraph(
        "<b>ĐẢNG CỘNG SẢN VIỆT NAM</b><br/>―――――――――<br/>"
        f"<i>{_text(heading.place)}, ngày {heading.issued_on.day} tháng "
        f"{heading.issued_on.month} năm {heading.issued_on.year}</i>",
        styles["heading"],
    )
    table = Table([[left, right]], colWidths=[width * 0.45, width * 0.55])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return [
        table,
        Paragraph(_text(heading.title.upper()), styles["title"]),
        Paragraph(_text(heading.subtitle), styles["subtitle"]),
    ]


def _signature(heading: Heading, width: float, styles) -> Table:
    table = Table(
        [
            [
                Paragraph("<i>Nơi nhận:</i><br/>- Lưu hồ sơ.", styles["text"]),
                Paragraph(
                    f"<b>{_text(heading.signer_title)}</b><br/><i>(Ký, ghi rõ họ tên)</i>",
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


def render_long_pdf(report: TableReport, path: Path) -> None:
    """Draw the report's tables one after another, each a PagedTable; notes and the
    signature block follow the last row."""
    register_fonts()
    styles = _styles()
    heading = report.heading
    page_size = landscape(A4) if heading.orientation == "landscape" else portrait(A4)
    margins = {"left": 1.5 * cm, "right": 1.2 * cm, "top": 1.5 * cm, "bottom": 1.8 * cm}
    width = page_size[0] - margins["left"] - margins["right"]

    flowables: list[Flowable] = _heading_flowables(heading, width, styles)
    flowables += [Paragraph(_text(paragraph), styles["intro"]) for paragraph in report.intro]
    if report.annex_title:
        flowables.append(Paragraph(_text(report.annex_title), styles["annex"]))
    for table in report.tables:
        caption = (
            Paragraph(f"<b>{_text(table.caption)}</b>", styles["text"]) if table.caption else None
        )
        flowables += [PagedTable(table, width, styles, caption), Spacer(1, 8)]
    flowables += [Paragraph(f"<i>{_text(note)}</i>", styles["text"]) for note in report.notes]
    flowables.append(_signature(heading, width, styles))

    title, unit_code = printable_text(heading.title), printable_text(heading.unit_code)

    def footer(number: int, pages: int) -> str:
        return f"Trang {number}/{pages} — {title} — {unit_code}"

    def canvas(*args: Any, **kwargs: Any) -> PagedCanvas:
        return PagedCanvas(*args, footer=footer, **kwargs)

    document = BaseDocTemplate(
        str(path),
        pagesize=page_size,
        leftMargin=margins["left"],
        rightMargin=margins["right"],
        topMargin=margins["top"],
        bottomMargin=margins["bottom"],
        title=title,
        author=printable_text(heading.issuing_committee),
        pageCompression=1,
    )
    frame = Frame(
        margins["left"],
        margins["bottom"],
        width,
        page_size[1] - margins["top"] - margins["bottom"],
        id="body",
    )
    document.addPageTemplates([PageTemplate(id="page", frames=[frame])])
    document.build(flowables, canvasmaker=canvas)
