"""One truth for the card number: the card registry

The member record's card number and date become a copy of the member's current valid
card in `party_card`, written only by the card commands; the database holds it to that:
`member (id, card_number)` is a foreign key to `party_card (member_id, number)` (checked at
commit), and a member has at most one valid card.

Existing data: a number typed on a member record with no card in the registry gets its
registry row (valid; withdrawn for a member who left the Party; revoked when the member
already holds another valid card), so no number is lost and none is handed out again.
The registry's date may now be unknown (a card taken over from the paper record without
one). Plain SQL in, plain SQL out: the models may have moved on.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 09:00:00

"""
import logging

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
VALID, REVOKED, WITHDRAWN = "valid", "revoked", "withdrawn"
SECOND_VALID_NOTE = "Chuẩn hoá sổ thẻ: đảng viên còn một thẻ khác có hiệu lực"
LEFT_NOTE = "Chuẩn hoá sổ thẻ: đảng viên đã ra khỏi Đảng"


def upgrade():
    with op.batch_alter_table('party_card', schema=None) as batch_op:
        batch_op.alter_column('issued_on', existing_type=sa.Date(), nullable=True)
        batch_op.create_unique_constraint(
            'uq_party_card_member_number', ['member_id', 'number']
        )
    registry_for_record_numbers()
    with op.batch_alter_table('party_card', schema=None) as batch_op:
        batch_op.create_index(
            'ux_party_card_one_valid',
            ['member_id'],
            unique=True,
            postgresql_where=sa.text("state = 'valid'"),
            sqlite_where=sa.text("state = 'valid'"),
        )
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.create_foreign_key(
            'fk_member_card_party_card',
            'party_card',
            ['id', 'card_number'],
            ['member_id', 'number'],
            deferrable=True,
            initially='DEFERRED',
        )


def registry_for_record_numbers():
    connection = op.get_bind()
    cards = connection.execute(
        sa.text("SELECT id, member_id, number, issued_on, state FROM party_card ORDER BY id")
    ).all()
    owner = {card.number: card.member_id for card in cards}
    members = connection.execute(
        sa.text(
            "SELECT id, card_number, card_issued_on, status FROM member "
            "WHERE card_number IS NOT NULL OR id IN (SELECT member_id FROM party_card)"
        )
    ).all()
    record = {m.id: m for m in members}
    # A member with several valid cards keeps the one on the record, else the newest.
    held: dict[int, list] = {}
    for card in cards:
        if card.state == VALID:
            held.setdefault(card.member_id, []).append(card)
    current: dict[int, tuple] = {}  # member → (number, issued_on) of the valid card
    for member_id, valid in held.items():
        on_record = record[member_id].card_number
        valid.sort(key=lambda c: (c.number == on_record, str(c.issued_on or ""), c.id))
        for card in valid[:-1]:
            connection.execute(
                sa.text("UPDATE party_card SET state = :state, end_note = :note WHERE id = :id"),
                {"state": REVOKED, "note": SECOND_VALID_NOTE, "id": card.id},
            )
        current[member_id] = (valid[-1].number, valid[-1].issued_on)
    # Numbers typed on records with no card: into the registry.
    party_card = sa.table(
        'party_card',
        sa.column('member_id', sa.Integer),
        sa.column('number', sa.String),
        sa.column('issued_on'),  # as read: text on SQLite, a date on PostgreSQL
        sa.column('state', sa.String),
        sa.column('end_note', sa.String),
        sa.column('version_id', sa.Integer),
    )
    new_rows = []
    for member in members:
        number = member.card_number
        if number is None:
            continue
        if number in owner:
            if owner[number] != member.id:
                log.warning(
                    "member %s: card number %s on the record belongs to member %s in the "
                    "card registry; the record now shows its own registry card, if any",
                    member.id,
                    number,
                    owner[number],
                )
            continue
        if member.status == "left":
            state, note = WITHDRAWN, LEFT_NOTE
        elif member.id in current:
            state, note = REVOKED, SECOND_VALID_NOTE
        else:
            state, note = VALID, None
            current[member.id] = (number, member.card_issued_on)
        new_rows.append(
            {
                "member_id": member.id,
                "number": number,
                "issued_on": member.card_issued_on,
                "state": state,
                "end_note": note,
                "version_id": 1,
            }
        )
    if new_rows:
        op.bulk_insert(party_card, new_rows)
    # The record's copy: the current valid card, or none. Clear first, then set, so a
    # number moving between two records never collides on member.card_number's unique.
    changed = {
        m.id: current.get(m.id, (None, None))
        for m in members
        if (m.card_number, m.card_issued_on) != current.get(m.id, (None, None))
    }
    for member_id in changed:
        connection.execute(
            sa.text("UPDATE member SET card_number = NULL, card_issued_on = NULL WHERE id = :id"),
            {"id": member_id},
        )
    for member_id, (number, day) in changed.items():
        if number is not None:
            connection.execute(
                sa.text(
                    "UPDATE member SET card_number = :number, card_issued_on = :day WHERE id = :id"
                ),
                {"number": number, "day": day, "id": member_id},
            )


def downgrade():
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.drop_constraint('fk_member_card_party_card', type_='foreignkey')
    with op.batch_alter_table('party_card', schema=None) as batch_op:
        batch_op.drop_index('ux_party_card_one_valid')
    # The old schema wants a date on every card: a card taken over without one gets the
    # member's official (else admission) date, as the old commands did.
    op.execute(
        "UPDATE party_card SET issued_on = (SELECT coalesce(m.official_on, m.admitted_on) "
        "FROM member m WHERE m.id = party_card.member_id) WHERE issued_on IS NULL"
    )
    with op.batch_alter_table('party_card', schema=None) as batch_op:
        batch_op.drop_constraint('uq_party_card_member_number', type_='unique')
        batch_op.alter_column('issued_on', existing_type=sa.Date(), nullable=False)
