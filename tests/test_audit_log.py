"""The audit log answers "who saw or changed what" (issue 13, item 4): every entry names
its record (the id of a new one too) and the member it concerns, downloads and exports
are logged with their parameters, and the chain still verifies."""

from __future__ import annotations

import re

from sqlalchemy import select

from factories import make_member, make_tree
from webapp.domain.audit import verify_log
from webapp.models import AuditEntry, DangVienUser, Unit


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
            text("UPDATE audit_entry SET member_id = :m WHERE id = :id"),
            {"m": forged, "id": row.id},
        )
        db_session.commit()
        broken = verify_log(db_session)[1]
        assert broken is not None and broken.entry_id == row.id
    db_session.execute(
        text("UPDATE audit_entry SET member_id = :m WHERE id = :id"), {"m": member.id, "id": row.id}
    )
    db_session.commit()
    assert verify_log(db_session)[1] is None


def _done_run(session, requester, report: str, fmt: str, unit, parameters=None):
    from webapp.reports.runs import execute_run, request_report

    run = request_report(session, requester, report, fmt, unit.id, parameters or {}, queue=False)
    run = execute_run(run.id)
    assert run.state == "done", run.error
    return run


def test_every_download_of_a_report_file_is_logged_with_what_it_holds(app, db_session):
    import json

    from test_reports import seed_members

    from conftest import login
    from webapp.cli import create_user
    from webapp.security import requester_for

    tree = seed_members(db_session)
    create_user("cv_tai", "Clerk", "P", "Tai-Ve-2026!")
    clerk = requester_for(
        db_session.scalar(select(DangVienUser).where(DangVienUser.username == "cv_tai"))
    )
    listing = _done_run(
        db_session, clerk, "member-list", "xlsx", tree["P"], {"as_of": "31/12/2025"}
    )
    printer = _done_run(db_session, clerk, "card-printer-data", "csv", tree["D1"])
    create_user("cv_khac", "Clerk", "P", "Tai-Ve-2026!")
    colleague = requester_for(
        db_session.scalar(select(DangVienUser).where(DangVienUser.username == "cv_khac"))
    )
    other = _done_run(db_session, colleague, "member-list", "pdf", tree["P"])
    client = app.test_client()
    login(client, "cv_tai", "Tai-Ve-2026!")
    before = len(entries(db_session))

    for _ in range(2):  # every download, not the first one only
        response = client.get(f"/reports/download/{listing.id}")
        assert response.status_code == 200 and response.data[:2] == b"PK"
    assert client.get(f"/reports/download/{printer.id}").status_code == 200
    logged = entries(db_session, action="download")
    assert len(logged) == 3 and len(entries(db_session)) == before + 3
    first = logged[0]
    assert (first.object_type, first.object_id) == ("ReportRun", str(listing.id))
    assert first.username == "cv_tai" and first.user_id == clerk.user_id
    assert first.address == "127.0.0.1" and first.member_id is None
    assert json.loads(first.after) == {
        "report": "member-list",
        "unit_id": tree["P"].id,
        "unit": "P",
        "as_of": "2025-12-31",
        "format": "xlsx",
        "rows": 4,
        "file": listing.file_name,
    }
    assert json.loads(logged[2].after)["report"] == "card-printer-data"
    assert json.loads(logged[2].after)["format"] == "csv"
    # A run the clerk does not follow (someone else's) is not found, and nothing is logged.
    assert client.get(f"/reports/download/{other.id}").status_code == 404
    assert len(entries(db_session, action="download")) == 3
    assert verify_log(db_session)[1] is None


