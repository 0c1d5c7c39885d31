"""Name search: the typed words are words of the search key, the last perhaps only its
beginning; the same rows on PostgreSQL (a text-search query on the key's words, served by
a GIN index) and on SQLite (LIKE against the key with spaces around it)."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, select, text

from factories import make_member
from webapp.domain.name_search import matches_words
from webapp.domain.vietnamese import search_key, search_tokens

KEYS = {
    1: search_key("Nguyễn Thị Hường", "000701TN", "27.123456"),
    2: search_key("Nguyễn Thị Hà", "000702TN"),
    3: search_key("Trần Văn Hải", "O'Brien", "a\\b"),
    4: search_key("Lê 100% Văn", "x_y", "a:b&c"),
    5: "",
}
QUERIES = {
    "nguyen thi h": {1, 2},
    "Nguyễn Thị Hà": {2},  # "ha" begins "ha", not "huong"
    "h": {1, 2, 3},
    "uong": set(),  # a word's middle is not a word's beginning
    "thi nguyen": {1, 2},  # any order
    "nguyen th": {1, 2},
    "ng thi ha": set(),  # only the last word may be a beginning
    "van tran": {3},
    "100% van": {4},
    "000701": {1},
    "27.123": {1},
    "123456": set(),  # inside a card number
    "o'b": {3},
    "a\\": {3},
    "100%": {4},
    "100": {4},
    "x_": {4},
    "x": {4},
    "a:b&c": {4},
    "a:": {4},
    "le | van": set(),  # no tsquery syntax: "|" is a word nobody has
    "(le)": set(),
    "!le": set(),
}


def matching(connection, table, query: str, column: str = "key") -> set[int]:
    condition = matches_words(table.c[column], search_tokens(query))
    return set(connection.scalars(select(table.c.id).where(condition)))


def probe_table(metadata: MetaData) -> Table:
    return Table(
        "name_search_probe",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("key", String(600)),
    )


def fill(connection, table) -> None:
    connection.execute(insert(table), [{"id": i, "key": k} for i, k in KEYS.items()])


def test_sqlite_and_the_test_database_find_the_same_rows(app):
    from webapp.extensions import db

    metadata = MetaData()
    table = probe_table(metadata)
    sqlite = create_engine("sqlite://")
    metadata.create_all(sqlite)
    with app.app_context(), db.engine.connect() as server, sqlite.connect() as embedded:
        metadata.create_all(server)
        try:
            fill(server, table)
            fill(embedded, table)
            for query, expected in QUERIES.items():
                assert matching(embedded, table, query) == expected, query
                assert matching(server, table, query) == expected, query
        finally:
            server.rollback()
            metadata.drop_all(server)
            server.commit()


def test_sqlite_s_words_index_finds_the_same_rows_and_follows_every_write():
    """The member table on SQLite: FTS5 candidates (migration 0018), checked by the LIKEs."""
    import importlib.util

    from conftest import ROOT

    path = ROOT / "webapp/migrations/versions/0018_hsearch_sqlite_words.py"
    spec = importlib.util.spec_from_file_location("migration_0018", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    metadata = MetaData()
    member = Table(
        "member", metadata, Column("id", Integer, primary_key=True), Column("search_key", String)
    )
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as connection:
        early = {i: k for i, k in KEYS.items() if i <= 2}
        connection.execute(insert(member), [{"id": i, "search_key": k} for i, k in early.items()])
        for statement in migration.STATEMENTS:  # "rebuild" indexes the rows already there
            connection.execute(text(statement))
        late = [{"id": i, "search_key": k} for i, k in KEYS.items() if i > 2]
        connection.execute(insert(member), late)  # the insert trigger
        compiled = str(
            select(member.c.id)
            .where(matches_words(member.c.search_key, ["nguyen"]))
            .compile(engine)
        )
        assert "member_words MATCH" in compiled
        for query, expected in QUERIES.items():
            assert matching(connection, member, query, "search_key") == expected, query
        connection.execute(
            member.update().where(member.c.id == 2).values(search_key="pham van binh")
        )
        connection.execute(member.delete().where(member.c.id == 1))
        assert matching(connection, member, "nguyen thi", "search_key") == set()
        assert matching(connection, member, "pham van b", "search_key") == {2}
        assert matching(connection, member, "o'b", "search_key") == {3}


@pytest.fixture()
def two_members(db_session):
    from factories import make_tree

    tree = make_tree(db_session)
    first = make_member(
        db_session, tree["C1"], birth_name="Nguyễn Thị Hường", member_number="000701TN"
    )
    second = make_member(
        db_session, tree["C1"], birth_name="Nguyễn Thị Hà", member_number="000702TN"
    )
    db_session.commit()
    return first, second


def test_the_search_box_reads_whole_words_and_the_beginning_of_the_last(admin_client, two_members):
    for query, found, not_found in (
        ("nguyen+thi+h", ["Nguyễn Thị Hường", "Nguyễn Thị Hà"], []),
        ("Hà", ["Nguyễn Thị Hà"], ["Nguyễn Thị Hường"]),
        ("huo", ["Nguyễn Thị Hường"], ["Nguyễn Thị Hà"]),
        ("uong", [], ["Nguyễn Thị Hường", "Nguyễn Thị Hà"]),
        ("ng+thi", [], ["Nguyễn Thị Hường", "Nguyễn Thị Hà"]),
        ("000702", ["Nguyễn Thị Hà"], ["Nguyễn Thị Hường"]),
    ):
        page = admin_client.get(f"/membermodelview/list/?_flt_0_search_key={query}")
        assert page.status_code == 200
        for name in found:
            assert name in page.text, (query, name)
        for name in not_found:
            assert name not in page.text, (query, name)


def test_postgresql_answers_the_search_from_the_words_index(app, db_session):
    from webapp.extensions import db
    from webapp.models import Member

    dialect = db.engine.dialect
    if dialect.name != "postgresql":
        pytest.skip("the words index exists on PostgreSQL only (SQLite reads the key)")
    condition = matches_words(Member.search_key, ["nguyen", "thi", "ha"])
    statement = select(Member.id).where(condition)
    compiled = statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    db_session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(db_session.execute(text(f"EXPLAIN {compiled}")).scalars())
    db_session.rollback()
    assert "ix_member_search_words" in plan, plan
