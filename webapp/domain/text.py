"""The one rule for text typed or sent into DangVien (forms, REST API, CLI, imports, sync).

`clean_text` is applied by every way in before text reaches a record:

1. Unicode NFC: Vietnamese typed on macOS or pasted from some PDFs arrives decomposed
   (base letter + combining marks); stored composed, it compares, searches and sorts as
   one text.
2. Leading and trailing whitespace is trimmed (Python's notion of whitespace, so a stray
   line break or tab at either end, as pasted from a spreadsheet cell, is simply dropped).
3. What is left is refused, with a message naming the field and the position, if it holds:
   - a control character: C0 (U+0000–U+001F), DEL (U+007F) or C1 (U+0080–U+009F) — NUL
     cannot be stored by PostgreSQL, and the others make XLSX (openpyxl) and PDF output
     fail or show garbage. Multi-line text (notes, explanations: TEXT columns and text
     areas) keeps tab and line breaks; CRLF and lone CR become LF. Single-line text
     (names, numbers, codes) keeps none of them: a tab or a line break inside a name is
     refused, with its own message;
   - a lone surrogate (JSON can carry "\\ud800"; it cannot be encoded to UTF-8) or the
     non-characters U+FFFE/U+FFFF (invalid in XML, hence in XLSX).

Refusing rather than silently deleting: a vertical tab inside a name is usually a line
break pasted from Word, and only the person typing knows whether a space belongs there.
Passwords do not go through this rule (they are hashed, never shown).
"""

from __future__ import annotations

import re
import unicodedata

from webapp.domain.errors import N_, ValidationFailed

LINE_BREAKS = frozenset("\n\r\u2028\u2029")
MULTILINE_ALLOWED = frozenset("\t\n")

CONTROL_CHARACTER = N_(
    "“%(field)s” contains an invisible control character (%(character)s) at position "
    "%(position)s. Delete it and type the text again."
)
LINE_BREAK = N_("“%(field)s” must fit on one line: remove the line break at position %(position)s.")


def is_disallowed(ch: str, multiline: bool) -> bool:
    if multiline and ch in MULTILINE_ALLOWED:
        return False
    category = unicodedata.category(ch)
    return category in ("Cc", "Cs") or ch in LINE_BREAKS or ch in "\ufffe\uffff"


# Every character `is_disallowed` refuses (Cc is U+0000–U+001F and U+007F–U+009F, Cs the
# surrogates): one search finds whether a text has any, instead of a look at each character.
_DISALLOWED = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")
_DISALLOWED_MULTILINE = re.compile(  # tab and line feed allowed
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]"
)


def _normalised(text: str, multiline: bool) -> str:
    text = unicodedata.normalize("NFC", text).strip()
    if multiline:
        for separator in ("\r\n", "\r", "\u2028", "\u2029"):
            text = text.replace(separator, "\n")
    return text


def clean_text(
    value: str | None, field: str, *, label: str | None = None, multiline: bool = False
) -> str | None:
    """The text as it is stored (NFC, trimmed; "" stays "", None stays None), or
    ValidationFailed on `field` whose message names `label` (default: the field name)."""
    if value is None:
        return None
    text = _normalised(value, multiline)
    found = (_DISALLOWED_MULTILINE if multiline else _DISALLOWED).search(text)
    if found is None:
        return text
    for position, ch in enumerate(text[found.start() :], start=found.start() + 1):
        if not is_disallowed(ch, multiline):
            continue
        params = {"field": label or field, "position": position}
        if ch in LINE_BREAKS:
            raise ValidationFailed({field: [(LINE_BREAK, params)]})
        code = f"U+{ord(ch):04X}"
        raise ValidationFailed({field: [(CONTROL_CHARACTER, {**params, "character": code})]})
    return text


def without_disallowed(value: str, *, multiline: bool = False) -> str:
    """The text with what `clean_text` refuses taken out: what a refused form shows back
    (and what its other checks see), so nothing downstream handles the raw characters."""
    text = _normalised(value, multiline)
    return "".join(ch for ch in text if not is_disallowed(ch, multiline))
