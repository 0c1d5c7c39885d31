"""Session hooks that keep derived member data honest on every save, whoever saves:
the stored name keys, the history of changed fields, the record's completeness level and
the audit log. `register_hooks()` installs them (create_app calls it); importing this module
registers nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import event, func, inspect, select, update
from sqlalchemy.orm import MANYTOONE, Session
from sqlalchemy.orm.attributes import set_committed_value

from webapp.domain.audit import append
from webapp.domain.completeness import completeness
from webapp.domain.vietnamese import name_sort_key, search_key
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


def member_keys(values) -> dict[str, str]:
    """The stored sort and search keys of a record's values (a mapping), computed in Python
    so that every backend sorts and searches alike."""
    display_name = values.get("name_in_use") or values.get("birth_name") or ""
    return {
        "sort_key": name_sort_key(display_name),
        "search_key": search_key(
            values.get("birth_name"),
            values.get("name_in_use"),
            values.get("alias"),
            values.get("member_number"),
            values.get("card_number"),
            values.get("citizen_id"),
        ),
    }


def _refresh_member_keys(mapper, connection, member: Member) -> None:
    keys = member_keys({c.key: getattr(member, c.key) for c in Member.__table__.columns})
    member.sort_key = keys["sort_key"]
    member.search_key = keys["search_key"]


def _who(session: Session) -> tuple[int | None, str | None]:
    """(user id, username) of whoever saves; the web layer puts a callable in session.info."""
    who = session.info.get("who")
    return who() if callable(who) else (None, None)


def _text(value) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


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
                    changed_by_id=_who(session)[0],
                )
            )


def _refresh_completeness(session: Session, flush_context) -> None:
    member_ids = set()
    for obj in [*session.new, *session.dirty, *session.deleted]:
        if isinstance(obj, Member) and obj.id is not None:
            member_ids.add(obj.id)
        elif isinstance(obj, MEMBER_ROW_MODELS) and obj.member_id is not None:
            member_ids.add(obj.member_id)
    refresh_completeness(session, member_ids)


def refresh_completeness(session: Session, member_ids: set[int]) -> None:
    """Store the completeness level of these records (the row counts it needs read in one
    query each), where it changed; the session's copies follow."""
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


# --- Audit log: every create, update and delete of the records people work on ---------


def audited_models() -> tuple[type, ...]:
    """The record types whose creates, updates and deletes are logged."""
    from webapp.models.badges import (
        BadgeAward,
        BadgeMilestone,
        BadgeOccasion,
        BadgeProposal,
        BadgeSetting,
    )
    from webapp.models.cards import CardProposal, CardProposalBatch, PartyCard
    from webapp.models.ledger import MemberEvent
    from webapp.models.record import MEMBER_ROW_MODELS, CatalogueEntry, MemberSupplement
    from webapp.models.report_run import ReportRun
    from webapp.models.unit import Unit
    from webapp.models.user import DangVienUser, Role

    return (
        Member,
        Unit,
        MemberEvent,
        MemberSupplement,
        CatalogueEntry,
        ReportRun,
        DangVienUser,
        Role,
        *MEMBER_ROW_MODELS,
        CardProposalBatch,
        CardProposal,
        PartyCard,
        BadgeMilestone,
        BadgeOccasion,
        BadgeSetting,
        BadgeProposal,
        BadgeAward,
    )


# Derived or secret columns stay out of the log.
NOT_LOGGED = UNTRACKED - {"id", "status", "unit_id", "admitted_on", "official_on"} | {
    "password",
    "changed_on",
    "last_login",
    "login_count",
    "fail_login_count",
    "totp_secret",  # the second factor's shared secret must not be readable in the log
}


def _values(obj) -> dict:
    state = inspect(obj)
    values = {}
    for attr in state.mapper.column_attrs:
        if attr.key in NOT_LOGGED:
            continue
        values[attr.key] = _text(getattr(obj, attr.key))
    if hasattr(obj, "permissions") and state.mapper.class_.__name__ == "Role":
        values["permissions"] = sorted(str(pv) for pv in obj.permissions)
    return values


