"""The audit log answers "who saw or changed what" (issue 13, item 4): every entry names
its record (the id of a new one too) and the member it concerns, downloads and exports
are logged with their parameters, and the chain still verifies."""

from __future__ import annotations

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
