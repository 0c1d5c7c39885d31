"""Organisation units: screens and REST API."""

from __future__ import annotations

from datetime import date

from flask import abort, current_app, flash, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.api import expose as api_expose
from flask_appbuilder.api import protect, safe
from flask_appbuilder.models.sqla.filters import FilterNotIn
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import Form, SelectField, StringField
from wtforms.validators import Length, Optional

from webapp.domain.dates import parse_date
from webapp.domain.errors import N_, DomainError, FieldErrors, ValidationFailed
from webapp.domain.rolls import roll_as_of
from webapp.domain.scope import scope_clause
from webapp.domain.units import (
    check_unit,
    dissolve_unit,
    merge_units,
    record_founding,
    record_unit_changes,
    resolve_unit_code,
    subtree_member_counts,
)
from webapp.extensions import db
from webapp.forms import TextRuleForm
from webapp.labels import (
    STATUS_LABELS,
    UNIT_CHANGE_LABELS,
    UNIT_COLUMNS,
    UNIT_KIND_LABELS,
    format_date,
    label_for,
)
from webapp.models.unit import MEMBER_HOLDING_KINDS, Unit, UnitChange
from webapp.security import SCOPE_FILTER, current_scope, current_user_id, in_scope_unit
from webapp.views.base import (
    DangVienModelRestApi,
    DangVienModelView,
    DayMonthYearField,
    choice_field,
    date_field,
    date_formatters,
    edited_pk,
    parse_int,
    parse_iso_date,
)
from webapp.views.errors import DomainRule, translate, translated_field_errors
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
    return check_unit_in_scope(unit_values(form), edited_pk())


def scoped_unit_id(unit_id: int | None) -> int | None:
    """A unit id the user may see, else None (as if nothing had been chosen)."""
    return unit_id if unit_id is not None and in_scope_unit(unit_id) else None


def check_unit_in_scope(values: dict, unit_id: int | None) -> FieldErrors:
    """The unit's rules, and a parent inside the user's scope: a clerk founds units under
    their own; only an Admin founds a top-level unit."""
    errors = check_unit(values, session=db.session, unit_id=unit_id)
    parent_id = values.get("parent_id")
    outside = not in_scope_unit(parent_id) if parent_id is not None else current_scope() is not None
    if outside and "parent" not in errors.as_dict():
        errors.add("parent", N_("Choose a parent unit inside your scope."))
    return errors


unit_rule = DomainRule(check_unit_form, aliases={"parent_id": "parent"})


