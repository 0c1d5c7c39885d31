"""A Clerk in Chromium starts the day from the worklist: follows a "probation ending" item
to the event form, records the official recognition, checks again (a real RQ worker runs
the refresh) and the item is gone. Screenshots on failure go to the test's tmp folder."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from test_browser import ARTIFACTS, browser_page, live_server  # noqa: F401 - fixtures

from conftest import run_worker_burst
from factories import SYSTEM, make_member, make_tree
from helpers import vietnamese
from webapp.cli import create_user
from webapp.domain.badge_eligibility import add_months
from webapp.domain.events import open_ledger
from webapp.domain.worklist import refresh_worklist

PASSWORD = "Browser-Worklist-123"


@pytest.mark.browser
def test_clerk_follows_a_probation_item_records_the_recognition_and_it_is_gone(
    app,
    db_session,
    redis_conn,
    live_server,  # noqa: F811
    browser_page,  # noqa: F811
    tmp_path,
):
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    today = date.today()
    tree = make_tree(db_session)
    admitted = add_months(today, -12) - timedelta(days=3)  # probation ended three days ago
    member = make_member(
        db_session,
        tree["C1"],
        birth_name="Hà Thị Dự Bị",
        admitted_on=admitted,
        official_on=None,
        status="probationary",
    )
    db_session.commit()
    open_ledger(db_session, SYSTEM, member.id)
    refresh_worklist(db_session, SYSTEM, today)
    create_user("clerk_worklist", "Clerk", "P.01", PASSWORD)
    page, base = browser_page, live_server
    try:
        page.goto(f"{base}/login/")
        page.locator("input#username").fill("clerk_worklist")
        page.locator("input#password").fill(PASSWORD)
        page.locator("input#password").press("Enter")
        expect(page.locator("#home-worklist")).to_be_visible()
        page.locator("#home-worklist a", has_text="Hết thời gian dự bị").click()
        item = page.locator(f".work-item[data-member='{member.id}']")
        expect(item).to_be_visible()
        expect(item).to_contain_text("đã quá hạn")
        item.locator(".work-item-action").click()

        page.locator("#event-form select[name=kind]").select_option(
            label=vietnamese(app, "Recognition as official member")
        )
        page.locator("#effective_on").fill(add_months(admitted, 12).strftime("%d/%m/%Y"))
        page.locator("#record-event").click()
        expect(page.locator(".alert-danger")).to_have_count(0)

        page.goto(f"{base}/worklist/?rule=probation_ending")
        expect(item).to_be_visible()  # not yet checked again
        page.locator("#worklist-refresh").click()
        expect(page.locator(".alert-info")).to_be_visible()
        assert run_worker_burst().returncode == 0
        page.goto(f"{base}/worklist/?rule=probation_ending")
        expect(page.locator(f".work-item[data-member='{member.id}']")).to_have_count(0)
        expect(page.locator("#worklist-empty")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "worklist-after.png"), full_page=True)
    except Exception:
        page.screenshot(path=str(tmp_path / "worklist-failure.png"), full_page=True)
        raise
