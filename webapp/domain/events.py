"""Commands on the ledger: record an event, cancel one, open a new member's ledger.

Each finds the member in the requester's scope, validates (fields, then the replay of the
member's whole ledger with the new event) and then writes the event, the member's derived
fields and its periods in one transaction (webapp/domain/commands.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from webapp.domain.cards import withdraw_card_of_leaver
from webapp.domain.commands import Requester, command
from webapp.domain.errors import N_, FieldErrors, Forbidden
from webapp.domain.ledger import (
    ACTIVE,
    EVENT_KINDS,
    LEAVING,
    NEEDS_TO_UNIT,
    EventKind,
    Gap,
    LedgerEvent,
    MemberState,
    Period,
    Standing,
    check_new_event,
    replay,
)
from webapp.domain.party_age import interruption_days, party_age
from webapp.domain.scope import find_in_scope, find_member, unit_in_scope
from webapp.models.ledger import MemberEvent, MemberPeriod
from webapp.models.member import Member
from webapp.models.unit import MEMBER_HOLDING_KINDS, Unit

# Kinds that name another organisation outside this instance.
NEEDS_OTHER_ORGANISATION = frozenset({EventKind.TRANSFER_OUT})


@dataclass
class EventInput:
    kind: str
    effective_on: date | None
    decision_number: str | None = None
    decision_on: date | None = None
    decided_by: str | None = None
    to_unit_id: int | None = None
    other_organisation: str | None = None
    arriving_as: str | None = None
    reverses_id: int | None = None
    note: str | None = None


def as_ledger_event(event: MemberEvent) -> LedgerEvent:
    return LedgerEvent(
        id=event.id,
        kind=event.kind,
        effective_on=event.effective_on,
        to_unit_id=event.to_unit_id,
        reverses_id=event.reverses_id,
        arriving_as=event.arriving_as,
    )


def ledger_of(session: Session, member_id: int) -> list[LedgerEvent]:
    rows = session.scalars(
        select(MemberEvent).where(MemberEvent.member_id == member_id).order_by(MemberEvent.id)
    )
    return [as_ledger_event(row) for row in rows]


def check_event_fields(
    session: Session, data: EventInput, today: date, units: Mapping[int, Unit] | None = None
) -> FieldErrors:
    """The event's own fields; `units`: units by id already loaded (else read here)."""
    errors = FieldErrors()
    if data.kind not in EVENT_KINDS:
        errors.add("kind", N_("Choose the kind of event."))
    if data.effective_on is None:
        errors.add("effective_on", N_("The date of the event is required."))
    elif data.effective_on > today:
        errors.add("effective_on", N_("The date cannot be in the future."))
    if data.decision_on is not None:
        if data.decision_on > today:
            errors.add("decision_on", N_("The date cannot be in the future."))
        elif (
            data.effective_on is not None
            and data.decision_on > data.effective_on
            and data.kind != EventKind.REVERSAL
        ):
            errors.add(
                "decision_on", N_("The decision cannot be dated after the event it decides.")
            )
    if data.kind in NEEDS_TO_UNIT and data.to_unit_id is None:
        errors.add("to_unit_id", N_("Choose the Party cell the member goes to."))
    if data.to_unit_id is not None:
        unit = units.get(data.to_unit_id) if units is not None else None
        if unit is None:
            unit = session.get(Unit, data.to_unit_id)
        if unit is None:
            errors.add("to_unit_id", N_("The unit does not exist."))
        elif unit.kind not in MEMBER_HOLDING_KINDS:
            errors.add(
                "to_unit_id",
                N_("Members belong to a Party cell; %(unit)s is not a cell."),
                unit=unit.name,
            )
        elif (
            unit.dissolved_on is not None
            and data.effective_on
            and unit.dissolved_on <= data.effective_on
        ):
            errors.add("to_unit_id", N_("The unit %(unit)s has been dissolved."), unit=unit.name)
    if data.kind in NEEDS_OTHER_ORGANISATION and not (data.other_organisation or "").strip():
        errors.add("other_organisation", N_("Name the Party organisation the member transfers to."))
    for field, limit in (
        ("decision_number", 60),
        ("decided_by", 255),
        ("other_organisation", 255),
        ("note", 2000),
    ):
        if len(getattr(data, field) or "") > limit:
            errors.add(field, N_("At most %(limit)s characters."), limit=limit)
    if data.arriving_as is not None and data.arriving_as not in ACTIVE:
        errors.add("arriving_as", N_("A member arrives as probationary or official."))
    if data.kind == EventKind.REVERSAL and data.reverses_id is None:
        errors.add("reverses_id", N_("Choose the event to cancel."))
    return errors


