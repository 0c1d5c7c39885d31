"""The demo province looks like a real one (issue 13, item 12): names by sex, units that
fit their parents, histories a clerk would believe, something in every tab of the member
page, and every change through the domain's rules."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

TODAY = date(2026, 11, 20)


@pytest.fixture(scope="module")
def demo(app):
    """One demo for the module's checks (building it is the slow part)."""
    from conftest import _clean_data
    from webapp.demo import generate_province
    from webapp.extensions import db

    with app.app_context():
        _clean_data(db)
        summary = generate_province(db.session, members=120, seed=5, today=TODAY)
        yield db.session, summary
        db.session.rollback()
        db.session.remove()


def test_names_follow_the_sex_and_never_repeat_a_part(demo):
    from webapp.demo.names import is_female_middle, is_male_middle
    from webapp.models import Member
    from webapp.models.record import FamilyRelation

    session, _ = demo
    members = session.scalars(select(Member)).all()
    assert len(members) == 120
    for member in members:
        parts = member.birth_name.split()
        assert len(parts) >= 3, member.birth_name
        assert len(set(parts)) == len(parts), member.birth_name  # no "Mai Mai Bảo Anh"
        if member.sex == "male":
            assert not is_female_middle(member.birth_name), member.birth_name
        else:
            assert not is_male_middle(member.birth_name), member.birth_name
    women = [m for m in members if m.sex == "female"]
    assert 0.25 < len(women) / len(members) < 0.55
    assert sum(m.birth_name.split()[1] == "Thị" for m in women) > len(women) / 2
    # Fathers carry the member's family name and a man's middle name; mothers a woman's.
    for relation in session.scalars(select(FamilyRelation)):
        member = session.get(Member, relation.member_id)
        if relation.relation == "Bố":
            assert relation.full_name.split()[0] == member.birth_name.split()[0]
            assert not is_female_middle(relation.full_name)
        if relation.relation in ("Mẹ", "Vợ"):
            assert not is_male_middle(relation.full_name), relation.full_name


def test_units_fit_their_parents(demo):
    from webapp.models import Unit

    session, _ = demo
    units = {u.id: u for u in session.scalars(select(Unit))}
    for unit in units.values():
        parent = units.get(unit.parent_id)
        if unit.kind == "cell":
            assert parent.kind in ("grassroots_committee", "partial_committee"), unit
            commune = parent.name.startswith(("Đảng bộ xã", "Đảng bộ phường", "Đảng bộ thị trấn"))
            residential = unit.name.startswith(("Chi bộ thôn", "Chi bộ xóm", "Chi bộ tổ dân phố"))
            own = unit.name.startswith(
                tuple(
                    f"Chi bộ {what} {level}"
                    for what in ("Cơ quan", "Công an")
                    for level in ("xã", "phường", "thị trấn")
                )
                + ("Chi bộ Trường Trung học cơ sở",)
            )
            assert commune == (residential or own), (unit, parent)
        if unit.kind == "grassroots_committee" and unit.dissolved_on is None:
            assert parent.kind in ("upper_grassroots_committee", "provincial_committee"), unit
        if unit.kind == "upper_grassroots_committee":
            assert parent.kind == "provincial_committee"
    # The 2025 reform: the districts ended, their communes merged under the province.
    districts = [u for u in units.values() if u.name.startswith("Đảng bộ huyện")]
    assert districts and all(u.dissolved_on == date(2025, 7, 1) for u in districts)
    province = next(u for u in units.values() if u.parent_id is None)
    assert all(d.merged_into_id == province.id for d in districts)
    new_communes = [
        u
        for u in units.values()
        if u.parent_id == province.id and u.name.startswith("Đảng bộ xã") and u.dissolved_on is None
    ]
    assert new_communes and all(
        any(c.parent_id == n.id and c.kind == "cell" for c in units.values()) for n in new_communes
    )


