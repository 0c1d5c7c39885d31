"""Writing demo plans in bulk: the rows the commands would write, without their one-row
round trips (the province preset has ~100,000 members and ~1.5 million rows).

How the result is guaranteed to be what the commands produce: nothing here decides a
rule. Each member's events go through the ledger's own `check_new_event` one by one, as
`record_event` does (an illegal plan raises IllegalEvent here too); the member's derived
fields, its periods and Party-age start are computed by the same functions `apply_state`
calls (`party_age`, `period_party_age_from`); completeness by `completeness()`, the name
keys by `name_sort_key`/`search_key`; field history rows as the tracking hook writes them
(card recorded or withdrawn, each supplement's changes). tests/test_demo_preset.py builds
the same plans both ways, through the commands and here, and compares every table row by
row. What differs by design: no audit-log entries for the generated history (the demo is
not a person's work; the audit log starts with the first real change), and
`version_id` (the optimistic-lock counter) starts at 1, and the keys of member_period rows
(the commands rebuild a member's periods on every event, so theirs keep growing).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from webapp.demo.people import MemberPlan
from webapp.demo.shape import UnitSpec
from webapp.domain.completeness import completeness
from webapp.domain.events import period_party_age_from
from webapp.domain.ledger import LEAVING, EventKind, LedgerEvent, Standing, check_new_event
from webapp.domain.party_age import party_age
from webapp.domain.sync_capture import record_changes
from webapp.domain.vietnamese import name_sort_key, search_key
from webapp.models.cards import CardNumberCounter, PartyCard
from webapp.models.ledger import MemberEvent, MemberPeriod
from webapp.models.member import Member
from webapp.models.record import (
    Commendation,
    Discipline,
    FamilyRelation,
    MemberChange,
    MemberSupplement,
    TrainingCourse,
    TripAbroad,
    WorkPeriod,
)
from webapp.models.unit import Unit, UnitChange, UnitChangeKind, code_sort_key

ROW_TABLES = {
    model.__name__: model.__table__
    for model in (WorkPeriod, TrainingCourse, Commendation, Discipline, TripAbroad, FamilyRelation)
}
OPENING_NOTE = "Từ phiếu đảng viên"  # as webapp/domain/events.py record_opening_events
WITHDRAWN_NOTE = "Ra khỏi Đảng: thu hồi thẻ"  # as webapp/domain/cards.py withdraw_card_of_leaver
SUPPLEMENT_NOTE = "Phiếu bổ sung hồ sơ đảng viên hằng năm"  # as webapp/demo/writer.py


def _text(value) -> str | None:  # as webapp/domain/tracking.py
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


class Ids:
    """The next primary key of each table (the rows are inserted with their keys)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.next: dict[str, int] = {}

    def take(self, table) -> int:
        if table.name not in self.next:
            highest = self.session.scalar(select(func.max(table.c.id))) or 0
            self.next[table.name] = highest + 1
        value = self.next[table.name]
        self.next[table.name] += 1
        return value

    def settle(self) -> None:
        """Move PostgreSQL's sequences past the keys used."""
        if self.session.get_bind().dialect.name != "postgresql":
            return
        for name in self.next:
            self.session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {name}))"
                )
            )


def found_units_bulk(session: Session, specs: Iterable[UnitSpec], ids: Ids) -> dict[str, int]:
    """Units and their founding rows, as `found_unit` writes them; unit ids by code."""
    table, changes = Unit.__table__, UnitChange.__table__
    by_code: dict[str, tuple[int, str]] = {}
    sort_paths: dict[str, str] = {}
    units, founded = [], []
    for spec in specs:
        unit_id = ids.take(table)
        parent = by_code.get(spec.parent) if spec.parent else None
        path = f"{parent[1] if parent else '/'}{unit_id}/"
        by_code[spec.code] = (unit_id, path)
        # As the unit's insert hook writes it (webapp/models/unit.py): the parent's, then
        # this code's natural-order key.
        key = code_sort_key(spec.code)
        sort_paths[spec.code] = f"{sort_paths[spec.parent]} {key}" if parent else key
        units.append(
            {
                "id": unit_id,
                "code": spec.code,
                "name": spec.name,
                "kind": spec.kind,
                "parent_id": parent[0] if parent else None,
                "path": path,
                "sort_path": sort_paths[spec.code],
                "founded_on": spec.founded_on,
                "dissolved_on": None,
                "merged_into_id": None,
                "version_id": 1,
            }
        )
        founded.append(
            {
                "id": ids.take(changes),
                "unit_id": unit_id,
                "kind": UnitChangeKind.FOUNDED,
                "effective_on": spec.founded_on,
                "new_value": f"{spec.code} – {spec.name}",
                "recorded_by_id": None,
            }
        )
    session.execute(insert(table), units)
    session.execute(insert(changes), founded)
    # Around the ORM: the outbox is told (a no-op before `sync init`).
    record_changes(session, "unit", [row["id"] for row in units])
    record_changes(session, "unit_change", [row["id"] for row in founded])
    return {code: unit_id for code, (unit_id, _) in by_code.items()}


