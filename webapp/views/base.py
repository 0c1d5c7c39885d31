"""Base classes and form fields shared by the screens and the REST APIs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from flask import flash, request
from flask_appbuilder import ModelRestApi, ModelView
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
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
from webapp.labels import format_date
from webapp.security import SCOPE_FILTER
from webapp.views.errors import DomainRule, translate, translated_field_errors


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


class CatalogueSelectField(SelectField):
    """A pick-list of a national catalogue, read when the form is built; an old record's
    value outside the catalogue stays selectable (the domain rule refuses new ones)."""

    def __init__(self, label=None, validators=None, kind: str = "", **kwargs):
        kwargs.setdefault("widget", Select2Widget())
        super().__init__(label, validators, choices=[], validate_choice=False, **kwargs)
        self.kind = kind

    def process(self, formdata, data=unset_value, extra_filters=None):
        super().process(formdata, data, extra_filters)
        from webapp.domain.catalogues import catalogue_names

        names = catalogue_names(db.session, self.kind)
        extra = [self.data] if self.data and self.data not in names else []
        self.choices = [("", "—")] + [(name, name) for name in [*names, *extra]]

    def process_formdata(self, valuelist):
        self.data = (valuelist[0] or None) if valuelist else None


def show_plain(value):
    return "" if value is None else value


def show_yes_no(value):
    if value is None:
        return ""
    return gettext("Yes") if value else gettext("No")


def plain_value_formatters(model) -> dict[str, Callable]:
    from sqlalchemy import Boolean

    return {
        column.key: show_yes_no if isinstance(column.type, Boolean) else show_plain
        for column in model.__table__.columns
    }


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


class DangVienModelView(TextRuleViewMixin, ModelView):
    """Explicit list/show/edit screens; `check_item` re-checks the record before saving;
    edits of versioned records carry the version they started from; every text field
    goes through the text rule (webapp/forms.py)."""

    page_size = 25

    def _init_properties(self):
        if is_scoped(self.datamodel.obj):
            self.base_filters = [*(self.base_filters or []), SCOPE_FILTER]
        super()._init_properties()
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

    def _init_forms(self):
        super()._init_forms()
        if "version_id" in self.datamodel.obj.__table__.columns:
            self.edit_form._model_class = self.datamodel.obj

    def _get_list_widget(self, filters, **kwargs):
        # The list's search panel (and the member page's tabs): a search stores nothing, so
        # what the text rule refuses is left out rather than sent to PostgreSQL (NUL: 500).
        filters.values = [
            [without_disallowed(v) if isinstance(v, str) else v for v in values]
            if isinstance(values, list)
            else values
            for values in filters.values
        ]
        return super()._get_list_widget(filters, **kwargs)

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
        self._refuse_invalid(item, None)

    def pre_update(self, item) -> None:
        self._refuse_invalid(item, item.id)


class DangVienModelRestApi(ModelRestApi):
    """REST API with the same checks as the forms: 422 with translated field messages;
    rows outside the caller's scope do not exist (404)."""

    allow_browser_login = True
    page_size = 25
    max_page_size = 100

    def _init_properties(self):
        if is_scoped(self.datamodel.obj):
            self.base_filters = [*(self.base_filters or []), SCOPE_FILTER]
        super()._init_properties()

    def check_item(self, item, item_id: int | None) -> FieldErrors:  # pragma: no cover - abstract
        return FieldErrors()

    def pre_add(self, item) -> None:
        self.check_item(item, None).raise_if_any()

    def pre_update(self, item) -> None:
        self.check_item(item, item.id).raise_if_any()

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
        problems = payload_problems(payload, relations, *column_kinds(self.datamodel.obj))
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
