"""Tamper-evident audit log: every entry carries the hash of the previous one, so changing,
inserting or deleting a row breaks the chain at that point (`flask audit verify`)."""

from __future__ import annotations

import hashlib
import json
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, text, tuple_
from sqlalchemy.orm import Session

from webapp.domain.bulk import insert_rows
from webapp.domain.commands import Requester, command
from webapp.domain.name_search import matches_words
from webapp.domain.vietnamese import search_tokens
from webapp.models.audit import AuditEntry
from webapp.models.member import Member

GENESIS = "0" * 64
HASHED_FIELDS = (
    "at",
    "user_id",
    "username",
    "address",
    "action",
    "object_type",
    "object_id",
    "before",
    "after",
)
# Columns added after the log began (migration 0013_h13audit_member): hashed only when set,
# so entries written before them verify as they were written, and setting or clearing one
# on any entry breaks the chain all the same.
LATER_HASHED_FIELDS = ("member_id",)


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    later = [[name, fields[name]] for name in LATER_HASHED_FIELDS if fields.get(name) is not None]
    payload = json.dumps(
        [prev_hash, *[fields.get(name) for name in HASHED_FIELDS], *later],
        ensure_ascii=False,
        default=str,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def to_json(values: dict[str, Any] | None) -> str | None:
    if values is None:
        return None
    return json.dumps(values, ensure_ascii=False, default=str, sort_keys=True)


def append(
    session: Session,
    action: str,
    *,
    object_type: str | None = None,
    object_id: Any = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    user_id: int | None = None,
    username: str | None = None,
    address: str | None = None,
    member_id: int | None = None,
) -> AuditEntry:
    """Add an entry in the caller's transaction (it commits or rolls back with the change).
    On PostgreSQL a transaction-scoped advisory lock keeps the chain linear. `member_id`:
    the member the entry concerns (an entry on a Member names it by itself); `address`
    defaults to the client address the web layer put in the session."""
    if member_id is None and object_type == "Member" and object_id is not None:
        member_id = int(object_id)
    if address is None:
        address = session.info.get("address")
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # Once per transaction (or savepoint: a rolled-back savepoint releases the locks
        # taken in it), not once per entry: a round of 5,000 proposals adds 5,000 entries.
        holder = connection.get_nested_transaction() or connection.get_transaction()
        locked = session.info.get("audit_locked_in")
        if locked is None or locked() is not holder:
            connection.execute(text("SELECT pg_advisory_xact_lock(728001)"))
            session.info["audit_locked_in"] = weakref.ref(holder)
    # Entries added but not yet flushed chain on to each other, in the order added.
    new = session.new  # built on each access: once here, not once per pending entry
    pending = [e for e in session.info.get("audit_pending", []) if e in new]
    with session.no_autoflush:
        prev = (
            pending[-1].hash
            if pending
            else session.scalar(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1))
        )
    fields = {
        "at": datetime.now().replace(microsecond=0),
        "user_id": user_id,
        "username": username,
        "address": address,
        "action": action,
        "object_type": object_type,
        "object_id": None if object_id is None else str(object_id),
        "before": to_json(before),
        "after": to_json(after),
        "member_id": member_id,
    }
    prev_hash = prev or GENESIS
    entry = AuditEntry(prev_hash=prev_hash, hash=entry_hash(prev_hash, fields), **fields)
    session.add(entry)
    session.info["audit_pending"] = [*pending, entry]
    return entry


def append_many(session: Session, entries: list[dict[str, Any]]) -> int:
    """Add many entries at once (a bulk import's records): one lock, one read of the last
    hash, the chain computed here and the rows inserted in batches. Each entry gives
    `append`'s keyword arguments (action, object_type, object_id, before, after, user_id,
    username, address, member_id). Returns the number written."""
    if not entries:
        return 0
    session.flush()  # entries the session holds come first in the chain
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(728001)"))
    prev_hash = (
        session.scalar(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)) or GENESIS
    )
    at = datetime.now().replace(microsecond=0)
    address = session.info.get("address")
    rows = []
    for entry in entries:
        object_id = entry.get("object_id")
        member_id = entry.get("member_id")
        if member_id is None and entry.get("object_type") == "Member" and object_id is not None:
            member_id = int(object_id)
        fields = {
            "at": at,
            "user_id": entry.get("user_id"),
            "username": entry.get("username"),
            "address": entry.get("address", address),
            "action": entry["action"],
            "object_type": entry.get("object_type"),
            "object_id": None if object_id is None else str(object_id),
            "before": to_json(entry.get("before")),
            "after": to_json(entry.get("after")),
            "member_id": member_id,
        }
        digest = entry_hash(prev_hash, fields)
        rows.append({**fields, "prev_hash": prev_hash, "hash": digest})
        prev_hash = digest
    insert_rows(session, AuditEntry.__table__, rows)
    return len(rows)


@dataclass(frozen=True)
class Download:
    """A file that leaves the system: a report run's file, a printer's data, an export.
    `what`: the report or export name; `parameters`: what chose its rows (day or period,
    occasion, …); lists in them are logged by their length."""

    what: str
    output_format: str
    rows: int | None
    unit_id: int | None = None
    unit_code: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    file_name: str | None = None


DOWNLOAD_ACTIONS = ("download", "export")  # through the web / written by the CLI


