"""Every Vietnamese entry is translated and keeps its placeholders."""

import re

import pytest
from babel.messages.pofile import read_po

from conftest import ROOT

PLACEHOLDER = re.compile(r"%\([^)]+\)s|%s|%d")
CATALOGUES = [
    ROOT / "translations" / "vi" / "LC_MESSAGES" / "messages.po",
    ROOT / "translations" / "flask_appbuilder" / "vi" / "LC_MESSAGES" / "messages.po",
]


@pytest.mark.parametrize("path", CATALOGUES, ids=["app", "flask_appbuilder"])
def test_vietnamese_catalogue_is_complete(path):
    with path.open("rb") as handle:
        catalogue = read_po(handle)
    problems = []
    for message in catalogue:
        if not message.id:
            continue
        msgid = message.id if isinstance(message.id, str) else message.id[0]
        msgstr = message.string if isinstance(message.string, str) else message.string[0]
        if not msgstr or message.fuzzy:
            problems.append(f"untranslated: {msgid!r}")
        elif sorted(PLACEHOLDER.findall(msgid)) != sorted(PLACEHOLDER.findall(msgstr)):
            problems.append(f"placeholders differ: {msgid!r}")
    assert not problems, problems
    assert len(catalogue) > 100
