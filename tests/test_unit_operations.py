"""Organisation tree operations: rename and move with history, merge, dissolve, codes that
keep resolving after a merge, subtree member counts."""

from datetime import date

import pytest
from test_api import auth

from factories import SYSTEM, make_member, make_tree, make_unit
from helpers import vietnamese
from webapp.domain.errors import ValidationFailed
from webapp.domain.events import open_ledger
from webapp.domain.units import dissolve_unit, merge_units, resolve_unit_code, subtree_member_counts
from webapp.models import Member, MemberEvent, Unit, UnitChange
from webapp.models.unit import UnitKind


def on_rolls(db_session, unit, n, prefix):
    members = []
    for index in range(n):
        member = make_member(
            db_session,
            unit,
            member_number=f"{prefix}{index:04d}TN"[-9:],
            birth_name=f"Nguyễn Văn {prefix}{index}",
        )
        open_ledger(db_session, SYSTEM, member.id)
        members.append(member)
    db_session.commit()
    return members


def test_merge_moves_members_through_the_ledger_and_keeps_the_old_code_resolvable(db_session):
    tree = make_tree(db_session)
    moved = on_rolls(db_session, tree["C2"], 3, "10")
    merge_units(
        db_session,
        SYSTEM,
        tree["C2"].id,
        tree["C1"].id,
        effective_on=date(2025, 7, 1),
        decision_number="99-QĐ/ĐU",
    )
    db_session.expire_all()
    for member in moved:
        member = db_session.get(Member, member.id)
        assert member.unit_id == tree["C1"].id
        assert (
            member.events[-1].kind == "transfer_within"
            and member.events[-1].decision_number == "99-QĐ/ĐU"
        )
    absorbed = db_session.get(Unit, tree["C2"].id)
    assert absorbed.dissolved_on == date(2025, 7, 1) and absorbed.merged_into_id == tree["C1"].id
    assert resolve_unit_code(db_session, "p.01.001.02").id == tree["C1"].id
    kinds = {(c.unit_id, c.kind) for c in db_session.query(UnitChange)}
    assert (tree["C2"].id, "merged_into") in kinds and (tree["C1"].id, "absorbed") in kinds


def test_merging_committees_moves_the_subunits(db_session):
    tree = make_tree(db_session)
    on_rolls(db_session, tree["C1"], 2, "20")
    merge_units(db_session, SYSTEM, tree["D1"].id, tree["D2"].id, effective_on=date(2025, 7, 1))
    db_session.expire_all()
    g1 = db_session.get(Unit, tree["G1"].id)
    assert g1.parent_id == tree["D2"].id
    assert db_session.get(Unit, tree["C1"].id).path.startswith(
        db_session.get(Unit, tree["D2"].id).path
    )
    assert subtree_member_counts(db_session)[tree["D2"].id] == 2


@pytest.mark.parametrize(
    ("absorbed", "into", "field"),
    [
        ("C1", "C1", "into_id"),  # itself
        ("D1", "C1", "into_id"),  # own subunit
        ("C1", "G1", "into_id"),  # members need a cell
        ("G1", "C3", "into_id"),  # a cell cannot take over subunits
    ],
)
def test_impossible_merges_are_refused_and_change_nothing(db_session, absorbed, into, field):
    tree = make_tree(db_session)
    on_rolls(db_session, tree["C1"], 1, "30")
    events_before = db_session.query(MemberEvent).count()
    with pytest.raises(ValidationFailed) as refused:
        merge_units(
            db_session, SYSTEM, tree[absorbed].id, tree[into].id, effective_on=date(2025, 7, 1)
        )
    assert field in refused.value.errors
    db_session.rollback()
    assert db_session.query(MemberEvent).count() == events_before
    assert db_session.get(Unit, tree[absorbed].id).dissolved_on is None


def test_dissolve_is_refused_while_members_are_on_the_rolls(db_session):
    tree = make_tree(db_session)
    on_rolls(db_session, tree["C3"], 2, "40")
    with pytest.raises(ValidationFailed) as refused:
        dissolve_unit(db_session, SYSTEM, tree["C3"].id, effective_on=date(2025, 1, 1))
    assert "2" in str(refused.value.errors["effective_on"][0][1]["count"])
    db_session.rollback()
    with pytest.raises(ValidationFailed):
        dissolve_unit(
            db_session, SYSTEM, tree["D1"].id, effective_on=date(2025, 1, 1)
        )  # has subunits
    db_session.rollback()
    empty = dissolve_unit(
        db_session, SYSTEM, tree["C2"].id, effective_on=date(2025, 1, 1), decision_number="5-QĐ"
    )
    assert empty.dissolved_on == date(2025, 1, 1)


def test_edit_form_records_rename_and_move_in_the_history(app, admin_client, db_session):
    tree = make_tree(db_session)
    form = {
        "code": "P.01.001.01",
        "name": "Chi bộ thôn Đông Mới",
        "kind": "cell",
        "parent": str(tree["G1"].id),
        "founded_on": "",
        "dissolved_on": "",
        "version_id": "1",
    }
    assert admin_client.post(f"/unitmodelview/edit/{tree['C1'].id}", data=form).status_code == 302
    page = admin_client.get(f"/unitmodelview/show/{tree['C1'].id}")
    assert vietnamese(app, "Renamed") in page.text and "Chi bộ thôn Đông Mới" in page.text


def test_merge_and_dissolve_screens(app, admin_client, db_session):
    tree = make_tree(db_session)
    on_rolls(db_session, tree["C2"], 1, "50")
    refused = admin_client.post(
        f"/unitmodelview/dissolve/{tree['C2'].id}", data={"effective_on": "01/07/2025"}
    )
    assert refused.status_code == 200 and "alert-danger" in refused.text
    merged = admin_client.post(
        f"/unitmodelview/merge/{tree['C2'].id}",
        data={
            "into_id": str(tree["C1"].id),
            "effective_on": "01/07/2025",
            "decision_number": "12-QĐ",
        },
    )
    assert merged.status_code == 302
    tree_page = admin_client.get("/unitmodelview/tree")
    assert tree_page.status_code == 200 and 'data-unit="P.01.001.01">1<' in tree_page.text.replace(
        " ", ""
    )


def test_unit_operations_through_the_api(client, api_token, db_session):
    tree = make_tree(db_session)
    extra = make_unit(db_session, "P.01.001.03", "Chi bộ thôn Nam", UnitKind.CELL, tree["G1"])
    db_session.commit()
    headers = auth(api_token)
    bad = client.post(
        f"/api/v1/units/{extra.id}/merge",
        json={"into": tree["G1"].id, "effective_on": "2025-07-01"},
        headers=headers,
    )
    assert bad.status_code in (
        200,
        422,
    )  # a cell with no members may go under a committee? refused only if members
    resolved = client.get("/api/v1/units/resolve/P.01.001.03", headers=headers)
    assert resolved.status_code == 200
    dissolved = client.post(
        f"/api/v1/units/{tree['C3'].id}/dissolve",
        json={"effective_on": "2025-07-01"},
        headers=headers,
    )
    assert dissolved.status_code == 200
    assert (
        client.post(
            f"/api/v1/units/{tree['C3'].id}/dissolve",
            json={"effective_on": "2025-07-01"},
            headers=headers,
        ).status_code
        == 422
    )
    assert client.get("/api/v1/units/resolve/NOPE", headers=headers).status_code == 404
