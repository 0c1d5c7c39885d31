"""Rows as they travel between instances (docs/sync.md, "Payload"), read from the schema.

A row travels as a dict of every column (dates and times in ISO form, ids and foreign
keys the SENDER's own), plus `_refs`: the natural keys of what it points at outside the
package (a unit's code, a document type's code), so the receiver can find them in its own
tree. The receiver keeps a map from the sender's ids to its own (`KeyMap`, table
sync_key_map) and applies rows through it (`apply_rows`).

A member travels with everything hanging from it (`member_rows`): when a package holds a
member's row, it holds the member's complete set of rows, and the receiver deletes those
of the member's rows the set no longer has (a rebuilt period, a removed work period).

`content_hash` is the same on two instances holding the same member: it leaves out local
ids and replaces references by natural keys (unit codes, the referred row's own content).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, DateTime, delete, insert, inspect, select, update
from sqlalchemy.orm import Session

from webapp.domain.errors import N_, DomainError
from webapp.models.badges import BadgeAward, BadgeProposal
from webapp.models.cards import PartyCard
from webapp.models.files import DocumentType, MemberDocument, MemberDocumentVersion, MemberPhoto
from webapp.models.ledger import MemberEvent, MemberPeriod
from webapp.models.member import Member
from webapp.models.record import MEMBER_ROW_MODELS, MemberChange, MemberSupplement
from webapp.models.sync_packages import SyncKeyMap
from webapp.models.unit import Unit, UnitChange

# Table name → model, in dependency order: what a row points at comes before it.
SYNCED: dict[str, type] = {
    "unit": Unit,
    "unit_change": UnitChange,
    "member": Member,
    **{model.__tablename__: model for model in MEMBER_ROW_MODELS},
    "member_supplement": MemberSupplement,
    "member_change": MemberChange,
    "member_event": MemberEvent,
    "member_period": MemberPeriod,
    "party_card": PartyCard,
    "badge_proposal": BadgeProposal,
    "badge_award": BadgeAward,
    "member_photo": MemberPhoto,
    "member_document": MemberDocument,
    "member_document_version": MemberDocumentVersion,
}
TABLE_OF = {model: name for name, model in SYNCED.items()}
UNIT_TABLES = ("unit", "unit_change")
# The tables of a member's rows (everything after "member" in SYNCED).
MEMBER_TABLES = tuple(name for name in SYNCED if name not in (*UNIT_TABLES, "member"))
# Rows that hang from a member through another row, not by member_id.
VIA_PARENT = {"member_document_version": ("document_id", "member_document")}
# Derived locally on every instance: never copied from the sender.
LOCAL_ONLY = {"unit": ("path", "sort_path")}
# Natural keys: a row the key map does not know yet may already be here under this key
# (the sender's root unit, a member entered on both sides before the first sync).
NATURAL_KEYS = {
    "unit": "code",
    "member": "member_number",
    "party_card": "number",
    "badge_award": "badge_number",
}
# Columns left out of the content hash: local bookkeeping, not the member's data.
UNHASHED = {"id", "created_at", "updated_at", "version_id", "path", "sort_path", "job_id"}

UNKNOWN_UNIT_CODE = N_(
    "The package refers to unit %(code)s, which this instance does not have (its own rows "
    "must come first, or the unit must be registered here)."
)
DANGLING = N_(
    "The package refers to a %(table)s row (id %(id)s) that it does not carry and that "
    "this instance has not received before."
)
UNKNOWN_TABLE = N_("The package carries rows of an unknown kind (%(table)s).")


@dataclass
class Counts:
    """Rows applied, per table: upserted (inserted or updated) and deleted."""

    upserted: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    deleted: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {"upserted": dict(self.upserted), "deleted": dict(self.deleted)}

    @property
    def total(self) -> int:
        return sum(self.upserted.values()) + sum(self.deleted.values())


# -- the schema, read once ---------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    column: str
    target: str  # a table name


def references(table_name: str) -> list[Reference]:
    """The foreign keys of a synced table (single-column ones, as declared on the model)."""
    table = SYNCED[table_name].__table__
    found = []
    for column in table.columns:
        for key in column.foreign_keys:
            found.append(Reference(column.name, key.column.table.name))
    return found


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def _column_value(column, value: Any) -> Any:
    """A JSON value back into what the column holds."""
    if value is None:
        return None
    if isinstance(column.type, DateTime) and isinstance(value, str):
        return datetime.fromisoformat(value)
    if isinstance(column.type, Date) and isinstance(value, str):
        return date.fromisoformat(value)
    return value


class _Lookups:
    """Unit codes and document type codes by id, loaded once per export."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._units: dict[int, str] | None = None
        self._types: dict[int, tuple[str, str]] | None = None

    def unit_code(self, unit_id: int) -> str | None:
        if self._units is None:
            self._units = dict(self.session.execute(select(Unit.id, Unit.code)).all())
        code = self._units.get(unit_id)
        if code is None:
            code = self.session.scalar(select(Unit.code).where(Unit.id == unit_id))
            self._units[unit_id] = code
        return code

    def document_type(self, type_id: int) -> tuple[str, str] | None:
        if self._types is None:
            self._types = {
                row.id: (row.code, row.name)
                for row in self.session.execute(
                    select(DocumentType.id, DocumentType.code, DocumentType.name)
                )
            }
        return self._types.get(type_id)


