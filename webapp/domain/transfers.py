"""Transfers of members to and from another province's instance (docs/sync.md,
"Transfers between provinces").

The sending clerk records the transfer out (`transfer_to_province`): the TRANSFER_OUT event
goes through the ledger's own command (same rules), and the member's record, rows, card,
badges, history, current photo and scanned dossier (rows and files) are written into a
**transfer package**: signed by this instance and encrypted for the partner's key
(webapp/domain/sync_envelope.py), valid for three months. The receiving clerk checks the
file (`inspect_transfer`), chooses the cell and imports it (`import_transfer`): the member
is created there with their rows, card and badges, the files go into the receiver's
FileStore, and a TRANSFER_IN event is recorded through the ledger's rules; the import
answers with a signed **receipt**, which closes the sender's pending transfer
(`close_transfer`). The three commands that write are in the audit log.

Refused, with a message and nothing written: an expired, altered or unsigned file, a file
from an instance that is not a registered partner, one addressed to another instance, one
imported already, a member number or citizen ID already present here, a cell outside the
clerk's scope.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from webapp.domain.audit import append
from webapp.domain.commands import Requester, command
from webapp.domain.errors import N_, InUse, NotFound, ValidationFailed
from webapp.domain.events import EventInput, record_event
from webapp.domain.ledger import ACTIVE, EventKind
from webapp.domain.members import member_problems, record_values
from webapp.domain.scope import find_in_scope, find_member
from webapp.domain.sync_envelope import (
    EnvelopeRefused,
    check_inner_sender,
    open_envelope,
    public_key,
    seal,
    sign_only,
)
from webapp.domain.sync_files import (
    FILE_COLUMNS,
    STORED_PATH,
    DamagedFile,
    checked_files,
    file_paths,
    files_of,
    store_files,
)
from webapp.domain.sync_rows import apply_rows, member_rows
from webapp.domain.sync_setup import identity, peer_by_key
from webapp.models.badges import BadgeAward
from webapp.models.cards import PartyCard
from webapp.models.files import FileState
from webapp.models.ledger import MemberEvent
from webapp.models.member import Member
from webapp.models.record import MEMBER_ROW_MODELS
from webapp.models.sync import PeerKind, SyncPeer
from webapp.models.sync_packages import SyncKeyMap
from webapp.models.transfer import IncomingTransfer, OutgoingTransfer, TransferState
from webapp.models.unit import MEMBER_HOLDING_KINDS, Unit

PACKAGE_KIND = "transfer"
RECEIPT_KIND = "transfer-receipt"
# The payload's own format (inside the envelope); a newer reader reads an older one.
TRANSFER_FORMAT = 1
VALID_FOR = relativedelta(months=3)

NO_KEY = N_("This instance has no key yet: run `flask --app wsgi sync init --unit CODE` first.")
UNKNOWN_PARTNER = N_(
    "%(unit)s is not a registered partner province: register it with "
    "`flask --app wsgi sync partner --unit %(unit)s --key KEY`."
)
NOT_A_PARTNER = N_(
    "The file comes from an instance registered here as %(kind)s, not as a partner province."
)
NOT_A_TRANSFER = N_("This file is not a transfer package (it is a %(kind)s).")
NOT_A_RECEIPT = N_("This file is not a transfer receipt (it is a %(kind)s).")
NEWER_FORMAT = N_(
    "The transfer package was written in format %(format)s; this version reads up to "
    "%(known)s. Upgrade DangVien to read it."
)
EXPIRED = N_(
    "The transfer package expired on %(day)s (a package is valid for three months). Ask "
    "the sending province for a new one."
)
ALREADY_IMPORTED = N_(
    "This transfer package was already imported on %(day)s (member %(number)s, cell %(unit)s)."
)
NUMBER_TAKEN = N_(
    "The member number %(number)s already belongs to a member here (%(name)s); nothing was "
    "imported."
)
CITIZEN_PRESENT = N_(
    "A member with citizen ID %(citizen_id)s is already on record here (%(name)s, "
    "%(number)s); nothing was imported."
)
NOT_A_CELL = N_("Members belong to a Party cell; %(unit)s is not a cell.")
NOT_ACTIVE = N_(
    "%(name)s is not active in the Party (status %(status)s); only an active member is transferred."
)
UNKNOWN_TRANSFER = N_("No transfer package %(transfer)s was written here for that partner.")
ALREADY_CLOSED = N_("The transfer of %(number)s was closed already on %(day)s.")
CARD_TAKEN = N_(
    "The card number %(card)s is already in this instance's card registry; nothing was imported."
)
BAD_PAYLOAD = N_("The transfer package's contents are not readable; nothing was imported.")
BADGE_TAKEN = N_(
    "The badge number %(badge)s is already in this instance's register of Party badges; "
    "nothing was imported."
)

# The member's file (webapp/domain/sync_files.py): the current photo (its original,
# standard photo, thumbnail and crop preview) and the dossier's documents with their
# checked versions. A photo or scan still queued, refused or failed stays behind (no job
# would finish it at the receiver), and so does a row whose files this store lacks.
FILE_TABLES = ("member_photo", "member_document", "member_document_version")
# What of the member's rows travels and is applied at the receiver (sync_rows' format, in
# its dependency order): the record, its repeating rows, supplements, the history of
# changed fields, the card registry, the Party badges held, the member's file. The ledger
# travels as history to show; the receiver's ledger starts with the transfer in (the
# sender's events name units the receiver does not have). Badge proposals stay behind:
# they are the sender's round, not the member's (an award's proposal_id is cleared).
CARRIED = (
    "member",
    *(model.__tablename__ for model in MEMBER_ROW_MODELS),
    "member_supplement",
    "member_change",
    "party_card",
    "badge_award",
    *FILE_TABLES,
)
HISTORY = "member_event"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _unit_label(unit: Unit | None) -> str | None:
    return f"{unit.code} – {unit.name}" if unit is not None else None


def _stored(files, path: str | None) -> bool:
    return bool(path) and STORED_PATH.fullmatch(path) is not None and files.exists(path)


def _file_rows(rows: list[tuple[str, dict]], files) -> list[tuple[str, dict]]:
    """The member's current photo and their checked scans (with the documents they
    belong to), each only when every file it names is in `files`; the sender's job names
    are left behind."""

    def complete(table: str, data: dict) -> bool:
        return all(
            _stored(files, data[column]) for column in FILE_COLUMNS[table] if data.get(column)
        )

    photos = [
        {**data, "job_id": None}
        for table, data in rows
        if table == "member_photo"
        and data.get("current")
        and data.get("state") == FileState.DONE
        and data.get("standard_path")
        and complete(table, data)
    ]
    versions = [
        {**data, "job_id": None}
        for table, data in rows
        if table == "member_document_version"
        and data.get("state") == FileState.DONE
        and complete(table, data)
    ]
    with_scans = {data["document_id"] for data in versions}
    documents = [
        data for table, data in rows if table == "member_document" and data["id"] in with_scans
    ]
    return [
        *(("member_photo", data) for data in photos),
        *(("member_document", data) for data in documents),
        *(("member_document_version", data) for data in versions),
    ]


def member_snapshot(session: Session, member: Member, files: Any = None) -> dict[str, Any]:
    """The member's rows (webapp/domain/sync_rows.py `member_rows`) and their ledger as a
    readable history, as the package carries them; with `files` (a FileStore) the
    member's photo and scans too (their rows here, their files in the payload's
    `files`)."""
    rows = member_rows(session, [member.id])
    events_by_id = {data["id"]: data for table, data in rows if table == HISTORY}
    events = []
    for data in sorted(events_by_id.values(), key=lambda d: (d["effective_on"], d["id"])):
        refs = data.get("_refs") or {}
        cancelled = events_by_id.get(data.get("reverses_id"))
        events.append(
            {
                "kind": data["kind"],
                "effective_on": data["effective_on"],
                "decision_number": data.get("decision_number"),
                "decision_on": data.get("decision_on"),
                "decided_by": data.get("decided_by"),
                "from_unit": refs.get("from_unit_id"),
                "to_unit": refs.get("to_unit_id"),
                "other_organisation": data.get("other_organisation"),
                "note": data.get("note"),
                "cancels": cancelled["kind"] if cancelled else None,
            }
        )
    carried = [
        [table, data] for table, data in rows if table in CARRIED and table not in FILE_TABLES
    ]
    if files is not None:
        carried += [[table, data] for table, data in _file_rows(rows, files)]
    return {"rows": carried, "events": events}


def _what_comes(rows: list) -> dict[str, Any]:
    """The member's file and badges among the rows (what the check page lists)."""
    tables = [table for table, _data in rows]
    return {
        "photo": "member_photo" in tables,
        "documents": tables.count("member_document"),
        "badges": [
            {"years": data["milestone"], "number": data["badge_number"]}
            for table, data in rows
            if table == "badge_award" and not data.get("lost_on")
        ],
    }


