"""A Manager's home page: the worklist of their subtree grouped by unit (one line per child
of their unit), each count a link to those items, beside what waits for their decision."""

from __future__ import annotations

import re
from html import unescape

from test_worklist import DAY, PASSWORD, probationary

from factories import SYSTEM, make_tree
from webapp.cli import create_user
from webapp.domain import worklist
from webapp.domain.badge_eligibility import add_months


def login(client, username):
    client.post("/login/", data={"username": username, "password": PASSWORD})


def test_the_managers_home_groups_the_worklist_by_unit(app, db_session, redis_conn):
    tree = make_tree(db_session)
    mine = [probationary(db_session, tree[cell], add_months(DAY, -12)) for cell in ("C1", "C2")]
    theirs = probationary(db_session, tree["C3"], add_months(DAY, -12))
    worklist.refresh_worklist(db_session, SYSTEM, DAY)
    create_user("manager_home", "Manager", "P", PASSWORD)
    create_user("manager_home_d1", "Manager", "P.01", PASSWORD)
    create_user("clerk_home", "Clerk", "P.01", PASSWORD)

    client = app.test_client()
    login(client, "manager_home")
    html = client.get("/").get_data(as_text=True)
    assert 'id="home-worklist-units"' in html and 'id="count-cards-to-decide"' in html
    panel = html[html.index('id="home-worklist-units"') :]
    assert 'data-unit="P.01"' in panel and 'data-unit="P.02"' in panel
    links = dict(
        (re.search(r"unit=(\d+)", unescape(href)).group(1), (unescape(href), int(n)))
        for href, n in re.findall(
            r'<a href="([^"]*probation_ending[^"]*)">(\d+)</a>', panel.split("</table>")[0]
        )
    )
    assert links[str(tree["D1"].id)][1] == 2 and links[str(tree["D2"].id)][1] == 1
    listing = client.get(links[str(tree["D1"].id)][0]).get_data(as_text=True)
    assert all(f'data-member="{m.id}"' in listing for m in mine)
    assert f'data-member="{theirs.id}"' not in listing

    district = app.test_client()
    login(district, "manager_home_d1")
    html = district.get("/").get_data(as_text=True)
    panel = html[html.index('id="home-worklist-units"') :].split("</table>")[0]
    assert 'data-unit="P.01.001"' in panel and "P.02" not in panel

    clerk = app.test_client()
    login(clerk, "clerk_home")
    html = clerk.get("/").get_data(as_text=True)
    assert 'id="home-worklist"' in html and 'id="home-worklist-units"' not in html
