"""The repeating rows of the member form (pages 3–4), the catalogues, and the yearly
supplement with the history of changed fields."""

from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from webapp.domain.catalogue_data import CATALOGUES
from webapp.domain.catalogues import (
    MEMBER_FIELD_CATALOGUES,
    add_catalogue_entry,
    edit_catalogue_entry,
)
from webapp.domain.records import (
    SUPPLEMENT_FIELDS,
    SupplementInput,
    add_member_row,
    apply_supplement,
    check_row,
    delete_member_row,
    edit_member_row,
)
from webapp.extensions import db
from webapp.forms import TextRuleForm
from webapp.labels import MEMBER_COLUMNS, format_date, format_timestamp
from webapp.models.member import Member
from webapp.models.record import (
    CatalogueEntry,
    Commendation,
    Discipline,
    FamilyRelation,
    MemberSupplement,
    TrainingCourse,
    TripAbroad,
    WorkPeriod,
)
from webapp.security import current_requester, scoped_get
from webapp.views.adapters import RecordCommands, run_on_form
from webapp.views.base import (
    CatalogueSelectField,
    CommandInterface,
    DangVienModelRestApi,
    DangVienModelView,
    DayMonthYearField,
    date_field,
    date_formatters,
)
from webapp.views.errors import DomainRule
from webapp.views.filters import PageLoadingInterface
from webapp.views.members import member_number_pattern

ROW_COLUMN_LABELS = {
    "member": _l("Party member"),
    "starts_on": _l("From"),
    "ends_on": _l("To"),
    "description": _l("Position and workplace"),
    "institution": _l("School or institution"),
    "field": _l("Field of study"),
    "study_form": _l("Form of study"),
    "qualification": _l("Qualification obtained"),
    "awarded_on": _l("Date"),
    "decided_on": _l("Date"),
    "form": _l("Form"),
    "level": _l("Level deciding"),
    "decision_number": _l("Decision number"),
    "reason": _l("Reason"),
    "country": _l("Country"),
    "purpose": _l("Purpose"),
    "relation": _l("Relation"),
    "full_name": _l("Full name"),
    "birth_year": _l("Year of birth"),
    "occupation": _l("Occupation"),
    "notes": _l("Notes"),
}


# The command's date checks, shown on the form's fields.
row_rule = DomainRule(lambda form: check_row({field.name: field.data for field in form}))


def row_commands(model) -> RecordCommands:
    """Add, edit and delete a row of `model` (webapp/domain/records.py)."""
    return RecordCommands(
        add=add_member_row,
        edit=lambda session, requester, pk, changes: edit_member_row(
            session, requester, model, pk, changes
        ),
        delete=lambda session, requester, pk: delete_member_row(session, requester, model, pk),
    )


class MemberRowView(DangVienModelView):
    """Rows are added from the member page's tab (which fixes the member); opened on its
    own, the add form would have to list every member, so it is refused."""

    label_columns = dict(ROW_COLUMN_LABELS)
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_delete"]

    def _add(self):
        if not any(key.startswith("_flt_") and key.endswith("_member") for key in request.args):
            flash(gettext("Open the member's page and add the row from there."), "warning")
            return None
        return super()._add()


def _row_view(model, title, titles, columns, required_dates=(), catalogue_fields=None, order=None):
    """`titles`: (add, show, edit) page titles (FAB would make English ones of the class)."""
    catalogue_fields = catalogue_fields or {}
    extra = {}
    for name in columns:
        if name in ("starts_on", "ends_on", "awarded_on", "decided_on"):
            extra[name] = date_field(
                ROW_COLUMN_LABELS[name],
                row_rule,
                _l("The date is required.") if name in required_dates else None,
            )
        elif name in catalogue_fields:
            extra[name] = CatalogueSelectField(
                ROW_COLUMN_LABELS[name],
                kind=catalogue_fields[name],
                validators=[InputRequired(message=_l("Choose a value from the list."))],
            )
    date_columns = [c for c in columns if c in ("starts_on", "ends_on", "awarded_on", "decided_on")]
    attributes = {
        "datamodel": CommandInterface(model),
        "record_commands": row_commands(model),
        "list_title": title,
        "add_title": titles[0],
        "show_title": titles[1],
        "edit_title": titles[2],
        "list_columns": columns,
        "show_columns": ["member", *columns],
        "add_columns": ["member", *columns],
        "edit_columns": columns,
        "search_columns": [
            c for c in columns if c not in ("notes", "purpose", "reason", "description")
        ][:3],
        "base_order": (order or columns[0], "asc"),
        "formatters_columns": date_formatters(*date_columns),
        "add_form_extra_fields": extra,
        "edit_form_extra_fields": extra,
        "validators_columns": {"birth_year": [Optional(), NumberRange(min=1850), row_rule]}
        if "birth_year" in columns
        else {},
    }
    return type(f"{model.__name__}View", (MemberRowView,), attributes)


