"""Packages between two instances (webapp/domain/sync.py, docs/sync.md): the test process's
database is the district (downstream, unit P.01); a second database initialised by a real
`flask init` in its own process is the province (upstream, unit P). Packages go up
in-process and through `flask --app wsgi import` in the province's own process (the USB
path); after each scenario every member's content hash is the same on both sides."""

from __future__ import annotations

import base64
import gzip
import json
import os
import tempfile
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.orm import Session

from tests.conftest import ADMIN_PASSWORD, DATABASE_URL, _ensure_pg_database, run_flask
from tests.factories import SYSTEM, make_member, make_tree, make_unit
from webapp.domain.commands import Requester, Role
from webapp.domain.errors import DomainError, Forbidden, ValidationFailed
from webapp.domain.events import EventInput, cancel_event, open_ledger, record_event
from webapp.domain.members import delete_member, edit_member
from webapp.domain.records import add_member_row, delete_member_row, edit_member_row
from webapp.domain.sync import (
    FORMAT_VERSION,
    accept_receipt,
    apply_package,
    export_package,
    schema_revision,
    sync_status,
)
from webapp.domain.sync_envelope import EnvelopeRefused, generate_key, public_key, seal
from webapp.domain.sync_rows import content_hashes, unit_rows
from webapp.domain.sync_setup import init_instance, register_peer
from webapp.domain.units import found_unit
from webapp.models import Member, MemberEvent, Unit, WorkPeriod
from webapp.models.sync import SyncPeer
from webapp.models.sync_packages import SyncOutbox, SyncPackage
from webapp.models.unit import UnitKind

pytestmark = pytest.mark.server_only
PATTERN = r"\d{6}[A-Z]{1,3}|\d{10}"


