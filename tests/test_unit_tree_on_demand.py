"""A large tree shows its top levels and opens a unit's children on demand (a province's
whole tree was 6,000 rows, 1.3 MB); a small one is shown whole."""

import re

from factories import make_tree
from webapp.views import units


def codes(page) -> list[str]:
    return re.findall(r'data-unit="([^"]+)"', page.text)


def test_a_small_tree_is_shown_whole(admin_client, db_session):
    make_tree(db_session)
    page = admin_client.get("/unitmodelview/tree")
    assert codes(page) == [
        "P",
        "P.01",
        "P.01.001",
        "P.01.001.01",
        "P.01.001.02",
        "P.02",
        "P.02.001",
    ]
    assert "tree-toggle" not in page.text


def test_a_large_tree_opens_on_demand(admin_client, db_session, monkeypatch):
    tree = make_tree(db_session)
    monkeypatch.setattr(units, "TREE_WHOLE_UNITS", 3)
    page = admin_client.get("/unitmodelview/tree")
    assert codes(page) == ["P", "P.01", "P.02"]
    assert f'href="/unitmodelview/tree?open={tree["D1"].id}#u{tree["D1"].id}"' in page.text
    page = admin_client.get(f"/unitmodelview/tree?open={tree['D1'].id}")
    assert codes(page) == ["P", "P.01", "P.01.001", "P.02"]
    # Opening a unit further down keeps the ones above it open; closing one shuts it.
    both = f"open={tree['D1'].id}&open={tree['G1'].id}"
    page = admin_client.get(f"/unitmodelview/tree?{both}")
    assert codes(page) == ["P", "P.01", "P.01.001", "P.01.001.01", "P.01.001.02", "P.02"]
    assert f'href="/unitmodelview/tree?open={tree["G1"].id}#u{tree["D1"].id}"' in page.text
    # Counts are the subtree's whatever is shown; bad values are ignored, never a 500.
    assert (
        admin_client.get("/unitmodelview/tree?open=x&open=99999999999999999999").status_code == 200
    )