class Batch:
    """The rows of some members, inserted together."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {}

    def add(self, table, row: dict[str, Any]) -> None:
        self.rows.setdefault(table.name, []).append(row)

    def write(self, session: Session) -> None:
        from webapp.models import metadata

        connection = session.connection()
        copy = connection.dialect.name == "postgresql"
        # Parents first; the member's card and the card's member refer to each other (the
        # key on member is deferred to the commit).
        for table in metadata.sorted_tables:
            rows = self.rows.get(table.name)
            if not rows:
                continue
            if copy:
                copy_rows(connection, table, rows)
            else:
                session.execute(insert(table), rows)
                if table.name == "member":
                    # A member travels with all its rows: the member's id is enough.
                    record_changes(session, "member", [row["id"] for row in rows])


def copy_rows(connection, table, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL's COPY of `rows` into `table`, in the connection's transaction: what
    `insert(table)` with these rows writes (a column no row names gets its default, as
    the insert would give it: the column's Python default, else the server's), ten times
    faster than a batch of INSERTs."""
    names = list(dict.fromkeys(name for row in rows[:1] for name in row))
    if any(row.keys() != rows[0].keys() for row in rows):
        names = list(dict.fromkeys(name for row in rows for name in row))
    fixed = {}
    for column in table.columns:
        if column.name not in names and column.default is not None:
            if not column.default.is_scalar:
                raise ValueError(f"{table.name}.{column.name}: no scalar default to copy")
            fixed[column.name] = column.default.arg
    columns = names + list(fixed)
    defaults = [_plain(fixed[name]) for name in fixed]
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(statement) as copy:
        write = copy.write_row
        for row in rows:
            write([_plain(row.get(name)) for name in names] + defaults)


def _plain(value):
    """An enum member as its value (what the insert binds)."""
    return value.value if isinstance(value, Enum) else value


def _event_row(ids: Ids, member_id: int, kind: str, day: date, *, from_unit, to_unit, **more):
    return {
        "id": ids.take(MemberEvent.__table__),
        "member_id": member_id,
        "kind": kind,
        "effective_on": day,
        "decision_number": more.get("decision_number"),
        "decision_on": more.get("decision_on"),
        "decided_by": None,
        "from_unit_id": from_unit,
        "to_unit_id": to_unit,
        "other_organisation": more.get("other_organisation"),
        "arriving_as": None,
        "reverses_id": None,
        "note": more.get("note"),
        "recorded_by_id": None,
    }


