"""The ledger through the screens and the API: opening events, recording, cancelling,
transfers, the roll of a unit as of a date, and Party age on the member page."""

from datetime import date

from sqlalchemy import func, select
from test_api import auth

from factories import SYSTEM, make_member, make_tree
from helpers import vietnamese
from webapp.domain.events import EventInput, open_ledger, record_event
from webapp.domain.ledger import EventKind
from webapp.domain.rolls import roll_as_of
from webapp.models import Member, MemberEvent, MemberPeriod
from webapp.models.member import MemberStatus


def add_member(db_session, unit, **fields):
    member = make_member(db_session, unit, **fields)
    open_ledger(db_session, SYSTEM, member.id)
    db_session.commit()
    return member


def test_adding_a_member_on_the_form_opens_the_ledger(admin_client, db_session):
    tree = make_tree(db_session)
    form = {
        "member_number": "000777TN",
        "birth_name": "Phan Văn Tư",
        "sex": "male",
        "birth_date": "01/01/1960",
        "birth_date_precision": "day",
        "status": "official",
        "admitted_on": "02/09/1985",
        "official_on": "02/09/1986",
        "unit": str(tree["C1"].id),
    }
    admin_client.post("/membermodelview/add", data=form, follow_redirects=True)
    member = db_session.scalar(select(Member).where(Member.member_number == "000777TN"))
    kinds = [(e.kind, e.effective_on.isoformat()) for e in member.events]
    assert kinds == [("admission", "1985-09-02"), ("official_recognition", "1986-09-02")]
    assert member.party_age_from == date(1985, 9, 2)
    periods = db_session.scalars(
        select(MemberPeriod).where(MemberPeriod.member_id == member.id)
    ).all()
    assert [(p.standing, p.ends_on) for p in periods] == [
        ("probationary", date(1986, 9, 2)),
        ("official", None),
    ]


def test_record_transfer_and_death_then_cancel_the_death(app, admin_client, db_session):
    tree = make_tree(db_session)
    member = add_member(
        db_session, tree["C1"], admitted_on=date(2000, 3, 10), official_on=date(2001, 3, 10)
    )
    page = admin_client.get(f"/membermodelview/show/{member.id}")
    assert (
        "record-event-link" in page.text
        and vietnamese(app, "Recognition as official member") in page.text
    )

    transfer = {
        "kind": "transfer_within",
        "effective_on": "01/06/2010",
        "decision_number": "15-QĐ/ĐU",
        "to_unit_id": str(tree["C3"].id),
    }
    response = admin_client.post(f"/memberevents/record/{member.id}", data=transfer)
    assert response.status_code == 302
    db_session.expire_all()
    assert db_session.get(Member, member.id).unit_id == tree["C3"].id

    illegal = admin_client.post(
        f"/memberevents/record/{member.id}",
        data={"kind": "official_recognition", "effective_on": "01/01/2011"},
    )
    assert (
        vietnamese(app, "Only a probationary member can be recognised as official.") in illegal.text
    )

    death = admin_client.post(
        f"/memberevents/record/{member.id}", data={"kind": "death", "effective_on": "05/05/2020"}
    )
    assert death.status_code == 302
    db_session.expire_all()
    assert db_session.get(Member, member.id).status == MemberStatus.DECEASED
    after_death = admin_client.post(
        f"/memberevents/record/{member.id}",
        data={
            "kind": "transfer_within",
            "effective_on": "01/01/2021",
            "to_unit_id": str(tree["C1"].id),
        },
    )
    assert after_death.status_code == 200  # refused, shown again with the message
    count_before = db_session.scalar(select(func.count(MemberEvent.id)))

    death_event = db_session.scalar(select(MemberEvent).where(MemberEvent.kind == "death"))
    assert admin_client.get(f"/memberevents/cancel/{death_event.id}").status_code == 200
    admin_client.post(f"/memberevents/cancel/{death_event.id}", data={"reason": "Ghi nhầm người"})
    db_session.expire_all()
    member = db_session.get(Member, member.id)
    assert member.status == MemberStatus.OFFICIAL and member.unit_id == tree["C3"].id
    assert (
        db_session.scalar(select(func.count(MemberEvent.id))) == count_before + 1
    )  # nothing deleted

    # The member page as of a date before the transfer shows the first cell.
    as_of = admin_client.get(f"/membermodelview/show/{member.id}?as_of=01/01/2005")
    assert tree["C1"].name in as_of.text.split('id="standing-unit"')[1][:200]


def test_event_validation_messages_name_the_field(app, admin_client, db_session):
    tree = make_tree(db_session)
    member = add_member(db_session, tree["C1"])
    response = admin_client.post(
        f"/memberevents/record/{member.id}",
        data={"kind": "transfer_within", "effective_on": "01/01/2090"},
    )
    assert vietnamese(app, "The date cannot be in the future.") in response.text
    assert vietnamese(app, "Choose the Party cell the member goes to.") in response.text
    response = admin_client.post(
        f"/memberevents/record/{member.id}",
        data={"kind": "transfer_out", "effective_on": "01/01/2015"},
    )
    assert vietnamese(app, "Name the Party organisation the member transfers to.") in response.text
    assert admin_client.get("/memberevents/record/999999").status_code == 404


