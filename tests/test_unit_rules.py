"""Unit rules and the materialised path of the tree."""

from datetime import date

import pytest

from factories import make_tree, make_unit
from webapp.domain.reports import count_subtree_members, subtree_units
from webapp.domain.units import check_unit
from webapp.models import Unit
from webapp.models.unit import UnitKind


def unit_values(**overrides):
    values = {
        "code": "X.01",
        "name": "Chi bộ X",
        "kind": UnitKind.CELL,
        "parent_id": None,
        "founded_on": None,
        "dissolved_on": None,
    }
    values.update(overrides)
    return values


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"code": ""}, "code"),
        ({"code": "x 01"}, "code"),
        ({"code": "P.01"}, "code"),  # taken
        ({"code": "p.01"}, "code"),  # taken, whatever the case
        ({"name": "  "}, "name"),
        ({"kind": "club"}, "kind"),
        ({"parent_id": 999999}, "parent"),
        ({"founded_on": date(2030, 1, 1)}, "founded_on"),
        ({"founded_on": date(2020, 1, 1), "dissolved_on": date(2019, 1, 1)}, "dissolved_on"),
    ],
)
def test_bad_units_are_refused(db_session, overrides, field):
    make_tree(db_session)
    errors = check_unit(
        unit_values(**overrides), session=db_session, today=date(2026, 11, 25)
    ).as_dict()
    assert field in errors, errors


def test_a_cell_cannot_have_subunits_and_a_unit_cannot_move_under_itself(db_session):
    tree = make_tree(db_session)
    assert (
        "parent" in check_unit(unit_values(parent_id=tree["C1"].id), session=db_session).as_dict()
    )
    moved = unit_values(
        code="P.01",
        name="Đảng bộ huyện Một",
        kind=UnitKind.UPPER_GRASSROOTS_COMMITTEE,
        parent_id=tree["G1"].id,
    )
    assert "parent" in check_unit(moved, session=db_session, unit_id=tree["D1"].id).as_dict()
    assert check_unit(unit_values(parent_id=tree["G1"].id), session=db_session).as_dict() == {}


def test_paths_follow_the_tree_and_moves_rewrite_the_subtree(db_session):
    tree = make_tree(db_session)
    assert tree["C1"].path == f"/{tree['P'].id}/{tree['D1'].id}/{tree['G1'].id}/{tree['C1'].id}/"
    tree["G1"].parent = tree["D2"]
    db_session.commit()
    db_session.expire_all()
    c1 = db_session.get(Unit, tree["C1"].id)
    assert c1.path == f"/{tree['P'].id}/{tree['D2'].id}/{tree['G1'].id}/{tree['C1'].id}/"
    in_d2 = set(db_session.scalars(subtree_units(db_session.get(Unit, tree["D2"].id))))
    assert in_d2 == {tree[k].id for k in ("D2", "G1", "C1", "C2", "C3")}


def test_subtree_of_unit_1_does_not_include_unit_12(db_session):
    # "/1/" must not match "/12/": paths are delimited on both sides.
    units = [
        make_unit(db_session, f"U{i}", kind=UnitKind.GRASSROOTS_COMMITTEE) for i in range(1, 13)
    ]
    db_session.commit()
    first = units[0]
    assert set(db_session.scalars(subtree_units(first))) == {first.id}
    assert count_subtree_members(db_session, first) == 0
