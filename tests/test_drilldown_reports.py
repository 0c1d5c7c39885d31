"""Every aggregate report on screen drills down to exactly its members (issue 18).

On a seeded history lived through the real ledger (tests/test_report_figures.py's
generator) and a real card and badge round, each report's screen is opened and every
figure on it is followed, whatever lines and columns the report has (the links are read
from the page): the list's length is the figure, page after page. The screen's figures
are the report file's (the same functions), the list exports to XLSX with exactly its
rows and the export is in the audit log; a tampered unit, line, column or form is a 404.
"""

from __future__ import annotations

import io
import re
from datetime import date
from html import unescape
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, text
from test_cards import PREFIX, propose, user_id, world  # noqa: F401 - fixture
from test_report_figures import PERIOD, build_history, drop_reversals

from factories import SYSTEM, as_requester, make_member
from webapp.cli import create_user
from webapp.domain.badges import award_badges, decide_badges, propose_badges
from webapp.domain.cards import decide_cards, issue_cards
from webapp.domain.events import open_ledger
from webapp.domain.report_figures import (
    CARD_BADGE_FIGURES,
    MOVEMENT_FIGURES,
    commendations_and_discipline,
    increase_decrease,
)
from webapp.models.cards import CardReason

PASSWORD = "Drill-Pass-123"
FIGURE = re.compile(r'<a class="figure" data-count="(\d+)" href="([^"]+)"')
TOTAL = re.compile(r'id="figure-total" data-total="(\d+)"')
ROW = re.compile(r'<tr class="figure-member">')
PAGE = 50
START, END = (day.strftime("%d/%m/%Y") for day in PERIOD)


def login(client, username):
    client.post("/login/", data={"username": username, "password": PASSWORD})


def figures_on(client, url: str) -> list[tuple[int, str]]:
    page = client.get(url)
    assert page.status_code == 200, url
    return [(int(count), unescape(href)) for count, href in FIGURE.findall(page.get_data(True))]


