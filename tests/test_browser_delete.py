"""The delete buttons still work with the CSRF check on (issue 11, item 4): in Chromium, an
Admin deletes a work-history row from the member page's tab (FAB's button opens the
confirmation, then posts its hidden form with the page's token). Same set-up as
test_browser.py (real app under waitress, CSRF on, Debian's Chromium)."""

from __future__ import annotations

from datetime import date

import pytest
import test_browser
from sqlalchemy import select

from conftest import ADMIN_PASSWORD
from factories import make_member, make_tree
from webapp.models import WorkPeriod

live_server = test_browser.live_server
browser_page = test_browser.browser_page
ARTIFACTS = test_browser.ARTIFACTS


@pytest.mark.browser
def test_a_row_is_deleted_from_the_member_page(app, db_session, live_server, browser_page):
    from playwright.sync_api import expect

    tree = make_tree(db_session)
    member = make_member(db_session, tree["C1"], birth_name="Phan Thị Xoá")
    keep = WorkPeriod(member=member, starts_on=date(1999, 1, 1), description="Giữ lại")
    gone = WorkPeriod(member=member, starts_on=date(2001, 1, 1), description="Xoá đi")
    db_session.add_all([keep, gone])
    db_session.commit()
    page, base = browser_page, live_server

    page.goto(f"{base}/login/")
    page.locator("input#username").fill("admin")
    page.locator("input#password").fill(ADMIN_PASSWORD)
    page.locator("input#password").press("Enter")
    page.goto(f"{base}/membermodelview/show/{member.id}")
    page.locator('a[href="#WorkPeriodView"]').click()
    page.locator(f'[id="btn-delete-/workperiodview/delete/{gone.id}"]').click()
    # The page carries FAB's confirmation twice (the detail tab has one too): the shown one.
    page.locator("#modal-confirm-ok:visible").click()
    expect(page.locator(".alert-success")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "delete-1-row-deleted.png"), full_page=True)

    db_session.expire_all()
    left = db_session.scalars(
        select(WorkPeriod.description).where(WorkPeriod.member_id == member.id)
    )
    assert list(left) == ["Giữ lại"]