def _to_dict(table_name: str, values: Mapping[str, Any], lookups: _Lookups) -> dict:
    table = SYNCED[table_name].__table__
    row = {column.name: _json_value(values[column.name]) for column in table.columns}
    refs: dict[str, Any] = {}
    for reference in references(table_name):
        value = values[reference.column]
        if value is None:
            continue
        if reference.target == "unit":
            refs[reference.column] = lookups.unit_code(value)
        elif reference.target == "document_type":
            found = lookups.document_type(value)
            if found:
                refs[reference.column] = list(found)
    if refs:
        row["_refs"] = refs
    return row


def row_to_dict(row: Any) -> dict:
    """Every column of a synced row (dates ISO, foreign keys the sender's ids), and `_refs`:
    the codes of the units and document types it points at."""
    table_name = TABLE_OF[type(row)]
    session = inspect(row).session
    values = {
        c.name: getattr(row, inspect(row).mapper.get_property_by_column(c).key)
        for c in SYNCED[table_name].__table__.columns
    }
    return _to_dict(table_name, values, _Lookups(session))


def _select_rows(session: Session, table_name: str, where) -> list[Mapping[str, Any]]:
    table = SYNCED[table_name].__table__
    return list(session.execute(select(table).where(where).order_by(table.c.id)).mappings())


def _member_where(table_name: str, member_ids: list[int]):
    table = SYNCED[table_name].__table__
    if table_name == "member":
        return table.c.id.in_(member_ids)
    if table_name in VIA_PARENT:
        column, parent = VIA_PARENT[table_name]
        parent_table = SYNCED[parent].__table__
        return table.c[column].in_(
            select(parent_table.c.id).where(parent_table.c.member_id.in_(member_ids))
        )
    return table.c.member_id.in_(member_ids)


def member_rows(
    session: Session, member_ids: Iterable[int], *, lookups: _Lookups | None = None
) -> list[tuple[str, dict]]:
    """The members and everything hanging from them, in dependency order (all members'
    rows of one table before the next table's)."""
    ids = sorted(set(member_ids))
    lookups = lookups or _Lookups(session)
    out: list[tuple[str, dict]] = []
    for start in range(0, len(ids), 2000):
        chunk = ids[start : start + 2000]
        for table_name in ("member", *MEMBER_TABLES):
            for values in _select_rows(session, table_name, _member_where(table_name, chunk)):
                out.append((table_name, _to_dict(table_name, values, lookups)))
    return out


