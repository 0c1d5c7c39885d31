"""Short reports to PDF with xhtml2pdf and the Vietnamese TrueType fonts shipped in ./fonts.

xhtml2pdf refuses local files outside the document's folder unless a resource policy
allows them, and then silently falls back to Helvetica, which has no Vietnamese letters.
The policy here allows exactly the font folder and nothing remote (air-gapped, no SSRF).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from xhtml2pdf import pisa
from xhtml2pdf.config.resources import ResourceAccessPolicy

from webapp.reports.document import (
    ROW,
    TOTAL,
    DataTable,
    TableReport,
    format_cell,
    header_grid,
    printable_text,
    table_lines,
)

FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT_FAMILY = "DejaVu Serif"
FONT_FACES = {
    ("normal", "normal"): "DejaVuSerif.ttf",
    ("bold", "normal"): "DejaVuSerif-Bold.ttf",
    ("normal", "italic"): "DejaVuSerif-Italic.ttf",
    ("bold", "italic"): "DejaVuSerif-BoldItalic.ttf",
}
RESOURCE_POLICY = ResourceAccessPolicy(allow_remote=False, base_dir=FONT_DIR)
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
templates = Environment(
    loader=FileSystemLoader(TEMPLATE_DIR), autoescape=select_autoescape(["html"])
)


class PdfRenderError(RuntimeError):
    pass


def font_face_css() -> str:
    return "\n".join(
        f'@font-face {{ font-family: "{FONT_FAMILY}"; src: url("{FONT_DIR / file}"); '
        f"font-weight: {weight}; font-style: {style}; }}"
        for (weight, style), file in FONT_FACES.items()
    )


def render_pdf(html: str, output: BinaryIO) -> None:
    """Render HTML (which uses FONT_FAMILY) to `output`; raise if xhtml2pdf reports errors."""
    result = pisa.CreatePDF(html, dest=output, encoding="utf-8", resource_policy=RESOURCE_POLICY)
    if result.err:
        raise PdfRenderError(f"xhtml2pdf reported {result.err} error(s)")


def _html_table(table: DataTable) -> dict[str, Any]:
    columns = table.columns

    def cells(values) -> list[tuple[str, str]]:
        return [
            (format_cell(value, column.kind), column.kind)
            for value, column in zip(values, columns, strict=True)
        ]

    lines = []
    for kind, content in table_lines(table):
        lines.append((kind, cells(content) if kind in (ROW, TOTAL) else content))
    header: list[list[Any]] = [[] for _ in table.header()]
    for placed in header_grid(table.header(), len(columns)):
        header[placed.row].append(placed)
    total_width = sum(column.width for column in columns) or 1
    return {
        "caption": printable_text(table.caption) if table.caption else None,
        "header": header,
        "widths": [f"{100 * column.width / total_width:.1f}%" for column in columns],
        "column_count": len(columns),
        "lines": lines,
        "dense": table.dense,
    }


def render_table_pdf(report: TableReport, path: Path) -> None:
    heading = report.heading
    text = {
        name: printable_text(getattr(heading, name))
        for name in (
            "title",
            "subtitle",
            "issuing_committee",
            "place",
            "unit_name",
            "unit_code",
            "document_number",
            "signer_title",
        )
    }
    html = templates.get_template("table.html").render(
        # Trusted CSS of our own; escaping its quotes would break xhtml2pdf's @font-face parser.
        font_css=Markup(font_face_css()),
        font_family=FONT_FAMILY,
        orientation=heading.orientation,
        issued_on=heading.issued_on,
        tables=[_html_table(table) for table in report.tables],
        notes=[printable_text(note) for note in report.notes],
        intro=[printable_text(paragraph) for paragraph in report.intro],
        annex_title=printable_text(report.annex_title) if report.annex_title else None,
        **text,
    )
    with path.open("wb") as output:
        render_pdf(html, output)
