"""Party members: screens and REST API."""

from __future__ import annotations

from datetime import date

from flask import current_app, request
from flask_appbuilder.models.sqla.filters import FilterIn
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, select
from sqlalchemy import inspect as sqla_inspect
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.util import identity_key
from wtforms import BooleanField, Form

from webapp.domain.cards import may_propose_card, may_record_card, open_card_proposal
from webapp.domain.catalogues import MEMBER_FIELD_CATALOGUES
from webapp.domain.dates import parse_date
from webapp.domain.errors import FieldErrors, ValidationFailed
from webapp.domain.events import as_ledger_event
from webapp.domain.ledger import EventKind, replay
from webapp.domain.members import (
    create_member,
    delete_member,
    edit_member,
    may_delete_member,
    member_problems,
    record_values,
    trimmed,
)
from webapp.domain.party_age import party_age
from webapp.domain.records import may_apply_supplement
from webapp.domain.transfers import has_partner
from webapp.extensions import db
from webapp.labels import (
    ACTIVITY_LABELS,
    BIRTH_DATE_PRECISION_LABELS,
    COMPLETENESS_LABELS,
    EVENT_KIND_LABELS,
    MEMBER_COLUMNS,
    ROW_LABELS,
    SEX_LABELS,
    STATUS_LABELS,
    format_date,
    format_stored_value,
    label_for,
)
from webapp.models.files import MemberDocument, MemberPhoto
from webapp.models.ledger import MemberEvent
from webapp.models.member import ON_THE_ROLLS, Member
from webapp.models.record import MemberChange
from webapp.models.sync import PeerKind, SyncPeer
from webapp.models.unit import MEMBER_HOLDING_KINDS, Unit
from webapp.security import SCOPE_FILTER, current_requester
from webapp.views.adapters import RecordCommands
from webapp.views.base import (
    CatalogueSelectField,
    DangVienModelRestApi,
    DangVienModelView,
    SearchableCommandInterface,
    choice_field,
    date_field,
    date_formatters,
    edited_pk,
    page_fact,
)
from webapp.views.errors import DomainRule, translate
from webapp.views.filters import record_options
from webapp.views.member_list import FilterInUnit, FilterInUnitSubtree, MemberListMixin

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
QUALIFICATION_FIELDS = [
    "general_education",
    "professional_level",
    "professional_field",
    "academic_title",
    "political_theory",
    "state_management",
    "foreign_languages",
    "it_level",
]
CAREER_FIELDS = [
    "occupation_at_admission",
    "occupation",
    "party_position",
    "government_position",
    "health",
    "veteran",
    "war_invalid",
    "martyr_family",
]
MEMBER_FIELDS = IDENTITY_FIELDS + PARTY_FIELDS + QUALIFICATION_FIELDS + CAREER_FIELDS
# Derived from the ledger once the member exists: changed by recording events.
LEDGER_FIELDS = ["unit", "status", "admitted_on", "official_on"]
# The card registry's current valid card: changed only by the card commands (issue,
# record a card held, withdraw), never typed on the member form.
CARD_FIELDS = ["card_number", "card_issued_on"]
ENTERED_FIELDS = [f for f in MEMBER_FIELDS if f not in CARD_FIELDS]
EDITABLE_PARTY_FIELDS = [f for f in PARTY_FIELDS if f not in LEDGER_FIELDS + CARD_FIELDS]
# A new record enters the ledger by its opening events: admission and, if dated, recognition.
OPENING_STATUS_LABELS = {s: STATUS_LABELS[s] for s in ON_THE_ROLLS}
DATE_FIELDS = ["birth_date", "admitted_on", "official_on", "youth_union_on", "card_issued_on"]


def member_values(form: Form, base: Member | None = None) -> dict:
    """The form's values for the rules; fields it does not show (the ledger's) from `base`."""
    values = record_values(base) if base is not None else {}
    values.update({name: form[name].data for name in MEMBER_FIELDS if name in form})
    if "unit" in values:
        unit = values.pop("unit")
        values["unit_id"] = unit.id if unit is not None else None
    return trimmed(values)


def check_member_form(form: Form) -> FieldErrors:
    """The command's own checks, shown on the form's fields before it is sent on."""
    pk = edited_pk()
    base = db.session.get(Member, pk) if pk is not None else None
    return member_problems(
        db.session,
        current_requester(),
        member_values(form, base),
        member_id=pk,
        member_number_pattern=member_number_pattern(),
    )


