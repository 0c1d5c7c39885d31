"""Mapping domain errors to translated messages: form validators and API responses."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, current_app, jsonify, render_template, request
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError
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
    try:
        page = render_template(
            "error.html",
            message=message,
            code=code,
            appbuilder=appbuilder,
            base_template=appbuilder.base_template,
        )
    except Exception:
        # The page needs the menu and the user, hence the database: if that is what
        # failed, the message alone.
        current_app.logger.exception("error page could not be rendered")
        page = message
    return page, code


HTTP_MESSAGES = {
    400: _l("The request is not valid."),
    403: _l("You are not allowed to do this."),
    405: _l("This address does not accept this kind of request."),
    413: _l("The request is too large."),
    429: _l("Too many attempts from your address; wait a minute and try again."),
    500: _l("Something went wrong on the server. It has been logged; please try again later."),
}


def error_response(message: str, code: int):
    if request.path.startswith("/api/"):
        return jsonify({"message": message}), code
    return render_error_page(message, code)


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

    @app.errorhandler(CSRFError)
    def csrf_refused(error: CSRFError):
        if request.path.startswith("/api/"):
            message = gettext(
                "A change through the API signed in by the browser needs the page's CSRF "
                "token in the X-CSRFToken header; scripts sign in with a token instead."
            )
        else:
            message = gettext("The form has expired; please submit it again.")
        return error_response(message, 400)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        # In the user's language, never Werkzeug's English page; redirects pass through.
        code = error.code or 500
        if code < 400:
            return error
        message = HTTP_MESSAGES.get(code) or HTTP_MESSAGES[400 if code < 500 else 500]
        response = error_response(str(message), code)
        if code == 405 and getattr(error, "valid_methods", None):
            body, status = response
            return body, status, {"Allow": ", ".join(error.valid_methods)}
        return response

    @app.errorhandler(InternalServerError)
    def server_error(error: InternalServerError):
        """Any uncaught error (Flask has logged it with its traceback): a message, no
        traceback; the failed transaction is rolled back so the request leaves nothing."""
        from webapp.extensions import db

        db.session.rollback()
        return error_response(str(HTTP_MESSAGES[500]), 500)
