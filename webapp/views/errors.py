"""Mapping domain errors to translated messages: form validators and API responses."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, current_app, jsonify, render_template, request
from flask_babel import gettext
from wtforms import Form
from wtforms.fields import Field
from wtforms.validators import ValidationError

from webapp.domain.errors import DomainError, FieldErrors, ValidationFailed

# Shared with the command line (webapp/messages.py); the views import them from here.
from webapp.messages import translate, translated_field_errors


class DomainRule:
    """WTForms validator: runs a whole-record domain check once per form submission and
    reports, on each field, the errors the check attached to that field."""

    field_flags = {}

    def __init__(
        self,
        check: Callable[[Form], FieldErrors],
        aliases: Mapping[str, str] | None = None,
        fallback: str | None = None,
    ):
        self.check = check
        # Domain field name → form field name (e.g. "unit_id" is the "unit" select).
        self.aliases = aliases or {}
        # Where errors on fields the form does not show are reported.
        self.fallback = fallback

    def __call__(self, form: Form, field: Field) -> None:
        cache_name = f"_domain_errors_{id(self.check)}"
        if not hasattr(form, cache_name):
            setattr(form, cache_name, self.check(form).as_dict())
        errors = getattr(form, cache_name)
        shown = []
        for domain_field, messages in errors.items():
            target = self.aliases.get(domain_field, domain_field)
            if target not in form:
                target = self.fallback
            if target == field.name:
                shown.extend(translate(m, p) for m, p in messages)
        if shown:
            raise ValidationError("; ".join(shown))


def render_error_page(message: str, code: int):
    appbuilder = current_app.appbuilder
    return (
        render_template(
            "error.html",
            message=message,
            code=code,
            appbuilder=appbuilder,
            base_template=appbuilder.base_template,
        ),
        code,
    )


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        message = translate(error.message, error.params)
        if request.path.startswith("/api/"):
            body: dict[str, Any] = {"message": message}
            if isinstance(error, ValidationFailed):
                body["message"] = translated_field_errors(error.errors)
            return jsonify(body), error.status_code
        return render_error_page(message, error.status_code)

    @app.errorhandler(404)
    def not_found(error):
        if request.path.startswith("/api/"):
            return jsonify({"message": gettext("Not found")}), 404
        return render_error_page(gettext("The page or record was not found."), 404)