@pytest.fixture(scope="module")
def upstream(app):
    """The province: its own database, initialised by `flask init` in its own process."""
    if not DATABASE_URL or not DATABASE_URL.startswith("postgresql"):
        pytest.skip("two instances need PostgreSQL")
    url = f"{DATABASE_URL}_up"
    _ensure_pg_database(url)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    seed = generate_key()
    work = Path(tempfile.mkdtemp(prefix="dangvien-upstream-"))
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DATA_DIR": str(work / "data"),
        "DANGVIEN_INSTANCE_DIR": str(work / "instance"),
        "SYNC_KEY": base64.b64encode(seed).decode(),
    }
    done = run_flask("init", "--admin-password", ADMIN_PASSWORD, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    session = Session(engine)
    province = make_unit(session, "P", "Đảng bộ tỉnh Thử nghiệm", UnitKind.PROVINCIAL_COMMITTEE)
    make_unit(session, "P.01", "Đảng bộ huyện Một", UnitKind.UPPER_GRASSROOTS_COMMITTEE, province)
    make_unit(session, "P.02", "Đảng bộ huyện Hai", UnitKind.UPPER_GRASSROOTS_COMMITTEE, province)
    session.commit()
    init_instance(session, SYSTEM, unit_code="P", public_key=public_key(seed))
    yield SimpleNamespace(engine=engine, session=session, seed=seed, env=env, work=work)
    session.close()
    engine.dispose()


@pytest.fixture()
def pair(app, db_session, upstream):
    """A fresh district (its own key each test) registered with the province."""
    tree = make_tree(db_session)
    seed = generate_key()
    app.config["SYNC_KEY"] = base64.b64encode(seed).decode()
    init_instance(db_session, SYSTEM, unit_code="P.01", public_key=public_key(seed))
    register_peer(
        db_session, SYSTEM, kind="upstream", unit_code="P", public_key=public_key(upstream.seed)
    )
    up = upstream.session
    up.rollback()
    up.execute(update(SyncPeer).where(SyncPeer.kind == "downstream").values(active=False))
    up.commit()
    peer = register_peer(
        up,
        SYSTEM,
        kind="downstream",
        unit_code="P.01",
        public_key=public_key(seed),
        name="Huyện Một",
    )
    yield SimpleNamespace(tree=tree, seed=seed, up=up, up_seed=upstream.seed, peer_id=peer.id)
    app.config["SYNC_KEY"] = None
    up.rollback()


def _member(session, unit, **fields):
    member = make_member(session, unit, **fields)
    session.commit()
    open_ledger(session, SYSTEM, member.id)
    return member


def _export(session, pair, **options):
    return export_package(session, SYSTEM, seed=pair.seed, **options)


def _apply(pair, data):
    return apply_package(pair.up, SYSTEM, data, seed=pair.up_seed)


def _hashes_match(down, up):
    """Every member of the district has the same content hash in the province."""
    numbers = dict(down.execute(select(Member.id, Member.member_number)).all())
    ours = content_hashes(down, numbers)
    theirs_ids = dict(
        up.execute(
            select(Member.member_number, Member.id).where(
                Member.member_number.in_(numbers.values())
            )
        ).all()
    )
    theirs = content_hashes(up, theirs_ids.values())
    up.rollback()
    assert len(theirs_ids) == len(numbers)
    for member_id, number in numbers.items():
        assert ours[member_id] == theirs[theirs_ids[number]], number
    return len(numbers)


def _count(session, model, *where):
    return session.scalar(select(func.count()).select_from(model).where(*where))


def _refused(up, reason_part):
    rows = up.scalars(
        select(SyncPackage).where(SyncPackage.state == "refused").order_by(SyncPackage.id.desc())
    ).all()
    return any(reason_part in (r.reason or "") for r in rows)


def test_normal_flow_full_then_delta_duplicate_and_receipt(db_session, pair):
    tree = pair.tree
    first = _member(
        db_session, tree["C1"], card_number="01.000777", card_issued_on=date(2010, 1, 1)
    )
    second = _member(db_session, tree["C2"], birth_name="Trần Thị Bình", sex="female")
    add_member_row(
        db_session,
        SYSTEM,
        WorkPeriod(member_id=first.id, starts_on=date(2001, 1, 1), description="Nông dân"),
    )
    new_cell = found_unit(
        db_session,
        SYSTEM,
        Unit(
            code="P.01.001.03", name="Chi bộ thôn Nam", kind=UnitKind.CELL, parent_id=tree["G1"].id
        ),
    )

    full = _export(db_session, pair, full=True)
    assert full.kind == "full" and full.sequence == 1
    assert full.file_name == "P.01-000001.dvpkg"
    applied = _apply(pair, full.data)
    assert applied.state == "applied" and applied.sequence == 1
    assert _hashes_match(db_session, pair.up) == 2
    up = pair.up
    cell = up.scalars(select(Unit).where(Unit.code == "P.01.001.03")).one()
    district = up.scalars(select(Unit).where(Unit.code == "P.01")).one()
    assert cell.path.startswith(district.path) and cell.parent.code == "P.01.001"
    assert district.parent.code == "P"  # the sender's root stays where the province hangs it
    up.rollback()

    # The delta: an edit, a cancelled event, a removed row, a unit renamed.
    edit_member(
        db_session,
        SYSTEM,
        first.id,
        {"current_address": "Số 1 đường Một"},
        member_number_pattern=PATTERN,
    )
    transfer = record_event(
        db_session,
        SYSTEM,
        second.id,
        EventInput(kind="transfer_within", effective_on=date(2024, 3, 1), to_unit_id=new_cell.id),
    )
    cancel_event(db_session, SYSTEM, transfer.id, today=date(2024, 4, 1))
    row = db_session.scalars(select(WorkPeriod).where(WorkPeriod.member_id == first.id)).one()
    delete_member_row(db_session, SYSTEM, WorkPeriod, row.id)
    delta = _export(db_session, pair)
    assert (delta.kind, delta.sequence) == ("delta", 2)
    assert delta.counts["member"] == 2 and "member_work_period" not in delta.counts
    applied = _apply(pair, delta.data)
    assert applied.state == "applied"
    assert applied.counts["deleted"]["member_work_period"] == 1
    _hashes_match(db_session, up)
    reversal = up.scalars(select(MemberEvent).where(MemberEvent.kind == "reversal")).one()
    assert reversal.reverses.kind == "transfer_within"
    up.rollback()

    # Nothing changed since: no package. The same package twice changes nothing.
    assert _export(db_session, pair) is None
    events_before = _count(up, MemberEvent)
    again = _apply(pair, delta.data)
    assert again.state == "duplicate" and again.sequence == 2
    assert _count(up, MemberEvent) == events_before
    assert _count(up, SyncPackage, SyncPackage.state == "applied") >= 2

    # The receipt marks the package delivered; a receipt of something else changes nothing.
    package = accept_receipt(db_session, SYSTEM, applied.receipt)
    assert (package.sequence, package.state) == (2, "delivered")
    with pytest.raises(DomainError):
        accept_receipt(db_session, SYSTEM, delta.data)
    forged = seal(
        b"{}", kind="receipt", sender_seed=generate_key(), recipient_key=public_key(pair.seed)
    )
    with pytest.raises(DomainError):
        accept_receipt(db_session, SYSTEM, forged)
    states = dict(db_session.execute(select(SyncPackage.sequence, SyncPackage.state)).all())
    assert states == {1: "pending", 2: "delivered"}
    status = {s.kind: s for s in sync_status(db_session)}
    assert [p.sequence for p in status["upstream"].pending] == [1]

    # The province forwards what it received: its own outbox holds the members.
    forwarded = up.scalars(select(SyncOutbox.row_id).where(SyncOutbox.table_name == "member")).all()
    up.rollback()
    assert len(set(forwarded)) >= 2


def test_a_gap_is_named_then_healed(db_session, pair):
    member = _member(db_session, pair.tree["C1"])
    one = _export(db_session, pair, full=True)
    assert _apply(pair, one.data).state == "applied"
    edit_member(
        db_session, SYSTEM, member.id, {"current_address": "Nhà A"}, member_number_pattern=PATTERN
    )
    two = _export(db_session, pair)
    edit_member(
        db_session, SYSTEM, member.id, {"current_address": "Nhà B"}, member_number_pattern=PATTERN
    )
    three = _export(db_session, pair)
    edit_member(
        db_session, SYSTEM, member.id, {"current_address": "Nhà C"}, member_number_pattern=PATTERN
    )
    four = _export(db_session, pair)
    with pytest.raises(DomainError) as refused:
        _apply(pair, four.data)
    assert refused.value.params["missing"] == "2, 3"
    assert _refused(pair.up, "have not arrived")
    assert _apply(pair, two.data).state == "applied"
    assert _apply(pair, three.data).state == "applied"
    assert _apply(pair, four.data).state == "applied"
    _hashes_match(db_session, pair.up)
    status = {s.kind: s for s in sync_status(pair.up) if s.peer_id == pair.peer_id}
    pair.up.rollback()
    assert status["downstream"].last_received.sequence == 4
    assert status["downstream"].refused and not status["downstream"].stale


def test_tampered_unknown_and_foreign_packages_are_refused(db_session, pair):
    _member(db_session, pair.tree["C1"])
    package = _export(db_session, pair, full=True)
    members_before = _count(pair.up, Member)
    tampered = bytearray(package.data)
    tampered[len(tampered) // 2] ^= 0x01
    with pytest.raises(EnvelopeRefused):
        _apply(pair, bytes(tampered))
    with pytest.raises(EnvelopeRefused):
        _apply(pair, package.data[: len(package.data) // 2])
    stranger = seal(
        b"x", kind="delta", sender_seed=generate_key(), recipient_key=public_key(pair.up_seed)
    )
    with pytest.raises(EnvelopeRefused) as unknown:
        _apply(pair, stranger)
    assert "does not know" in unknown.value.message
    assert _count(pair.up, Member) == members_before
    assert _refused(pair.up, "altered or cut")
    assert _refused(pair.up, "does not know")


def _forge(pair, db_session, rows, *, sequence=1, **manifest):
    """A package as a misbehaving (or newer) downstream would write it, properly sealed."""
    payload = {
        "manifest": {
            "format": FORMAT_VERSION,
            "schema": schema_revision(db_session),
            "kind": "delta",
            "sender_key": public_key(pair.seed),
            "sender_unit": "P.01",
            "sequence": sequence,
            **manifest,
        },
        "rows": rows,
        "deletions": [],
    }
    body = gzip.compress(json.dumps(payload).encode())
    return seal(body, kind="delta", sender_seed=pair.seed, recipient_key=public_key(pair.up_seed))


def test_units_outside_the_subtree_and_newer_formats_are_refused(db_session, pair):
    # The district's database knows P.02 (the other district): it may not send it up.
    sibling = unit_rows(db_session, [pair.tree["D2"].id, pair.tree["C3"].id])
    renamed = [[name, {**data, "name": "Chiếm"}] for name, data in sibling]
    with pytest.raises(DomainError) as outside:
        _apply(pair, _forge(pair, db_session, renamed))
    assert outside.value.params["code"] == "P.02"
    assert pair.up.scalars(select(Unit.name).where(Unit.code == "P.02")).one() != "Chiếm"
    pair.up.rollback()
    member = make_member(db_session, pair.tree["C3"])
    db_session.commit()
    rows = [["member", data] for name, data in _rows_of(db_session, member.id) if name == "member"]
    with pytest.raises(DomainError):
        _apply(pair, _forge(pair, db_session, rows))
    assert _count(pair.up, Member, Member.member_number == member.member_number) == 0

    with pytest.raises(DomainError) as newer:
        _apply(pair, _forge(pair, db_session, [], format=FORMAT_VERSION + 1))
    assert "format" in newer.value.message
    with pytest.raises(DomainError) as schema:
        _apply(pair, _forge(pair, db_session, [], schema="9999_future"))
    assert schema.value.params["revision"] == "9999_future"
    assert _refused(pair.up, "newer DangVien")


def _rows_of(session, member_id):
    from webapp.domain.sync_rows import member_rows

    return member_rows(session, [member_id])


def test_deletion_carried_and_the_province_may_not_edit_what_the_district_owns(db_session, pair):
    keep = _member(db_session, pair.tree["C1"])
    mistake = make_member(db_session, pair.tree["C2"])
    db_session.commit()
    add_member_row(
        db_session,
        SYSTEM,
        WorkPeriod(member_id=keep.id, starts_on=date(2001, 1, 1), description="Giáo viên"),
    )
    assert _apply(pair, _export(db_session, pair, full=True).data).state == "applied"
    number = mistake.member_number
    delete_member(db_session, SYSTEM, mistake.id)
    package = _export(db_session, pair)
    assert package.counts.get("deletions") == 1
    assert _apply(pair, package.data).state == "applied"
    assert _count(pair.up, Member, Member.member_number == number) == 0
    _hashes_match(db_session, pair.up)

    up = pair.up
    up_district = up.scalars(select(Unit).where(Unit.code == "P")).one()
    clerk = Requester(user_id=None, roles=frozenset({Role.CLERK}), scope=up_district.path)
    row_id = up.scalars(select(WorkPeriod.id)).first()
    with pytest.raises(Forbidden) as owned:
        edit_member_row(up, clerk, WorkPeriod, row_id, {"description": "Sửa"})
    assert owned.value.params["owner"] == "Huyện Một"
    grassroots = up.scalars(select(Unit).where(Unit.code == "P.01.001")).one()
    with pytest.raises(ValidationFailed) as placed:
        found_unit(
            up,
            clerk,
            Unit(code="P.01.001.09", name="Mới", kind=UnitKind.CELL, parent_id=grassroots.id),
        )
    assert placed.value.errors["parent"][0][1]["owner"] == "Huyện Một"
    up.rollback()


def test_nothing_is_captured_for_a_rolled_back_command(db_session, pair):
    member = _member(db_session, pair.tree["C1"])
    before = _count(db_session, SyncOutbox)
    assert before > 0  # the member and its opening events were captured
    with pytest.raises(ValidationFailed):
        edit_member(
            db_session, SYSTEM, member.id, {"birth_name": ""}, member_number_pattern=PATTERN
        )
    assert _count(db_session, SyncOutbox) == before
    last = db_session.scalar(select(func.max(SyncOutbox.id)))
    edit_member(
        db_session, SYSTEM, member.id, {"current_address": "Nhà Y"}, member_number_pattern=PATTERN
    )
    captured = db_session.execute(
        select(SyncOutbox.table_name, SyncOutbox.member_id).where(SyncOutbox.id > last)
    ).all()
    # The record and its field history, both the member's.
    assert sorted(captured) == [("member", member.id), ("member_change", member.id)]


def test_usb_round_trip_through_a_folder(app, db_session, pair, upstream, tmp_path):
    _member(db_session, pair.tree["C1"])
    runner = app.test_cli_runner()
    stick = tmp_path / "stick"
    written = runner.invoke(args=["export", "--out", str(stick), "--full"])
    assert written.exit_code == 0, written.output
    (package,) = stick.glob("*.dvpkg")
    assert package.name == "P.01-000001.dvpkg"
    applied = run_flask("import", str(package), "--receipt-out", str(stick), env=upstream.env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "applied" in applied.stdout
    (receipt,) = stick.glob("*.dvrcpt")
    again = run_flask("import", str(package), env=upstream.env)
    assert again.returncode == 0 and "nothing changed" in again.stdout
    taken = runner.invoke(args=["sync", "receipt", str(receipt)])
    assert taken.exit_code == 0, taken.output
    assert db_session.scalars(select(SyncPackage.state)).one() == "delivered"
    _hashes_match(db_session, pair.up)
    nothing = runner.invoke(args=["export", "--out", str(stick)])
    assert nothing.exit_code == 0 and "Nothing to send" in nothing.output

    broken = stick / "broken.dvpkg"
    broken.write_bytes(package.read_bytes()[:-10])
    refused = run_flask("import", str(broken), env=upstream.env)
    assert refused.returncode != 0
    assert "chữ ký" in refused.stderr.lower() or "signature" in refused.stderr


def test_photo_files_travel_when_asked(app, db_session, pair, upstream):
    from webapp.filestore import FileStore
    from webapp.models import MemberPhoto

    member = _member(db_session, pair.tree["C1"])
    ours = FileStore(app.config["DATA_DIR"])
    original = ours.put_bytes("originals", b"\xff\xd8 an original \xff\xd9", ".jpg")
    standard = ours.put_bytes("photos", b"\xff\xd8 the standard photo \xff\xd9", ".jpg")
    db_session.add(
        MemberPhoto(
            member_id=member.id,
            original_sha256=original.sha256,
            original_path=original.path,
            original_size=original.size,
            state="done",
            standard_sha256=standard.sha256,
            standard_path=standard.path,
            current=True,
        )
    )
    db_session.commit()
    theirs = FileStore(upstream.work / "data")
    package = export_package(db_session, SYSTEM, seed=pair.seed, full=True, files=ours)
    applied = apply_package(pair.up, SYSTEM, package.data, seed=pair.up_seed, files=theirs)
    assert applied.counts["files"] == 2
    assert theirs.absolute(standard.path).read_bytes() == ours.absolute(standard.path).read_bytes()
    _hashes_match(db_session, pair.up)
