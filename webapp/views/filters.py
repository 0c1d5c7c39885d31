"""Custom list filters."""

from __future__ import annotations

from datetime import date

from flask import has_request_context, request
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import SQLAFilterConverter, get_field_setup_query
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l
from sqlalchemy import asc, desc, func
from sqlalchemy.orm import Load, joinedload

from webapp.domain.dates import date_or_none
from webapp.domain.name_search import matches_words
from webapp.domain.party_age import add_years
from webapp.domain.text import without_disallowed
from webapp.domain.vietnamese import search_tokens


class FilterSearchKey(BaseFilter):
    """The words of the query, folded like the stored key, are words of the member's
    names or numbers, the last perhaps only a word's beginning ("nguyen thi h" finds
    "Nguyễn Thị Hường", "000701" member number 000701TN; webapp.domain.name_search), and
    a word that is a date (dd/mm/yyyy or ISO, the domain parser) matches the date of
    birth."""

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
        tokens = search_tokens(" ".join(words))
        return query.filter(matches_words(field, tokens)) if tokens else query


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
    """SQLAInterface that loads a page of rows with what the page shows, in one query.
    FAB's screens query whole rows and load each row's related record (a member's unit)
    in a query of its own, 25 a page; its API selects only the listed columns, so a
    property among them (a member's display name) read its columns one row at a time."""

    # The many-to-one relations a screen's list shows (set by the view, see
    # DangVienModelView): joined into its page query.
    listed_relations: tuple[str, ...] = ()

    def apply_all(
        self,
        query,
        filters=None,
        order_column="",
        order_direction="",
        page=None,
        page_size=None,
        select_columns=None,
        outer_default_load=False,
    ):
        if not select_columns and self.listed_relations:
            query = query.options(*self._listed_loads())
        return super().apply_all(
            query,
            filters,
            order_column,
            order_direction,
            page,
            page_size,
            select_columns,
            outer_default_load,
        )

    def query(
        self,
        filters=None,
        order_column="",
        order_direction="",
        page=None,
        page_size=None,
        select_columns=None,
        outer_default_load=False,
    ):
        """FAB's query (the count of all rows, a page of them) without the count where it
        is known: counted beforehand with other lists (KNOWN_COUNTS, the member page's
        tabs), or read off the first page when it is not full (a member's rows, a search
        that finds a few)."""
        if select_columns or "." in (order_column or "") or self.is_relation(order_column):
            return super().query(
                filters,
                order_column,
                order_direction,
                page,
                page_size,
                select_columns,
                outer_default_load,
            )
        known = known_counts().get(self.key)
        if known == 0:
            return 0, []
        first = (page or 0) * (page_size or 0)
        if first >= DEEP_FROM and page_size:
            rows = self._deep_page(filters, order_column, order_direction, page, page_size)
        else:
            rows = self.apply_all(
                self.session.query(self.obj),
                filters,
                order_column,
                order_direction,
                page,
                page_size,
            ).all()
        if known is not None:
            count = known
        elif rows and (not page_size or len(rows) < page_size) or (not rows and not first):
            count = first + len(rows)
        else:
            count = self.query_count(self.session.query(self.obj), filters)
        return count, rows

    def _deep_page(self, filters, order_column, order_direction, page, page_size) -> list:
        """A page far down the list: its ids first, then its rows. The ids come off the
        order's index alone (an index-only scan of `(column, id)`), where the rows' query
        read every skipped row from the table (page 2,000 of 100,000 members: 50,000
        rows read to show 25)."""
        ids = [
            row[0]
            for row in SQLAInterface.apply_all(
                self,
                self.session.query(self.obj.id),
                filters,
                order_column,
                order_direction,
                page,
                page_size,
            )
        ]
        if not ids:
            return []
        query = self.session.query(self.obj).filter(self.obj.id.in_(ids))
        query = query.options(*self._listed_loads())
        found = {row.id: row for row in query}
        return [found[i] for i in ids if i in found]

    def _listed_loads(self) -> list:
        """The listed relations, joined into the page's query."""
        return [joinedload(getattr(self.obj, name)) for name in self.listed_relations]

    @property
    def key(self) -> int:
        """This interface's key in the request's KNOWN_COUNTS and RECORD_OPTIONS."""
        return id(self)

    def get(self, id, filters=None, select_columns=None, outer_default_load=False):
        """FAB's get, with the loader options a screen asked for the record it shows
        (record_options), in the same query."""
        options = record_options().get(self.key) if not select_columns else None
        if not options:
            return super().get(id, filters, select_columns, outer_default_load)
        found = filters.copy() if filters else self.get_filters()
        found.add_filter(self.get_pk_name(), self.FilterEqual, id)  # FAB's name: the pk
        return self.apply_all(self.session.query(self.obj).options(*options), found).one_or_none()

    def _apply_normal_col_select_option(self, query, column: str):
        if self.is_relation_many_to_one(column):
            return query.options(joinedload(getattr(self.obj, column)))
        if self.is_property_or_function(column):
            # Whatever the property reads: every column of the row.
            return query.options(Load(self.obj).load_only(*self.obj.__table__.columns))
        return super()._apply_normal_col_select_option(query, column)


