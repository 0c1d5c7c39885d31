"""The member list in Chromium (issue 13, item 9): a clerk narrows the list to a cell by
typing part of its name in the unit box (Select2 asking the server), widens it to a
commune with its sub-units, and downloads exactly the rows shown as a workbook.

On failure a screenshot of the page is saved in the test's temporary folder."""

from __future__ import annotations

import re

import pytest
import test_browser
import test_member_list_filter
from test_browser_report_runs import screenshot_on_failure, sign_in
from test_member_list_filter import NUMBER, PASSWORD, workbook_numbers

live_server = test_browser.live_server
browser_page = test_browser.browser_page
world = test_member_list_filter.world


def shown_numbers(page) -> list[str]:
    # The address changes when the next page starts arriving: read its table once loaded.
    page.wait_for_load_state()
    return NUMBER.findall(page.locator("table.table-bordered").inner_text())


@pytest.mark.browser
def test_clerk_filters_the_list_by_unit_with_type_ahead_and_exports_it(
    app,
    db_session,
    world,
    live_server,
    browser_page,
    tmp_path,  # noqa: F811
):
    from playwright.sync_api import expect

    page, base = browser_page, live_server
    with screenshot_on_failure(page, tmp_path, "member-list"):
        sign_in(page, base, "clerk_list", PASSWORD)
        page.goto(f"{base}/membermodelview/list/")
        assert sorted(shown_numbers(page)) == ["100001TN", "100002TN", "100003TN", "100006TN"]

        # Type part of the cell's name without diacritics; only units in scope are offered.
        page.locator("#member-unit + .select2-container .select2-selection").click()
        search = page.locator(".select2-container--open .select2-search__field")
        search.fill("tay")
        options = page.locator(".select2-container--open .select2-results__option")
        expect(options).to_have_count(1)
        expect(options.first).to_have_text("P.01.001.02 – Chi bộ thôn Tây")
        search.fill("tram")  # a cell of the other district
        expect(page.locator(".select2-container--open .select2-results__message")).to_have_text(
            "Không tìm thấy đơn vị nào trong phạm vi quản lý"
        )
        expect(page.locator(".select2-results__option", has_text="Trạm")).to_have_count(0)
        search.fill("tay")
        page.locator(".select2-container--open .select2-results__option", has_text="Tây").click()
        expect(page).to_have_url(re.compile(rf"unit={world['C2'].id}"))
        expect(page.locator("#member-unit + .select2-container")).to_contain_text("Chi bộ thôn Tây")
        assert sorted(shown_numbers(page)) == ["100003TN", "100006TN"]

        # The commune with its sub-units, sorted by member number, newest first.
        page.locator("#member-unit + .select2-container .select2-selection").click()
        search = page.locator(".select2-container--open .select2-search__field")
        search.fill("P.01.001")
        page.locator(
            ".select2-container--open .select2-results__option", has_text="Đảng bộ xã Một"
        ).click()
        expect(page).to_have_url(re.compile(rf"unit={world['G1'].id}"))
        expect(page.locator("#member-subunits")).to_be_checked()
        page.locator("th a", has_text="Số lý lịch").click()
        page.locator("th a", has_text="Số lý lịch").click()
        expect(page).to_have_url(re.compile(r"_od_MemberModelView=desc"))
        expect(page).to_have_url(re.compile(rf"unit={world['G1'].id}"))
        shown = shown_numbers(page)
        assert shown == ["100006TN", "100003TN", "100002TN", "100001TN"]

        # Only the commune itself: nobody (members are held by its cells).
        page.locator("#member-subunits").uncheck()
        expect(page).not_to_have_url(re.compile(r"subunits=1"))
        expect(page.locator("table.table-bordered")).to_have_count(0)
        page.locator("#member-subunits").check()
        expect(page).to_have_url(re.compile(r"subunits=1"))

        # The export holds the rows shown, in their order.
        with page.expect_download() as download_info:
            page.locator("#member-export").click()
        data = download_info.value.path().read_bytes()
        assert workbook_numbers(data) == shown_numbers(page) == shown
