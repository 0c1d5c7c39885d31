"""A clerk in Chromium works the ledger of one member: transfer, a refused event, a death
recorded and cancelled, the member page as of a date, and the roll of a district.

Same set-up as test_browser.py (real app under waitress, CSRF on, Debian's Chromium);
screenshots go to test-artifacts/ (gitignored).
"""

from __future__ import annotations

import re
from datetime import date

import pytest
import test_browser
from sqlalchemy import func, select

from conftest import ADMIN_PASSWORD
from factories import SYSTEM, make_member, make_tree
from helpers import vietnamese
from webapp.domain.events import open_ledger
from webapp.models import MemberEvent

# The fixtures of the first browser test, bound here so pytest finds them by name.
live_server = test_browser.live_server
browser_page = test_browser.browser_page
ARTIFACTS = test_browser.ARTIFACTS
ADMITTED = date(2000, 3, 10)


def count_events(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count(MemberEvent.id)))


def years_and_months_since(start: date, day: date) -> tuple[int, int]:
    years = day.year - start.year - ((day.month, day.day) < (start.month, start.day))
    months = (day.year - start.year) * 12 + day.month - start.month - (day.day < start.day)
    return years, months - 12 * years


def record(page, kind_label: str, effective_on: str) -> None:
    """From the member page: open the event form, choose the kind, type the date, submit."""
    page.locator("#record-event-link").click()
    expect_url(page, r"/memberevents/record/\d+")
    page.locator("#event-form select[name=kind]").select_option(label=kind_label)
    page.locator("#effective_on").fill(effective_on)
    page.locator("#record-event").click()


def expect_url(page, pattern: str) -> None:
    from playwright.sync_api import expect

    expect(page).to_have_url(re.compile(pattern))