WorkPeriodView = _row_view(
    WorkPeriod,
    _l("Work history"),
    (_l("Add a work period"), _l("Work period"), _l("Edit work period")),
    ["starts_on", "ends_on", "description"],
    ("starts_on",),
)
TrainingCourseView = _row_view(
    TrainingCourse,
    _l("Training"),
    (_l("Add a training course"), _l("Training course"), _l("Edit training course")),
    ["starts_on", "ends_on", "institution", "field", "study_form", "qualification"],
    ("starts_on",),
)
CommendationView = _row_view(
    Commendation,
    _l("Commendations"),
    (_l("Add a commendation"), _l("Commendation"), _l("Edit commendation")),
    ["awarded_on", "form", "level", "decision_number", "reason"],
    ("awarded_on",),
    {"form": "commendation_form"},
)
DisciplineView = _row_view(
    Discipline,
    _l("Discipline"),
    (_l("Add a discipline"), _l("Discipline"), _l("Edit discipline")),
    ["decided_on", "form", "level", "decision_number", "reason"],
    ("decided_on",),
    {"form": "discipline_form"},
)
TripAbroadView = _row_view(
    TripAbroad,
    _l("Trips abroad"),
    (_l("Add a trip abroad"), _l("Trip abroad"), _l("Edit trip abroad")),
    ["starts_on", "ends_on", "country", "purpose"],
    ("starts_on",),
)
FamilyRelationView = _row_view(
    FamilyRelation,
    _l("Family relations"),
    (_l("Add a family relation"), _l("Family relation"), _l("Edit family relation")),
    ["relation", "full_name", "birth_year", "occupation", "notes"],
    catalogue_fields={"relation": "family_relation"},
    order="id",
)
ROW_VIEWS = [
    WorkPeriodView,
    TrainingCourseView,
    CommendationView,
    DisciplineView,
    TripAbroadView,
    FamilyRelationView,
]


def _row_api(model, resource_name, columns):
    attributes = {
        "resource_name": resource_name,
        "datamodel": CommandInterface(model),
        "record_commands": row_commands(model),
        "list_columns": ["id", "member.id", *columns],
        "show_columns": ["id", "member.id", *columns],
        "add_columns": ["member", *columns],
        "edit_columns": columns,
        "search_columns": ["member"],
    }
    return type(f"{model.__name__}Api", (DangVienModelRestApi,), attributes)


ROW_APIS = [
    _row_api(WorkPeriod, "work-periods", ["starts_on", "ends_on", "description"]),
    _row_api(
        TrainingCourse,
        "training-courses",
        ["starts_on", "ends_on", "institution", "field", "study_form", "qualification"],
    ),
    _row_api(
        Commendation, "commendations", ["awarded_on", "form", "level", "decision_number", "reason"]
    ),
    _row_api(
        Discipline, "disciplines", ["decided_on", "form", "level", "decision_number", "reason"]
    ),
    _row_api(TripAbroad, "trips-abroad", ["starts_on", "ends_on", "country", "purpose"]),
    _row_api(
        FamilyRelation,
        "family-relations",
        ["relation", "full_name", "birth_year", "occupation", "notes"],
    ),
]


def catalogue_title(kind: str | None) -> str:
    catalogue = CATALOGUES.get(kind or "")
    return catalogue.title_vi if catalogue else (kind or "")


CATALOGUE_COMMANDS = RecordCommands(add=add_catalogue_entry, edit=edit_catalogue_entry)


