"""Name search by words on SQLite: an FTS5 index of the search key, kept by triggers

Revision ID: 0018_hsearch_sqlite_words
Revises: 0017_hpages_member_orders
Create Date: 2026-12-02 13:15:00

"""

from alembic import op

revision = "0018_hsearch_sqlite_words"
down_revision = "0017_hpages_member_orders"
branch_labels = None
depends_on = None

# An external-content FTS5 table over member.search_key (webapp.domain.name_search): it
# keeps only the index; the triggers keep it in step with every write of the member table.
# A later migration that has SQLite copy the member table (batch "recreate") drops the
# triggers with it: it must create them again (STATEMENTS[1:4]) and rebuild.
STATEMENTS = (
    "CREATE VIRTUAL TABLE member_words USING fts5(search_key, content='member', "
    "content_rowid='id')",
    "CREATE TRIGGER member_words_insert AFTER INSERT ON member BEGIN "
    "INSERT INTO member_words(rowid, search_key) VALUES (new.id, new.search_key); END",
    "CREATE TRIGGER member_words_delete AFTER DELETE ON member BEGIN "
    "INSERT INTO member_words(member_words, rowid, search_key) "
    "VALUES ('delete', old.id, old.search_key); END",
    "CREATE TRIGGER member_words_update AFTER UPDATE OF search_key ON member BEGIN "
    "INSERT INTO member_words(member_words, rowid, search_key) "
    "VALUES ('delete', old.id, old.search_key); "
    "INSERT INTO member_words(rowid, search_key) VALUES (new.id, new.search_key); END",
    "INSERT INTO member_words(member_words) VALUES ('rebuild')",
)


def upgrade():
    if op.get_context().dialect.name == "sqlite":
        for statement in STATEMENTS:
            op.execute(statement)


def downgrade():
    if op.get_context().dialect.name == "sqlite":
        for name in ("member_words_update", "member_words_delete", "member_words_insert"):
            op.execute(f"DROP TRIGGER {name}")
        op.execute("DROP TABLE member_words")