def test_histories_are_plausible(demo):
    from webapp.domain.members import age_on
    from webapp.models import Member, MemberEvent
    from webapp.models.record import MEMBER_ROW_MODELS, WorkPeriod

    session, _ = demo
    members = session.scalars(select(Member)).all()
    for member in members:
        admitted_at = age_on(member.birth_date, member.admitted_on)
        assert 18 <= admitted_at <= 41, (member, admitted_at)
        if member.status == "probationary":
            # Probation lasts twelve months: only the recently (re-)admitted are still on it.
            start = session.scalar(
                select(func.max(MemberEvent.effective_on)).where(
                    MemberEvent.member_id == member.id,
                    MemberEvent.kind.in_(("admission", "readmission")),
                )
            )
            assert (TODAY - start).days <= 365 + 45, member
        if member.official_on and member.status == "official":
            months = (member.official_on - member.admitted_on).days / 30.4
            readmitted = session.scalar(
                select(func.count(MemberEvent.id)).where(
                    MemberEvent.member_id == member.id, MemberEvent.kind == "readmission"
                )
            )
            assert readmitted or 11.9 <= months <= 13.5, member
    for model in MEMBER_ROW_MODELS:
        for row in session.scalars(select(model)):
            member = session.get(Member, row.member_id)
            for name in ("starts_on", "ends_on", "awarded_on", "decided_on"):
                day = getattr(row, name, None)
                if day is not None:
                    assert member.birth_date < day <= TODAY, (model.__name__, row.id, day)
    for period in session.scalars(select(WorkPeriod)):
        member = session.get(Member, period.member_id)
        assert age_on(member.birth_date, period.starts_on) >= 18
        assert period.ends_on is None or period.ends_on >= period.starts_on
    kinds = Counter(kind for (kind,) in session.execute(select(MemberEvent.kind)))
    for kind in (
        "admission",
        "official_recognition",
        "transfer_within",
        "temporary_transfer",
        "death",
        "removal",
        "readmission",
        "transfer_out",
    ):
        assert kinds[kind], kind
    # The deceased were old.
    for member in members:
        if member.status == "deceased":
            died = session.scalar(
                select(MemberEvent.effective_on).where(
                    MemberEvent.member_id == member.id, MemberEvent.kind == "death"
                )
            )
            assert age_on(member.birth_date, died) >= 65


def test_every_tab_of_the_member_page_has_data(demo):
    from webapp.models import Member
    from webapp.models.badges import BadgeAward
    from webapp.models.cards import CardProposal, PartyCard
    from webapp.models.record import MEMBER_ROW_MODELS, MemberChange, MemberSupplement

    session, summary = demo
    for model in (*MEMBER_ROW_MODELS, MemberSupplement, MemberChange, PartyCard, CardProposal):
        assert session.scalar(select(func.count()).select_from(model)), model.__name__
    awards = session.scalars(select(BadgeAward)).all()
    assert awards and {a.milestone for a in awards} >= {30, 40}
    for award in awards:
        member = session.get(Member, award.member_id)
        assert award.occasion_on >= member.admitted_on + timedelta(days=365 * award.milestone - 400)
    completeness = Counter(session.scalars(select(Member.completeness)))
    assert completeness["four_page"] > 90 and completeness["one_page"] > 0
    assert summary["supplements"] > 0 and summary["merges"] > 0


def test_the_demo_is_deterministic(app, db_session):
    from webapp.demo import generate_province
    from webapp.models import Member

    def names():
        return db_session.execute(
            select(
                Member.member_number, Member.birth_name, Member.birth_date, Member.status
            ).order_by(Member.id)
        ).all()

    generate_province(db_session, members=15, seed=9, today=TODAY)
    first = names()
    from conftest import _clean_data
    from webapp.extensions import db

    _clean_data(db)
    generate_province(db_session, members=15, seed=9, today=TODAY)
    assert names() == first and len(first) == 15
