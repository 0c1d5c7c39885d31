"""Organisation units: screens and REST API."""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from flask import abort, current_app, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.api import expose as api_expose
from flask_appbuilder.api import protect, safe
from flask_appbuilder.models.sqla.filters import FilterNotIn
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import Form, SelectField, StringField
from wtforms.validators import Length, Optional

from webapp.domain.dates import parse_date
from webapp.domain.errors import FieldErrors, ValidationFailed
from webapp.domain.reports import count_subtree_members
from webapp.domain.rolls import roll_as_of
from webapp.domain.units import (
    delete_unit,
    dissolve_unit,
    edit_unit,
    found_unit,
    may_delete_unit,
    may_dissolve_unit,
    may_merge_unit,
    merge_successors,
    merge_units,
    resolve_unit_code,
    subtree_member_counts,
    tree_units,
    unit_problems,
)
from webapp.extensions import db
from webapp.forms import TextRuleForm
from webapp.labels import (
    STATUS_LABELS,
    UNIT_CHANGE_LABELS,
    UNIT_COLUMNS,
    UNIT_KIND_LABELS,
    format_date,
    format_stored_value,
    label_for,
)
from webapp.models.member import ON_THE_ROLLS, Member
from webapp.models.unit import MEMBER_HOLDING_KINDS, Unit, UnitChange
from webapp.security import SCOPE_FILTER, current_requester, current_scope, in_scope_unit
from webapp.views.adapters import RecordCommands, run_on_form
from webapp.views.base import (
    CommandInterface,
    DangVienModelRestApi,
    DangVienModelView,
    DayMonthYearField,
    choice_field,
    date_field,
    date_formatters,
    edited_pk,
    parse_int,
    parse_iso_date,
    parse_text,
)
from webapp.views.errors import DomainRule, translate
from webapp.views.members import MemberModelView

UNIT_FIELDS = ["code", "name", "kind", "parent", "founded_on", "dissolved_on"]


def unit_form_values(form: Form) -> dict:
    values = {name: form[name].data for name in UNIT_FIELDS}
    parent = values.pop("parent")
    values["parent_id"] = parent.id if parent is not None else None
    return values


def check_unit_form(form: Form) -> FieldErrors:
    """The command's own checks, shown on the form's fields before it is sent on."""
    return unit_problems(
        db.session, current_requester(), unit_form_values(form), unit_id=edited_pk()
    )


UNIT_COMMANDS = RecordCommands(add=found_unit, edit=edit_unit, delete=delete_unit)
unit_rule = DomainRule(check_unit_form, aliases={"parent_id": "parent"})


