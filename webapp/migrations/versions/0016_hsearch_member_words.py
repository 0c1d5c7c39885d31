"""Name search by words on PostgreSQL: a GIN index of the search key's words

Revision ID: 0016_hsearch_member_words
Revises: 0015_hpages_member_indexes
Create Date: 2026-12-02 13:00:00

"""

from alembic import op

revision = "0016_hsearch_member_words"
down_revision = "0015_hpages_member_indexes"
branch_labels = None
depends_on = None

# The text of webapp.models.member.SEARCH_WORDS_SQL on the day of this migration.
SEARCH_WORDS = "array_to_tsvector(array_remove(string_to_array(search_key, ' '), ''))"


def upgrade():
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_member_search_words ON member USING gin ({SEARCH_WORDS})")


def downgrade():
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_member_search_words")
