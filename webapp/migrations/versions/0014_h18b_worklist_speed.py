"""Worklist speed: the member's sort key on each item, list-order indexes, and the
counts per rule and unit subtree (work_count)

Revision ID: 0014_h18b_worklist_speed
Revises: 0014_sync_reference
Create Date: 2026-12-02 06:15:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0014_h18b_worklist_speed"
down_revision = "0014_sync_reference"
branch_labels = None
depends_on = None

SORT_KEY = sa.String(255).with_variant(sa.String(255, collation="C"), "postgresql")


def upgrade():
    with op.batch_alter_table("work_item") as batch:
        batch.add_column(sa.Column("sort_key", SORT_KEY, nullable=False, server_default=""))
    op.execute(
        "UPDATE work_item SET sort_key = "
        "(SELECT member.sort_key FROM member WHERE member.id = work_item.member_id)"
    )
    op.create_index("ix_work_item_rule_order", "work_item", ["rule", "due_on", "sort_key", "id"])
    op.create_index("ix_work_item_order", "work_item", ["due_on", "sort_key", "id"])
    op.create_table(
        "work_count",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "unit_id",
            sa.Integer(),
            sa.ForeignKey("unit.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("rule", sa.String(40), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.UniqueConstraint("unit_id", "rule", name="uq_work_count_unit_rule"),
    )
    # The counts of the items already found (the next refresh recomputes them anyway).
    connection = op.get_bind()
    paths = dict(connection.execute(sa.text("SELECT id, path FROM unit")).all())
    totals: dict[tuple[int, str], int] = {}
    for unit_id, rule, count in connection.execute(
        sa.text("SELECT unit_id, rule, count(*) FROM work_item GROUP BY unit_id, rule")
    ):
        for part in (paths.get(unit_id) or "").strip("/").split("/"):
            if part:
                key = (int(part), rule)
                totals[key] = totals.get(key, 0) + count
    if totals:
        connection.execute(
            sa.text("INSERT INTO work_count (unit_id, rule, items) VALUES (:u, :r, :n)"),
            [{"u": u, "r": r, "n": n} for (u, r), n in totals.items()],
        )


def downgrade():
    op.drop_table("work_count")
    op.drop_index("ix_work_item_order", table_name="work_item")
    op.drop_index("ix_work_item_rule_order", table_name="work_item")
    with op.batch_alter_table("work_item") as batch:
        batch.drop_column("sort_key")
