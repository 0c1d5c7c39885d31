"""Sync: the outbox of captured changes, packages sent and received, the key map

Revision ID: 0014_hsync_outbox
Revises: 0014_sync_identity
Create Date: 2026-12-02 06:20:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0014_hsync_outbox"
down_revision = "0014_sync_identity"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "sync_outbox",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("table_name", sa.String(length=40), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("op", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("package_sequence", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_sync_outbox_pending",
        "sync_outbox",
        ["id"],
        postgresql_where=sa.text("package_sequence IS NULL"),
        sqlite_where=sa.text("package_sequence IS NULL"),
    )
    op.create_table(
        "sync_package",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=True),
        sa.Column("sender_key", sa.String(length=80), nullable=True),
        sa.Column("direction", sa.String(length=4), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("reason_params", sa.JSON(), nullable=True),
        sa.Column("data", sa.LargeBinary(), nullable=True),
        sa.Column("receipt", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["peer_id"], ["sync_peer.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sync_package_peer", "sync_package", ["peer_id", "direction", "sequence"])
    op.create_index("ix_sync_package_state", "sync_package", ["direction", "state"])
    op.create_table(
        "sync_key_map",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("table_name", sa.String(length=40), nullable=False),
        sa.Column("remote_id", sa.Integer(), nullable=False),
        sa.Column("local_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["peer_id"], ["sync_peer.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("peer_id", "table_name", "remote_id", name="uq_sync_key_map_remote"),
    )
    op.create_index("ix_sync_key_map_local", "sync_key_map", ["table_name", "local_id"])


def downgrade():
    op.drop_table("sync_key_map")
    op.drop_table("sync_package")
    op.drop_table("sync_outbox")