class UnitModelView(DangVienModelView):
    datamodel = SQLAInterface(Unit)
    list_title = _l("Organisation units")
    show_title = _l("Unit")
    add_title = _l("Found a unit")
    edit_title = _l("Edit unit")
    label_columns = dict(UNIT_COLUMNS) | {
        "indented_name": _l("Name"),
        "member_count": _l("Members"),
    }
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
        "parent": [["kind", FilterNotIn, list(MEMBER_HOLDING_KINDS)], SCOPE_FILTER]
    }
    show_template = "units/show.html"
    related_views = [MemberModelView]

    def check_item(self, item, item_id):
        return check_unit_in_scope(unit_values(item), item_id)

    def pre_update(self, item) -> None:
        super().pre_update(item)
        record_unit_changes(db.session, item, user_id=current_user_id())

    def post_add(self, item) -> None:
        record_founding(db.session, item, user_id=current_user_id())
        db.session.commit()

    def render_template(self, template, **kwargs):
        if template == self.show_template and "pk" in kwargs:
            kwargs["unit_panel"] = unit_panel(int(kwargs["pk"]))
        return super().render_template(template, **kwargs)

    def _unit_or_404(self, pk: int) -> Unit:
        unit = self.datamodel.get(pk, self._base_filters)
        if unit is None:
            abort(404)
        return unit

    def _run_command(self, form: FlaskForm, command, back_url: str, **render):
        """Validate the form, run the command; domain errors go back onto the form."""
        if request.method == "POST" and form.validate():
            try:
                command()
            except ValidationFailed as error:
                db.session.rollback()
                for field, messages in translated_field_errors(error.errors).items():
                    target = form[field] if field in form else form["effective_on"]
                    target.errors = list(target.errors) + messages
            except DomainError as error:
                db.session.rollback()
                flash(translate(error.message, error.params), "danger")
            else:
                flash(gettext("Saved."), "success")
                return redirect(back_url)
        return self.render_template(
            "common/command_form.html", form=form, back_url=back_url, **render
        )

    @expose("/merge/<int:pk>", methods=["GET", "POST"])
    @has_access
    @permission_name("merge")
    def merge(self, pk: int):
        unit = self._unit_or_404(pk)
        form = MergeForm()
        form.into_id.choices = [("", "—")] + [
            (str(u.id), f"{u.code} – {u.name}")
            for u in db.session.scalars(
                select(Unit)
                .where(
                    scope_clause(Unit, current_scope()),
                    Unit.dissolved_on.is_(None),
                    Unit.id != unit.id,
                    ~Unit.path.startswith(unit.path, autoescape=True),
                )
                .order_by(Unit.path)
            )
        ]
        into_id = scoped_unit_id(
            int(form.into_id.data) if (form.into_id.data or "").isdigit() else None
        )
        return self._run_command(
            form,
            lambda: merge_units(
                db.session,
                unit.id,
                into_id,
                effective_on=form.effective_on.data,
                decision_number=form.decision_number.data,
                user_id=current_user_id(),
            ),
            url_for("UnitModelView.show", pk=unit.id),
            title=gettext("Merge %(unit)s into another unit", unit=f"{unit.code} – {unit.name}"),
            intro=gettext(
                "Its members are transferred to the unit that takes over, its subunits move under it, and the unit is dissolved; its code keeps pointing to the successor."
            ),
            submit_label=gettext("Merge"),
        )

    @expose("/dissolve/<int:pk>", methods=["GET", "POST"])
    @has_access
    @permission_name("dissolve")
    def dissolve(self, pk: int):
        unit = self._unit_or_404(pk)
        form = DissolveForm()
        return self._run_command(
            form,
            lambda: dissolve_unit(
                db.session,
                unit.id,
                effective_on=form.effective_on.data,
                decision_number=form.decision_number.data,
                user_id=current_user_id(),
            ),
            url_for("UnitModelView.show", pk=unit.id),
            title=gettext("Dissolve %(unit)s", unit=f"{unit.code} – {unit.name}"),
            intro=gettext(
                "A unit is dissolved only when no member is on its rolls or those of its subunits."
            ),
            submit_label=gettext("Dissolve"),
        )

    @expose("/tree")
    @has_access
    @permission_name("tree")
    def tree(self):
        units = db.session.scalars(
            select(Unit).where(scope_clause(Unit, current_scope())).order_by(Unit.path)
        ).all()
        return self.render_template(
            "units/tree.html",
            units=units,
            counts=subtree_member_counts(db.session),
            kind_label=lambda value: label_for(UNIT_KIND_LABELS, value),
            title=gettext("Organisation tree"),
        )

    @expose("/roll/<int:pk>")
    @has_access
    @permission_name("roll")
    def roll(self, pk: int):
        """The members on the rolls of the unit's subtree on a date (default: today)."""
        unit = self.datamodel.get(pk, self._base_filters)
        if unit is None:
            abort(404)
        as_of_text = (request.args.get("as_of") or "").strip()
        try:
            day, error = parse_date(as_of_text, "as_of") or date.today(), None
        except ValidationFailed as refused:
            # No roll rather than today's under a date that was not asked for.
            day, error = None, translate(refused.message, refused.params)
        counted, hosted = roll_as_of(db.session, unit, day) if day else ([], [])
        page = self.render_template(
            "units/roll.html",
            unit=unit,
            day=format_date(day) if day else as_of_text,
            error=error,
            counted=counted,
            hosted=hosted,
            status_label=lambda value: label_for(STATUS_LABELS, value),
            title=gettext("Members on the rolls"),
        )
        return page, 400 if error else 200