def member_number_pattern() -> str:
    return current_app.config["MEMBER_NUMBER_PATTERN"]


MEMBER_COMMANDS = RecordCommands(
    add=lambda session, requester, member: create_member(
        session, requester, member, member_number_pattern=member_number_pattern()
    ),
    edit=lambda session, requester, pk, changes: edit_member(
        session, requester, pk, changes, member_number_pattern=member_number_pattern()
    ),
    delete=delete_member,
)


# On the edit form the ledger dates are not shown; their conflicts with a changed birth
# date are reported on the birth date.
member_rule = DomainRule(check_member_form, aliases={"unit_id": "unit"}, fallback="birth_date")


class MemberModelView(MemberListMixin, DangVienModelView):
    datamodel = SearchableCommandInterface(Member)
    record_commands = MEMBER_COMMANDS
    list_title = _l("Party members")
    show_title = _l("Party member")
    add_title = _l("Add a Party member")
    edit_title = _l("Edit Party member")
    list_template = "members/list.html"
    label_columns = dict(MEMBER_COLUMNS)  # a copy: FAB adds its own labels to it
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
    search_columns = [
        "search_key",
        "status",
        "sex",
        "birth_date",
        "admitted_on",
        "official_on",
        "party_age_from",
        "completeness",
        "ethnicity",
        "religion",
    ]
    show_fieldsets = [
        (_l("Identity"), {"fields": IDENTITY_FIELDS}),
        (_l("Party"), {"fields": PARTY_FIELDS}),
        (_l("Qualifications"), {"fields": QUALIFICATION_FIELDS}),
        (_l("Career and circumstances"), {"fields": CAREER_FIELDS}),
    ]
    add_fieldsets = [
        (_l("Identity"), {"fields": IDENTITY_FIELDS}),
        (_l("Party"), {"fields": [f for f in PARTY_FIELDS if f not in CARD_FIELDS]}),
        (_l("Qualifications"), {"fields": QUALIFICATION_FIELDS}),
        (_l("Career and circumstances"), {"fields": CAREER_FIELDS}),
    ]
    edit_fieldsets = [
        (_l("Identity"), {"fields": IDENTITY_FIELDS}),
        (_l("Party"), {"fields": EDITABLE_PARTY_FIELDS}),
        (_l("Qualifications"), {"fields": QUALIFICATION_FIELDS}),
        (_l("Career and circumstances"), {"fields": CAREER_FIELDS}),
    ]
    add_columns = ENTERED_FIELDS
    edit_columns = IDENTITY_FIELDS + EDITABLE_PARTY_FIELDS + QUALIFICATION_FIELDS + CAREER_FIELDS
    related_views = []  # the repeating rows: set in webapp/views/__init__.py
    show_template = "members/show.html"
    # The clerk goes on with the new record (its tabs: work history, family, …).
    show_after_add = True
    formatters_columns = {
        "sex": lambda value: label_for(SEX_LABELS, value),
        "status": lambda value: label_for(STATUS_LABELS, value),
        "birth_date_precision": lambda value: label_for(BIRTH_DATE_PRECISION_LABELS, value),
        "completeness": lambda value: label_for(COMPLETENESS_LABELS, value),
        **date_formatters(*DATE_FIELDS),
    }
    add_form_extra_fields = edit_form_extra_fields = {
        "sex": choice_field(_l("Sex"), SEX_LABELS, member_rule, _l("Choose the sex.")),
        "status": choice_field(
            _l("Status"), OPENING_STATUS_LABELS, member_rule, _l("Choose the membership status.")
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
        # Yes/no: unticked is a valid answer (FAB would make a NOT NULL checkbox required).
        "veteran": BooleanField(_l("Veteran")),
        "martyr_family": BooleanField(_l("Family of a martyr")),
        **{
            field: CatalogueSelectField(MEMBER_COLUMNS[field], kind=kind, validators=[member_rule])
            for field, kind in MEMBER_FIELD_CATALOGUES.items()
        },
    }
    validators_columns = {
        name: [member_rule] for name in ("member_number", "birth_name", "citizen_id", "unit")
    }
    # Members belong to cells: offer only those in the unit picker.
    add_form_query_rel_fields = edit_form_query_rel_fields = {
        "unit": [["kind", FilterIn, list(MEMBER_HOLDING_KINDS)], SCOPE_FILTER]
    }
    # The cell pick-list in the tree's order, siblings by the natural order of their codes.
    order_rel_fields = {"unit": ("sort_path", "asc")}

    def render_template(self, template, **kwargs):
        if template == self.show_template and "pk" in kwargs:
            kwargs["member_panel"] = member_panel(int(kwargs["pk"]), request.args.get("as_of"))
            # The page (its <title> and heading) is named after the member it shows.
            kwargs["title"] = kwargs["member_panel"].get("title") or kwargs.get("title")
        return super().render_template(template, **kwargs)

    def _show(self, pk):
        # The member page's panel shows the events (and their units): read with the member.
        record_options()[self.datamodel.key] = (
            joinedload(Member.events).joinedload(MemberEvent.from_unit),
            joinedload(Member.events).joinedload(MemberEvent.to_unit),
        )
        return super()._show(pk)

    def page_facts(self, item) -> dict:
        # Asked with the tab counts: what the panels would each ask in a query of its own.
        return {
            "open_card_proposal": exists(open_card_proposal(item.id)),
            # As webapp/domain/transfers.py has_partner asks it.
            "has_partner": exists(
                select(SyncPeer.id).where(
                    SyncPeer.kind == PeerKind.PARTNER, SyncPeer.active.is_(True)
                )
            ),
            "has_photos": exists(select(MemberPhoto.id).where(MemberPhoto.member_id == item.id)),
            "has_documents": exists(
                select(MemberDocument.id).where(MemberDocument.member_id == item.id)
            ),
        }

    def deletable_rows(self, pks: list) -> set:
        # Only a record entered by mistake and never used offers its delete button.
        return may_delete_member(db.session, current_requester(), [int(pk) for pk in pks])


def member_panel(member_id: int, as_of_text: str | None) -> dict:
    """Status, unit and Party age (today or as of a date) and the events, for the member page."""
    member = db.session.get(Member, member_id)
    if member is None:
        return {}
    error = None
    as_of = None
    if as_of_text:
        try:
            as_of = parse_date(as_of_text, "as_of")
        except ValidationFailed as refused:
            error = translate(refused.message, refused.params)
    day = as_of or date.today()
    # The member's events once, with their units: for the standing (the ledger replayed
    # in the order recorded) and for the list of movements (in date order).
    if "events" in sqla_inspect(member).unloaded:
        events = list(
            db.session.scalars(
                select(MemberEvent)
                .where(MemberEvent.member_id == member.id)
                .options(joinedload(MemberEvent.from_unit), joinedload(MemberEvent.to_unit))
                .order_by(MemberEvent.effective_on, MemberEvent.id)
            )
        )
    else:  # read with the member (MemberModelView._show)
        events = list(member.events)
    state = replay([as_ledger_event(e) for e in sorted(events, key=lambda e: e.id)], until=day)
    age = party_age(
        state, day, admission_decision_on=member.admitted_on, card_issued_on=member.card_issued_on
    )
    # Mostly loaded already (the events' units): read only those that are not.
    wanted = [x for x in (state.unit_id, state.host_unit_id) if x]
    units = {x: db.session.identity_map.get(identity_key(Unit, x)) for x in wanted}
    missing = [x for x, unit in units.items() if unit is None]
    if missing:
        units.update(
            {u.id: u for u in db.session.scalars(select(Unit).where(Unit.id.in_(missing)))}
        )
    cancelled = {e.reverses_id for e in events if e.kind == EventKind.REVERSAL}
    sm = current_app.appbuilder.sm
    requester = current_requester()
    return {
        "as_of": as_of,
        "as_of_text": as_of_text if as_of or error else None,
        "error": error,
        "standing_label": label_for(STATUS_LABELS, state.standing)
        if state.standing
        else gettext("Not yet a member"),
        "activity_label": label_for(ACTIVITY_LABELS, state.activity)
        if state.activity != "normal"
        else "",
        "unit_text": _unit_text(units.get(state.unit_id)),
        "host_text": _unit_text(units.get(state.host_unit_id))
        or (gettext("Outside this Party organisation") if state.away else ""),
        "party_age_text": gettext(
            "%(years)s years %(months)s months", years=age.years, months=age.months
        )
        if age
        else "—",
        "events": [
            {
                "id": e.id,
                "date": format_date(e.effective_on),
                "kind": label_for(EVENT_KIND_LABELS, e.kind)
                + (
                    f" ({format_date(e.reverses.effective_on)} {label_for(EVENT_KIND_LABELS, e.reverses.kind)})"
                    if e.reverses
                    else ""
                ),
                "decision": " ".join(
                    x
                    for x in (
                        e.decision_number or "",
                        format_date(e.decision_on),
                        e.decided_by or "",
                    )
                    if x
                ),
                "from_unit": _unit_text(e.from_unit),
                "to": _unit_text(e.to_unit) or (e.other_organisation or ""),
                "note": e.note or "",
                "cancelled": e.id in cancelled,
                "is_reversal": e.kind == EventKind.REVERSAL,
            }
            for e in events
        ],
        "completeness": label_for(COMPLETENESS_LABELS, member.completeness),
        "missing": ", ".join(
            str(ROW_LABELS.get(name) or MEMBER_COLUMNS.get(name) or name)
            for name in (member.missing_fields or "").split(",")
            if name
        ),
        "history": [
            {
                "date": change.changed_at.strftime("%d/%m/%Y %H:%M"),
                "field": str(MEMBER_COLUMNS.get(change.field, change.field)),
                "old": format_stored_value(change.old_value),
                "new": format_stored_value(change.new_value),
                "who": change.changed_by.username if change.changed_by else "",
                "supplement": change.supplement.year if change.supplement else "",
            }
            for change in db.session.scalars(
                select(MemberChange)
                .where(MemberChange.member_id == member.id)
                .options(joinedload(MemberChange.changed_by), joinedload(MemberChange.supplement))
                .order_by(MemberChange.changed_at.desc(), MemberChange.id.desc())
                .limit(200)
            )
        ],
        # Offered only where the rules allow them (the domain's predicates): a member who
        # left is not proposed for a card nor given the yearly supplement.
        "can_supplement": sm.has_access("can_apply", "MemberSupplementView")
        and may_apply_supplement(requester, member),
        "can_propose_card": sm.has_access("can_propose", "CardBatchView")
        and may_propose_card(
            db.session, requester, member, has_open=page_fact("open_card_proposal")
        ),
        "can_record_card": sm.has_access("can_record", "PartyCardView")
        and may_record_card(requester, member),
        "title": f"{member.display_name} ({member.member_number})",
        "can_record": sm.has_access("can_record", "MemberEventView"),
        "can_cancel": sm.has_access("can_cancel", "MemberEventView"),
        # To a registered partner province, for a member on the rolls (docs/sync.md).
        "can_transfer": sm.has_access("can_export", "TransferView")
        and requester.may("transfer.export")
        and member.status in ACTIVE_STANDINGS
        and (
            has_partner(db.session)
            if page_fact("has_partner") is None
            else page_fact("has_partner")
        ),
    }


ACTIVE_STANDINGS = ("probationary", "official")


def _unit_text(unit: Unit | None) -> str:
    return f"{unit.code} – {unit.name}" if unit is not None else ""


class MemberApi(DangVienModelRestApi):
    resource_name = "members"
    datamodel = SearchableCommandInterface(Member)
    record_commands = MEMBER_COMMANDS
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
    show_columns = [
        "id",
        *IDENTITY_FIELDS,
        "unit.id",
        "unit.code",
        *PARTY_FIELDS[1:],
        *QUALIFICATION_FIELDS,
        *CAREER_FIELDS,
        "party_age_from",
        "completeness",
        "missing_fields",
        "version_id",
    ]
    add_columns = ENTERED_FIELDS
    # Unit, status and the ledger dates change by recording events (/api/v1/events/), the
    # card by the card commands (/api/v1/party-cards/record, /api/v1/card-proposals/).
    edit_columns = IDENTITY_FIELDS + EDITABLE_PARTY_FIELDS + QUALIFICATION_FIELDS + CAREER_FIELDS
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
    # (col: unit, opr: in_subtree | in_unit, value: id): as the list screen's unit filter.
    search_filters = {"unit": [FilterInUnitSubtree, FilterInUnit]}
