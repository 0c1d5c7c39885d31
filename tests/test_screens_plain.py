"""The smaller things a new user tripped over (issue 13, items 3 and 11): empty lists say
so, the change history writes dates dd/mm/yyyy, the language menu and the pick-lists speak
Vietnamese (Select2's texts from a local file), no blank statistics chart, users created
from the command line carry no " -", and `flask init` says the truth about the password."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from test_browser import browser_page, live_server  # noqa: F401 - fixtures

from conftest import ADMIN_PASSWORD
from factories import make_member, make_tree
from webapp.cli import create_user
from webapp.labels import format_stored_value
from webapp.models.user import DangVienUser


def test_an_empty_list_says_there_is_no_data_yet_and_a_fruitless_search_says_so(
    admin_client, db_session
):
    empty = admin_client.get("/badgeawards/list/").get_data(as_text=True)
    assert "Chưa có dữ liệu." in empty and "<thead" not in empty
    searched = admin_client.get("/unitmodelview/list/?_flt_0_code=KHONG-CO").get_data(as_text=True)
    assert "Không có bản ghi nào khớp với điều kiện tìm kiếm." in searched
    # Our own tables too: a new member has no history yet, the tree of a new unit no rows.
    tree = make_tree(db_session)
    member = make_member(db_session, tree["C1"])
    db_session.commit()
    page = admin_client.get(f"/membermodelview/show/{member.id}").get_data(as_text=True)
    history = page[page.index('id="member-history"') :]
    assert 'class="empty-state"' in history[: history.index("</table>")]
    assert "Chưa có dữ liệu." in history[: history.index("</table>")]


def test_the_change_history_writes_dates_day_month_year(admin_client, db_session):
    tree = make_tree(db_session)
    member = make_member(db_session, tree["C1"], youth_union_on=date(2005, 2, 3))
    db_session.commit()
    assert member.youth_union_on == date(2005, 2, 3)  # loaded: the history knows the old value
    member.youth_union_on = date(2005, 3, 4)  # the field history records old and new values
    db_session.commit()
    page = admin_client.get(f"/membermodelview/show/{member.id}").get_data(as_text=True)
    history = page[page.index('id="member-history"') :]
    assert "03/02/2005" in history and "04/03/2005" in history
    assert "2005-02-03" not in history and "2005-03-04" not in history
    assert format_stored_value("1980-05-19") == "19/05/1980"
    assert format_stored_value("Kinh") == "Kinh" and format_stored_value(None) == ""


def test_no_blank_statistics_chart_and_the_language_menu_names_english_in_vietnamese(
    admin_client, db_session
):
    # FAB's chart draws with Google Charts from the internet (blank offline, refused by our
    # Content-Security-Policy): it is not offered.
    assert admin_client.get("/userstatschartview/chart/").status_code == 404
    home = admin_client.get("/").get_data(as_text=True)
    assert "userstatschartview" not in home and "Statistics" not in home
    assert "Tiếng Anh" in home and "- English" not in home
    # Select2's texts come from our own static file, not a CDN.
    assert "/static/js/select2_vi.js" in home
    assert admin_client.get("/static/js/select2_vi.js").status_code == 200


def test_users_created_from_the_command_line_have_no_dash_in_their_name(app, db_session):
    tree = make_tree(db_session)
    create_user("cv_xa", "Clerk", tree["C1"].code, "Clerk-Xa-12345")
    create_user(
        "bt_xa", "Leader", tree["C1"].code, "Leader-Xa-12345", full_name="Nguyễn Văn Bí Thư"
    )
    names = {
        u.username: u.get_full_name()
        for u in db_session.scalars(
            select(DangVienUser).where(DangVienUser.username.in_(["cv_xa", "bt_xa"]))
        )
    }
    # Vietnamese order: family and middle name, then the given name.
    assert names == {"cv_xa": "cv_xa", "bt_xa": "Nguyễn Văn Bí Thư"}


def test_init_says_where_the_admin_password_is(app, db_session, tmp_path):
    from webapp.extensions import db

    runner = app.test_cli_runner()
    for username in ("admin_once", "admin_file"):
        existing = db.session.scalar(select(DangVienUser).where(DangVienUser.username == username))
        assert existing is None
    once = runner.invoke(args=["init", "--admin-username", "admin_once"])
    assert once.exit_code == 0, once.output
    assert "shown only once" in once.output
    kept = tmp_path / "admin-password"
    with_file = runner.invoke(
        args=["init", "--admin-username", "admin_file", "--admin-password-file", str(kept)]
    )
    assert with_file.exit_code == 0, with_file.output
    # bin/run prints the kept password at every start: init must not say "only once".
    assert "only once" not in with_file.output and str(kept) in with_file.output
    assert kept.read_text() in with_file.output


@pytest.mark.browser
def test_pick_lists_speak_vietnamese(app, db_session, live_server, browser_page, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    make_tree(db_session)
    page = browser_page
    try:
        page.goto(f"{live_server}/login/")
        page.locator("input#username").fill("admin")
        page.locator("input#password").fill(ADMIN_PASSWORD)
        page.locator("input#password").press("Enter")
        expect(page.locator("a.dropdown-toggle", has=page.locator(".fa-user"))).to_be_visible()
        page.goto(f"{live_server}/unitmodelview/add")
        kind = page.locator("#kind + .select2-container")
        # Not FAB's script's "Select a State": FAB's widget's placeholder, translated.
        expect(kind.locator(".select2-selection__placeholder")).to_have_text("Chọn giá trị")
        kind.locator(".select2-selection").click()
        page.locator(".select2-container--open .select2-search__field").fill("zzzz")
        expect(page.locator(".select2-results__message")).to_have_text("Không tìm thấy kết quả")
        page.keyboard.press("Escape")
        kind.locator(".select2-selection").click()
        page.locator(".select2-container--open .select2-results__option").nth(1).click()
        # The clear button's tooltip was FAB's "Remove all items".
        expect(kind.locator(".select2-selection__clear")).to_have_attribute(
            "title", "Xóa tất cả các mục đã chọn"
        )
    except Exception:
        page.screenshot(path=str(tmp_path / "pick-list.png"), full_page=True)
        raise
