"""The audit log answers "who saw or changed what" (issue 13, item 4): every entry names
its record (the id of a new one too) and the member it concerns, downloads and exports
are logged with their parameters, and the chain still verifies."""

from __future__ import annotations

from sqlalchemy import select

from factories import make_member, make_tree
from webapp.domain.audit import verify_log
from webapp.models import AuditEntry, Member, Unit


def entries(session, **filters) -> list[AuditEntry]:
    session.expire_all()
    return session.scalars(select(AuditEntry).filter_by(**filters).order_by(AuditEntry.id)).all()


def test_a_create_entry_names_the_new_record(db_session):
    tree = make_tree(db_session)
    member = make_member(db_session, tree["C1"], birth_name="Trần Thị Bình")
    db_session.commit()
    (created,) = entries(db_session, action="create", object_type="Member")
    assert created.object_id == str(member.id)
    units = entries(db_session, action="create", object_type="Unit")
    assert sorted(e.object_id for e in units) == sorted(
        str(u.id) for u in db_session.scalars(select(Unit))
    )
    assert all(e.object_id for e in entries(db_session, action="create"))
    assert verify_log(db_session)[1] is None


def test_entries_name_the_member_they_concern_and_that_is_part_of_the_chain(db_session):
    from datetime import date

    from sqlalchemy import text

    from webapp.models.record import WorkPeriod

    tree = make_tree(db_session)
    member = make_member(db_session, tree["C1"])
    db_session.add(WorkPeriod(member_id=member.id, starts_on=date(2001, 1, 1), description="Y"))
    db_session.commit()
    (row,) = entries(db_session, action="create", object_type="WorkPeriod")
    (record,) = entries(db_session, action="create", object_type="Member")
    assert row.member_id == member.id and record.member_id == member.id
    assert entries(db_session, object_type="Unit")[0].member_id is None
    assert verify_log(db_session)[1] is None
    # Moving an entry to another member (or hiding whom it concerns) breaks the chain there.
    for forged in (member.id + 1, None):
        db_session.execute(
            text("UPDATE audit_entry SET member_id = :m WHERE id = :id"), {"m": forged, "id": row.id}
        )
        db_session.commit()
        broken = verify_log(db_session)[1]
        assert broken is not None and broken.entry_id == row.id
    db_session.execute(
        text("UPDATE audit_entry SET member_id = :m WHERE id = :id"), {"m": member.id, "id": row.id}
    )
    db_session.commit()
    assert verify_log(db_session)[1] is None