def _member_row(payload: dict[str, Any]) -> dict[str, Any]:
    return next(data for table, data in payload["member"]["rows"] if table == "member")


@dataclass(frozen=True)
class TransferCheck:
    """What the receiving clerk checks before importing a transfer package."""

    transfer_id: str
    sender_key: str
    sender_unit: str | None
    sender_name: str | None
    created_at: datetime
    expires_on: date
    member_number: str
    name: str
    birth_date: date
    sex: str
    citizen_id: str | None
    standing: str
    transferred_on: date
    decision_number: str | None
    card_number: str | None
    cards: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    rows: int = 0
    # The member's file and badges: a current photo, how many dossier documents, the
    # badges held (years, number), how many files and their bytes.
    photo: bool = False
    documents: int = 0
    badges: list[dict[str, Any]] = field(default_factory=list)
    files: int = 0
    files_size: int = 0
    payload: dict[str, Any] = field(default_factory=dict, repr=False)
    sha256: str = ""


def _add_months(day: date) -> date:
    return day + VALID_FOR


# -- sending --------------------------------------------------------------------------------


def partner_by_unit(session: Session, unit_code: str) -> SyncPeer:
    peer = session.scalars(
        select(SyncPeer).where(
            SyncPeer.kind == PeerKind.PARTNER,
            SyncPeer.unit_code == (unit_code or "").strip(),
            SyncPeer.active.is_(True),
        )
    ).first()
    if peer is None:
        raise NotFound(UNKNOWN_PARTNER, unit=(unit_code or "").strip() or "-")
    return peer