def unit_rows(
    session: Session, unit_ids: Iterable[int], *, lookups: _Lookups | None = None
) -> list[tuple[str, dict]]:
    """Units (parents before children) and their history rows."""
    ids = sorted(set(unit_ids))
    lookups = lookups or _Lookups(session)
    units = Unit.__table__
    found = list(
        session.execute(
            select(units).where(units.c.id.in_(ids)).order_by(units.c.path, units.c.id)
        ).mappings()
    )
    found.sort(key=lambda row: (row["path"].count("/"), row["id"]))
    out = [("unit", _to_dict("unit", row, lookups)) for row in found]
    changes = UnitChange.__table__
    for row in session.execute(
        select(changes).where(changes.c.unit_id.in_(ids)).order_by(changes.c.id)
    ).mappings():
        out.append(("unit_change", _to_dict("unit_change", row, lookups)))
    return out


# -- the content hash -------------------------------------------------------------------


def _canonical(table_name: str, values: Mapping[str, Any], lookups, hashes) -> dict:
    refs = {r.column: r.target for r in references(table_name)}
    out = {}
    for column in SYNCED[table_name].__table__.columns:
        name = column.name
        if name in UNHASHED or name == "member_id":
            continue
        value = values[name]
        target = refs.get(name)
        if target is None:
            out[name] = _json_value(value)
        elif value is None:
            out[name] = None
        elif target == "unit":
            out[name] = lookups.unit_code(value)
        elif target == "document_type":
            found = lookups.document_type(value)
            out[name] = found[0] if found else None
        elif target in SYNCED and target != "member":
            # The referred row by its own content (its hash), not its local id.
            out[name] = hashes.get((target, value))
        # References to users and other local bookkeeping are left out.
    return out


def content_hashes(session: Session, member_ids: Iterable[int]) -> dict[int, str]:
    """`content_hash` of several members at once (member id → hash)."""
    ids = sorted(set(member_ids))
    lookups = _Lookups(session)
    result: dict[int, str] = {}
    for member_id in ids:
        hashes: dict[tuple[str, int], str] = {}
        parts: dict[str, list[str]] = {}
        for table_name in ("member", *MEMBER_TABLES):
            texts = []
            for values in _select_rows(session, table_name, _member_where(table_name, [member_id])):
                canonical = json.dumps(
                    _canonical(table_name, values, lookups, hashes),
                    sort_keys=True,
                    ensure_ascii=False,
                    default=str,
                )
                hashes[(table_name, values["id"])] = hashlib.sha256(canonical.encode()).hexdigest()
                texts.append(canonical)
            parts[table_name] = sorted(texts)
        if not parts["member"]:
            continue
        result[member_id] = hashlib.sha256(
            json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()
        ).hexdigest()
    return result


def content_hash(session: Session, member_id: int) -> str:
    """A hash of one member's data, equal on two instances holding the same member."""
    return content_hashes(session, [member_id]).get(member_id, "")


def content_hash_by_number(session: Session, member_number: str) -> str:
    """`content_hash` of the member with this number here ("" when there is none)."""
    member_id = session.scalar(select(Member.id).where(Member.member_number == member_number))
    return content_hash(session, member_id) if member_id is not None else ""


# -- applying ---------------------------------------------------------------------------


