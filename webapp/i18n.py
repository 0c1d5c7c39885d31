"""Translation catalogues: compiled from the .po files when they are newer than the .mo."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask_babel import lazy_gettext

TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"
# FAB's own strings first, the application's after: later catalogues win on a clash.
CATALOGUE_DIRS = [TRANSLATIONS_DIR / "flask_appbuilder", TRANSLATIONS_DIR]

# The language menu offers the other language by its name in the language in use (a
# Vietnamese screen says "Tiếng Anh"); Vietnamese is always named in Vietnamese.
LANGUAGES = {
    "vi": {"flag": "vn", "name": "Tiếng Việt"},
    "en": {"flag": "gb", "name": lazy_gettext("English")},
}


def compile_catalogues() -> None:
    """Compile every messages.po whose messages.mo is missing or older."""
    for folder in CATALOGUE_DIRS:
        for po_path in folder.glob("*/LC_MESSAGES/messages.po"):
            mo_path = po_path.with_suffix(".mo")
            if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
                continue
            with po_path.open("rb") as po_file:
                catalogue = read_po(po_file)
            # A file of this process's own: processes starting together (gunicorn's
            # workers, a worker beside the server) each compile, and the last rename wins.
            descriptor, tmp_name = tempfile.mkstemp(dir=mo_path.parent, suffix=".mo.tmp")
            with os.fdopen(descriptor, "wb") as mo_file:
                write_mo(mo_file, catalogue)
            os.replace(tmp_name, mo_path)


def babel_translation_directories() -> str:
    return ";".join(str(folder) for folder in CATALOGUE_DIRS)
