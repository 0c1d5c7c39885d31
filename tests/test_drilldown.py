"""The quality analysis on screen: every figure is a link to the members behind it, and
that list's length is the figure, always (each figure of a seeded history is followed);
the list exports to XLSX with exactly those rows; a tampered unit, line or category is a
404, never another scope's members."""

from __future__ import annotations

import io
import re
from datetime import date

from openpyxl import load_workbook

from factories import SYSTEM, make_member, make_tree
from webapp.cli import create_user
from webapp.domain.events import EventInput, open_ledger, record_event

PASSWORD = "Drill-Pass-123"
FIGURE = re.compile(r'<a class="figure" data-count="(\d+)" href="([^"]+)"')
TOTAL = re.compile(r'id="figure-total" data-total="(\d+)"')
ROW = re.compile(r'<tr class="figure-member">')


def seeded(session):
    tree = make_tree(session)
    people = [
        make_member(session, tree["C1"], birth_name="Lê Văn Một", birth_date=date(1950, 1, 1)),
        make_member(
            session, tree["C1"], birth_name="Trần Thị Hai", sex="female", religion="Phật giáo"
        ),
        make_member(session, tree["C2"], birth_name='=HYPERLINK("x")', birth_date=date(1995, 6, 1)),
        make_member(session, tree["C3"], birth_name="Vũ Thị Bốn", sex="female"),
        make_member(
            session,
            tree["C2"],
            birth_name="Đỗ Thị Năm",
            sex="female",
            admitted_on=date(2025, 1, 1),
            official_on=None,
            status="probationary",
            general_education="12/12",
        ),
    ]
    session.commit()
    for member in people:
        open_ledger(session, SYSTEM, member.id)
    record_event(
        session,
        SYSTEM,
        people[0].id,
        EventInput(kind="transfer_within", effective_on=date(2020, 1, 1), to_unit_id=tree["C3"].id),
        today=date(2026, 12, 2),
    )
    return tree, people


def login(client, username):
    client.post("/login/", data={"username": username, "password": PASSWORD})


def test_every_figure_drills_down_to_exactly_its_members(app, db_session, redis_conn):
    from html import unescape

    tree, _ = seeded(db_session)
    create_user("leader_drill", "Leader", "P", PASSWORD)
    client = app.test_client()
    login(client, "leader_drill")
    page = client.get(f"/reports/screen/quality?unit={tree['P'].id}&as_of=02/12/2026")
    assert page.status_code == 200
    figures = FIGURE.findall(page.get_data(as_text=True))
    assert len(figures) > 20
    for count, href in figures:
        listing = client.get(unescape(href)).get_data(as_text=True)
        assert TOTAL.search(listing).group(1) == count, href
        assert len(ROW.findall(listing)) == int(count), href
    # The whole: five on the rolls of P on the day (P.01 has three, P.02 has two).
    assert figures[0][0] == "5"


def test_the_list_exports_exactly_its_rows_and_formulas_stay_text(app, db_session, redis_conn):
    tree, _ = seeded(db_session)
    create_user("clerk_drill", "Clerk", "P.01", PASSWORD)
    client = app.test_client()
    login(client, "clerk_drill")
    response = client.get(
        f"/reports/screen/members?unit={tree['D1'].id}&as_of=02/12/2026&format=xlsx"
    )
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = [row for row in sheet.iter_rows(values_only=True) if row and row[0]]
    names = [row[1] for row in rows[1:]]
    assert len(names) == 3  # P.01: Hai in C1, the "formula" and Năm in C2
    formula = next(
        cell
        for row in sheet.iter_rows()
        for cell in row
        if cell.value and str(cell.value).startswith("=HYPERLINK")
    )
    assert formula.data_type == "s"
    # The list left the system: the audit log says who took it, with its rows.
    from sqlalchemy import select

    from webapp.models import AuditEntry

    db_session.expire_all()
    logged = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "download")).all()
    assert len(logged) == 1 and "quality-members" in (logged[0].after or "")


def test_a_tampered_unit_line_or_category_is_a_404(app, db_session, redis_conn):
    tree, _ = seeded(db_session)
    create_user("clerk_drill_b", "Clerk", "P.01", PASSWORD)
    client = app.test_client()
    login(client, "clerk_drill_b")
    d1, d2, c1 = tree["D1"].id, tree["D2"].id, tree["C1"].id
    assert client.get(f"/reports/screen/quality?unit={d2}").status_code == 404
    assert client.get(f"/reports/screen/members?unit={d2}").status_code == 404
    assert client.get("/reports/screen/members?unit=99999999999").status_code == 404
    assert client.get(f"/reports/screen/members?unit={d1}&group={d2}").status_code == 404
    assert client.get(f"/reports/screen/members?unit={d1}&group={c1}").status_code == 404
    assert (
        client.get(f"/reports/screen/members?unit={d1}&dimension=nonsense&category=x").status_code
        == 404
    )
    assert client.get(f"/reports/screen/members?unit={d1}&as_of=31/02/2020").status_code == 404
    # Without a unit: the user's own.
    assert "P.01" in client.get("/reports/screen/quality").get_data(as_text=True)
