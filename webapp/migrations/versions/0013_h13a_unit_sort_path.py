"""Units ordered by their code's parts: unit.sort_path

Lists, the tree and pick-lists ordered by the materialised id path showed NB.03 before
NB.01; sort_path holds each level's natural-order code key from the root down. Existing
units are filled from their codes, parents before children (plain SQL in and out; the key
function is the model's, which the hooks keep using).

Revision ID: 0013_h13a_unit_sort_path
Revises: 0013_worklist
Create Date: 2026-12-02 03:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0013_h13a_unit_sort_path'
down_revision = '0013_worklist'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('unit', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'sort_path',
                sa.String(length=1000).with_variant(sa.String(length=1000, collation='C'), 'postgresql'),
                nullable=False,
                server_default='',
            )
        )
    fill_sort_paths()
    with op.batch_alter_table('unit', schema=None) as batch_op:
        batch_op.alter_column('sort_path', server_default=None)
        batch_op.create_index(batch_op.f('ix_unit_sort_path'), ['sort_path'], unique=False)


def fill_sort_paths():
    from webapp.models.unit import code_sort_key

    connection = op.get_bind()
    units = connection.execute(sa.text("SELECT id, parent_id, code, path FROM unit")).all()
    # Shorter paths first: a parent's key is known before its children's.
    done: dict[int, str] = {}
    for unit in sorted(units, key=lambda u: u.path.count("/")):
        key = code_sort_key(unit.code)
        done[unit.id] = f"{done[unit.parent_id]} {key}" if unit.parent_id in done else key
    for unit_id, sort_path in done.items():
        connection.execute(
            sa.text("UPDATE unit SET sort_path = :sort_path WHERE id = :id"),
            {"sort_path": sort_path, "id": unit_id},
        )


def downgrade():
    with op.batch_alter_table('unit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unit_sort_path'))
        batch_op.drop_column('sort_path')