def follow(client, count: int, href: str) -> None:
    """The list behind a figure has exactly `count` rows, over all its pages."""
    listing = client.get(href)
    assert listing.status_code == 200, href
    body = listing.get_data(as_text=True)
    assert int(TOTAL.search(body).group(1)) == count, href
    rows = len(ROW.findall(body))
    for page in range(2, (count + PAGE - 1) // PAGE + 1):
        rows += len(ROW.findall(client.get(f"{href}&page={page}").get_data(as_text=True)))
    assert rows == count, href


def keys_of(figures) -> set[str]:
    return {figure_of(href) for _, href in figures}


def figure_of(href: str) -> str:
    return unquote(re.search(r"figure=([^&]+)", href).group(1))


# ---------------------------------------------------------------- cards and badges


def test_card_and_badge_figures_drill_down_to_their_members(app, db_session, world):  # noqa: F811
    tree = world["tree"]
    manager = user_id(app, "manager_c")
    issued = propose(app, db_session, world, "new", "new2")
    decide_cards(db_session, as_requester(manager, world["scope"]), issued, True)
    issue_cards(
        db_session,
        as_requester(manager, world["scope"]),
        issued,
        prefix=PREFIX,
        issued_on=date(2026, 5, 19),
    )
    propose(
        app,
        db_session,
        world,
        "carded",
        reason=CardReason.LOST,
        explanation="Mất khi đi công tác",
        photo_reference="A-1",
    )  # waiting
    veteran = make_member(
        db_session,
        tree["C2"],
        birth_name="Đỗ Văn Lão",
        admitted_on=date(1976, 3, 1),
        official_on=date(1977, 3, 1),
        card_number="37.000900",
    )
    elder = make_member(
        db_session,
        tree["C1"],
        birth_name="Hà Văn Niên",
        admitted_on=date(1986, 1, 1),
        official_on=date(1987, 1, 1),
        card_number="37.000901",
    )
    for member in (veteran, elder):
        open_ledger(db_session, SYSTEM, member.id)
    db_session.commit()
    clerk = user_id(app, "clerk_c")
    proposals = propose_badges(
        db_session, as_requester(clerk, world["scope"]), date(2026, 5, 19), [veteran.id]
    )
    ids = [p.id for p in proposals]
    decide_badges(db_session, as_requester(manager, world["scope"]), ids, True)
    award_badges(
        db_session,
        as_requester(manager, world["scope"]),
        ids,
        decision_number="123-QĐ/TU",
        decision_on=date(2026, 5, 18),
        first_number="HH50-000001",
    )
    create_user("leader_cards", "Leader", "P", PASSWORD)
    client = app.test_client()
    login(client, "leader_cards")
    url = f"/reports/screen/cards-badges?unit={tree['P'].id}&from=01/01/2026"
    figures = figures_on(client, url)
    for count, href in figures:
        follow(client, count, href)
    # Cards issued (and their group), waiting, needing one, badges awarded, eligible.
    assert {"cards_issued", "card_proposals", "badges_awarded"} <= keys_of(figures)
    assert keys_of(figures) <= set(CARD_BADGE_FIGURES) | {"cards_issued|withdrawn"}
    whole = dict((figure_of(href), count) for count, href in figures if "line=T" in href)
    assert whole["cards_issued"] == 2 and whole["card_proposals"] == 1
    assert whole["badges_awarded"] == 1
    # A figure no card report has, or a line that is not one of the report's: 404.
    base = f"/reports/screen/figure?report=cards-badges&unit={tree['P'].id}"
    assert client.get(f"{base}&line=T&figure=cards_issued|lost").status_code == 404
    assert client.get(f"{base}&line=T&figure=nonsense").status_code == 404
    assert client.get(f"{base}&line={tree['C1'].id}&figure=needing_card").status_code == 404


# ---------------------------------------------------------------- the seeded history


@pytest.fixture(scope="module")
def history(app):
    from conftest import _clean_data
    from webapp.extensions import db

    with app.app_context():
        _clean_data(db)
        built = build_history(db.session, members=70)
        create_user("leader_history", "Leader", "P", PASSWORD)
        create_user("clerk_history", "Clerk", "P.01", PASSWORD)
        yield built
        db.session.rollback()
        drop_reversals(db.session)
        db.session.remove()


@pytest.fixture()
def client(app, history):
    from webapp.extensions import db

    assert db.session.scalar(text("SELECT COUNT(*) FROM member")) == len(history.lives)
    db.session.expire_all()
    client = app.test_client()
    login(client, "leader_history")
    return client


@pytest.mark.parametrize(
    "report, root, period",
    [
        ("increase-decrease", "P", f"&from={START}&to={END}"),
        ("increase-decrease", "D1", "&from=01/01/2019&to=30/06/2026"),
        ("commendation-discipline", "P", f"&from={START}&to={END}"),
        ("commendation-discipline", "D2", f"&from={START}&to={END}"),
        ("completeness", "P", ""),
    ],
)
def test_every_figure_of_every_report_drills_down_to_exactly_its_members(
    client, history, report, root, period
):
    figures = figures_on(client, f"/reports/screen/{report}?unit={history.unit_id(root)}{period}")
    assert figures, (report, root)
    for count, href in figures:
        follow(client, count, href)
    if report == "increase-decrease" and root == "P":
        # Every column group is there, the "between" line too (transfers between districts).
        assert {key.split("|")[0] for key in keys_of(figures)} == set(MOVEMENT_FIGURES)
        assert any("line=B" in href for _, href in figures)


def test_the_screen_shows_the_files_figures(client, history):
    from webapp.extensions import db

    root = history.units["P"]
    total = increase_decrease(db.session, root, *PERIOD)[-1]
    figures = figures_on(
        client, f"/reports/screen/increase-decrease?unit={root.id}&from={START}&to={END}"
    )
    on_total = {
        figure_of(href): count
        for count, href in figures
        if "line=T&" in href or href.endswith("line=T")
    }
    assert on_total["opening"] == total.opening and on_total["closing"] == total.closing
    assert on_total["increase"] == total.increase_total
    assert on_total["decrease"] == total.decrease_total
    for kind, count in total.increases.items():
        assert on_total.get(f"increase|{kind}", 0) == count, kind
    _, _, counts = commendations_and_discipline(db.session, root, *PERIOD)
    records = figures_on(
        client, f"/reports/screen/commendation-discipline?unit={root.id}&from={START}&to={END}"
    )
    on_total = {figure_of(href): count for count, href in records if "line=T" in href}
    assert on_total["commendation"] == sum(counts["commendation"].values()) > 0
    assert on_total["discipline"] == sum(counts["discipline"].values()) > 0


def test_a_list_exports_exactly_its_rows_and_is_audited(app, history):
    from webapp.extensions import db
    from webapp.models import AuditEntry

    client = app.test_client()
    login(client, "clerk_history")
    d1 = history.unit_id("D1")
    figures = figures_on(
        client, f"/reports/screen/increase-decrease?unit={d1}&from={START}&to={END}"
    )
    count, href = next((c, h) for c, h in figures if "figure=opening" in h and "line=T" in h)
    response = client.get(href + "&format=xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = [row for row in sheet.iter_rows(values_only=True) if row and row[0]]
    assert len(rows) - 1 == count  # the heading row, then one row per member
    db.session.expire_all()
    logged = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "download")).all()
    assert any("increase-decrease-members" in (entry.after or "") for entry in logged)


def test_a_tampered_unit_line_column_or_form_is_a_404(app, history):
    client = app.test_client()
    login(client, "clerk_history")  # scope: district 1
    d1, d2, c1 = (history.unit_id(name) for name in ("D1", "D2", "C1"))
    base = "/reports/screen/figure?report=increase-decrease"
    assert client.get(f"/reports/screen/increase-decrease?unit={d2}").status_code == 404
    assert client.get(f"{base}&unit={d2}&line=T&figure=opening").status_code == 404
    assert client.get(f"{base}&unit={d1}&line={d2}&figure=opening").status_code == 404
    assert client.get(f"{base}&unit={d1}&line={c1}&figure=opening").status_code == 404
    assert client.get(f"{base}&unit={d1}&line=x1&figure=opening").status_code == 404
    assert client.get(f"{base}&unit={d1}&line=T&figure=increase|theft").status_code == 404
    assert client.get(f"{base}&unit={d1}&line=T&figure=wages").status_code == 404
    assert client.get(f"{base}&unit={d1}&line=B&figure=opening").status_code == 404
    assert client.get(f"{base}&unit={d1}&line=T&figure=opening&to=31/02/2024").status_code == 404
    assert client.get(f"/reports/screen/figure?report=member-list&unit={d1}").status_code == 404
    records = "/reports/screen/figure?report=commendation-discipline"
    assert (
        client.get(f"{records}&unit={d1}&line=T&figure=commendation|Huân chương").status_code == 404
    )
    assert client.get(f"{base}&unit={d1}&line=T&figure=opening").status_code == 200
