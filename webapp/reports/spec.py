"""What every report declares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
templates = Environment(
    loader=FileSystemLoader(TEMPLATE_DIR), autoescape=select_autoescape(["html"])
)

ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class ReportSpec:
    name: str  # as in the CLI: `flask report NAME`
    title: str  # msgid of the title shown in the UI
    formats: tuple[str, ...]
    # render(session, unit, parameters, output_format, path, progress) -> row count
    render: Callable[..., int]
    file_stem: str

    def file_name(self, unit_code: str, output_format: str) -> str:
        return f"{self.file_stem}_{unit_code}.{output_format}"


def report_context(**values: Any) -> dict[str, Any]:
    from markupsafe import Markup

    from webapp.reports.pdf import FONT_FAMILY, font_face_css

    # Trusted CSS of our own; escaping its quotes would break xhtml2pdf's @font-face parser.
    return {"font_css": Markup(font_face_css()), "font_family": FONT_FAMILY, **values}
