"""Party members: screens and REST API."""

from __future__ import annotations

from flask import current_app
from flask_appbuilder.models.sqla.filters import FilterIn
from flask_babel import lazy_gettext as _l
from wtforms import Form

from webapp.domain.errors import FieldErrors
from webapp.domain.members import check_member
from webapp.extensions import db
from webapp.labels import (
    BIRTH_DATE_PRECISION_LABELS,
    MEMBER_COLUMNS,
    SEX_LABELS,
    STATUS_LABELS,
    label_for,
)
from webapp.models.member import Member
from webapp.models.unit import MEMBER_HOLDING_KINDS
from webapp.views.base import (
    DangVienModelRestApi,
    DangVienModelView,
    choice_field,
    date_field,
    date_formatters,
    edited_pk,
)
from webapp.views.errors import DomainRule
from webapp.views.filters import SearchableInterface

IDENTITY_FIELDS = [
    "member_number",
    "birth_name",
    "name_in_use",
    "alias",
    "sex",
    "birth_date",
    "birth_date_precision",
    "birthplace",
    "home_town",
    "permanent_address",
    "current_address",
    "ethnicity",
    "religion",
    "citizen_id",
]
PARTY_FIELDS = [
    "unit",
    "status",
    "admitted_on",
    "admitting_cell",
    "introducer_1",
    "introducer_2",
    "official_on",
    "youth_union_on",
    "card_number",
    "card_issued_on",
]
MEMBER_FIELDS = IDENTITY_FIELDS + PARTY_FIELDS
DATE_FIELDS = ["birth_date", "admitted_on", "official_on", "youth_union_on", "card_issued_on"]


def member_values(item_or_form) -> dict:
    if isinstance(item_or_form, Form):
        values = {name: item_or_form[name].data for name in MEMBER_FIELDS}
    else:
        values = {name: getattr(item_or_form, name) for name in MEMBER_FIELDS}
    unit = values.pop("unit")
    values["unit_id"] = unit.id if unit is not None else getattr(item_or_form, "unit_id", None)
    return {k: (v.strip() or None) if isinstance(v, str) else v for k, v in values.items()}


def check_member_values(values: dict, member_id: int | None) -> FieldErrors:
    return check_member(
        values,
        session=db.session,
        member_id=member_id,
        member_number_pattern=current_app.config["MEMBER_NUMBER_PATTERN"],
    )


member_rule = DomainRule(
    lambda form: check_member_values(member_values(form), edited_pk()), aliases={"unit_id": "unit"}
)


class MemberModelView(DangVienModelView):
    datamodel = SearchableInterface(Member)
    list_title = _l("Party members")
    show_title = _l("Party member")
    add_title = _l("Add a Party member")
    edit_title = _l("Edit Party member")
    list_template = "members/list.html"
    label_columns = MEMBER_COLUMNS
    list_columns = [
        "member_number",
        "display_name",
        "birth_date",
        "sex",
        "unit",
        "admitted_on",
        "status",
    ]
    # display_name sorts by the stored Vietnamese sort key (see Member.display_name).
    order_columns = ["member_number", "display_name", "birth_date", "admitted_on", "status"]
    base_order = ("sort_key", "asc")
    search_columns = ["search_key", "status", "sex", "birth_date", "admitted_on", "official_on"]
    show_fieldsets = add_fieldsets = edit_fieldsets = [
        (_l("Identity"), {"fields": IDENTITY_FIELDS}),
        (_l("Party"), {"fields": PARTY_FIELDS}),
    ]
    add_columns = edit_columns = MEMBER_FIELDS
    formatters_columns = {
        "sex": lambda value: label_for(SEX_LABELS, value),
        "status": lambda value: label_for(STATUS_LABELS, value),
        "birth_date_precision": lambda value: label_for(BIRTH_DATE_PRECISION_LABELS, value),
        **date_formatters(*DATE_FIELDS),
    }
    add_form_extra_fields = edit_form_extra_fields = {
        "sex": choice_field(_l("Sex"), SEX_LABELS, member_rule, _l("Choose the sex.")),
        "status": choice_field(
            _l("Status"), STATUS_LABELS, member_rule, _l("Choose the membership status.")
        ),
        "birth_date_precision": choice_field(
            _l("Date of birth known"),
            BIRTH_DATE_PRECISION_LABELS,
            member_rule,
            _l("Choose how much of the date of birth is known."),
        ),
        "birth_date": date_field(
            _l("Date of birth"), member_rule, _l("The date of birth is required.")
        ),
        "admitted_on": date_field(
            _l("Admitted on"), member_rule, _l("The date of admission is required.")
        ),
        "official_on": date_field(_l("Official on"), member_rule),
        "youth_union_on": date_field(_l("Joined the Youth Union on"), member_rule),
        "card_issued_on": date_field(_l("Card issued on"), member_rule),
    }
    validators_columns = {
        name: [member_rule]
        for name in ("member_number", "birth_name", "citizen_id", "card_number", "unit")
    }
    # Members belong to cells: offer only those in the unit picker.
    add_form_query_rel_fields = edit_form_query_rel_fields = {
        "unit": [["kind", FilterIn, list(MEMBER_HOLDING_KINDS)]]
    }

    def check_item(self, item, item_id):
        return check_member_values(member_values(item), item_id)


class MemberApi(DangVienModelRestApi):
    resource_name = "members"
    datamodel = SearchableInterface(Member)
    list_columns = [
        "id",
        "member_number",
        "birth_name",
        "name_in_use",
        "sex",
        "birth_date",
        "unit.id",
        "unit.code",
        "admitted_on",
        "official_on",
        "card_number",
        "status",
    ]
    show_columns = ["id", *IDENTITY_FIELDS, "unit.id", "unit.code", *PARTY_FIELDS[1:], "version_id"]
    add_columns = edit_columns = MEMBER_FIELDS
    search_columns = [
        "search_key",
        "member_number",
        "status",
        "sex",
        "unit",
        "birth_date",
        "admitted_on",
    ]
    order_columns = ["member_number", "sort_key", "birth_date", "admitted_on"]
    base_order = ("sort_key", "asc")

    def check_item(self, item, item_id):
        return check_member_values(member_values(item), item_id)