def partners(session: Session) -> list[SyncPeer]:
    """The partner provinces a member can be transferred to (the screens' choice)."""
    return list(
        session.scalars(
            select(SyncPeer)
            .where(SyncPeer.kind == PeerKind.PARTNER, SyncPeer.active.is_(True))
            .order_by(SyncPeer.unit_code)
        )
    )


def has_partner(session: Session) -> bool:
    return (
        session.scalar(
            select(SyncPeer.id)
            .where(SyncPeer.kind == PeerKind.PARTNER, SyncPeer.active.is_(True))
            .limit(1)
        )
        is not None
    )


@command("transfer.export")
def transfer_to_province(
    session: Session,
    requester: Requester,
    member_id: int,
    *,
    partner_unit_code: str,
    on: date | None,
    decision_number: str | None,
    seed: bytes | None,
    decision_on: date | None = None,
    decided_by: str | None = None,
    note: str | None = None,
    now: datetime | None = None,
    files: Any = None,
) -> tuple[OutgoingTransfer, bytes]:
    """Record the member's transfer out to a partner province and write the transfer
    package for it; returns the pending transfer and the file's bytes. With `files` (the
    FileStore) the member's photo and scanned dossier travel too."""
    now = now or datetime.now()
    if seed is None:
        raise NotFound(NO_KEY)
    me = identity(session)  # the key is what counts; the unit code is for the receiver
    peer = partner_by_unit(session, partner_unit_code)
    member = find_member(session, requester, member_id)
    if member.status not in ACTIVE:
        raise InUse(NOT_ACTIVE, name=member.display_name, status=member.status)
    standing = member.status
    event = record_event(
        session,
        requester,
        member.id,
        EventInput(
            kind=EventKind.TRANSFER_OUT,
            effective_on=on,
            decision_number=decision_number,
            decision_on=decision_on,
            decided_by=decided_by,
            other_organisation=peer.name or peer.unit_code,
            note=note,
        ),
        today=now.date(),
    )
    transfer_id = str(uuid.uuid4())
    expires_on = _add_months(now.date())
    snapshot = member_snapshot(session, member, files)
    carried_files = files_of(snapshot["rows"], files) if files is not None else {}
    payload = {
        "format": TRANSFER_FORMAT,
        "transfer_id": transfer_id,
        "sender_key": public_key(seed),
        "sender_unit": me.unit_code if me is not None else None,
        "recipient_key": peer.public_key,
        "recipient_unit": peer.unit_code,
        "created_at": now.isoformat(timespec="seconds"),
        "expires_on": expires_on.isoformat(),
        "standing": standing,
        "transfer": {
            "effective_on": event.effective_on.isoformat(),
            "decision_number": event.decision_number,
            "decision_on": _plain(event.decision_on),
            "decided_by": event.decided_by,
            "from_unit": _unit_label(event.from_unit),
        },
        "member": snapshot,
        "files": carried_files,
    }
    data = seal(
        json.dumps(payload, ensure_ascii=False, sort_keys=True).encode(),
        kind=PACKAGE_KIND,
        sender_seed=seed,
        recipient_key=peer.public_key,
        header={"transfer_id": transfer_id, "expires_on": expires_on.isoformat()},
    )
    transfer = OutgoingTransfer(
        transfer_id=transfer_id,
        member_id=member.id,
        peer_id=peer.id,
        event_id=event.id,
        package_sha256=hashlib.sha256(data).hexdigest(),
        package_size=len(data),
        state=TransferState.PENDING,
        created_at=now.replace(microsecond=0),
        expires_on=expires_on,
        created_by_id=requester.user_id,
    )
    session.add(transfer)
    session.flush()
    comes = _what_comes(snapshot["rows"])
    append(
        session,
        "transfer_export",
        object_type="Member",
        object_id=member.id,
        after={
            "transfer": transfer_id,
            "to": peer.unit_code,
            "expires_on": expires_on,
            "package_sha256": transfer.package_sha256,
            "size": len(data),
            "rows": len(snapshot["rows"]),
            "photo": comes["photo"],
            "documents": comes["documents"],
            "badges": len(comes["badges"]),
            "files": len(carried_files),
        },
        user_id=requester.user_id,
        username=requester.username,
    )
    return transfer, data