class KeyMap:
    """The sender's ids and this instance's, per table, for one peer (sync_key_map)."""

    def __init__(self, session: Session, peer_id: int) -> None:
        self.session = session
        self.peer_id = peer_id
        self._cache: dict[tuple[str, int], int | None] = {}

    def preload(self, table_name: str, remote_ids: Iterable[int]) -> None:
        wanted = [i for i in set(remote_ids) if (table_name, i) not in self._cache]
        for start in range(0, len(wanted), 5000):
            chunk = wanted[start : start + 5000]
            found = dict(
                self.session.execute(
                    select(SyncKeyMap.remote_id, SyncKeyMap.local_id).where(
                        SyncKeyMap.peer_id == self.peer_id,
                        SyncKeyMap.table_name == table_name,
                        SyncKeyMap.remote_id.in_(chunk),
                    )
                ).all()
            )
            for remote in chunk:
                self._cache[(table_name, remote)] = found.get(remote)

    def local(self, table_name: str, remote_id: int) -> int | None:
        key = (table_name, remote_id)
        if key not in self._cache:
            self._cache[key] = self.session.scalar(
                select(SyncKeyMap.local_id).where(
                    SyncKeyMap.peer_id == self.peer_id,
                    SyncKeyMap.table_name == table_name,
                    SyncKeyMap.remote_id == remote_id,
                )
            )
        return self._cache[key]

    def remember(self, table_name: str, remote_id: int, local_id: int) -> None:
        known = self.local(table_name, remote_id)
        if known == local_id:
            return
        if known is None:
            self.session.execute(
                insert(SyncKeyMap).values(
                    peer_id=self.peer_id,
                    table_name=table_name,
                    remote_id=remote_id,
                    local_id=local_id,
                )
            )
        else:
            self.session.execute(
                update(SyncKeyMap)
                .where(
                    SyncKeyMap.peer_id == self.peer_id,
                    SyncKeyMap.table_name == table_name,
                    SyncKeyMap.remote_id == remote_id,
                )
                .values(local_id=local_id)
            )
        self._cache[(table_name, remote_id)] = local_id

    def forget_local(self, table_name: str, local_ids: Iterable[int]) -> None:
        ids = list(local_ids)
        if not ids:
            return
        self.session.execute(
            delete(SyncKeyMap).where(
                SyncKeyMap.peer_id == self.peer_id,
                SyncKeyMap.table_name == table_name,
                SyncKeyMap.local_id.in_(ids),
            )
        )
        gone = set(ids)
        for key, value in list(self._cache.items()):
            if key[0] == table_name and value in gone:
                self._cache[key] = None

    def remote_of(self, table_name: str, local_id: int) -> int | None:
        return self.session.scalar(
            select(SyncKeyMap.remote_id).where(
                SyncKeyMap.peer_id == self.peer_id,
                SyncKeyMap.table_name == table_name,
                SyncKeyMap.local_id == local_id,
            )
        )


class RowRefused(DomainError):
    """A row of a package that cannot be applied here (nothing of the package is)."""

    status_code = 422


def _unit_by_code(session: Session, code: str) -> int | None:
    return session.scalar(select(Unit.id).where(Unit.code == code))


def _document_type(session: Session, ref: list[str]) -> int:
    code, name = ref
    found = session.scalar(select(DocumentType.id).where(DocumentType.code == code))
    if found is not None:
        return found
    # Reference data flows down; a type the upper level lacks is created with its name.
    return session.execute(
        insert(DocumentType)
        .values(code=code, name=name, required=False, position=0, active=True)
        .returning(DocumentType.id)
    ).scalar_one()


def _remap(session: Session, keys: KeyMap, table_name: str, data: Mapping[str, Any]) -> dict:
    """The row's values with this instance's ids (the row's own id left out)."""
    table = SYNCED[table_name].__table__
    refs = data.get("_refs") or {}
    targets = {r.column: r.target for r in references(table_name)}
    values = {}
    for column in table.columns:
        name = column.name
        if name == "id" or name in LOCAL_ONLY.get(table_name, ()):
            continue
        if name not in data:
            continue
        value = data[name]
        target = targets.get(name)
        if target is not None and value is not None:
            if target == "unit":
                local = keys.local("unit", value)
                if local is None and refs.get(name):
                    local = _unit_by_code(session, refs[name])
                if local is None:
                    raise RowRefused(UNKNOWN_UNIT_CODE, code=refs.get(name) or f"#{value}")
                value = local
            elif target == "document_type":
                value = _document_type(session, refs[name]) if refs.get(name) else None
            elif target in SYNCED:
                local = keys.local(target, value)
                if local is None:
                    if column.nullable and target != "member":
                        local = None
                    else:
                        raise RowRefused(DANGLING, table=target, id=value)
                value = local
            else:
                # Users and other local bookkeeping of the sender mean nothing here.
                value = None
        values[name] = _column_value(column, value)
    return values


