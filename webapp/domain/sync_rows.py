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
from functools import cache
from typing import Any

from sqlalchemy import (
    Date,
    DateTime,
    bindparam,
    delete,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.orm import Session

from webapp.domain.audit import append_many
from webapp.domain.bulk import among, insert_rows, next_ids
from webapp.domain.errors import N_, DomainError
from webapp.domain.tracking import logged_values
from webapp.models.badges import BadgeAward, BadgeProposal
from webapp.models.cards import PartyCard
from webapp.models.files import DocumentType, MemberDocument, MemberDocumentVersion, MemberPhoto
from webapp.models.ledger import MemberEvent, MemberPeriod
from webapp.models.member import Member
from webapp.models.record import MEMBER_ROW_MODELS, MemberChange, MemberSupplement
from webapp.models.sync_packages import SyncKeyMap
from webapp.models.unit import Unit, UnitChange, unit_path, unit_sort_path

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

# Ids per IN list and rows per batch when applying (well below the driver's 65,535
# parameters a statement).
CHUNK = 5000

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


@cache
def references(table_name: str) -> tuple[Reference, ...]:
    """The foreign keys of a synced table (single-column ones, as declared on the model)."""
    table = SYNCED[table_name].__table__
    found = []
    for column in table.columns:
        for key in column.foreign_keys:
            found.append(Reference(column.name, key.column.table.name))
    return tuple(found)


@cache
def _column_names(table_name: str) -> tuple[str, ...]:
    return tuple(column.name for column in SYNCED[table_name].__table__.columns)


@cache
def _natural_refs(table_name: str) -> tuple[tuple[str, str], ...]:
    """(column, target) of the references a row carries natural keys for in `_refs`."""
    return tuple(
        (r.column, r.target)
        for r in references(table_name)
        if r.target in ("unit", "document_type")
    )


def _json_value(value: Any) -> Any:
    if isinstance(value, (datetime, date)):  # noqa: UP038 - a tuple is faster, per value
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


def _in(session: Session | None, column, values: Iterable[Any]):
    """`column IN values` (webapp/domain/bulk.py `among`: one array parameter on
    PostgreSQL); a plain IN where no session says the dialect."""
    return column.in_(list(values)) if session is None else among(session, column, values)


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
    row = {}
    for name in _column_names(table_name):
        value = values[name]
        row[name] = (
            value if value is None or type(value) in (int, str, bool) else _json_value(value)
        )
    refs: dict[str, Any] = {}
    for column, target in _natural_refs(table_name):
        value = values[column]
        if value is None:
            continue
        if target == "unit":
            refs[column] = lookups.unit_code(value)
        else:
            found = lookups.document_type(value)
            if found:
                refs[column] = list(found)
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
    return session.execute(select(table).where(where).order_by(table.c.id)).mappings().all()


def _member_where(table_name: str, member_ids: list[int], session: Session | None = None):
    table = SYNCED[table_name].__table__
    if table_name == "member":
        return _in(session, table.c.id, member_ids)
    if table_name in VIA_PARENT:
        column, parent = VIA_PARENT[table_name]
        parent_table = SYNCED[parent].__table__
        return table.c[column].in_(
            select(parent_table.c.id).where(_in(session, parent_table.c.member_id, member_ids))
        )
    return _in(session, table.c.member_id, member_ids)


def member_rows(
    session: Session, member_ids: Iterable[int], *, lookups: _Lookups | None = None
) -> list[tuple[str, dict]]:
    """The members and everything hanging from them, in dependency order (all members'
    rows of one table before the next table's)."""
    ids = sorted(set(member_ids))
    lookups = lookups or _Lookups(session)
    out: list[tuple[str, dict]] = []
    for chunk in _chunks(ids):
        for table_name in ("member", *MEMBER_TABLES):
            for values in _select_rows(
                session, table_name, _member_where(table_name, chunk, session)
            ):
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
            select(units).where(_in(session, units.c.id, ids)).order_by(units.c.path, units.c.id)
        ).mappings()
    )
    found.sort(key=lambda row: (row["path"].count("/"), row["id"]))
    out = [("unit", _to_dict("unit", row, lookups)) for row in found]
    changes = UnitChange.__table__
    for row in session.execute(
        select(changes).where(_in(session, changes.c.unit_id, ids)).order_by(changes.c.id)
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
        elif target not in ("unit", "document_type") and not (
            target in SYNCED and target != "member"
        ):
            # References to users and other local bookkeeping are left out, set or not.
            continue
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
                        _in(self.session, SyncKeyMap.remote_id, chunk),
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

    def remember_many(self, table_name: str, pairs: Iterable[tuple[int, int]]) -> None:
        """`remember` for many rows: the new pairs inserted and the changed ones updated,
        each in one batch."""
        pairs = dict(pairs)
        self.preload(table_name, pairs)
        new, moved = [], []
        for remote, local in pairs.items():
            known = self._cache.get((table_name, remote))
            if known == local:
                continue
            entry = {"remote_id": remote, "local_id": local}
            (new if known is None else moved).append(entry)
            self._cache[(table_name, remote)] = local
        insert_rows(
            self.session,
            SyncKeyMap.__table__,
            [{"peer_id": self.peer_id, "table_name": table_name, **entry} for entry in new],
        )
        table = SyncKeyMap.__table__
        for chunk in _chunks(moved, 1000):
            self.session.execute(
                update(table)
                .where(
                    table.c.peer_id == self.peer_id,
                    table.c.table_name == table_name,
                    table.c.remote_id == bindparam("remote_id"),
                )
                .values(local_id=bindparam("local_id")),
                chunk,
            )

    def forget_local(self, table_name: str, local_ids: Iterable[int]) -> None:
        ids = list(local_ids)
        if not ids:
            return
        self.session.execute(
            delete(SyncKeyMap).where(
                SyncKeyMap.peer_id == self.peer_id,
                SyncKeyMap.table_name == table_name,
                _in(self.session, SyncKeyMap.local_id, ids),
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


def _chunks(items: Iterable[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start : start + size]


@cache
def _columns(table_name: str) -> tuple[tuple[str, Any, str | None], ...]:
    """(name, column, referred table) of the columns a row's values are written to."""
    targets = {r.column: r.target for r in references(table_name)}
    return tuple(
        (column.name, column, targets.get(column.name))
        for column in SYNCED[table_name].__table__.columns
        if column.name != "id" and column.name not in LOCAL_ONLY.get(table_name, ())
    )


@cache
def _self_references(table_name: str) -> tuple[str, ...]:
    return tuple(r.column for r in references(table_name) if r.target == table_name)


class _Applier:
    """One package's rows applied set-wise: per table, the key map and the rows already
    here read in a few queries, references remapped in Python, new rows inserted in
    batches (ids returned in order) and the others updated in batches; a table's rows
    that point at others of the same table new in the package are written after them."""

    def __init__(self, session: Session, keys: KeyMap, root_code: str | None) -> None:
        self.session = session
        self.keys = keys
        self.root_code = root_code
        self.unit_codes: dict[str, int | None] = {}
        self.document_types: dict[str, int] = {}

    # -- look-ups, once per package --

    def preload(self, rows: list[tuple[str, dict]]) -> None:
        """The key map for every id the rows carry or point at, and the units they name."""
        wanted: dict[str, set[int]] = defaultdict(set)
        codes: set[str] = set()
        for table_name, data in rows:
            wanted[table_name].add(data["id"])
            refs = data.get("_refs") or {}
            for name, _column, target in _columns(table_name):
                value = data.get(name)
                if target is None or value is None:
                    continue
                if target in SYNCED:
                    wanted[target].add(value)
                if target == "unit" and isinstance(refs.get(name), str):
                    codes.add(refs[name])
            if table_name == "unit" and data.get("code"):
                codes.add(data["code"])
        for table_name, ids in wanted.items():
            self.keys.preload(table_name, ids)
        units = Unit.__table__
        for chunk in _chunks(sorted(codes)):
            self.unit_codes.update(
                self.session.execute(
                    select(units.c.code, units.c.id).where(_in(self.session, units.c.code, chunk))
                ).all()
            )

    def unit_by_code(self, code: str) -> int | None:
        if code not in self.unit_codes:
            self.unit_codes[code] = _unit_by_code(self.session, code)
        return self.unit_codes[code]

    def document_type(self, ref: list[str]) -> int:
        code = ref[0]
        if code not in self.document_types:
            self.document_types[code] = _document_type(self.session, ref)
        return self.document_types[code]

    def remap(self, table_name: str, data: Mapping[str, Any]) -> dict:
        """The row's values with this instance's ids (the row's own id left out)."""
        refs = data.get("_refs") or {}
        keys = self.keys
        values = {}
        for name, column, target in _columns(table_name):
            if name not in data:
                continue
            value = data[name]
            if target is not None and value is not None:
                if target == "unit":
                    local = keys.local("unit", value)
                    if local is None and refs.get(name):
                        local = self.unit_by_code(refs[name])
                    if local is None:
                        raise RowRefused(UNKNOWN_UNIT_CODE, code=refs.get(name) or f"#{value}")
                    value = local
                elif target == "document_type":
                    value = self.document_type(refs[name]) if refs.get(name) else None
                elif target in SYNCED:
                    local = keys.local(target, value)
                    if local is None and not (column.nullable and target != "member"):
                        raise RowRefused(DANGLING, table=target, id=value)
                    value = local
                else:
                    # Users and other local bookkeeping of the sender mean nothing here.
                    value = None
            values[name] = _column_value(column, value)
        return values

    def existing(self, table_name: str, rows: list[dict]) -> dict[int, int]:
        """The sender's id → the local id, of the rows already here (by the key map, else
        by the natural key)."""
        table = SYNCED[table_name].__table__
        mapped = {}
        for data in rows:
            local = self.keys.local(table_name, data["id"])
            if local is not None:
                mapped[data["id"]] = local
        present: set[int] = set()
        for chunk in _chunks(sorted(set(mapped.values()))):
            present.update(
                self.session.scalars(select(table.c.id).where(_in(self.session, table.c.id, chunk)))
            )
        found = {remote: local for remote, local in mapped.items() if local in present}
        natural = NATURAL_KEYS.get(table_name)
        if natural:
            wanted = {
                data[natural]: data["id"]
                for data in rows
                if data["id"] not in found and data.get(natural) is not None
            }
            for chunk in _chunks(sorted(wanted)):
                for value, local in self.session.execute(
                    select(table.c[natural], table.c.id).where(
                        _in(self.session, table.c[natural], chunk)
                    )
                ):
                    found[wanted[value]] = local
        return found

    @staticmethod
    def levels(table_name: str, rows: list[dict], found: Mapping[int, int]) -> list[list[dict]]:
        """The rows in waves: a row pointing at another of the same table that is new in
        the package comes in a later wave than it (package order kept within a wave)."""
        columns = _self_references(table_name)
        if not columns:
            return [rows]
        new = {data["id"]: data for data in rows if data["id"] not in found}
        level: dict[int, int] = {}

        def level_of(data: dict, seen: frozenset[int] = frozenset()) -> int:
            remote = data["id"]
            if remote in level:
                return level[remote]
            depth = 0
            for column in columns:
                target = data.get(column)
                if target in new and target not in seen and target != remote:
                    depth = max(depth, level_of(new[target], seen | {remote}) + 1)
            level[remote] = depth
            return depth

        waves: dict[int, list[dict]] = defaultdict(list)
        for data in rows:
            waves[level_of(data)].append(data)
        return [waves[n] for n in sorted(waves)]

    # -- writing --

    def reserve_ids(self, table_name: str, count: int) -> list[int] | None:
        """On PostgreSQL, `count` ids from the table's own sequence (the rows are then
        inserted with them, in one prepared statement); None elsewhere."""
        if not count or self.session.get_bind().dialect.name != "postgresql":
            return None
        return next_ids(self.session, SYNCED[table_name].__table__, count)

    def insert(
        self, table_name: str, items: list[tuple[dict, dict]], ids: list[int] | None = None
    ) -> list[int]:
        """Insert rows (data, values), in batches of rows with the same columns; the new
        local ids, in the items' order (`ids`: reserved by `reserve_ids`)."""
        table = SYNCED[table_name].__table__
        ids = ids or self.reserve_ids(table_name, len(items))
        by_columns: dict[tuple[str, ...], list[int]] = defaultdict(list)
        for position, (_data, values) in enumerate(items):
            by_columns[tuple(values)].append(position)
        if ids is not None:
            for positions in by_columns.values():
                insert_rows(self.session, table, [{"id": ids[p], **items[p][1]} for p in positions])
            return ids
        found: list[int | None] = [None] * len(items)
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        for positions in by_columns.values():
            result = self.session.execute(statement, [items[p][1] for p in positions])
            for position, (local,) in zip(positions, result.all(), strict=True):
                found[position] = local
        return found  # type: ignore[return-value]

    def update(self, table_name: str, items: list[tuple[int, dict]]) -> None:
        """Update rows (local id, values) by id, in batches of rows with the same columns."""
        table = SYNCED[table_name].__table__
        by_columns: dict[tuple[str, ...], list[dict]] = defaultdict(list)
        for local, values in items:
            by_columns[tuple(values)].append({**values, "_sync_local_id": local})
        for params in by_columns.values():
            for chunk in _chunks(params, 1000):
                self.session.execute(
                    update(table).where(table.c.id == bindparam("_sync_local_id")), chunk
                )

    def apply_table(self, table_name: str, rows: list[dict]) -> dict[int, int]:
        """Upsert one table's rows; the sender's id → the local id of each."""
        found = self.existing(table_name, rows)
        written: dict[int, int] = {}
        for wave in self.levels(table_name, rows, found):
            inserts, updates = [], []
            for data in wave:
                values = self.remap(table_name, data)
                local = found.get(data["id"])
                if local is None:
                    inserts.append((data, values))
                else:
                    updates.append((local, values))
                    written[data["id"]] = local
            new_ids = self.insert(table_name, inserts) if inserts else []
            for (data, _values), local in zip(inserts, new_ids, strict=True):
                written[data["id"]] = local
            if updates:
                self.update(table_name, updates)
            self.keys.remember_many(table_name, [(d["id"], written[d["id"]]) for d in wave])
        return written

    def apply_units(self, rows: list[dict]) -> tuple[dict[int, int], list[int]]:
        """Upsert units: new ones inserted in batches, parents before children, their paths
        derived as the Unit model derives them, logged as the ORM would; a
        unit already here that differs goes through the ORM (its events rewrite the
        subtree's paths on a move or a new code). The sender's id → the local id, and the
        ids of the new units."""
        table = Unit.__table__
        found = self.existing("unit", rows)
        written: dict[int, int] = {}
        paths: dict[int, tuple[str, str]] = {}
        created: list[int] = []
        audit: list[dict] = []
        current: dict[int, Mapping[str, Any]] = {}
        for chunk in _chunks(sorted(set(found.values()))):
            for row in self.session.execute(
                select(table).where(_in(self.session, table.c.id, chunk))
            ).mappings():
                current[row["id"]] = row
        for wave in self.levels("unit", rows, found):
            inserts, changed = [], []
            for data in wave:
                values = self.remap("unit", data)
                if data.get("code") == self.root_code:
                    # The sender's own unit hangs here where this tree hangs it.
                    values.pop("parent_id", None)
                for name in ("version_id", "created_at", "updated_at"):
                    values.pop(name, None)
                local = found.get(data["id"])
                if local is None:
                    inserts.append((data, values))
                else:
                    written[data["id"]] = local
                    row = current.get(local) or {}
                    if any(row.get(k) != v for k, v in values.items()):
                        changed.append((local, values))
            parents = {v.get("parent_id") for _d, v in inserts} - {None} - set(paths)
            for chunk in _chunks(sorted(parents)):
                for unit_id, path, sort_path in self.session.execute(
                    select(table.c.id, table.c.path, table.c.sort_path).where(
                        _in(self.session, table.c.id, chunk)
                    )
                ):
                    paths[unit_id] = (path, sort_path)
            reserved = self.reserve_ids("unit", len(inserts))
            for position, (_data, values) in enumerate(inserts):
                parent = paths.get(values.get("parent_id")) if values.get("parent_id") else None
                values["sort_path"] = unit_sort_path(parent[1] if parent else None, values["code"])
                # Its path needs its id: reserved here, or set below once inserted.
                values["path"] = (
                    unit_path(parent[0] if parent else None, reserved[position]) if reserved else ""
                )
            new_ids = self.insert("unit", inserts, reserved) if inserts else []
            path_updates = []
            for (data, values), local in zip(inserts, new_ids, strict=True):
                parent = paths.get(values.get("parent_id")) if values.get("parent_id") else None
                if not reserved:
                    values["path"] = unit_path(parent[0] if parent else None, local)
                    path_updates.append({"_sync_local_id": local, "path": values["path"]})
                paths[local] = (values["path"], values["sort_path"])
                written[data["id"]] = local
                created.append(local)
                audit.append(
                    {
                        "action": "create",
                        "object_type": "Unit",
                        "object_id": local,
                        "after": logged_values(Unit, {**values, "id": local, "version_id": 1}),
                    }
                )
            for chunk in _chunks(path_updates, 1000):
                self.session.execute(
                    update(table).where(table.c.id == bindparam("_sync_local_id")), chunk
                )
            for local, values in changed:
                unit = self.session.get(Unit, local)
                for key, value in values.items():
                    if getattr(unit, key) != value:
                        setattr(unit, key, value)
                self.session.flush()
                paths[local] = (unit.path, unit.sort_path)
            self.keys.remember_many("unit", [(d["id"], written[d["id"]]) for d in wave])
        if created:
            who = self.session.info.get("who")
            user_id, username = who() if callable(who) else (None, None)
            for entry in audit:
                entry.update(user_id=user_id, username=username)
            append_many(self.session, audit)
        return written, created

    def members_rows_here(self, table_name: str, member_ids: list[int]) -> set[int]:
        table = SYNCED[table_name].__table__
        found: set[int] = set()
        for chunk in _chunks(member_ids):
            found.update(
                self.session.scalars(
                    select(table.c.id).where(_member_where(table_name, chunk, self.session))
                )
            )
        return found


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
    elif _self_references(table_name):
        for local in sorted(local_ids, reverse=True):
            session.execute(delete(table).where(table.c.id == local))
    else:
        for chunk in _chunks(local_ids):
            session.execute(delete(table).where(_in(session, table.c.id, chunk)))
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
    delete `deletions` (the sender's table names and ids), inside the caller's transaction
    (a row refused raises RowRefused: the caller rolls back, nothing is applied).

    A member's row comes with its complete set of rows: those of the member's rows here
    that the set does not hold are deleted. `root_code` is the sender's own unit (kept in
    its place here: the sender names it, this tree hangs it). `changed` collects the local
    ids written, per table: the caller records them in its own outbox (rows are written
    around the ORM, new units included; a unit saved through the ORM is captured twice,
    which changes nothing).

    Set-wise: each table's rows (in SYNCED's dependency order) are read, remapped and
    written in batches (`_Applier`), not one by one."""
    keys = KeyMap(session, peer.id)
    counts = Counts()
    changed = changed if changed is not None else defaultdict(set)
    root_code = root_code or getattr(peer, "unit_code", None)
    by_table: dict[str, list[dict]] = defaultdict(list)
    for table_name, data in rows:
        if table_name not in SYNCED:
            raise RowRefused(UNKNOWN_TABLE, table=table_name)
        by_table[table_name].append(data)
    for table_name, _remote in deletions:
        if table_name not in SYNCED:
            raise RowRefused(UNKNOWN_TABLE, table=table_name)
    applier = _Applier(session, keys, root_code)
    applier.preload(rows)
    members_sent: set[int] = set()
    sent: dict[str, set[int]] = defaultdict(set)
    for table_name in SYNCED:
        items = by_table.get(table_name)
        if not items:
            continue
        if table_name == "unit":
            written, _created = applier.apply_units(items)
        else:
            written = applier.apply_table(table_name, items)
        counts.upserted[table_name] += len(items)
        changed.setdefault(table_name, set()).update(written.values())
        if table_name == "member":
            members_sent.update(written.values())
        elif table_name in MEMBER_TABLES:
            sent[table_name].update(written.values())
    # The members' rows the sets no longer hold (reverse order: referrers first).
    if members_sent:
        member_ids = sorted(members_sent)
        for table_name in reversed(MEMBER_TABLES):
            gone = sorted(applier.members_rows_here(table_name, member_ids) - sent[table_name])
            counts.deleted[table_name] += _delete_local(session, keys, table_name, gone)
    order = {name: position for position, name in enumerate(SYNCED)}
    for table_name, remote in sorted(deletions, key=lambda d: (-order.get(d[0], 0), -d[1])):
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


def prune_subtree(
    session: Session,
    peer: Any,
    root_path: str,
    changed: dict[str, set[int]],
    counts: Counts,
) -> int:
    """After a FULL package (a re-seed): the members and units of the sender's subtree
    here that the package no longer carries are deleted, members first, then units from
    the deepest up (never the sender's own unit). A row something else here still points
    at (a unit in another member's history, a member with local work attached) is kept:
    each deletion runs in a savepoint. Returns how many were kept so; the deleted ids go
    into `changed` (they travel on up as deletions)."""
    from sqlalchemy.exc import IntegrityError

    keys = KeyMap(session, peer.id)
    units = Unit.__table__
    members = Member.__table__
    inside = units.c.path.startswith(root_path, autoescape=True)
    sent_members = changed.get("member") or set()
    stale_members = [
        member_id
        for member_id in session.scalars(
            select(members.c.id)
            .select_from(members.join(units, units.c.id == members.c.unit_id))
            .where(inside)
            .order_by(members.c.id)
        )
        if member_id not in sent_members
    ]
    kept = 0
    for member_id in stale_members:
        try:
            with session.begin_nested():
                _delete_member(session, keys, member_id, counts)
        except IntegrityError:
            kept += 1
            continue
        changed.setdefault("member", set()).add(member_id)
    sent_units = changed.get("unit") or set()
    stale_units = [
        (unit_id, path)
        for unit_id, path in session.execute(
            select(units.c.id, units.c.path).where(inside, units.c.path != root_path)
        )
        if unit_id not in sent_units
    ]
    for unit_id, _path in sorted(stale_units, key=lambda u: (-u[1].count("/"), -u[0])):
        try:
            with session.begin_nested():
                counts.deleted["unit"] += _delete_local(session, keys, "unit", [unit_id])
        except IntegrityError:
            kept += 1
            continue
        changed.setdefault("unit", set()).add(unit_id)
    return kept


def rows_checksum(rows: Iterable[Mapping[str, Any]]) -> str:
    """The checksum of a table's rows in a package (the manifest lists one per table)."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps(row, sort_keys=True, ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def encode_rows(rows: Iterable[tuple[str, Mapping[str, Any]]]) -> tuple[str, dict[str, str]]:
    """The package's `rows` as JSON text and each table's `rows_checksum`, every row
    encoded once (its checksum text is its text in the package)."""
    encode = json.JSONEncoder(sort_keys=True, ensure_ascii=False).encode
    digests: dict[str, Any] = {}
    parts = []
    for table_name, row in rows:
        text = encode(row)
        digest = digests.get(table_name)
        if digest is None:
            digest = digests[table_name] = hashlib.sha256()
        digest.update(text.encode())
        digest.update(b"\n")
        parts.append(f'["{table_name}",{text}]')
    return "[" + ",".join(parts) + "]", {name: d.hexdigest() for name, d in digests.items()}


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