def pending_transfers(session: Session, requester: Requester, *, today: date | None = None):
    """Outgoing transfers of members in the requester's scope, newest first, each with the
    state to show (a pending one past its date reads as expired)."""
    from webapp.domain.scope import scope_clause

    today = today or date.today()
    rows = session.scalars(
        select(OutgoingTransfer)
        .join(Member, Member.id == OutgoingTransfer.member_id)
        .where(scope_clause(Member, requester.scope))
        .order_by(OutgoingTransfer.created_at.desc(), OutgoingTransfer.id.desc())
        .limit(500)
    ).all()
    return [(row, shown_state(row, today)) for row in rows]


def shown_state(transfer: OutgoingTransfer, today: date) -> str:
    if transfer.state == TransferState.PENDING and transfer.expires_on < today:
        return TransferState.EXPIRED
    return transfer.state


# -- receiving ------------------------------------------------------------------------------


def _open_transfer(session: Session, data: bytes, seed: bytes | None, today: date):
    if seed is None:
        raise NotFound(NO_KEY)
    opened = open_envelope(
        data,
        recipient_seed=seed,
        is_known_sender=lambda key: peer_by_key(session, key) is not None,
    )
    if opened.kind != PACKAGE_KIND:
        raise EnvelopeRefused(NOT_A_TRANSFER, kind=opened.kind)
    peer = peer_by_key(session, opened.sender)
    if peer.kind != PeerKind.PARTNER:
        raise EnvelopeRefused(NOT_A_PARTNER, kind=peer.kind)
    try:
        payload = json.loads(opened.payload.decode())
        if not isinstance(payload, dict):
            raise ValueError
    except (UnicodeDecodeError, ValueError):
        raise EnvelopeRefused(BAD_PAYLOAD) from None
    check_inner_sender(opened, payload)
    if not isinstance(payload.get("format"), int):
        raise EnvelopeRefused(BAD_PAYLOAD)
    if payload["format"] > TRANSFER_FORMAT:
        raise EnvelopeRefused(NEWER_FORMAT, format=payload["format"], known=TRANSFER_FORMAT)
    try:
        check = _as_check(payload, peer, hashlib.sha256(data).hexdigest())
    except (KeyError, TypeError, ValueError):  # DamagedFile too: a file not what it says
        raise EnvelopeRefused(BAD_PAYLOAD) from None
    if check.expires_on < today:
        raise EnvelopeRefused(EXPIRED, day=check.expires_on.strftime("%d/%m/%Y"))
    done = session.scalars(
        select(IncomingTransfer).where(IncomingTransfer.transfer_id == check.transfer_id)
    ).first()
    if done is not None:
        raise InUse(
            ALREADY_IMPORTED,
            day=done.imported_at.strftime("%d/%m/%Y %H:%M"),
            number=done.member.member_number,
            unit=done.unit.code,
        )
    return check


