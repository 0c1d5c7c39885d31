"""Search by name or number: every typed word begins a word of the stored search key.

The search key (`webapp.domain.vietnamese.search_key`) is the member's names and numbers
folded (lower case, no diacritics) and joined by spaces. "nguyen thi h" finds "Nguyễn Thị
Hường" and "Nguyễn Thị Hà"; "000701" finds member number 000701TN; "uong" finds nobody
(a word's middle is not a word's beginning).

On PostgreSQL the condition is a prefix query on the key's words, served by a GIN index
on the same expression (`ix_member_search_words`): a search reads the index instead of
every member's key. Elsewhere it is one `LIKE '% word%'` per typed word against the key
with a space in front, which matches the same rows.
"""

from __future__ import annotations

from sqlalchemy import Boolean, String, and_, bindparam, literal, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from webapp.models.member import SEARCH_WORDS_SQL


def words_start_with(column, tokens: list[str]) -> ColumnElement[bool]:
    """Rows whose key `column` has, for every token, a word beginning with it."""
    tokens = [token for token in tokens if token]
    if not tokens:
        return true()
    return KeyWordsStartWith(column, tokens)


def prefix_tsquery(tokens: list[str]) -> str:
    """A tsquery of the tokens as quoted prefixes ('nguyen':* & 'thi':*): nothing a user
    types is read as tsquery syntax."""
    quoted = ("'" + token.replace("\\", "\\\\").replace("'", "''") + "':*" for token in tokens)
    return " & ".join(quoted)


def _like_escaped(token: str) -> str:
    return token.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class KeyWordsStartWith(ColumnElement):
    type = Boolean()
    _is_implicitly_boolean = True
    inherit_cache = True
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("query", InternalTraversal.dp_clauseelement),
        ("likes", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column, tokens: list[str]):
        self.column = column
        self.query = bindparam("key_words", prefix_tsquery(tokens), type_=String(), unique=True)
        spaced = literal(" ", String()).concat(column)
        self.likes = and_(
            *(spaced.like(f"% {_like_escaped(token)}%", escape="\\") for token in tokens)
        )

    @property
    def _from_objects(self):
        return self.column._from_objects


@compiles(KeyWordsStartWith)
def _words_like(element, compiler, **kw):
    return compiler.process(element.likes, **kw)


@compiles(KeyWordsStartWith, "postgresql")
def _words_tsquery(element, compiler, **kw):
    column = compiler.process(element.column, **kw)
    query = compiler.process(element.query, **kw)
    return f"{SEARCH_WORDS_SQL.format(column=column)} @@ CAST({query} AS tsquery)"
