"""Issue 13, items 1, 5, 7 and 8 in Chromium: the screens a clerk, a manager and an Admin
use every day — the member list's delete button, the member and unit pages (their names,
their tabs, what they offer, their counts), the tree's order, and the card and badge
pages' Approve. Same set-up as test_browser.py (real app under waitress, CSRF on, Debian's
Chromium); a failing test leaves a screenshot of the page in its temporary folder."""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import date

import pytest
import test_browser
from sqlalchemy import select

from conftest import ADMIN_PASSWORD
from factories import SYSTEM, make_member, make_tree, make_unit
from webapp.cli import create_user
from webapp.domain.badges import propose_badges
from webapp.domain.cards import CardRequest, propose_cards
from webapp.domain.commands import Requester, Role
from webapp.domain.events import EventInput, open_ledger, record_event
from webapp.models import Member, WorkPeriod
from webapp.models.unit import UnitKind

live_server = test_browser.live_server
browser_page = test_browser.browser_page
PASSWORD = "Browser-Pass-123"


@contextmanager
def screenshot_on_failure(page, folder, name: str):
    """Run the block; if it fails, keep a full-page screenshot under the test's tmp folder."""
    try:
        yield
    except BaseException:
        path = folder / f"{name}-failure.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot of the failure: {path}")
        raise


def sign_in(page, base, username="admin", password=ADMIN_PASSWORD):
    from playwright.sync_api import expect

    page.goto(f"{base}/logout/")
    page.goto(f"{base}/login/")
    page.locator("input#username").fill(username)
    page.locator("input#password").fill(password)
    page.locator("input#password").press("Enter")
    expect(page.locator("a.dropdown-toggle", has=page.locator(".fa-user"))).to_be_visible()


def entered(session, unit, **fields) -> Member:
    member = make_member(session, unit, **fields)
    open_ledger(session, SYSTEM, member.id)
    session.commit()
    return member


@pytest.mark.browser
def test_admin_is_offered_delete_only_for_a_record_entered_by_mistake(
    app, db_session, live_server, browser_page, tmp_path
):
    from playwright.sync_api import expect

    tree = make_tree(db_session)
    mistake = entered(db_session, tree["C1"], birth_name="Nhập Nhầm Hồ Sơ")
    kept = entered(db_session, tree["C1"], birth_name="Đã Có Biến Động")
    record_event(
        db_session,
        SYSTEM,
        kept.id,
        EventInput(kind="transfer_within", effective_on=date(2015, 3, 1), to_unit_id=tree["C2"].id),
    )
    db_session.commit()
    mistake_id, kept_id = mistake.id, kept.id
    page, base = browser_page, live_server
    with screenshot_on_failure(page, tmp_path, "member-delete"):
        sign_in(page, base)
        page.goto(f"{base}/membermodelview/list/")
        kept_row = page.locator("table.table-bordered tr", has_text=kept.member_number)
        mistake_row = page.locator("table.table-bordered tr", has_text=mistake.member_number)
        expect(kept_row).to_have_count(1)
        expect(kept_row.locator(".fa-trash")).to_have_count(0)
        expect(kept_row.locator(".fa-search")).to_have_count(1)  # still shown and edited
        expect(mistake_row.locator(".fa-trash")).to_have_count(1)
        mistake_row.locator(".fa-trash").click()
        page.locator("#modal-confirm-ok:visible").click()
        expect(page.locator(".alert-success")).to_be_visible()
        expect(page.locator(".alert-danger")).to_have_count(0)
        expect(
            page.locator("table.table-bordered tr", has_text=mistake.member_number)
        ).to_have_count(0)
        expect(page.locator("table.table-bordered tr", has_text=kept.member_number)).to_have_count(
            1
        )
    db_session.expire_all()
    assert db_session.get(Member, mistake_id) is None
    assert db_session.get(Member, kept_id) is not None


