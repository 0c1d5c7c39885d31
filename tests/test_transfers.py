"""A transfer between two provinces (issue 15): province A is the test database, in this
process; province B is its own database and DATA_DIR, driven by `flask --app wsgi …` in
separate processes as its administrator and clerk would. The file crosses by disk."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import photo_samples as samples
import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from conftest import DATABASE_URL, ROOT, login, run_flask
from tests.factories import SYSTEM, make_member, make_tree
from webapp.cli import create_user
from webapp.domain import sync_envelope as envelope
from webapp.domain import transfers
from webapp.domain.commands import Requester, Role
from webapp.domain.dossier import (
    DocumentFields,
    DocumentLimits,
    attach_document,
    process_document,
    replace_document,
)
from webapp.domain.errors import InUse, NotFound, ValidationFailed
from webapp.domain.events import open_ledger
from webapp.domain.imaging import PhotoLimits
from webapp.domain.photos import Upload, process_photo, upload_photo
from webapp.domain.sync_envelope import fingerprint, generate_key, public_key
from webapp.domain.sync_rows import member_rows
from webapp.domain.sync_setup import init_instance, register_peer
from webapp.domain.transfers import (
    close_transfer,
    import_transfer,
    inspect_transfer,
    pending_transfers,
    transfer_to_province,
)
from webapp.filestore import FileStore
from webapp.messages import translate
from webapp.models import AuditEntry, DocumentType, Member, MemberEvent, WorkPeriod
from webapp.models.badges import BadgeAward
from webapp.models.cards import PartyCard
from webapp.models.files import MemberDocument, MemberDocumentVersion, MemberPhoto
from webapp.models.transfer import IncomingTransfer, OutgoingTransfer, TransferState

pytestmark = pytest.mark.server_only

# Province B's database beside this process's own (each test process has its own).
B_DB = f"{DATABASE_URL.rsplit('/', 1)[1]}_b" if DATABASE_URL else "dangvien_test_b"
PATTERN = r"\d{6}[A-Z]{1,3}|\d{10}"
# Province A's key, the same for the whole module: B registers it once.
SEED_A = generate_key()
B_CITIZEN = "001099000001"
B_NUMBER = "900001BB"
B_BADGE = "HH-B00001"
CLERK_PASSWORD = "Transfer-Pass-123"

KEY_A = public_key(SEED_A)
SETUP_B = f"""
from wsgi import app
from webapp.extensions import db
from webapp.models.unit import UnitKind
from webapp.domain.events import open_ledger
from tests.factories import SYSTEM, make_member, make_unit
with app.app_context():
    province = make_unit(db.session, "B", "Đảng bộ tỉnh Bê", UnitKind.PROVINCIAL_COMMITTEE)
    cell = make_unit(db.session, "B.01", "Chi bộ Bê Một", UnitKind.CELL, province)
    member = make_member(db.session, cell, member_number="{B_NUMBER}",
                         citizen_id="{B_CITIZEN}", birth_name="Trần Thị Bê",
                         sex="female")
    from datetime import date
    from webapp.models.badges import BadgeAward
    db.session.add(BadgeAward(member_id=member.id, milestone=30, badge_number="{B_BADGE}",
                              decision_number="9-QĐ/TU", decision_on=date(2025, 1, 20),
                              occasion_on=date(2025, 2, 3)))
    db.session.commit()
    open_ledger(db.session, SYSTEM, member.id)
    # `flask sync init --unit B` and `sync partner --unit P …` (tests/test_sync_setup.py),
    # in this one process: each `flask` start costs seconds on a loaded machine.
    from webapp.domain.sync_envelope import public_key
    from webapp.domain.sync_setup import init_instance, register_peer
    from webapp.sync_keys import create_key
    init_instance(db.session, SYSTEM, unit_code="B", public_key=public_key(create_key()))
    register_peer(db.session, SYSTEM, kind="partner", unit_code="P", public_key="{KEY_A}",
                  name="Tỉnh A")
    print(public_key(create_key()))
"""


@pytest.fixture(scope="module")
def province_b(app, tmp_path_factory):
    """Province B: a fresh database, `flask init`, a small tree and one member, its key,
    and A registered as its partner. Returns what the tests need to drive it."""
    base = DATABASE_URL.rsplit("/", 1)[0]
    admin = create_engine(base + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{B_DB}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{B_DB}"'))
    admin.dispose()
    where = tmp_path_factory.mktemp("province-b")
    env = {
        **os.environ,
        "DATABASE_URL": f"{base}/{B_DB}",
        "DATA_DIR": str(where / "data"),
        "DANGVIEN_INSTANCE_DIR": str(where / "instance"),
    }
    flask_ok(env, "init", "--admin-password", "Admin-Test-123")
    setup = subprocess.run(
        [sys.executable, "-c", SETUP_B], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert setup.returncode == 0, setup.stderr
    key_b = setup.stdout.strip().splitlines()[-1]
    engine = create_engine(env["DATABASE_URL"])
    yield {"env": env, "key": key_b, "dir": where, "engine": engine}
    engine.dispose()


def flask_ok(env, *args: str) -> str:
    result = run_flask(*args, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def b_count(province_b, table: str) -> int:
    with province_b["engine"].connect() as connection:
        return connection.scalar(text(f"SELECT count(*) FROM {table}"))


def b_counts(province_b) -> dict[str, int]:
    tables = (
        "member",
        "member_event",
        "member_work_period",
        "party_card",
        "transfer_in",
        "badge_award",
        "member_photo",
        "member_document",
        "member_document_version",
        "audit_entry",
    )
    counts = {table: b_count(province_b, table) for table in tables}
    counts["files"] = len(b_files(province_b))
    return counts


def b_files(province_b) -> list[Path]:
    """Every file in B's FileStore."""
    root = Path(province_b["env"]["DATA_DIR"]) / "files"
    return sorted(p for p in root.rglob("*") if p.is_file())


