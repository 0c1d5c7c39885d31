"""A person in Chromium: log in, switch language, add a member, search for her.

Drives Debian's Chromium (/usr/bin/chromium) through Playwright against the real app served
by waitress on a free localhost port, with CSRF protection on. Screenshots go to
test-artifacts/ (gitignored) so a person can look at what the screens show.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
import waitress
from sqlalchemy import func, select

from conftest import ADMIN_PASSWORD, IN_CI, ROOT
from factories import make_member, make_tree
from helpers import vietnamese
from webapp.models import Member

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000


@pytest.fixture()
def live_server(app, db_session):
    """The app served by waitress in a daemon thread, with CSRF checks on."""
    previous_csrf = app.config.get("WTF_CSRF_ENABLED")
    app.config["WTF_CSRF_ENABLED"] = True
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, name="waitress-browser-test", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        server.task_dispatcher.shutdown(timeout=5)
        thread.join(timeout=5)
        if previous_csrf is None:
            app.config.pop("WTF_CSRF_ENABLED", None)
        else:
            app.config["WTF_CSRF_ENABLED"] = previous_csrf


@pytest.fixture()
def browser_page():
    if not CHROMIUM.exists():
        reason = f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            yield page
            context.close()
        finally:
            browser.close()


def count_members(session, **where) -> int:
    session.expire_all()
    query = select(func.count(Member.id)).filter_by(**where)
    return session.scalar(query)


def choose_in_select2(page, field_id: str, search: str, option_text: str) -> None:
    """Open the Select2 box over <select id=field_id>, type, click the matching option."""
    page.locator(f"#{field_id} + .select2-container .select2-selection").click()
    search_box = page.locator(".select2-container--open .select2-search__field")
    search_box.fill(search)
    page.locator(".select2-container--open .select2-results__option", has_text=option_text).click()


@pytest.mark.browser
def test_clerk_logs_in_switches_language_adds_and_finds_a_member(
    app, db_session, live_server, browser_page
):
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    tree = make_tree(db_session)
    cell = tree["C1"]
    # Someone the search must not find: shares "Nguyễn" but not the rest of the name.
    other = make_member(db_session, tree["C2"], birth_name="Nguyễn Văn An")
    db_session.commit()
    page = browser_page
    base = live_server

    # --- Log in (real form, real CSRF token).
    page.goto(f"{base}/login/")
    expect(page.locator("input#username")).to_be_visible()
    expect(page.locator('input[name="csrf_token"]')).to_have_count(1)
    page.screenshot(path=str(ARTIFACTS / "login.png"), full_page=True)
    page.locator("input#username").fill("admin")
    page.locator("input#password").fill(ADMIN_PASSWORD)
    page.locator("input#password").press("Enter")
    expect(page.locator("a.dropdown-toggle", has=page.locator(".fa-user"))).to_be_visible()

    # --- English, then back to Vietnamese, through the language menu in the navbar.
    language_menu = page.locator("a.dropdown-toggle", has=page.locator("i.flag"))
    language_menu.click()
    page.locator('.dropdown-menu a[href$="/lang/en"]').click()
    expect(page.locator(".navbar")).to_contain_text("Organisation")
    page.screenshot(path=str(ARTIFACTS / "home-en.png"), full_page=True)
    language_menu.click()
    page.locator('.dropdown-menu a[href$="/lang/vi"]').click()
    navbar = page.locator(".navbar")
    expect(navbar).to_contain_text("Tổ chức")
    page.locator("a.dropdown-toggle", has=page.locator(".fa-user")).click()
    expect(page.get_by_role("link", name="Đăng xuất")).to_be_visible()

    # --- Add a member from the list screen, reached through the menu; first with the
    # admission date before the birth date.
    navbar.get_by_role("link", name="Tổ chức").click()
    navbar.locator('a[href$="/membermodelview/list/"]').click()
    expect(page).to_have_url(re.compile(r"/membermodelview/list"))
    page.locator('a[href*="/membermodelview/add"]').first.click()
    expect(page).to_have_url(re.compile(r"/membermodelview/add"))
    expect(page.locator('#model_form input[name="csrf_token"]')).to_have_count(1)
    expect(page.locator("#birth_date")).to_have_attribute("placeholder", "dd/mm/yyyy")
    page.locator("#member_number").fill("000123TN")
    page.locator("#birth_name").fill("Nguyễn Thị Hường")
    choose_in_select2(page, "sex", "Nữ", "Nữ")
    expect(page.locator("#sex")).to_have_value("female")
    page.locator("#birth_date").fill("19/05/1985")
    # Required too (the browser refuses to submit without it): the full date is known.
    full_date = vietnamese(app, "Full date known")
    choose_in_select2(page, "birth_date_precision", full_date, full_date)
    expect(page.locator("#birth_date_precision")).to_have_value("day")
    choose_in_select2(page, "status", "Chính", "Chính thức")
    expect(page.locator("#status")).to_have_value("official")
    page.locator("#admitted_on").fill("01/01/1980")
    page.locator("#official_on").fill("03/02/2011")
    choose_in_select2(page, "unit", "Đông", cell.name)
    expect(page.locator("#unit")).to_have_value(str(cell.id))
    page.locator("#model_form button[type=submit], #model_form input[type=submit]").first.click()

    message = vietnamese(app, "The date of admission must be after the date of birth.")
    # FAB lays the fieldsets out as tables: the message sits in the field's own row.
    admitted_row = page.locator("tr", has=page.locator("#admitted_on")).last
    expect(admitted_row.locator(".alert-danger")).to_contain_text(message)
    # The refused form opens on a banner listing the error, a link to the field; the
    # first wrong field is in view (the form is taller than the window).
    banner = page.locator("#form-error-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(vietnamese(app, "The form was not saved. Correct these fields:"))
    expect(banner.locator("a.form-error-link")).to_have_count(1)
    expect(banner.locator("a.form-error-link")).to_have_attribute("href", "#admitted_on")
    expect(banner.locator("a.form-error-link")).to_contain_text(message)
    expect(page.locator("#admitted_on")).to_be_in_viewport()
    page.screenshot(path=str(ARTIFACTS / "add-form-error.png"), full_page=True)
    assert count_members(db_session, member_number="000123TN") == 0
    assert count_members(db_session) == 1

    # The typed values survive the round trip; correct the date and save.
    expect(page.locator("#birth_name")).to_have_value("Nguyễn Thị Hường")
    page.locator("#admitted_on").fill("03/02/2010")
    page.locator("#model_form button[type=submit], #model_form input[type=submit]").first.click()
    # The clerk lands on the new record's page (issue 13, item 7), named after her.
    expect(page).to_have_url(re.compile(r"/membermodelview/show/\d+"))
    expect(page.locator(".alert-success").first).to_contain_text(vietnamese(app, "Added Row"))
    expect(page.locator(".panel-title").first).to_have_text("Nguyễn Thị Hường (000123TN)")
    assert count_members(db_session, member_number="000123TN") == 1
    page.goto(f"{base}/membermodelview/list/")

    # --- Find her by name typed without diacritics.
    search = page.locator("input#member-search")
    expect(search).to_have_attribute(
        "placeholder",
        vietnamese(
            app, "Name (with or without diacritics), member number, card number or citizen ID"
        ),
    )
    expect(page.locator("table.table-bordered tr", has_text=other.member_number)).to_have_count(1)
    page.screenshot(path=str(ARTIFACTS / "list-after-add.png"), full_page=True)
    search.fill("nguyen thi huong")
    page.locator("#member-quick-search button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"_flt_0_search_key=nguyen"))
    results = page.locator("table.table-bordered")
    row = results.locator("tr", has_text="000123TN")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Nguyễn Thị Hường")
    expect(row).to_contain_text(cell.name)
    expect(results.locator("tr", has_text=other.member_number)).to_have_count(0)
    expect(results).not_to_contain_text("Nguyễn Văn An")
    page.screenshot(path=str(ARTIFACTS / "list-search.png"), full_page=True)
