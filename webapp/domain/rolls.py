"""Rolls of a unit's subtree "as of" a date, from the periods the ledger derives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, aliased

from webapp.models.ledger import MemberPeriod
from webapp.models.member import Member
from webapp.models.unit import Unit


@dataclass(frozen=True)
class RollEntry:
    member: Member
    period: MemberPeriod
    unit: Unit  # the unit whose rolls count the member
    host: Unit | None  # where a temporarily transferred member is active


def _current_on(day: date):
    return and_(
        MemberPeriod.starts_on <= day,
        or_(MemberPeriod.ends_on.is_(None), MemberPeriod.ends_on > day),
    )


def roll_as_of(session: Session, root: Unit, day: date) -> tuple[list[RollEntry], list[RollEntry]]:
    """(counted, hosted): members on the rolls of `root`'s subtree on `day`, and members of
    other units temporarily active here, who are shown apart and not counted."""
    host = aliased(Unit)
    in_subtree = Unit.path.startswith(root.path, autoescape=True)
    counted = session.execute(
        select(Member, MemberPeriod, Unit, host)
        .join(MemberPeriod, MemberPeriod.member_id == Member.id)
        .join(Unit, Unit.id == MemberPeriod.unit_id)
        .outerjoin(host, host.id == MemberPeriod.host_unit_id)
        .where(in_subtree, _current_on(day))
        .order_by(Unit.path, Member.sort_key, Member.id)
    ).all()
    home = aliased(Unit)
    hosted = session.execute(
        select(Member, MemberPeriod, home, Unit)
        .join(MemberPeriod, MemberPeriod.member_id == Member.id)
        .join(Unit, Unit.id == MemberPeriod.host_unit_id)
        .join(home, home.id == MemberPeriod.unit_id)
        .where(in_subtree, _current_on(day), ~home.path.startswith(root.path, autoescape=True))
        .order_by(Unit.path, Member.sort_key, Member.id)
    ).all()
    return (
        [RollEntry(m, p, u, h) for m, p, u, h in counted],
        [RollEntry(m, p, u, h) for m, p, u, h in hosted],
    )