def set_up_a(db_session, province_b):
    """Province A: its identity (SEED_A) and B as its partner; the tree P → D1, D2."""
    tree = make_tree(db_session)
    init_instance(db_session, SYSTEM, unit_code="P", public_key=public_key(SEED_A))
    register_peer(
        db_session,
        SYSTEM,
        kind="partner",
        unit_code="B",
        public_key=province_b["key"],
        name="Tỉnh Bê",
    )
    return tree


# What is the receiver's own, not the person's: left out when the two sides are compared.
LOCAL = {
    "id",
    "member_id",
    "supplement_id",
    "_refs",
    "unit_id",
    "host_unit_id",
    "status",
    "party_age_from",
    "created_at",
    "updated_at",
    "version_id",
}


def carried(session, member_id: int) -> dict[str, list[str]]:
    """The member's rows that a transfer carries, as sync_rows serialises them, without
    the ids and derived fields that are each instance's own."""
    out: dict[str, list[str]] = {}
    for table, data in member_rows(session, [member_id]):
        if table in transfers.CARRIED:
            kept = {k: v for k, v in data.items() if k not in LOCAL}
            out.setdefault(table, []).append(json.dumps(kept, sort_keys=True))
    return {table: sorted(rows) for table, rows in out.items()}


def clerk_of(unit) -> Requester:
    return Requester(user_id=None, roles=frozenset({Role.CLERK}), scope=unit.path)


def member_at_a(db_session, cell, **fields) -> Member:
    member = make_member(db_session, cell, **fields)
    db_session.add(
        WorkPeriod(member=member, starts_on=date(2001, 9, 1), description="Giáo viên trường làng")
    )
    db_session.commit()
    open_ledger(db_session, SYSTEM, member.id)
    return member


def export(db_session, tree, member, *, now=None, to="B", seed=SEED_A, files=None) -> bytes:
    now = now or datetime.now()
    _, data = transfer_to_province(
        db_session,
        clerk_of(tree["D1"]),
        member.id,
        partner_unit_code=to,
        on=now.date(),
        decision_number="123-QĐ/TU",
        seed=seed,
        now=now,
        files=files,
    )
    return data


def resealed(province_b, data: bytes, change) -> bytes:
    """A's package for B opened with B's key (its file under B's DATA_DIR), its payload
    changed by `change`, and sealed again by A for B: what A could have written."""
    key_b = Path(province_b["env"]["DATA_DIR"]) / "sync" / "instance.key"
    opened = envelope.open_envelope(
        data, recipient_seed=base64.b64decode(key_b.read_text()), is_known_sender=bool
    )
    payload = json.loads(opened.payload)
    change(payload)
    return envelope.seal(
        json.dumps(payload, ensure_ascii=False, sort_keys=True).encode(),
        kind=transfers.PACKAGE_KIND,
        sender_seed=SEED_A,
        recipient_key=province_b["key"],
        header={"transfer_id": payload["transfer_id"], "expires_on": payload["expires_on"]},
    )


def with_a_scan(app, db_session, member) -> None:
    """One checked scan in the member's dossier (attached and checked as the job does)."""
    store = FileStore(app.config["DATA_DIR"])
    limits = DocumentLimits.from_config(app.config)
    kind = db_session.scalar(select(DocumentType).where(DocumentType.code == "application"))
    version = attach_document(
        db_session,
        SYSTEM,
        member.id,
        DocumentFields(type_id=kind.id),
        Upload(samples.multi_page_pdf(1), "don.pdf"),
        store,
        limits,
    )
    assert process_document(db_session, version.id, store, limits).state == "done"


def b_import(province_b, data: bytes, name: str, unit="B.01"):
    path = Path(province_b["dir"]) / name
    path.write_bytes(data)
    receipt = path.with_suffix(".receipt")
    result = run_flask(
        "transfer",
        "import",
        str(path),
        "--unit",
        unit,
        "--receipt-out",
        str(receipt),
        env=province_b["env"],
    )
    return result, receipt