KNOWN_COUNTS = "dangvien.known_counts"
# From this many rows skipped, a page is read by its ids first (_deep_page).
DEEP_FROM = 1000
RECORD_OPTIONS = "dangvien.record_options"


def record_options() -> dict[int, tuple]:
    """Loader options for the record a screen shows in this request, by data interface."""
    if not has_request_context():
        return {}
    return request.environ.setdefault(RECORD_OPTIONS, {})


def known_counts() -> dict[int, int]:
    """The row counts of lists counted beforehand in this request, by data interface."""
    if not has_request_context():
        return {}
    return request.environ.setdefault(KNOWN_COUNTS, {})


# A search that finds at most this many rows has them sorted, not found along the sort
# index (see SearchableInterface.query): sorting 20,000 found rows costs ~30 ms; a full
# name found ~850 times at 100,000 members is found ~8,500 times at a million.
SORT_FOUND_UP_TO = 20000
SORTING_FOUND = "dangvien.sorting_found"


class SearchableInterface(PageLoadingInterface):
    """SQLAInterface whose `search_key` column is searched word by word, diacritics folded."""

    filter_converter_class = SearchKeyFilterConverter

    def query(
        self,
        filters=None,
        order_column="",
        order_direction="",
        page=None,
        page_size=None,
        select_columns=None,
        outer_default_load=False,
    ):
        """A name search counts first; when it finds few rows, its page is ordered by an
        expression of the order column that no index serves. The matches of a name lie
        together in name order (the last word typed is mostly the given name, which the
        sort key begins with), so PostgreSQL, walking the name index until 25 match,
        read every name before them (70 ms for "nguyen thi ha" at 100,000 members);
        ordered by the expression, it sorts the few rows the words index found (3 ms)."""
        if not has_request_context() or select_columns or not _searches(filters):
            return super().query(
                filters,
                order_column,
                order_direction,
                page,
                page_size,
                select_columns,
                outer_default_load,
            )
        count = known_counts().get(self.key)
        if count is None:
            count = self.query_count(self.session.query(self.obj), filters)
            known_counts()[self.key] = count
        request.environ[SORTING_FOUND] = count <= SORT_FOUND_UP_TO
        try:
            return super().query(
                filters, order_column, order_direction, page, page_size, None, outer_default_load
            )
        finally:
            request.environ.pop(SORTING_FOUND, None)

    def apply_order_by(self, query, order_column, order_direction, *args, **kwargs):
        sorting = has_request_context() and request.environ.get(SORTING_FOUND)
        if not sorting or order_column not in self.obj.__table__.columns:
            return super().apply_order_by(query, order_column, order_direction, *args, **kwargs)
        column = getattr(self.obj, order_column)
        direction = asc if order_direction == "asc" else desc
        # coalesce(x, x) orders as x does (type, collation, NULLs) but matches no index.
        return query.order_by(direction(func.coalesce(column, column)), direction(self.get_pk()))


def _searches(filters) -> bool:
    """Whether the filters hold a name search with something to search for."""
    if filters is None:
        return False
    return any(
        isinstance(flt, FilterSearchKey) and str(value or "").strip()
        for flt, value in zip(filters.filters, filters.values, strict=True)
    )
