"""Member imports from spreadsheets: the uploaded file and its dry run's plan

Revision ID: 0013_h16_member_import
Revises: 0013_h13audit_member
Create Date: 2026-12-02 02:50:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0013_h16_member_import'
down_revision = '0013_h13audit_member'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('member_import',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('file_path', sa.String(length=200), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('scope', sa.String(length=500), nullable=True),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('job_id', sa.String(length=64), nullable=True),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('new_count', sa.Integer(), nullable=False),
    sa.Column('update_count', sa.Integer(), nullable=False),
    sa.Column('unchanged_count', sa.Integer(), nullable=False),
    sa.Column('error_count', sa.Integer(), nullable=False),
    sa.Column('plan_hash', sa.String(length=64), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('error_params', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(), server_default=sa.func.now(), nullable=False),
    sa.Column('checked_at', sa.DateTime(), nullable=True),
    sa.Column('committed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['requested_by_id'], ['ab_user.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('member_import', schema=None) as batch_op:
        batch_op.create_index('ix_member_import_requester', ['requested_by_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_member_import_sha256'), ['sha256'], unique=False)

    op.create_table('member_import_row',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('sheet', sa.String(length=31), nullable=False),
    sa.Column('row', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=12), nullable=False),
    sa.Column('member_number', sa.String(length=16), nullable=True),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('fields', sa.JSON(), nullable=True),
    sa.Column('problems', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['import_id'], ['member_import.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('member_import_row', schema=None) as batch_op:
        batch_op.create_index('ix_member_import_row_import', ['import_id', 'position'], unique=False)
        batch_op.create_index('ix_member_import_row_outcome', ['import_id', 'outcome', 'position'], unique=False)


def downgrade():
    op.drop_table('member_import_row')
    op.drop_table('member_import')
