"""Report files parsed back (issue 6): the member list as of a day (XLSX and PDF from the
CLI), every aggregate report rendered by a real worker (PDF text and fonts, XLSX figures
against independent counts), the delegate check, and bad input refused with a clear
message and no run queued.

The tests on a hand-made world (db_session) come first; the ones on the generated
history (a module fixture, see test_report_figures.py) come last.
"""

from __future__ import annotations

import io
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import groupby
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select, text
from test_report_figures import (
    PAST,
    PERIOD,
    ROOTS,
    Life,
    Standing,
    build_history,
    drop_reversals,
    expected_movements,
    expected_records,
    raw_quality,
    vietnamese_key,
)
from test_reports import fonts_showing_text, pdf_text

from conftest import login, run_flask, run_worker_burst
from factories import SYSTEM, as_requester, make_member, make_tree
from helpers import vietnamese
from webapp.domain.commands import transaction
from webapp.domain.dates import NOT_A_DAY, WRONG_FORMAT
from webapp.domain.errors import DomainError, NotFound, ValidationFailed
from webapp.domain.events import EventInput, record_event
from webapp.domain.ledger import EventKind as K
from webapp.domain.report_figures import DIMENSIONS, SEX_NAMES
from webapp.extensions import db
from webapp.models import ReportRun
from webapp.models.record import Discipline
from webapp.models.report_run import ReportState
from webapp.reports.delegates import read_delegates
from webapp.reports.runs import execute_run, request_report

PASSWORD = "Report-Files-123"
CONGRESS = date(2025, 6, 30)


def flat(text_: str) -> str:
    """PDF text with every run of whitespace (line breaks inside table cells) as one space."""
    return " ".join(text_.split())


def run_count(session) -> int:
    return session.scalar(select(func.count()).select_from(ReportRun))


def queued_jobs(redis_conn) -> int:
    return sum(
        redis_conn.llen(key)
        for key in redis_conn.keys("rq:queue:*")
        if redis_conn.type(key) in (b"list", "list")
    )


def xlsx_rows(data_or_path, sheet: int = 0) -> list[tuple]:
    source = io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else data_or_path
    workbook = load_workbook(source, read_only=True)
    return [tuple(row) for row in workbook.worksheets[sheet].iter_rows(values_only=True)]


def workbook_bytes(rows: list[list]) -> bytes:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def admit(session, unit, name, admitted: date, official: date | None = None, **fields):
    member = make_member(session, unit, birth_name=name, official_on=None, **fields)
    record_event(session, SYSTEM, member.id, EventInput(K.ADMISSION, admitted, to_unit_id=unit.id))
    if official:
        record_event(session, SYSTEM, member.id, EventInput(K.OFFICIAL_RECOGNITION, official))
    return member


# ---------------------------------------------------------------- bad input


@pytest.fixture()
def world(app, db_session):
    tree = make_tree(db_session)
    admit(db_session, tree["C1"], "Nguyễn Văn Tốt", date(2010, 1, 5), date(2011, 1, 5))
    admit(db_session, tree["C3"], "Lê Văn Xa", date(2010, 1, 5), date(2011, 1, 5))
    db_session.commit()
    return tree


def test_bad_parameters_are_refused_and_nothing_is_queued(app, world, db_session, redis_conn):
    unit = world["P"].id
    today = date.today()
    tomorrow = (today + timedelta(days=1)).isoformat()
    cases = [
        ("increase-decrease", unit, {"from": "2024-06-01", "to": "2024-01-01"}, "to",
         "The end of the period is before its start."),
        ("increase-decrease", unit, {"from": "2024-01-01", "to": tomorrow}, "to",
         "The date cannot be in the future."),
        ("quality", unit, {"as_of": tomorrow}, "as_of", "The date cannot be in the future."),
        ("member-list", unit, {"as_of": "31/02/2024"}, "as_of", NOT_A_DAY),
        ("commendation-discipline", unit, {"from": "hôm qua"}, "from", WRONG_FORMAT),
    ]  # fmt: skip
    for report, unit_id, parameters, field, message in cases:
        with pytest.raises(ValidationFailed) as refused:
            request_report(db.session, SYSTEM, report, "pdf", unit_id, parameters)
        assert refused.value.errors[field][0][0] == message, (report, parameters)
    with pytest.raises(DomainError, match="Unknown report cards-and-more"):
        request_report(db.session, SYSTEM, "cards-and-more", "pdf", unit, {})
    with pytest.raises(DomainError, match="cannot be produced as docx"):
        request_report(db.session, SYSTEM, "quality", "docx", unit, {})
    with pytest.raises(NotFound):
        request_report(db.session, SYSTEM, "quality", "pdf", 999999, {})
    with pytest.raises(DomainError, match="Upload the list of delegates"):
        request_report(db.session, SYSTEM, "delegates", "xlsx", unit, {"as_of": "2025-06-30"})
    assert run_count(db_session) == 0 and queued_jobs(redis_conn) == 0
    # The same request with good parameters is queued: the refusals above were real.
    request_report(
        db.session,
        SYSTEM,
        "increase-decrease",
        "pdf",
        unit,
        {"from": "2024-01-01", "to": "2024-06-01"},
    )
    assert run_count(db_session) == 1 and queued_jobs(redis_conn) == 1


def test_cli_refuses_bad_input_with_a_clear_message(app, world, db_session, tmp_path):
    runner = app.test_cli_runner()
    not_xlsx = tmp_path / "dai-bieu.xlsx"
    not_xlsx.write_bytes(b"STT;Ho va ten;So ly lich\n1;Nguyen Van Tot;000001TN\n")
    bad_rows = tmp_path / "dai-bieu-loi.xlsx"
    bad_rows.write_bytes(
        workbook_bytes(
            [
                ["STT", "Họ và tên", "Số lý lịch", "Ngày sinh"],
                [1, "Nguyễn Văn Tốt", "000001TN", "19/05/1980"],
                [2, "Trần Thị Thiếu", None, None],
                [3, "Lê Văn Sai", "000003TN", "31/02/1980"],
            ]
        )
    )
    cases = [
        (["report", "quality", "--unit", "NOPE"], "Unknown unit code NOPE."),
        (["report", "nope", "--unit", "P"], vietnamese(app, "Unknown report %(name)s.", name="nope")),
        (["report", "increase-decrease", "--unit", "P", "--from", "2024-06-01", "--to", "2024-01-01"],
         vietnamese(app, "The end of the period is before its start.")),
        (["report", "quality", "--unit", "P", "--as-of", (date.today() + timedelta(days=3)).isoformat()],
         vietnamese(app, "The date cannot be in the future.")),
        (["report", "delegates", "--unit", "P", "--delegates", str(not_xlsx)],
         vietnamese(app, "The file is not an Excel (XLSX) workbook.")),
        (["report", "delegates", "--unit", "P", "--delegates", str(bad_rows)],
         vietnamese(app, "Row %(row)s: the member number is missing.", row=3)),
        (["report", "delegates", "--unit", "P", "--delegates", str(bad_rows)],
         vietnamese(app, "Row %(row)s: the birth date is not a date.", row=4)),
    ]  # fmt: skip
    for args, message in cases:
        result = runner.invoke(args=args)
        assert result.exit_code != 0, args
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output
    db_session.expire_all()
    assert run_count(db_session) == 0


