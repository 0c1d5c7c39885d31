"""The report run screen in Chromium (issue 13, item 10): the progress figure is readable
at 0% (not white on grey), the status line follows the run (no "queued" message left once
it is done) and "My report runs" offers the download of a finished run.

On failure a screenshot of the page is saved in the test's temporary folder."""

from __future__ import annotations

import io
from contextlib import contextmanager

import pytest
import test_browser
from pypdf import PdfReader
from test_reports import seed_members

from conftest import run_worker_burst
from helpers import vietnamese
from webapp.cli import create_user

PASSWORD = "Quan-ly-2026!"
live_server = test_browser.live_server
browser_page = test_browser.browser_page

# The contrast of a colour pair as WCAG 2 defines it, from the computed styles: the text's
# colour against the first opaque background behind it.
CONTRAST = """(id) => {
  const rgb = (text) => text.match(/[\\d.]+/g).map(Number);
  const luminance = ([r, g, b]) => {
    const linear = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
  };
  const element = document.getElementById(id);
  let node = element, background = null;
  while (node && node.nodeType === 1) {
    const colour = rgb(getComputedStyle(node).backgroundColor);
    if (colour.length < 4 || colour[3] > 0.9) { background = colour.slice(0, 3); break; }
    node = node.parentElement;
  }
  background = background || [255, 255, 255];
  const light = [luminance(rgb(getComputedStyle(element).color)), luminance(background)].sort((a, b) => b - a);
  const box = element.getBoundingClientRect();
  return {ratio: (light[0] + 0.05) / (light[1] + 0.05), width: box.width, height: box.height};
}"""


@contextmanager
def screenshot_on_failure(page, tmp_path, name: str):
    try:
        yield
    except BaseException:
        page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
        raise


def sign_in(page, base: str, username: str, password: str = PASSWORD) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base}/login/")
    page.locator("input#username").fill(username)
    page.locator("input#password").fill(password)
    page.locator("input#password").press("Enter")
    expect(page.locator("a.dropdown-toggle", has=page.locator(".fa-user"))).to_be_visible()


@pytest.mark.browser
def test_run_page_reads_well_follows_the_state_and_my_runs_download(
    app, db_session, redis_conn, live_server, browser_page, tmp_path
):
    from playwright.sync_api import expect

    tree = seed_members(db_session)
    create_user("manager_runs", "Manager", "P.01", PASSWORD)
    page, base = browser_page, live_server
    queued = vietnamese(app, "The report is waiting in the queue; this page follows it.")
    old_flash = vietnamese(app, "The report has been queued.")
    ready = vietnamese(app, "The report is ready: download it below.")
    with screenshot_on_failure(page, tmp_path, "report-run"):
        sign_in(page, base, "manager_runs")
        page.goto(f"{base}/reports/request")
        page.select_option("#report", "member-list")
        page.locator('input[name="output_format"][value="pdf"]').check()
        page.locator("#request-report").click()

        # Queued: the status line says so, the figure beside the bar reads 0% in a
        # readable colour (WCAG AA: 4.5:1), and there is no separate flash to go stale.
        expect(page.locator("#run-state")).to_have_text("Đang chờ")
        expect(page.locator("#run-message")).to_have_text(queued)
        expect(page.locator("#run-progress-text")).to_have_text("0%")
        expect(page.locator("#run-progress-text")).to_be_visible()
        seen = page.evaluate(CONTRAST, "run-progress-text")
        assert seen["ratio"] >= 4.5 and seen["width"] > 0 and seen["height"] > 0, seen
        expect(page.locator(".alert", has_text=old_flash)).to_have_count(0)

        worker = run_worker_burst()
        assert worker.returncode == 0, worker.stderr[-3000:]
        # Done: the same page, without reloading, says so; nothing says queued any more.
        expect(page.locator("#run-state")).to_have_text("Hoàn thành", timeout=15_000)
        expect(page.locator("#run-message")).to_have_text(ready)
        expect(page.locator("#run-message")).to_have_class("alert alert-success")
        expect(page.locator("#run-progress-text")).to_have_text("100%")
        assert page.evaluate(CONTRAST, "run-progress-text")["ratio"] >= 4.5
        expect(page.locator("body")).not_to_contain_text(queued)
        expect(page.locator("body")).not_to_contain_text(old_flash)

        # My report runs: the finished run has its download link, which gives the PDF.
        page.goto(f"{base}/reports/list/")
        row = page.locator("table.table-bordered tbody tr", has_text="P.01")
        expect(row).to_have_count(1)
        link = row.locator("a.run-download")
        expect(link).to_have_text(vietnamese(app, "Download"))
        with page.expect_download() as download_info:
            link.click()
        data = download_info.value.path().read_bytes()
        text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
        assert "DANH SÁCH ĐẢNG VIÊN" in text.upper() and "P.02" not in text
        assert tree["D1"].code in text
