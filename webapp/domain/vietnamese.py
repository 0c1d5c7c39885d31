"""Vietnamese text keys: diacritic-insensitive search and dictionary-order sorting.

Both keys are computed in Python and stored, so SQLite and PostgreSQL search and sort
identically (the sort key is compared byte-wise: `COLLATE "C"` on PostgreSQL).
"""

from __future__ import annotations

import unicodedata

# Vietnamese alphabet order, with the Latin letters Vietnamese lacks (f j w z) in their
# Latin places so that foreign names still sort sensibly.
ALPHABET = "aăâbcdđeêfghijklmnoôơpqrstuưvwxyz"
# Tone order used by Vietnamese dictionaries: level, grave, hook, tilde, acute, dot below.
TONE_MARKS = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}
# Marks that make a separate letter (ă â ê ô ơ ư) are kept; tone marks are split off.
LETTER_MARKS = {"\u0306", "\u0302", "\u031b"}
# Each letter becomes one ASCII character in increasing order ('A' = 65 onwards), above
# the digits used for tones and the space between words.
_LETTER_CODE = {letter: chr(65 + index) for index, letter in enumerate(ALPHABET)}


def fold(text: str | None) -> str:
    """Lower-case, strip every diacritic, đ → d; collapse whitespace."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.split())


def _syllable_key(word: str) -> str:
    letters: list[str] = []
    tone = 0
    for ch in unicodedata.normalize("NFD", word.lower()):
        if ch in TONE_MARKS:
            tone = TONE_MARKS[ch]
        elif ch in LETTER_MARKS and letters:
            letters[-1] = unicodedata.normalize("NFC", letters[-1] + ch)
        elif not unicodedata.combining(ch):
            letters.append(ch)
    encoded = "".join(
        _LETTER_CODE.get(letter, letter if letter.isdigit() else "") for letter in letters
    )
    return f"{encoded}{tone}"


def name_sort_key(full_name: str | None) -> str:
    """Sort key for a Vietnamese full name: given name, then middle names, then family name.

    "Nguyễn Thị Hường" sorts as "Hường / Thị / Nguyễn"; letters follow the Vietnamese
    alphabet (a ă â b c d đ e ê …) and tones break ties within a syllable.
    """
    words = (full_name or "").split()
    if not words:
        return ""
    family, *middle_and_given = words
    if not middle_and_given:
        ordered = [family]
    else:
        *middle, given = middle_and_given
        ordered = [given, *middle, family]
    return " ".join(_syllable_key(word) for word in ordered)


def search_key(*parts: str | None) -> str:
    """Folded text that a search for any of the parts (with or without diacritics) matches."""
    folded = (fold(part) for part in parts)
    return " ".join(dict.fromkeys(part for part in folded if part))


def search_tokens(query: str | None) -> list[str]:
    """Tokens of a user's query, folded the same way as the stored search key."""
    return fold(query).split()