def _as_check(payload: dict[str, Any], peer: SyncPeer, sha256: str) -> TransferCheck:
    record = _member_row(payload)
    rows = payload["member"]["rows"]
    cards = [data["number"] for table, data in rows if table == "party_card"]
    carried = payload.get("files") or {}
    if not isinstance(carried, dict):
        raise ValueError("files")
    # Every carried file matches its name, and every file a carried row names is carried
    # (a format 1 package from before files travelled carries neither).
    sizes = [len(content) for _path, _kind, content, _suffix in checked_files(carried)]
    if not set(file_paths((t, d) for t, d in rows if t in CARRIED)) <= set(carried):
        raise DamagedFile("a row names a file the package does not carry")
    comes = _what_comes([(t, d) for t, d in rows if t in CARRIED])
    return TransferCheck(
        transfer_id=str(payload["transfer_id"]),
        sender_key=payload["sender_key"],
        sender_unit=payload.get("sender_unit"),
        sender_name=peer.name or peer.unit_code,
        created_at=datetime.fromisoformat(payload["created_at"]),
        expires_on=date.fromisoformat(payload["expires_on"]),
        member_number=record["member_number"],
        name=record.get("name_in_use") or record["birth_name"],
        birth_date=date.fromisoformat(record["birth_date"]),
        sex=record["sex"],
        citizen_id=record.get("citizen_id"),
        standing=payload["standing"],
        transferred_on=date.fromisoformat(payload["transfer"]["effective_on"]),
        decision_number=payload["transfer"].get("decision_number"),
        card_number=record.get("card_number"),
        cards=cards,
        events=list(payload["member"]["events"]),
        rows=len(rows) - 1,
        photo=comes["photo"],
        documents=comes["documents"],
        badges=comes["badges"],
        files=len(sizes),
        files_size=sum(sizes),
        payload=payload,
        sha256=sha256,
    )


def _presence_problems(session: Session, check: TransferCheck) -> None:
    """A member already here (by member number or citizen ID) is not imported twice."""
    with session.no_autoflush:
        same_number = session.scalars(
            select(Member).where(Member.member_number == check.member_number)
        ).first()
        if same_number is not None:
            raise InUse(NUMBER_TAKEN, number=check.member_number, name=same_number.display_name)
        if check.citizen_id:
            same_person = session.scalars(
                select(Member).where(Member.citizen_id == check.citizen_id)
            ).first()
            if same_person is not None:
                raise InUse(
                    CITIZEN_PRESENT,
                    citizen_id=check.citizen_id,
                    name=same_person.display_name,
                    number=same_person.member_number,
                )
        if check.cards:
            taken = session.scalars(
                select(PartyCard).where(PartyCard.number.in_(check.cards))
            ).first()
            if taken is not None:
                raise InUse(CARD_TAKEN, card=taken.number)
        numbers = [
            data.get("badge_number")
            for table, data in check.payload["member"]["rows"]
            if table == "badge_award" and data.get("badge_number")
        ]
        if numbers:
            used = session.scalar(
                select(BadgeAward.badge_number).where(BadgeAward.badge_number.in_(numbers))
            )
            if used is not None:
                raise InUse(BADGE_TAKEN, badge=used)