@pytest.mark.browser
def test_member_pages_are_named_offer_what_applies_and_do_not_carry_the_tab(
    app, db_session, live_server, browser_page, tmp_path
):
    from playwright.sync_api import expect

    tree = make_tree(db_session)
    first = entered(db_session, tree["C1"], birth_name="Trần Văn Thứ Nhất")
    db_session.add(WorkPeriod(member=first, starts_on=date(1999, 1, 1), description="Giáo viên"))
    left = entered(
        db_session,
        tree["C1"],
        birth_name="Lê Văn Đã Ra",
        birth_date=date(1935, 1, 1),
        admitted_on=date(1960, 1, 1),
        official_on=date(1961, 1, 1),
    )
    record_event(
        db_session, SYSTEM, left.id, EventInput(kind="resignation", effective_on=date(1966, 5, 1))
    )
    db_session.commit()
    create_user("clerk_bp", "Clerk", "P", PASSWORD)
    page, base = browser_page, live_server
    with screenshot_on_failure(page, tmp_path, "member-pages"):
        sign_in(page, base, "clerk_bp", PASSWORD)
        page.goto(f"{base}/membermodelview/show/{first.id}")
        name = f"Trần Văn Thứ Nhất ({first.member_number})"
        expect(page).to_have_title(re.compile(re.escape(name)))
        expect(page.locator(".panel-title").first).to_have_text(name)
        expect(page.locator("#propose-card-link")).to_be_visible()
        expect(page.locator("#apply-supplement-link")).to_be_visible()
        # The clerk works on the work-history tab; coming back to this record keeps it.
        page.locator('a[href="#WorkPeriodView"]').click()
        expect(page.locator("#WorkPeriodView")).to_be_visible()
        page.reload()
        expect(page.locator("#WorkPeriodView")).to_be_visible()
        expect(page.locator("#WorkPeriodView")).to_contain_text("Giáo viên")

        # The next member opens on the record's details, not on the last tab.
        page.goto(f"{base}/membermodelview/show/{left.id}")
        name = f"Lê Văn Đã Ra ({left.member_number})"
        expect(page).to_have_title(re.compile(re.escape(name)))
        expect(page.locator(".panel-title").first).to_have_text(name)
        expect(page.locator("#Home")).to_be_visible()
        expect(page.locator("#WorkPeriodView")).to_be_hidden()
        # Left the Party in 1966: no card proposal, no yearly supplement.
        expect(page.locator("#standing")).to_be_visible()
        expect(page.locator("#propose-card-link")).to_have_count(0)
        expect(page.locator("#apply-supplement-link")).to_have_count(0)
        expect(page.locator("#record-event-link")).to_be_visible()
        page.screenshot(path=str(tmp_path / "member-who-left.png"), full_page=True)


@pytest.mark.browser
def test_units_in_code_order_with_labelled_counts_and_no_merge_of_the_root(
    app, db_session, live_server, browser_page, tmp_path
):
    from playwright.sync_api import expect

    province = make_unit(db_session, "NB", "Đảng bộ tỉnh Ninh Bình", UnitKind.PROVINCIAL_COMMITTEE)
    make_unit(db_session, "NB.03", "Huyện ủy Ba", UnitKind.UPPER_GRASSROOTS_COMMITTEE, province)
    nb01 = make_unit(
        db_session, "NB.01", "Huyện ủy Một", UnitKind.UPPER_GRASSROOTS_COMMITTEE, province
    )
    g = make_unit(db_session, "NB.01.003", "Đảng bộ xã Ba", UnitKind.GRASSROOTS_COMMITTEE, nb01)
    c2 = make_unit(db_session, "NB.01.003.02", "Chi bộ thôn Hai", UnitKind.CELL, g)
    c1 = make_unit(db_session, "NB.01.003.01", "Chi bộ thôn Một", UnitKind.CELL, g)
    db_session.commit()
    for i in range(2):
        entered(db_session, c1, birth_name=f"Đảng Viên Số {i}")
    gone = entered(db_session, c1, birth_name="Đã Từ Trần")
    record_event(
        db_session, SYSTEM, gone.id, EventInput(kind="death", effective_on=date(2024, 2, 1))
    )
    db_session.commit()
    create_user("clerk_bu", "Clerk", "NB", PASSWORD)
    page, base = browser_page, live_server
    order = ["NB", "NB.01", "NB.01.003", "NB.01.003.01", "NB.01.003.02", "NB.03"]
    with screenshot_on_failure(page, tmp_path, "units"):
        sign_in(page, base, "clerk_bu", PASSWORD)
        page.goto(f"{base}/unitmodelview/tree")
        expect(page.locator("#unit-tree td[data-unit]")).to_have_count(len(order))
        codes = page.locator("#unit-tree td[data-unit]").evaluate_all(
            "cells => cells.map(c => c.dataset.unit)"
        )
        assert codes == order
        expect(page.locator('#unit-tree td[data-unit="NB.01.003.01"]')).to_have_text("2")
        page.goto(f"{base}/unitmodelview/list/")
        listed = page.locator("table.table-bordered tbody tr td:nth-child(2)").all_inner_texts()
        assert [c.strip() for c in listed] == order

        page.goto(f"{base}/unitmodelview/show/{province.id}")
        expect(page).to_have_title(re.compile("NB – Đảng bộ tỉnh Ninh Bình"))
        expect(page.locator(".panel-title").first).to_have_text("NB – Đảng bộ tỉnh Ninh Bình")
        expect(page.locator("#unit-roll")).to_be_visible()
        expect(page.locator("#unit-merge")).to_have_count(0)
        expect(page.locator("#unit-dissolve")).to_have_count(0)
        expect(page.locator("#count-on-rolls")).to_have_text("2")

        page.goto(f"{base}/unitmodelview/show/{c1.id}")
        expect(page.locator(".panel-title").first).to_have_text("NB.01.003.01 – Chi bộ thôn Một")
        expect(page.locator("#count-on-rolls")).to_have_text("2")
        expect(page.locator("#count-records")).to_have_text("3")
        expect(page.locator("#unit-merge")).to_be_visible()
        expect(page.locator("#unit-dissolve")).to_have_count(0)  # members on its rolls
        members_tab = page.locator('a[href="#MemberModelView"]')
        expect(members_tab).to_contain_text("(3)")
        members_tab.click()
        expect(page.locator("#MemberModelView")).to_contain_text("Đã Từ Trần")
        page.screenshot(path=str(tmp_path / "unit-members-tab.png"), full_page=True)
        # The next unit opens on its details, not on the members tab.
        page.goto(f"{base}/unitmodelview/show/{c2.id}")
        expect(page.locator("#Home")).to_be_visible()
        expect(page.locator("#unit-dissolve")).to_be_visible()  # empty: may be dissolved
        # The merge screen's pick-list is in code order too, without the unit's own subtree.
        page.goto(f"{base}/unitmodelview/merge/{c2.id}")
        options = page.locator("#into_id option").all_inner_texts()
        assert [o.split(" – ")[0] for o in options if " – " in o] == [
            "NB",
            "NB.01",
            "NB.01.003",
            "NB.01.003.01",
            "NB.03",
        ]


