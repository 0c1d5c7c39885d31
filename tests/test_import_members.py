"""Member imports (issue 16): real XLSX and CSV files made here, read by the safe reader,
each row through the member form's commands as the importing clerk; dry run, commit all
or nothing, idempotent, audited with the file's SHA-256."""

from __future__ import annotations

import hashlib
import io
from datetime import date

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from factories import make_member, make_tree
from helpers import vietnamese
from webapp.cli import create_user
from webapp.models import AuditEntry, Member, MemberEvent, WorkPeriod
from webapp.models.member_import import MemberImport, MemberImportRow

PASSWORD = "Import-Pass-123"
HEADERS = [
    "Số lý lịch",
    "Họ và tên khai sinh",
    "Giới tính",
    "Ngày sinh",
    "Chi bộ",
    "Ngày vào Đảng",
    "Ngày chính thức",
    "Dân tộc",
    "Số định danh cá nhân",
]


@pytest.fixture()
def world(app, db_session, redis_conn):
    tree = make_tree(db_session)
    existing = make_member(
        db_session, tree["C1"], member_number="000500TN", citizen_id="001080000500"
    )
    outside = make_member(db_session, tree["C3"], member_number="000900TN")
    db_session.commit()
    create_user("clerk_i", "Clerk", "P.01", PASSWORD)
    return {"tree": tree, "existing": existing, "outside": outside}


def workbook_bytes(rows, headers=HEADERS, build=None) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Đảng viên"
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    if build is not None:
        build(workbook)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def member_row(number, name="Trần Thị Bình", unit="P.01.001.01", **over):
    row = {
        "Số lý lịch": number,
        "Họ và tên khai sinh": name,
        "Giới tính": "Nữ",
        "Ngày sinh": date(1985, 3, 4),
        "Chi bộ": unit,
        "Ngày vào Đảng": "05/06/2010",
        "Ngày chính thức": "05/06/2011",
        "Dân tộc": "Kinh",
        "Số định danh cá nhân": None,
    }
    row.update(over)
    return [row[h] for h in HEADERS]


def clerk_id(app):
    return app.appbuilder.sm.find_user(username="clerk_i").id


def upload(app, db_session, data: bytes, name="danh-sach.xlsx", user="clerk_i"):
    from jobs.imports import store_upload
    from webapp.domain.photo_batches import requester_of

    user_id = app.appbuilder.sm.find_user(username=user).id if user else None
    requester = requester_of(db_session, MemberImport(requested_by_id=user_id))
    return store_upload(db_session, requester, io.BytesIO(data), name).id


def dry_run(app, db_session, data: bytes, name="danh-sach.xlsx"):
    from jobs.imports import execute_import

    run_id = upload(app, db_session, data, name)
    execute_import(run_id, commit=False)
    db_session.expire_all()
    return db_session.get(MemberImport, run_id)


def plan_rows(db_session, run_id):
    return db_session.scalars(
        select(MemberImportRow)
        .where(MemberImportRow.import_id == run_id)
        .order_by(MemberImportRow.position)
    ).all()


def messages(app, row) -> list[str]:
    return [vietnamese(app, p["message"], **(p["params"] or {})) for p in row.problems]


def test_dry_run_then_commit_then_nothing_changes(app, db_session, world):
    data = workbook_bytes(
        [
            member_row("000601TN"),
            member_row("000602TN", name="Lê Văn Cường", **{"Ngày chính thức": None}),
            # the existing member, with a new ethnicity: an update of that field
            member_row(
                "000500TN",
                name="Nguyễn Văn An",
                **{
                    "Dân tộc": "Tày",
                    "Giới tính": "Nam",
                    "Ngày sinh": date(1980, 5, 19),
                    "Ngày vào Đảng": "03/02/2005",
                    "Ngày chính thức": "03/02/2006",
                },
            ),
        ]
    )
    members_before = db_session.scalar(select(func.count(Member.id)))
    run = dry_run(app, db_session, data)
    assert run.state == "checked", (run.error, run.error_params)
    rows = plan_rows(db_session, run.id)
    assert [(r.row, r.outcome) for r in rows] == [(2, "new"), (3, "new"), (4, "update")], [
        (r.row, r.outcome, r.problems) for r in rows
    ]
    assert rows[2].fields == ["ethnicity"]
    assert db_session.scalar(select(func.count(Member.id))) == members_before  # nothing written

    from jobs.imports import execute_import

    execute_import(run.id, commit=True)
    db_session.expire_all()
    run = db_session.get(MemberImport, run.id)
    assert run.state == "committed"
    new = db_session.scalar(select(Member).where(Member.member_number == "000601TN"))
    assert new.status == "official" and new.unit_id == world["tree"]["C1"].id
    kinds = db_session.scalars(
        select(MemberEvent.kind).where(MemberEvent.member_id == new.id).order_by(MemberEvent.id)
    ).all()
    assert kinds == ["admission", "official_recognition"]  # the form's opening events
    second = db_session.scalar(select(Member).where(Member.member_number == "000602TN"))
    assert second.status == "probationary"
    assert db_session.get(Member, world["existing"].id).ethnicity == "Tày"
    digest = hashlib.sha256(data).hexdigest()
    entry = db_session.scalar(select(AuditEntry).where(AuditEntry.action == "import"))
    assert digest in entry.after and entry.user_id == clerk_id(app)

    again = dry_run(app, db_session, data)
    assert [r.outcome for r in plan_rows(db_session, again.id)] == ["unchanged"] * 3
    count = db_session.scalar(select(func.count(Member.id)))
    execute_import(again.id, commit=True)
    assert db_session.scalar(select(func.count(Member.id))) == count