def test_delegate_file_with_bad_rows_names_them(app, db_session):
    good_header = ["STT", "Họ và tên", "Số lý lịch", "Ngày sinh"]
    bad_rows = workbook_bytes(
        [
            ["DANH SÁCH ĐẠI BIỂU"],  # a title line above the header is allowed
            good_header,
            [1, "Nguyễn Văn Tốt", "000001TN", date(1980, 5, 19)],
            [2, "Trần Thị Thiếu", None, "19/05/1980"],  # no member number
            [3, "Lê Văn Sai", "000003TN", "31/02/1980"],  # no such day
            [None, None, None, None],  # blank line: skipped
            [4, "Phạm Văn Chữ", "000004TN", "không rõ"],
        ]
    )
    with pytest.raises(ValidationFailed) as refused:
        read_delegates(io.BytesIO(bad_rows))
    assert refused.value.errors["delegates"] == [
        ("Row %(row)s: the member number is missing.", {"row": 4}),
        ("Row %(row)s: the birth date is not a date.", {"row": 5}),
        ("Row %(row)s: the birth date is not a date.", {"row": 7}),
    ]
    for content, message in (
        (b"%PDF-1.4 not a workbook", "The file is not an Excel (XLSX) workbook."),
        (b"", "The file is not an Excel (XLSX) workbook."),
        (workbook_bytes([["Họ và tên"], ["Nguyễn Văn Tốt"]]), "no column headed"),
        (workbook_bytes([good_header]), "The file lists no delegates."),
    ):
        with pytest.raises(DomainError) as refused:
            read_delegates(io.BytesIO(content))
        assert message in str(refused.value), content[:20]
    good = read_delegates(
        io.BytesIO(workbook_bytes([good_header, [1, "Nguyễn Văn Tốt", " 000001TN ", "19/05/1980"]]))
    )
    assert good == [
        {
            "row": 2,
            "member_number": "000001TN",
            "name": "Nguyễn Văn Tốt",
            "birth_date": "1980-05-19",
        }
    ]


def test_scoped_clerk_cannot_report_on_another_district(app, world, db_session, redis_conn):
    from webapp.cli import create_user

    create_user("clerk_report_d1", "Clerk", "P.01", PASSWORD)
    client = app.test_client()
    login(client, "clerk_report_d1", PASSWORD)
    for unit in ("D2", "P"):
        response = client.post(
            "/reports/request",
            data={"report": "member-list", "unit_id": world[unit].id, "output_format": "pdf"},
        )
        assert response.status_code == 200 and "alert-danger" in response.text, unit
        assert vietnamese(app, "The unit does not exist.") in response.text
        # The form offers only the clerk's own subtree.
        assert f'value="{world["D2"].id}"' not in response.text
    assert run_count(db_session) == 0 and queued_jobs(redis_conn) == 0
    response = client.post(
        "/reports/request",
        data={"report": "member-list", "unit_id": world["C1"].id, "output_format": "pdf"},
    )
    assert response.status_code == 302
    assert run_count(db_session) == 1 and queued_jobs(redis_conn) == 1


