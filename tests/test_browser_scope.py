"""A district clerk in Chromium sees only their district: the tree, the member list, and a
typed address of another district's member gives the not-found page."""

from __future__ import annotations

import pytest
import test_browser

from factories import SYSTEM, make_member, make_tree
from helpers import vietnamese
from webapp.cli import create_user
from webapp.domain.events import open_ledger

live_server = test_browser.live_server
browser_page = test_browser.browser_page
ARTIFACTS = test_browser.ARTIFACTS
PASSWORD = "Huyen-Clerk-123"


@pytest.mark.browser
def test_district_clerk_sees_only_their_district(app, db_session, live_server, browser_page):
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    tree = make_tree(db_session)
    mine = make_member(
        db_session, tree["C1"], member_number="000111TN", birth_name="Nông Văn Huyện"
    )
    theirs = make_member(
        db_session, tree["C3"], member_number="000222TN", birth_name="Mạc Thị Khác"
    )
    for member in (mine, theirs):
        open_ledger(db_session, SYSTEM, member.id)
    db_session.commit()
    create_user("cv_huyen_mot", "Clerk", "P.01", PASSWORD)
    page, base = browser_page, live_server

    page.goto(f"{base}/login/")
    page.locator("input#username").fill("cv_huyen_mot")
    page.locator("input#password").fill(PASSWORD)
    page.locator("input#password").press("Enter")
    expect(page.locator("a.dropdown-toggle", has=page.locator(".fa-user"))).to_be_visible()

    # The tree: their district and everything under it, nothing of the other district.
    page.goto(f"{base}/unitmodelview/tree")
    tree_table = page.locator("#unit-tree")
    expect(tree_table).to_contain_text(tree["D1"].name)
    expect(tree_table).to_contain_text(tree["C1"].name)
    expect(tree_table).not_to_contain_text(tree["D2"].name)
    expect(tree_table).not_to_contain_text(tree["P"].name)
    page.screenshot(path=str(ARTIFACTS / "scope-tree.png"), full_page=True)

    # The member list: only their member.
    page.goto(f"{base}/membermodelview/list/")
    expect(page.locator("table.table-bordered")).to_contain_text("Nông Văn Huyện")
    expect(page.locator("body")).not_to_contain_text("Mạc Thị Khác")
    page.screenshot(path=str(ARTIFACTS / "scope-members.png"), full_page=True)

    # A typed address of the other district's member: the not-found page, no data.
    response = page.goto(f"{base}/membermodelview/show/{theirs.id}")
    assert response.status == 404
    expect(page.locator("#error-message")).to_contain_text(
        vietnamese(app, "The page or record was not found.")
    )
    expect(page.locator("body")).not_to_contain_text("Mạc Thị Khác")
    page.screenshot(path=str(ARTIFACTS / "scope-not-found.png"), full_page=True)
