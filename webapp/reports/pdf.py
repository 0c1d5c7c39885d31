"""PDF rendering with xhtml2pdf and the Vietnamese TrueType fonts shipped in ./fonts.

xhtml2pdf refuses local files outside the document's folder unless a resource policy
allows them, and then silently falls back to Helvetica, which has no Vietnamese letters.
The policy here allows exactly the font folder and nothing remote (air-gapped, no SSRF).
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from xhtml2pdf import pisa
from xhtml2pdf.config.resources import ResourceAccessPolicy

FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT_FAMILY = "DejaVu Serif"
FONT_FACES = {
    ("normal", "normal"): "DejaVuSerif.ttf",
    ("bold", "normal"): "DejaVuSerif-Bold.ttf",
    ("normal", "italic"): "DejaVuSerif-Italic.ttf",
    ("bold", "italic"): "DejaVuSerif-BoldItalic.ttf",
}
RESOURCE_POLICY = ResourceAccessPolicy(allow_remote=False, base_dir=FONT_DIR)


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
