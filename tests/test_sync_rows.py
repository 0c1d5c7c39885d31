"""Rows as they travel (webapp/domain/sync_rows.py): serialised with the sender's ids,
applied through the key map with this instance's, and the content hash that compares a
member on two instances."""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, func, select, update

from tests.factories import SYSTEM, make_member, make_tree
from webapp.domain.events import EventInput, cancel_event, open_ledger, record_event
from webapp.domain.records import add_member_row
from webapp.domain.sync_envelope import generate_key, public_key
from webapp.domain.sync_rows import (
    SYNCED,
    KeyMap,
    apply_rows,
    content_hash,
    member_rows,
    row_to_dict,
)
from webapp.domain.sync_setup import register_peer
from webapp.models import Member, MemberEvent, MemberPeriod, WorkPeriod
from webapp.models.sync_packages import SyncKeyMap


def _member_with_history(session, tree):
    member = make_member(
        session, tree["C1"], card_number="01.000123", card_issued_on=date(2010, 1, 1)
    )
    session.commit()
    open_ledger(session, SYSTEM, member.id)
    add_member_row(
        session,
        SYSTEM,
        WorkPeriod(member_id=member.id, starts_on=date(2000, 1, 1), description="Giáo viên"),
    )
    event = record_event(
        session,
        SYSTEM,
        member.id,
        EventInput(kind="transfer_within", effective_on=date(2020, 3, 1), to_unit_id=tree["C2"].id),
    )
    cancel_event(session, SYSTEM, event.id, today=date(2020, 4, 1))
    return session.get(Member, member.id)


def _wipe(session, member_id):
    """The member gone from this database, as if it had never been here."""
    session.execute(update(Member).where(Member.id == member_id).values(card_number=None))
    for name in reversed([n for n in SYNCED if n not in ("unit", "unit_change")]):
        table = SYNCED[name].__table__
        if name == "member":
            session.execute(delete(table).where(table.c.id == member_id))
        elif name == "member_document_version":
            continue
        else:
            for row_id in sorted(
                session.scalars(select(table.c.id).where(table.c.member_id == member_id)),
                reverse=True,
            ):
                session.execute(delete(table).where(table.c.id == row_id))
    session.commit()


def test_a_member_round_trips_with_new_ids_and_the_same_hash(db_session):
    tree = make_tree(db_session)
    member = _member_with_history(db_session, tree)
    member_id, number = member.id, member.member_number
    before = content_hash(db_session, member_id)
    rows = member_rows(db_session, [member.id])
    tables = [name for name, _ in rows]
    assert tables[0] == "member"
    assert {"member_event", "member_period", "party_card", "member_work_period"} <= set(tables)
    # Dependency order: every table's rows after the tables it refers to.
    order = list(SYNCED)
    assert [order.index(t) for t in tables] == sorted(order.index(t) for t in tables)
    event = next(data for name, data in rows if name == "member_event")
    assert event["_refs"]["to_unit_id"] == tree["C1"].code
    assert isinstance(event["effective_on"], str)
    assert row_to_dict(db_session.get(MemberEvent, event["id"])) == event

    _wipe(db_session, member_id)
    peer = register_peer(
        db_session,
        SYSTEM,
        kind="downstream",
        unit_code="P.01",
        public_key=public_key(generate_key()),
    )
    counts = apply_rows(db_session, peer, rows, deletions=[])
    db_session.commit()
    assert counts.upserted["member"] == 1
    copy = db_session.scalars(select(Member).where(Member.member_number == number)).one()
    assert copy.id != member_id
    assert copy.card_number == "01.000123"
    copy_id = copy.id
    assert content_hash(db_session, copy_id) == before

    # The same rows again change nothing; a removed row and a rebuilt period follow.
    apply_rows(db_session, peer, rows, deletions=[])
    db_session.commit()
    assert content_hash(db_session, copy_id) == before
    keys = KeyMap(db_session, peer.id)
    assert keys.local("member", member_id) == copy.id
    fewer = [(n, d) for n, d in rows if n != "member_work_period"]
    counts = apply_rows(db_session, peer, fewer, deletions=[])
    db_session.commit()
    assert counts.deleted["member_work_period"] == 1
    assert db_session.scalar(select(func.count()).select_from(WorkPeriod)) == 0
    assert content_hash(db_session, copy_id) != before

    counts = apply_rows(db_session, peer, [], deletions=[("member", member_id)])
    db_session.commit()
    assert counts.deleted["member"] == 1
    assert db_session.scalar(select(Member.id).where(Member.id == copy_id)) is None
    assert db_session.scalar(select(func.count()).select_from(MemberPeriod)) == 0
    assert (
        db_session.scalar(
            select(func.count()).select_from(SyncKeyMap).where(SyncKeyMap.table_name == "member")
        )
        == 0
    )