def test_a_transfer_crosses_from_a_to_b_and_the_receipt_closes_it(app, db_session, province_b):
    tree = set_up_a(db_session, province_b)
    member = member_at_a(
        db_session,
        tree["C1"],
        citizen_id="001080000123",
        card_number="31.000777",
        card_issued_on=date(2007, 5, 19),
        birth_name="Lê Văn Chuyển",
        home_town="Nam Định",
    )
    number = member.member_number
    data = export(db_session, tree, member)

    # A: the member is transferred out; the transfer is pending, valid three months.
    db_session.expire_all()
    assert db_session.get(Member, member.id).status == "transferred_out"
    transfer = db_session.scalars(select(OutgoingTransfer)).one()
    assert transfer.state == TransferState.PENDING
    assert 89 <= (transfer.expires_on - date.today()).days <= 92
    events_at_a = [
        (e.kind, e.effective_on)
        for e in db_session.scalars(
            select(MemberEvent).where(MemberEvent.member_id == member.id).order_by(MemberEvent.id)
        )
    ]
    assert [k for k, _ in events_at_a] == ["admission", "official_recognition", "transfer_out"]

    # B: the clerk imports it into cell B.01 (the import shows whom the file carries).
    before = b_counts(province_b)
    result, receipt = b_import(province_b, data, "chuyen.dvpkg")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Lê Văn Chuyển" in result.stdout and number in result.stdout
    assert receipt.is_file()
    after = b_counts(province_b)
    assert after["member"] == before["member"] + 1
    assert after["member_work_period"] == before["member_work_period"] + 1
    assert after["party_card"] == before["party_card"] + 1

    # B's member is the same person with the same record, rows and card; on B's rolls by a
    # transfer in, as the official member they were.
    with province_b["engine"].connect() as connection:
        there = (
            connection.execute(
                text(
                    "SELECT m.*, u.code AS cell FROM member m JOIN unit u ON u.id = m.unit_id "
                    "WHERE member_number = :n"
                ),
                {"n": number},
            )
            .mappings()
            .one()
        )
        rows = connection.execute(
            text("SELECT starts_on, description FROM member_work_period WHERE member_id = :m"),
            {"m": there["id"]},
        ).all()
        events = connection.execute(
            text(
                "SELECT kind, arriving_as, other_organisation, decision_number FROM member_event "
                "WHERE member_id = :m ORDER BY id"
            ),
            {"m": there["id"]},
        ).all()
        received = connection.execute(text("SELECT transfer_id FROM transfer_in")).scalars().all()
    here = db_session.get(Member, member.id)
    for field in (
        "birth_name",
        "sex",
        "birth_date",
        "citizen_id",
        "admitted_on",
        "official_on",
        "home_town",
        "ethnicity",
        "card_number",
        "card_issued_on",
    ):
        assert there[field] == getattr(here, field), field
    assert there["cell"] == "B.01" and there["status"] == "official"
    assert there["party_age_from"] == here.admitted_on
    assert rows == [(date(2001, 9, 1), "Giáo viên trường làng")]
    with Session(province_b["engine"]) as b_session:
        at_b = carried(b_session, there["id"])
    at_a = carried(db_session, member.id)
    assert {"member", "member_work_period", "party_card"} <= set(at_a)
    # The history of changed fields: A's rows all arrive; B adds its own (the transfer in).
    assert set(at_a.pop("member_change", [])) <= set(at_b.pop("member_change", []))
    assert at_b == at_a
    assert events == [("transfer_in", "official", "Tỉnh A", "123-QĐ/TU")]
    assert received == [transfer.transfer_id]

    # The receipt goes back to A and closes the pending transfer; a second time it says so.
    closed = close_transfer(db_session, clerk_of(tree["D1"]), receipt.read_bytes())
    assert closed.state == TransferState.CLOSED
    assert closed.received_unit.startswith("B.01")
    with pytest.raises(InUse) as again:
        close_transfer(db_session, clerk_of(tree["D1"]), receipt.read_bytes())
    assert number in str(again.value)
    [(listed, state)] = pending_transfers(db_session, clerk_of(tree["D1"]))
    assert listed.id == closed.id and state == TransferState.CLOSED
    # Another district's clerk does not see it.
    assert pending_transfers(db_session, clerk_of(tree["D2"])) == []

    # The same file again at B: refused, saying when it was imported; nothing written.
    twice, _ = b_import(province_b, data, "chuyen-lan-2.dvpkg")
    assert twice.returncode == 5, twice.stdout + twice.stderr
    assert number in twice.stderr and datetime.now().strftime("%d/%m/%Y") in twice.stderr
    assert b_counts(province_b) == after