@command("report.download")
def log_download(
    session: Session,
    requester: Requester,
    download: Download,
    *,
    object_type: str | None = None,
    object_id: Any = None,
    action: str = "download",
) -> AuditEntry:
    """Write who took which file with which parameters: every download of a report file
    and every export goes through here (scans and photos have their own entries)."""
    if action not in DOWNLOAD_ACTIONS:
        raise ValueError(f"not a download action: {action!r}")
    parameters = {
        name: len(value) if isinstance(value, list | tuple | dict) else value
        for name, value in download.parameters.items()
    }
    after = {
        "report": download.what,
        **({"unit_id": download.unit_id} if download.unit_id is not None else {}),
        **({"unit": download.unit_code} if download.unit_code else {}),
        **parameters,
        "format": download.output_format,
        "rows": download.rows,
        "file": download.file_name,
    }
    return append(
        session,
        action,
        object_type=object_type,
        object_id=object_id,
        after=after,
        user_id=requester.user_id,
        username=requester.username,
    )


@dataclass(frozen=True)
class Break:
    entry_id: int
    reason: str


def verify(entries: Iterable[AuditEntry]) -> Break | None:
    """The first broken link of the chain (entries in id order), or None if it is whole."""
    expected_prev = GENESIS
    for entry in entries:
        if entry.prev_hash != expected_prev:
            return Break(
                entry.id, "previous-hash mismatch (an entry before it was removed or altered)"
            )
        fields = {name: getattr(entry, name) for name in (*HASHED_FIELDS, *LATER_HASHED_FIELDS)}
        if entry_hash(entry.prev_hash, fields) != entry.hash:
            return Break(entry.id, "content does not match its hash (the entry was altered)")
        expected_prev = entry.hash
    return None


def verify_log(session: Session) -> tuple[int, Break | None]:
    entries = session.scalars(
        select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=1000)
    )
    count = 0

    def counted():
        nonlocal count
        for entry in entries:
            count += 1
            yield entry

    result = verify(counted())
    return count, result


# --- Reading the log: the audit screen's filters -------------------------------------

# What a filter by action may also name: a group of actions.
ACTION_GROUPS = {
    # Who saw members' data: files taken away, photos and scans looked at.
    "seen": ("download", "export", "photo_view", "document_view"),
}
MEMBERS_MATCHED = 200  # a name shared by more members than this is too vague a filter


@dataclass(frozen=True)
class LogFilter:
    """What the audit screen narrows the log to; empty fields do not narrow it.
    `member_ids`: the members found for the member typed (members_matching)."""

    member_ids: tuple[int, ...] | None = None
    username: str | None = None
    action: str | None = None
    start: date | None = None
    end: date | None = None


def members_matching(session: Session, typed: str) -> list[int]:
    """The members a typed member number or name (diacritics optional) stands for: the
    member with that number if there is one, else those whose name has every word."""
    typed = typed.strip()
    exact = session.scalars(select(Member.id).where(Member.member_number == typed.upper())).all()
    if exact:
        return list(exact)
    query = select(Member.id)
    tokens = search_tokens(typed)
    if not tokens:
        return []
    query = query.where(matches_words(Member.search_key, tokens))
    return list(session.scalars(query.order_by(Member.id).limit(MEMBERS_MATCHED)))


def _conditions(wanted: LogFilter) -> list:
    conditions = []
    if wanted.member_ids is not None:
        ids = list(wanted.member_ids)
        conditions.append(
            or_(
                AuditEntry.member_id.in_(ids),
                # Entries written before member_id existed name the member as the record.
                and_(
                    AuditEntry.member_id.is_(None),
                    AuditEntry.object_type == "Member",
                    AuditEntry.object_id.in_([str(i) for i in ids]),
                ),
            )
        )
    if wanted.username:
        conditions.append(AuditEntry.username == wanted.username.strip())
    if wanted.action:
        actions = ACTION_GROUPS.get(wanted.action, (wanted.action,))
        conditions.append(AuditEntry.action.in_(actions))
    if wanted.start:
        conditions.append(AuditEntry.at >= datetime.combine(wanted.start, time.min))
    if wanted.end:
        conditions.append(
            AuditEntry.at < datetime.combine(wanted.end + timedelta(days=1), time.min)
        )
    return conditions


@dataclass(frozen=True)
class LogPage:
    entries: list[AuditEntry]
    newer: int | None  # give as `after` for the newer page; None: this is the newest
    older: int | None  # give as `before` for the older page; None: nothing older


def search_log(
    session: Session,
    wanted: LogFilter,
    *,
    before: int | None = None,
    after: int | None = None,
    size: int = 50,
) -> LogPage:
    """A page of matching entries, newest first, by keyset (no count and no OFFSET: the
    log grows by the million): `before` an id for older entries, `after` an id for newer
    ones. With days the order is (time, id), which the time index serves; otherwise the
    id, which the member, user and action indexes serve."""
    conditions = _conditions(wanted)
    by_time = wanted.start is not None or wanted.end is not None
    order = (AuditEntry.at, AuditEntry.id) if by_time else (AuditEntry.id,)

    def position(entry_id: int):
        if not by_time:
            return AuditEntry.id, entry_id
        at = session.scalar(select(AuditEntry.at).where(AuditEntry.id == entry_id))
        return tuple_(*order), (at, entry_id)

    if after is not None:
        key, value = position(after)
        rows = list(
            session.scalars(
                select(AuditEntry).where(*conditions, key > value).order_by(*order).limit(size + 1)
            )
        )
        more_newer = len(rows) > size
        rows = rows[:size][::-1]
        more_older = True
    else:
        query = select(AuditEntry).where(*conditions)
        if before is not None:
            key, value = position(before)
            query = query.where(key < value)
        rows = list(session.scalars(query.order_by(*(c.desc() for c in order)).limit(size + 1)))
        more_older = len(rows) > size
        rows = rows[:size]
        more_newer = before is not None
    if not rows:
        return LogPage([], None, None)
    return LogPage(
        rows,
        newer=rows[0].id if more_newer else None,
        older=rows[-1].id if more_older else None,
    )
