"""A Manager in Chromium asks for a report: the form shows the fields the report needs,
a wrong period is refused on the form, the run page follows a real worker to the end and
the PDF downloads with its Vietnamese text."""

from __future__ import annotations

import io

import pytest
import test_browser
from pypdf import PdfReader
from sqlalchemy import select
from test_reports import seed_members

from conftest import run_worker_burst
from webapp.cli import create_user
from webapp.models import ReportRun

PASSWORD = "Quan-ly-2026!"
live_server = test_browser.live_server
browser_page = test_browser.browser_page
ARTIFACTS = test_browser.ARTIFACTS


@pytest.mark.browser
def test_manager_requests_a_report_follows_it_and_downloads_it(
    app,
    db_session,
    redis_conn,
    live_server,
    browser_page,  # noqa: F811
):
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    tree = seed_members(db_session)
    create_user("manager_d1", "Manager", "P.01", PASSWORD)
    page, base = browser_page, live_server

    page.goto(f"{base}/login/")
    page.locator("input#username").fill("manager_d1")
    page.locator("input#password").fill(PASSWORD)
    page.locator("input#password").press("Enter")
    expect(page.locator("a.dropdown-toggle", has=page.locator(".fa-user"))).to_be_visible()

    page.goto(f"{base}/reports/request")
    # The unit list holds the manager's district only, and starts on it.
    units = page.locator("#unit_id option").all_inner_texts()
    assert any("P.01" in text for text in units) and not any("P.02" in text for text in units)
    assert page.locator("#unit_id").input_value() == str(tree["D1"].id)

    # An as-of report shows the day; a period report the period; the delegate check its list.
    page.select_option("#report", "member-list")
    expect(page.locator("#as_of")).to_be_visible()
    expect(page.locator("#from")).to_be_hidden()
    page.select_option("#report", "delegates")
    expect(page.locator("#member_numbers")).to_be_visible()
    page.select_option("#report", "increase-decrease")
    expect(page.locator("#from")).to_be_visible()
    expect(page.locator("#as_of")).to_be_hidden()

    # A period that ends before it starts is refused on the form; nothing is queued.
    page.locator("#from").fill("01/06/2026")
    page.locator("#to").fill("01/01/2026")
    page.locator("#request-report").click()
    expect(page.locator(".report-period .help-block.text-danger")).to_have_text(
        "Ngày cuối kỳ trước ngày đầu kỳ."
    )
    assert db_session.scalar(select(ReportRun)) is None

    page.locator("#from").fill("01/01/2000")
    page.locator("#to").fill("")
    page.locator("#request-report").click()
    expect(page.locator("#run-state")).to_have_text("Đang chờ")
    page.screenshot(path=str(ARTIFACTS / "report-queued.png"), full_page=True)

    worker = run_worker_burst()
    assert worker.returncode == 0, worker.stderr[-3000:]
    expect(page.locator("#run-state")).to_have_text("Hoàn thành", timeout=15_000)
    expect(page.locator("#run-progress-text")).to_have_text("100%")
    expect(page.locator("#run-cancel")).to_be_hidden()
    page.screenshot(path=str(ARTIFACTS / "report-done.png"), full_page=True)

    with page.expect_download() as download_info:
        page.locator("#run-download").click()
    data = download_info.value.path().read_bytes()
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    assert "BÁO CÁO TĂNG, GIẢM ĐẢNG VIÊN" in text
    assert "từ ngày 01/01/2000" in text
    assert "(P.01.001)" in text and "Tổng cộng" in text and "P.02" not in text
