"""The pages clerks use all day run at most ten SQL statements (issue 17): the member page
and its edit form (tabs counted in one query, an empty tab costs none, the panels' small
questions asked with the counts), a unit's page and the home page; and what they show is
still the record's (rows in the tabs, the events, the standing)."""

from datetime import date

from sqlalchemy import event, func, select

from conftest import login
from factories import make_member, make_tree
from webapp.cli import create_user
from webapp.domain.scope import scope_clause
from webapp.extensions import db
from webapp.models import Member
from webapp.models.record import FamilyRelation, WorkPeriod

PASSWORD = "Clerk-Pass-123"
MOST = 10


def statements(client, url):
    seen = []

    def note(conn, cursor, statement, *args):
        seen.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        response = client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True), seen


def member_with_rows(session, unit):
    member = make_member(session, unit, birth_name="Trần Thị Bình")
    for year, text in ((1998, "Giáo viên trường Tiểu học Đông"), (2010, "Hiệu trưởng")):
        session.add(WorkPeriod(member=member, starts_on=date(year, 9, 1), description=text))
    session.add(FamilyRelation(member=member, relation="Mẹ", full_name="Lê Thị Cúc"))
    session.commit()
    return member


def test_member_page_and_edit_form_show_the_rows_in_ten_statements(client, db_session):
    tree = make_tree(db_session)
    member = member_with_rows(db_session, tree["C1"])
    create_user("cv_pages", "Clerk", "P.01", PASSWORD)
    login(client, "cv_pages", PASSWORD)
    for url in (f"/membermodelview/show/{member.id}", f"/membermodelview/edit/{member.id}"):
        page, seen = statements(client, url)
        assert len(seen) <= MOST, (url, len(seen), seen)
        # The tabs with rows show them; the empty ones are there, empty.
        assert "Giáo viên trường Tiểu học Đông" in page and "Hiệu trưởng" in page
        assert "Lê Thị Cúc" in page
    page, _ = statements(client, f"/membermodelview/show/{member.id}")
    assert "Trần Thị Bình" in page
    assert "P.01.001.01" in page  # the standing's cell, from the events read with the member


def test_unit_page_and_home_in_ten_statements(client, db_session):
    tree = make_tree(db_session)
    make_member(db_session, tree["C1"])
    create_user("cv_pages2", "Clerk", "P.01", PASSWORD)
    login(client, "cv_pages2", PASSWORD)
    for url in (f"/unitmodelview/show/{tree['D1'].id}", "/", "/unitmodelview/tree"):
        _, seen = statements(client, url)
        assert len(seen) <= MOST, (url, len(seen), seen)


def test_scope_covers_members_of_the_subtree_and_those_hosted_in_it(db_session):
    """The scope filter (= ANY(ARRAY(…)) on PostgreSQL, IN elsewhere): a district sees
    its own members and those temporarily active in it, not the other district's."""
    tree = make_tree(db_session)
    own = make_member(db_session, tree["C1"])
    hosted = make_member(db_session, tree["C3"])
    hosted.host_unit_id = tree["C2"].id
    other = make_member(db_session, tree["C3"])
    db_session.commit()
    seen = set(db_session.scalars(select(Member.id).where(scope_clause(Member, tree["D1"].path))))
    assert seen == {own.id, hosted.id}
    assert other.id not in seen
    everything = db_session.scalar(select(func.count()).select_from(Member))
    assert (
        db_session.scalar(
            select(func.count()).select_from(Member).where(scope_clause(Member, None))
        )
        == everything
    )
