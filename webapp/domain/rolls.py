"""Rolls of a unit's subtree "as of" a date, from the periods the ledger derives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from webapp.models.ledger import MemberPeriod
from webapp.models.member import Member
from webapp.models.unit import Unit


@dataclass(frozen=True)
class RollEntry:
    """One line of a roll: plain values (a district holds thousands; no ORM objects)."""

    member_id: int
    name: str
    member_number: str
    unit_code: str  # the unit whose rolls count the member
    unit_name: str
    standing: str
    host_code: str | None  # where a temporarily transferred member is active
    host_name: str | None
    away: bool


def _current_on(day: date):
    return and_(
        MemberPeriod.starts_on <= day,
        or_(MemberPeriod.ends_on.is_(None), MemberPeriod.ends_on > day),
    )


def _roll_query(home: type[Unit], host: type[Unit]):
    return select(
        Member.id,
        func.coalesce(Member.name_in_use, Member.birth_name),
        Member.member_number,
        home.code,
        home.name,
        MemberPeriod.standing,
        host.code,
        host.name,
        MemberPeriod.away,
    ).join(MemberPeriod, MemberPeriod.member_id == Member.id)


def roll_as_of(session: Session, root: Unit, day: date) -> tuple[list[RollEntry], list[RollEntry]]:
    """(counted, hosted): members on the rolls of `root`'s subtree on `day`, and members of
    other units temporarily active here, who are shown apart and not counted."""
    home, host = aliased(Unit), aliased(Unit)
    counted = session.execute(
        _roll_query(home, host)
        .join(home, home.id == MemberPeriod.unit_id)
        .outerjoin(host, host.id == MemberPeriod.host_unit_id)
        .where(home.path.startswith(root.path, autoescape=True), _current_on(day))
        .order_by(home.sort_path, Member.sort_key, Member.id)
    ).all()
    home, host = aliased(Unit), aliased(Unit)
    hosted = session.execute(
        _roll_query(home, host)
        .join(host, host.id == MemberPeriod.host_unit_id)
        .join(home, home.id == MemberPeriod.unit_id)
        .where(
            host.path.startswith(root.path, autoescape=True),
            _current_on(day),
            ~home.path.startswith(root.path, autoescape=True),
        )
        .order_by(host.sort_path, Member.sort_key, Member.id)
    ).all()
    return [RollEntry(*row) for row in counted], [RollEntry(*row) for row in hosted]