def test_cli_exports_are_logged_with_their_parameters(app, db_session, tmp_path):
    import json

    from test_reports import seed_members

    from conftest import run_flask

    seed_members(db_session)
    output = tmp_path / "ds.xlsx"
    result = run_flask(
        "report", "member-list", "--unit", "P.01", "--format", "xlsx", "-o", str(output)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    result = run_flask("cards", "pending", "--unit", "P", "-o", str(tmp_path / "the.csv"))
    assert result.returncode == 0, result.stderr[-3000:]
    result = run_flask(
        "badges", "eligible", "--occasion", "19/05/2026", "-o", str(tmp_path / "hh.csv")
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report, cards, badges = entries(db_session, action="export")
    assert report.username.startswith("cli:") and report.object_type == "ReportRun"
    logged = json.loads(report.after)
    assert (logged["report"], logged["unit"], logged["format"], logged["rows"]) == (
        "member-list",
        "P.01",
        "xlsx",
        3,
    )
    assert logged["file"] == str(output)
    assert json.loads(cards.after)["report"] == "cards-pending"
    assert json.loads(cards.after)["unit"] == "P"
    assert json.loads(badges.after)["occasion"] == "2026-05-19"
    assert json.loads(badges.after)["format"] == "csv"
    assert verify_log(db_session)[1] is None


def _summary_of(app, session, entry):
    from flask_babel import force_locale

    from webapp.views.audit_summary import summarise

    with app.test_request_context(), force_locale("vi"):
        summary = summarise(session, [entry])[entry.id]
        return summary, summary.text(limit=None)


def test_a_change_reads_with_the_member_the_labels_and_dd_mm_yyyy(app, db_session):
    from datetime import date

    tree = make_tree(db_session)
    member = make_member(db_session, tree["C1"], birth_name="Trần Thị Bình")
    db_session.commit()
    db_session.refresh(member)  # an edit loads the record first, so the log has the old values
    member.birth_date = date(1981, 2, 3)
    member.name_in_use = "Trần Bình"
    member.veteran = True
    member.unit = tree["C2"]
    db_session.commit()
    (change,) = entries(db_session, action="update", object_type="Member")
    assert '"1981-02-03"' in change.after  # stored as written; shown as people read it
    summary, text = _summary_of(app, db_session, change)
    assert summary.action == "Sửa đổi" and summary.record == "Đảng viên"
    assert summary.member == f"{member.member_number} – Trần Bình"
    details = {d.label: (d.before, d.after) for d in summary.details}
    assert details["Ngày sinh"] == ("19/05/1980", "03/02/1981")
    assert details["Họ và tên đang dùng"] == ("", "Trần Bình")
    assert details["Cựu chiến binh"] == ("Không", "Có")
    assert details["Chi bộ"] == ("P.01.001.01 – Chi bộ thôn Đông", "P.01.001.02 – Chi bộ thôn Tây")
    assert "Ngày sinh: 19/05/1980 → 03/02/1981" in text
    assert "1981-02-03" not in text and "True" not in text and "unit_id" not in text


def test_a_new_record_reads_with_coded_values_by_their_names(app, db_session):
    from datetime import date

    from webapp.models.record import WorkPeriod

    tree = make_tree(db_session)
    member = make_member(db_session, tree["C1"], birth_name="Lê Văn Cường")
    db_session.add(
        WorkPeriod(member_id=member.id, starts_on=date(2001, 9, 1), description="Giáo viên")
    )
    db_session.commit()
    created = entries(db_session, action="create", object_type="Member")[0]
    summary, text = _summary_of(app, db_session, created)
    assert summary.action == "Tạo mới"
    details = {d.label: d.after for d in summary.details}
    assert details["Giới tính"] == "Nam" and details["Tình trạng"] == "Chính thức"
    assert details["Ngày vào Đảng"] == "03/02/2005" and details["Dân tộc"] == "Kinh"
    assert details["Chi bộ"] == "P.01.001.01 – Chi bộ thôn Đông"
    assert all(d.before is None for d in summary.details)
    assert "male" not in text and "official" not in text
    (row,) = entries(db_session, action="create", object_type="WorkPeriod")
    summary, text = _summary_of(app, db_session, row)
    assert summary.record == "Quá trình công tác"
    assert summary.member == f"{member.member_number} – Lê Văn Cường"
    assert "Từ ngày: 01/09/2001" in text and "Giáo viên" in text


def test_a_catalogue_entry_reads_with_its_catalogue_s_name(app, db_session):
    created = entries(db_session, action="create", object_type="CatalogueEntry")
    entry = next(e for e in created if '"kind": "ethnicity"' in e.after)  # seeded by init
    _, text = _summary_of(app, db_session, entry)
    assert "Danh mục: Dân tộc" in text and "ethnicity" not in text


def test_a_deleted_member_is_still_named(app, db_session):
    tree = make_tree(db_session)
    member = make_member(db_session, tree["C1"], birth_name="Đỗ Thị Xóa")
    db_session.commit()
    number = member.member_number
    db_session.delete(member)
    db_session.commit()
    (deleted,) = entries(db_session, action="delete", object_type="Member")
    summary, _ = _summary_of(app, db_session, deleted)
    assert summary.action == "Xóa" and summary.member == f"{number} – Đỗ Thị Xóa"


def test_a_download_reads_as_report_unit_day_format_and_rows(app, db_session):
    from test_reports import seed_members

    from factories import SYSTEM
    from webapp.reports.runs import download_run

    tree = seed_members(db_session)
    run = _done_run(db_session, SYSTEM, "member-list", "xlsx", tree["P"], {"as_of": "31/12/2025"})
    download_run(db_session, SYSTEM, run.id)
    (entry,) = entries(db_session, action="download")
    summary, text = _summary_of(app, db_session, entry)
    assert summary.action == "Tải tệp về" and summary.member == ""
    assert [d.label for d in summary.details] == [
        "Báo cáo",
        "Đơn vị",
        "Ngày hoặc kỳ báo cáo",
        "Định dạng",
        "Số dòng",
        "Tệp",
    ]
    assert "Đơn vị: P – Đảng bộ tỉnh Thử nghiệm" in text
    assert "tính đến ngày 31/12/2025" in text and "Định dạng: Excel (XLSX)" in text
    assert "Số dòng: 4" in text and "DANH SÁCH" not in text


def test_every_logged_field_has_a_label_a_person_reads(app, db_session):
    """No field of an audited record shows under its column name (or FAB's English)."""
    from flask_babel import force_locale
    from sqlalchemy import inspect

    from webapp.domain.tracking import NOT_LOGGED, audited_models
    from webapp.views.audit_summary import HIDDEN, field_label

    missing = []
    with app.test_request_context(), force_locale("vi"):
        for model in audited_models():
            for attr in inspect(model).column_attrs:
                if attr.key in NOT_LOGGED or attr.key in HIDDEN:
                    continue
                if field_label(model.__name__, attr.key) == attr.key:
                    missing.append(f"{model.__name__}.{attr.key}")
    assert not missing, missing


def test_the_totp_secret_stays_out_of_the_log(app, db_session):
    user = db_session.scalar(select(DangVienUser).where(DangVienUser.username == "admin"))
    try:
        user.totp_secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
        user.totp_enabled = True
        db_session.commit()
        change = entries(db_session, action="update", object_type="DangVienUser")[-1]
        assert '"totp_enabled": "True"' in change.after
        assert "JBSWY3DP" not in (change.before or "") + change.after
    finally:  # init's admin outlives the test
        user.totp_secret, user.totp_enabled = None, False
        db_session.commit()


def _audit_world(db_session):
    """Two members changed by two clerks, and a download: the log the filters narrow."""
    from webapp.cli import create_user
    from webapp.domain.audit import Download, log_download
    from webapp.domain.commands import Requester, Role

    tree = make_tree(db_session)
    first = make_member(db_session, tree["C1"], birth_name="Nguyễn Thị Hường")
    second = make_member(db_session, tree["C3"], birth_name="Phạm Văn Minh")
    db_session.commit()
    ids = {}
    for username, unit in (("cv_a", "P.01"), ("cv_b", "P.02")):
        create_user(username, "Clerk", unit, "Nhat-Ky-2026!")
        ids[username] = db_session.scalar(
            select(DangVienUser.id).where(DangVienUser.username == username)
        )
    for member, (user_id, username), name in (
        (first, (ids["cv_a"], "cv_a"), "Hường"),
        (second, (ids["cv_b"], "cv_b"), "Minh"),
    ):
        db_session.refresh(member)
        db_session.info["who"] = lambda who=(user_id, username): who
        member.name_in_use = name
        db_session.commit()
    db_session.info.pop("who")
    clerk = Requester(ids["cv_a"], frozenset({Role.CLERK}), tree["D1"].path, username="cv_a")
    log_download(
        db_session,
        clerk,
        Download("member-list", "pdf", 2, tree["P"].id, "P", {"as_of": "2026-06-30"}, "ds.pdf"),
    )
    return first, second


def _listed(response) -> list[int]:
    assert response.status_code == 200
    return [int(i) for i in re.findall(r'data-entry="(\d+)"', response.text)]


def test_the_audit_screen_filters_by_member_user_action_and_day(app, admin_client, db_session):
    from datetime import date, timedelta

    first, second = _audit_world(db_session)
    everything = entries(db_session)
    about_first = [e.id for e in everything if e.member_id == first.id]
    assert len(about_first) == 2  # created, renamed

    page = admin_client.get("/auditentryview/list/")
    shown = _listed(page)
    assert shown == sorted(shown, reverse=True)  # newest first
    assert "Họ và tên đang dùng: — → Hường" in page.text
    assert "tính đến ngày 30/06/2026" in page.text

    for typed in (first.member_number, "nguyen thi huong", "Hường"):
        by_member = admin_client.get("/auditentryview/list/", query_string={"member": typed})
        assert sorted(_listed(by_member)) == sorted(about_first), typed
        assert f"{first.member_number} – Hường" in by_member.text
    nobody = admin_client.get("/auditentryview/list/", query_string={"member": "Không Ai Cả"})
    assert _listed(nobody) == [] and "Không có đảng viên nào có số lý lịch" in nobody.text

    by_user = _listed(admin_client.get("/auditentryview/list/", query_string={"user": "cv_b"}))
    assert by_user == [e.id for e in everything if e.username == "cv_b"] and len(by_user) == 1

    downloads = [e.id for e in everything if e.action == "download"]
    for action in ("download", "seen"):
        listed = _listed(admin_client.get("/auditentryview/list/", query_string={"action": action}))
        assert listed == downloads, action
    combined = admin_client.get(
        "/auditentryview/list/", query_string={"user": "cv_a", "action": "update"}
    )
    assert _listed(combined) == [
        e.id for e in everything if e.username == "cv_a" and e.action == "update"
    ]

    today = date.today()
    since_today = admin_client.get(
        "/auditentryview/list/", query_string={"from": today.strftime("%d/%m/%Y")}
    )
    assert _listed(since_today) == [e.id for e in reversed(everything)][:50]  # a page of 50
    until_yesterday = admin_client.get(
        "/auditentryview/list/",
        query_string={"to": (today - timedelta(days=1)).strftime("%d/%m/%Y")},
    )
    assert (
        _listed(until_yesterday) == []
        and "Không có mục nào khớp với bộ lọc." in until_yesterday.text
    )
    # An impossible day is said so, and never quietly replaced by another.
    wrong = admin_client.get("/auditentryview/list/", query_string={"from": "31/02/2020"})
    assert _listed(wrong) == [] and 'id="audit-filter-errors"' in wrong.text
    assert 'value="31/02/2020"' in wrong.text


def test_the_audit_screen_pages_by_keyset_and_keeps_the_filter(
    app, admin_client, db_session, monkeypatch
):
    from datetime import date

    first, _ = _audit_world(db_session)
    for number in range(8):  # ten entries about her: four pages of three
        db_session.refresh(first)
        first.alias = f"Bí danh {number}"
        db_session.commit()
    view = next(v for v in app.appbuilder.baseviews if type(v).__name__ == "AuditEntryView")
    monkeypatch.setattr(view, "page_size", 3)
    everything = [e.id for e in reversed(entries(db_session, member_id=first.id))]
    assert len(everything) == 10
    today = date.today().strftime("%d/%m/%Y")
    # By id; and with days, by time then id (the time index's order).
    for query in ({"member": "Hường"}, {"member": "Hường", "from": today, "to": today}):
        seen = []
        response = admin_client.get("/auditentryview/list/", query_string=query)
        while True:
            page = _listed(response)
            assert len(page) <= 3
            seen += page
            older = re.search(r'href="([^"]*before=\d+[^"]*)"', response.text)
            if older is None:
                break
            response = admin_client.get(older.group(1).replace("&amp;", "&"))
        assert seen == everything, query
        # From the last page, "newer" is the page before it.
        start = len(everything) - len(page)
        newer = re.search(r'href="([^"]*after=\d+[^"]*)"', response.text)
        assert (
            _listed(admin_client.get(newer.group(1).replace("&amp;", "&")))
            == everything[start - 3 : start]
        ), query
        links = re.findall(r'href="([^"]*(?:before|after)=[^"]*)"', response.text)
        assert links and all("member=" in link for link in links)
        assert all("from=" in link for link in links) == ("from" in query)


def test_an_entry_page_shows_the_summary_and_the_stored_entry(app, admin_client, db_session):
    first, _ = _audit_world(db_session)
    change = next(e for e in entries(db_session, action="update") if e.member_id == first.id)
    page = admin_client.get(f"/auditentryview/show/{change.id}")
    assert page.status_code == 200
    assert f"{first.member_number} – Hường" in page.text and "Họ và tên đang dùng" in page.text
    assert change.hash in page.text
    assert admin_client.get("/auditentryview/show/99999999999").status_code == 404
