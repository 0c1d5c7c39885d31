"""The ledger on screen and in the API: list a member's events, record one, cancel one."""

from __future__ import annotations

from flask import abort, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.api import expose as api_expose
from flask_appbuilder.api import protect, safe
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from webapp.domain.events import EventInput, cancel_event, record_event
from webapp.domain.ledger import ACTIVE, EventKind
from webapp.domain.scope import scope_clause
from webapp.extensions import db
from webapp.forms import TextRuleForm
from webapp.labels import EVENT_COLUMNS, EVENT_KIND_LABELS, STATUS_LABELS, format_date, label_for
from webapp.models.ledger import MemberEvent
from webapp.models.member import Member
from webapp.models.unit import MEMBER_HOLDING_KINDS, Unit
from webapp.security import current_requester, current_scope, scoped_get
from webapp.views.adapters import run_on_form, run_on_screen
from webapp.views.base import (
    DangVienModelRestApi,
    DangVienModelView,
    DayMonthYearField,
    form_text,
    parse_int,
    parse_iso_date,
    parse_text,
)

RECORDABLE_KINDS = {
    kind: label for kind, label in EVENT_KIND_LABELS.items() if kind != EventKind.REVERSAL
}


class EventForm(TextRuleForm):
    kind = SelectField(
        _l("Event"), choices=[], validators=[InputRequired(message=_l("Choose the kind of event."))]
    )
    effective_on = DayMonthYearField(_l("Date"))
    decision_number = StringField(_l("Decision number"), validators=[Optional(), Length(max=60)])
    decision_on = DayMonthYearField(_l("Decision date"))
    decided_by = StringField(_l("Decided by"), validators=[Optional(), Length(max=255)])
    to_unit_id = SelectField(_l("To cell"), choices=[], validate_choice=False)
    other_organisation = StringField(
        _l("Other Party organisation"), validators=[Optional(), Length(max=255)]
    )
    arriving_as = SelectField(
        _l("Arriving as"),
        choices=[("", "—"), *((s, STATUS_LABELS[s]) for s in sorted(ACTIVE))],
        validate_choice=False,
    )
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])

    def event_input(self) -> EventInput:
        return EventInput(
            kind=self.kind.data,
            effective_on=self.effective_on.data,
            decision_number=self.decision_number.data,
            decision_on=self.decision_on.data,
            decided_by=self.decided_by.data,
            to_unit_id=int(self.to_unit_id.data)
            if (self.to_unit_id.data or "").isdigit()
            else None,
            other_organisation=self.other_organisation.data,
            arriving_as=self.arriving_as.data or None,
            note=self.note.data,
        )


def cell_choices() -> list[tuple[str, str]]:
    cells = db.session.execute(
        select(Unit.id, Unit.code, Unit.name)
        .where(
            Unit.kind.in_(list(MEMBER_HOLDING_KINDS)),
            Unit.dissolved_on.is_(None),
            scope_clause(Unit, current_scope()),
        )
        .order_by(Unit.sort_path)
    )
    return [("", "—")] + [(str(id_), f"{code} – {name}") for id_, code, name in cells]