class UnitModelView(DangVienModelView):
    datamodel = CommandInterface(Unit)
    record_commands = UNIT_COMMANDS
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
    base_order = ("sort_path", "asc")
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
    # Pick-lists in the tree's order, siblings by the natural order of their codes.
    order_rel_fields = {"parent": ("sort_path", "asc")}
    show_template = "units/show.html"
    related_views = [MemberModelView]
    show_after_add = True  # a founded unit: its page (members, history)

    def render_template(self, template, **kwargs):
        if template == self.show_template and "pk" in kwargs:
            kwargs["unit_panel"] = unit_panel(int(kwargs["pk"]))
            # The page (its <title> and heading) is named after the unit it shows.
            kwargs["title"] = kwargs["unit_panel"].get("title") or kwargs.get("title")
        return super().render_template(template, **kwargs)

    def deletable_rows(self, pks: list) -> set:
        # Only a unit entered by mistake offers its delete button; others are dissolved.
        return may_delete_unit(db.session, current_requester(), [int(pk) for pk in pks])

    def _unit_or_404(self, pk: int) -> Unit:
        unit = self.datamodel.get(pk, self._base_filters)
        if unit is None:
            abort(404)
        return unit

    def _run_command(self, form: FlaskForm, command, back_url: str, **render):
        """Validate the form, run the command; its refusals go back onto the form."""
        if (
            request.method == "POST"
            and form.validate()
            and run_on_form(form, command, gettext("Saved."), fallback="effective_on")
        ):
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
            for u in db.session.scalars(merge_successors(unit, current_scope()))
        ]
        into_id = int(form.into_id.data) if (form.into_id.data or "").isdigit() else None
        return self._run_command(
            form,
            lambda: merge_units(
                db.session,
                current_requester(),
                unit.id,
                into_id,
                effective_on=form.effective_on.data,
                decision_number=form.decision_number.data,
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
                current_requester(),
                unit.id,
                effective_on=form.effective_on.data,
                decision_number=form.decision_number.data,
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
        opened = {
            int(v)
            for v in request.args.getlist("open")
            if v.isascii() and v.isdigit() and len(v) < 19
        }
        scope = current_scope()
        shown, everything = tree_units(db.session, scope, opened, TREE_WHOLE_UNITS)
        kinds = {kind: label_for(UNIT_KIND_LABELS, kind) for kind in {row.kind for row in shown}}
        top = min((row.path.count("/") for row in shown), default=0)
        tree_url = url_for("UnitModelView.tree")
        show_url = url_for("UnitModelView.show", pk=0)[:-1]
        counts = subtree_member_counts(db.session, {row.id for row in shown}, scope)

        def toggle(row, depth: int) -> tuple[str, str] | tuple[None, None]:
            """(symbol, address) of the link that opens or closes a unit's children."""
            if everything or not row.has_children or depth == top:
                return None, None
            now = opened - {row.id} if row.id in opened else opened | {row.id}
            query = "&".join(f"open={unit_id}" for unit_id in sorted(now))
            return ("▾" if row.id in opened else "▸"), f"{tree_url}?{query}#u{row.id}"

        # Everything a row shows, worked out here: the template only writes it out (a
        # province's tree has ~600 rows; calls from the template cost ~10× more).
        entries = []
        for row in shown:
            depth = row.path.count("/")
            symbol, address = toggle(row, depth)
            entries.append(
                TreeEntry(
                    id=row.id,
                    code=row.code,
                    name=row.name,
                    address=f"{show_url}{row.id}",
                    indent=8 + 22 * max(depth - 2, 0),
                    toggle_symbol=symbol,
                    toggle_address=address,
                    kind=kinds[row.kind],
                    members=counts.get(row.id, 0),
                    dissolved=row.dissolved_on is not None,
                )
            )
        return self.render_template(
            "units/tree.html",
            entries=entries,
            everything=everything,
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


class TreeEntry(NamedTuple):
    """One row of the organisation tree as the template writes it."""

    id: int
    code: str
    name: str
    address: str
    indent: int
    toggle_symbol: str | None
    toggle_address: str | None
    kind: str
    members: int
    dissolved: bool


# A tree of this many units is shown whole; a larger one (a province has ~6,000 units,
# 1.3 MB of HTML) shows its top two levels and opens a unit's children on demand
# (webapp.domain.units.tree_units).
TREE_WHOLE_UNITS = 400


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
    requester = current_requester()
    records = dict(
        db.session.execute(
            select(Member.status, func.count(Member.id))
            .where(Member.unit_id == unit.id)
            .group_by(Member.status)
        ).all()
    )
    return {
        "title": f"{unit.code} – {unit.name}",
        "merged_into": unit.merged_into,
        "history": [
            {
                "date": format_date(change.effective_on),
                "kind": label_for(UNIT_CHANGE_LABELS, change.kind),
                "old": format_stored_value(change.old_value),
                "new": format_stored_value(change.new_value),
                "decision": change.decision_number or "",
            }
            for change in changes
        ],
        # What each count counts: the rolls of the whole subtree (as the tree and the roll
        # show them), and the records kept in this unit itself, former members included
        # (the "members" tab lists those).
        "on_rolls": count_subtree_members(db.session, unit),
        "records": sum(records.values()),
        "records_on_rolls": sum(records.get(status, 0) for status in ON_THE_ROLLS),
        "holds_members": unit.kind in MEMBER_HOLDING_KINDS,
        # Offered only where the rules allow them (the domain's predicates): the province
        # root has nothing to merge into, nor is it dissolved while it has members.
        "can_merge": sm.has_access("can_merge", "UnitModelView")
        and may_merge_unit(db.session, requester, unit),
        "can_dissolve": sm.has_access("can_dissolve", "UnitModelView")
        and may_dissolve_unit(db.session, requester, unit),
    }


class UnitApi(DangVienModelRestApi):
    resource_name = "units"
    datamodel = CommandInterface(Unit)
    record_commands = UNIT_COMMANDS
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
    base_order = ("sort_path", "asc")

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
        return self._command(
            lambda p: merge_units(
                db.session,
                current_requester(),
                pk,
                parse_int(p.get("into"), "into_id"),
                effective_on=parse_iso_date(p.get("effective_on"), "effective_on"),
                decision_number=parse_text(p.get("decision_number"), "decision_number"),
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
        return self._command(
            lambda p: dissolve_unit(
                db.session,
                current_requester(),
                pk,
                effective_on=parse_iso_date(p.get("effective_on"), "effective_on"),
                decision_number=parse_text(p.get("decision_number"), "decision_number"),
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
