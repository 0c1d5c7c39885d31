"""Party age start on each membership period

Reports "as of" a past day need where Party age started during the period current on that
day; the member's own party_age_from is today's. Existing periods are filled by replaying
each member's ledger (plain SQL in, plain SQL out: the models may have moved on).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 01:10:00

"""
from itertools import groupby

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('member_period', schema=None) as batch_op:
        batch_op.add_column(sa.Column('party_age_from', sa.Date(), nullable=True))
    fill_party_age_from()


def fill_party_age_from():
    from webapp.domain.events import period_party_age_from
    from webapp.domain.ledger import LedgerEvent, replay

    connection = op.get_bind()
    starts = {
        row.id: row.start
        for row in connection.execute(
            sa.text("SELECT id, coalesce(admitted_on, card_issued_on) AS start FROM member")
        )
    }
    events = connection.execute(
        sa.text(
            "SELECT id, member_id, kind, effective_on, to_unit_id, reverses_id, arriving_as "
            "FROM member_event ORDER BY member_id, id"
        )
    )
    period = sa.table(
        'member_period',
        sa.column('member_id'),
        sa.column('starts_on', sa.Date),
        sa.column('party_age_from', sa.Date),
    )
    updates = []
    for member_id, rows in groupby(events, key=lambda row: row.member_id):
        ledger = [
            LedgerEvent(
                id=row.id,
                kind=row.kind,
                effective_on=as_date(row.effective_on),
                to_unit_id=row.to_unit_id,
                reverses_id=row.reverses_id,
                arriving_as=row.arriving_as,
            )
            for row in rows
        ]
        try:
            state = replay(ledger)
        except Exception:  # noqa: BLE001 - a ledger the rules refuse keeps NULL, as before
            continue
        counted_from = state.first_admitted_on or as_date(starts.get(member_id))
        for member_period in state.periods:
            value = period_party_age_from(member_period, state.gaps, counted_from)
            if value is not None:
                updates.append(
                    {"m": member_id, "s": member_period.starts_on, "v": value}
                )
    if updates:
        connection.execute(
            period.update()
            .where(
                period.c.member_id == sa.bindparam('m'),
                period.c.starts_on == sa.bindparam('s'),
            )
            .values(party_age_from=sa.bindparam('v')),
            updates,
        )


def as_date(value):
    """SQLite hands dates back as text."""
    from datetime import date

    return date.fromisoformat(value) if isinstance(value, str) else value


def downgrade():
    with op.batch_alter_table('member_period', schema=None) as batch_op:
        batch_op.drop_column('party_age_from')