def test_roll_as_of_replays_the_ledger_and_keeps_temporary_members_apart(db_session):
    tree = make_tree(db_session)
    a = add_member(
        db_session,
        tree["C1"],
        birth_name="Nguyễn Văn A",
        admitted_on=date(2000, 1, 1),
        official_on=date(2001, 1, 1),
    )
    b = add_member(
        db_session,
        tree["C1"],
        birth_name="Trần Văn B",
        admitted_on=date(2000, 1, 1),
        official_on=date(2001, 1, 1),
    )
    record_event(
        db_session,
        SYSTEM,
        a.id,
        EventInput(
            kind=EventKind.TRANSFER_WITHIN, effective_on=date(2024, 6, 1), to_unit_id=tree["C3"].id
        ),
    )
    record_event(
        db_session,
        SYSTEM,
        b.id,
        EventInput(
            kind=EventKind.TEMPORARY_TRANSFER,
            effective_on=date(2024, 6, 1),
            to_unit_id=tree["C3"].id,
        ),
    )
    record_event(
        db_session, SYSTEM, b.id, EventInput(kind=EventKind.DEATH, effective_on=date(2025, 6, 1))
    )

    def names(entries):
        return sorted(e.name for e in entries)

    d1_2023, _ = roll_as_of(db_session, tree["D1"], date(2023, 12, 31))
    assert names(d1_2023) == ["Nguyễn Văn A", "Trần Văn B"]
    d1_2024, _ = roll_as_of(db_session, tree["D1"], date(2024, 12, 31))
    assert names(d1_2024) == ["Trần Văn B"]  # still on C1's rolls while temporarily away
    d2_2024, hosted = roll_as_of(db_session, tree["D2"], date(2024, 12, 31))
    assert names(d2_2024) == ["Nguyễn Văn A"] and names(hosted) == ["Trần Văn B"]
    d1_2025, _ = roll_as_of(db_session, tree["D1"], date(2025, 12, 31))
    assert names(d1_2025) == []


def test_unit_roll_page_as_of_a_date(admin_client, db_session):
    tree = make_tree(db_session)
    a = add_member(
        db_session,
        tree["C1"],
        birth_name="Nguyễn Văn A",
        admitted_on=date(2000, 1, 1),
        official_on=date(2001, 1, 1),
    )
    record_event(
        db_session,
        SYSTEM,
        a.id,
        EventInput(
            kind=EventKind.TRANSFER_WITHIN, effective_on=date(2024, 6, 1), to_unit_id=tree["C3"].id
        ),
    )
    before = admin_client.get(f"/unitmodelview/roll/{tree['D1'].id}?as_of=31/12/2023")
    after = admin_client.get(f"/unitmodelview/roll/{tree['D1'].id}?as_of=31/12/2024")
    assert before.status_code == 200 and "Nguyễn Văn A" in before.text
    assert "Nguyễn Văn A" not in after.text
    bad = admin_client.get(f"/unitmodelview/roll/{tree['D1'].id}?as_of=31/02/2024")
    assert bad.status_code == 400 and 'id="roll-table"' not in bad.text  # not today's roll


def test_events_api_records_with_the_same_rules(app, client, api_token, db_session):
    tree = make_tree(db_session)
    member = add_member(db_session, tree["C1"])
    ok = client.post(
        "/api/v1/events/",
        json={
            "member": member.id,
            "kind": "transfer_within",
            "effective_on": "2015-01-01",
            "to_unit": tree["C2"].id,
        },
        headers=auth(api_token),
    )
    assert ok.status_code == 201, ok.json
    illegal = client.post(
        "/api/v1/events/",
        json={
            "member": member.id,
            "kind": "admission",
            "effective_on": "2016-01-01",
            "to_unit": tree["C2"].id,
        },
        headers=auth(api_token),
    )
    assert illegal.status_code == 422
    assert illegal.json["message"] == vietnamese(
        app, "The member has been admitted already; use re-admission."
    )
    bad_date = client.post(
        "/api/v1/events/",
        json={"member": member.id, "kind": "death", "effective_on": "2016/01/01"},
        headers=auth(api_token),
    )
    assert bad_date.status_code == 422 and "effective_on" in bad_date.json["message"]
    unknown = client.post(
        "/api/v1/events/",
        json={"member": 999999, "kind": "death", "effective_on": "2016-01-01"},
        headers=auth(api_token),
    )
    assert unknown.status_code == 404
    listed = client.get("/api/v1/events/", headers=auth(api_token))
    assert listed.status_code == 200 and listed.json["count"] == 3
    assert client.delete(
        f"/api/v1/events/{ok.json['id']}", headers=auth(api_token)
    ).status_code in (404, 405)


def test_member_list_filters_by_party_age(admin_client, db_session):
    tree = make_tree(db_session)
    today = date.today()
    veteran = add_member(
        db_session,
        tree["C1"],
        birth_name="Cao Văn Lão",
        admitted_on=date(today.year - 41, 1, 1),
        official_on=date(today.year - 40, 1, 1),
        birth_date=date(1950, 1, 1),
    )
    add_member(
        db_session,
        tree["C1"],
        birth_name="Mai Văn Trẻ",
        admitted_on=date(today.year - 5, 1, 1),
        official_on=date(today.year - 4, 1, 1),
    )
    assert veteran.party_age_from == date(today.year - 41, 1, 1)
    at_least_40 = admin_client.get("/membermodelview/list/?_flt_0_party_age_from=40")
    assert "Cao Văn Lão" in at_least_40.text and "Mai Văn Trẻ" not in at_least_40.text
    below_10 = admin_client.get("/membermodelview/list/?_flt_1_party_age_from=10")
    assert "Mai Văn Trẻ" in below_10.text and "Cao Văn Lão" not in below_10.text