def test_refused_files_change_nothing_at_b(app, db_session, province_b):
    tree = set_up_a(db_session, province_b)
    # A third province, registered at A only: B cannot read what A writes for it.
    key_c = public_key(generate_key())
    register_peer(db_session, SYSTEM, kind="partner", unit_code="C", public_key=key_c)
    db_session.commit()
    before = b_counts(province_b)
    files = {}

    # Written four months ago: expired on the day three months after.
    old = datetime.now() - timedelta(days=122)
    files["expired"] = export(db_session, tree, member_at_a(db_session, tree["C1"]), now=old)
    expiry = db_session.scalars(select(OutgoingTransfer)).one().expires_on
    # Altered on the way (one byte of the ciphertext), or cut short.
    good = export(db_session, tree, member_at_a(db_session, tree["C1"]))
    altered = bytearray(good)
    altered[len(altered) // 2] ^= 0x01
    files["altered"] = bytes(altered)
    files["cut"] = good[:-100]
    # For another province; from an instance B does not know (signed with another key).
    files["for_c"] = export(db_session, tree, member_at_a(db_session, tree["C1"]), to="C")
    stranger = generate_key()
    files["stranger"] = export(db_session, tree, member_at_a(db_session, tree["C1"]), seed=stranger)
    # A member number, or a citizen ID, already on record at B.
    files["same_number"] = export(
        db_session, tree, member_at_a(db_session, tree["C1"], member_number=B_NUMBER)
    )
    files["same_person"] = export(
        db_session, tree, member_at_a(db_session, tree["C1"], citizen_id=B_CITIZEN)
    )
    # A badge whose number B's register holds already (another member's).
    holder = member_at_a(db_session, tree["C1"])
    db_session.add(
        BadgeAward(
            member_id=holder.id,
            milestone=30,
            badge_number=B_BADGE,
            decision_number="1-QĐ/TU",
            decision_on=date(2024, 1, 20),
            occasion_on=date(2024, 2, 3),
        )
    )
    db_session.commit()
    files["same_badge"] = export(db_session, tree, holder)
    # Signed by A and whole, but a scan's content is not what its name says, or a row
    # names a file the package does not carry.
    scanned = member_at_a(db_session, tree["C1"])
    with_a_scan(app, db_session, scanned)
    db_session.commit()
    with_scan = export(db_session, tree, scanned, files=FileStore(app.config["DATA_DIR"]))

    def damage(payload):
        path = next(iter(payload["files"]))
        payload["files"][path] = base64.b64encode(b"%PDF-1.4 not the scan").decode()

    def drop_a_file(payload):
        payload["files"].pop(next(iter(payload["files"])))

    files["damaged_file"] = resealed(province_b, with_scan, damage)
    files["missing_file"] = resealed(province_b, with_scan, drop_a_file)
    paths = {name: Path(province_b["dir"]) / f"{name}.dvpkg" for name in files}
    for name, data in files.items():
        paths[name].write_bytes(data)
    # One `flask` process checks them all (each start costs seconds here).
    checked = run_flask(
        "transfer", "check", *(str(p) for p in paths.values()), env=province_b["env"]
    )
    assert checked.returncode == 1, checked.stdout + checked.stderr
    lines = checked.stdout.splitlines()
    verdict = {
        name: next(line for line in lines if line.startswith(f"{path}: "))
        for name, path in paths.items()
    }
    with app.test_request_context():
        expected = {
            "expired": translate(transfers.EXPIRED, {"day": expiry.strftime("%d/%m/%Y")}),
            "altered": translate(envelope.BAD_SIGNATURE),
            "cut": translate(envelope.BAD_SIGNATURE),
            "for_c": translate(envelope.NOT_FOR_US, {"key": fingerprint(key_c)}),
            "stranger": translate(
                envelope.UNKNOWN_SENDER, {"key": fingerprint(public_key(stranger))}
            ),
            "same_badge": translate(transfers.BADGE_TAKEN, {"badge": B_BADGE}),
            "damaged_file": translate(transfers.BAD_PAYLOAD),
            "missing_file": translate(transfers.BAD_PAYLOAD),
        }
    for name, message in expected.items():
        assert verdict[name].endswith(message), (name, verdict[name])
    assert B_NUMBER in verdict["same_number"] and "Trần Thị Bê" in verdict["same_number"]
    assert B_CITIZEN in verdict["same_person"]
    assert b_counts(province_b) == before


def test_b_to_a_a_clerk_imports_into_their_own_scope_only(app, db_session, province_b):
    tree = set_up_a(db_session, province_b)
    db_session.commit()
    where = Path(province_b["dir"])
    package = where / "b-sang-a.dvpkg"
    out = run_flask(
        "transfer",
        "export",
        B_NUMBER,
        "--to",
        "P",
        "--on",
        date.today().strftime("%d/%m/%Y"),
        "--decision",
        "45-QĐ/TU",
        "--out",
        str(package),
        env=province_b["env"],
    )
    assert out.returncode == 0, out.stdout + out.stderr
    data = package.read_bytes()

    # Refused without this instance's key, altered, and into a cell outside the clerk's
    # scope (C1 is in D1; the clerk is D2's): nothing written.
    with pytest.raises(NotFound):
        inspect_transfer(db_session, clerk_of(tree["D1"]), data, seed=None)
    middle = len(data) // 2
    with pytest.raises(envelope.EnvelopeRefused):
        import_transfer(
            db_session,
            clerk_of(tree["D1"]),
            data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1 :],
            seed=SEED_A,
            cell_code=tree["C1"].code,
            member_number_pattern=PATTERN,
        )
    d2_clerk = clerk_of(tree["D2"])
    check = inspect_transfer(db_session, d2_clerk, data, seed=SEED_A)
    assert (check.member_number, check.name, check.birth_date) == (
        B_NUMBER,
        "Trần Thị Bê",
        date(1980, 5, 19),
    )
    assert check.sender_name == "Tỉnh Bê"
    assert [e["kind"] for e in check.events] == [
        "admission",
        "official_recognition",
        "transfer_out",
    ]
    with pytest.raises(ValidationFailed) as outside:
        import_transfer(
            db_session,
            d2_clerk,
            data,
            seed=SEED_A,
            cell_code=tree["C1"].code,
            member_number_pattern=PATTERN,
        )
    assert outside.value.field == "cell"
    assert db_session.scalar(select(func.count()).select_from(IncomingTransfer)) == 0
    assert db_session.scalar(select(Member.id).where(Member.member_number == B_NUMBER)) is None

    # The district's own clerk, on the import screen: upload, check the person, choose the
    # cell, import, download the receipt; the receipt closes B's transfer.
    create_user("clerk_transfer", "Clerk", tree["D1"].code, CLERK_PASSWORD)
    app.config["SYNC_KEY"] = base64.b64encode(SEED_A).decode()
    client = app.test_client()
    login(client, "clerk_transfer", CLERK_PASSWORD)
    try:
        checked = client.post(
            "/transfers/check",
            data={"file": (io.BytesIO(data), "b-sang-a.dvpkg")},
            content_type="multipart/form-data",
        )
        page = checked.get_data(as_text=True)
        assert checked.status_code == 200 and "Trần Thị Bê" in page and B_NUMBER in page
        assert tree["C1"].code in page and tree["C3"].code not in page  # the clerk's cells
        # What comes besides the record: no photo, no scans, B's badge.
        assert 'data-photo="no"' in page and 'data-count="0"' in page
        assert f'data-badge="{B_BADGE}"' in page
        sha = hashlib.sha256(data).hexdigest()
        imported = client.post("/transfers/import", data={"package": sha, "cell": tree["C1"].code})
        assert imported.status_code == 200, imported.get_data(as_text=True)
        receipt_link = re.search(
            r'href="(/transfers/received/\d+/receipt)"', imported.get_data(as_text=True)
        )
        assert receipt_link, imported.get_data(as_text=True)
        receipt_bytes = client.get(receipt_link.group(1)).data
        # The same file again on the screen: refused with the message, nothing written.
        again = client.post(
            "/transfers/check",
            data={"file": (io.BytesIO(data), "b-sang-a.dvpkg")},
            content_type="multipart/form-data",
            follow_redirects=True,
        )
        assert B_NUMBER in again.get_data(as_text=True)
    finally:
        app.config.pop("SYNC_KEY", None)
    member_id = db_session.scalar(select(Member.id).where(Member.member_number == B_NUMBER))
    done = SimpleNamespace(member=db_session.get(Member, member_id), receipt=receipt_bytes)
    assert done.member.unit_id == tree["C1"].id and done.member.status == "official"
    assert [e.kind for e in done.member.events] == ["transfer_in"]
    assert done.member.card_number is None and done.member.citizen_id == B_CITIZEN
    # B's badge came along: A's rounds will not propose the 30-year badge again.
    [badge] = db_session.scalars(select(BadgeAward).where(BadgeAward.member_id == member_id))
    assert (badge.milestone, badge.badge_number) == (30, B_BADGE)
    [imported_entry] = db_session.scalars(
        select(AuditEntry).where(AuditEntry.action == "transfer_import")
    )
    assert imported_entry.member_id == member_id
    assert json.loads(imported_entry.after)["badges"] == 1
    # The same file twice: refused, naming the day of the first import; nothing written.
    counts = db_session.scalar(select(func.count()).select_from(MemberEvent))
    with pytest.raises(InUse) as twice:
        import_transfer(
            db_session,
            clerk_of(tree["D1"]),
            data,
            seed=SEED_A,
            cell_code=tree["C2"].code,
            member_number_pattern=PATTERN,
        )
    assert twice.value.message == transfers.ALREADY_IMPORTED
    assert twice.value.params["day"].startswith(date.today().strftime("%d/%m/%Y"))
    assert db_session.scalar(select(func.count()).select_from(MemberEvent)) == counts
    assert db_session.scalar(select(func.count()).select_from(Member)) == 1
    receipt = where / "b-sang-a.receipt"
    receipt.write_bytes(done.receipt)
    closed = run_flask("transfer", "receipt", str(receipt), env=province_b["env"])
    assert closed.returncode == 0, closed.stdout + closed.stderr
    assert B_NUMBER in closed.stdout
    with province_b["engine"].connect() as connection:
        state, where_to = connection.execute(
            text("SELECT state, received_unit FROM transfer_out")
        ).one()
    assert state == "closed" and where_to.startswith(tree["C1"].code)
    # B's export and its closing are in B's audit log (the CLI acts as the system).
    with province_b["engine"].connect() as connection:
        actions = (
            connection.execute(
                text(
                    "SELECT action FROM audit_entry WHERE action LIKE 'transfer_%' AND member_id = "
                    "(SELECT id FROM member WHERE member_number = :n) ORDER BY id"
                ),
                {"n": B_NUMBER},
            )
            .scalars()
            .all()
        )
    assert actions == ["transfer_export", "transfer_close"]
    # The receipt is readable by anyone (signed, not encrypted), and says what it closes.
    opened = envelope.open_envelope(done.receipt, recipient_seed=None, is_known_sender=bool)
    assert json.loads(opened.payload)["member_number"] == B_NUMBER
    assert db_session.scalar(select(func.count()).select_from(PartyCard)) == 0


