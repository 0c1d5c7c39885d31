"""Applying a package set-wise (webapp/domain/sync_rows.py `apply_rows`): a row refused
deep inside a package leaves nothing of it applied, and a package of a few hundred members
goes up through the batched path with the same content hash per member on both sides, new
units' paths derived as the Unit model derives them, and the key map complete; a full
package (a re-seed) removes what the sender's subtree no longer holds.

Uses test_sync_core's two instances (the district in the test database, the province in a
second one initialised by a real `flask init`)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import delete, func, select

from tests.factories import SYSTEM, make_member
from tests.test_sync_core import _apply, _count, _export, _forge, _hashes_match, pair, upstream
from tests.test_sync_rows import _wipe
from webapp.domain.errors import DomainError
from webapp.domain.events import EventInput, cancel_event, open_ledger, record_event
from webapp.domain.records import add_member_row, delete_member_row
from webapp.domain.sync_rows import DANGLING, UNKNOWN_UNIT_CODE, member_rows, unit_rows
from webapp.domain.units import found_unit
from webapp.models import AuditEntry, Member, MemberEvent, Unit, WorkPeriod
from webapp.models.sync_packages import SyncKeyMap, SyncOutbox
from webapp.models.unit import UnitKind, unit_path, unit_sort_path

pytestmark = pytest.mark.server_only
__all__ = ["pair", "upstream"]  # the fixtures, imported for pytest


def _members(session, tree, count):
    ids = []
    for n in range(count):
        member = make_member(session, tree["C1"] if n % 2 else tree["C2"])
        ids.append(member.id)
    session.commit()
    for member_id in ids:
        open_ledger(session, SYSTEM, member_id)
    return ids


def _upstream_state(up):
    """What a refused package must leave as it was."""
    state = (
        _count(up, Member),
        _count(up, Unit),
        _count(up, MemberEvent),
        _count(up, SyncKeyMap),
        _count(up, SyncOutbox),
        _count(up, AuditEntry),
    )
    up.rollback()
    return state


@pytest.mark.parametrize("fault", ["unknown unit", "dangling"])
def test_a_package_refused_at_a_late_row_applies_nothing(db_session, pair, fault):
    tree = pair.tree
    cell = found_unit(
        db_session,
        SYSTEM,
        Unit(code="P.01.001.07", name="Chi bộ Bảy", kind=UnitKind.CELL, parent_id=tree["G1"].id),
    )
    ids = _members(db_session, tree, 6)
    units = [tree[name].id for name in ("D1", "G1", "C1", "C2")] + [cell.id]
    rows = [list(r) for r in unit_rows(db_session, units) + member_rows(db_session, ids)]
    # The fault sits in the last member's period, far into the package: everything before
    # it (a new unit, members, their events) would be written first.
    position = max(i for i, (name, _d) in enumerate(rows) if name == "member_period")
    assert position > len(rows) // 2
    data = dict(rows[position][1])
    if fault == "unknown unit":
        data["unit_id"] = 987654
        data["_refs"] = {**(data.get("_refs") or {}), "unit_id": "P.01.999.99"}
        message = UNKNOWN_UNIT_CODE
    else:
        data["member_id"] = 987654  # a member the package does not carry
        message = DANGLING
    rows[position][1] = data
    before = _upstream_state(pair.up)
    with pytest.raises(DomainError) as refused:
        _apply(pair, _forge(pair, db_session, rows))
    assert refused.value.message == message
    assert _upstream_state(pair.up) == before
    numbers = db_session.scalars(select(Member.member_number).where(Member.id.in_(ids))).all()
    assert _count(pair.up, Member, Member.member_number.in_(numbers)) == 0
    assert _count(pair.up, Unit, Unit.code == "P.01.001.07") == 0
    pair.up.rollback()


def test_a_few_hundred_members_round_trip_through_the_bulk_path(db_session, pair):
    tree = pair.tree
    # New units two levels deep: the child's parent is new in the same package.
    grassroots = found_unit(
        db_session,
        SYSTEM,
        Unit(
            code="P.01.010",
            name="Đảng bộ xã Mười",
            kind=UnitKind.GRASSROOTS_COMMITTEE,
            parent_id=tree["D1"].id,
        ),
    )
    cell = found_unit(
        db_session,
        SYSTEM,
        Unit(code="P.01.010.01", name="Chi bộ Mười", kind=UnitKind.CELL, parent_id=grassroots.id),
    )
    tree = {**tree, "C2": cell}
    ids = _members(db_session, tree, 300)
    for member_id in ids[:40]:
        add_member_row(
            db_session,
            SYSTEM,
            WorkPeriod(member_id=member_id, starts_on=date(2001, 1, 1), description="Kỹ sư"),
        )
    # Reversals point at events new in the same package (rows in waves).
    for n, member_id in enumerate(ids[:10]):
        # Members alternate between the new cell (even) and C1 (odd): to the other cell.
        to_unit = tree["C1"] if n % 2 == 0 else pair.tree["C2"]
        event = record_event(
            db_session,
            SYSTEM,
            member_id,
            EventInput(
                kind="transfer_within", effective_on=date(2021, 5, 1), to_unit_id=to_unit.id
            ),
        )
        cancel_event(db_session, SYSTEM, event.id, today=date(2021, 6, 1))

    full = _export(db_session, pair, full=True)
    applied = _apply(pair, full.data)
    assert applied.counts["upserted"]["member"] == 300
    up = pair.up
    assert _hashes_match(db_session, up) == 300
    for code in ("P.01.010", "P.01.010.01"):
        unit = up.scalars(select(Unit).where(Unit.code == code)).one()
        assert unit.path == unit_path(unit.parent.path, unit.id)
        assert unit.sort_path == unit_sort_path(unit.parent.sort_path, code)
    created = up.scalars(
        select(AuditEntry.object_id).where(
            AuditEntry.action == "create", AuditEntry.object_type == "Unit"
        )
    ).all()
    new_unit = up.scalars(select(Unit.id).where(Unit.code == "P.01.010.01")).one()
    assert str(new_unit) in created
    forwarded = set(
        up.scalars(select(SyncOutbox.row_id).where(SyncOutbox.table_name == "unit")).all()
    )
    assert new_unit in forwarded
    # Every row sent is in the key map, once.
    mapped = up.scalar(
        select(func.count()).select_from(SyncKeyMap).where(SyncKeyMap.peer_id == pair.peer_id)
    )
    assert mapped == sum(full.counts.get(t, 0) for t in full.counts if t != "deletions")
    reversals = up.scalars(select(MemberEvent).where(MemberEvent.kind == "reversal")).all()
    assert len(reversals) >= 10 and all(r.reverses is not None for r in reversals)
    up.rollback()

    # A delta: rows removed, a member deleted downstream, rows added.
    for member_id in ids[:20]:
        row = db_session.scalars(select(WorkPeriod).where(WorkPeriod.member_id == member_id)).one()
        delete_member_row(db_session, SYSTEM, WorkPeriod, row.id)
    for member_id in ids[50:60]:
        add_member_row(
            db_session,
            SYSTEM,
            WorkPeriod(member_id=member_id, starts_on=date(2010, 1, 1), description="Bác sĩ"),
        )
    delta = _export(db_session, pair)
    applied = _apply(pair, delta.data)
    assert applied.counts["deleted"]["member_work_period"] == 20
    assert _hashes_match(db_session, up) == 300
    assert _count(up, WorkPeriod, WorkPeriod.description == "Kỹ sư") == 20
    up.rollback()


def test_a_full_package_removes_what_the_subtree_no_longer_holds(db_session, pair):
    tree = pair.tree
    cell = found_unit(
        db_session,
        SYSTEM,
        Unit(code="P.01.001.08", name="Chi bộ Tám", kind=UnitKind.CELL, parent_id=tree["G1"].id),
    )
    kept_ids = _members(db_session, tree, 3)
    gone = make_member(db_session, cell)
    db_session.commit()
    open_ledger(db_session, SYSTEM, gone.id)
    gone_number = gone.member_number
    assert _apply(pair, _export(db_session, pair, full=True).data).state == "applied"
    up = pair.up
    assert _count(up, Member, Member.member_number == gone_number) == 1
    up.rollback()

    # The district loses the member and the cell without a trace (restored from an older
    # backup, say): only a re-seed can tell the province.
    _wipe(db_session, gone.id)
    db_session.execute(delete(Unit.__table__).where(Unit.__table__.c.id == cell.id))
    db_session.execute(delete(SyncOutbox))
    db_session.commit()
    applied = _apply(pair, _export(db_session, pair, full=True).data)
    assert applied.counts["deleted"]["member"] >= 1 and applied.counts["deleted"]["unit"] >= 1
    assert _count(up, Member, Member.member_number == gone_number) == 0
    assert _count(up, Unit, Unit.code == "P.01.001.08") == 0
    assert _hashes_match(db_session, up) >= len(kept_ids)
    # The province's own tree outside the district stays.
    assert _count(up, Unit, Unit.code == "P.02") == 1
    up.rollback()
