"""Member indexes for the list's orders with the id as tie-breaker: name, status, date of
birth, date of admission

Revision ID: 0017_hpages_member_orders
Revises: 0016_hsearch_member_words
Create Date: 2026-12-02 13:10:00

"""

from alembic import op

revision = "0017_hpages_member_orders"
down_revision = "0016_hsearch_member_words"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_index("ix_member_sort_key")
        batch_op.drop_index("ix_member_status")
        batch_op.create_index("ix_member_sort_key", ["sort_key", "id"], unique=False)
        batch_op.create_index("ix_member_status", ["status", "id"], unique=False)
        batch_op.create_index("ix_member_birth_date", ["birth_date", "id"], unique=False)
        batch_op.create_index("ix_member_admitted_on", ["admitted_on", "id"], unique=False)


def downgrade():
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_index("ix_member_admitted_on")
        batch_op.drop_index("ix_member_birth_date")
        batch_op.drop_index("ix_member_status")
        batch_op.drop_index("ix_member_sort_key")
        batch_op.create_index("ix_member_status", ["status"], unique=False)
        batch_op.create_index("ix_member_sort_key", ["sort_key"], unique=False)
