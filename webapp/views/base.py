"""Base classes and form fields shared by the screens and the REST APIs."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import Any

from flask import request
from flask_appbuilder import ModelRestApi, ModelView
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_babel import gettext
from wtforms import DateField, SelectField
from wtforms.validators import InputRequired
from wtforms.widgets import TextInput

from webapp.domain.errors import DomainError, FieldErrors, ValidationFailed
from webapp.extensions import db
from webapp.labels import format_date
from webapp.views.errors import DomainRule, translate, translated_field_errors

DATE_FORMATS = ["%d/%m/%Y", "%Y-%m-%d"]


class DateTextWidget(TextInput):
    """A Bootstrap text box that shows the expected format (FAB's text widget would
    replace the placeholder with the field's label)."""

    def __call__(self, field, **kwargs):
        kwargs.setdefault("class", "form-control")
        kwargs.setdefault("placeholder", "dd/mm/yyyy")
        kwargs.setdefault("autocomplete", "off")
        return super().__call__(field, **kwargs)


class DayMonthYearField(DateField):
    """A date typed as dd/mm/yyyy (ISO accepted too); empty means no date, not an error."""

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("widget", DateTextWidget())
        super().__init__(label, validators, format=DATE_FORMATS, **kwargs)

    def process_formdata(self, valuelist):
        text = " ".join(valuelist or []).strip()
        if not text:
            self.data = None
            return
        for fmt in DATE_FORMATS:
            try:
                self.data = datetime.datetime.strptime(text, fmt).date()
                return
            except ValueError:
                continue
        self.data = None
        raise ValueError(gettext("Enter the date as dd/mm/yyyy, e.g. 19/05/1990."))


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


def edited_pk() -> int | None:
    """Primary key of the record being edited on this request (None when adding)."""
    pk = (request.view_args or {}).get("pk")
    return int(pk) if pk is not None else None


def date_formatters(*columns: str) -> dict[str, Callable]:
    return {column: format_date for column in columns}


class DangVienModelView(ModelView):
    """Explicit list/show/edit screens; `check_item` re-checks the record before saving."""

    page_size = 25

    def check_item(self, item, item_id: int | None) -> FieldErrors:  # pragma: no cover - abstract
        return FieldErrors()

    def _refuse_invalid(self, item, item_id: int | None) -> None:
        errors = self.check_item(item, item_id)
        if errors:
            # FAB shows this text as a flash message and saves nothing.
            messages = translated_field_errors(errors.as_dict())
            raise ValueError(" ".join(m for msgs in messages.values() for m in msgs))

    def pre_add(self, item) -> None:
        self._refuse_invalid(item, None)

    def pre_update(self, item) -> None:
        self._refuse_invalid(item, item.id)


class DangVienModelRestApi(ModelRestApi):
    """REST API with the same checks as the forms: 422 with translated field messages."""

    allow_browser_login = True
    page_size = 25
    max_page_size = 100

    def check_item(self, item, item_id: int | None) -> FieldErrors:  # pragma: no cover - abstract
        return FieldErrors()

    def pre_add(self, item) -> None:
        self.check_item(item, None).raise_if_any()

    def pre_update(self, item) -> None:
        self.check_item(item, item.id).raise_if_any()

    def _refusing_invalid(self, handler: Callable, *args):
        if not isinstance(request.get_json(silent=True), dict):
            return self.response_400(message=gettext("The request body must be a JSON object."))
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
        return self._refusing_invalid(super().put_headless, pk)