def test_web_form_refuses_bad_input_and_queues_nothing(
    app, admin_client, world, db_session, redis_conn
):
    import html

    bad_rows = workbook_bytes(
        [
            ["STT", "Họ và tên", "Số lý lịch", "Ngày sinh"],
            [1, "Nguyễn Văn Tốt", "000001TN", "19/05/1980"],
            [2, "Trần Thị Thiếu", None, None],
            [3, "Lê Văn Sai", "000003TN", "31/02/1980"],
        ]
    )
    future = (date.today() + timedelta(days=1)).strftime("%d/%m/%Y")
    province = world["P"].id
    cases = [
        ({"report": "increase-decrease", "from": "01/06/2024", "to": "01/01/2024"}, None,
         [vietnamese(app, "The end of the period is before its start.")]),
        ({"report": "quality", "as_of": future}, None,
         [vietnamese(app, "The date cannot be in the future.")]),
        ({"report": "member-list", "as_of": "31/02/2024"}, None,
         [vietnamese(app, NOT_A_DAY, value="31/02/2024")]),
        ({"report": "nope"}, None, [vietnamese(app, "Unknown report %(name)s.", name="nope")]),
        ({"report": "delegates", "as_of": "30/06/2025"}, bad_rows,
         [vietnamese(app, "Row %(row)s: the member number is missing.", row=3),
          vietnamese(app, "Row %(row)s: the birth date is not a date.", row=4)]),
        ({"report": "delegates", "as_of": "30/06/2025"}, b"%PDF-1.4 not a workbook",
         [vietnamese(app, "The file is not an Excel (XLSX) workbook.")]),
        ({"report": "delegates", "as_of": "30/06/2025"}, None,
         [vietnamese(app, "Upload the list of delegates (XLSX) or enter their member numbers.")]),
    ]  # fmt: skip
    for fields, upload, messages in cases:
        data = {"unit_id": province, "output_format": "pdf", **fields}
        if upload is not None:
            data["delegates_file"] = (io.BytesIO(upload), "dai-bieu.xlsx")
        response = admin_client.post(
            "/reports/request", data=data, content_type="multipart/form-data"
        )
        assert response.status_code == 200, fields
        page = html.unescape(response.text)
        for message in messages:
            assert message in page, (fields, message)
    assert run_count(db_session) == 0 and queued_jobs(redis_conn) == 0
    good = workbook_bytes([["Số lý lịch", "Họ và tên"], ["000001TN", "Nguyễn Văn Tốt"]])
    response = admin_client.post(
        "/reports/request",
        data={
            "report": "delegates",
            "unit_id": province,
            "output_format": "xlsx",
            "as_of": "30/06/2025",
            "delegates_file": (io.BytesIO(good), "dai-bieu.xlsx"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    run = db_session.scalar(select(ReportRun))
    assert run.parameters["as_of"] == "2025-06-30"
    assert [d["member_number"] for d in run.parameters["delegates"]] == ["000001TN"]
    assert queued_jobs(redis_conn) == 1


# ---------------------------------------------------------------- delegate check


def test_delegate_check_flags_each_problem(app, db_session, tmp_path):
    tree = make_tree(db_session)
    good = admit(db_session, tree["C1"], "Nguyễn Văn Tốt", date(2010, 1, 5), date(2011, 1, 5))
    probationary = admit(db_session, tree["C1"], "Trần Thị Dự", date(2025, 3, 1))
    elsewhere = admit(db_session, tree["C3"], "Lê Văn Xa", date(2010, 1, 5), date(2011, 1, 5))
    punished = admit(db_session, tree["C2"], "Phạm Văn Phạt", date(2012, 1, 5), date(2013, 1, 5))
    renamed = admit(db_session, tree["C2"], "Hoàng Thị Đúng", date(2012, 1, 5), date(2013, 1, 5))
    dead = admit(db_session, tree["C1"], "Đỗ Văn Mất", date(2012, 1, 5), date(2013, 1, 5))
    record_event(db_session, SYSTEM, dead.id, EventInput(K.DEATH, date(2025, 1, 10)))
    other_birth = admit(db_session, tree["C1"], "Vũ Văn Sinh", date(2012, 1, 5), date(2013, 1, 5))
    old_fault = admit(db_session, tree["C2"], "Bùi Văn Cũ", date(2012, 1, 5), date(2013, 1, 5))
    for member, day in ((punished, date(2025, 3, 1)), (old_fault, date(2024, 6, 29))):
        db_session.add(
            Discipline(member_id=member.id, decided_on=day, form="Khiển trách", reason="Vi phạm")
        )
    db_session.commit()
    rows = [
        ["STT", "Họ và tên", "Số lý lịch", "Ngày sinh"],
        [1, "NGUYỄN VĂN TỐT", good.member_number, date(1980, 5, 19)],
        [2, "Trần Thị Dự", probationary.member_number, None],
        [3, "Lê Văn Xa", elsewhere.member_number, None],
        [4, "Phạm Văn Phạt", punished.member_number, None],
        [5, "Hoàng Thị Sai", renamed.member_number, None],
        [6, "Ngô Văn Lạ", "999999XX", None],
        [7, "Nguyễn Văn Tốt", good.member_number, None],
        [8, "Đỗ Văn Mất", dead.member_number, None],
        [9, "Vũ Văn Sinh", other_birth.member_number, "01/01/1970"],
        [10, "Bui Van Cu", old_fault.member_number, "19/05/1980"],  # fault > 12 months ago
    ]
    upload = tmp_path / "dai-bieu.xlsx"
    upload.write_bytes(workbook_bytes(rows))
    output = tmp_path / "tham-tra.xlsx"
    result = run_flask(
        "report", "delegates", "--unit", "P.01", "--as-of", CONGRESS.isoformat(),
        "--delegates", str(upload), "--format", "xlsx", "-o", str(output),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    table = [row for row in xlsx_rows(output.read_bytes()) if row and isinstance(row[0], int)]
    verdicts = {row[0]: row[9] for row in table}
    assert verdicts == {
        1: "Đủ tư cách",
        2: "Đảng viên dự bị (không có quyền ứng cử, bầu cử)",
        # A run from the CLI belongs to nobody and is shown to every user whose scope
        # covers P.01, so it tells nothing about members outside P.01 (issue 11 item 3).
        3: "Không tìm thấy trong phạm vi quản lý",
        4: "Bị kỷ luật trong 12 tháng trước đại hội",
        5: "Họ tên không khớp hồ sơ",
        6: "Không tìm thấy trong phạm vi quản lý",
        7: "Trùng trong danh sách",
        8: "Không có trong danh sách đảng viên vào ngày đại hội",
        9: "Ngày sinh không khớp hồ sơ",
        10: "Đủ tư cách",
    }
    first = table[0]
    assert first[3] == "Nguyễn Văn Tốt" and first[4] == "Chi bộ thôn Đông"
    assert first[5] == "Chính thức" and first[7] == "15 năm"
    assert table[1][5] == "Dự bị" and table[1][7] is None  # no Party age while probationary
    assert "Khiển trách (01/03/2025)" in table[3][8]

    # Asked by the Admin, who sees everything: the member of another district is named
    # and flagged.
    admin_id = db_session.scalar(text("SELECT id FROM ab_user WHERE username = 'admin'"))
    run = request_report(
        db.session,
        as_requester(admin_id, None),
        "delegates",
        "pdf",
        tree["D1"].id,
        {
            "as_of": CONGRESS.isoformat(),
            "delegates": read_delegates(io.BytesIO(upload.read_bytes())),
        },
        queue=False,
    )
    run = execute_run(run.id)
    assert run.state == ReportState.DONE and run.row_count == 10
    pdf = Path(run.file_path).read_bytes()
    words = flat(pdf_text(pdf))
    for expected in (
        "ĐẢNG CỘNG SẢN VIỆT NAM",
        "BIỂU THẨM TRA TƯ CÁCH ĐẠI BIỂU",
        "tính đến ngày 30/06/2025",
        "Tổng số đại biểu: 10; đủ tư cách: 2; có vấn đề cần xem xét: 8.",
        "Lê Văn Xa Chi bộ cơ sở Trường Tiểu học",
        "Không thuộc đảng bộ tổ chức đại hội",
    ):
        assert expected in words, expected
    assert all("DejaVu" in font for font in fonts_showing_text(pdf))


def test_delegate_check_tells_nothing_about_members_outside_the_requesters_scope(
    app, db_session, redis_conn
):
    """Issue 11 item 3: a Leader of district 1 checks delegates for a cell of district 1
    with the member numbers of district 2's members (numbers are sequential, so the
    province could be listed this way). Such a number must read exactly like one that does
    not exist: nothing about the person. A member of district 1 outside the cell is still
    named and flagged, as the Leader may see that member anyway."""
    from webapp.cli import create_user

    tree = make_tree(db_session)
    good = admit(db_session, tree["C1"], "Nguyễn Văn Tốt", date(2010, 1, 5), date(2011, 1, 5))
    neighbour = admit(db_session, tree["C2"], "Trần Văn Bên", date(2011, 1, 5), date(2012, 1, 5))
    stranger = admit(db_session, tree["C3"], "Lê Văn Xa", date(2012, 1, 5), date(2013, 1, 5))
    stranger_probationary = admit(db_session, tree["C3"], "Lê Thị Dự", date(2025, 2, 1))
    db_session.add(
        Discipline(
            member_id=stranger.id, decided_on=date(2025, 3, 1), form="Cảnh cáo", reason="Vi phạm"
        )
    )
    db_session.commit()
    create_user("leader_delegates_d1", "Leader", "P.01", PASSWORD)
    client = app.test_client()
    login(client, "leader_delegates_d1", PASSWORD)
    numbers = [
        good.member_number,
        neighbour.member_number,
        stranger.member_number,
        "999999XX",  # no such member anywhere
        stranger_probationary.member_number,
        stranger.member_number,  # listed twice: flagged as a repeat, still nothing else
        "999999XX",
    ]
    files = {}
    for output_format in ("xlsx", "pdf"):
        response = client.post(
            "/reports/request",
            data={
                "report": "delegates",
                "unit_id": tree["C1"].id,
                "output_format": output_format,
                "as_of": CONGRESS.strftime("%d/%m/%Y"),
                "member_numbers": "\n".join(numbers),
            },
        )
        assert response.status_code == 302, response.text[:500]
    worker = run_worker_burst()
    assert worker.returncode == 0, worker.stderr[-3000:]
    db_session.expire_all()
    for run in db_session.scalars(select(ReportRun)):
        assert run.state == ReportState.DONE, run.error
        files[run.output_format] = Path(run.file_path).read_bytes()
    workbook = xlsx_rows(files["xlsx"])
    table = [row for row in workbook if row and isinstance(row[0], int)]
    assert [row[2] for row in table] == numbers
    not_found = table[3][3:]
    assert not_found == (None,) * 6 + ("Không tìm thấy trong phạm vi quản lý",), not_found
    assert table[2][3:] == not_found
    assert table[4][3:] == not_found
    assert table[5][3:] == table[6][3:]  # a repeated stranger: as a repeated unknown number
    assert table[6][9] == "Trùng trong danh sách; Không tìm thấy trong phạm vi quản lý"
    # Inside the Leader's scope, outside the cell: named and flagged, as before.
    assert table[1][3:5] == ("Trần Văn Bên", "Chi bộ thôn Tây")
    assert table[1][9] == "Không thuộc đảng bộ tổ chức đại hội"
    assert table[0][9] == "Đủ tư cách"
    words = flat(pdf_text(files["pdf"]))
    cells = " ".join(str(value) for row in workbook for value in row if value is not None)
    for secret in (
        "Lê Văn Xa",
        "Lê Thị Dự",
        tree["C3"].name,
        "Cảnh cáo",
        "01/03/2025",
        "05/01/2012",
        "Đảng viên dự bị",
    ):
        assert secret not in words and secret not in cells, secret
    assert "Tổng số đại biểu: 7; đủ tư cách: 1; có vấn đề cần xem xét: 6." in words


def test_commendation_discipline_counts_decisions_on_the_leaving_day(app, db_session):
    """Issue 11 item 9: an expulsion takes the member off the rolls on the day of its own
    "Khai trừ" decision, and a decision may be dated on the day of a death: both count
    under the cell left. A decision dated after the member left, or on the day of a move
    to a cell outside the report, does not."""
    from webapp.models.record import Commendation

    tree = make_tree(db_session)
    expelled = admit(db_session, tree["C2"], "Ông Văn Khai", date(2010, 1, 4), date(2011, 1, 4))
    record_event(db_session, SYSTEM, expelled.id, EventInput(K.EXPULSION, date(2024, 4, 15)))
    died = admit(db_session, tree["C1"], "Ông Thị Vĩnh", date(2011, 1, 3), date(2012, 1, 3))
    record_event(db_session, SYSTEM, died.id, EventInput(K.DEATH, date(2024, 7, 1)))
    moved = admit(db_session, tree["C1"], "Ông Văn Đi", date(2011, 1, 3), date(2012, 1, 3))
    record_event(
        db_session,
        SYSTEM,
        moved.id,
        EventInput(K.TRANSFER_WITHIN, date(2024, 5, 2), to_unit_id=tree["C3"].id),
    )
    db_session.add_all(
        [
            Discipline(member_id=expelled.id, decided_on=date(2024, 4, 15), form="Khai trừ",
                       decision_number="15-QĐ/UBKT", reason="Vi phạm nghiêm trọng"),
            Discipline(member_id=expelled.id, decided_on=date(2024, 4, 16), form="Cảnh cáo",
                       reason="Sau khi đã ra khỏi Đảng"),
            Commendation(member_id=died.id, awarded_on=date(2024, 7, 1), form="Kỷ niệm chương",
                         reason="Truy tặng"),
            Commendation(member_id=moved.id, awarded_on=date(2024, 5, 2), form="Giấy khen",
                         reason="Nơi đến"),
        ]
    )  # fmt: skip
    db_session.commit()
    files = {}
    for output_format in ("xlsx", "pdf"):
        run = request_report(
            db.session,
            SYSTEM,
            "commendation-discipline",
            output_format,
            tree["D1"].id,
            {"from": "2024-01-01", "to": "2024-12-31"},
            queue=False,
        )
        run = execute_run(run.id)
        assert run.state == ReportState.DONE, run.error
        files[output_format] = Path(run.file_path).read_bytes()
    summary = [row for row in xlsx_rows(files["xlsx"], sheet=0) if row and len(row) == 3]
    assert summary[1:] == [
        ("Khen thưởng", "Cộng", 1),
        (None, "Kỷ niệm chương", 1),
        ("Kỷ luật", "Cộng", 1),
        (None, "Khai trừ", 1),
    ]
    listing = [
        (row[1], row[3], row[4], row[6])
        for row in xlsx_rows(files["xlsx"], sheet=1)
        if row and isinstance(row[0], int)
    ]
    assert sorted(listing) == [
        ("Ông Thị Vĩnh", "Chi bộ thôn Đông", "Khen thưởng", "Kỷ niệm chương"),
        ("Ông Văn Khai", "Chi bộ thôn Tây", "Kỷ luật", "Khai trừ"),
    ]
    words = flat(pdf_text(files["pdf"]))
    assert "Kỷ luật Cộng 1 Khai trừ 1" in words, words
    assert "Ông Văn Khai" in words and "Cảnh cáo" not in words and "Ông Văn Đi" not in words


def test_member_list_names_where_arrivals_came_from(app, db_session):
    """Column 11 of the list (Chuyển đến: date, where from) for two arrivals: a member
    back from another province, and a transfer recorded after a later one (back-dated)."""
    tree = make_tree(db_session)
    returning = admit(db_session, tree["C1"], "Cao Văn Về", date(2005, 1, 5), date(2006, 1, 5))
    record_event(
        db_session,
        SYSTEM,
        returning.id,
        EventInput(K.TRANSFER_OUT, date(2020, 5, 1), other_organisation="Đảng bộ tỉnh Bạn"),
    )
    record_event(
        db_session,
        SYSTEM,
        returning.id,
        EventInput(K.TRANSFER_IN, date(2024, 3, 1), to_unit_id=tree["C2"].id),
    )
    mover = admit(db_session, tree["C1"], "Cao Thị Chuyển", date(2005, 1, 5), date(2006, 1, 5))
    later = {"to_unit_id": tree["C3"].id}
    record_event(
        db_session, SYSTEM, mover.id, EventInput(K.TRANSFER_WITHIN, date(2024, 6, 1), **later)
    )
    earlier = {"to_unit_id": tree["C2"].id}  # recorded afterwards, dated before
    record_event(
        db_session, SYSTEM, mover.id, EventInput(K.TRANSFER_WITHIN, date(2024, 3, 1), **earlier)
    )

    def arrivals(unit, as_of):
        run = request_report(
            db.session, SYSTEM, "member-list", "xlsx", unit.id, {"as_of": as_of}, queue=False
        )
        rows = xlsx_rows(Path(execute_run(run.id).file_path).read_bytes())
        return {row[1]: row[10] for row in rows if row and isinstance(row[0], int)}

    in_april = arrivals(tree["D1"], "2024-04-30")
    # Came from the cell C1 (Chi bộ thôn Đông) into C2 on 01/03/2024.
    assert in_april["Cao Thị Chuyển"] == "01/03/2024; Chi bộ thôn Đông", in_april
    # Came back from outside the province: no cell of this instance is where he came from.
    assert in_april["Cao Văn Về"].startswith("01/03/2024"), in_april
    assert "Chi bộ" not in in_april["Cao Văn Về"], in_april
    in_june = arrivals(tree["D2"], "2024-06-30")
    assert in_june["Cao Thị Chuyển"] == "01/06/2024; Chi bộ thôn Tây", in_june


def test_member_list_leavers_one_row_per_departure_with_real_arrivals_only(app, db_session):
    """Issue 11 items 11 and 12, the leavers part of the list of district 1 for 2024: one
    row per departure from the district's rolls (moved to the other cell of the district
    and died the same day: one row, a death, in the cell left), and column 11 (Chuyển đến)
    shows only the arrival into the district that began the stay ending there — never the
    departure itself nor a later return; blank for a member admitted in the district."""
    tree = make_tree(db_session)

    def move(member, day, cell):
        record_event(
            db_session,
            SYSTEM,
            member.id,
            EventInput(K.TRANSFER_WITHIN, day, to_unit_id=tree[cell].id),
        )

    died = admit(db_session, tree["C1"], "Ông Thị Vĩnh", date(2011, 1, 3), date(2012, 1, 3))
    move(died, date(2024, 7, 1), "C2")
    record_event(db_session, SYSTEM, died.id, EventInput(K.DEATH, date(2024, 7, 1)))
    back = admit(db_session, tree["C3"], "Mạc Văn Về", date(2012, 1, 9), date(2013, 1, 9))
    move(back, date(2019, 4, 1), "C1")  # into the district from district 2
    move(back, date(2024, 3, 1), "C3")  # out of it …
    move(back, date(2024, 8, 1), "C2")  # … and back
    left = admit(db_session, tree["C1"], "Mạc Thị Đi", date(2010, 1, 4), date(2011, 1, 4))
    move(left, date(2024, 5, 2), "C3")
    inner = admit(db_session, tree["C1"], "Lâm Văn Nội", date(2010, 1, 4), date(2011, 1, 4))
    move(inner, date(2020, 6, 1), "C2")  # inside the district: not an arrival into it
    move(inner, date(2024, 9, 2), "C3")
    far = make_member(db_session, tree["C1"], birth_name="Mạc Thị Xa")
    record_event(
        db_session, SYSTEM,
        far.id,
        EventInput(
            K.TRANSFER_IN, date(2014, 5, 5), to_unit_id=tree["C1"].id,
            other_organisation="Đảng bộ tỉnh Xa", arriving_as="official",
        ),
    )  # fmt: skip
    record_event(
        db_session,
        SYSTEM,
        far.id,
        EventInput(K.TRANSFER_OUT, date(2024, 11, 4), other_organisation="Đảng bộ tỉnh Bạn"),
    )
    db_session.commit()
    files = {}
    for output_format in ("xlsx", "pdf"):
        run = request_report(
            db.session,
            SYSTEM,
            "member-list",
            output_format,
            tree["D1"].id,
            {"as_of": "2024-12-31"},
            queue=False,
        )
        run = execute_run(run.id)
        assert run.state == ReportState.DONE, run.error
        files[output_format] = Path(run.file_path).read_bytes()
    leavers, on_rolls, part, title = [], [], None, None
    for row in xlsx_rows(files["xlsx"]):
        if row and isinstance(row[0], int):
            part.append((title, row[1], row[9], row[10], row[11]))
        elif row and isinstance(row[0], str) and " – " in row[0]:
            part = leavers if row[0].startswith("Ra khỏi danh sách") else on_rolls
            title = row[0].split(" – ")[-1]
    school = tree["C3"].name  # Chi bộ cơ sở Trường Tiểu học
    assert sorted(leavers, key=repr) == sorted(
        [
            ("Chi bộ thôn Đông", "Ông Thị Vĩnh", None, None, "01/07/2024"),
            ("Chi bộ thôn Đông", "Mạc Văn Về", f"01/03/2024; {school}",
             f"01/04/2019; {school}", None),
            ("Chi bộ thôn Đông", "Mạc Thị Đi", f"02/05/2024; {school}", None, None),
            ("Chi bộ thôn Tây", "Lâm Văn Nội", f"02/09/2024; {school}", None, None),
            ("Chi bộ thôn Đông", "Mạc Thị Xa", "04/11/2024; Đảng bộ tỉnh Bạn",
             "05/05/2014; Đảng bộ tỉnh Xa", None),
        ],
        key=repr,
    ), leavers  # fmt: skip
    # On the rolls at the end of the year: the returned member, with the return.
    assert on_rolls == [("Chi bộ thôn Tây", "Mạc Văn Về", None, f"01/08/2024; {school}", None)]
    words = flat(pdf_text(files["pdf"]))
    assert "Tổng số: 1 đảng viên; ra khỏi danh sách trong năm: 5" in words, words[-400:]
    assert find_name(words, "Ông Thị Vĩnh") == words.rfind("Ông Thị Vĩnh")  # printed once


def test_delegate_party_age_is_counted_to_the_congress_day(app, db_session):
    """Party age in the credentials table is the age on the congress day: a removal after
    that day must not shorten it, nor a later re-admission blank it."""
    tree = make_tree(db_session)
    readmitted = admit(db_session, tree["C1"], "Lý Văn Lại", date(2000, 1, 10), date(2001, 1, 10))
    removed = admit(db_session, tree["C1"], "Mai Thị Vắng", date(2014, 12, 1), date(2015, 12, 1))
    steady = admit(db_session, tree["C1"], "Kim Văn Đều", date(2014, 12, 1), date(2015, 12, 1))
    record_event(db_session, SYSTEM, readmitted.id, EventInput(K.REMOVAL, date(2025, 2, 1)))
    record_event(
        db_session,
        SYSTEM,
        readmitted.id,
        EventInput(K.READMISSION, date(2025, 8, 1), to_unit_id=tree["C2"].id),
    )
    record_event(db_session, SYSTEM, removed.id, EventInput(K.REMOVAL, date(2025, 1, 15)))
    delegates = [
        {"row": row, "member_number": member.member_number, "name": "", "birth_date": None}
        for row, member in enumerate((steady, removed, readmitted), start=2)
    ]
    run = request_report(
        db.session,
        SYSTEM,
        "delegates",
        "xlsx",
        tree["D1"].id,
        {"as_of": PAST.isoformat(), "delegates": delegates},
        queue=False,
    )
    rows = xlsx_rows(Path(execute_run(run.id).file_path).read_bytes())
    ages = {row[3]: row[7] for row in rows if row and isinstance(row[0], int)}
    # Independently: full years from the admission to 31/12/2024, nothing interrupted before.
    assert ages == {"Kim Văn Đều": "10 năm", "Mai Thị Vắng": "10 năm", "Lý Văn Lại": "24 năm"}


# ---------------------------------------------------------------- generated history


@pytest.fixture(scope="module")
def history(app):
    from conftest import _clean_data
    from webapp.extensions import db

    with app.app_context():
        drop_reversals(db.session)
        _clean_data(db)
        built = build_history(db.session, members=110)
        add_known_member(db.session, built)
        yield built
        db.session.rollback()
        drop_reversals(db.session)
        db.session.remove()


def add_known_member(session, history) -> None:
    """One member of P.01 on the rolls on PAST who died after it, for certain."""
    cell = history.units["C1"]
    events = [
        (K.ADMISSION, date(2015, 2, 1), Standing(True, cell.id, "probationary")),
        (K.OFFICIAL_RECOGNITION, date(2016, 2, 1), Standing(True, cell.id, "official")),
        (K.DEATH, date(2025, 3, 1), Standing(False, cell.id)),
    ]
    member = make_member(
        session, cell, member_number="990001RF", birth_name="Tạ Quang Khuất", official_on=None
    )
    life = Life(member.id, member.member_number, member.birth_name)
    with transaction(session):
        for kind, day, state in events:
            to_unit = cell.id if kind == K.ADMISSION else None
            record_event(session, SYSTEM, member.id, EventInput(kind, day, to_unit_id=to_unit))
            life.days.append(day)
            life.kinds.append(kind)
            life.states.append(state)
    history.lives.append(life)


@pytest.fixture()
def session(history):
    from webapp.extensions import db

    assert db.session.scalar(text("SELECT COUNT(*) FROM member")) == len(history.lives)
    db.session.expire_all()
    return db.session


def day_by_day(life: Life) -> list[tuple[date, list[str], Standing]]:
    """(day, kinds of that day's events, standing at the end of the day): the rolls are
    kept by the day, so a move and a death on one day are one departure."""
    days = []
    for day, steps in groupby(
        zip(life.days, life.kinds, life.states, strict=True), key=lambda step: step[0]
    ):
        steps = list(steps)
        days.append((day, [kind for _, kind, _ in steps], steps[-1][2]))
    return days


@dataclass(frozen=True)
class Exit:
    cell: str  # the cell left
    life: Life
    day: date
    kind: str  # the event that took the member off the subtree's rolls
    target_unit: int | None  # where a transfer within went
    arrived: str | None  # column 11: the arrival into the subtree that began the stay


def left_in_year(session, history, cells, as_of: date) -> list[Exit]:
    """Each time a member left the subtree's rolls between 1 January and `as_of`, from the
    generator's record (and raw SQL for where a transfer in came from)."""
    ids = {history.unit_id(cell): cell for cell in cells}
    names = {unit.id: unit.name for unit in history.units.values()}

    def inside(state):
        return state.active and state.unit in ids

    def arrival(life, days, last):
        """How the stay in the subtree that ended after days[last] began: a real arrival
        (from another province, or from a cell outside the subtree), else None."""
        first = last
        while first > 0 and inside(days[first - 1][2]):
            first -= 1
        day, kinds, _ = days[first]
        before = days[first - 1][2] if first > 0 else None
        if before is not None and before.active:  # moved in from a cell outside
            return f"{day:%d/%m/%Y}; {names[before.unit]}"
        if K.TRANSFER_IN in kinds:
            origin = session.execute(
                text(
                    "SELECT other_organisation FROM member_event WHERE member_id = :m "
                    "AND kind = 'transfer_in' AND effective_on = :d"
                ),
                {"m": life.member_id, "d": day.isoformat()},
            ).scalar()
            return f"{day:%d/%m/%Y}" + (f"; {origin}" if origin else "")
        return None  # admitted, re-admitted or restored here: no arrival

    found = []
    for life in history.lives:
        days = day_by_day(life)
        for index in range(1, len(days)):
            before, (day, kinds, after) = days[index - 1][2], days[index]
            if inside(before) and not inside(after) and date(as_of.year, 1, 1) <= day <= as_of:
                target = after.unit if after.active else None
                exit_kind = K.TRANSFER_WITHIN if after.active else kinds[-1]
                found.append(
                    Exit(
                        ids[before.unit],
                        life,
                        day,
                        exit_kind,
                        target,
                        arrival(life, days, index - 1),
                    )
                )
    return found


LEAVING_FORMS = {
    K.REMOVAL: "Xóa tên",
    K.NOT_RECOGNISED: "Xóa tên (không công nhận chính thức)",
    K.EXPULSION: "Khai trừ",
    K.RESIGNATION: "Xin ra khỏi Đảng",
}


def leaving_columns(history, exit: Exit) -> tuple:
    """Columns 10–14 of form 7-HSĐV for a member who left: moved away (date; where to),
    arrived (date; where from), died (date), left the Party (date; how); the reason
    (column 13) is the event's note, none in the generated history."""
    when = f"{exit.day:%d/%m/%Y}"
    if exit.kind == K.TRANSFER_OUT:
        return (f"{when}; Đảng bộ tỉnh Bạn", exit.arrived, None, None)
    if exit.kind == K.TRANSFER_WITHIN:
        name = next(unit.name for unit in history.units.values() if unit.id == exit.target_unit)
        return (f"{when}; {name}", exit.arrived, None, None)
    if exit.kind == K.DEATH:
        return (None, exit.arrived, when, None)
    return (None, exit.arrived, None, f"{when}; {LEAVING_FORMS[exit.kind]}")


def test_member_list_as_of_a_past_day_from_the_cli(session, history, tmp_path):
    cells = ["C1", "C2"]  # the cells of P.01, in tree order
    on_rolls = history.on_rolls(PAST, cells)
    expected = []
    for cell in cells:
        unit_id = history.unit_id(cell)
        lives = [life for life in on_rolls if life.on(PAST).unit == unit_id]
        expected += [
            (cell, life.number)
            for life in sorted(lives, key=lambda life: vietnamese_key(life.name))
        ]
    # Independent SQL for the same day: the member numbers on the rolls of P.01's cells.
    numbers = set(
        session.execute(
            text(
                "SELECT m.member_number FROM member m JOIN member_period p ON p.member_id = m.id "
                "JOIN unit u ON u.id = p.unit_id WHERE u.code LIKE 'P.01.%' "
                "AND p.starts_on <= :day AND (p.ends_on IS NULL OR p.ends_on > :day)"
            ),
            {"day": PAST.isoformat()},
        ).scalars()
    )
    assert numbers == {number for _, number in expected} and len(numbers) > 10
    admitted_later = [
        life
        for life in history.lives
        if life.on(PAST).unit is None and life.on(date.today()).active
    ]
    died_later = [
        life
        for life in on_rolls
        if any(k == K.DEATH and d > PAST for k, d in zip(life.kinds, life.days, strict=True))
    ]
    assert admitted_later and died_later

    output = tmp_path / "ds.xlsx"
    result = run_flask(
        "report", "member-list", "--unit", "P.01", "--as-of", PAST.isoformat(),
        "--format", "xlsx", "-o", str(output),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    rows = xlsx_rows(output.read_bytes())
    assert rows[0][0] == "ĐẢNG CỘNG SẢN VIỆT NAM"
    assert "tính đến ngày 31/12/2024" in rows[3][0]
    header = next(index for index, row in enumerate(rows) if row and row[0] == "STT")
    code_to_cell = {history.units[cell].code: cell for cell in cells}
    listed: list = []
    left: list = []
    part, cell, total_line = listed, None, None
    leaving = defaultdict(list)
    numbers_seen = []
    for row in rows[header + 1 :]:
        if row and isinstance(row[0], int):
            numbers_seen.append(row[0])
            number = row[7].split(" / ")[-1]
            part.append((cell, number))
            if part is left:
                leaving[(cell, number)].append((row[9], row[10], row[11], row[13]))
            life = next(life for life in history.lives if life.number == number)
            assert row[1] == life.name
        elif row[0].startswith("Tổng số"):
            total_line = row[0]
        else:
            if row[0].startswith("Ra khỏi danh sách"):
                part = left
            cell = code_to_cell[row[0].split(" – ")[-2].split()[-1]]
    assert listed == expected  # exactly that day's rolls, by unit, in Vietnamese order
    # The same closing line as the PDF's: those on the rolls, then those who left.
    assert total_line == (
        f"Tổng số: {len(expected)} đảng viên; ra khỏi danh sách trong năm: {len(left)}"
    )
    assert numbers_seen == list(range(1, len(numbers_seen) + 1))
    assert left  # some members left P.01's rolls during 2024
    exits = left_in_year(session, history, cells, PAST)
    # One row per departure from P.01's rolls (issue 11 item 11: moved to the other cell
    # of P.01 and died that day is one departure, by death, from the cell left).
    assert sorted(left) == sorted((exit.cell, exit.life.number) for exit in exits)
    kinds = set()
    for exit in exits:
        kinds.add(exit.kind)
        assert leaving[(exit.cell, exit.life.number)] == [leaving_columns(history, exit)], (
            exit.life.name,
            exit.kind,
            leaving[(exit.cell, exit.life.number)],
        )
    assert len(kinds) >= 3, kinds  # several ways of leaving are printed
    # Column 11 holds only a real arrival into P.01 (issue 11 item 12): never the departure
    # itself, nor a later return; the generated history has both kinds of leaver.
    moved = [exit for exit in exits if exit.kind == K.TRANSFER_WITHIN]
    assert any(exit.arrived for exit in moved) and any(not exit.arrived for exit in moved)
    returned = next(exit for exit in exits if exit.life.number == "980005RF")
    assert returned.arrived == "01/04/2019; Chi bộ cơ sở Trường Tiểu học"

    pdf_path = tmp_path / "ds.pdf"
    result = run_flask(
        "report", "member-list", "--unit", "P.01", "--as-of", PAST.isoformat(),
        "--format", "pdf", "-o", str(pdf_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    pdf = pdf_path.read_bytes()
    words = flat(pdf_text(pdf))
    assert "ĐẢNG CỘNG SẢN VIỆT NAM" in words and "DANH SÁCH ĐẢNG VIÊN" in words
    assert f"Tổng số: {len(expected)} đảng viên; ra khỏi danh sách trong năm" in words
    names = {life.number: life.name for life in history.lives}
    positions = [find_name(words, names[number]) for _, number in expected]
    assert None not in positions
    assert positions == sorted(positions)  # the same order as the workbook
    for life in admitted_later:
        assert find_name(words, life.name) is None, life.name
    for life in died_later:
        assert find_name(words, life.name) is not None, life.name
    assert all("DejaVu" in font for font in fonts_showing_text(pdf))
    assert check_pages(pdf, "Họ và tên", "Trang {page}/{pages} —") >= 2


def check_pages(pdf: bytes, header: str, numbered: str) -> int:
    """Every page has its number, and every page with rows of the table repeats its header
    row (the closing block, "Nơi nhận" and the signature, may fall alone on a last page:
    the renderer does not keep it with the last rows yet); the number of pages."""
    from pypdf import PdfReader

    pages = PdfReader(io.BytesIO(pdf)).pages
    for number, page in enumerate(pages, start=1):
        words = flat(page.extract_text())
        assert numbered.format(page=number, pages=len(pages)) in words, (number, words[:200])
        closing_only = (
            number == len(pages) and "Nơi nhận" in words and len(words.split()) < 30
        )  # the page number, "Nơi nhận: - Lưu hồ sơ." and the signer: no table rows
        assert header in words or closing_only, (number, words[:300])
    return len(pages)


def find_name(words: str, name: str) -> int | None:
    """Where the whole name occurs ("Lê Văn An" is not found inside "Lê Văn Anh")."""
    found = re.search(rf"(?<!\w){re.escape(name)}(?!\w)", words)
    return found.start() if found else None


def number_tokens(words: str, after: str, count: int) -> list[int]:
    tail = words[words.index(after) + len(after) :].split()
    return [int(token.replace(".", "")) for token in tail[:count]]


def test_aggregate_reports_on_a_real_worker(session, history, redis_conn):
    start, end = PERIOD
    period = {"from": start.isoformat(), "to": end.isoformat()}
    province = history.units["P"].id
    requests = [
        ("increase-decrease", period),
        ("quality", {"as_of": PAST.isoformat()}),
        ("commendation-discipline", period),
        ("completeness", {}),
    ]
    # Delegates: members on the province's rolls that day, one of them twice, and a stranger.
    present = history.on_rolls(PAST, ROOTS["P"])[:3]
    delegates = [
        {"row": row, "member_number": number, "name": "", "birth_date": None}
        for row, number in enumerate(
            [*(life.number for life in present), present[0].number, "000000XX"], start=2
        )
    ]
    requests.append(("delegates", {"as_of": PAST.isoformat(), "delegates": delegates}))
    runs = {
        (name, fmt): request_report(db.session, SYSTEM, name, fmt, province, parameters).id
        for name, parameters in requests
        for fmt in ("pdf", "xlsx")
    }
    assert queued_jobs(redis_conn) == len(runs)
    worker = run_worker_burst()
    assert worker.returncode == 0, worker.stderr[-3000:]
    session.expire_all()
    files = {}
    for key, run_id in runs.items():
        run = session.get(ReportRun, run_id)
        assert run.state == ReportState.DONE, (key, run.error)
        files[key] = Path(run.file_path).read_bytes()
        if key[1] == "pdf":
            assert files[key].startswith(b"%PDF")
            assert all("DejaVu" in font for font in fonts_showing_text(files[key])), key

    # Delegates: one line per delegate in the order given, the stranger and the repeat flagged.
    table = [
        row for row in xlsx_rows(files["delegates", "xlsx"]) if row and isinstance(row[0], int)
    ]
    assert [row[2] for row in table] == [d["member_number"] for d in delegates]
    assert [row[3] for row in table[:3]] == [life.name for life in present]
    assert "Trùng trong danh sách" in table[3][9]
    assert table[4][9] == "Không tìm thấy trong phạm vi quản lý"
    assert "Tổng số đại biểu: 5" in flat(pdf_text(files["delegates", "pdf"]))

    # Increase / decrease: every figure of the workbook equals the independent counts.
    expected = expected_movements(session, history, ROOTS["P"], start, end)
    increases = (
        "admission",
        "readmission",
        "transfer_in",
        "transfer_within",
        "restoration",
        "other",
    )
    decreases = ("death", "removal", "not_recognised", "expulsion", "resignation", "transfer_out", "transfer_within", "other")  # fmt: skip
    memo = ("official_recognition", "temporary_out", "temporary_in")

    def figures(line):
        return [
            line.opening,
            *(line.increases[k] for k in increases),
            sum(line.increases.values()),
            *(line.decreases[k] for k in decreases),
            sum(line.decreases.values()),
            line.closing,
            *(line.memo[k] for k in memo),
        ]

    rows = xlsx_rows(files["increase-decrease", "xlsx"])
    lines = {
        row[1]: list(row[2:])
        for row in rows
        if len(row) > 2 and (isinstance(row[0], int) or row[1] == "Tổng cộng")
    }
    for group in ("D1", "D2", "C5"):
        unit = history.units[group]
        assert lines[f"{unit.name} ({unit.code})"] == figures(expected[group]), group
    assert lines["Tổng cộng"] == figures(expected["total"])
    words = flat(pdf_text(files["increase-decrease", "pdf"]))
    assert "BÁO CÁO TĂNG, GIẢM ĐẢNG VIÊN" in words
    assert "từ ngày 01/01/2024 đến ngày 31/12/2024" in words
    assert number_tokens(words, "Tổng cộng", 21) == figures(expected["total"])

    # Quality: every section (the whole province, then each child) against raw rows.
    totals, counts, _ = raw_quality(session, history, ROOTS["P"], PAST)
    whole = sum(totals.values())
    titles = {dimension.key: dimension.title for dimension in DIMENSIONS}
    section_of = {f"{history.units[g].name} ({history.units[g].code})": g for g in totals}
    sections: dict = {}
    current, dimension = None, None
    for row in xlsx_rows(files["quality", "xlsx"]):
        if len(row) == 1 and row[0] and str(row[0]).startswith("Toàn đảng bộ"):
            current = sections.setdefault("whole", {})
        elif len(row) == 1 and row[0] in section_of:
            current = sections.setdefault(section_of[row[0]], {})
        elif current is not None and len(row) == 4 and isinstance(row[2], int):
            dimension = row[0] or dimension
            current[(dimension, row[1])] = (row[2], row[3])
    assert set(sections) == {"whole", *totals}
    for name, section in sections.items():
        size = whole if name == "whole" else totals[name]
        assert section.pop(("Tổng số đảng viên", None)) == (size, 1), name
        for key, categories in counts.items():
            for category, by_group in categories.items():
                label = SEX_NAMES.get(category, category) if key == "sex" else category
                count, share = section.pop((titles[key], label))
                want = sum(by_group.values()) if name == "whole" else by_group[name]
                assert count == want, (name, key, category)
                assert share == pytest.approx(want / size)
        assert section == {}, name  # no category the raw rows do not have
    words = flat(pdf_text(files["quality", "pdf"]))
    assert "BÁO CÁO PHÂN TÍCH CHẤT LƯỢNG ĐẢNG VIÊN" in words and "tính đến ngày 31/12/2024" in words
    header = "Tiêu chí Phân loại Số lượng Tỷ lệ"
    assert check_pages(files["quality", "pdf"], header, "Trang {page}/{pages}") >= 2
    assert number_tokens(words, "Tổng số đảng viên", 1) == [whole]
    # Each district's own section follows, with its own total.
    for group in ("D1", "D2"):
        unit = history.units[group]
        title = f"{unit.name} ({unit.code}) Tổng số đảng viên"
        assert number_tokens(words, title, 1) == [totals[group]], group

    # Commendations and discipline: the summary sheet against raw SQL.
    _, expected_counts = expected_records(session, history, "P", start, end)
    rows = xlsx_rows(files["commendation-discipline", "xlsx"], sheet=0)
    summary, kind = defaultdict(Counter), None
    for row in rows:
        if row and len(row) == 3 and isinstance(row[2], int):
            kind = row[0] or kind
            summary[kind][row[1]] = row[2]
    for kind, name in (("commendation", "Khen thưởng"), ("discipline", "Kỷ luật")):
        assert summary[name].pop("Cộng") == sum(expected_counts[kind].values())
        assert dict(summary[name]) == dict(expected_counts[kind])
    listing = [
        row
        for row in xlsx_rows(files["commendation-discipline", "xlsx"], sheet=1)
        if row and isinstance(row[0], int)
    ]
    assert len(listing) == sum(sum(c.values()) for c in expected_counts.values())
    words = flat(pdf_text(files["commendation-discipline", "pdf"]))
    assert "BÁO CÁO KHEN THƯỞNG, KỶ LUẬT ĐẢNG VIÊN" in words
    assert number_tokens(words, "Khen thưởng Cộng", 1) == [
        sum(expected_counts["commendation"].values())
    ]

    # Completeness: the summary against raw SQL over today's records.
    raw = session.execute(
        text(
            "SELECT u.code, m.completeness, COUNT(*) FROM member m JOIN unit u ON u.id = m.unit_id "
            "WHERE m.status IN ('probationary', 'official') GROUP BY u.code, m.completeness"
        )
    ).all()
    by_level = Counter()
    for _, level, count in raw:
        by_level[level] += count
    rows = xlsx_rows(files["completeness", "xlsx"], sheet=0)
    total = next(row for row in rows if len(row) > 2 and row[1] == "Tổng cộng")
    assert list(total[2:4]) == [sum(by_level.values()), by_level["four_page"]]
    assert list(total[5:7]) == [by_level["one_page"], by_level["incomplete"]]
    words = flat(pdf_text(files["completeness", "pdf"]))
    assert "BÁO CÁO TÌNH TRẠNG HỒ SƠ ĐẢNG VIÊN" in words
    assert number_tokens(words, "Tổng cộng", 2) == [sum(by_level.values()), by_level["four_page"]]


def test_increase_decrease_workbook_labels_sit_over_their_columns(session, history, tmp_path):
    """The second header row of the workbook names the kinds of increase and decrease; each
    label must be over the column holding that kind's figures (as in the PDF)."""
    run = request_report(
        db.session,
        SYSTEM,
        "increase-decrease",
        "xlsx",
        history.units["D1"].id,
        {"from": PERIOD[0].isoformat(), "to": PERIOD[1].isoformat()},
        queue=False,
    )
    rows = xlsx_rows(Path(execute_run(run.id).file_path).read_bytes())
    top = next(index for index, row in enumerate(rows) if row and row[0] == "STT")
    first, second = rows[top], rows[top + 1]
    assert first[2] == "Số đảng viên đầu kỳ" and first[3] == "Tăng" and first[10] == "Giảm"
    assert first[19] == "Số đảng viên cuối kỳ"
    assert second[3] == "Kết nạp", second  # the admissions column (D)
    assert second[9] == "Cộng" and second[10] == "Từ trần" and second[18] == "Cộng"
    assert second[20] == "Công nhận chính thức"


def test_completeness_counts_the_rolls_of_the_day_in_its_heading(session, history):
    """The completeness report is about the records as they are today: asked for a past
    day, it still prints today's date in its heading ("tính đến ngày …"), and its totals
    are the rolls of the day it prints, never figures of one day under another's date."""
    run = request_report(
        db.session,
        SYSTEM,
        "completeness",
        "xlsx",
        history.units["P"].id,
        {"as_of": PAST.isoformat()},
        queue=False,
    )
    rows = xlsx_rows(Path(execute_run(run.id).file_path).read_bytes())
    printed = re.search(r"tính đến ngày (\d\d/\d\d/\d{4})", rows[3][0]).group(1)
    day = date(int(printed[6:]), int(printed[3:5]), int(printed[:2]))
    assert day == date.today()
    total = next(row for row in rows if len(row) > 2 and row[1] == "Tổng cộng")
    on_rolls_then = len(history.on_rolls(day, ROOTS["P"]))
    assert on_rolls_then != len(history.on_rolls(PAST, ROOTS["P"]))
    assert total[2] == on_rolls_then, (printed, total[2], on_rolls_then)
