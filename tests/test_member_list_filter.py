"""The member list narrowed to a unit and exported as shown (issue 13, item 9), through
the web client and the REST API: the unit look-up answers within the scope only, the unit
filter with and without sub-units, the export holds exactly the rows shown (filters, sort,
scope) — directly when short, by a real worker when long — and a tampered unit id never
reaches another scope's members."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import prison
import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from conftest import login, run_worker_burst
from factories import as_requester, make_member, make_tree, make_unit
from webapp.cli import create_user
from webapp.domain.scope import user_scope
from webapp.extensions import db
from webapp.models import ReportRun
from webapp.models.report_run import ReportState
from webapp.models.unit import UnitKind
from webapp.models.user import DangVienUser
from webapp.reports.runs import execute_run, request_report

PASSWORD = "Loc-danh-sach-2026!"
NUMBER = re.compile(r"\b\d{6}TN\b")


@pytest.fixture()
def world(db_session):
    tree = make_tree(db_session)
    tree["C4"] = make_unit(db_session, "P.02.002", "Chi bộ Trạm Y tế", UnitKind.CELL, tree["D2"])
    people = {}
    for number, name, cell in (
        ("100001TN", "Nguyễn Thị Hường", "C1"),
        ("100002TN", "Trần Văn Ấn", "C1"),
        ("100003TN", "Lê Đức Thắng", "C2"),
        ("100004TN", "Phạm Quỳnh Anh", "C3"),
        ("100005TN", "Vũ Văn Bắc", "C4"),
        ("100006TN", "Đỗ Thị Cúc", "C2"),
    ):
        people[number] = make_member(db_session, tree[cell], member_number=number, birth_name=name)
    db_session.commit()
    create_user("clerk_list", "Clerk", "P.01", PASSWORD)
    return tree


def list_numbers(client, **args) -> list[str]:
    response = client.get("/membermodelview/list/", query_string=args)
    assert response.status_code == 200
    table = response.text.split('class="table table-bordered', 1)
    return NUMBER.findall(table[1]) if len(table) > 1 else []


def workbook_numbers(data: bytes) -> list[str]:
    sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    rows = [row for row in sheet.iter_rows(values_only=True) if row and isinstance(row[0], int)]
    assert [row[0] for row in rows] == list(range(1, len(rows) + 1))  # numbered 1..n
    return [row[1] for row in rows]


def test_unit_look_up_answers_within_the_scope(client, world):
    login(client, "clerk_list", PASSWORD)
    everything = client.get("/membermodelview/units").json["results"]
    codes = [item["text"].split(" – ")[0] for item in everything]
    assert codes == ["P.01", "P.01.001", "P.01.001.01", "P.01.001.02"]
    # Diacritics ignored; a code typed is matched by its prefix.
    found = client.get("/membermodelview/units", query_string={"q": "thon tay"}).json
    assert [item["id"] for item in found["results"]] == [world["C2"].id]
    assert client.get("/membermodelview/units", query_string={"q": "P.01.001."}).json[
        "results"
    ] == [
        {"id": world["C1"].id, "text": "P.01.001.01 – Chi bộ thôn Đông"},
        {"id": world["C2"].id, "text": "P.01.001.02 – Chi bộ thôn Tây"},
    ]
    # Another district's units are not there, by code or by name.
    assert client.get("/membermodelview/units", query_string={"q": "P.02"}).json["results"] == []
    assert client.get("/membermodelview/units", query_string={"q": "Trạm"}).json["results"] == []
    # Odd input is a search that finds nothing, never an error.
    for q in ("%", "_", "x" * 500, "' OR 1=1 --"):
        response = client.get("/membermodelview/units", query_string={"q": q, "page": "-1"})
        assert response.status_code == 200 and response.json["results"] == [], q
    # A character the text rule refuses is left out of the search, not sent on.
    response = client.get("/membermodelview/units", query_string={"q": "thon\x00 tay"})
    assert [item["id"] for item in response.json["results"]] == [world["C2"].id]


def test_unit_look_up_pages_through_a_long_list(admin_client, db_session, world):
    for number in range(1, 41):
        make_unit(
            db_session, f"P.01.001.{number + 2:02d}", f"Chi bộ khu phố {number}", UnitKind.CELL,
            world["G1"],
        )  # fmt: skip
    db_session.commit()
    first = admin_client.get("/membermodelview/units", query_string={"q": "khu pho"}).json
    second = admin_client.get(
        "/membermodelview/units", query_string={"q": "khu pho", "page": 2}
    ).json
    assert len(first["results"]) == 30 and first["pagination"]["more"] is True
    assert len(second["results"]) == 10 and second["pagination"]["more"] is False
    # Ordered by the code's parts: .03 … .09, then .10 (not as text).
    texts = [item["text"] for item in first["results"]]
    assert texts[0].startswith("P.01.001.03") and texts[7].startswith("P.01.001.10")


def test_unit_filter_with_and_without_sub_units(client, world):
    login(client, "clerk_list", PASSWORD)
    assert sorted(list_numbers(client)) == ["100001TN", "100002TN", "100003TN", "100006TN"]
    assert sorted(list_numbers(client, unit=world["C1"].id)) == ["100001TN", "100002TN"]
    assert sorted(list_numbers(client, unit=world["G1"].id, subunits=1)) == [
        "100001TN",
        "100002TN",
        "100003TN",
        "100006TN",
    ]
    assert list_numbers(client, unit=world["G1"].id) == []  # nobody held by G1 itself
    # The search narrows the unit's members further.
    assert list_numbers(client, unit=world["D1"].id, subunits=1, _flt_0_search_key="thang") == [
        "100003TN"
    ]
    # The chosen unit is shown in the select, the box ticked as asked.
    page = client.get("/membermodelview/list/", query_string={"unit": world["C2"].id}).text
    assert f'<option value="{world["C2"].id}" selected>P.01.001.02 – Chi bộ thôn Tây' in page
    assert 'id="member-subunits" checked' not in page
    assert "/static/appbuilder/js/select2/select2.min.js" in page and "member_list.js" in page


def test_tampered_unit_id_shows_nobody_and_exports_nothing(client, world):
    login(client, "clerk_list", PASSWORD)
    for unit in (world["C3"], world["D2"]):
        for subunits in ("1", ""):
            response = client.get(
                "/membermodelview/list/", query_string={"unit": unit.id, "subunits": subunits}
            )
            assert response.status_code == 200
            assert NUMBER.findall(response.text.split("table-bordered", 1)[-1]) == []
            assert "Đơn vị không tồn tại" in response.text
            export = client.get(
                "/membermodelview/export", query_string={"unit": unit.id, "subunits": subunits}
            )
            assert export.status_code == 404
    # The province (an ancestor of the clerk's scope) is not in scope either.
    assert (
        client.get("/membermodelview/export", query_string={"unit": world["P"].id}).status_code
        == 404
    )
    for junk in ("abc", "-1", "99999999999999999999999", "1e3"):
        assert client.get("/membermodelview/list/", query_string={"unit": junk}).status_code == 200
        assert client.get("/membermodelview/export", query_string={"unit": junk}).status_code == 200


def test_export_holds_exactly_the_rows_shown_in_their_order(client, world):
    login(client, "clerk_list", PASSWORD)
    cases = [
        {},
        {"unit": world["G1"].id, "subunits": "1"},
        {"unit": world["G1"].id, "subunits": "1", "_oc_MemberModelView": "member_number",
         "_od_MemberModelView": "desc"},
        {"unit": world["C2"].id, "_flt_0_search_key": "cuc"},
        {"_flt_0_sex": "female"},
    ]  # fmt: skip
    for args in cases:
        shown = list_numbers(client, **args)
        response = client.get("/membermodelview/export", query_string=args)
        assert response.status_code == 200, args
        assert response.mimetype.endswith("spreadsheetml.sheet")
        assert workbook_numbers(response.data) == shown, args
    assert list_numbers(client, **cases[2]) == ["100006TN", "100003TN", "100002TN", "100001TN"]
    # The file's words are Vietnamese even when the screen is in English.
    client.get("/lang/en")
    response = client.get("/membermodelview/export", query_string={"unit": world["C1"].id})
    sheet = load_workbook(io.BytesIO(response.data), read_only=True).worksheets[0]
    first = next(row for row in sheet.iter_rows(values_only=True) if row and row[0] == 1)
    assert first[4] in ("Nam", "Nữ") and first[8] == "Chính thức", first
    assert first[5:7] == ("P.01.001.01", "Chi bộ thôn Đông")


def test_long_list_exports_through_the_report_job(app, client, db_session, world, redis_conn):
    login(client, "clerk_list", PASSWORD)
    args = {"unit": world["D1"].id, "subunits": "1", "_oc_MemberModelView": "member_number",
            "_od_MemberModelView": "desc"}  # fmt: skip
    shown = list_numbers(client, **args)
    previous = app.config.get("MEMBER_EXPORT_INLINE_ROWS")
    app.config["MEMBER_EXPORT_INLINE_ROWS"] = 2
    try:
        response = client.get("/membermodelview/export", query_string=args)
    finally:
        app.config.pop("MEMBER_EXPORT_INLINE_ROWS")
        if previous is not None:
            app.config["MEMBER_EXPORT_INLINE_ROWS"] = previous
    assert response.status_code == 302 and "/reports/show/" in response.location
    run = db_session.scalar(select(ReportRun))
    assert (run.report, run.output_format, run.unit_id) == ("member-export", "xlsx", world["D1"].id)
    worker = run_worker_burst()
    assert worker.returncode == 0, worker.stderr[-3000:]
    db_session.expire_all()
    run = db_session.get(ReportRun, run.id)
    assert run.state == ReportState.DONE, run.error
    assert run.row_count == len(shown) == 4
    download = client.get(f"/reports/download/{run.id}")
    assert download.status_code == 200
    assert workbook_numbers(download.data) == shown


def test_a_stored_list_state_with_another_scopes_unit_exports_nobody(db_session, world):
    """A run's parameters replayed in the worker: the list's unit is resolved in the
    requester's scope, so a foreign unit gives an empty file, not its members."""
    clerk = db.session.scalar(select(DangVienUser).where(DangVienUser.username == "clerk_list"))
    requester = as_requester(clerk.id, user_scope(clerk, "Admin"))
    for unit_id, subunits in ((world["C3"].id, False), (world["D2"].id, True), (world["P"].id, True)):  # fmt: skip
        run = request_report(
            db.session,
            requester,
            "member-export",
            "xlsx",
            world["D1"].id,
            {"list": {"unit_id": unit_id, "subunits": subunits, "filters": [], "order": None}},
            queue=False,
        )
        db.session.commit()
        done = execute_run(run.id)
        assert done.state == ReportState.DONE and done.row_count == 0
        assert workbook_numbers(Path(done.file_path).read_bytes()) == []
    # Without a unit, the clerk's whole scope and nothing else.
    run = request_report(
        db.session, requester, "member-export", "xlsx", world["D1"].id,
        {"list": {"unit_id": None, "subunits": False, "filters": [], "order": None}},
        queue=False,
    )  # fmt: skip
    db.session.commit()
    numbers = workbook_numbers(Path(execute_run(run.id).file_path).read_bytes())
    assert sorted(numbers) == ["100001TN", "100002TN", "100003TN", "100006TN"]