def test_the_sending_clerk_writes_the_package_on_screen(app, db_session, province_b):
    """The member page offers the transfer (a partner is registered); the form records it
    and keeps the package for download from the list of transfers out."""
    tree = set_up_a(db_session, province_b)
    member = member_at_a(db_session, tree["C1"], birth_name="Phạm Văn Màn")
    create_user("clerk_sender", "Clerk", tree["D1"].code, CLERK_PASSWORD)
    app.config["SYNC_KEY"] = base64.b64encode(SEED_A).decode()
    client = app.test_client()
    login(client, "clerk_sender", CLERK_PASSWORD)
    try:
        page = client.get(f"/membermodelview/show/{member.id}").get_data(as_text=True)
        assert f"/transfers/out/{member.id}" in page
        form = client.get(f"/transfers/out/{member.id}").get_data(as_text=True)
        assert "Tỉnh Bê" in form
        today = date.today()
        refused = client.post(
            f"/transfers/out/{member.id}",
            data={"partner": "B", "decision_number": "7-QĐ/TU"},
        )
        assert refused.status_code == 200  # no date: the form again, nothing recorded
        assert db_session.scalar(select(func.count()).select_from(OutgoingTransfer)) == 0
        done = client.post(
            f"/transfers/out/{member.id}",
            data={
                "partner": "B",
                "effective_on": today.strftime("%d/%m/%Y"),
                "decision_number": "7-QĐ/TU",
            },
            follow_redirects=True,
        )
        listing = done.get_data(as_text=True)
        transfer = db_session.scalars(select(OutgoingTransfer)).one()
        assert "Phạm Văn Màn" in listing and transfer.expires_on.strftime("%d/%m/%Y") in listing
        package = client.get(f"/transfers/package/{transfer.id}")
        assert package.status_code == 200
        assert hashlib.sha256(package.data).hexdigest() == transfer.package_sha256
        entry = db_session.scalars(
            select(AuditEntry).where(AuditEntry.action == "transfer_export")
        ).one()
        assert entry.username == "clerk_sender" and entry.member_id == member.id
    finally:
        app.config.pop("SYNC_KEY", None)
    # Another district's clerk neither sees it nor downloads it.
    create_user("clerk_other", "Clerk", tree["D2"].code, CLERK_PASSWORD)
    other = app.test_client()
    login(other, "clerk_other", CLERK_PASSWORD)
    assert other.get(f"/transfers/package/{transfer.id}").status_code == 404
    assert "Phạm Văn Màn" not in other.get("/transfers/").get_data(as_text=True)


