"""The leaders' dashboard: its figures are the reports' (recounted here from the ledger
with independent SQL), scoped, cached until the records change, computed by a worker for
a large scope; and in Chromium the charts draw from the project's own files only."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text
from test_browser import browser_page, live_server  # noqa: F401 - fixtures

from conftest import run_worker_burst
from factories import SYSTEM, make_member, make_tree
from webapp.cli import create_user
from webapp.domain.dashboard import dashboard_figures
from webapp.domain.events import EventInput, open_ledger, record_event
from webapp.domain.report_figures import increase_decrease, quality

PASSWORD = "Dashboard-Pass-123"
TODAY = date.today()


def history(session):
    tree = make_tree(session)
    people = [
        make_member(session, tree["C1"], birth_name="Lê Văn Một", birth_date=date(1950, 1, 1)),
        make_member(session, tree["C1"], birth_name="Trần Thị Hai", sex="female"),
        make_member(session, tree["C2"], birth_name="Phạm Văn Ba", birth_date=date(1995, 6, 1)),
        make_member(session, tree["C3"], birth_name="Vũ Thị Bốn", sex="female"),
        make_member(
            session,
            tree["C2"],
            birth_name="Đỗ Thị Năm",
            sex="female",
            birth_date=date(1998, 3, 3),
            admitted_on=date(TODAY.year, 1, 1),
            official_on=None,
            status="probationary",
        ),
    ]
    session.commit()
    for member in people:
        open_ledger(session, SYSTEM, member.id)
    record_event(
        session,
        SYSTEM,
        people[0].id,
        EventInput(kind="death", effective_on=date(TODAY.year, 1, 2)),
        today=TODAY,
    )
    return tree, people


def on_rolls_by_sql(session, path: str) -> int:
    """An independent count: periods current today in units under `path`."""
    return session.execute(
        text(
            "SELECT count(*) FROM member_period p JOIN unit u ON u.id = p.unit_id "
            "WHERE u.path LIKE :path AND p.starts_on <= :day "
            "AND (p.ends_on IS NULL OR p.ends_on > :day)"
        ),
        {"path": path + "%", "day": TODAY},
    ).scalar()


def test_the_figures_are_the_reports_and_recount_from_the_ledger(app, db_session, redis_conn):
    tree, _ = history(db_session)
    figures = dashboard_figures(db_session, None, TODAY)
    province = tree["P"]
    assert figures["members"] == on_rolls_by_sql(db_session, province.path) == 4
    assert figures["probationary"] == 1 and figures["official"] == 3
    lines = increase_decrease(db_session, province, date(TODAY.year, 1, 1), TODAY)
    total = next(line for line in lines if line.group is None)
    assert figures["this_year"]["increase_total"] == total.increase_total == 1
    assert figures["this_year"]["decreases"] == {"death": 1}
    assert sum(b["male"] + b["female"] for b in figures["pyramid"].values()) == 4
    found = quality(db_session, province, TODAY)
    for key, counts in figures["composition"].items():
        assert counts == {c: sum(g.values()) for c, g in found.counts[key].items()}
    assert sum(u["members"] for u in figures["units"]) == 4
    assert {u["code"] for u in figures["units"]} == {"P.01", "P.02"}


def login(client, username):
    response = client.post("/login/", data={"username": username, "password": PASSWORD})
    assert response.status_code in (200, 302)


def test_a_leader_sees_their_scope_only_and_the_cache_follows_the_records(
    app, db_session, redis_conn
):
    tree, people = history(db_session)
    create_user("leader_dash", "Leader", "P.01", PASSWORD)
    client = app.test_client()
    login(client, "leader_dash")
    html = client.get("/dashboard/").get_data(as_text=True)
    assert 'id="dash-members"><a' in html and ">3</a>" in html  # D1: C1 one (one died), C2 two
    # Each unit's count links to the members it counts, and the list is as long.
    import re
    from html import unescape

    for count, href in re.findall(r'class="figure" data-count="(\d+)" href="([^"]+)"', html):
        listing = client.get(unescape(href)).get_data(as_text=True)
        assert f'data-total="{count}"' in listing
    assert 'data-unit="P.01.001"' in html and "P.02" not in html
    # A new death: the cached figures are not shown any more.
    record_event(
        db_session,
        SYSTEM,
        people[1].id,
        EventInput(kind="death", effective_on=TODAY),
        today=TODAY,
    )
    html = client.get("/dashboard/").get_data(as_text=True)
    assert ">2</a></h3>" in html
    # A Clerk has no dashboard.
    create_user("clerk_dash", "Clerk", "P.01", PASSWORD)
    other = app.test_client()
    login(other, "clerk_dash")
    assert other.get("/dashboard/").status_code in (302, 403)


def test_the_cache_follows_changes_of_records_and_not_sign_ins(app, db_session, redis_conn):
    from webapp.domain.members import edit_member
    from webapp.reports.dashboard import generation

    tree, people = history(db_session)
    db_session.commit()
    before = generation()
    create_user("leader_gen", "Leader", "P.01", PASSWORD)
    login(app.test_client(), "leader_gen")  # a user and a sign-in: no figure changes
    assert generation() == before
    edit_member(
        db_session,
        SYSTEM,
        people[0].id,
        {"general_education": "12/12"},
        member_number_pattern=app.config["MEMBER_NUMBER_PATTERN"],
    )
    db_session.commit()
    assert generation() != before  # an edit without a ledger event changes the key


def test_a_large_scope_is_computed_by_a_worker(app, db_session, redis_conn, monkeypatch):
    history(db_session)
    create_user("leader_big", "Leader", "P", PASSWORD)
    monkeypatch.setitem(app.config, "DASHBOARD_INLINE_MEMBERS", 0)
    client = app.test_client()
    login(client, "leader_big")
    assert 'id="dashboard-pending"' in client.get("/dashboard/").get_data(as_text=True)
    assert run_worker_burst().returncode == 0
    html = client.get("/dashboard/").get_data(as_text=True)
    assert ">4</a></h3>" in html and 'id="dashboard-stale"' not in html


def test_a_large_scope_shows_its_last_figures_while_one_refresh_runs(
    app, db_session, redis_conn, monkeypatch
):
    """Every save changes the figures' key; a large scope is then shown as last computed
    and refreshed by one job, not one job a save (docs/production.md, "Load test")."""
    from rq import Queue

    tree, people = history(db_session)
    create_user("leader_stale", "Leader", "P", PASSWORD)
    monkeypatch.setitem(app.config, "DASHBOARD_INLINE_MEMBERS", 0)
    client = app.test_client()
    login(client, "leader_stale")
    client.get("/dashboard/")
    assert run_worker_burst().returncode == 0
    assert ">4</a></h3>" in client.get("/dashboard/").get_data(as_text=True)
    queue = Queue("reports", connection=redis_conn)
    for person in people[1:3]:  # two saves, two visits: one refresh queued
        record_event(
            db_session, SYSTEM, person.id, EventInput(kind="death", effective_on=TODAY), today=TODAY
        )
        db_session.commit()
        html = client.get("/dashboard/").get_data(as_text=True)
        assert 'id="dashboard-stale"' in html and ">4</a></h3>" in html  # the last figures
    assert queue.count == 1
    assert run_worker_burst().returncode == 0
    html = client.get("/dashboard/").get_data(as_text=True)
    assert 'id="dashboard-stale"' not in html and ">2</a></h3>" in html


@pytest.mark.browser
def test_the_charts_draw_from_local_files_only(
    app,
    db_session,
    redis_conn,
    live_server,  # noqa: F811
    browser_page,  # noqa: F811
    tmp_path,
):
    from playwright.sync_api import expect

    history(db_session)
    create_user("leader_chart", "Leader", "P", PASSWORD)
    page, base = browser_page, live_server
    outside = []
    page.on(
        "request",
        lambda request: (
            outside.append(request.url)
            if not request.url.startswith(base) and not request.url.startswith("data:")
            else None
        ),
    )
    try:
        page.goto(f"{base}/login/")
        page.locator("input#username").fill("leader_chart")
        page.locator("input#password").fill(PASSWORD)
        page.locator("input#password").press("Enter")
        page.goto(f"{base}/dashboard/")
        expect(page.locator("#dash-members")).to_have_text("4")
        page.wait_for_function("window.dashboardCharts !== undefined")
        charts = page.evaluate("Object.keys(window.dashboardCharts).length")
        assert charts == 7
        pyramid_total = page.evaluate(
            "window.dashboardCharts['chart-pyramid'].data.datasets"
            ".map(d => d.data.reduce((a, b) => a + Math.abs(b), 0)).reduce((a, b) => a + b, 0)"
        )
        assert pyramid_total == 4
        assert outside == []
    except Exception:
        page.screenshot(path=str(tmp_path / "dashboard-failure.png"), full_page=True)
        raise
