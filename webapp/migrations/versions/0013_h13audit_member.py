"""audit log: the member an entry concerns, and indexes for the audit screen's filters

Entries written before this migration keep member_id empty: filling it in would change
what their hashes cover and break the chain (webapp/domain/audit.py hashes member_id only
when it is set). The audit screen finds their member through object_type/object_id.

Revision ID: 0013_h13audit_member
Revises: 0013_h13a_unit_sort_path
Create Date: 2026-12-02 02:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_h13audit_member'
down_revision = '0013_h13a_unit_sort_path'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('member_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_audit_entry_member', ['member_id', 'id'], unique=False)
        batch_op.create_index('ix_audit_entry_action', ['action', 'id'], unique=False)
        batch_op.create_index('ix_audit_entry_username', ['username', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entry_username')
        batch_op.drop_index('ix_audit_entry_action')
        batch_op.drop_index('ix_audit_entry_member')
        batch_op.drop_column('member_id')
