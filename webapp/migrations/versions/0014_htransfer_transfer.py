"""Transfers between provinces: the packages written and the packages imported

Revision ID: 0014_htransfer_transfer
Revises: 0014_h18b_worklist_speed
Create Date: 2026-12-02 06:20:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0014_htransfer_transfer"
down_revision = "0014_h18b_worklist_speed"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "transfer_out",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transfer_id", sa.String(length=36), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("package_sha256", sa.String(length=64), nullable=False),
        sa.Column("package_size", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("received_unit", sa.String(length=255), nullable=True),
        sa.Column("received_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["peer_id"], ["sync_peer.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["event_id"], ["member_event.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["created_by_id"], ["ab_user.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("transfer_id"),
    )
    op.create_index("ix_transfer_out_member", "transfer_out", ["member_id"])
    op.create_index("ix_transfer_out_state", "transfer_out", ["state", "expires_on"])
    op.create_table(
        "transfer_in",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transfer_id", sa.String(length=36), nullable=False),
        sa.Column("sender_key", sa.String(length=80), nullable=False),
        sa.Column("sender_unit", sa.String(length=40), nullable=True),
        sa.Column("package_sha256", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("history", sa.Text(), nullable=True),
        sa.Column("imported_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("imported_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["event_id"], ["member_event.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["imported_by_id"], ["ab_user.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("transfer_id"),
    )
    op.create_index("ix_transfer_in_member", "transfer_in", ["member_id"])


def downgrade():
    op.drop_table("transfer_in")
    op.drop_table("transfer_out")
