"""Organisation units: screens and REST API."""

from __future__ import annotations

from datetime import date, datetime

from flask import abort, request
from flask_appbuilder import expose, has_access
from flask_appbuilder.models.sqla.filters import FilterNotIn
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from wtforms import Form

from webapp.domain.errors import FieldErrors
from webapp.domain.rolls import roll_as_of
from webapp.domain.units import check_unit
from webapp.extensions import db
from webapp.labels import STATUS_LABELS, UNIT_COLUMNS, UNIT_KIND_LABELS, format_date, label_for
from webapp.models.unit import MEMBER_HOLDING_KINDS, Unit
from webapp.views.base import (
    DangVienModelRestApi,
    DangVienModelView,
    choice_field,
    date_field,
    date_formatters,
    edited_pk,
)
from webapp.views.errors import DomainRule
from webapp.views.members import MemberModelView

UNIT_FIELDS = ["code", "name", "kind", "parent", "founded_on", "dissolved_on"]


def unit_values(item_or_form) -> dict:
    get = (
        (lambda name: item_or_form[name].data)
        if isinstance(item_or_form, Form)
        else (lambda name: getattr(item_or_form, name))
    )
    values = {name: get(name) for name in UNIT_FIELDS}
    parent = values.pop("parent")
    values["parent_id"] = parent.id if parent is not None else None
    return values


def check_unit_form(form: Form) -> FieldErrors:
    return check_unit(unit_values(form), session=db.session, unit_id=edited_pk())


unit_rule = DomainRule(check_unit_form, aliases={"parent_id": "parent"})


class UnitModelView(DangVienModelView):
    datamodel = SQLAInterface(Unit)
    list_title = _l("Organisation units")
    show_title = _l("Unit")
    add_title = _l("Found a unit")
    edit_title = _l("Edit unit")
    label_columns = UNIT_COLUMNS | {"indented_name": _l("Name"), "member_count": _l("Members")}
    list_columns = ["code", "indented_name", "kind", "parent", "founded_on", "dissolved_on"]
    order_columns = ["code", "kind", "founded_on", "dissolved_on"]
    show_columns = ["code", "name", "kind", "parent", "founded_on", "dissolved_on"]
    add_columns = edit_columns = UNIT_FIELDS
    search_columns = ["code", "name", "kind", "founded_on", "dissolved_on"]
    base_order = ("path", "asc")
    formatters_columns = {
        "kind": lambda value: label_for(UNIT_KIND_LABELS, value),
        **date_formatters("founded_on", "dissolved_on"),
    }
    add_form_extra_fields = edit_form_extra_fields = {
        "kind": choice_field(
            _l("Kind"), UNIT_KIND_LABELS, unit_rule, _l("Choose the kind of unit.")
        ),
        "founded_on": date_field(_l("Founded on"), unit_rule),
        "dissolved_on": date_field(_l("Dissolved on"), unit_rule),
    }
    validators_columns = {"code": [unit_rule], "name": [unit_rule], "parent": [unit_rule]}
    # Cells hold members, never subordinate units.
    add_form_query_rel_fields = edit_form_query_rel_fields = {
        "parent": [["kind", FilterNotIn, list(MEMBER_HOLDING_KINDS)]]
    }
    show_template = "units/show.html"
    related_views = [MemberModelView]

    def check_item(self, item, item_id):
        return check_unit(unit_values(item), session=db.session, unit_id=item_id)

    @expose("/roll/<int:pk>")
    @has_access
    @permission_name("roll")
    def roll(self, pk: int):
        """The members on the rolls of the unit's subtree on a date (default: today)."""
        unit = self.datamodel.get(pk, self._base_filters)
        if unit is None:
            abort(404)
        as_of_text = (request.args.get("as_of") or "").strip()
        day, error = date.today(), None
        if as_of_text:
            try:
                day = datetime.strptime(as_of_text, "%d/%m/%Y").date()
            except ValueError:
                error = gettext("Enter the date as dd/mm/yyyy, e.g. 19/05/1990.")
        counted, hosted = roll_as_of(db.session, unit, day)
        return self.render_template(
            "units/roll.html",
            unit=unit,
            day=format_date(day),
            error=error,
            counted=counted,
            hosted=hosted,
            status_label=lambda value: label_for(STATUS_LABELS, value),
            title=gettext("Members on the rolls"),
        )


class UnitApi(DangVienModelRestApi):
    resource_name = "units"
    datamodel = SQLAInterface(Unit)
    list_columns = [
        "id",
        "code",
        "name",
        "kind",
        "parent.id",
        "parent.code",
        "path",
        "founded_on",
        "dissolved_on",
    ]
    show_columns = list_columns
    add_columns = edit_columns = ["code", "name", "kind", "parent", "founded_on", "dissolved_on"]
    search_columns = ["code", "name", "kind", "parent", "path"]
    order_columns = ["code", "name", "path", "founded_on"]
    base_order = ("path", "asc")

    def check_item(self, item, item_id):
        return check_unit(unit_values(item), session=db.session, unit_id=item_id)
