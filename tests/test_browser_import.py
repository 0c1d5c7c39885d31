"""A clerk imports members in Chromium: download the template, upload a filled file, read
the dry run (a row in error, then a corrected file), commit it; the members are there."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from test_browser import ARTIFACTS, browser_page, live_server  # noqa: F401 - fixtures
from test_import_members import HEADERS, PASSWORD, member_row, workbook_bytes

from conftest import run_worker_burst
from factories import make_member, make_tree
from webapp.cli import create_user
from webapp.models import Member

pytestmark = pytest.mark.browser


def test_clerk_uploads_reads_the_dry_run_and_commits(
    app,
    db_session,
    redis_conn,
    live_server,  # noqa: F811
    browser_page,  # noqa: F811
    tmp_path,
):
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    tree = make_tree(db_session)
    make_member(db_session, tree["C1"], member_number="000500TN")
    db_session.commit()
    create_user("clerk_i", "Clerk", "P.01", PASSWORD)
    page, base = browser_page, live_server
    page.goto(f"{base}/login/")
    page.locator("input#username").fill("clerk_i")
    page.locator("input#password").fill(PASSWORD)
    page.locator("input#password").press("Enter")
    expect(page.locator("a.dropdown-toggle", has=page.locator(".fa-user"))).to_be_visible()

    page.goto(f"{base}/memberimports/")
    with page.expect_download() as download:
        page.locator("#import-template").click()
    template = tmp_path / "mau.xlsx"
    download.value.save_as(template)
    assert template.read_bytes().startswith(b"PK")

    wrong = tmp_path / "sai.xlsx"
    wrong.write_bytes(
        workbook_bytes([member_row("000601TN"), member_row("000602TN", **{"Ngày sinh": "x"})])
    )
    page.locator("#import-file").set_input_files(str(wrong))
    page.locator("#import-upload").click()
    expect(page.locator("#import")).to_have_attribute("data-state", "queued")
    assert run_worker_burst().returncode == 0
    # The page polls and reloads with the table once the dry run is done.
    expect(page.locator("#import-state")).to_have_attribute("data-state", "checked", timeout=20_000)
    error_row = page.locator("#import-rows tr[data-outcome='error']")
    expect(error_row).to_have_count(1)
    expect(error_row).to_contain_text("D (Ngày sinh)")
    expect(error_row).to_contain_text("dd/mm/yyyy")
    expect(page.locator("#import-commit")).to_have_count(0)  # no commit with errors

    page.goto(f"{base}/memberimports/")
    good = tmp_path / "dung.xlsx"
    good.write_bytes(workbook_bytes([member_row("000601TN"), member_row("000602TN")]))
    page.locator("#import-file").set_input_files(str(good))
    page.locator("#import-upload").click()
    assert run_worker_burst().returncode == 0
    expect(page.locator("#import-state")).to_have_attribute("data-state", "checked", timeout=20_000)
    expect(page.locator("#import-rows tr[data-outcome='new']")).to_have_count(2)
    page.screenshot(path=str(ARTIFACTS / "import-dry-run.png"), full_page=True)
    db_session.expire_all()
    assert db_session.scalar(select(func.count(Member.id))) == 1
    page.locator("#import-commit").click()
    expect(page.locator("#import")).to_have_attribute("data-state", "committing")
    assert run_worker_burst().returncode == 0
    expect(page.locator("#import-state")).to_have_attribute(
        "data-state", "committed", timeout=20_000
    )
    db_session.expire_all()
    assert db_session.scalar(select(func.count(Member.id))) == 3
    assert HEADERS[0] == "Số lý lịch"