def state_fields(
    state: MemberState,
    today: date,
    *,
    admitted_on: date | None,
    card_issued_on: date | None,
) -> dict:
    """The member fields the replayed `state` derives (the record's `admitted_on` and
    `card_issued_on` as they stand before it is written)."""
    fields = {"host_unit_id": state.host_unit_id, "away": state.away, "activity": state.activity}
    if state.standing is not None:
        fields["status"] = state.standing
    if state.unit_id is not None:
        fields["unit_id"] = state.unit_id
    if state.first_admitted_on is not None:
        admitted_on = fields["admitted_on"] = state.first_admitted_on
    if state.official_since is not None or state.readmitted:
        # A re-admitted member is probationary again until recognised anew.
        fields["official_on"] = state.official_since
    age = party_age(state, today, admission_decision_on=admitted_on, card_issued_on=card_issued_on)
    fields["party_age_from"] = age.start if age else None
    return fields


def period_rows(
    member_id: int | None, state: MemberState, admitted_on: date | None, card_issued_on
) -> list[dict]:
    """The member's periods (MemberPeriod columns) from the replayed `state`."""
    counted_from = state.first_admitted_on or admitted_on or card_issued_on
    return [
        {
            "member_id": member_id,
            "unit_id": period.unit_id,
            "standing": period.standing,
            "starts_on": period.starts_on,
            "ends_on": period.ends_on,
            "host_unit_id": period.host_unit_id,
            "away": period.away,
            "activity": period.activity,
            "party_age_from": period_party_age_from(period, state.gaps, counted_from),
        }
        for period in state.periods
    ]


def apply_state(session: Session, member: Member, state: MemberState, today: date) -> None:
    """Write the replayed state onto the member and rebuild its periods."""
    for name, value in state_fields(
        state,
        today,
        admitted_on=member.admitted_on,
        card_issued_on=member.card_issued_on,
    ).items():
        setattr(member, name, value)
    session.execute(delete(MemberPeriod).where(MemberPeriod.member_id == member.id))
    session.add_all(
        MemberPeriod(**row)
        for row in period_rows(member.id, state, member.admitted_on, member.card_issued_on)
    )


def period_party_age_from(
    period: Period, gaps: tuple[Gap, ...], counted_from: date | None
) -> date | None:
    """Where Party age starts during `period`: the admission moved forward by the
    interruptions before it; None in a probationary period (not yet, or no longer after a
    re-admission, recognised official)."""
    if period.standing != Standing.OFFICIAL or counted_from is None:
        return None
    return counted_from + timedelta(days=interruption_days(gaps, period.starts_on))


@command("event.record")
def record_event(
    session: Session,
    requester: Requester,
    member_id: int,
    data: EventInput,
    *,
    today: date | None = None,
) -> MemberEvent:
    """Validate and record one event; raises ValidationFailed or IllegalEvent, writing nothing.
    A reversal is a cancellation (`cancel_event`), and needs that right."""
    today = today or date.today()
    if data.kind == EventKind.REVERSAL and not requester.may("event.cancel"):
        raise Forbidden(N_("Your role does not allow this action."))
    with session.no_autoflush:
        member = find_member(session, requester, member_id)
        errors = check_event_fields(session, data, today)
        if (
            data.to_unit_id is not None
            and "to_unit_id" not in errors.as_dict()
            and not unit_in_scope(session, data.to_unit_id, requester.scope)
        ):
            # A unit the requester may not see does not exist for them.
            errors.add("to_unit_id", N_("The unit does not exist."))
        errors.raise_if_any()
        existing = ledger_of(session, member_id)
        candidate = LedgerEvent(
            id=None,
            kind=data.kind,
            effective_on=data.effective_on,
            to_unit_id=data.to_unit_id,
            reverses_id=data.reverses_id,
            arriving_as=data.arriving_as,
            sequence=len(existing) + 1,
        )
        if data.kind == EventKind.REVERSAL:
            target = next((e for e in existing if e.id == data.reverses_id), None)
            if target is not None:
                # A cancellation is dated when it is decided; it removes the target wherever it stands.
                candidate = LedgerEvent(
                    id=None, kind=data.kind, effective_on=data.effective_on, reverses_id=target.id
                )
        state = check_new_event(existing, candidate)
    event = MemberEvent(
        member_id=member.id,
        kind=data.kind,
        effective_on=data.effective_on,
        decision_number=(data.decision_number or "").strip() or None,
        decision_on=data.decision_on,
        decided_by=(data.decided_by or "").strip() or None,
        from_unit_id=member.unit_id if existing else None,  # a new record comes from nowhere here
        to_unit_id=data.to_unit_id,
        other_organisation=(data.other_organisation or "").strip() or None,
        arriving_as=data.arriving_as,
        reverses_id=data.reverses_id,
        note=(data.note or "").strip() or None,
        recorded_by_id=requester.user_id,
    )
    session.add(event)
    session.flush()
    apply_state(session, member, state, today)
    if data.kind in LEAVING:
        withdraw_card_of_leaver(session, member, data.effective_on)
    return event