def member_rows(
    plan: MemberPlan, units: dict[str, int], ids: Ids, batch: Batch, today: date, counter: set[str]
) -> None:
    """Everything the commands write for one plan (webapp/demo/writer.py write_member)."""
    member_id = ids.take(Member.__table__)
    record = dict(plan.record)
    record.update(
        id=member_id,
        unit_id=units[plan.cell],
        card_number=None,
        card_issued_on=None,
        host_unit_id=None,
        away=False,
        activity="normal",
        alias=None,
        academic_title=None,
        foreign_languages=None,
        party_position=None,
        government_position=None,
        war_invalid=None,
        martyr_family=False,
        version_id=1,
    )
    changes: list[dict[str, Any]] = []

    def change(field: str, old, new, supplement_id=None) -> None:
        if _text(old) != _text(new):
            changes.append(
                {
                    "id": None,
                    "member_id": member_id,
                    "field": field,
                    "old_value": _text(old),
                    "new_value": _text(new),
                    "supplement_id": supplement_id,
                    "changed_by_id": None,
                }
            )

    # The ledger: opening events, then the history, each checked as record_event does.
    ledger: list[LedgerEvent] = []
    state = None
    card_row = None

    def enter(kind: str, day: date, to_unit: int | None, **more) -> None:
        nonlocal state, card_row
        candidate = LedgerEvent(
            id=None, kind=kind, effective_on=day, to_unit_id=to_unit, sequence=len(ledger) + 1
        )
        state = check_new_event(ledger, candidate)
        row = _event_row(
            ids,
            member_id,
            kind,
            day,
            from_unit=record_unit() if ledger else None,
            to_unit=to_unit,
            **more,
        )
        ledger.append(LedgerEvent(id=row["id"], kind=kind, effective_on=day, to_unit_id=to_unit))
        batch.add(MemberEvent.__table__, row)
        if state.standing is not None:
            record["status"] = state.standing
        if state.unit_id is not None:
            record["unit_id"] = state.unit_id
        record["host_unit_id"], record["away"], record["activity"] = (
            state.host_unit_id,
            state.away,
            state.activity,
        )
        if state.first_admitted_on is not None:
            record["admitted_on"] = state.first_admitted_on
        if state.official_since is not None or state.readmitted:
            record["official_on"] = state.official_since
        if (
            kind in LEAVING
            and state.standing == Standing.LEFT
            and card_row is not None
            and card_row["state"] == "valid"
        ):
            card_row.update(state="withdrawn", ended_on=day, end_note=WITHDRAWN_NOTE)
            change("card_number", record["card_number"], None)
            change("card_issued_on", record["card_issued_on"], None)
            record["card_number"] = record["card_issued_on"] = None

    def record_unit() -> int:
        return record["unit_id"]

    cell_id = units[plan.cell]
    enter("admission", plan.record["admitted_on"], cell_id, note=OPENING_NOTE)
    if plan.record["official_on"]:
        enter(EventKind.OFFICIAL_RECOGNITION, plan.record["official_on"], None, note=OPENING_NOTE)
    if plan.card is not None:
        number, issued_on = plan.card
        counter.add(number[:2])
        card_row = {
            "id": ids.take(PartyCard.__table__),
            "member_id": member_id,
            "number": number,
            "issued_on": issued_on,
            "state": "valid",
            "ended_on": None,
            "end_note": None,
            "version_id": 1,
        }
        change("card_number", None, number)
        change("card_issued_on", None, issued_on)
        record["card_number"], record["card_issued_on"] = number, issued_on
    counts = {"work_periods": 0, "family_relations": 0}
    for row in plan.rows:
        table = ROW_TABLES[row.model]
        values = {c.name: None for c in table.columns}
        values.update(row.values, id=ids.take(table), member_id=member_id)
        batch.add(table, values)
        if row.model == "WorkPeriod":
            counts["work_periods"] += 1
        elif row.model == "FamilyRelation":
            counts["family_relations"] += 1
    for event in plan.history:
        to_unit = units[event.to_cell] if event.to_cell else None
        enter(
            event.kind,
            event.day,
            to_unit,
            decision_number=event.decision_number,
            decision_on=event.day if event.decision_number else None,
            other_organisation=event.other_organisation,
            note=event.note,
        )
    # apply_state after the last event: Party age and periods.
    age = party_age(
        state,
        today,
        admission_decision_on=record["admitted_on"],
        card_issued_on=record["card_issued_on"],
    )
    record["party_age_from"] = age.start if age else None
    counted_from = state.first_admitted_on or record["admitted_on"] or record["card_issued_on"]
    for period in state.periods:
        batch.add(
            MemberPeriod.__table__,
            {
                "id": ids.take(MemberPeriod.__table__),
                "member_id": member_id,
                "unit_id": period.unit_id,
                "standing": period.standing,
                "starts_on": period.starts_on,
                "ends_on": period.ends_on,
                "host_unit_id": period.host_unit_id,
                "away": period.away,
                "activity": period.activity,
                "party_age_from": period_party_age_from(period, state.gaps, counted_from),
            },
        )
    for supplement in plan.supplements:
        supplement_id = ids.take(MemberSupplement.__table__)
        batch.add(
            MemberSupplement.__table__,
            {
                "id": supplement_id,
                "member_id": member_id,
                "year": supplement.year,
                "declared_on": supplement.declared_on,
                "note": SUPPLEMENT_NOTE,
                "recorded_by_id": None,
            },
        )
        for field in TRACKED_ORDER:
            if field in supplement.values:
                change(field, record.get(field), supplement.values[field], supplement_id)
                record[field] = supplement.values[field]
    level = completeness(record, counts)
    record["completeness"] = level.level
    record["missing_fields"] = ",".join(level.missing) or None
    display = record["name_in_use"] or record["birth_name"]
    record["sort_key"] = name_sort_key(display)
    record["search_key"] = search_key(
        record["birth_name"],
        record["name_in_use"],
        record["alias"],
        record["member_number"],
        record["card_number"],
        record["citizen_id"],
    )
    batch.add(Member.__table__, record)
    if card_row is not None:
        batch.add(PartyCard.__table__, card_row)
    for row in changes:
        row["id"] = ids.take(MemberChange.__table__)
        batch.add(MemberChange.__table__, row)


def _tracked_order() -> list[str]:
    from webapp.domain.tracking import TRACKED

    return list(TRACKED)


