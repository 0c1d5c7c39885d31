"""Index on member_event.reverses_id

Every report asks whether an event was cancelled (NOT EXISTS a reversal pointing at it);
without this index that is a scan of the ledger per row: the district member list took
11.7 s instead of 0.9 s in bench/reports.py.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 01:45:00

"""
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_member_event_reverses', 'member_event', ['reverses_id'], unique=False)


def downgrade():
    op.drop_index('ix_member_event_reverses', table_name='member_event')