@pytest.mark.parametrize(
    "state",
    [
        None,
        "everything",
        {"unit_id": "1"},
        {"unit_id": True},
        {"filters": [["sex", 0, "female"]]},
        {"filters": [["sex", 99, ["female"]]]},
        {"order": ["sort_key", "sideways"]},
    ],
)
def test_a_malformed_list_state_is_refused_before_queueing(db_session, world, state):
    from webapp.domain.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        request_report(
            db.session,
            as_requester(None, None),
            "member-export",
            "xlsx",
            world["D1"].id,
            {"list": state},
            queue=False,
        )
    assert db_session.scalar(select(ReportRun)) is None


def test_rest_api_filters_members_by_unit_subtree_within_scope(client, world):
    login(client, "clerk_list", PASSWORD)

    def numbers(opr, unit):
        query = prison.dumps(
            {"filters": [{"col": "unit", "opr": opr, "value": unit.id}], "page_size": 100}
        )
        response = client.get("/api/v1/members/", query_string={"q": query})
        assert response.status_code == 200, response.text
        return sorted(item["member_number"] for item in response.json["result"])

    assert numbers("in_subtree", world["G1"]) == ["100001TN", "100002TN", "100003TN", "100006TN"]
    assert numbers("in_unit", world["C2"]) == ["100003TN", "100006TN"]
    assert numbers("in_unit", world["G1"]) == []
    # Another district, or the province above the clerk: nobody beyond the scope.
    assert numbers("in_subtree", world["D2"]) == []
    assert numbers("in_subtree", world["P"]) == []


def test_the_direct_export_is_written_to_the_audit_log(client, db_session, world):
    from webapp.models import AuditEntry

    login(client, "clerk_list", PASSWORD)
    before = db_session.scalar(select(func.count(AuditEntry.id)))
    args = {"unit": world["G1"].id, "subunits": "1"}
    response = client.get("/membermodelview/export", query_string=args)
    assert response.status_code == 200
    db_session.expire_all()
    entry = db_session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).one()
    assert db_session.scalar(select(func.count(AuditEntry.id))) == before + 1
    assert entry.action == "download" and entry.username == "clerk_list"
    after = json.loads(entry.after)
    assert after["report"] == "member-export"
    assert after["rows"] == len(workbook_numbers(response.data)) > 0
    assert after["unit"] == world["G1"].code
