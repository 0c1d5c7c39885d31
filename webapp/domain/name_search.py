"""Search by name or number: the typed words are words of the stored search key, the
last one perhaps only its beginning (the search is read as it is typed).

The search key (`webapp.domain.vietnamese.search_key`) is the member's names and numbers
folded (lower case, no diacritics) and joined by spaces. "nguyen thi h" finds "Nguyễn Thị
Hường" and "Nguyễn Thị Hà"; "nguyen thi ha" finds Hà (and Hải, Hạnh: "ha" begins them) but
not Hường; "ng thi ha" finds nobody ("ng" is not a whole word); "000701" finds member
number 000701TN.

Whole words, not beginnings, for all but the last: the commonest words of Vietnamese names
("nguyen", "thi", "van") each begin dozens of others, and a query of beginnings only had to
gather every one of those words' members (40 ms at 100,000 members, against 3 ms for whole
words and ~10 ms with the last word a beginning).

On PostgreSQL the condition is a text-search query on the key's words, served by a GIN
index on the same expression (`ix_member_search_words`). Elsewhere it is one LIKE per word
against the key with spaces around it, which matches the same rows; on SQLite, for the
member table, the LIKEs only check the candidates an FTS5 index of the key finds
(`member_words`, migration 0018). FTS5 splits words at punctuation too ("27.123456" is
"27", "123456"), so it finds a superset, which the LIKEs narrow to the same rows.
"""

from __future__ import annotations

from sqlalchemy import Boolean, String, and_, bindparam, literal, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from webapp.models.member import SEARCH_WORDS_SQL


def matches_words(column, tokens: list[str]) -> ColumnElement[bool]:
    """Rows whose key `column` has every token as a word, the last token perhaps only as
    the beginning of one."""
    tokens = [token for token in tokens if token]
    if not tokens:
        return true()
    return KeyHasWords(column, tokens)


def words_tsquery(tokens: list[str]) -> str:
    """A tsquery of the tokens: the last as a prefix, first (PostgreSQL's GIN scan is then
    quicker), the others as whole words ('ha':* & 'nguyen' & 'thi'); each quoted, so that
    nothing a user types is read as tsquery syntax."""
    *whole, beginning = (token.replace("\\", "\\\\").replace("'", "''") for token in tokens)
    return " & ".join([f"'{beginning}':*", *(f"'{word}'" for word in whole)])


def words_fts_query(tokens: list[str]) -> str | None:
    """An FTS5 query finding at least the rows the words match: each token a quoted
    phrase (FTS5 splits it as it split the key), the last a prefix; a token without a
    letter or digit gives FTS5 nothing to look up and is left to the LIKEs."""
    phrases = [
        '"' + token.replace('"', '""') + '"' + ("*" if last else "")
        for last, token in ((i == len(tokens) - 1, t) for i, t in enumerate(tokens))
        if any(ch.isalnum() for ch in token)
    ]
    return " ".join(phrases) or None


def _like_escaped(token: str) -> str:
    return token.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class KeyHasWords(ColumnElement):
    type = Boolean()
    _is_implicitly_boolean = True
    inherit_cache = True
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("query", InternalTraversal.dp_clauseelement),
        ("likes", InternalTraversal.dp_clauseelement),
        ("fts", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column, tokens: list[str]):
        self.column = column
        self.query = bindparam("key_words", words_tsquery(tokens), type_=String(), unique=True)
        spaced = literal(" ", String()).concat(column).concat(" ")
        *whole, beginning = (_like_escaped(token) for token in tokens)
        self.likes = and_(
            spaced.like(f"% {beginning}%", escape="\\"),
            *(spaced.like(f"% {word} %", escape="\\") for word in whole),
        )
        fts = words_fts_query(tokens)
        self.fts = None if fts is None else bindparam("key_fts", fts, String(), unique=True)

    @property
    def _from_objects(self):
        return self.column._from_objects


@compiles(KeyHasWords)
def _words_like(element, compiler, **kw):
    return compiler.process(element.likes, **kw)


@compiles(KeyHasWords, "sqlite")
def _words_fts5(element, compiler, **kw):
    likes = compiler.process(element.likes, **kw)
    column = element.column
    if element.fts is None or getattr(column, "table", None) is None:
        return likes
    if (column.table.name, column.name) != ("member", "search_key"):
        return likes
    row = compiler.process(column.table.c.id, **kw)
    query = compiler.process(element.fts, **kw)
    return f"{row} IN (SELECT rowid FROM member_words WHERE member_words MATCH {query}) AND {likes}"


@compiles(KeyHasWords, "postgresql")
def _words_tsquery(element, compiler, **kw):
    column = compiler.process(element.column, **kw)
    query = compiler.process(element.query, **kw)
    return f"{SEARCH_WORDS_SQL.format(column=column)} @@ CAST({query} AS tsquery)"