@command("transfer.import")
def inspect_transfer(
    session: Session,
    requester: Requester,
    data: bytes,
    *,
    seed: bytes | None,
    today: date | None = None,
) -> TransferCheck:
    """Open and check a transfer package without importing it: who it is, from where, and
    why it would be refused."""
    check = _open_transfer(session, data, seed, today or date.today())
    _presence_problems(session, check)
    return check


@dataclass(frozen=True)
class ImportedTransfer:
    member: Member
    event: MemberEvent
    receipt: bytes


@command("transfer.import")
def import_transfer(
    session: Session,
    requester: Requester,
    data: bytes,
    *,
    seed: bytes | None,
    cell_code: str,
    member_number_pattern: str,
    on: date | None = None,
    now: datetime | None = None,
    files: Any = None,
) -> ImportedTransfer:
    """Import a transfer package into a cell of the requester's scope: the member with
    their rows, card and badges, a TRANSFER_IN event; with `files` (this instance's
    FileStore) their photo and scanned dossier, the files stored there (without it those
    rows stay out too: nothing points at a missing file). Returns the signed receipt to
    carry back."""
    now = now or datetime.now()
    today = now.date()
    check = _open_transfer(session, data, seed, today)
    _presence_problems(session, check)
    cell = _cell_in_scope(session, requester, cell_code)
    peer = peer_by_key(session, check.sender_key)
    rows = []
    for table, row in check.payload["member"]["rows"]:
        if table not in CARRIED or (files is None and table in FILE_TABLES):
            continue
        if table == "badge_award":
            # The sender's round of proposals stays there; the award is the member's.
            row = {**row, "proposal_id": None}
        if table == "member":
            # The member arrives in the chosen cell; the ledger below derives the rest.
            row = {
                **row,
                "unit_id": -1,
                "host_unit_id": None,
                "away": False,
                "activity": "normal",
                "status": check.standing,
                "_refs": {"unit_id": cell.code},
            }
        rows.append((table, row))
    # The member is new here (checked above): what the key map remembers of these sender's
    # ids belongs to other rows (a sender restored from a backup, a test's fresh database).
    for table in {t for t, _ in rows}:
        session.execute(
            delete(SyncKeyMap).where(
                SyncKeyMap.peer_id == peer.id,
                SyncKeyMap.table_name == table,
                SyncKeyMap.remote_id.in_([r["id"] for t, r in rows if t == table]),
            )
        )
    written: dict[str, set[int]] = {}
    apply_rows(session, peer, rows, deletions=[], changed=written)
    (member_id,) = written["member"]
    member = find_member(session, requester, member_id)
    session.refresh(member)
    member_problems(
        session,
        requester,
        record_values(member),
        member_id=member.id,
        member_number_pattern=member_number_pattern,
    ).raise_if_any()
    event = record_event(
        session,
        requester,
        member.id,
        EventInput(
            kind=EventKind.TRANSFER_IN,
            effective_on=max(on or today, check.transferred_on),
            decision_number=check.decision_number,
            to_unit_id=cell.id,
            other_organisation=check.sender_name,
            arriving_as=check.standing,
            note=f"Tiếp nhận từ {check.sender_name} (gói chuyển {check.transfer_id})",
        ),
        today=max(today, check.transferred_on),
    )
    session.add(
        IncomingTransfer(
            transfer_id=check.transfer_id,
            sender_key=check.sender_key,
            sender_unit=check.sender_unit,
            package_sha256=check.sha256,
            member_id=member.id,
            unit_id=cell.id,
            event_id=event.id,
            history=json.dumps(check.events, ensure_ascii=False),
            imported_at=now.replace(microsecond=0),
            imported_by_id=requester.user_id,
        )
    )
    session.flush()
    carried_files = (check.payload.get("files") or {}) if files is not None else {}
    # Last of all (the rows and the event are accepted): the files into this store, all
    # checked before any is written; a file already here is not written twice.
    stored = store_files(carried_files, files) if carried_files else 0
    comes = _what_comes(rows)
    append(
        session,
        "transfer_import",
        object_type="Member",
        object_id=member.id,
        after={
            "transfer": check.transfer_id,
            "from": check.sender_unit,
            "sender_key": check.sender_key,
            "cell": cell.code,
            "package_sha256": check.sha256,
            "rows": len(rows),
            "photo": comes["photo"],
            "documents": comes["documents"],
            "badges": len(comes["badges"]),
            "files": len(carried_files),
            "files_new": stored,
        },
        user_id=requester.user_id,
        username=requester.username,
    )
    receipt = {
        "format": TRANSFER_FORMAT,
        "transfer_id": check.transfer_id,
        "sender_key": public_key(seed),
        "for_key": check.sender_key,
        "member_number": member.member_number,
        "received_unit": _unit_label(cell),
        "received_on": event.effective_on.isoformat(),
        "imported_at": now.isoformat(timespec="seconds"),
    }
    signed = sign_only(
        json.dumps(receipt, ensure_ascii=False, sort_keys=True).encode(),
        kind=RECEIPT_KIND,
        sender_seed=seed,
    )
    return ImportedTransfer(member=member, event=event, receipt=signed)