def _existing(session: Session, keys: KeyMap, table_name: str, data: Mapping[str, Any]):
    local = keys.local(table_name, data["id"])
    if local is not None:
        table = SYNCED[table_name].__table__
        if session.scalar(select(table.c.id).where(table.c.id == local)) is not None:
            return local
    natural = NATURAL_KEYS.get(table_name)
    if natural and data.get(natural) is not None:
        table = SYNCED[table_name].__table__
        return session.scalar(select(table.c.id).where(table.c[natural] == data[natural]))
    return None


def _apply_unit(session: Session, keys: KeyMap, data: Mapping[str, Any], root_code: str | None):
    """Units go through the ORM: their paths and sort paths are derived on save."""
    local = _existing(session, keys, "unit", data)
    values = _remap(session, keys, "unit", data)
    if data.get("code") == root_code:
        # The sender's own unit hangs here where this tree hangs it; its place is ours.
        values.pop("parent_id", None)
    values.pop("version_id", None)
    if local is None:
        unit = Unit(**{k: v for k, v in values.items() if k not in ("created_at", "updated_at")})
        session.add(unit)
        session.flush()
    else:
        unit = session.get(Unit, local)
        for key, value in values.items():
            if key in ("created_at", "updated_at"):
                continue
            if getattr(unit, key) != value:
                setattr(unit, key, value)
        session.flush()
    keys.remember("unit", data["id"], unit.id)
    return unit.id


def _upsert(session: Session, keys: KeyMap, table_name: str, data: Mapping[str, Any]) -> int:
    table = SYNCED[table_name].__table__
    local = _existing(session, keys, table_name, data)
    values = _remap(session, keys, table_name, data)
    if local is None:
        local = session.execute(insert(table).values(**values).returning(table.c.id)).scalar_one()
    else:
        session.execute(update(table).where(table.c.id == local).values(**values))
    keys.remember(table_name, data["id"], local)
    return local


def _delete_local(session: Session, keys: KeyMap, table_name: str, local_ids: list[int]) -> int:
    """Delete rows here, one by one where the table refers to itself (a reversal before the
    event it cancels, a re-issue before the award it replaces)."""
    if not local_ids:
        return 0
    table = SYNCED[table_name].__table__
    if table_name == "unit":
        for local in sorted(local_ids, reverse=True):
            unit = session.get(Unit, local)
            if unit is not None:
                session.delete(unit)
                session.flush()
    elif any(r.target == table_name for r in references(table_name)):
        for local in sorted(local_ids, reverse=True):
            session.execute(delete(table).where(table.c.id == local))
    else:
        session.execute(delete(table).where(table.c.id.in_(local_ids)))
    keys.forget_local(table_name, local_ids)
    return len(local_ids)


def _member_row_ids(session: Session, table_name: str, member_id: int) -> list[int]:
    table = SYNCED[table_name].__table__
    return list(session.scalars(select(table.c.id).where(_member_where(table_name, [member_id]))))


def _delete_member(session: Session, keys: KeyMap, member_id: int, counts: Counts) -> None:
    for table_name in reversed(MEMBER_TABLES):
        gone = _member_row_ids(session, table_name, member_id)
        counts.deleted[table_name] += _delete_local(session, keys, table_name, gone)
    members = Member.__table__
    session.execute(update(members).where(members.c.id == member_id).values(card_number=None))
    counts.deleted["member"] += _delete_local(session, keys, "member", [member_id])


