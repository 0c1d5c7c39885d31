"""Member indexes for the pages at province scale: host unit (the scope filter) and the
members on the rolls by unit (the tree's and the unit page's counts)

Revision ID: 0015_hpages_member_indexes
Revises: 0014_htransfer_transfer
Create Date: 2026-12-02 09:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0015_hpages_member_indexes"
down_revision = "0014_htransfer_transfer"
branch_labels = None
depends_on = None

ON_THE_ROLLS = sa.text("status IN ('probationary', 'official')")


def upgrade():
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.create_index("ix_member_host_unit", ["host_unit_id"], unique=False)
        batch_op.create_index(
            "ix_member_rolls_unit",
            ["unit_id"],
            unique=False,
            postgresql_where=ON_THE_ROLLS,
            sqlite_where=ON_THE_ROLLS,
        )


def downgrade():
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_index("ix_member_rolls_unit", postgresql_where=ON_THE_ROLLS, sqlite_where=ON_THE_ROLLS)
        batch_op.drop_index("ix_member_host_unit")