class MemberEventView(DangVienModelView):
    """Read-only list of events (as a tab of the member page); record and cancel are
    separate actions, because the ledger is never edited."""

    datamodel = SQLAInterface(MemberEvent)
    route_base = "/memberevents"
    list_title = _l("Events")
    show_title = _l("Member event")
    base_permissions = ["can_list", "can_show", "can_record", "can_cancel"]
    label_columns = dict(EVENT_COLUMNS)
    list_columns = [
        "effective_on",
        "kind",
        "decision_number",
        "decision_on",
        "from_unit",
        "to_unit",
        "other_organisation",
        "note",
        "recorded_by",
        "reverses",
    ]
    show_columns = [
        "member",
        "effective_on",
        "kind",
        "decision_number",
        "decision_on",
        "decided_by",
        "from_unit",
        "to_unit",
        "other_organisation",
        "arriving_as",
        "note",
        "reverses",
        "recorded_by",
        "recorded_at",
    ]
    search_columns = ["kind", "effective_on", "decision_number"]
    base_order = ("effective_on", "asc")
    formatters_columns = {
        "kind": lambda value: label_for(EVENT_KIND_LABELS, value),
        "arriving_as": lambda value: label_for(STATUS_LABELS, value),
        "effective_on": format_date,
        "decision_on": format_date,
    }

    def _member(self, member_id: int) -> Member:
        member = scoped_get(Member, member_id)
        if member is None:
            abort(404)
        return member

    @expose("/record/<int:member_id>", methods=["GET", "POST"])
    @has_access
    @permission_name("record")
    def record(self, member_id: int):
        member = self._member(member_id)
        form = EventForm()
        form.kind.choices = [("", "—"), *RECORDABLE_KINDS.items()]
        form.to_unit_id.choices = cell_choices()
        if (
            request.method == "POST"
            and form.validate()
            and run_on_form(
                form,
                lambda: record_event(
                    db.session, current_requester(), member.id, form.event_input()
                ),
                gettext("The event has been recorded."),
            )
        ):
            return redirect(url_for("MemberModelView.show", pk=member.id))
        return self.render_template(
            "events/record.html", form=form, member=member, title=gettext("Record an event")
        )

    @expose("/cancel/<int:event_id>", methods=["GET", "POST"])
    @has_access
    @permission_name("cancel")
    def cancel(self, event_id: int):
        event = scoped_get(MemberEvent, event_id)
        if event is None:
            abort(404)
        form = FlaskForm()
        if request.method == "POST" and form.validate():
            run_on_screen(
                lambda: cancel_event(
                    db.session,
                    current_requester(),
                    event.id,
                    reason=form_text("reason", multiline=True),
                ),
                gettext("The event has been cancelled."),
            )
            return redirect(url_for("MemberModelView.show", pk=event.member_id))
        return self.render_template(
            "events/cancel.html",
            form=form,
            event=event,
            kind_label=label_for(EVENT_KIND_LABELS, event.kind),
            effective_on=format_date(event.effective_on),
            title=gettext("Cancel an event"),
        )


class MemberEventApi(DangVienModelRestApi):
    """Events: list and show; POST records through the same command as the screen."""

    resource_name = "events"
    datamodel = SQLAInterface(MemberEvent)
    allow_browser_login = True
    include_route_methods = {"get", "get_list", "info", "post"}
    list_columns = [
        "id",
        "member.id",
        "kind",
        "effective_on",
        "decision_number",
        "decision_on",
        "decided_by",
        "from_unit.code",
        "to_unit.id",
        "to_unit.code",
        "other_organisation",
        "arriving_as",
        "reverses.id",
        "note",
        "recorded_at",
    ]
    show_columns = list_columns
    add_columns = [
        "member",
        "kind",
        "effective_on",
        "decision_number",
        "decision_on",
        "decided_by",
        "to_unit",
        "other_organisation",
        "arriving_as",
        "reverses",
        "note",
    ]
    search_columns = ["member", "kind", "effective_on", "to_unit"]
    order_columns = ["effective_on", "id"]
    base_order = ("id", "asc")

    @api_expose("/", methods=["POST"])
    @protect()
    @safe
    @permission_name("post")
    def post(self):
        """Record an event for a member.
        ---
        post:
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    member: {type: integer}
                    kind: {type: string}
                    effective_on: {type: string, format: date}
                    decision_number: {type: string}
                    decision_on: {type: string, format: date}
                    decided_by: {type: string}
                    to_unit: {type: integer}
                    other_organisation: {type: string}
                    arriving_as: {type: string}
                    reverses: {type: integer}
                    note: {type: string}
          responses:
            201: {description: Event recorded}
            400: {$ref: '#/components/responses/400'}
            404: {$ref: '#/components/responses/404'}
            422: {$ref: '#/components/responses/422'}
        """
        payload = self.json_object()
        if payload is None:
            return self.not_a_json_object()

        def run():
            data = EventInput(
                kind=parse_text(payload.get("kind"), "kind") or "",
                effective_on=parse_iso_date(payload.get("effective_on"), "effective_on"),
                decision_number=parse_text(payload.get("decision_number"), "decision_number"),
                decision_on=parse_iso_date(payload.get("decision_on"), "decision_on"),
                decided_by=parse_text(payload.get("decided_by"), "decided_by"),
                to_unit_id=parse_int(payload.get("to_unit"), "to_unit_id"),
                other_organisation=parse_text(
                    payload.get("other_organisation"), "other_organisation"
                ),
                arriving_as=parse_text(payload.get("arriving_as"), "arriving_as"),
                reverses_id=parse_int(payload.get("reverses"), "reverses_id"),
                note=parse_text(payload.get("note"), "note", multiline=True),
            )
            member_id = parse_int(payload.get("member"), "member")
            if member_id is None:
                return self.response_404()
            event = record_event(db.session, current_requester(), member_id, data)
            return self.response(201, id=event.id)

        return self.answering_domain_errors(run)
