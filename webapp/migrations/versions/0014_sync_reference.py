"""Sync: numbered versions of the reference data (made here, applied from the upstream)

Revision ID: 0014_sync_reference
Revises: 0014_hsync_outbox
Create Date: 2026-12-02 06:20:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0014_sync_reference"
down_revision = "0014_hsync_outbox"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "sync_reference_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("direction", "version", name="uq_sync_reference_version"),
    )


def downgrade():
    op.drop_table("sync_reference_version")
