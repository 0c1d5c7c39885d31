"""Custom list filters."""

from __future__ import annotations

from datetime import date

from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import SQLAFilterConverter, get_field_setup_query
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from webapp.domain.dates import date_or_none
from webapp.domain.party_age import add_years
from webapp.domain.text import without_disallowed
from webapp.domain.vietnamese import search_tokens


class FilterSearchKey(BaseFilter):
    """Every word of the query, folded like the stored key ("nguyen thi huong" finds
    "Nguyễn Thị Hường"); matches names, member, card and citizen ID numbers, and a word
    that is a date (dd/mm/yyyy or ISO, the domain parser) matches the date of birth."""

    name = _l("Contains")
    arg_name = "sk"

    def apply(self, query, value):
        query, field = get_field_setup_query(query, self.model, self.column_name)
        words = []
        # A search stores nothing: characters the text rule refuses are left out, not
        # reported (and never sent to PostgreSQL, which refuses NUL).
        for word in without_disallowed(str(value or "")).split():
            day = date_or_none(word)
            if day is not None and hasattr(self.model, "birth_date"):
                query = query.filter(self.model.birth_date == day)  # "19/05/1985": date of birth
            else:
                words.append(word)
        for token in search_tokens(" ".join(words)):
            escaped = token.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.filter(field.like(f"%{escaped}%", escape="\\"))
        return query


def _years(value) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and int(text) <= 120 else None


class FilterPartyAgeAtLeast(BaseFilter):
    """Party age of at least N whole years today (from the stored, interruption-adjusted
    start of Party age)."""

    name = _l("Party age at least (years)")
    arg_name = "pa_ge"

    def apply(self, query, value):
        years = _years(value)
        if years is None:
            return query
        query, field = get_field_setup_query(query, self.model, self.column_name)
        return query.filter(field <= add_years(date.today(), -years))


class FilterPartyAgeBelow(BaseFilter):
    name = _l("Party age below (years)")
    arg_name = "pa_lt"

    def apply(self, query, value):
        years = _years(value)
        if years is None:
            return query
        query, field = get_field_setup_query(query, self.model, self.column_name)
        return query.filter(field > add_years(date.today(), -years))


class SearchKeyFilterConverter(SQLAFilterConverter):
    def convert(self, col_name):
        if col_name == "search_key":
            return [FilterSearchKey(col_name, self.datamodel)]
        if col_name == "party_age_from":
            return [
                FilterPartyAgeAtLeast(col_name, self.datamodel),
                FilterPartyAgeBelow(col_name, self.datamodel),
            ]
        return super().convert(col_name)


class PageLoadingInterface(SQLAInterface):
    """SQLAInterface that loads a list page in one query: each row's related record (a
    member's unit) joined in, whole rows. FAB selects only the listed columns, so a
    property shown in the list (a member's display name) or a related record read its
    columns one row at a time: two queries per row, 50 per page."""

    def _apply_normal_col_select_option(self, query, column: str):
        if self.is_relation_many_to_one(column):
            return query.options(joinedload(getattr(self.obj, column)))
        return query


class SearchableInterface(PageLoadingInterface):
    """SQLAInterface whose `search_key` column is searched word by word, diacritics folded."""

    filter_converter_class = SearchKeyFilterConverter
