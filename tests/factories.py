"""Factories for units and members with valid defaults; override any field."""

from __future__ import annotations

import itertools
from datetime import date

from webapp.domain.commands import Requester
from webapp.models import Member, Unit
from webapp.models.member import MemberStatus, Sex
from webapp.models.unit import UnitKind

# Generated member numbers start far above the ones tests write by hand (000101TN, …),
# so a long run never hands out a number a later test names (a unique clash at set-up).
_sequence = itertools.count(300000)


def make_unit(
    session,
    code: str,
    name: str | None = None,
    kind: str = UnitKind.CELL,
    parent: Unit | None = None,
    **fields,
) -> Unit:
    unit = Unit(code=code, name=name or f"Chi bộ {code}", kind=kind, parent=parent, **fields)
    session.add(unit)
    session.flush()
    return unit


def make_tree(session) -> dict[str, Unit]:
    """Province P → district D1 (grassroots G1 → cells C1, C2) and district D2 (cell C3)."""
    province = make_unit(session, "P", "Đảng bộ tỉnh Thử nghiệm", UnitKind.PROVINCIAL_COMMITTEE)
    d1 = make_unit(
        session, "P.01", "Đảng bộ huyện Một", UnitKind.UPPER_GRASSROOTS_COMMITTEE, province
    )
    d2 = make_unit(
        session, "P.02", "Đảng bộ huyện Hai", UnitKind.UPPER_GRASSROOTS_COMMITTEE, province
    )
    g1 = make_unit(session, "P.01.001", "Đảng bộ xã Một", UnitKind.GRASSROOTS_COMMITTEE, d1)
    c1 = make_unit(session, "P.01.001.01", "Chi bộ thôn Đông", UnitKind.CELL, g1)
    c2 = make_unit(session, "P.01.001.02", "Chi bộ thôn Tây", UnitKind.CELL, g1)
    c3 = make_unit(
        session, "P.02.001", "Chi bộ cơ sở Trường Tiểu học", UnitKind.GRASSROOTS_CELL, d2
    )
    session.commit()
    return {"P": province, "D1": d1, "D2": d2, "G1": g1, "C1": c1, "C2": c2, "C3": c3}


def member_fields(unit: Unit, **overrides) -> dict:
    number = next(_sequence)
    fields = {
        "member_number": f"{number:06d}TN",
        "birth_name": "Nguyễn Văn An",
        "sex": Sex.MALE,
        "birth_date": date(1980, 5, 19),
        "admitted_on": date(2005, 2, 3),
        "official_on": date(2006, 2, 3),
        "status": MemberStatus.OFFICIAL,
        "unit": unit,
        "ethnicity": "Kinh",
    }
    fields.update(overrides)
    return fields


def make_member(session, unit: Unit, **overrides) -> Member:
    """A member; `card_number` (and `card_issued_on`) give them that valid card in the
    registry, as entered from the paper record."""
    from webapp.domain.cards import register_card

    number = overrides.pop("card_number", None)
    issued_on = overrides.pop("card_issued_on", None)
    member = Member(**member_fields(unit, **overrides))
    session.add(member)
    session.flush()
    if number:
        register_card(session, member, number, issued_on)
        session.flush()
    return member


# Test set-up acts as the system (unrestricted), like the demo and migrations.
SYSTEM = Requester.system()


def as_requester(user_id: int | None, scope: str | None):
    """User `user_id` with their roles as a command's Requester, acting within `scope`
    (the test chooses it; None = everything). No user id: the system."""
    from webapp.extensions import db
    from webapp.models.user import DangVienUser

    if user_id is None:
        return Requester.system()
    user = db.session.get(DangVienUser, user_id)
    return Requester(
        user_id=user_id,
        roles=frozenset(role.name for role in user.roles),
        scope=scope,
        username=user.username,
    )