def _cell_in_scope(session: Session, requester: Requester, cell_code: str) -> Unit:
    code = (cell_code or "").strip()
    unit = None
    if code:
        unit = session.scalars(select(Unit).where(Unit.code == code)).first()
    if unit is not None:
        try:
            unit = find_in_scope(session, Unit, unit.id, requester.scope)
        except NotFound:
            unit = None
    if unit is None:
        raise ValidationFailed({"cell": [(N_("The unit does not exist."), {})]})
    if unit.kind not in MEMBER_HOLDING_KINDS:
        raise ValidationFailed({"cell": [(NOT_A_CELL, {"unit": unit.name})]})
    if unit.dissolved_on is not None:
        raise ValidationFailed(
            {"cell": [(N_("The unit %(unit)s has been dissolved."), {"unit": unit.name})]}
        )
    return unit


# -- the receipt, back at the sender --------------------------------------------------------


@command("transfer.close")
def close_transfer(
    session: Session,
    requester: Requester,
    receipt_data: bytes,
    *,
    now: datetime | None = None,
) -> OutgoingTransfer:
    """A valid receipt from the partner closes the pending transfer it names."""
    now = now or datetime.now()
    opened = open_envelope(
        receipt_data,
        recipient_seed=None,
        is_known_sender=lambda key: peer_by_key(session, key) is not None,
    )
    if opened.kind != RECEIPT_KIND:
        raise EnvelopeRefused(NOT_A_RECEIPT, kind=opened.kind)
    try:
        receipt = json.loads(opened.payload.decode())
        transfer_id = str(receipt["transfer_id"])
        received_on = date.fromisoformat(receipt["received_on"])
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise EnvelopeRefused(BAD_PAYLOAD) from None
    check_inner_sender(opened, receipt)
    peer = peer_by_key(session, opened.sender)
    transfer = session.scalars(
        select(OutgoingTransfer)
        .where(OutgoingTransfer.transfer_id == transfer_id, OutgoingTransfer.peer_id == peer.id)
        .with_for_update()
    ).first()
    if transfer is None:
        raise NotFound(UNKNOWN_TRANSFER, transfer=transfer_id)
    # The member must be in the requester's scope (the member stays here, transferred out).
    find_in_scope(session, Member, transfer.member_id, requester.scope)
    if transfer.state == TransferState.CLOSED:
        raise InUse(
            ALREADY_CLOSED,
            number=transfer.member.member_number,
            day=transfer.closed_at.strftime("%d/%m/%Y"),
        )
    transfer.state = TransferState.CLOSED
    transfer.closed_at = now.replace(microsecond=0)
    transfer.received_unit = str(receipt.get("received_unit") or "")[:255] or None
    transfer.received_on = received_on
    session.flush()
    append(
        session,
        "transfer_close",
        object_type="Member",
        object_id=transfer.member_id,
        after={
            "transfer": transfer.transfer_id,
            "to": peer.unit_code,
            "received_unit": transfer.received_unit,
            "received_on": received_on,
            "receipt_sha256": hashlib.sha256(receipt_data).hexdigest(),
        },
        user_id=requester.user_id,
        username=requester.username,
    )
    return transfer