def apply_rows(
    session: Session,
    peer: Any,
    rows: list[tuple[str, dict]],
    *,
    deletions: list[tuple[str, int]],
    root_code: str | None = None,
    changed: dict[str, set[int]] | None = None,
) -> Counts:
    """Upsert `rows` (the sender's, in dependency order) through the peer's key map, then
    delete `deletions` (the sender's table names and ids), inside the caller's transaction.

    A member's row comes with its complete set of rows: those of the member's rows here
    that the set does not hold are deleted. `root_code` is the sender's own unit (kept in
    its place here: the sender names it, this tree hangs it). `changed` collects the local
    ids written, per table (for the caller's own outbox)."""
    keys = KeyMap(session, peer.id)
    counts = Counts()
    changed = changed if changed is not None else defaultdict(set)
    root_code = root_code or getattr(peer, "unit_code", None)
    by_table: dict[str, list[int]] = defaultdict(list)
    for table_name, data in rows:
        if table_name not in SYNCED:
            raise RowRefused(UNKNOWN_TABLE, table=table_name)
        by_table[table_name].append(data["id"])
    for table_name, ids in by_table.items():
        keys.preload(table_name, ids)
    sent: dict[int, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    member_of: dict[int, int] = {}
    for table_name, data in rows:
        if table_name == "unit":
            local = _apply_unit(session, keys, data, root_code)
        else:
            local = _upsert(session, keys, table_name, data)
        counts.upserted[table_name] += 1
        changed.setdefault(table_name, set()).add(local)
        if table_name == "member":
            member_of[data["id"]] = local
            sent[local]  # noqa: B018 - the member's set exists, even empty
        elif table_name in MEMBER_TABLES:
            if table_name in VIA_PARENT:
                column, parent = VIA_PARENT[table_name]
                owner = session.scalar(
                    select(SYNCED[parent].__table__.c.member_id).where(
                        SYNCED[parent].__table__.c.id == keys.local(parent, data[column])
                    )
                )
            else:
                owner = keys.local("member", data["member_id"])
            sent[owner][table_name].add(local)
    # The member's rows the set no longer holds (reverse order: referrers first).
    for member_local, tables in sent.items():
        for table_name in reversed(MEMBER_TABLES):
            present = set(_member_row_ids(session, table_name, member_local))
            gone = sorted(present - tables.get(table_name, set()))
            counts.deleted[table_name] += _delete_local(session, keys, table_name, gone)
    order = {name: position for position, name in enumerate(SYNCED)}
    for table_name, remote in sorted(deletions, key=lambda d: (-order.get(d[0], 0), -d[1])):
        if table_name not in SYNCED:
            raise RowRefused(UNKNOWN_TABLE, table=table_name)
        local = keys.local(table_name, remote)
        if local is None:
            continue  # never received, or gone already: nothing to do
        if table_name == "member":
            _delete_member(session, keys, local, counts)
        else:
            counts.deleted[table_name] += _delete_local(session, keys, table_name, [local])
        changed.setdefault(table_name, set()).add(local)
    session.flush()
    return counts


def rows_checksum(rows: Iterable[Mapping[str, Any]]) -> str:
    """The checksum of a table's rows in a package (the manifest lists one per table)."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps(row, sort_keys=True, ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def referenced_units(rows: Iterable[tuple[str, Mapping[str, Any]]]) -> set[str]:
    """The unit codes the rows point at (the receiver checks they lie in the sender's
    subtree)."""
    codes = set()
    for _table, data in rows:
        for value in (data.get("_refs") or {}).values():
            if isinstance(value, str):
                codes.add(value)
    return codes


__all__ = [
    "SYNCED",
    "Counts",
    "KeyMap",
    "apply_rows",
    "content_hash",
    "content_hashes",
    "member_rows",
    "row_to_dict",
    "unit_rows",
]
