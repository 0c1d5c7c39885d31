"""A clerk and a manager in Chromium: a full card round (clerk proposes, the clerk cannot
approve, the manager approves and issues, the number shows on the member page) and a full
19/5 badge round (eligible list with reasons → propose → approve → award).

Same set-up as test_browser.py (real app under waitress, CSRF on, Debian's Chromium);
screenshots go to test-artifacts/ (gitignored).
"""

from __future__ import annotations

import re
from datetime import date

import pytest
import test_browser
from sqlalchemy import select

from factories import SYSTEM, make_member, make_tree
from helpers import vietnamese
from webapp.cli import create_user
from webapp.domain.events import open_ledger
from webapp.models import BadgeAward, CardProposal, Member

live_server = test_browser.live_server
browser_page = test_browser.browser_page
ARTIFACTS = test_browser.ARTIFACTS
PASSWORD = "Browser-Cards-123"


def sign_in(page, base, username):
    from playwright.sync_api import expect

    page.goto(f"{base}/logout/")
    page.goto(f"{base}/login/")
    page.locator("input#username").fill(username)
    page.locator("input#password").fill(PASSWORD)
    page.locator("input#password").press("Enter")
    expect(page.locator("a.dropdown-toggle", has=page.locator(".fa-user"))).to_be_visible()


@pytest.fixture()
def people(app, db_session):
    tree = make_tree(db_session)
    new = make_member(db_session, tree["C1"], birth_name="Vũ Thị Thẻ Mới")
    veteran = make_member(
        db_session,
        tree["C2"],
        birth_name="Đặng Văn Lão Thành",
        birth_date=date(1970, 1, 1),
        admitted_on=date(1996, 5, 19),
        official_on=date(1997, 5, 19),
        card_number="01.000777",
        card_issued_on=date(1998, 2, 3),
    )
    for member in (new, veteran):
        open_ledger(db_session, SYSTEM, member.id)
    db_session.commit()
    create_user("clerk_w", "Clerk", "P.01", PASSWORD)
    create_user("manager_w", "Manager", "P.01", PASSWORD)
    return {"tree": tree, "new": new, "veteran": veteran}


@pytest.mark.browser
def test_card_round_four_eyes_in_the_browser(app, db_session, live_server, browser_page, people):
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    page, base = browser_page, live_server
    new_id, new_name = people["new"].id, people["new"].birth_name

    # --- The clerk selects the member needing a card and proposes her.
    sign_in(page, base, "clerk_w")
    page.goto(f"{base}/cards/needing")
    row = page.locator("#needing-table tbody tr", has_text=new_name)
    expect(row).to_have_count(1)
    expect(page.locator("#needing-table")).not_to_contain_text("Đặng Văn Lão Thành")  # has a card
    row.locator("input[name=selected]").check()
    page.locator("#propose-selected").click()
    expect(page).to_have_url(re.compile(r"/cards/show/\d+"))
    expect(page.locator(".alert-success")).to_contain_text(
        vietnamese(app, "The proposal batch has been created.")
    )
    batch_url = page.url
    expect(page.locator("#batch-table")).to_contain_text(new_name)
    expect(page.locator("#batch-table")).to_contain_text(vietnamese(app, "New official member"))
    # The clerk has no approve button, and a forged approval changes nothing.
    expect(page.locator("#approve-selected")).to_have_count(0)
    proposal = db_session.scalar(select(CardProposal).where(CardProposal.member_id == new_id))
    token = page.locator("#batch-form input[name=csrf_token]").input_value()
    forged = page.request.post(
        f"{base}/cards/decide/{proposal.batch_id}",
        form={"csrf_token": token, "decision": "approve", "selected": str(proposal.id)},
    )
    assert forged.status in (200, 302, 403)
    db_session.expire_all()
    assert db_session.get(CardProposal, proposal.id).state == "proposed"
    page.screenshot(path=str(ARTIFACTS / "cards-1-clerk-batch.png"), full_page=True)

    # --- The manager sees it waiting, approves and issues.
    sign_in(page, base, "manager_w")
    expect(page.locator("#count-cards-to-decide")).to_have_text("1")
    page.goto(batch_url)
    page.locator(f"#select-{proposal.id}").check()
    page.locator("#comment").fill("Đủ điều kiện")
    page.locator("#approve-selected").click()
    expect(page.locator(".alert-success")).to_contain_text(
        vietnamese(app, "The selected proposals have been approved.")
    )
    expect(page.locator(f"#proposal-{proposal.id} .proposal-state")).to_have_text(
        vietnamese(app, "Approved")
    )
    page.locator(f"#select-{proposal.id}").check()
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#issue-selected").click()
    expect(page.locator(".alert-success")).to_contain_text(
        vietnamese(app, "The cards have been issued.")
    )
    number_cell = page.locator(f"#proposal-{proposal.id} .card-number")
    expect(number_cell).to_have_text(re.compile(r"^\d{2}\.\d{6}$"))
    number = number_cell.inner_text()
    page.screenshot(path=str(ARTIFACTS / "cards-2-manager-issued.png"), full_page=True)

    # --- The number is on the member page.
    page.goto(f"{base}/membermodelview/show/{new_id}")
    expect(page.locator("body")).to_contain_text(number)
    db_session.expire_all()
    assert db_session.get(Member, new_id).card_number == number


@pytest.mark.browser
def test_badge_round_of_19_may_in_the_browser(app, db_session, live_server, browser_page, people):
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    page, base = browser_page, live_server
    veteran = people["veteran"]
    d1 = people["tree"]["D1"]
    round_url = f"{base}/badges/round?occasion=2026-05-19&unit_id={d1.id}"

    sign_in(page, base, "clerk_w")
    page.goto(round_url)
    row = page.locator("#eligible-table tbody tr", has_text=veteran.birth_name)
    expect(row).to_contain_text("30")
    expect(row).to_contain_text("19/05/1996")  # why: the admission date …
    expect(row).to_contain_text(
        vietnamese(app, "%(years)s years %(months)s months", years=30, months=0)
    )
    row.locator("input[name=selected]").check()
    page.locator("#propose-badges").click()
    expect(page.locator(".alert-success")).to_contain_text(
        vietnamese(app, "The selected members have been proposed.")
    )
    expect(page.locator("#proposals-table")).to_contain_text(veteran.birth_name)
    expect(page.locator("#approve-badges")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "badges-1-clerk-round.png"), full_page=True)

    sign_in(page, base, "manager_w")
    expect(page.locator("#count-badges-to-decide")).to_have_text("1")
    page.goto(round_url)
    proposal_box = page.locator("#proposals-table input[name=proposal]").first
    proposal_box.check()
    page.locator("#approve-badges").click()
    expect(page.locator(".alert-success")).to_contain_text(
        vietnamese(app, "The selected proposals have been approved.")
    )
    page.locator("#proposals-table input[name=proposal]").first.check()
    page.locator("#decision_number").fill("25-QĐ/TU")
    page.locator("#decision_on").fill("12/05/2026")
    page.locator("#first_number").fill("HH-030001")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#award-badges").click()
    expect(page.locator(".alert-success")).to_contain_text(
        vietnamese(app, "The awards have been recorded.")
    )
    expect(page.locator("#proposals-table")).to_contain_text(vietnamese(app, "Awarded"))
    page.screenshot(path=str(ARTIFACTS / "badges-2-manager-awarded.png"), full_page=True)
    db_session.expire_all()
    award = db_session.scalar(select(BadgeAward).where(BadgeAward.member_id == veteran.id))
    assert (award.milestone, award.badge_number) == (30, "HH-030001")