def logged_values(model: type, values: Mapping[str, Any]) -> dict:
    """What the log keeps of a row written around the ORM (values by column key), as it
    keeps an object's on create (sync's bulk apply logs the units it writes so)."""
    return {
        attr.key: _text(values.get(attr.key))
        for attr in inspect(model).column_attrs
        if attr.key not in NOT_LOGGED
    }


def _key_of(row):
    """The row's primary key, read from the row: after the flush a new row has its key but
    not yet an identity (SQLAlchemy assigns that once after_flush has run)."""
    if row is None:
        return None
    (key,) = inspect(row).mapper.primary_key_from_instance(row)
    return key


def _changes(obj) -> tuple[dict, dict]:
    state = inspect(obj)
    before, after = {}, {}
    for attr in state.mapper.column_attrs:
        if attr.key in NOT_LOGGED:
            continue
        history = state.attrs[attr.key].history
        if history.has_changes() and _text(
            history.deleted[0] if history.deleted else None
        ) != _text(history.added[0] if history.added else None):
            before[attr.key] = _text(history.deleted[0] if history.deleted else None)
            after[attr.key] = _text(history.added[0] if history.added else None)
    # A reference set through its relationship (unit.parent = …, member.unit = …) reaches
    # its column only during the flush: log it under the column, by the referred row's key.
    for relation in state.mapper.relationships:
        if relation.direction is not MANYTOONE or len(relation.local_columns) != 1:
            continue
        history = state.attrs[relation.key].history
        (column,) = relation.local_columns
        key = state.mapper.get_property_by_column(column).key
        if not history.has_changes() or key in NOT_LOGGED or key in after:
            continue
        # Before the flush the column still holds the old key when the old row isn't loaded.
        old = _key_of(history.deleted[0]) if history.deleted else state.dict.get(key)
        new = _key_of(history.added[0]) if history.added else None
        if _text(old) != _text(new):
            before[key], after[key] = _text(old), _text(new)
    if state.mapper.class_.__name__ == "Role" and state.attrs["permissions"].history.has_changes():
        history = state.attrs["permissions"].history
        before["permissions"] = sorted(str(pv) for pv in [*history.unchanged, *history.deleted])
        after["permissions"] = sorted(str(pv) for pv in [*history.unchanged, *history.added])
    return before, after


def _capture_audit(session: Session, flush_context, instances) -> None:
    audited = audited_models()
    captured = session.info.setdefault("audit_captured", [])
    for obj in session.dirty:
        if isinstance(obj, audited) and session.is_modified(obj, include_collections=True):
            before, after = _changes(obj)
            if before or after:
                captured.append(("update", obj, before, after))
    for obj in session.deleted:
        if isinstance(obj, audited):
            captured.append(("delete", obj, _values(obj), None))
    for obj in session.new:
        if isinstance(obj, audited):
            captured.append(("create", obj, None, None))


def _write_audit(session: Session, flush_context) -> None:
    captured = session.info.pop("audit_captured", [])
    for action, obj, before, after in captured:
        append(
            session,
            action,
            object_type=type(obj).__name__,
            object_id=_key_of(obj),
            # A row of a member's form, an event, a card or a badge concerns that member.
            member_id=getattr(obj, "member_id", None),
            before=before,
            after=_values(obj) if action == "create" else after,
            user_id=_who(session)[0],
            username=_who(session)[1],
            address=session.info.get("address"),
        )


# On the Session class, not one session: the worker's, the CLI's and a test's own
# `Session(engine)` are covered too. Hooks on the same event run in the order listed.
HOOKS = (
    (Member, "before_insert", _refresh_member_keys),
    (Member, "before_update", _refresh_member_keys),
    (Session, "before_flush", _record_field_history),
    (Session, "after_flush", _refresh_completeness),
    (Session, "before_flush", _capture_audit),
    (Session, "after_flush", _write_audit),
)


def register_hooks() -> None:
    """Install the hooks once per process (create_app may run several times in one)."""
    for target, name, hook in HOOKS:
        if not event.contains(target, name, hook):
            event.listen(target, name, hook)
