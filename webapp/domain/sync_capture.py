"""Change capture for packages (docs/sync.md, "What is captured"): every write to a synced
table leaves a row in sync_outbox in the SAME transaction, so nothing committed can be
missed and nothing rolled back is sent. The ORM's writes are caught by a session hook
(`register_capture`, installed by create_app beside webapp/domain/tracking.py's hooks);
writers that go around the ORM (bulk inserts, statements) call `record_changes`.

Capture starts once the instance has an identity (`flask sync init`): before that there is
no one to send to, and a full package carries everything there is."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import event, insert, inspect, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, scoped_session

from webapp.domain.bulk import insert_rows
from webapp.domain.sync_rows import SYNCED, TABLE_OF
from webapp.models.files import MemberDocument, MemberDocumentVersion
from webapp.models.member import Member
from webapp.models.sync import SyncIdentity
from webapp.models.sync_packages import OutboxOp, SyncOutbox

ACTIVE = "sync_capture_active"


# Databases (by URL) seen with the sync tables: a database still at an older revision
# (a migration test, an upgrade in progress) captures nothing instead of failing.
_MIGRATED: set[str] = set()


def _has_identity_table(connection) -> bool:
    url = str(connection.engine.url)
    if url not in _MIGRATED:
        if not sa_inspect(connection).has_table(SyncOutbox.__tablename__):
            return False
        _MIGRATED.add(url)
    return True


def capture_active(session: Session) -> bool:
    """Whether this instance captures changes (it has an identity); asked once per
    transaction."""
    if isinstance(session, scoped_session):
        session = session()
    transaction = session.get_transaction()
    cached = session.info.get(ACTIVE)
    if cached is not None and cached[0] is transaction:
        return cached[1]
    connection = session.connection()
    active = _has_identity_table(connection) and (
        connection.execute(select(SyncIdentity.id).limit(1)).first() is not None
    )
    session.info[ACTIVE] = (transaction, active)
    return active


def record_changes(
    session: Session,
    table_name: str,
    row_ids: Iterable[int],
    op: str = OutboxOp.UPSERT,
    *,
    member_id: int | None = None,
) -> int:
    """Capture changes written around the ORM (bulk inserts, UPDATE statements): one
    outbox row per id, in the caller's transaction. Returns how many were recorded."""
    if table_name not in SYNCED:
        raise ValueError(f"{table_name!r} is not a synced table")
    ids = list(row_ids)
    if not ids or not capture_active(session):
        return 0
    op = OutboxOp(op)
    insert_rows(
        session,
        SyncOutbox.__table__,
        [
            {"table_name": table_name, "row_id": row_id, "member_id": member_id, "op": op.value}
            for row_id in ids
        ],
    )
    return len(ids)


def _member_of(connection, obj) -> int | None:
    if isinstance(obj, Member):
        return obj.id
    if isinstance(obj, MemberDocumentVersion):
        document = obj.__dict__.get("document")
        if document is not None:
            return document.member_id
        return connection.execute(
            select(MemberDocument.member_id).where(MemberDocument.id == obj.document_id)
        ).scalar()
    return getattr(obj, "member_id", None)


def _capture(session: Session, flush_context) -> None:
    changes = []
    for op, objects, dirty in (
        (OutboxOp.UPSERT, session.new, False),
        (OutboxOp.UPSERT, session.dirty, True),
        (OutboxOp.DELETE, session.deleted, False),
    ):
        for obj in objects:
            table_name = TABLE_OF.get(type(obj))
            if table_name is None:
                continue
            if dirty and not session.is_modified(obj, include_collections=False):
                continue
            (row_id,) = inspect(obj).mapper.primary_key_from_instance(obj)
            if row_id is None:
                continue
            changes.append((table_name, row_id, obj, op))
    if not changes or not capture_active(session):
        return
    connection = session.connection()
    connection.execute(
        insert(SyncOutbox.__table__),
        [
            {
                "table_name": table_name,
                "row_id": row_id,
                "member_id": _member_of(connection, obj),
                "op": op.value,
            }
            for table_name, row_id, obj, op in changes
        ],
    )


def _forget_cache(session: Session, *args) -> None:
    session.info.pop(ACTIVE, None)


HOOKS = (
    (Session, "after_flush", _capture),
    (Session, "after_commit", _forget_cache),
    (Session, "after_rollback", _forget_cache),
)


def register_capture() -> None:
    """Install the capture hook once per process."""
    for target, name, hook in HOOKS:
        if not event.contains(target, name, hook):
            event.listen(target, name, hook)
