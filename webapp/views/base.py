"""Base classes and form fields shared by the screens and the REST APIs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from flask import flash, g, has_request_context, redirect, request, url_for
from flask_appbuilder import ModelRestApi, ModelView
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.security.sqla.models import User
from flask_appbuilder.widgets import ListWidget
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import Index, UniqueConstraint, select
from sqlalchemy import inspect as sqla_inspect
from sqlalchemy.exc import DataError, IntegrityError
from wtforms import DateField, HiddenField, SelectField
from wtforms.utils import unset_value
from wtforms.validators import InputRequired, ValidationError
from wtforms.widgets import TextInput

from webapp.domain.dates import parse_date
from webapp.domain.errors import N_, DomainError, FieldErrors, ValidationFailed
from webapp.domain.scope import is_scoped
from webapp.domain.text import clean_text, without_disallowed
from webapp.extensions import db
from webapp.forms import TextRuleViewMixin
from webapp.labels import format_date, format_yes_no, show_related
from webapp.models.member import Member
from webapp.models.unit import Unit
from webapp.security import SCOPE_FILTER, current_requester, scoped_get
from webapp.views.adapters import RecordCommands, as_form_refusal, edited_values
from webapp.views.errors import HTTP_MESSAGES, DomainRule, translate, translated_field_errors
from webapp.views.filters import PageLoadingInterface, SearchableInterface, known_counts


class DateTextWidget(TextInput):
    """A Bootstrap text box that shows the expected format (FAB's text widget would
    replace the placeholder with the field's label)."""

    def __call__(self, field, **kwargs):
        kwargs.setdefault("class", "form-control")
        kwargs.setdefault("placeholder", "dd/mm/yyyy")
        kwargs.setdefault("autocomplete", "off")
        return super().__call__(field, **kwargs)


class DayMonthYearField(DateField):
    """A date typed as dd/mm/yyyy (ISO accepted too: the domain parser); empty means no
    date, not an error."""

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("widget", DateTextWidget())
        # The format only shows a stored date; typed text goes through parse_date.
        super().__init__(label, validators, format="%d/%m/%Y", **kwargs)

    def process_formdata(self, valuelist):
        self.data = None
        try:
            self.data = parse_date(" ".join(valuelist or []), self.name)
        except ValidationFailed as error:
            raise ValueError(translate(error.message, error.params)) from None


def date_field(label, rule: DomainRule, required_message=None) -> DayMonthYearField:
    validators = [InputRequired(message=required_message)] if required_message is not None else []
    return DayMonthYearField(label, validators=[*validators, rule])


def choice_field(
    label, labels: Mapping[str, Any], rule: DomainRule, required_message: str
) -> SelectField:
    return SelectField(
        label,
        choices=[("", "—")] + list(labels.items()),
        validators=[InputRequired(message=required_message), rule],
        widget=Select2Widget(),
    )


CATALOGUES_KEY = "dangvien.catalogues"


def request_catalogues() -> dict[str, list[str]]:
    """The active catalogues, read once per request (the member form has ten pick-lists)."""
    from webapp.domain.catalogues import active_catalogues

    if not has_request_context():
        return active_catalogues(db.session)
    if CATALOGUES_KEY not in request.environ:
        request.environ[CATALOGUES_KEY] = active_catalogues(db.session)
    return request.environ[CATALOGUES_KEY]


class CatalogueSelectField(SelectField):
    """A pick-list of a national catalogue, read when the form is built; an old record's
    value outside the catalogue stays selectable (the domain rule refuses new ones)."""

    def __init__(self, label=None, validators=None, kind: str = "", **kwargs):
        kwargs.setdefault("widget", Select2Widget())
        super().__init__(label, validators, choices=[], validate_choice=False, **kwargs)
        self.kind = kind

    def process(self, formdata, data=unset_value, extra_filters=None):
        super().process(formdata, data, extra_filters)
        names = request_catalogues().get(self.kind, [])
        extra = [self.data] if self.data and self.data not in names else []
        self.choices = [("", "—")] + [(name, name) for name in [*names, *extra]]

    def process_formdata(self, valuelist):
        self.data = (valuelist[0] or None) if valuelist else None


def show_plain(value):
    return "" if value is None else value


show_yes_no = format_yes_no


def plain_value_formatters(model) -> dict[str, Callable]:
    from sqlalchemy import Boolean

    formatters: dict[str, Callable] = {
        column.key: show_yes_no if isinstance(column.type, Boolean) else show_plain
        for column in model.__table__.columns
    }
    # Related records too: a province has no parent (blank, not "None"), a list of them
    # reads "A, B" (not "[A, B]" or "[]").
    for relationship in sqla_inspect(model).relationships:
        formatters.setdefault(relationship.key, show_related)
    return formatters


def edited_pk() -> int | None:
    """Primary key of the record being edited on this request (None when adding)."""
    pk = (request.view_args or {}).get("pk")
    return int(pk) if pk is not None else None


def date_formatters(*columns: str) -> dict[str, Callable]:
    return {column: format_date for column in columns}


STALE_MESSAGE = _l(
    "Someone else saved this record after you opened it. Your changes were not saved: "
    "open the record again to see the current values."
)


class VersionField(HiddenField):
    """The version of the record when the form was opened (optimistic locking). It is
    only compared, never written: SQLAlchemy's version counter does the writing."""

    def populate_obj(self, obj, name):
        pass


def refuse_stale_version(form, field) -> None:
    pk = edited_pk()
    model = getattr(form, "_model_class", None)
    if pk is None or model is None or not field.data:
        return
    current = db.session.get(model, pk)
    if current is not None and str(current.version_id) != str(field.data):
        flash(str(STALE_MESSAGE), "danger")
        raise ValidationError(str(STALE_MESSAGE))


_UNKNOWN = object()


def page_fact(name: str, default=_UNKNOWN):
    """The answer to a page fact asked with the tab counts (DangVienModelView.page_facts),
    or `default` (None) when this request did not ask it."""
    facts = getattr(g, "page_facts", None) if has_request_context() else None
    if facts is None or name not in facts:
        return None if default is _UNKNOWN else default
    return facts[name]


class WrittenByCommands:
    """A FAB data interface whose records are written by domain commands: the view's
    pre_add / pre_update / pre_delete ran the command (in its own transaction), so FAB's
    own write that follows has nothing left to do."""

    def add(self, item, commit: bool = True) -> None:
        pass

    def edit(self, item, commit: bool = True) -> None:
        pass

    def delete(self, item, commit: bool = True) -> None:
        pass

    def delete_all(self, items) -> None:
        raise NotImplementedError("records written by commands are deleted one by one")


class CommandInterface(WrittenByCommands, PageLoadingInterface):
    pass


class SearchableCommandInterface(WrittenByCommands, SearchableInterface):
    pass


class DangVienListWidget(ListWidget):
    """FAB's list, offering the delete button per row (DangVienModelView.deletable_rows)."""

    template = "common/list_widget.html"


class DangVienModelView(TextRuleViewMixin, ModelView):
    """Explicit list/show/edit screens; edits of versioned records carry the version they
    started from. With `record_commands` (and a CommandInterface), add, edit and delete are
    the domain's commands and FAB keeps the forms; otherwise `check_item` re-checks the
    record before FAB saves it. Every text field goes through the text rule (webapp/forms.py)."""

    page_size = 25
    record_commands: RecordCommands | None = None
    list_widget = DangVienListWidget

    def _init_properties(self):
        if is_scoped(self.datamodel.obj):
            self.base_filters = [*(self.base_filters or []), SCOPE_FILTER]
        super()._init_properties()
        if isinstance(self.datamodel, PageLoadingInterface):
            # Each row's related records come with the page, not one query per row.
            self.datamodel.listed_relations = tuple(
                name for name in self.list_columns if self.datamodel.is_relation_many_to_one(name)
            )
        # Empty values show as blank and yes/no in words, not Python's None and False.
        self.formatters_columns = {
            **plain_value_formatters(self.datamodel.obj),
            **(self.formatters_columns or {}),
        }
        # After FAB has settled the edit columns (from fieldsets too), before it builds forms.
        if "version_id" in self.datamodel.obj.__table__.columns:
            self.edit_columns = [*self.edit_columns, "version_id"]
            self.edit_form_extra_fields = {
                **(self.edit_form_extra_fields or {}),
                "version_id": VersionField(validators=[refuse_stale_version]),
            }

    # {related field: (column, "asc" | "desc")}: the order of that field's pick-list on the
    # add and edit forms (FAB lists the related rows in no order).
    order_rel_fields: dict[str, tuple[str, str]] = {}

    def _get_edit_widget(self, form, exclude_cols=None, widgets=None):
        # The version travels in the form's hidden fields; it gets no row of its own
        # (FAB would show it as an empty row labelled "Version Id").
        exclude_cols = [*(exclude_cols or []), "version_id"]
        return super()._get_edit_widget(form, exclude_cols=exclude_cols, widgets=widgets)

    def _init_forms(self):
        super()._init_forms()
        if "version_id" in self.datamodel.obj.__table__.columns:
            self.edit_form._model_class = self.datamodel.obj
        for form, rel_filters in (
            (self.add_form, self.add_form_query_rel_fields),
            (self.edit_form, self.edit_form_query_rel_fields),
        ):
            for name, order in self.order_rel_fields.items():
                field = getattr(form, name, None)
                if field is not None and "query_func" in getattr(field, "kwargs", {}):
                    field.kwargs["query_func"] = self._ordered_related(name, rel_filters, order)

    def _ordered_related(self, name: str, rel_filters, order: tuple[str, str]) -> Callable:
        """FAB's pick-list query for a related field (its filters), in `order`."""
        related = self.datamodel.get_related_interface(name)

        def query():
            filters = related.get_filters()
            if rel_filters and name in rel_filters:
                filters = filters.add_filter_list(rel_filters[name])
            return related.query(filters, *order)[1]

        return query

    def _get_related_views_widgets(
        self, item, orders=None, pages=None, page_sizes=None, widgets=None, **args
    ):
        """The record page's tabs (FAB's related views), their rows counted in one query
        beforehand: an empty tab costs no query, a tab of a few rows one."""
        # Held for the rest of the request: the page's panels and the tabs' rows find the
        # record in the session (the session keeps only weak references; FAB drops its own).
        g.shown_record = item
        counted = self._related_counts(item)
        known = known_counts()
        known.update(counted)
        try:
            return super()._get_related_views_widgets(
                item, orders=orders, pages=pages, page_sizes=page_sizes, widgets=widgets, **args
            )
        finally:
            for key in counted:
                known.pop(key, None)

    def _related_counts(self, item) -> dict[int, int]:
        """{id(data interface): rows} of the related views, as their lists will count them
        (the link to this record and each view's base filters, the scope among them)."""
        from sqlalchemy import func

        views, counts = [], []
        for view in self._related_views:
            model = view.datamodel
            if not isinstance(model, PageLoadingInterface) or not view.counted_ahead:
                continue
            fk = model.get_related_fk(self.datamodel.obj)
            if not fk or not model.is_relation_many_to_one(fk):
                continue
            filters = model.get_filters()
            filters.add_filter_related_view(
                fk, self.datamodel.FilterRelationOneToManyEqual, self.datamodel.get_pk_value(item)
            )
            joined = filters.get_joined_filters(view._base_filters)
            rows = model._apply_inner_all(
                model.session.query(model.obj), joined, aliases_mapping={}
            )
            views.append(model.key)
            counts.append(
                select(func.count()).select_from(rows.statement.subquery()).scalar_subquery()
            )
        facts = self.page_facts(item)
        if not counts and not facts:
            return {}
        found = db.session.execute(
            select(*counts, *(fact.label(name) for name, fact in facts.items()))
        ).one()
        g.page_facts = dict(zip(facts, found[len(counts) :], strict=True))
        return dict(zip(views, found[: len(counts)], strict=True))

    # Whether the view's list, as a tab of another record's page, is counted with the
    # other tabs (its list filters only by its base filters and the record).
    counted_ahead = True

    def page_facts(self, item) -> dict:
        """{name: scalar subquery}: small questions the record's page asks, answered in
        the query that counts its tabs (flask.g.page_facts, read by page_fact)."""
        return {}

    def _get_list_widget(self, filters, **kwargs):
        # The list's search panel (and the member page's tabs): a search stores nothing, so
        # what the text rule refuses is left out rather than sent to PostgreSQL (NUL: 500).
        filters.values = [
            [without_disallowed(v) if isinstance(v, str) else v for v in values]
            if isinstance(values, list)
            else values
            for values in filters.values
        ]
        widgets = super()._get_list_widget(filters, **kwargs)
        arguments = widgets["list"].template_args
        arguments["deletable"] = self.deletable_rows(arguments.get("pks") or [])
        return widgets

    # After adding, open the new record's page (a member, a unit) instead of the list.
    show_after_add = False

    def post_add(self, item) -> None:
        if self.show_after_add:
            g.added_pk = item.id

    def post_add_redirect(self):
        added = g.pop("added_pk", None)
        if self.show_after_add and added is not None:
            return redirect(url_for(f"{self.__class__.__name__}.show", pk=added))
        return super().post_add_redirect()

    def deletable_rows(self, pks: list) -> set | None:
        """The rows of a list page whose delete button is offered: None for all (FAB's
        way); a view whose records the rules keep asks the domain."""
        return None

    def check_item(self, item, item_id: int | None) -> FieldErrors:  # pragma: no cover - abstract
        return FieldErrors()

    def _refuse_invalid(self, item, item_id: int | None) -> None:
        errors = self.check_item(item, item_id)
        if errors:
            # The form has already written the values onto the item: drop them, or the
            # next commit in this request would save what was refused.
            db.session.rollback()
            # FAB shows this text as a flash message and saves nothing.
            messages = translated_field_errors(errors.as_dict())
            raise ValueError(" ".join(m for msgs in messages.values() for m in msgs))

    def pre_add(self, item) -> None:
        if self.record_commands is None:
            return self._refuse_invalid(item, None)
        # FAB flashes the refusal and saves nothing.
        as_form_refusal(lambda: self.record_commands.add(db.session, current_requester(), item))

    def pre_update(self, item) -> None:
        if self.record_commands is None:
            return self._refuse_invalid(item, item.id)
        pk, changes = edited_values(db.session, item, self.edit_columns)
        as_form_refusal(
            lambda: self.record_commands.edit(db.session, current_requester(), pk, changes)
        )

    def pre_delete(self, item) -> None:
        if self.record_commands is not None:
            pk = item.id
            as_form_refusal(
                lambda: self.record_commands.delete(db.session, current_requester(), pk)
            )


# FAB's list filters that take a list of values, and those that compare text.
LIST_OPERATORS = frozenset({"in", "not_in"})
TEXT_OPERATORS = frozenset({"sw", "nsw", "ew", "new", "ct", "nct", "eq", "neq", "in", "not_in"})


def _as_int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


# People are never offered as a list of choices (a province has 100k members; users are
# nobody's business): an API client finds a member through /api/v1/members/, in its scope.
UNLISTED_CHOICES = (Member, User)
MISSING_RELATED = {
    Member: N_("The member does not exist."),
    Unit: N_("The unit does not exist."),
}


def unique_keys(table) -> list[list]:
    """The column lists a table keeps unique (constraints and unconditional unique indexes)."""
    keys = [list(c.columns) for c in table.constraints if isinstance(c, UniqueConstraint)]
    for index in table.indexes:
        conditional = any(
            (index.dialect_options[dialect].get("where") is not None)
            for dialect in ("postgresql", "sqlite")
        )
        if isinstance(index, Index) and index.unique and not conditional:
            keys.append(list(index.columns))
    return [key for key in keys if key]


class DangVienModelRestApi(ModelRestApi):
    """REST API with the same checks as the forms: 422 with translated field messages;
    rows outside the caller's scope do not exist (404), nor do related rows (422), nor are
    they offered as choices (_info)."""

    allow_browser_login = True
    page_size = 25
    max_page_size = 100
    # As on the screens: add, edit and delete through the domain's commands (a refusal is
    # answered by answering_domain_errors).
    record_commands: RecordCommands | None = None

    def _init_properties(self):
        if is_scoped(self.datamodel.obj):
            self.base_filters = [*(self.base_filters or []), SCOPE_FILTER]
        super()._init_properties()
        if isinstance(self.datamodel, PageLoadingInterface):
            # Each row's related records come with the page, not one query per row.
            self.datamodel.listed_relations = tuple(
                name for name in self.list_columns if self.datamodel.is_relation_many_to_one(name)
            )

    def check_item(self, item, item_id: int | None) -> FieldErrors:  # pragma: no cover - abstract
        return FieldErrors()

    def pre_add(self, item) -> None:
        self.duplicates(item, None).raise_if_any()
        if self.record_commands is None:
            return self.check_item(item, None).raise_if_any()
        self.record_commands.add(db.session, current_requester(), item)

    def pre_update(self, item) -> None:
        self.duplicates(item, item.id).raise_if_any()
        if self.record_commands is None:
            return self.check_item(item, item.id).raise_if_any()
        pk, changes = edited_values(db.session, item, self.edit_columns)
        self.record_commands.edit(db.session, current_requester(), pk, changes)

    def pre_delete(self, item) -> None:
        if self.record_commands is not None:
            self.record_commands.delete(db.session, current_requester(), item.id)

    def delete_headless(self, pk):
        return self.answering_domain_errors(super().delete_headless, pk)

    def duplicates(self, item, item_id: int | None) -> FieldErrors:
        """The table's unique keys, checked before the database refuses the row: the field
        and the value already used (the domain checks have already named theirs)."""
        errors = FieldErrors()
        model = self.datamodel.obj
        mapper = sqla_inspect(model)
        for key in unique_keys(model.__table__):
            names = [mapper.get_property_by_column(column).key for column in key]
            values = [getattr(item, name, None) for name in names]
            if any(value is None for value in values):
                continue  # NULLs never collide
            query = select(model.id).where(*(c == v for c, v in zip(key, values, strict=True)))
            if item_id is not None:
                query = query.where(model.id != item_id)
            # No autoflush: the item itself must not be written by the question.
            with db.session.no_autoflush:
                taken = db.session.scalar(query.limit(1)) is not None
            if taken and names[-1] not in errors.as_dict():
                errors.add(names[-1], N_("“%(value)s” is already used."), value=values[-1])
        return errors

    def _get_list_related_field(self, field, filter_rel_field, page=None, page_size=None):
        """The choices _info offers for a related field: none for people, only rows inside
        the caller's scope for scoped models, a page at a time (FAB lists the whole table)."""
        related = self.datamodel.get_related_model(field.name)
        if issubclass(related, UNLISTED_CHOICES):
            return 0, []
        if is_scoped(related):
            filter_rel_field = [*(filter_rel_field or []), SCOPE_FILTER]
        return super()._get_list_related_field(
            field, filter_rel_field, page=page, page_size=page_size
        )

    def _get_field_info(self, field, filter_rel_field, page=None, page_size=None):
        info = super()._get_field_info(field, filter_rel_field, page=page, page_size=page_size)
        # FAB translates a missing description, "", into the catalogue's header.
        if not self.description_columns.get(field.name):
            info["description"] = ""
        return info

    def _sanitize_page_args(self, page, page_size):
        # A negative page would be a negative OFFSET, a huge one overflows it.
        page = min(max(page or 0, 0), MAX_ID) if isinstance(page, int) else page
        return super()._sanitize_page_args(page, page_size)

    def get_list_headless(self, **kwargs):
        filters = (kwargs.get("rison") or {}).get("filters") or []
        refused = next((f for f in filters if not self.filter_fits(f)), None)
        if refused is not None:
            return self.response_400(
                message=gettext(
                    "The filter on “%(column)s” has a value that does not fit the column.",
                    column=str(refused.get("col")),
                )
            )
        return super().get_list_headless(**kwargs)

    def filter_fits(self, flt) -> bool:
        """A list filter's value is of its column's kind (FAB hands it to the database as
        given: text for a number, a list for a word, a NUL, … would fail there)."""
        if not isinstance(flt, dict):
            return True  # FAB ignores it
        column, operator, value = flt.get("col"), flt.get("opr"), flt.get("value")
        listed = operator in LIST_OPERATORS
        if listed != isinstance(value, list):
            return False
        model = self.datamodel
        for one in value if listed else [value]:
            if isinstance(one, dict | list) or (isinstance(one, str) and "\x00" in one):
                return False
            if column not in model.list_properties:
                continue  # FAB refuses the column itself
            if model.is_relation(column):
                fits = is_id(one) or (
                    isinstance(one, str) and one.isascii() and one.isdigit() and is_id(int(one))
                )
            elif model.is_integer(column):
                number = _as_int(one)
                fits = number is None or -MAX_ID - 1 <= number <= MAX_ID
            elif model.is_boolean(column):
                fits = isinstance(one, bool) or one in ("y", 0, 1)
            elif model.is_string(column) or model.is_text(column):
                fits = isinstance(one, str) or operator not in TEXT_OPERATORS
            else:
                fits = True
            if not fits:
                return False
        return True

    def too_large(self, payload: dict) -> dict:
        """Whole numbers beyond what an integer column holds (the insert would fail)."""
        model = self.datamodel
        limits = {"low": -MAX_ID - 1, "high": MAX_ID}
        return {
            key: [(N_("Enter a whole number from %(low)s to %(high)s."), limits)]
            for key, value in payload.items()
            if key in model.list_columns
            and not model.is_relation(key)
            and model.is_integer(key)
            and isinstance(value, int)
            and not -MAX_ID - 1 <= value <= MAX_ID
        }

    def missing_related(self, payload: dict, relations: set[str]) -> dict:
        """Related ids that name no row the caller may see (FAB would build an empty
        related row, and the insert would fail)."""
        problems: dict[str, list[tuple[str, dict]]] = {}
        for key in relations:
            if payload[key] is None:
                continue
            model = self.datamodel.get_related_model(key)
            with db.session.no_autoflush:
                found = (
                    scoped_get(model, payload[key])
                    if is_scoped(model)
                    else db.session.get(model, payload[key])
                )
            if found is None:
                message = MISSING_RELATED.get(model, N_("The page or record was not found."))
                # Named like the domain checks name it: the foreign key ("unit_id").
                (column,) = sqla_inspect(self.datamodel.obj).relationships[key].local_columns
                problems[column.key] = [(message, {})]
        return problems

    def response_500(self, message=None, **kwargs):
        # FAB's @safe has logged the error; the caller gets a message, not the details, and
        # the failed transaction is not left for the next request on this session.
        db.session.rollback()
        return super().response_500(message=str(HTTP_MESSAGES[500]), **kwargs)

    @staticmethod
    def json_object() -> dict | None:
        """The request's JSON body if it is an object (the only shape the APIs take)."""
        payload = request.get_json(silent=True)
        return payload if isinstance(payload, dict) else None

    def not_a_json_object(self):
        return self.response_400(message=gettext("The request body must be a JSON object."))

    def _refusing_invalid(self, handler: Callable, *args):
        payload = self.json_object()
        if payload is None:
            return self.not_a_json_object()
        relations = {key for key in payload if self.datamodel.is_relation(key)}
        # Cleaned in place: FAB's schema reads the same (cached) payload next.
        problems = (
            payload_problems(payload, relations, *column_kinds(self.datamodel.obj))
            or self.too_large(payload)
            or self.missing_related(payload, relations)
        )
        if problems:
            return self.response_422(message=translated_field_errors(problems))
        return self.answering_domain_errors(handler, *args)

    def answering_domain_errors(self, handler: Callable, *args):
        """Run a handler; a refused rule rolls back and answers 422 (field messages) or the
        error's own status, translated."""
        try:
            return handler(*args)
        except ValidationFailed as error:
            db.session.rollback()
            return self.response_422(message=translated_field_errors(error.errors))
        except DomainError as error:
            db.session.rollback()
            return self.response(error.status_code, message=translate(error.message, error.params))
        except IntegrityError:
            # Only when two requests raced past the checks above: the database said no.
            db.session.rollback()
            return self.response_422(
                message=gettext("The record conflicts with another one; nothing was saved.")
            )
        except DataError:
            # A value the checks let through and the column cannot hold.
            db.session.rollback()
            return self.response_422(
                message=gettext("A value does not fit its field; nothing was saved.")
            )

    def post_headless(self):
        return self._refusing_invalid(super().post_headless)

    def put_headless(self, pk):
        payload = request.get_json(silent=True)
        if isinstance(payload, dict) and "version_id" in payload:
            # Optimistic locking: a client that read version N may only update version N.
            item = self.datamodel.get(pk, self._base_filters)
            if item is not None and str(item.version_id) != str(payload.pop("version_id")):
                return self.response(409, message=str(STALE_MESSAGE))
            # FAB's schema would refuse the unknown key: hand it the payload without it.
            request._cached_json = (payload, payload)
        return self._refusing_invalid(super().put_headless, pk)


# JSON payload values for command endpoints (record an event, merge a unit, …).
def parse_text(value, field: str, *, multiline: bool = False) -> str | None:
    """Text through the domain text rule (webapp/domain/text.py); empty is None."""
    if value in (None, ""):
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValidationFailed({field: [(N_("Enter text."), {})]})
    return clean_text(str(value), field, multiline=multiline) or None


def form_text(name: str, *, multiline: bool = False) -> str | None:
    """A text field of a hand-written HTML form (request.form) through the domain text
    rule; empty is None. Read it inside the command the handler runs, so that a refusal
    is flashed like the command's own."""
    return parse_text(request.form.get(name), name, multiline=multiline)


def parse_iso_date(value, field: str) -> date | None:
    """A date through the domain parser (ISO as clients send it; dd/mm/yyyy too)."""
    return parse_date(value, field)


def parse_int(value, field: str) -> int | None:
    if value in (None, ""):
        return None
    text = str(value)
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()) or not is_id(int(text)):
        raise ValidationFailed({field: [(N_("Enter a whole number."), {})]})
    return int(text)