# B's member page as its administrator sees it (B runs in its own processes): whether the
# photo and the dossier show, and the SHA-256 of what the page's links serve.
PAGE_AT_B = """
import hashlib, html, json, re, sys
from sqlalchemy import select
from wsgi import app
from webapp.extensions import db
from webapp.models.member import Member
app.config["WTF_CSRF_ENABLED"] = False
client = app.test_client()
client.post("/login/", data={"username": "admin", "password": "Admin-Test-123"})
with app.app_context():
    member_id = db.session.scalar(select(Member.id).where(Member.member_number == sys.argv[1]))
page = client.get(f"/membermodelview/show/{member_id}").get_data(as_text=True)
def served(url):
    response = client.get(html.unescape(url))
    return [response.status_code, hashlib.sha256(response.data).hexdigest()]
photo = re.search(r'data-photo-url="([^"]+)"', page).group(1)
thumb = re.search(r'id="member-photo"[^>]*src="([^"]+)"', page, re.S).group(1)
print(json.dumps({
    "photo": served(photo),
    "thumb": served(thumb),
    "types": re.findall(r'data-type="([a-z_]+)"', page),
    "scans": [served(u) for u in re.findall(r'href="([^"]+)" class="dossier-download"', page)],
    "no_photo_hidden": bool(re.search(r'id="member-photo-none"[^>]*display: none', page)),
}))
"""


def sha256_of(store: FileStore, path: str) -> str:
    return hashlib.sha256(store.read_bytes(path)).hexdigest()