@pytest.mark.browser
def test_the_proposer_does_not_see_approve_on_card_and_badge_pages(
    app, db_session, live_server, browser_page, tmp_path
):
    from playwright.sync_api import expect

    tree = make_tree(db_session)
    needing = entered(db_session, tree["C1"], birth_name="Cần Thẻ Đảng")
    thirty = entered(
        db_session,
        tree["C1"],
        birth_name="Ba Mươi Năm Tuổi Đảng",
        birth_date=date(1971, 1, 1),
        admitted_on=date(1996, 5, 19),
        official_on=date(1997, 5, 1),
    )
    create_user("manager_bp", "Manager", "P", PASSWORD)
    admin_id = app.appbuilder.sm.find_user(username="admin").id
    admin = Requester(user_id=admin_id, roles=frozenset({Role.ADMIN}), scope=None)
    batch = propose_cards(db_session, admin, tree["C1"].id, [CardRequest(needing.id)])
    propose_badges(db_session, admin, date(2026, 5, 19), [thirty.id])
    batch_id = batch.id
    page, base = browser_page, live_server
    round_url = f"{base}/badges/round?occasion=2026-05-19&unit_id={tree['P'].id}"
    with screenshot_on_failure(page, tmp_path, "four-eyes"):
        sign_in(page, base)  # the Admin proposed both
        page.goto(f"{base}/cards/show/{batch_id}")
        expect(page.locator("#batch-table")).to_contain_text("Cần Thẻ Đảng")
        expect(page.locator("#approve-selected")).to_have_count(0)
        expect(page.locator("#reject-selected")).to_have_count(0)
        expect(page.locator("#four-eyes-note")).to_be_visible()
        page.goto(round_url)
        expect(page.locator("#proposals-table")).to_contain_text("Ba Mươi Năm Tuổi Đảng")
        expect(page.locator("#approve-badges")).to_have_count(0)
        expect(page.locator("#four-eyes-note")).to_be_visible()

        sign_in(page, base, "manager_bp", PASSWORD)
        page.goto(f"{base}/cards/show/{batch_id}")
        expect(page.locator("#four-eyes-note")).to_have_count(0)
        page.locator("input[name=selected]").first.check()
        page.locator("#approve-selected").click()
        expect(page.locator(".alert-success")).to_be_visible()
        expect(page.locator("#approve-selected")).to_have_count(0)  # nothing left to decide
        page.goto(round_url)
        expect(page.locator("#approve-badges")).to_be_visible()
    db_session.expire_all()
    from webapp.models.cards import CardProposal

    assert (
        db_session.scalar(select(CardProposal.state).where(CardProposal.batch_id == batch_id))
        == "approved"
    )
