"""An Admin in Chromium asks the audit log who changed and who downloaded what (issue 13,
item 4): the filter by member (typed without diacritics) and by action narrows the log,
each row reads as a sentence with the member's number and name, and an entry's page lists
the changed fields. Same set-up as test_browser.py (waitress, CSRF on, Debian's Chromium);
a failure leaves a screenshot in the test's temporary folder."""

from __future__ import annotations

import pytest
import test_browser
from test_audit_log import _audit_world, entries

from conftest import ADMIN_PASSWORD

live_server = test_browser.live_server
browser_page = test_browser.browser_page
ARTIFACTS = test_browser.ARTIFACTS


@pytest.mark.browser
def test_admin_filters_the_audit_log_by_member_and_action(
    app, db_session, live_server, browser_page, tmp_path
):
    from playwright.sync_api import expect

    first, _ = _audit_world(db_session)
    about_first = {str(e.id) for e in entries(db_session) if e.member_id == first.id}
    page, base = browser_page, live_server
    try:
        page.goto(f"{base}/login/")
        page.locator("input#username").fill("admin")
        page.locator("input#password").fill(ADMIN_PASSWORD)
        page.locator("input#password").press("Enter")
        expect(page.locator("a.dropdown-toggle", has=page.locator(".fa-user"))).to_be_visible()

        page.goto(f"{base}/auditentryview/list/")
        newest = [str(e.id) for e in reversed(entries(db_session))][:50]  # a page of 50
        expect(page.locator("#audit-table tbody tr")).to_have_count(len(newest))
        assert page.locator("#audit-table tbody tr").first.get_attribute("data-entry") == newest[0]
        expect(page.locator("#audit-table")).to_contain_text("tính đến ngày 30/06/2026")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "audit-list.png"), full_page=True)

        page.locator("#member").fill("nguyen thi huong")
        page.locator("#audit-filter-apply").click()
        rows = page.locator("#audit-table tbody tr[data-entry]")
        expect(rows).to_have_count(len(about_first))
        assert {rows.nth(i).get_attribute("data-entry") for i in range(rows.count())} == (
            about_first
        )
        expect(page.locator(".audit-member").first).to_have_text(f"{first.member_number} – Hường")
        expect(page.locator(".audit-summary").first).to_contain_text(
            "Họ và tên đang dùng: — → Hường"
        )

        page.select_option("#action", "update")
        page.locator("#audit-filter-apply").click()
        expect(rows).to_have_count(1)
        assert page.locator("#member").input_value() == "nguyen thi huong"  # the filter stays
        page.screenshot(path=str(ARTIFACTS / "audit-filtered.png"), full_page=True)

        rows.first.locator("a .fa-search").click()
        expect(page.locator("#audit-entry-member")).to_have_text(f"{first.member_number} – Hường")
        expect(page.locator("#audit-entry-details")).to_contain_text("Họ và tên đang dùng")

        page.goto(f"{base}/auditentryview/list/?from=31/02/2020")
        expect(page.locator("#audit-filter-errors")).to_be_visible()
        expect(page.locator("#audit-table tbody tr[data-entry]")).to_have_count(0)
    except BaseException:
        page.screenshot(path=str(tmp_path / "audit-failure.png"), full_page=True)
        raise