@command("event.cancel")
def cancel_event(
    session: Session,
    requester: Requester,
    event_id: int,
    *,
    reason: str | None = None,
    today: date | None = None,
) -> MemberEvent:
    """Cancel an event by a reversing event dated today (the ledger is never edited)."""
    today = today or date.today()
    event = find_in_scope(session, MemberEvent, event_id, requester.scope)
    return record_event(
        session,
        requester,
        event.member_id,
        EventInput(
            kind=EventKind.REVERSAL,
            effective_on=today,
            reverses_id=event.id,
            note=(reason or "").strip(),
        ),
        today=today,
    )


@command("member.create")
def open_ledger(
    session: Session, requester: Requester, member_id: int, *, today: date | None = None
) -> None:
    """Open the ledger of a record saved without one (imports, the demo, test fixtures)."""
    member = find_member(session, requester, member_id)
    record_opening_events(session, requester, member, today=today)


def opening_events(member: Member) -> list[EventInput]:
    """The opening events of a member entered from the paper form: admission to the
    member's cell on the admission date and, if given, official recognition."""
    opening = [
        EventInput(
            kind=EventKind.ADMISSION,
            effective_on=member.admitted_on,
            to_unit_id=member.unit_id,
            note="Từ phiếu đảng viên",
        )
    ]
    if member.official_on:
        opening.append(
            EventInput(
                kind=EventKind.OFFICIAL_RECOGNITION,
                effective_on=member.official_on,
                note="Từ phiếu đảng viên",
            )
        )
    return opening


def record_opening_events(
    session: Session, requester: Requester, member: Member, *, today: date | None = None
) -> None:
    """Record the opening events (`opening_events`) of a new member. Called by the
    commands that create a member, inside their transaction."""
    for data in opening_events(member):
        record_event(session, requester, member.id, data, today=today)


@dataclass
class PlannedEvent:
    """An event checked by `plan_opening`, with the member fields it derives once
    recorded (what `record_event` writes, computed without writing)."""

    data: EventInput
    from_unit_id: int | None
    state: MemberState


def plan_opening(
    session: Session,
    member: Member,
    *,
    in_scope,
    today: date,
    units: Mapping[int, Unit] | None = None,
) -> list[PlannedEvent]:
    """The checks `record_event` makes of each opening event of a new `member` (not
    saved; a bulk import writes thousands at once), in memory: the event's fields, the
    unit in scope (`in_scope(unit_id)`), the replay of the ledger so far with the event.
    Raises ValidationFailed or IllegalEvent as `record_event` would."""
    planned: list[PlannedEvent] = []
    existing: list[LedgerEvent] = []
    unit_id = member.unit_id
    for data in opening_events(member):
        errors = check_event_fields(session, data, today, units)
        if (
            data.to_unit_id is not None
            and "to_unit_id" not in errors.as_dict()
            and not in_scope(data.to_unit_id)
        ):
            errors.add("to_unit_id", N_("The unit does not exist."))
        errors.raise_if_any()
        candidate = LedgerEvent(
            id=None,
            kind=data.kind,
            effective_on=data.effective_on,
            to_unit_id=data.to_unit_id,
            reverses_id=data.reverses_id,
            arriving_as=data.arriving_as,
            sequence=len(existing) + 1,
        )
        state = check_new_event(existing, candidate)
        planned.append(PlannedEvent(data, unit_id if existing else None, state))
        # The event as replay sees it once recorded (ids in ledger order).
        existing.append(replace(candidate, id=len(existing) + 1, sequence=0))
        if state.unit_id is not None:
            unit_id = state.unit_id
    return planned


def event_row(member_id: int | None, planned: PlannedEvent, recorded_by_id) -> dict:
    """The MemberEvent columns `record_event` writes for a planned event."""
    data = planned.data
    return {
        "member_id": member_id,
        "kind": data.kind,
        "effective_on": data.effective_on,
        "decision_number": (data.decision_number or "").strip() or None,
        "decision_on": data.decision_on,
        "decided_by": (data.decided_by or "").strip() or None,
        "from_unit_id": planned.from_unit_id,
        "to_unit_id": data.to_unit_id,
        "other_organisation": (data.other_organisation or "").strip() or None,
        "arriving_as": data.arriving_as,
        "reverses_id": data.reverses_id,
        "note": (data.note or "").strip() or None,
        "recorded_by_id": recorded_by_id,
    }


def member_state(session: Session, member_id: int, as_of: date | None = None) -> MemberState:
    return replay(ledger_of(session, member_id), until=as_of)