class MergeForm(TextRuleForm):
    into_id = SelectField(_l("Unit that takes over"), choices=[], validate_choice=False)
    effective_on = DayMonthYearField(_l("Date"))
    decision_number = StringField(_l("Decision number"), validators=[Optional(), Length(max=60)])


class DissolveForm(TextRuleForm):
    effective_on = DayMonthYearField(_l("Date"))
    decision_number = StringField(_l("Decision number"), validators=[Optional(), Length(max=60)])


def unit_panel(unit_id: int) -> dict:
    unit = db.session.get(Unit, unit_id)
    if unit is None:
        return {}
    changes = db.session.scalars(
        select(UnitChange)
        .where(UnitChange.unit_id == unit.id)
        .order_by(UnitChange.effective_on, UnitChange.id)
    )
    sm = current_app.appbuilder.sm
    return {
        "merged_into": unit.merged_into,
        "history": [
            {
                "date": format_date(change.effective_on),
                "kind": label_for(UNIT_CHANGE_LABELS, change.kind),
                "old": change.old_value or "",
                "new": change.new_value or "",
                "decision": change.decision_number or "",
            }
            for change in changes
        ],
        "can_merge": unit.dissolved_on is None and sm.has_access("can_merge", "UnitModelView"),
        "can_dissolve": unit.dissolved_on is None
        and sm.has_access("can_dissolve", "UnitModelView"),
    }


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
        return check_unit_in_scope(unit_values(item), item_id)

    def pre_update(self, item) -> None:
        super().pre_update(item)
        record_unit_changes(db.session, item, user_id=current_user_id())

    def post_add(self, item) -> None:
        record_founding(db.session, item, user_id=current_user_id())
        db.session.commit()

    def _command(self, command):
        payload = self.json_object()
        if payload is None:
            return self.not_a_json_object()

        def run():
            unit = command(payload)
            return self.response(200, id=unit.id, unit_code=unit.code)

        return self.answering_domain_errors(run)

    @api_expose("/<int:pk>/merge", methods=["POST"])
    @protect()
    @safe
    @permission_name("merge")
    def merge(self, pk: int):
        """Merge this unit into another: {"into": id, "effective_on": "YYYY-MM-DD", "decision_number": str}.
        ---
        post:
          responses:
            200: {description: Merged; the successor's id and code}
            404: {$ref: '#/components/responses/404'}
            422: {$ref: '#/components/responses/422'}
        """
        if self.datamodel.get(pk, self._base_filters) is None:
            return self.response_404()
        return self._command(
            lambda p: merge_units(
                db.session,
                pk,
                scoped_unit_id(parse_int(p.get("into"), "into_id")),
                effective_on=parse_iso_date(p.get("effective_on"), "effective_on"),
                decision_number=p.get("decision_number"),
                user_id=current_user_id(),
            )
        )

    @api_expose("/<int:pk>/dissolve", methods=["POST"])
    @protect()
    @safe
    @permission_name("dissolve")
    def dissolve(self, pk: int):
        """Dissolve this unit: {"effective_on": "YYYY-MM-DD", "decision_number": str}.
        ---
        post:
          responses:
            200: {description: Dissolved}
            404: {$ref: '#/components/responses/404'}
            422: {$ref: '#/components/responses/422'}
        """
        if self.datamodel.get(pk, self._base_filters) is None:
            return self.response_404()
        return self._command(
            lambda p: dissolve_unit(
                db.session,
                pk,
                effective_on=parse_iso_date(p.get("effective_on"), "effective_on"),
                decision_number=p.get("decision_number"),
                user_id=current_user_id(),
            )
        )

    @api_expose("/resolve/<string:code>", methods=["GET"])
    @protect()
    @safe
    @permission_name("get")
    def resolve(self, code: str):
        """The unit a code stands for now (following merges).
        ---
        get:
          responses:
            200: {description: The current unit's id and code}
            404: {$ref: '#/components/responses/404'}
        """
        unit = resolve_unit_code(db.session, code)
        if unit is None or not in_scope_unit(unit.id):
            return self.response_404()
        return self.response(200, id=unit.id, unit_code=unit.code, name=unit.name)