TRACKED_ORDER = _tracked_order()


def write_members_bulk(
    session: Session,
    plans: Iterable[MemberPlan],
    units: dict[str, int],
    today: date,
    *,
    batch_size: int = 2000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Insert the plans' rows, `batch_size` members a transaction."""
    from webapp.domain.commands import transaction

    ids = Ids(session)
    prefixes: set[str] = set()
    count = 0
    pending = iter(plans)
    while True:
        batch, taken = Batch(), 0
        for plan in pending:
            member_rows(plan, units, ids, batch, today, prefixes)
            taken += 1
            if taken == batch_size:
                break
        with transaction(session):
            batch.write(session)
            for prefix in sorted(prefixes):
                if session.get(CardNumberCounter, prefix) is None:
                    session.add(CardNumberCounter(prefix=prefix, last_serial=0))
            ids.settle()
        count += taken
        if progress:
            progress(taken)
        if taken < batch_size:
            break
    # The planner's statistics of the tables just filled (autovacuum would gather them
    # minutes later; the reform and the badge rounds that follow read these tables, and
    # without statistics PostgreSQL plans their joins as if the tables were empty).
    with transaction(session):
        for name in sorted({*ids.next, "unit", "unit_change"}):
            session.execute(text(f"ANALYZE {name}"))
    return count


def badge_rounds_bulk(session: Session, occasions: Iterable[date], today: date) -> int:
    """The badge rounds of webapp/demo/writer.py `badge_rounds` (proposed, approved and
    awarded under one decision per occasion), their rows written in bulk: who is eligible
    for which milestone is found by the same functions the commands use
    (`eligible_for_badges` for the province, then `eligible_in_own_units`, the proposal's
    own re-check); the proposals end awarded, the awards numbered on. As for the members:
    no audit-log entries; tests/test_demo_preset.py compares both ways."""
    from webapp.demo.writer import _in_own_cell_on
    from webapp.domain.badge_eligibility import eligible_in_own_units
    from webapp.domain.badges import eligible_for_badges, held_milestones, rules_from_db
    from webapp.domain.commands import transaction
    from webapp.domain.proposals import MAX_TEXT
    from webapp.models.badges import (
        BadgeAward,
        BadgeProposal,
        BadgeProposalKind,
        BadgeProposalState,
    )

    root = session.scalar(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id))
    awarded = 0
    for occasion in occasions:
        if occasion > today:
            continue
        with transaction(session):
            ids = [e.member_id for e in eligible_for_badges(session, root, occasion)]
            ids = _in_own_cell_on(session, ids, occasion)
            if not ids:
                continue
            rules = rules_from_db(session)
            found = eligible_in_own_units(
                session, ids, occasion, rules, held_milestones(session, ids)
            )
            chosen = [found[i] for i in dict.fromkeys(ids) if i in found]
            if not chosen:
                continue
            keys = Ids(session)
            highest = session.scalar(select(func.count(BadgeAward.id))) or 0
            decided_at = datetime.now()  # as webapp/domain/proposals.py decide
            proposals, awards = [], []
            for offset, eligibility in enumerate(chosen):
                proposal_id = keys.take(BadgeProposal.__table__)
                proposals.append(
                    {
                        "id": proposal_id,
                        "member_id": eligibility.member_id,
                        "milestone": eligibility.milestone,
                        "occasion_on": occasion,
                        "kind": BadgeProposalKind.AUTOMATIC,
                        "reason": eligibility.reason[:MAX_TEXT],
                        "state": BadgeProposalState.AWARDED,
                        "proposed_by_id": None,
                        "decided_by_id": None,
                        "decided_at": decided_at,
                        "comment": None,
                        "version_id": 1,
                    }
                )
                awards.append(
                    {
                        "id": keys.take(BadgeAward.__table__),
                        "member_id": eligibility.member_id,
                        "milestone": eligibility.milestone,
                        "badge_number": f"HH{highest + 1 + offset:07d}",
                        "decision_number": f"{occasion.year % 100:02d}{occasion.month:02d}-QĐ/TU",
                        "decision_on": occasion - timedelta(days=7),
                        "occasion_on": occasion,
                        "posthumous": False,
                        "proposal_id": proposal_id,
                        "reissue_of_id": None,
                        "lost_on": None,
                        "recorded_by_id": None,
                        "version_id": 1,
                    }
                )
            batch = Batch()
            batch.rows = {BadgeProposal.__tablename__: proposals, BadgeAward.__tablename__: awards}
            batch.write(session)
            keys.settle()
            awarded += len(awards)
        with transaction(session):
            for name in ("badge_proposal", "badge_award"):
                session.execute(text(f"ANALYZE {name}"))
    return awarded