def test_the_photo_dossier_and_badges_travel_and_each_step_is_audited(app, db_session, province_b):
    """A member with a processed photo, two checked dossier documents (one replaced: both
    versions travel; a third scan not yet checked stays behind) and a Party badge: at B the
    rows exist, the files are byte for byte A's, the page shows them; an altered package
    writes nothing; the export, the import and the closing are in each side's audit log."""
    tree = set_up_a(db_session, province_b)
    member = member_at_a(
        db_session,
        tree["C1"],
        birth_name="Đỗ Thị Hồ Sơ",
        citizen_id="001085000456",
        birth_date=date(1962, 7, 14),
        admitted_on=date(1990, 3, 1),
        official_on=date(1991, 3, 1),
    )
    number = member.member_number
    store = FileStore(app.config["DATA_DIR"])
    clerk = clerk_of(tree["D1"])
    photo = upload_photo(
        db_session,
        clerk,
        member.id,
        Upload(samples.oriented_jpeg(1), "anh-the.jpg"),
        store,
        PhotoLimits.from_config(app.config),
    )
    assert process_photo(db_session, photo.id, store, PhotoLimits.from_config(app.config))
    limits = DocumentLimits.from_config(app.config)
    types = {
        t.code: t.id
        for t in db_session.scalars(
            select(DocumentType).where(
                DocumentType.code.in_(["application", "admission_decision", "biography"])
            )
        )
    }
    scans = {}
    for code, data in (
        ("application", samples.multi_page_pdf(2)),
        ("admission_decision", samples.multi_page_pdf(1)),
    ):
        version = attach_document(
            db_session,
            clerk,
            member.id,
            DocumentFields(type_id=types[code], number="12", issued_on=date(1990, 3, 1)),
            Upload(data, f"{code}.pdf"),
            store,
            limits,
        )
        assert process_document(db_session, version.id, store, limits).state == "done"
        scans[code] = version.document_id
    newer = replace_document(
        db_session,
        clerk,
        scans["application"],
        Upload(samples.multi_page_pdf(3), "don-moi.pdf"),
        store,
        limits,
    )
    assert process_document(db_session, newer.id, store, limits).state == "done"
    # Attached, never checked (no worker ran): it stays behind.
    attach_document(
        db_session,
        clerk,
        member.id,
        DocumentFields(type_id=types["biography"]),
        Upload(samples.multi_page_pdf(1), "ly-lich.pdf"),
        store,
        limits,
    )
    db_session.add(
        BadgeAward(
            member_id=member.id,
            milestone=30,
            badge_number="HH-A00123",
            decision_number="15-QĐ/TU",
            decision_on=date(2021, 1, 20),
            occasion_on=date(2021, 2, 3),
        )
    )
    db_session.commit()
    db_session.expire_all()
    photo = db_session.get(MemberPhoto, photo.id)
    assert photo.current and photo.state == "done"
    photo_files = {
        column: getattr(photo, column)
        for column in ("original_path", "standard_path", "thumb_path", "preview_path")
    }
    versions = db_session.scalars(
        select(MemberDocumentVersion)
        .join(MemberDocument)
        .where(MemberDocument.member_id == member.id, MemberDocumentVersion.state == "done")
        .order_by(MemberDocumentVersion.id)
    ).all()
    assert len(versions) == 3
    expected = {p: sha256_of(store, p) for p in photo_files.values()}
    expected |= {v.path: sha256_of(store, v.path) for v in versions}
    expected |= {v.preview_path: sha256_of(store, v.preview_path) for v in versions}
    data = export(db_session, tree, member, files=store)

    # A: the export is in the audit log, on the member, saying what went.
    entry = db_session.scalars(
        select(AuditEntry).where(AuditEntry.action == "transfer_export")
    ).one()
    logged = json.loads(entry.after)
    transfer = db_session.scalars(select(OutgoingTransfer)).one()
    assert entry.member_id == member.id and logged["transfer"] == transfer.transfer_id
    assert (logged["photo"], logged["documents"], logged["badges"]) == (True, 2, 1)
    assert logged["files"] == len(expected) and logged["package_sha256"] == transfer.package_sha256

    # B: an altered copy is refused with nothing written, not a row, not a file.
    before = b_counts(province_b)
    middle = len(data) // 2
    altered, _ = b_import(
        province_b, data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1 :], "sua.dvpkg"
    )
    assert altered.returncode != 0, altered.stdout
    assert b_counts(province_b) == before
    theirs = FileStore(province_b["env"]["DATA_DIR"])
    assert not any(theirs.exists(path) for path in expected)

    # The real file: the check says what comes; the member arrives with photo, dossier, badge.
    result, receipt = b_import(province_b, data, "ho-so.dvpkg")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "photo: yes; dossier documents: 2; badges: 30 years (HH-A00123)" in result.stdout
    after = b_counts(province_b)
    assert after["member_photo"] == before["member_photo"] + 1
    assert after["member_document"] == before["member_document"] + 2
    assert after["member_document_version"] == before["member_document_version"] + 3
    assert after["badge_award"] == before["badge_award"] + 1
    assert {path: sha256_of(theirs, path) for path in expected} == expected
    with province_b["engine"].connect() as connection:
        there = connection.execute(
            text("SELECT id FROM member WHERE member_number = :n"), {"n": number}
        ).scalar_one()
        photo_b = (
            connection.execute(
                text("SELECT * FROM member_photo WHERE member_id = :m"), {"m": there}
            )
            .mappings()
            .one()
        )
        documents_b = connection.execute(
            text(
                "SELECT t.code, count(v.id) FROM member_document d "
                "JOIN document_type t ON t.id = d.type_id "
                "JOIN member_document_version v ON v.document_id = d.id "
                "WHERE d.member_id = :m GROUP BY t.code ORDER BY t.code"
            ),
            {"m": there},
        ).all()
        badge_b = (
            connection.execute(text("SELECT * FROM badge_award WHERE member_id = :m"), {"m": there})
            .mappings()
            .one()
        )
        imported_log = connection.execute(
            text(
                "SELECT member_id, after FROM audit_entry WHERE action = 'transfer_import' "
                "AND member_id = :m"
            ),
            {"m": there},
        ).all()
    assert photo_b["current"] and photo_b["state"] == "done" and photo_b["job_id"] is None
    assert {c: photo_b[c] for c in photo_files} == photo_files
    assert documents_b == [("admission_decision", 1), ("application", 2)]
    assert (badge_b["milestone"], badge_b["badge_number"], badge_b["proposal_id"]) == (
        30,
        "HH-A00123",
        None,
    )
    [(logged_member, logged_after)] = imported_log
    logged = json.loads(logged_after)
    assert logged_member == there and logged["transfer"] == transfer.transfer_id
    assert (logged["photo"], logged["documents"], logged["badges"]) == (True, 2, 1)
    assert logged["cell"] == "B.01" and logged["files"] == len(expected)

    # B's member page shows the photo and both documents, serving A's very bytes.
    page = subprocess.run(
        [sys.executable, "-c", PAGE_AT_B, number],
        cwd=ROOT,
        env=province_b["env"],
        capture_output=True,
        text=True,
    )
    assert page.returncode == 0, page.stderr
    shown = json.loads(page.stdout.strip().splitlines()[-1])
    assert shown["no_photo_hidden"]
    assert shown["photo"] == [200, expected[photo_files["standard_path"]]]
    assert shown["thumb"] == [200, expected[photo_files["thumb_path"]]]
    assert sorted(shown["types"]) == ["admission_decision", "application"]
    current = {v.document_id: v for v in versions}  # the last done version of each
    assert sorted(shown["scans"]) == sorted([200, expected[v.path]] for v in current.values())

    # Back at A, the receipt closes the transfer, and that is in the audit log too.
    close_transfer(db_session, clerk, receipt.read_bytes())
    closed = db_session.scalars(
        select(AuditEntry).where(AuditEntry.action == "transfer_close")
    ).one()
    assert closed.member_id == member.id
    assert json.loads(closed.after)["received_unit"].startswith("B.01")


