"""Reference data flows down (docs/sync.md, "Reference data"): the catalogues, the badge
milestones, occasions and deferral settings, and the dossier's document types are the upper
level's. Each time they change, the upstream numbers a new **version** of them; a
downstream applies a version only if it is newer than the one it holds, so versions apply
in order and an old file carried late changes nothing.

A version travels whole (a few hundred rows) in the same envelope as every package: signed
by the upstream, sealed for the downstream. Rows are matched on their natural keys (a
catalogue entry by kind and code, a milestone by its years, an occasion by its day, ...);
a row the upstream no longer has is made inactive here, never deleted, since records may
name it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.domain.commands import Requester, command
from webapp.domain.errors import N_, Forbidden
from webapp.domain.sync_envelope import EnvelopeRefused, open_envelope, public_key, seal
from webapp.domain.sync_setup import require_identity, upstream
from webapp.models.badges import BadgeMilestone, BadgeOccasion, BadgeSetting
from webapp.models.files import DocumentType
from webapp.models.record import CatalogueEntry
from webapp.models.sync import ReferenceVersion, SyncPeer

REFERENCE_FORMAT = 1
KIND = "reference"


@dataclass(frozen=True)
class ReferenceTable:
    """A table of reference data: its model, its natural key and the fields that travel.
    `retire` names the flag set when the upstream no longer has a row (None: kept as is)."""

    model: type
    key: tuple[str, ...]
    fields: tuple[str, ...]
    retire: str | None = "active"


TABLES: dict[str, ReferenceTable] = {
    "catalogue_entry": ReferenceTable(
        CatalogueEntry, ("kind", "code"), ("name", "position", "active")
    ),
    "badge_milestone": ReferenceTable(BadgeMilestone, ("years",), ("early_months", "active")),
    "badge_occasion": ReferenceTable(BadgeOccasion, ("month", "day"), ("name", "active")),
    "badge_setting": ReferenceTable(BadgeSetting, ("key",), ("months",), retire=None),
    "document_type": ReferenceTable(
        DocumentType, ("code",), ("name", "required", "position", "active", "note")
    ),
}

NEWER_FORMAT = N_(
    "The reference data was written in format %(format)s; this version reads up to "
    "%(known)s. Upgrade DangVien to read it."
)
NOT_FROM_UPSTREAM = N_("Reference data is taken only from this instance's upstream.")
NOT_REFERENCE = N_("This file is not a version of the reference data.")
NO_DOWNSTREAM = N_("Only a registered lower level takes this instance's reference data.")


@dataclass(frozen=True)
class ReferenceApplied:
    version: int
    state: str  # "applied", or "older" when this instance already holds it or a newer one
    changed: int


def snapshot(session: Session) -> dict[str, list[dict[str, Any]]]:
    """The reference tables as they are here, each row by its key and fields, in key order."""
    tables = {}
    for name, table in TABLES.items():
        columns = [getattr(table.model, column) for column in (*table.key, *table.fields)]
        rows = session.execute(select(*columns).order_by(*columns[: len(table.key)])).all()
        tables[name] = [dict(zip((*table.key, *table.fields), row, strict=True)) for row in rows]
    return tables


def digest(tables: dict[str, list[dict[str, Any]]]) -> str:
    text = json.dumps(tables, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def current_version(
    session: Session,
) -> tuple[ReferenceVersion, dict[str, list[dict[str, Any]]]]:
    """The version of the reference data as it is now, with its tables: the last one made
    here if nothing changed since, else a new one (numbered in order, in the caller's
    transaction)."""
    tables = snapshot(session)
    sha = digest(tables)
    last = session.scalars(
        select(ReferenceVersion)
        .where(ReferenceVersion.direction == "made")
        .order_by(ReferenceVersion.version.desc())
        .limit(1)
    ).first()
    if last is not None and last.sha256 == sha:
        return last, tables
    made = ReferenceVersion(direction="made", version=(last.version if last else 0) + 1, sha256=sha)
    session.add(made)
    session.flush()
    return made, tables


@command("sync.reference")
def export_reference(
    session: Session, requester: Requester, *, seed: bytes, peer_id: int | None = None
) -> bytes:
    """The current version of the reference data, sealed for a downstream: the requester's
    own instance when it is a Sync account (it pulls over HTTP), else `peer_id`."""
    require_identity(session)
    query = select(SyncPeer).where(SyncPeer.kind == "downstream", SyncPeer.active.is_(True))
    if requester.is_admin and peer_id is not None:
        peer = session.scalars(query.where(SyncPeer.id == peer_id)).first()
    else:
        peer = session.scalars(query.where(SyncPeer.user_id == requester.user_id)).first()
    if peer is None:
        raise Forbidden(NO_DOWNSTREAM)
    version, tables = current_version(session)
    payload = {
        "format": REFERENCE_FORMAT,
        "sender_key": public_key(seed),
        "version": version.version,
        "sha256": version.sha256,
        "tables": tables,
    }
    body = json.dumps(payload, ensure_ascii=False, default=str).encode()
    return seal(
        body,
        kind=KIND,
        sender_seed=seed,
        recipient_key=peer.public_key,
        header={"version": version.version},
    )


@command("sync.apply_reference")
def apply_reference(
    session: Session, requester: Requester, data: bytes, *, seed: bytes
) -> ReferenceApplied:
    """Take a version of the reference data from the upstream: refused unless it is the
    upstream's and well formed; an older or equal version changes nothing."""
    peer = upstream(session)
    if peer is None:
        raise EnvelopeRefused(NOT_FROM_UPSTREAM)
    opened = open_envelope(
        data, recipient_seed=seed, is_known_sender=lambda key: key == peer.public_key
    )
    if opened.kind != KIND:
        raise EnvelopeRefused(NOT_REFERENCE)
    try:
        payload = json.loads(opened.payload)
        version = int(payload["version"])
        tables = payload["tables"]
        if not isinstance(tables, dict):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise EnvelopeRefused(NOT_REFERENCE) from None
    if int(payload.get("format", 0)) > REFERENCE_FORMAT:
        raise EnvelopeRefused(NEWER_FORMAT, format=payload["format"], known=REFERENCE_FORMAT)
    if payload.get("sender_key") != opened.sender:
        raise EnvelopeRefused(NOT_REFERENCE)
    held = session.scalar(
        select(func.max(ReferenceVersion.version)).where(ReferenceVersion.direction == "applied")
    )
    if held is not None and version <= held:
        return ReferenceApplied(version, "older", 0)
    changed = sum(
        _apply_table(session, table, tables.get(name, [])) for name, table in TABLES.items()
    )
    session.add(
        ReferenceVersion(direction="applied", version=version, sha256=str(payload.get("sha256")))
    )
    session.flush()
    return ReferenceApplied(version, "applied", changed)


def _apply_table(session: Session, table: ReferenceTable, rows: list[dict[str, Any]]) -> int:
    here = {
        tuple(getattr(row, k) for k in table.key): row
        for row in session.scalars(select(table.model))
    }
    changed = 0
    seen = set()
    for values in rows:
        try:
            key = tuple(values[k] for k in table.key)
            fields = {name: values[name] for name in table.fields}
        except (KeyError, TypeError):
            raise EnvelopeRefused(NOT_REFERENCE) from None
        seen.add(key)
        row = here.get(key)
        if row is None:
            session.add(table.model(**dict(zip(table.key, key, strict=True)), **fields))
            changed += 1
            continue
        if any(getattr(row, name) != value for name, value in fields.items()):
            for name, value in fields.items():
                setattr(row, name, value)
            changed += 1
    if table.retire:
        for key, row in here.items():
            if key not in seen and getattr(row, table.retire):
                setattr(row, table.retire, False)
                changed += 1
    session.flush()
    return changed
