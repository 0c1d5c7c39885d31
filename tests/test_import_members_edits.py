"""A commit whose file edits stored members and adds new ones (issue 16): the edits are
written in bulk (one UPDATE from arrays a chunk, the field history and the audit entries
at once), so each edited record is checked field by field against its twin edited by
`edit_member` itself, and each new member against the file's cells."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import func, select
from test_import_members import PASSWORD, clerk_id, dry_run, plan_rows, workbook_bytes

from factories import make_member, make_tree
from webapp.cli import create_user
from webapp.domain.tracking import member_keys
from webapp.models import AuditEntry, Member, MemberEvent
from webapp.models.member_import import MemberImport
from webapp.models.record import MemberChange

HEADERS = [
    "Số lý lịch",
    "Họ và tên khai sinh",
    "Họ và tên đang dùng",
    "Giới tính",
    "Ngày sinh",
    "Chi bộ",
    "Ngày vào Đảng",
    "Ngày chính thức",
    "Dân tộc",
    "Tôn giáo",
    "Quê quán",
    "Cựu chiến binh",
    "Số định danh cá nhân",
]
# What the file changes on the stored members (blank cells: not given, kept).
EDITS = {
    "birth_name": "Nguyễn Văn Anh",
    "name_in_use": "Anh Nguyễn",
    "ethnicity": "Tày",
    "religion": "Phật giáo",
    "home_town": "Xã Tân Lập, huyện Đại Từ",
    "veteran": True,
}
# Set by the database or by the record's own identity: not compared between the twins.
OWN = {"id", "member_number", "citizen_id", "search_key", "created_at", "updated_at"}


@pytest.fixture()
def world(app, db_session, redis_conn):
    tree = make_tree(db_session)
    stored = {
        "edited": make_member(
            db_session, tree["C1"], member_number="000700TN", citizen_id="001080000700"
        ),
        "twin": make_member(
            db_session, tree["C1"], member_number="000701TN", citizen_id="001080000701"
        ),
        "renumbered": make_member(
            db_session, tree["C1"], member_number="000702TN", citizen_id="001080000702"
        ),
    }
    db_session.commit()
    create_user("clerk_i", "Clerk", "P.01", PASSWORD)
    return {"tree": tree, **stored}


def row(number, citizen_id=None, **cells):
    """A row of the file; the required cells as the stored members (make_member) hold them."""
    values = {
        "Số lý lịch": number,
        "Họ và tên khai sinh": "Nguyễn Văn An",
        "Họ và tên đang dùng": None,
        "Giới tính": "Nam",
        "Ngày sinh": date(1980, 5, 19),
        "Chi bộ": "P.01.001.01",
        "Ngày vào Đảng": "03/02/2005",
        "Ngày chính thức": "03/02/2006",
        "Dân tộc": None,
        "Tôn giáo": None,
        "Quê quán": None,
        "Cựu chiến binh": None,
        "Số định danh cá nhân": citizen_id,
    }
    values.update(cells)
    return [values[h] for h in HEADERS]


def columns(member: Member) -> dict:
    return {c.key: getattr(member, c.key) for c in Member.__table__.columns}


def history(db_session, member_id) -> list[tuple]:
    return sorted(
        db_session.execute(
            select(MemberChange.field, MemberChange.old_value, MemberChange.new_value).where(
                MemberChange.member_id == member_id
            )
        ).all()
    )


def updates(db_session, member_id) -> list[AuditEntry]:
    return db_session.scalars(
        select(AuditEntry).where(
            AuditEntry.object_type == "Member",
            AuditEntry.object_id == str(member_id),
            AuditEntry.action == "update",
        )
    ).all()


def loaded(value):
    return json.loads(value) if isinstance(value, str) else value


def test_a_commit_of_edits_and_new_members_field_by_field(app, db_session, world):
    from jobs.imports import execute_import
    from webapp.domain.audit import verify_log
    from webapp.domain.members import edit_member
    from webapp.domain.photo_batches import requester_of

    edit_cells = {
        "Họ và tên khai sinh": EDITS["birth_name"],
        "Họ và tên đang dùng": EDITS["name_in_use"],
        "Dân tộc": EDITS["ethnicity"],
        "Tôn giáo": EDITS["religion"],
        "Quê quán": EDITS["home_town"],
        "Cựu chiến binh": "x",
    }
    new_cells = {
        "Họ và tên khai sinh": "Trần Thị Bình",
        "Giới tính": "Nữ",
        "Ngày sinh": date(1985, 3, 4),
        "Chi bộ": "P.01.001.01",
        "Ngày vào Đảng": "05/06/2010",
        "Ngày chính thức": "05/06/2011",
        "Dân tộc": "Kinh",
        "Quê quán": "Phường Phan Đình Phùng",
    }
    data = workbook_bytes(
        [
            row("000700TN", **edit_cells),
            row("000801TN", "001085000801", **new_cells),
            # matched by its citizen ID: the file gives it another member number
            row("000712TN", "001080000702", **{"Dân tộc": "Tày"}),
            row("000802TN", **{**new_cells, "Họ và tên khai sinh": "Lê Văn Cường"}),
        ],
        headers=HEADERS,
    )
    run = dry_run(app, db_session, data)
    assert [(r.outcome, r.fields) for r in plan_rows(db_session, run.id)] == [
        ("update", sorted(EDITS)),
        ("new", sorted(["member_number", "citizen_id", *NEW_FIELDS])),
        ("update", ["ethnicity", "member_number"]),
        ("new", sorted(["member_number", *NEW_FIELDS])),
    ], [(r.outcome, r.fields, r.problems) for r in plan_rows(db_session, run.id)]
    ids = {name: world[name].id for name in ("edited", "twin", "renumbered")}
    versions = {name: world[name].version_id for name in ids}

    execute_import(run.id, commit=True)
    db_session.expire_all()
    assert db_session.get(MemberImport, run.id).state == "committed"

    # The twin edited by the command itself, with the same changes.
    clerk = requester_of(db_session, MemberImport(requested_by_id=clerk_id(app)))
    edit_member(
        db_session,
        clerk,
        ids["twin"],
        EDITS,
        member_number_pattern=app.config["MEMBER_NUMBER_PATTERN"],
    )
    db_session.commit()
    db_session.expire_all()
    edited = db_session.get(Member, ids["edited"])
    twin = db_session.get(Member, ids["twin"])
    mine, theirs = columns(edited), columns(twin)
    assert {k: v for k, v in mine.items() if k not in OWN} == {
        k: v for k, v in theirs.items() if k not in OWN
    }
    for name, value in EDITS.items():
        assert mine[name] == value
    assert edited.version_id == versions["edited"] + 1
    assert edited.search_key == member_keys(mine)["search_key"]
    assert edited.sort_key == member_keys(mine)["sort_key"]
    assert edited.updated_at >= edited.created_at
    assert history(db_session, ids["edited"]) == history(db_session, ids["twin"]) != []
    changed_by = db_session.scalars(
        select(MemberChange.changed_by_id).where(MemberChange.member_id == ids["edited"])
    ).all()
    assert set(changed_by) == {clerk_id(app)}
    (entry,) = updates(db_session, ids["edited"])
    (twin_entry,) = updates(db_session, ids["twin"])
    assert loaded(entry.before) == loaded(twin_entry.before)
    assert loaded(entry.after) == loaded(twin_entry.after)
    assert entry.member_id == ids["edited"] and entry.user_id == clerk_id(app)

    renumbered = db_session.get(Member, ids["renumbered"])
    assert (renumbered.member_number, renumbered.ethnicity) == ("000712TN", "Tày")
    assert renumbered.citizen_id == "001080000702"
    assert renumbered.version_id == versions["renumbered"] + 1
    assert "000712TN" in renumbered.search_key.upper()
    assert history(db_session, ids["renumbered"]) == [
        ("ethnicity", "Kinh", "Tày"),
        ("member_number", "000702TN", "000712TN"),
    ]

    first = db_session.scalar(select(Member).where(Member.member_number == "000801TN"))
    assert (
        first.birth_name,
        first.sex,
        first.birth_date,
        first.unit_id,
        first.admitted_on,
        first.official_on,
        first.status,
        first.ethnicity,
        first.home_town,
        first.citizen_id,
        first.name_in_use,
        first.religion,
        first.veteran,
    ) == (
        "Trần Thị Bình",
        "female",
        date(1985, 3, 4),
        world["tree"]["C1"].id,
        date(2010, 6, 5),
        date(2011, 6, 5),
        "official",
        "Kinh",
        "Phường Phan Đình Phùng",
        "001085000801",
        None,
        None,
        False,
    )
    second = db_session.scalar(select(Member).where(Member.member_number == "000802TN"))
    assert second.birth_name == "Lê Văn Cường" and second.citizen_id is None
    for member in (first, second):
        kinds = db_session.scalars(
            select(MemberEvent.kind)
            .where(MemberEvent.member_id == member.id)
            .order_by(MemberEvent.id)
        ).all()
        assert kinds == ["admission", "official_recognition"]
    # The audit entry of each event logs the event as stored (its recording time too).
    for event in db_session.scalars(select(MemberEvent).where(MemberEvent.member_id == first.id)):
        logged = db_session.scalar(
            select(AuditEntry.after).where(
                AuditEntry.object_type == "MemberEvent", AuditEntry.object_id == str(event.id)
            )
        )
        assert loaded(logged)["recorded_at"] == event.recorded_at.isoformat()
        assert loaded(logged)["effective_on"] == event.effective_on.isoformat()
    assert verify_log(db_session)[1] is None

    # The same file again changes nothing.
    again = dry_run(app, db_session, data)
    assert [r.outcome for r in plan_rows(db_session, again.id)] == ["unchanged"] * 4
    before = columns(db_session.get(Member, ids["edited"]))
    execute_import(again.id, commit=True)
    db_session.expire_all()
    assert columns(db_session.get(Member, ids["edited"])) == before
    assert len(updates(db_session, ids["edited"])) == 1


NEW_FIELDS = [
    "birth_name",
    "sex",
    "birth_date",
    "unit_id",
    "admitted_on",
    "official_on",
    "ethnicity",
    "home_town",
]


CARD_HEADERS = [*HEADERS, "Số thẻ đảng viên", "Ngày cấp thẻ đảng viên"]


def card_row(number, citizen_id=None, card=None, issued_on=None, **cells):
    return [*row(number, citizen_id, **cells), card, issued_on]


def test_cards_recorded_by_an_import(app, db_session, world):
    """A card for a stored member without one and for a new member: the registry's row,
    the record's copy (and its search key), the history, the audit entries; the numbering
    of the prefix waited for as `record_card` does. The same file again changes nothing."""
    from jobs.imports import execute_import
    from webapp.domain.audit import verify_log
    from webapp.models.cards import CardNumberCounter, PartyCard

    new_cells = {
        "Họ và tên khai sinh": "Trần Thị Bình",
        "Giới tính": "Nữ",
        "Ngày sinh": date(1985, 3, 4),
        "Ngày vào Đảng": "05/06/2010",
        "Ngày chính thức": "05/06/2011",
    }
    data = workbook_bytes(
        [
            card_row("000701TN", card="01.000701", issued_on="02/01/2010"),
            card_row("000803TN", card="01.000803", issued_on=date(2012, 1, 2), **new_cells),
        ],
        headers=CARD_HEADERS,
    )
    run = dry_run(app, db_session, data)
    assert [(r.outcome, r.fields) for r in plan_rows(db_session, run.id)][0] == (
        "update",
        ["card_issued_on", "card_number"],
    ), [(r.outcome, r.fields, r.problems) for r in plan_rows(db_session, run.id)]
    version = world["twin"].version_id

    execute_import(run.id, commit=True)  # the deferred key (member → its card) holds
    db_session.expire_all()
    assert db_session.get(MemberImport, run.id).state == "committed"
    stored = db_session.get(Member, world["twin"].id)
    new = db_session.scalar(select(Member).where(Member.member_number == "000803TN"))
    cards = {
        card.member_id: (card.number, card.issued_on, card.state)
        for card in db_session.scalars(select(PartyCard))
    }
    assert cards == {
        stored.id: ("01.000701", date(2010, 1, 2), "valid"),
        new.id: ("01.000803", date(2012, 1, 2), "valid"),
    }
    assert (stored.card_number, stored.card_issued_on) == ("01.000701", date(2010, 1, 2))
    assert (new.card_number, new.card_issued_on) == ("01.000803", date(2012, 1, 2))
    assert "01.000701" in stored.search_key and "01.000803" in new.search_key
    assert stored.version_id == version + 1
    assert history(db_session, stored.id) == [
        ("card_issued_on", None, "2010-01-02"),
        ("card_number", None, "01.000701"),
    ]
    (entry,) = updates(db_session, stored.id)
    assert loaded(entry.after) == {"card_number": "01.000701", "card_issued_on": "2010-01-02"}
    created = db_session.scalars(
        select(AuditEntry.member_id).where(
            AuditEntry.object_type == "PartyCard", AuditEntry.action == "create"
        )
    ).all()
    assert sorted(created) == sorted([stored.id, new.id])
    assert db_session.scalar(select(CardNumberCounter).where(CardNumberCounter.prefix == "01"))
    assert verify_log(db_session)[1] is None

    again = dry_run(app, db_session, data)
    assert [r.outcome for r in plan_rows(db_session, again.id)] == ["unchanged"] * 2
    execute_import(again.id, commit=True)
    assert db_session.scalar(select(func.count(PartyCard.id))) == 2


def test_the_bulk_update_leaves_a_record_changed_since_it_was_read(app, db_session, world):
    """`update_rows` updates a record only at the version read (the caller then refuses
    the commit, as the ORM's version check would); a blank value keeps the stored one."""
    from webapp.domain.bulk import update_rows

    member = world["edited"]
    version, name = member.version_id, member.birth_name
    stale = {"id": member.id, "version_id": version - 1, "home_town": "Xã A", "birth_name": None}
    assert update_rows(db_session, Member.__table__, [stale], ["home_town", "birth_name"], ()) == 0
    fresh = {**stale, "version_id": version}
    assert update_rows(db_session, Member.__table__, [fresh], ["home_town", "birth_name"], ()) == 1
    db_session.expire_all()
    member = db_session.get(Member, member.id)
    assert (member.home_town, member.birth_name, member.version_id) == ("Xã A", name, version + 1)
    db_session.rollback()