@pytest.mark.browser
def test_clerk_records_and_cancels_events_and_reads_the_past(
    app, db_session, live_server, browser_page
):
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    tree = make_tree(db_session)
    c1, c3, d1 = tree["C1"], tree["C3"], tree["D1"]
    member = make_member(
        db_session,
        c1,
        birth_name="Lê Thị Bình",
        admitted_on=ADMITTED,
        official_on=date(2001, 3, 10),
    )
    open_ledger(db_session, SYSTEM, member.id)
    db_session.commit()
    member_id, member_name = member.id, member.birth_name
    page = browser_page
    base = live_server
    official = vietnamese(app, "Official")
    member_url = rf"/membermodelview/show/{member_id}"

    # --- Log in.
    page.goto(f"{base}/login/")
    page.locator("input#username").fill("admin")
    page.locator("input#password").fill(ADMIN_PASSWORD)
    page.locator("input#password").press("Enter")
    expect(page.locator("a.dropdown-toggle", has=page.locator(".fa-user"))).to_be_visible()

    # --- The member page: Party age counted from the admission, status official.
    page.goto(f"{base}/membermodelview/show/{member_id}")
    years, months = years_and_months_since(ADMITTED, date.today())
    expect(page.locator("#party-age")).to_have_text(
        vietnamese(app, "%(years)s years %(months)s months", years=years, months=months)
    )
    expect(page.locator("#party-age")).to_contain_text(f"{years} năm")
    expect(page.locator("#standing")).to_have_text("Chính thức")
    expect(page.locator("#standing-unit")).to_contain_text(c1.name)

    # --- Transfer to C3 in 2010.
    expect(page.locator("#record-event-link")).to_contain_text("Ghi nhận biến động")
    page.locator("#record-event-link").click()
    expect_url(page, rf"/memberevents/record/{member_id}")
    kind = page.locator("#event-form select[name=kind]")
    kind.select_option(label="Chuyển sinh hoạt đảng chính thức (trong đảng bộ)")
    expect(kind).to_have_value("transfer_within")
    page.locator("#effective_on").fill("01/06/2010")
    page.locator("#decision_number").fill("15-QĐ/ĐU")
    page.locator("select#to_unit_id").select_option(label=f"{c3.code} – {c3.name}")
    expect(page.locator("select#to_unit_id")).to_have_value(str(c3.id))
    page.locator("#record-event").click()
    expect_url(page, member_url)
    expect(page.locator(".alert-success")).to_contain_text(
        vietnamese(app, "The event has been recorded.")
    )
    expect(page.locator("#standing-unit")).to_contain_text(c3.name)
    events = page.locator("#member-events table")
    transfer_row = events.locator("tbody tr", has_text="15-QĐ/ĐU")
    expect(transfer_row).to_have_count(1)
    expect(transfer_row).to_contain_text("01/06/2010")
    expect(transfer_row).to_contain_text("Chuyển sinh hoạt đảng chính thức (trong đảng bộ)")
    expect(transfer_row).to_contain_text(c1.name)
    expect(transfer_row).to_contain_text(c3.name)
    page.screenshot(path=str(ARTIFACTS / "ledger-after-transfer.png"), full_page=True)

    # --- Recognition as official again: refused, nothing written.
    before = count_events(db_session)
    record(page, vietnamese(app, "Recognition as official member"), "01/01/2011")
    refused = vietnamese(app, "Only a probationary member can be recognised as official.")
    expect(page.locator("body")).to_contain_text(refused)
    expect_url(page, rf"/memberevents/record/{member_id}")
    page.screenshot(path=str(ARTIFACTS / "ledger-refused-event.png"), full_page=True)
    assert count_events(db_session) == before

    # --- Death in 2020, then cancelled as a mistake.
    page.get_by_role("link", name=vietnamese(app, "Back")).click()
    expect_url(page, member_url)
    record(page, "Từ trần", "05/05/2020")
    expect_url(page, member_url)
    expect(page.locator("#standing")).to_have_text("Đã từ trần")
    death_row = events.locator(
        "tbody tr", has=page.locator("td:nth-child(2)", has_text=re.compile(r"^\s*Từ trần\s*$"))
    )
    expect(death_row).to_have_count(1)
    expect(death_row).to_contain_text("05/05/2020")
    death_row.get_by_role("link", name=vietnamese(app, "Cancel")).click()
    expect_url(page, r"/memberevents/cancel/\d+")
    expect(page.locator("#cancel-form")).to_be_visible()
    page.locator("#reason").fill("Ghi nhầm người")
    page.locator("#confirm-cancel").click()
    expect_url(page, member_url)
    expect(page.locator(".alert-success")).to_contain_text(
        vietnamese(app, "The event has been cancelled.")
    )
    expect(page.locator("#standing")).to_have_text(official)
    expect(page.locator("#standing-unit")).to_contain_text(c3.name)
    expect(death_row).to_have_class(re.compile(r"\btext-muted\b"))
    expect(death_row).to_have_css("text-decoration-line", "line-through")
    expect(death_row.get_by_role("link")).to_have_count(0)  # no second cancel
    reversal_row = events.locator("tbody tr", has_text="Ghi nhầm người")
    expect(reversal_row).to_have_count(1)
    expect(reversal_row).to_have_class(re.compile(r"\btext-muted\b"))
    page.screenshot(path=str(ARTIFACTS / "ledger-after-cancel.png"), full_page=True)

    # --- The member page as of 2005: still in C1.
    page.locator("#as-of-form input[name=as_of]").fill("01/01/2005")
    page.locator("#as-of-form button[type=submit]").click()
    expect_url(page, r"as_of=01%2F01%2F2005")
    expect(page.locator("#standing-unit")).to_contain_text(c1.name)
    expect(page.locator("#standing-unit")).not_to_contain_text(c3.name)
    expect(page.locator("#standing")).to_have_text(official)
    expect(page.locator("#party-age")).to_have_text(
        vietnamese(app, "%(years)s years %(months)s months", years=4, months=9)
    )
    page.screenshot(path=str(ARTIFACTS / "ledger-as-of-2005.png"), full_page=True)

    # --- The roll of district D1: on it at the end of 2009, gone at the end of 2011.
    page.goto(f"{base}/unitmodelview/roll/{d1.id}")
    roll = page.locator("#roll-table")
    page.locator("#roll-as-of #as_of").fill("31/12/2009")
    page.locator("#roll-as-of button[type=submit]").click()
    expect_url(page, r"as_of=31%2F12%2F2009")
    expect(page.locator("#roll-count")).to_have_text("1")
    listed = roll.locator("tbody tr", has_text=member_name)
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text(c1.name)
    expect(listed).to_contain_text(official)
    page.screenshot(path=str(ARTIFACTS / "ledger-roll-2009.png"), full_page=True)
    page.locator("#roll-as-of #as_of").fill("31/12/2011")
    page.locator("#roll-as-of button[type=submit]").click()
    expect_url(page, r"as_of=31%2F12%2F2011")
    expect(page.locator("#roll-count")).to_have_text("0")
    expect(roll).not_to_contain_text(member_name)
    page.screenshot(path=str(ARTIFACTS / "ledger-roll-2011.png"), full_page=True)