# The tables a format 1 package carried before the badges and the member's file travelled.
FORMAT_1_TABLES = (
    "member",
    "member_work_period",
    "member_training",
    "member_commendation",
    "member_discipline",
    "member_trip_abroad",
    "member_family",
    "member_supplement",
    "member_change",
    "party_card",
)


def test_a_package_written_before_files_travelled_is_still_read(app, db_session, province_b):
    """A format 1 package as the previous version wrote it (no `files`, none of the new
    tables): B reads it, says nothing of a photo, documents or badges, and imports it."""
    tree = set_up_a(db_session, province_b)
    member = member_at_a(db_session, tree["C1"], birth_name="Vũ Văn Cũ")
    db_session.add(
        BadgeAward(
            member_id=member.id,
            milestone=30,
            badge_number="HH-A00999",
            decision_number="2-QĐ/TU",
            decision_on=date(2024, 1, 20),
            occasion_on=date(2024, 2, 3),
        )
    )
    db_session.commit()
    with_a_scan(app, db_session, member)
    data = export(db_session, tree, member, files=FileStore(app.config["DATA_DIR"]))

    def as_written_then(payload):
        assert payload["format"] == transfers.TRANSFER_FORMAT == 1
        tables = {table for table, _ in payload["member"]["rows"]}
        assert {"badge_award", "member_document"} <= tables and payload["files"]
        payload.pop("files")
        payload["member"]["rows"] = [
            [table, row] for table, row in payload["member"]["rows"] if table in FORMAT_1_TABLES
        ]

    old = resealed(province_b, data, as_written_then)
    before = b_counts(province_b)
    result, receipt = b_import(province_b, old, "cu.dvpkg")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "photo: no; dossier documents: 0; badges: none" in result.stdout
    after = b_counts(province_b)
    assert after["member"] == before["member"] + 1
    assert after["member_work_period"] == before["member_work_period"] + 1
    assert after["badge_award"] == before["badge_award"]
    assert after["member_document"] == before["member_document"]
    assert after["files"] == before["files"]
    assert receipt.is_file()
