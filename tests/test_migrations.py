"""Migrations: a skeleton-era database with data upgrades to the ledger and beyond, and
downgrades back to the skeleton without losing members — on SQLite and on PostgreSQL."""

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError
from test_embedded_defaults import embedded_env, flask  # noqa: F401 - fixture re-export

from conftest import DATABASE_URL

SKELETON = "c840a38d74b8"
# Per test database: helpers running the suite side by side each get their own.
MIGRATION_DB = f"{(DATABASE_URL or '/dangvien').rsplit('/', 1)[1]}_migrations"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.server_only)])
def migration_target(request, embedded_env, tmp_path):  # noqa: F811
    """(environment for the flask CLI, SQLAlchemy URL) of an empty database."""
    if request.param == "sqlite":
        yield embedded_env, f"sqlite:///{tmp_path / 'instance' / 'dangvien.db'}"
        return
    server = DATABASE_URL.rsplit("/", 1)[0]
    admin = create_engine(server + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{MIGRATION_DB}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{MIGRATION_DB}"'))
    url = f"{server}/{MIGRATION_DB}"
    yield {**embedded_env, "DATABASE_URL": url}, url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{MIGRATION_DB}" WITH (FORCE)'))
    admin.dispose()


def test_ledger_migrations_backfill_and_downgrade_keep_members(migration_target):
    env, url = migration_target
    flask(env, "db", "upgrade", SKELETON)
    engine = create_engine(url)
    with engine.begin() as db:
        db.execute(
            text(
                "INSERT INTO unit (id, code, name, kind, path, version_id) VALUES (1, 'P', 'Tỉnh', 'provincial_committee', '/1/', 1)"
            )
        )
        db.execute(
            text(
                "INSERT INTO unit (id, code, name, kind, parent_id, path, version_id) VALUES (2, 'P.01', 'Chi bộ', 'cell', 1, '/1/2/', 1)"
            )
        )
        rows = [
            (1, "000001TN", "Nguyễn Văn Một", "official", "2000-01-01", "2001-01-01"),
            (2, "000002TN", "Trần Thị Hai", "probationary", "2025-01-01", None),
            (3, "000003TN", "Lê Văn Ba", "deceased", "1970-01-01", "1971-01-01"),
        ]
        for id_, number, name, status, admitted, official in rows:
            db.execute(
                text(
                    "INSERT INTO member (id, member_number, birth_name, sex, birth_date, birth_date_precision, admitted_on, official_on, status, unit_id, sort_key, search_key, version_id) "
                    "VALUES (:id, :number, :name, 'male', '1950-01-01', 'day', :admitted, :official, :status, 2, '', '', 1)"
                ),
                {
                    "id": id_,
                    "number": number,
                    "name": name,
                    "admitted": admitted,
                    "official": official,
                    "status": status,
                },
            )
    flask(env, "db", "upgrade")
    with engine.connect() as db:
        events = db.execute(
            text("SELECT member_id, kind FROM member_event ORDER BY member_id, id")
        ).all()
        periods = db.execute(
            text(
                "SELECT member_id, standing, starts_on, ends_on FROM member_period ORDER BY member_id, starts_on"
            )
        ).all()
        period_ages = {
            (row[0], row[1]): row[2] and str(row[2])
            for row in db.execute(
                text("SELECT member_id, standing, party_age_from FROM member_period")
            )
        }
        ages = {row[0]: row[1] for row in db.execute(text("SELECT id, party_age_from FROM member"))}
        levels = {row[0] for row in db.execute(text("SELECT completeness FROM member"))}
    assert [tuple(e) for e in events] == [
        (1, "admission"),
        (1, "official_recognition"),
        (2, "admission"),
        (3, "admission"),
        (3, "official_recognition"),
        (3, "death"),
    ]
    assert {(m, s, str(start), end) for m, s, start, end in periods if end is None} == {
        (1, "official", "2001-01-01", None),
        (2, "probationary", "2025-01-01", None),
    }
    assert all(end is not None for member, _, _, end in periods if member == 3)
    assert {k: v and str(v) for k, v in ages.items()} == {1: "2000-01-01", 2: None, 3: "1970-01-01"}
    # Migration 0009 replays each ledger: Party age runs from the admission in official
    # periods and not at all in probationary ones.
    assert period_ages == {
        (1, "probationary"): None,
        (1, "official"): "2000-01-01",
        (2, "probationary"): None,
        (3, "probationary"): None,
        (3, "official"): "1970-01-01",
    }
    assert levels == {"incomplete"}  # computed by the migration: the old records lack most fields

    flask(env, "db", "downgrade", SKELETON)
    with engine.connect() as db:
        kept = [
            tuple(r)
            for r in db.execute(text("SELECT id, status, official_on FROM member ORDER BY id"))
        ]
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert [(i, s, o and str(o)) for i, s, o in kept] == [
        (1, "official", "2001-01-01"),
        (2, "probationary", None),
        (3, "deceased", "1971-01-01"),
    ]
    assert (
        "member_event" not in tables
        and "unit_change" not in tables
        and "catalogue_entry" not in tables
    )


def test_card_numbers_typed_on_records_move_into_the_registry_and_nothing_is_lost(
    migration_target,
):
    """Migration 0011: the registry becomes the one truth for the card number. A number
    typed on a record gets its card (valid; withdrawn for a leaver; revoked when the
    member holds another valid card); the record then shows the member's valid card; the
    database refuses a record-only number from then on; downgrading keeps every number."""
    env, url = migration_target
    flask(env, "db", "upgrade", "0010")
    engine = create_engine(url)
    member_sql = (
        "INSERT INTO member (id, member_number, birth_name, sex, birth_date, birth_date_precision, "
        "admitted_on, official_on, status, unit_id, sort_key, search_key, version_id, "
        "card_number, card_issued_on) VALUES (:id, :number, 'Đảng Viên', 'male', '1950-01-01', "
        "'day', '1980-01-01', '1981-01-01', :status, 2, '', '', 1, :card, :card_on)"
    )
    members = [
        # id, status, number on the record, its date
        (1, "official", "27.000001", "1990-02-03"),  # no card: becomes a valid one
        (2, "left", "27.000002", None),  # left the Party: the card is withdrawn
        (3, "official", "27.000003", None),  # holds 01.000005 in the registry already
        (4, "official", "01.000006", None),  # the registry gives 01.000006 to member 5
        (5, "official", None, None),
        (6, "official", None, None),  # no card anywhere
    ]
    with engine.begin() as db:
        db.execute(
            text(
                "INSERT INTO unit (id, code, name, kind, path, version_id) VALUES (1, 'P', 'Tỉnh', 'provincial_committee', '/1/', 1)"
            )
        )
        db.execute(
            text(
                "INSERT INTO unit (id, code, name, kind, parent_id, path, version_id) VALUES (2, 'P.01', 'Chi bộ', 'cell', 1, '/1/2/', 1)"
            )
        )
        for id_, status, card, card_on in members:
            db.execute(
                text(member_sql),
                {
                    "id": id_,
                    "number": f"00000{id_}TN",
                    "status": status,
                    "card": card,
                    "card_on": card_on,
                },
            )
        for member_id, number in ((3, "01.000005"), (5, "01.000006")):
            db.execute(
                text(
                    "INSERT INTO party_card (member_id, number, issued_on, state, version_id) "
                    "VALUES (:member, :number, '2020-05-19', 'valid', 1)"
                ),
                {"member": member_id, "number": number},
            )
    flask(env, "db", "upgrade")
    with engine.connect() as db:
        cards = {
            row.number: (row.member_id, row.state, row.issued_on and str(row.issued_on))
            for row in db.execute(
                text("SELECT member_id, number, state, issued_on FROM party_card")
            )
        }
        records = {
            row.id: (row.card_number, row.card_issued_on and str(row.card_issued_on))
            for row in db.execute(text("SELECT id, card_number, card_issued_on FROM member"))
        }
    assert cards == {
        "27.000001": (1, "valid", "1990-02-03"),
        "27.000002": (2, "withdrawn", None),
        "27.000003": (3, "revoked", None),
        "01.000005": (3, "valid", "2020-05-19"),
        "01.000006": (5, "valid", "2020-05-19"),
    }
    assert records == {
        1: ("27.000001", "1990-02-03"),
        2: (None, None),
        3: ("01.000005", "2020-05-19"),
        4: (None, None),
        5: ("01.000006", "2020-05-19"),
        6: (None, None),
    }
    # From now on a number on a record is one of the member's own registry cards.
    for member_id, number in ((6, "27.000999"), (6, "01.000005")):
        with pytest.raises(IntegrityError), engine.begin() as db:
            if db.dialect.name == "sqlite":
                db.exec_driver_sql("PRAGMA foreign_keys=ON")
            db.execute(
                text("UPDATE member SET card_number = :number WHERE id = :id"),
                {"number": number, "id": member_id},
            )
    with pytest.raises(IntegrityError), engine.begin() as db:  # a second valid card
        db.execute(
            text(
                "INSERT INTO party_card (member_id, number, state, version_id) "
                "VALUES (1, '27.000100', 'valid', 1)"
            )
        )

    flask(env, "db", "downgrade", "0010")
    with engine.connect() as db:
        numbers = set(db.scalars(text("SELECT number FROM party_card")))
        dates = set(db.scalars(text("SELECT issued_on FROM party_card")))
        kept = dict(db.execute(text("SELECT id, card_number FROM member")).all())
    engine.dispose()
    assert numbers == set(cards) and None not in dates
    assert kept == {i: number for i, (number, _) in records.items()}


def test_entries_written_before_the_member_column_still_verify(migration_target):
    """Migration 0013_h13audit_member adds audit_entry.member_id; the chain written before
    it (hashes over the original fields) verifies after it, and new entries chain on."""
    import json

    from webapp.domain.audit import GENESIS, HASHED_FIELDS, entry_hash

    env, url = migration_target
    flask(env, "db", "upgrade", "0012_member_files")
    engine = create_engine(url)
    previous = GENESIS
    with engine.begin() as db:
        for number in range(3):
            fields = dict.fromkeys(HASHED_FIELDS)
            fields.update(
                at=f"2026-01-0{number + 1} 08:00:00",
                action="update",
                object_type="Member",
                object_id=str(number + 1),
                after=json.dumps({"birth_name": f"Tên {number}"}, ensure_ascii=False),
            )
            digest = entry_hash(previous, fields)
            db.execute(
                text(
                    "INSERT INTO audit_entry (at, action, object_type, object_id, after, "
                    "prev_hash, hash) VALUES (:at, :action, :object_type, :object_id, :after, "
                    ":prev, :hash)"
                ),
                {**fields, "prev": previous, "hash": digest},
            )
            previous = digest
    flask(env, "db", "upgrade")
    with engine.connect() as db:
        assert db.scalar(text("SELECT count(*) FROM audit_entry WHERE member_id IS NULL")) == 3
    engine.dispose()
    assert "intact: 3 entries" in flask(env, "audit", "verify")
