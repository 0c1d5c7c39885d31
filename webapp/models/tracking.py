"""Session hooks that keep derived member data honest on every save, whoever saves:
the history of changed fields, and the record's completeness level."""

from __future__ import annotations

from sqlalchemy import event, func, inspect, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from webapp.domain.completeness import completeness
from webapp.models.member import Member
from webapp.models.record import MEMBER_ROW_MODELS, FamilyRelation, MemberChange, WorkPeriod

# Fields whose changes are written to the member's history. Status, unit and the ledger
# dates have the ledger as their history; keys and counters are derived.
UNTRACKED = {
    "id",
    "status",
    "unit_id",
    "host_unit_id",
    "away",
    "activity",
    "admitted_on",
    "official_on",
    "party_age_from",
    "sort_key",
    "search_key",
    "created_at",
    "updated_at",
    "version_id",
    "completeness",
    "missing_fields",
}
TRACKED = [c.key for c in Member.__table__.columns if c.key not in UNTRACKED]


def _text(value) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


@event.listens_for(Session, "before_flush")
def _record_field_history(session: Session, flush_context, instances) -> None:
    for member in [obj for obj in session.dirty if isinstance(obj, Member)]:
        state = inspect(member)
        for key in TRACKED:
            history = state.attrs[key].history
            if not history.has_changes():
                continue
            old = history.deleted[0] if history.deleted else None
            new = history.added[0] if history.added else None
            if _text(old) == _text(new):
                continue
            session.add(
                MemberChange(
                    member_id=member.id,
                    field=key,
                    old_value=_text(old),
                    new_value=_text(new),
                    supplement_id=session.info.get("supplement_id"),
                    changed_by_id=session.info.get("user_id"),
                )
            )


@event.listens_for(Session, "after_flush")
def _refresh_completeness(session: Session, flush_context) -> None:
    member_ids = set()
    for obj in [*session.new, *session.dirty, *session.deleted]:
        if isinstance(obj, Member) and obj.id is not None:
            member_ids.add(obj.id)
        elif isinstance(obj, MEMBER_ROW_MODELS) and obj.member_id is not None:
            member_ids.add(obj.member_id)
    if not member_ids:
        return
    connection = session.connection()
    counts = {
        name: dict(
            connection.execute(
                select(model.member_id, func.count(model.id))
                .where(model.member_id.in_(member_ids))
                .group_by(model.member_id)
            ).all()
        )
        for name, model in (("work_periods", WorkPeriod), ("family_relations", FamilyRelation))
    }
    columns = Member.__table__.c
    for row in connection.execute(
        select(Member.__table__).where(columns.id.in_(member_ids))
    ).mappings():
        result = completeness(
            row, {name: by_member.get(row["id"], 0) for name, by_member in counts.items()}
        )
        missing = ",".join(result.missing) or None
        if (row["completeness"], row["missing_fields"]) == (result.level, missing):
            continue
        connection.execute(
            update(Member.__table__)
            .where(columns.id == row["id"])
            .values(completeness=result.level, missing_fields=missing)
        )
        cached = (
            session.identity_map.get((Member, (row["id"],), None))
            if hasattr(session, "identity_map")
            else None
        )
        member = (
            session.get(Member, row["id"], populate_existing=False) if cached is None else cached
        )
        if member is not None:
            set_committed_value(member, "completeness", result.level)
            set_committed_value(member, "missing_fields", missing)
