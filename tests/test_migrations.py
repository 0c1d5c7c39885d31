"""Migrations: the ledger migration upgrades a skeleton-era database with data, and
downgrades back to it without losing members."""

import sqlite3

from test_embedded_defaults import embedded_env, flask  # noqa: F401 - fixture re-export

SKELETON = "c840a38d74b8"


def test_ledger_migration_backfills_events_and_periods_and_downgrades(embedded_env, tmp_path):  # noqa: F811
    flask(embedded_env, "db", "upgrade", SKELETON)
    database = tmp_path / "instance" / "dangvien.db"
    with sqlite3.connect(database) as db:
        db.execute(
            "INSERT INTO unit (id, code, name, kind, path, version_id) VALUES (1, 'P', 'Tỉnh', 'provincial_committee', '/1/', 1)"
        )
        db.execute(
            "INSERT INTO unit (id, code, name, kind, parent_id, path, version_id) VALUES (2, 'P.01', 'Chi bộ', 'cell', 1, '/1/2/', 1)"
        )
        rows = [
            (1, "000001TN", "Nguyễn Văn Một", "official", "2000-01-01", "2001-01-01"),
            (2, "000002TN", "Trần Thị Hai", "probationary", "2025-01-01", None),
            (3, "000003TN", "Lê Văn Ba", "deceased", "1970-01-01", "1971-01-01"),
        ]
        for id_, number, name, status, admitted, official in rows:
            db.execute(
                "INSERT INTO member (id, member_number, birth_name, sex, birth_date, birth_date_precision, admitted_on, official_on, status, unit_id, sort_key, search_key, version_id) "
                "VALUES (?, ?, ?, 'male', '1950-01-01', 'day', ?, ?, ?, 2, '', '', 1)",
                (id_, number, name, admitted, official, status),
            )
    flask(embedded_env, "db", "upgrade")
    with sqlite3.connect(database) as db:
        events = db.execute(
            "SELECT member_id, kind, effective_on FROM member_event ORDER BY member_id, id"
        ).fetchall()
        periods = db.execute(
            "SELECT member_id, standing, starts_on, ends_on FROM member_period ORDER BY member_id, starts_on"
        ).fetchall()
        ages = dict(db.execute("SELECT id, party_age_from FROM member").fetchall())
    kinds = [(m, k) for m, k, _ in events]
    assert kinds == [
        (1, "admission"),
        (1, "official_recognition"),
        (2, "admission"),
        (3, "admission"),
        (3, "official_recognition"),
        (3, "death"),
    ]
    assert (1, "official", "2001-01-01", None) in periods and (
        2,
        "probationary",
        "2025-01-01",
        None,
    ) in periods
    assert all(end is not None for member, _, _, end in periods if member == 3)
    assert ages == {1: "2000-01-01", 2: None, 3: "1970-01-01"}

    flask(embedded_env, "db", "downgrade", SKELETON)
    with sqlite3.connect(database) as db:
        kept = db.execute("SELECT id, status, official_on FROM member ORDER BY id").fetchall()
        tables = {
            row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
    assert kept == [
        (1, "official", "2001-01-01"),
        (2, "probationary", None),
        (3, "deceased", "1971-01-01"),
    ]
    assert "member_event" not in tables
