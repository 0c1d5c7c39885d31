"""Writing a demo through the domain's commands: units, members, rows, events, cards,
supplements, the 2025 reform, card and badge rounds. Everything a clerk could do on the
screens, as the system, batched into a few transactions."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.demo.people import MemberPlan
from webapp.demo.shape import Tree, UnitSpec
from webapp.domain.cards import record_card
from webapp.domain.commands import Requester, transaction
from webapp.domain.events import EventInput, record_event
from webapp.domain.members import create_member
from webapp.domain.records import SupplementInput, add_member_row, apply_supplement
from webapp.domain.units import edit_unit, found_unit, merge_units
from webapp.models.member import Member
from webapp.models.record import (
    Commendation,
    Discipline,
    FamilyRelation,
    TrainingCourse,
    TripAbroad,
    WorkPeriod,
)
from webapp.models.unit import Unit

SYSTEM = Requester.system()
ROW_MODELS = {
    model.__name__: model
    for model in (WorkPeriod, TrainingCourse, Commendation, Discipline, TripAbroad, FamilyRelation)
}


def found_units(
    session: Session, specs: Iterable[UnitSpec], today: date, units: dict[str, Unit] | None = None
) -> dict[str, Unit]:
    """Found every unit (parents first) through `found_unit`; units by code (added to
    `units`, which holds the parents founded before)."""
    units = {} if units is None else units
    with transaction(session):
        for spec in specs:
            unit = Unit(
                code=spec.code,
                name=spec.name,
                kind=spec.kind,
                parent=units.get(spec.parent) if spec.parent else None,
                founded_on=spec.founded_on,
            )
            units[spec.code] = found_unit(session, SYSTEM, unit, today=today)
    return units


def event_input(event, units: dict[str, Unit]) -> EventInput:
    return EventInput(
        kind=event.kind,
        effective_on=event.day,
        decision_number=event.decision_number,
        decision_on=event.day if event.decision_number else None,
        to_unit_id=units[event.to_cell].id if event.to_cell else None,
        other_organisation=event.other_organisation,
        note=event.note,
    )


def write_member(
    session: Session, plan: MemberPlan, units: dict[str, Unit], today: date, pattern: str
) -> Member:
    """One member through the commands, in the order a clerk enters a paper record: the
    record (which opens the ledger), its card, its rows, its history, its supplements."""
    member = create_member(
        session,
        SYSTEM,
        Member(**plan.record, unit=units[plan.cell]),
        member_number_pattern=pattern,
        today=today,
    )
    if plan.card is not None:
        record_card(session, SYSTEM, member.id, plan.card[0], plan.card[1], today=today)
    for row in plan.rows:
        add_member_row(session, SYSTEM, ROW_MODELS[row.model](member_id=member.id, **row.values))
    for event in plan.history:
        record_event(session, SYSTEM, member.id, event_input(event, units), today=today)
    for supplement in plan.supplements:
        apply_supplement(
            session,
            SYSTEM,
            member.id,
            SupplementInput(
                year=supplement.year,
                declared_on=supplement.declared_on,
                note="Phiếu bổ sung hồ sơ đảng viên hằng năm",
                values=supplement.values,
            ),
            member_number_pattern=pattern,
            today=today,
        )
    return member


def write_members(
    session: Session,
    plans: Iterable[MemberPlan],
    units: dict[str, Unit],
    today: date,
    pattern: str,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
) -> int:
    count = 0
    pending = iter(plans)
    while True:
        written = 0
        with transaction(session):
            for plan in pending:
                write_member(session, plan, units, today, pattern)
                written += 1
                if written == batch:
                    break
        count += written
        if progress:
            progress(written)
        if written < batch:
            return count


def apply_reform(session: Session, tree: Tree, units: dict[str, Unit], today: date) -> int:
    """The 2025 reorganisation through the unit commands: new communes founded under the
    province, old communes merged into them (their cells move), the districts' other
    organisations moved under the province, the districts merged into the province (their
    codes keep resolving)."""
    reform = tree.reform
    day = min(today, date(2025, 7, 1))
    decision = "01-QĐ/TU"
    with transaction(session):
        found_units(session, reform.new_units, today, units)
        for absorbed, into in reform.merges:
            merge_units(
                session,
                SYSTEM,
                units[absorbed].id,
                units[into].id,
                effective_on=day,
                decision_number=decision,
                today=today,
            )
        for code, parent, kind in reform.moves:
            edit_unit(
                session,
                SYSTEM,
                units[code].id,
                {"parent_id": units[parent].id, "kind": kind},
                today=day,
            )
        for code in reform.ended:
            merge_units(
                session,
                SYSTEM,
                units[code].id,
                units["NB"].id,
                effective_on=day,
                decision_number=decision,
                today=today,
            )
    return len(reform.merges) + len(reform.ended)


def merge_two_cells(session: Session, today: date) -> bool:
    """Two village cells of one commune merged a month ago (their members transferred)."""
    cells = session.scalars(
        select(Unit)
        .where(Unit.kind == "cell", Unit.dissolved_on.is_(None), Unit.name.like("Chi bộ thôn %"))
        .order_by(Unit.code)
    ).all()
    by_parent: dict[int, list[Unit]] = {}
    for cell in cells:
        by_parent.setdefault(cell.parent_id, []).append(cell)
    for group in by_parent.values():
        if len(group) >= 2:
            merge_units(
                session,
                SYSTEM,
                group[-1].id,
                group[0].id,
                effective_on=today - timedelta(days=30),
                decision_number="12-QĐ/ĐU",
                today=today,
            )
            return True
    return False


def badge_rounds(session: Session, occasions: Iterable[date], today: date) -> int:
    """Badge rounds as the Commission runs them: on each occasion, those the rules find
    eligible are proposed, approved and awarded under one decision, numbered on."""
    from sqlalchemy import func

    from webapp.domain.badges import (
        award_badges,
        decide_badges,
        eligible_for_badges,
        propose_badges,
    )
    from webapp.models.badges import BadgeAward

    root = session.scalar(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id))
    awarded = 0
    for occasion in occasions:
        if occasion > today:
            continue
        with transaction(session):
            ids = [e.member_id for e in eligible_for_badges(session, root, occasion)]
            # A proposal is checked against the member's cell of today: a member who was in
            # another cell on that occasion waits for a later round.
            ids = _in_own_cell_on(session, ids, occasion)
            if not ids:
                continue
            proposals = propose_badges(session, SYSTEM, occasion, ids)
            proposal_ids = [p.id for p in proposals]
            decide_badges(session, SYSTEM, proposal_ids, True)
            highest = session.scalar(select(func.count(BadgeAward.id))) or 0
            awards = award_badges(
                session,
                SYSTEM,
                proposal_ids,
                decision_number=f"{occasion.year % 100:02d}{occasion.month:02d}-QĐ/TU",
                decision_on=occasion - timedelta(days=7),
                first_number=f"HH{highest + 1:07d}",
                today=today,
            )
            awarded += len(awards)
    return awarded


def card_round(session: Session, today: date, prefix: str, limit: int = 200) -> int:
    """A batch of new cards: official members without one are proposed by their upper
    committee, approved and issued (numbers from the registry's counter)."""
    from webapp.domain.cards import (
        CardRequest,
        decide_cards,
        issue_cards,
        members_needing_card,
        propose_cards,
    )

    with transaction(session):
        waiting = session.scalars(
            members_needing_card(session, None).order_by(Member.id).limit(limit)
        ).all()
        if not waiting:
            return 0
        root = session.scalar(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id))
        half = waiting[: max(1, len(waiting) // 2)]  # the rest stay on the list of waiting members
        batch = propose_cards(
            session, SYSTEM, root.id, [CardRequest(m.id) for m in half], note="Đợt cấp thẻ 19/5"
        )
        ids = [p.id for p in batch.proposals]
        decide_cards(session, SYSTEM, ids, True)
        issued = issue_cards(
            session,
            SYSTEM,
            ids[: max(1, len(ids) // 2)],
            prefix=prefix,
            issued_on=today - timedelta(days=3),
            today=today,
        )
        return len(issued)


def _in_own_cell_on(session: Session, member_ids: list[int], day: date) -> list[int]:
    from sqlalchemy import or_

    from webapp.models.ledger import MemberPeriod

    if not member_ids:
        return []
    kept = set(
        session.scalars(
            select(MemberPeriod.member_id)
            .join(Member, Member.id == MemberPeriod.member_id)
            .where(
                MemberPeriod.member_id.in_(member_ids),
                MemberPeriod.unit_id == Member.unit_id,
                MemberPeriod.starts_on <= day,
                or_(MemberPeriod.ends_on.is_(None), MemberPeriod.ends_on > day),
            )
        )
    )
    return [i for i in member_ids if i in kept]