class CatalogueEntryView(DangVienModelView):
    datamodel = CommandInterface(CatalogueEntry)
    record_commands = CATALOGUE_COMMANDS
    list_title = _l("Catalogues")
    add_title = _l("Add a catalogue entry")
    show_title = _l("Catalogue entry")
    edit_title = _l("Edit catalogue entry")
    label_columns = {
        "kind": _l("Catalogue"),
        "code": _l("Code"),
        "name": _l("Name"),
        "position": _l("Order"),
        "active": _l("In use"),
    }
    list_columns = ["kind", "code", "name", "position", "active"]
    add_columns = edit_columns = ["kind", "code", "name", "position", "active"]
    search_columns = ["kind", "code", "name", "active"]
    base_order = ("kind", "asc")
    page_size = 50
    # The catalogue by its Vietnamese title, not its key ("ethnicity").
    formatters_columns = {"kind": lambda kind: catalogue_title(kind)}
    add_form_extra_fields = edit_form_extra_fields = {
        "kind": SelectField(
            _l("Catalogue"),
            choices=lambda: [("", "—"), *((k, c.title_vi) for k, c in CATALOGUES.items())],
            validators=[InputRequired(message=_l("Choose a value from the list."))],
            widget=Select2Widget(),
        )
    }
    # Entries are retired (In use off), not deleted: old records keep their values.
    base_permissions = ["can_list", "can_show", "can_add", "can_edit"]


class CatalogueApi(DangVienModelRestApi):
    resource_name = "catalogues"
    datamodel = CommandInterface(CatalogueEntry)
    record_commands = CATALOGUE_COMMANDS
    list_columns = show_columns = ["id", "kind", "code", "name", "position", "active"]
    add_columns = edit_columns = ["kind", "code", "name", "position", "active"]
    search_columns = ["kind", "code", "name", "active"]
    include_route_methods = {"get", "get_list", "info", "post", "put"}


def supplement_form_class():
    fields = {
        "year": IntegerField(
            _l("Year"),
            validators=[
                InputRequired(message=_l("The year is required.")),
                NumberRange(min=1990, max=2100),
            ],
        ),
        "declared_on": DayMonthYearField(_l("Declared on")),
        "note": TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)]),
    }
    for name in SUPPLEMENT_FIELDS:
        label = MEMBER_COLUMNS[name]
        if name in MEMBER_FIELD_CATALOGUES:
            fields[name] = CatalogueSelectField(label, kind=MEMBER_FIELD_CATALOGUES[name])
        else:
            fields[name] = StringField(label, validators=[Optional(), Length(max=255)])
    return type("SupplementForm", (TextRuleForm,), fields)


SupplementForm = supplement_form_class()


class MemberSupplementView(DangVienModelView):
    """Yearly supplements: listed on the member page; applied through the supplement form."""

    datamodel = PageLoadingInterface(MemberSupplement)
    route_base = "/supplements"
    list_title = _l("Yearly supplements")
    show_title = _l("Yearly supplement")
    base_permissions = ["can_list", "can_show", "can_apply"]
    label_columns = {
        "year": _l("Year"),
        "declared_on": _l("Declared on"),
        "note": _l("Note"),
        "recorded_by": _l("Recorded by"),
        "recorded_at": _l("Recorded at"),
        "member": _l("Party member"),
    }
    list_columns = ["year", "declared_on", "note", "recorded_by"]
    show_columns = ["member", "year", "declared_on", "note", "recorded_by", "recorded_at"]
    formatters_columns = {
        **date_formatters("declared_on"),
        "recorded_at": format_timestamp,
    }
    base_order = ("year", "desc")

    @expose("/apply/<int:member_id>", methods=["GET", "POST"])
    @has_access
    @permission_name("apply")
    def apply(self, member_id: int):
        """Apply a supplement: the changed fields are saved as one dated change set; each
        change lands in the member's history with the supplement it came from."""
        member = scoped_get(Member, member_id)
        if member is None:
            abort(404)
        form = SupplementForm(obj=member if request.method == "GET" else None)
        if request.method == "GET":
            form.year.data = date.today().year
        if request.method == "POST" and form.validate():
            supplement = SupplementInput(
                year=form.year.data,
                declared_on=form.declared_on.data,
                note=form.note.data,
                values={name: form[name].data or None for name in SUPPLEMENT_FIELDS},
            )
            if run_on_form(
                form,
                lambda: apply_supplement(
                    db.session,
                    current_requester(),
                    member.id,
                    supplement,
                    member_number_pattern=member_number_pattern(),
                ),
                gettext("The supplement has been applied."),
                fallback="year",
            ):
                return redirect(url_for("MemberModelView.show", pk=member.id))
        return self.render_template(
            "records/supplement.html",
            form=form,
            member=member,
            fields=SUPPLEMENT_FIELDS,
            title=gettext("Apply the yearly supplement"),
            format_date=format_date,
        )
