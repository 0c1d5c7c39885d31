"""Packages up the tree (docs/sync.md): a downstream exports what changed in its subtree,
numbered in sequence, signed and sealed for its upstream; the upstream applies it in one
transaction, idempotently, or refuses it whole with a message; its signed receipt marks
the package delivered downstream.

Commands: `export_package` (Admin/System), `apply_package` (the sender's Sync account,
Admin/System), `accept_receipt` (Admin/System). Adapters (HTTP, CLI, jobs) pass the
instance key seed (webapp/sync_keys.py) and, for files, the FileStore.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from webapp.domain.audit import append
from webapp.domain.commands import Requester, command, in_transaction, transaction
from webapp.domain.errors import N_, DomainError, Forbidden, NotFound
from webapp.domain.sync_capture import record_changes
from webapp.domain.sync_envelope import (
    EnvelopeRefused,
    check_inner_sender,
    normalise_public_key,
    open_envelope,
    read_header,
    seal,
    sign_only,
)
from webapp.domain.sync_files import DamagedFile, files_of, store_files
from webapp.domain.sync_rows import (
    MEMBER_TABLES,
    SYNCED,
    UNIT_TABLES,
    VIA_PARENT,
    KeyMap,
    _in,
    _Lookups,
    apply_rows,
    encode_rows,
    member_rows,
    prune_subtree,
    unit_rows,
)
from webapp.domain.sync_setup import is_known_sender, peer_by_key, require_identity, upstream
from webapp.models.audit import AuditEntry
from webapp.models.member import Member
from webapp.models.sync import PeerKind, SyncPeer
from webapp.models.sync_packages import (
    OutboxOp,
    PackageDirection,
    PackageState,
    SyncOutbox,
    SyncPackage,
)
from webapp.models.unit import Unit

# The payload layout this version writes; READERS read every layout it ever wrote.
FORMAT_VERSION = 1
PACKAGE_KINDS = ("delta", "full")
FILE_SUFFIX = ".dvpkg"
RECEIPT_SUFFIX = ".dvrcpt"
# Any two-level key that no other part of DangVien takes (pg_advisory_xact_lock).
EXPORT_LOCK = 0x44565359  # "DVSY"
STALE_DAYS = 7
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

NO_UPSTREAM = N_(
    "This instance has no upstream yet: run `flask --app wsgi sync upstream set` first."
)
NOT_A_DOWNSTREAM = N_(
    "The package comes from %(unit)s, which is registered here as a %(kind)s, not as a "
    "downstream: only a downstream's packages are applied."
)
NOT_THE_SENDER = N_(
    "This account may not apply packages of %(unit)s: only that downstream's own Sync "
    "account (or an Admin) may."
)
WRONG_KIND = N_("This file is a “%(kind)s”, not a package of changes.")
CORRUPT = N_("The package's contents cannot be read (it is damaged). Nothing was applied.")
NEWER_FORMAT = N_(
    "The package was written in format %(format)s; this version reads up to %(known)s. "
    "Upgrade DangVien to read it. Nothing was applied."
)
NEWER_SCHEMA = N_(
    "The package was written by a newer DangVien (database revision %(revision)s, which "
    "this version does not know). Upgrade DangVien to read it. Nothing was applied."
)
GAP = N_(
    "Package %(sequence)s of %(unit)s cannot be applied yet: package(s) %(missing)s have "
    "not arrived. Send the missing packages first. Nothing was applied."
)
UNIT_OUTSIDE = N_(
    "The package holds unit %(code)s, which lies outside %(owner)s, the subtree the sender "
    "owns here. Nothing was applied."
)
MEMBER_OUTSIDE = N_(
    "The package holds member %(code)s, whose record lies outside %(owner)s, the subtree "
    "the sender owns here. Nothing was applied."
)
NO_UNIT = N_("The downstream %(unit)s has no unit here: register it again with its unit code.")
BAD_RECEIPT = N_("This file is not a receipt from the upstream. Nothing was marked.")
UNKNOWN_RECEIPT = N_(
    "The receipt is for package %(sequence)s, which this instance did not send "
    "(or whose contents differ). Nothing was marked."
)


class PackageRefused(DomainError):
    """A package that is not applied (nothing of it is); the message says why."""

    status_code = 422


@dataclass(frozen=True)
class ExportedPackage:
    sequence: int
    kind: str
    data: bytes  # the sealed file for the upstream
    counts: dict[str, int]
    sha256: str
    package_id: int
    unit_code: str

    @property
    def file_name(self) -> str:
        return package_file_name(self.unit_code, self.sequence)

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def size_text(self) -> str:
        size = len(self.data)
        return f"{size / 1048576:.1f} MB" if size >= 1048576 else f"{max(size // 1024, 1)} kB"


@dataclass(frozen=True)
class AppliedPackage:
    sequence: int
    state: str  # "applied" or "duplicate"
    counts: dict[str, Any]
    receipt: bytes
    sender_unit: str = ""


@dataclass(frozen=True)
class PackageInfo:
    sequence: int | None
    kind: str
    state: str
    size: int
    created_at: datetime
    delivered_at: datetime | None = None
    reason: str | None = None
    reason_params: dict | None = None


@dataclass
class PeerStatus:
    peer_id: int
    kind: str
    unit_code: str
    name: str | None
    last_sent: PackageInfo | None = None
    last_received: PackageInfo | None = None
    pending: list[PackageInfo] = field(default_factory=list)
    refused: list[PackageInfo] = field(default_factory=list)
    stale: bool = False
    # Changes captured here and not yet in a package (for the upstream).
    unsent_changes: int = 0


def package_file_name(unit_code: str, sequence: int) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", unit_code or "central")
    return f"{safe}-{sequence:06d}{FILE_SUFFIX}"


@cache
def known_revisions() -> frozenset[str]:
    """Every database revision this version's migrations know (a package from a revision
    outside them comes from a newer version)."""
    from alembic.script import ScriptDirectory

    return frozenset(r.revision for r in ScriptDirectory(str(MIGRATIONS)).walk_revisions())


def schema_revision(session: Session) -> str:
    """The database revision (the alembic head applied here)."""
    found = session.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return ",".join(sorted(found))


def _audit_head(session: Session) -> str | None:
    return session.scalar(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1))


def _lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": EXPORT_LOCK})


def _subtree_units(session: Session, root: Unit | None) -> list[int]:
    query = select(Unit.id)
    if root is not None:
        query = query.where(Unit.path.startswith(root.path, autoescape=True))
    return list(session.scalars(query))


# -- export ------------------------------------------------------------------------------


def _pending_changes(session: Session, sequence: int) -> list[tuple[str, int, int | None, str]]:
    """Take the outbox rows not yet packaged, marking them for `sequence` in the same
    statement (a change committing meanwhile is left for the next package, not lost)."""
    outbox = SyncOutbox.__table__
    taken = session.execute(
        update(outbox)
        .where(outbox.c.package_sequence.is_(None))
        .values(package_sequence=sequence)
        .returning(outbox.c.table_name, outbox.c.row_id, outbox.c.member_id, outbox.c.op)
    ).all()
    return [tuple(row) for row in taken]


def _members_of(session: Session, changes) -> set[int]:
    members: set[int] = set()
    unknown: dict[str, set[int]] = defaultdict(set)
    for table_name, row_id, member_id, _op in changes:
        if table_name == "member":
            members.add(row_id)
        elif table_name in MEMBER_TABLES:
            if member_id is not None:
                members.add(member_id)
            else:
                unknown[table_name].add(row_id)
    for table_name, ids in unknown.items():
        table = SYNCED[table_name].__table__
        if table_name in VIA_PARENT:
            column, parent = VIA_PARENT[table_name]
            parent_table = SYNCED[parent].__table__
            query = (
                select(parent_table.c.member_id)
                .select_from(table.join(parent_table, table.c[column] == parent_table.c.id))
                .where(_in(session, table.c.id, ids))
            )
        else:
            query = select(table.c.member_id).where(_in(session, table.c.id, ids))
        members.update(session.scalars(query))
    return members


@command("sync.export")
def export_package(
    session: Session,
    requester: Requester,
    *,
    seed: bytes,
    full: bool = False,
    files: Any = None,
) -> ExportedPackage | None:
    """The next package for the upstream: every change captured since the last package
    (`full`: every row of the instance's subtree), sealed for the upstream's key and kept
    as a pending package until its receipt comes back. None when there is nothing to send.
    `files` (a FileStore) also carries the photos' and scans' files."""
    me = require_identity(session)
    up = upstream(session)
    if up is None:
        raise NotFound(NO_UPSTREAM)
    _lock(session)
    sequence = (
        session.scalar(
            select(func.max(SyncPackage.sequence)).where(
                SyncPackage.direction == PackageDirection.OUT
            )
        )
        or 0
    ) + 1
    changes = _pending_changes(session, sequence)
    if not changes and not full:
        return None
    root = me.unit
    in_scope = set(_subtree_units(session, root))
    lookups = _Lookups(session)
    deletions: list[tuple[str, int]] = []
    scope_query = select(Unit.id)
    if root is not None:
        scope_query = scope_query.where(Unit.path.startswith(root.path, autoescape=True))
    if full:
        unit_ids = in_scope
        members = set(session.scalars(select(Member.id).where(Member.unit_id.in_(scope_query))))
        unit_change_ids: set[int] = set()
    else:
        unit_ids = {row_id for t, row_id, _m, _o in changes if t == "unit"}
        unit_change_ids = {row_id for t, row_id, _m, _o in changes if t == "unit_change"}
        members = _members_of(session, changes)
    existing_units = (
        set(session.scalars(select(Unit.id).where(_in(session, Unit.id, unit_ids))))
        if unit_ids
        else set()
    )
    deletions += [("unit", i) for i in sorted(unit_ids - existing_units)]
    # A unit's history rows travel with the unit; those of other units on their own.
    if unit_change_ids:
        changes_table = SYNCED["unit_change"].__table__
        found = dict(
            session.execute(
                select(changes_table.c.id, changes_table.c.unit_id).where(
                    _in(session, changes_table.c.id, unit_change_ids)
                )
            ).all()
        )
        deletions += [("unit_change", i) for i in sorted(unit_change_ids - set(found))]
        existing_units |= {u for u in found.values() if u in in_scope}
    rows = unit_rows(session, existing_units & in_scope, lookups=lookups)
    if full:
        present = gone = members  # read just now, by the scope
    else:
        present, gone = set(), set()
        for chunk in _chunked(sorted(members)):
            for member_id, unit_id in session.execute(
                select(Member.id, Member.unit_id).where(_in(session, Member.id, chunk))
            ):
                gone.add(member_id)
                if unit_id in in_scope:
                    present.add(member_id)
    deletions += [("member", i) for i in sorted(members - gone)]
    rows += member_rows(session, present, lookups=lookups)
    if not rows and not deletions and not full:
        return None  # the changes concerned nothing this instance sends up
    carried_files = files_of(rows, files) if files is not None else {}
    by_table: dict[str, list[dict]] = defaultdict(list)
    for table_name, data in rows:
        by_table[table_name].append(data)
    counts = {name: len(items) for name, items in by_table.items()}
    rows_text, checksums = encode_rows(rows)
    if deletions:
        counts["deletions"] = len(deletions)
    kind = "full" if full else "delta"
    manifest = {
        "format": FORMAT_VERSION,
        "schema": schema_revision(session),
        "kind": kind,
        "sender_key": me.public_key,
        "sender_unit": me.unit_code,
        "recipient_key": up.public_key,
        "sequence": sequence,
        # The sequence range the package covers (a package is one number; a later format
        # may batch several).
        "sequences": [sequence, sequence],
        "created_at": datetime.now().isoformat(timespec="seconds"),
        "counts": counts,
        "checksums": checksums,
        "audit_head": _audit_head(session),
        "changes": len(changes),
    }
    # The payload's JSON put together around the rows' text (each row encoded once).
    compact = {"ensure_ascii": False, "separators": (",", ":")}
    payload = (
        f'{{"manifest":{json.dumps(manifest, **compact)},"rows":{rows_text},'
        f'"deletions":{json.dumps([[t, i] for t, i in deletions], **compact)},'
        f'"files":{json.dumps(carried_files, **compact)}}}'
    )
    body = gzip.compress(payload.encode(), compresslevel=6, mtime=0)
    data = seal(
        body,
        kind=kind,
        sender_seed=seed,
        recipient_key=up.public_key,
        header={"sequence": sequence, "sender_unit": me.unit_code, "format": FORMAT_VERSION},
    )
    digest = hashlib.sha256(data).hexdigest()
    package = SyncPackage(
        peer_id=up.id,
        sender_key=me.public_key,
        direction=PackageDirection.OUT,
        kind=kind,
        sequence=sequence,
        state=PackageState.PENDING,
        size=len(data),
        sha256=digest,
        counts=counts,
        data=data,
    )
    session.add(package)
    session.flush()
    return ExportedPackage(
        sequence=sequence,
        kind=kind,
        data=data,
        counts=counts,
        sha256=digest,
        package_id=package.id,
        unit_code=me.unit_code or "central",
    )


# -- reading a package -------------------------------------------------------------------


@dataclass(frozen=True)
class Contents:
    manifest: dict[str, Any]
    rows: list[tuple[str, dict]]
    deletions: list[tuple[str, int]]
    files: dict[str, str]


def _read_format_1(payload: dict[str, Any]) -> Contents:
    rows = [(str(name), data) for name, data in payload["rows"]]
    deletions = [(str(name), int(row_id)) for name, row_id in payload.get("deletions", [])]
    for _name, data in rows:
        if not isinstance(data, dict) or not isinstance(data.get("id"), int):
            raise ValueError("row without an id")
    return Contents(payload["manifest"], rows, deletions, dict(payload.get("files") or {}))


# Every payload format ever written, and how this version reads it.
READERS = {1: _read_format_1}


def read_contents(body: bytes) -> Contents:
    """The payload of an opened package: gzip'd JSON in the format its manifest names."""
    try:
        payload = json.loads(gzip.decompress(body).decode())
        manifest = payload["manifest"]
        version = int(manifest["format"])
    except (OSError, EOFError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise PackageRefused(CORRUPT) from None
    if version > FORMAT_VERSION:
        raise PackageRefused(NEWER_FORMAT, format=version, known=FORMAT_VERSION)
    reader = READERS.get(version)
    if reader is None:
        raise PackageRefused(CORRUPT)
    try:
        return reader(payload)
    except (ValueError, KeyError, TypeError):
        raise PackageRefused(CORRUPT) from None


def _missing_text(first: int, last: int) -> str:
    if first == last:
        return str(first)
    if last - first < 5:
        return ", ".join(str(n) for n in range(first, last + 1))
    return f"{first}–{last}"


def _last_applied(session: Session, peer: SyncPeer) -> int:
    return (
        session.scalar(
            select(func.max(SyncPackage.sequence)).where(
                SyncPackage.peer_id == peer.id,
                SyncPackage.direction == PackageDirection.IN,
                SyncPackage.state == PackageState.APPLIED,
            )
        )
        or 0
    )


def _receipt(seed: bytes, *, sender_key: str, sequence: int, sha256: str, state: str) -> bytes:
    from webapp.domain.sync_envelope import public_key

    body = {
        "receipt": 1,
        "sender_key": sender_key,
        "receiver_key": public_key(seed),
        "sequence": sequence,
        "sha256": sha256,
        "state": state,
        "at": datetime.now().isoformat(timespec="seconds"),
    }
    return sign_only(json.dumps(body, sort_keys=True).encode(), kind="receipt", sender_seed=seed)


def _check_subtree(session: Session, keys: KeyMap, peer: SyncPeer, contents: Contents) -> None:
    """Every unit and member the package holds must lie in the sender's subtree here
    (checked before anything is written: a row matched by its code or number elsewhere in
    the tree is not the sender's to change). The units and members concerned are read in
    a few queries, then checked in the package's order."""
    root = peer.unit
    if root is None:
        raise PackageRefused(NO_UNIT, unit=peer.unit_code)
    units = [data for name, data in contents.rows if name == "unit"]
    members = [data for name, data in contents.rows if name == "member"]
    keys.preload(
        "unit", [d["id"] for d in units] + [d["parent_id"] for d in units if d.get("parent_id")]
    )
    keys.preload("member", [d["id"] for d in members])
    # Units here by id and by code: (id, code, path).
    unit_ids = {keys.local("unit", d["id"]) for d in units}
    unit_ids |= {keys.local("unit", d["parent_id"]) for d in units if d.get("parent_id")}
    unit_ids.discard(None)
    codes = {d.get("code") for d in units} | {
        (d.get("_refs") or {}).get("parent_id") for d in units
    }
    codes.discard(None)
    by_id: dict[int, str] = {}
    by_code: dict[str, tuple[int, str]] = {}
    unit_table = Unit.__table__
    for chunk in _chunked(sorted(unit_ids)):
        by_id.update(
            session.execute(
                select(unit_table.c.id, unit_table.c.path).where(
                    _in(session, unit_table.c.id, chunk)
                )
            ).all()
        )
    for chunk in _chunked(sorted(codes)):
        for unit_id, code, path in session.execute(
            select(unit_table.c.id, unit_table.c.code, unit_table.c.path).where(
                _in(session, unit_table.c.code, chunk)
            )
        ):
            by_code[code] = (unit_id, path)

    def inside(path: str) -> bool:
        return path.startswith(root.path)

    def here(local: int | None, code: str | None) -> str | None:
        """The path of the unit here (by the key map's id, else by its code), or None."""
        if local:
            return by_id.get(local)
        found = by_code.get(code) if code else None
        return found[1] if found else None

    package_codes = {d.get("code") for d in units}
    for data in units:
        code = data.get("code")
        path = here(keys.local("unit", data["id"]), code)
        if path is not None and not inside(path):
            raise PackageRefused(UNIT_OUTSIDE, code=code, owner=root.code)
        if path is None and code != root.code:
            # A new unit hangs below a unit of the subtree (or a new one before it).
            parent_code = (data.get("_refs") or {}).get("parent_id")
            parent = keys.local("unit", data["parent_id"]) if data.get("parent_id") else None
            parent_path = here(parent, parent_code)
            if parent_path is not None and not inside(parent_path):
                raise PackageRefused(UNIT_OUTSIDE, code=code, owner=root.code)
            if parent_path is None and parent_code not in package_codes:
                raise PackageRefused(UNIT_OUTSIDE, code=code, owner=root.code)
    # Members here by id and by number: their unit's path.
    member_table, local_ids, numbers = Member.__table__, set(), set()
    for data in members:
        local = keys.local("member", data["id"])
        if local:
            local_ids.add(local)
        elif data.get("member_number"):
            numbers.add(data["member_number"])
    member_paths: dict[Any, str] = {}
    # A member without a unit is nobody's subtree: outside.
    joined = member_table.outerjoin(unit_table, unit_table.c.id == member_table.c.unit_id)
    for column, wanted in ((member_table.c.id, local_ids), (member_table.c.member_number, numbers)):
        for chunk in _chunked(sorted(wanted)):
            for key, path in session.execute(
                select(column, unit_table.c.path)
                .select_from(joined)
                .where(_in(session, column, chunk))
            ):
                member_paths[key] = path or ""
    for data in members:
        local = keys.local("member", data["id"])
        path = member_paths.get(local) if local else member_paths.get(data.get("member_number"))
        if path is not None and not inside(path):
            raise PackageRefused(MEMBER_OUTSIDE, code=data.get("member_number"), owner=root.code)


def _chunked(items: list, size: int = 5000):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _check_written(session: Session, peer: SyncPeer, changed: dict[str, set[int]]) -> None:
    """After the rows are written (still inside the transaction): every unit written and
    every member's unit lie in the sender's subtree."""
    root = peer.unit
    inside = Unit.path.startswith(root.path, autoescape=True)
    unit_ids = changed.get("unit") or set()
    if unit_ids:
        outside = session.scalar(
            select(Unit.code).where(_in(session, Unit.id, unit_ids), ~inside).limit(1)
        )
        if outside is not None:
            raise PackageRefused(UNIT_OUTSIDE, code=outside, owner=root.code)
    member_ids = changed.get("member") or set()
    if member_ids:
        outside = session.scalar(
            select(Member.member_number)
            .where(
                _in(session, Member.id, member_ids),
                ~Member.unit_id.in_(select(Unit.id).where(inside)),
            )
            .limit(1)
        )
        if outside is not None:
            raise PackageRefused(MEMBER_OUTSIDE, code=outside, owner=root.code)


@command("sync.apply")
def apply_received(
    session: Session, requester: Requester, data: bytes, *, seed: bytes, files: Any = None
) -> AppliedPackage:
    opened = open_envelope(data, recipient_seed=seed, is_known_sender=is_known_sender(session))
    peer = peer_by_key(session, opened.sender)
    if peer.kind != PeerKind.DOWNSTREAM:
        raise PackageRefused(NOT_A_DOWNSTREAM, unit=peer.unit_code, kind=peer.kind)
    if not requester.is_admin and (requester.user_id is None or requester.user_id != peer.user_id):
        raise Forbidden(NOT_THE_SENDER, unit=peer.unit_code)
    if opened.kind not in PACKAGE_KINDS:
        raise PackageRefused(WRONG_KIND, kind=opened.kind)
    contents = read_contents(opened.payload)
    manifest = contents.manifest
    check_inner_sender(opened, manifest)
    revision = str(manifest.get("schema") or "")
    unknown = [r for r in revision.split(",") if r and r not in known_revisions()]
    if unknown:
        raise PackageRefused(NEWER_SCHEMA, revision=", ".join(unknown))
    try:
        sequence = int(manifest["sequence"])
    except (KeyError, TypeError, ValueError):
        raise PackageRefused(CORRUPT) from None
    digest = hashlib.sha256(data).hexdigest()
    last = _last_applied(session, peer)
    if sequence <= last:
        # Applied already (or covered by a later full package): nothing changes.
        return AppliedPackage(
            sequence=sequence,
            state="duplicate",
            counts={},
            receipt=_receipt(
                seed,
                sender_key=peer.public_key,
                sequence=sequence,
                sha256=digest,
                state="duplicate",
            ),
            sender_unit=peer.unit_code,
        )
    if sequence > last + 1 and opened.kind != "full":
        raise PackageRefused(
            GAP,
            sequence=sequence,
            unit=peer.unit_code,
            missing=_missing_text(last + 1, sequence - 1),
        )
    keys = KeyMap(session, peer.id)
    _check_subtree(session, keys, peer, contents)
    changed: dict[str, set[int]] = {}
    counts = apply_rows(
        session,
        peer,
        contents.rows,
        deletions=contents.deletions,
        root_code=manifest.get("sender_unit") or peer.unit_code,
        changed=changed,
    )
    if opened.kind == "full":
        # A re-seed: what the subtree here holds beyond the package is gone downstream.
        kept = prune_subtree(session, peer, peer.unit.path, changed, counts)
        if kept:
            counts.deleted["kept"] = kept
    _check_written(session, peer, changed)
    # What arrived is this instance's change too: it goes on up (province → centre).
    member_ids = set(changed.get("member") or ())
    record_changes(session, "member", sorted(member_ids))
    for table_name in UNIT_TABLES:
        record_changes(session, table_name, sorted(changed.get(table_name) or ()))
    try:
        stored = store_files(contents.files, files) if files is not None else 0
    except DamagedFile:
        raise PackageRefused(CORRUPT) from None
    summary = counts.as_dict()
    if stored:
        summary["files"] = stored
    receipt = _receipt(
        seed, sender_key=peer.public_key, sequence=sequence, sha256=digest, state="applied"
    )
    package = SyncPackage(
        peer_id=peer.id,
        sender_key=peer.public_key,
        direction=PackageDirection.IN,
        kind=opened.kind,
        sequence=sequence,
        state=PackageState.APPLIED,
        size=len(data),
        sha256=digest,
        counts=summary,
        receipt=receipt,
        delivered_at=datetime.now(),
    )
    session.add(package)
    session.flush()
    append(
        session,
        "sync.apply",
        object_type="SyncPackage",
        object_id=package.id,
        after={"unit": peer.unit_code, "sequence": sequence, "kind": opened.kind, **summary},
        user_id=requester.user_id,
        username=requester.username,
    )
    return AppliedPackage(
        sequence=sequence,
        state="applied",
        counts=summary,
        receipt=receipt,
        sender_unit=peer.unit_code,
    )


def apply_package(
    session: Session, requester: Requester, data: bytes, *, seed: bytes, files: Any = None
) -> AppliedPackage:
    """Check and apply a package from a downstream in one transaction, or refuse it whole
    (DomainError with the reason; the refusal is then recorded for the status screen in a
    transaction of its own). A package applied already answers "duplicate" and changes
    nothing; either way the answer carries a signed receipt."""
    try:
        return apply_received(session, requester, data, seed=seed, files=files)
    except DomainError as error:
        # A refusal of the package (not of the requester) is shown on the status screen.
        if not in_transaction(session) and not isinstance(error, Forbidden):
            try:
                header = read_header(data)
            except EnvelopeRefused:
                header = {}
            record_refusal(session, header.get("sender"), header, error)
        raise


apply_package.action = "sync.apply"  # type: ignore[attr-defined]


def record_refusal(
    session: Session, sender_key_or_peer: Any, header: dict[str, Any] | None, message: Any
) -> SyncPackage:
    """Note a refused package for the status screen, in a short transaction of its own
    (after the refused one rolled back). `message`: a DomainError or a msgid."""
    header = header or {}
    if isinstance(message, DomainError):
        reason, params = message.message, dict(message.params)
    else:
        reason, params = str(message), {}
    peer = sender_key_or_peer if isinstance(sender_key_or_peer, SyncPeer) else None
    key = peer.public_key if peer else sender_key_or_peer
    with transaction(session):
        if peer is None and isinstance(key, str):
            try:
                peer = peer_by_key(session, normalise_public_key(key))
            except DomainError:
                peer = None
        sequence = header.get("sequence")
        refused = SyncPackage(
            peer_id=peer.id if peer else None,
            sender_key=(key or "")[:80] or None,
            direction=PackageDirection.IN,
            kind=str(header.get("kind") or "delta")[:12],
            sequence=sequence if isinstance(sequence, int) else None,
            state=PackageState.REFUSED,
            size=0,
            reason=reason[:500],
            reason_params={k: str(v) for k, v in params.items()},
        )
        session.add(refused)
        session.flush()
    return refused


# -- receipts -----------------------------------------------------------------------------


@command("sync.export")
def accept_receipt(session: Session, requester: Requester, data: bytes) -> SyncPackage:
    """A receipt from the upstream: its signature checked against the upstream's key, it
    marks the package it names delivered. Anything else changes nothing."""
    up = upstream(session)
    if up is None:
        raise NotFound(NO_UPSTREAM)
    me = require_identity(session)
    try:
        opened = open_envelope(
            data, recipient_seed=None, is_known_sender=lambda key: key == up.public_key
        )
    except EnvelopeRefused as refused:
        raise PackageRefused(BAD_RECEIPT) from refused
    if opened.kind != "receipt":
        raise PackageRefused(BAD_RECEIPT)
    try:
        body = json.loads(opened.payload.decode())
        sequence = int(body["sequence"])
        sha256 = str(body["sha256"])
        sender = normalise_public_key(body["sender_key"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, DomainError):
        raise PackageRefused(BAD_RECEIPT) from None
    if sender != me.public_key:
        raise PackageRefused(BAD_RECEIPT)
    package = session.scalar(
        select(SyncPackage)
        .where(
            SyncPackage.direction == PackageDirection.OUT,
            SyncPackage.peer_id == up.id,
            SyncPackage.sequence == sequence,
            SyncPackage.sha256 == sha256,
        )
        .with_for_update()
    )
    if package is None:
        raise PackageRefused(UNKNOWN_RECEIPT, sequence=sequence)
    if package.state != PackageState.DELIVERED:
        package.state = PackageState.DELIVERED
        package.delivered_at = datetime.now()
        package.receipt = data
        # Delivered: the file itself is no longer needed for a retry.
        package.data = None
    session.flush()
    return package


# -- status --------------------------------------------------------------------------------


def _info(package: SyncPackage | None) -> PackageInfo | None:
    if package is None:
        return None
    return PackageInfo(
        sequence=package.sequence,
        kind=package.kind,
        state=package.state,
        size=package.size,
        created_at=package.created_at,
        delivered_at=package.delivered_at,
        reason=package.reason,
        reason_params=package.reason_params,
    )


def sync_status(
    session: Session, *, stale_days: int = STALE_DAYS, now: datetime | None = None
) -> list[PeerStatus]:
    """Per peer: the last package sent and received, those pending a receipt, those
    refused (with the reason), and whether a downstream has sent nothing for too long."""
    now = now or datetime.now()
    statuses = []
    unsent = session.scalar(
        select(func.count()).select_from(SyncOutbox).where(SyncOutbox.package_sequence.is_(None))
    )
    for peer in session.scalars(select(SyncPeer).order_by(SyncPeer.kind, SyncPeer.unit_code)):
        packages = SyncPackage.peer_id == peer.id

        def last(direction, *states, _packages=packages):
            query = select(SyncPackage).where(_packages, SyncPackage.direction == direction)
            if states:
                query = query.where(SyncPackage.state.in_(states))
            return session.scalar(query.order_by(SyncPackage.id.desc()).limit(1))

        status = PeerStatus(
            peer_id=peer.id, kind=peer.kind, unit_code=peer.unit_code, name=peer.name
        )
        status.last_sent = _info(last(PackageDirection.OUT))
        status.last_received = _info(last(PackageDirection.IN, PackageState.APPLIED))
        status.pending = [
            _info(p)
            for p in session.scalars(
                select(SyncPackage)
                .where(
                    packages,
                    SyncPackage.direction == PackageDirection.OUT,
                    SyncPackage.state == PackageState.PENDING,
                )
                .order_by(SyncPackage.sequence)
            )
        ]
        status.refused = [
            _info(p)
            for p in session.scalars(
                select(SyncPackage)
                .where(packages, SyncPackage.state == PackageState.REFUSED)
                .order_by(SyncPackage.id.desc())
                .limit(20)
            )
        ]
        if peer.kind == PeerKind.DOWNSTREAM:
            seen = status.last_received.created_at if status.last_received else peer.created_at
            status.stale = seen is not None and now - seen > timedelta(days=stale_days)
        if peer.kind == PeerKind.UPSTREAM:
            status.unsent_changes = unsent or 0
        statuses.append(status)
    return statuses


def refusals_without_peer(session: Session, limit: int = 20) -> list[PackageInfo]:
    """Refused files whose sender is not a peer here (an unknown key, an unreadable file)."""
    return [
        _info(p)
        for p in session.scalars(
            select(SyncPackage)
            .where(SyncPackage.peer_id.is_(None), SyncPackage.state == PackageState.REFUSED)
            .order_by(SyncPackage.id.desc())
            .limit(limit)
        )
    ]


__all__ = [
    "AppliedPackage",
    "ExportedPackage",
    "OutboxOp",
    "PeerStatus",
    "accept_receipt",
    "apply_package",
    "export_package",
    "record_refusal",
    "sync_status",
]
