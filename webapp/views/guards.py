"""Rules that hold for every route of the app, FAB's own screens included, checked once
before any view runs instead of route by route:

- an id in a URL is a whole number the id columns can hold (a larger one is no record: 404,
  not an overflow in the database driver);
- a GET never changes data: FAB's delete and action routes also answer GET, and are POST-only
  here (405);
- a list action must exist and its records must be visible through the screen's filters;
- FAB's file download (no DangVien model stores files) does not exist, nor a chart grouping
  past the chart's list;
- a state-changing API call signed in by the browser's session cookie carries the page's
  CSRF token, like a form (a call with a bearer token cannot be forged cross-site).
"""

from __future__ import annotations

from flask import Flask, abort, current_app, request, session
from flask_appbuilder.baseviews import BaseCRUDView
from flask_appbuilder.charts.views import GroupByChartView
from flask_appbuilder.views import ModelView
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import Integer
from sqlalchemy import inspect as sqla_inspect
from werkzeug.routing import IntegerConverter

from webapp.views.base import MAX_ID, is_id

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# FAB routes that change data but also accept GET.
MUTATING_ENDPOINTS = frozenset({"delete", "action"})


class IdConverter(IntegerConverter):
    """`<int:…>` in every route: at most the largest id; a larger number matches no route."""

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ID, signed=False):  # noqa: A002 - Werkzeug's names
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def id_from_text(text: str) -> int | None:
    """The id a URL segment or form value names, or None when it names none."""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_ID)):
        return None
    value = int(text)
    return value if is_id(value) else None


def install_id_converter(app: Flask) -> None:
    """Before any route is registered: the rules read the converter when they are added."""
    app.url_map.converters["int"] = IdConverter


def _view(endpoint: str | None):
    return getattr(current_app.view_functions.get(endpoint or ""), "__self__", None)


def _crud_view(endpoint: str | None) -> BaseCRUDView | None:
    view = _view(endpoint)
    return view if isinstance(view, BaseCRUDView) else None


def has_id_key(view) -> bool:
    """The view's records are keyed by an integer id (a few reference tables use a name)."""
    model = getattr(getattr(view, "datamodel", None), "obj", None)
    if model is None:
        return False
    keys = sqla_inspect(model).primary_key
    return len(keys) == 1 and isinstance(keys[0].type, Integer)


def record_key(view, text: str):
    """The primary key a URL segment or form value names, or None when it names none."""
    return id_from_text(text) if has_id_key(view) else text


def chart_grouping(view: GroupByChartView, text: str) -> bool:
    return text.isascii() and text.isdigit() and int(text) < len(view.definitions)


def _refuse_unreachable_records(endpoint: str | None, values: dict | None) -> None:
    values = values or {}
    view = _view(endpoint)
    # FAB declares its record routes (screens and APIs) as `<pk>`, a string: the same range.
    pk = values.get("pk")
    if isinstance(pk, str) and record_key(view, pk) is None:
        abort(404)
    # FAB's charts (the users' statistics) take the number of one of their groupings.
    group = values.get("group_by")
    if isinstance(view, GroupByChartView) and group is not None and not chart_grouping(view, group):
        abort(404)


def _check_crud_request():
    endpoint = request.endpoint or ""
    view = _crud_view(endpoint)
    if view is None:
        return
    name = endpoint.rsplit(".", 1)[-1]
    if request.method in SAFE_METHODS and name in MUTATING_ENDPOINTS:
        abort(405, valid_methods=["POST"])
    if name == "download" and getattr(current_app.view_functions[endpoint], "__func__", None) is (
        ModelView.download
    ):
        abort(404)
    if name == "action":
        _check_action(view, request.view_args.get("name"), [request.view_args.get("pk")], 404)
    elif name == "action_post":
        _check_action(view, request.form.get("action"), request.form.getlist("rowid"), 400)


def _check_action(view: BaseCRUDView, action: str | None, pks: list, unknown_code: int) -> None:
    if not action or action not in view.actions:
        abort(unknown_code)
    # FAB fetches the records without the screen's filters (the user's scope among them).
    for pk in pks:
        key = record_key(view, str(pk))
        if key is None or view.datamodel.get(key, view._base_filters) is None:
            abort(404)


def _protect_cookie_api_calls(csrf: CSRFProtect):
    if (
        request.path.startswith("/api/")
        and request.method not in SAFE_METHODS
        and current_app.config.get("WTF_CSRF_ENABLED", True)
        and "Authorization" not in request.headers
        and session.get("_user_id") is not None
    ):
        csrf.protect()


def register_request_guards(app: Flask, csrf: CSRFProtect) -> None:
    app.url_value_preprocessor(_refuse_unreachable_records)
    app.before_request(_check_crud_request)
    app.before_request(lambda: _protect_cookie_api_calls(csrf))