MAX_ID = 2**31 - 1


def is_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def column_kinds(model) -> tuple[frozenset[str], frozenset[str]]:
    """(date attributes, multi-line text attributes) of a model: how its API reads them."""
    from sqlalchemy import Date, Text, inspect

    def kind(sql_type) -> frozenset[str]:
        return frozenset(
            attribute.key
            for attribute in inspect(model).column_attrs
            if isinstance(attribute.columns[0].type, sql_type)
        )

    return kind(Date), kind(Text)


def payload_problems(
    payload: dict,
    id_keys: set[str],
    date_keys: frozenset[str] = frozenset(),
    multiline_keys: frozenset[str] = frozenset(),
) -> dict[str, list[tuple[str, dict]]]:
    """The model APIs' input rules, before FAB's schema and the database see the payload:
    ids must be whole numbers in range; text goes through the domain text rule and dates
    through the domain date parser (dd/mm/yyyy or ISO), both rewritten in place to what is
    stored (ISO for dates). Returns the refusals by field."""
    problems: dict[str, list[tuple[str, dict]]] = {}
    for key, value in payload.items():
        try:
            if key in id_keys:
                if value is not None and not is_id(value):
                    problems.setdefault(key, []).append((N_("Enter a whole number."), {}))
            elif key in date_keys:
                day = parse_date(value, key)
                payload[key] = day.isoformat() if day else None
            elif isinstance(value, str):
                payload[key] = clean_text(value, key, multiline=key in multiline_keys)
        except ValidationFailed as error:
            problems.setdefault(key, []).extend(error.errors[key])
    return problems
