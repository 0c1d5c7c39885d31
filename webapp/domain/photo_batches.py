"""A batch of scans: a ZIP or a folder of scanner output whose file names carry member
numbers (000123NB.jpg, 000123NB_1.jpg, …). Each file is matched to a member in the
requester's scope and processed as that member's photo; each gets one outcome — matched,
member not found, ambiguous, refused (why) — on a PhotoBatchItem row.

Archives are hostile until read: names that climb out (../, absolute paths, drive
letters), links, encrypted members, archives inside the archive, members that unpack to
far more than they pack (a ZIP bomb), more bytes than declared, duplicate names, and too
many files or bytes in all are refused per file, before anything is unpacked. Nothing is
ever written under a name from the archive: accepted bytes go to the content store.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from webapp.domain.commands import Requester, Role, command, transaction
from webapp.domain.errors import N_, ConcurrentChange, DomainError, NotFound
from webapp.domain.imaging import PhotoLimits, PhotoRefused
from webapp.domain.photos import (
    STOPPED,
    Finished,
    Upload,
    process_photo,
    process_photos,
    upload_photo,
)
from webapp.domain.scope import NOWHERE, UNRESTRICTED, scope_clause
from webapp.filestore import FileStore, TooLarge
from webapp.models.files import BatchOutcome, BatchState, FileState, PhotoBatch, PhotoBatchItem
from webapp.models.member import Member
from webapp.models.user import DangVienUser

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff"}
ARCHIVE_SUFFIXES = {".zip", ".rar", ".7z", ".tar", ".gz", ".tgz", ".bz2", ".xz"}
ARCHIVE_MAGIC = (b"PK\x03\x04", b"Rar!", b"7z\xbc\xaf", b"\x1f\x8b")
# A member that unpacks to more than this many times its packed size is not read (scans
# compress 1–3:1; a bomb 1000:1). Small files are let through whatever their ratio.
MAX_RATIO = 100
RATIO_FLOOR = 1024 * 1024
SEQUENCE = re.compile(r"(?P<number>.+?)(?:[_\-\s]\(?\d{1,3}\)?)?")


@dataclass(frozen=True)
class BatchLimits:
    photo: PhotoLimits
    max_files: int = 5000
    max_unpacked: int = 4096 * 1024 * 1024

    @classmethod
    def from_config(cls, config) -> BatchLimits:
        return cls(
            photo=PhotoLimits.from_config(config),
            max_files=int(config.get("BATCH_MAX_FILES", 5000)),
            max_unpacked=int(config.get("BATCH_MAX_UNPACKED_MB", 4096)) * 1024 * 1024,
        )


@dataclass
class Entry:
    """One file of the source: its name as given (shown only), how to read it, or why it
    will not be read."""

    name: str
    read: Callable[[int], bytes] | None = None  # read(limit): at most limit + 1 bytes
    problem: tuple[str, dict] | None = None
    stem: str = field(default="")
    size: int = 0  # as declared (the archive's directory, the folder's listing)


class SourceUnusable(DomainError):
    """PATH itself cannot be read as a folder or a ZIP (the CLI exits non-zero)."""


def shown(name: str) -> str:
    text = "".join(ch if ch.isprintable() else "?" for ch in name)
    return text[:255] or "?"


def _refused(name: str, message: str, **params) -> Entry:
    return Entry(name=shown(name), problem=(message, {"name": shown(name), **params}))


def unsafe_name(name: str) -> bool:
    """A name that is absolute or climbs out of the folder it is unpacked in."""
    if not name or "\x00" in name:
        return True
    posix = name.replace("\\", "/")
    if posix.startswith("/") or re.match(r"^[A-Za-z]:", posix):
        return True
    return any(part == ".." for part in PurePosixPath(posix).parts)


def _checked(name: str, size: int, limits: BatchLimits, seen: set[str]) -> Entry | None:
    """The refusal a name and a declared size earn before reading, or None."""
    if unsafe_name(name):
        return _refused(name, N_("%(name)s: the name points outside the archive; not read."))
    key = name.replace("\\", "/").casefold()
    if key in seen:
        return _refused(
            name, N_("%(name)s: the name appears more than once; only the first is read.")
        )
    seen.add(key)
    suffix = PurePosixPath(name.replace("\\", "/")).suffix.lower()
    if suffix in ARCHIVE_SUFFIXES:
        return _refused(
            name, N_("%(name)s: archives inside the archive are not opened; unpack it first.")
        )
    if suffix not in IMAGE_SUFFIXES:
        return _refused(name, N_("%(name)s: not a photo (.jpg, .jpeg, .png, .tif or .tiff)."))
    if size > limits.photo.max_bytes:
        return _too_large(name, limits)
    return None


def _too_large(name: str, limits: BatchLimits) -> Entry:
    return _refused(
        name,
        N_("%(name)s: the file is larger than %(limit)s MB."),
        limit=limits.photo.max_bytes // (1024 * 1024),
    )


def zip_entries(path: Path, limits: BatchLimits, shown_as: str | None = None) -> Iterator[Entry]:
    """The files of a ZIP, checked; SourceUnusable when it is no ZIP. Not lazy about the
    archive itself: it is opened (and refused) when called."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise SourceUnusable(
            N_("%(name)s is not a ZIP archive that can be read."), name=shown_as or path.name
        ) from None
    return _zip_members(archive, limits)


def _zip_members(archive: zipfile.ZipFile, limits: BatchLimits) -> Iterator[Entry]:
    infos = [info for info in archive.infolist() if not info.is_dir()]
    if len(infos) > limits.max_files:
        archive.close()
        raise SourceUnusable(
            N_("The archive holds %(count)s files; at most %(limit)s are read in one batch."),
            count=len(infos),
            limit=limits.max_files,
        )
    seen: set[str] = set()
    unpacked = 0
    # Left open: the entries read from it later (closed with the last reference).
    for info in infos:
        name = info.filename
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            yield _refused(name, N_("%(name)s: links are not followed; not read."))
            continue
        if info.flag_bits & 0x1:
            yield _refused(name, N_("%(name)s: the file is encrypted; not read."))
            continue
        problem = _checked(name, info.file_size, limits, seen)
        if problem is not None:
            yield problem
            continue
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            yield _refused(
                name,
                N_("%(name)s: unpacks to far more than its packed size (a ZIP bomb); not read."),
            )
            continue
        unpacked += info.file_size
        if unpacked > limits.max_unpacked:
            yield _refused(
                name,
                N_("%(name)s: the archive unpacks to more than %(limit)s MB; not read."),
                limit=limits.max_unpacked // (1024 * 1024),
            )
            continue

        def read(limit: int, info=info) -> bytes:
            with archive.open(info) as handle:
                return handle.read(limit + 1)

        yield Entry(name=shown(name), read=read, stem=_stem(name), size=info.file_size)


def folder_entries(path: Path, limits: BatchLimits) -> Iterator[Entry]:
    """Regular files under a folder (links are neither followed nor read)."""
    count = 0
    seen: set[str] = set()
    for folder, folders, files in os.walk(path, followlinks=False):
        folders.sort()
        for file_name in sorted(files):
            full = Path(folder) / file_name
            name = str(full.relative_to(path))
            count += 1
            if count > limits.max_files:
                raise SourceUnusable(
                    N_(
                        "The folder holds more than %(limit)s files; at most %(limit)s are read in one batch."
                    ),
                    limit=limits.max_files,
                )
            if full.is_symlink() or not full.is_file():
                yield _refused(name, N_("%(name)s: links are not followed; not read."))
                continue
            size = full.stat().st_size
            problem = _checked(name, size, limits, seen)
            if problem is not None:
                yield problem
                continue

            def read(limit: int, full=full) -> bytes:
                with open(full, "rb") as handle:
                    return handle.read(limit + 1)

            yield Entry(name=shown(name), read=read, stem=_stem(name), size=size)


def source_entries(path: Path, limits: BatchLimits) -> Iterator[Entry]:
    if path.is_dir():
        return folder_entries(path, limits)
    if path.is_file():
        return zip_entries(path, limits)
    raise SourceUnusable(N_("%(name)s is neither a folder nor a ZIP archive."), name=path.name)


def _stem(name: str) -> str:
    return PurePosixPath(name.replace("\\", "/")).stem.strip().upper()


def member_number_of(stem: str, pattern: str) -> str | None:
    """The member number a file's stem carries ("000123NB", "000123NB_1"), or None."""
    number_pattern = re.compile(pattern)
    if number_pattern.fullmatch(stem):
        return stem
    match = SEQUENCE.fullmatch(stem)
    if match and number_pattern.fullmatch(match.group("number")):
        return match.group("number")
    return None


# --- Requests and runs -----------------------------------------------------------------


@command("photo.batch")
def request_batch(
    session: Session,
    requester: Requester,
    source_name: str,
    store: FileStore,
    stream: BinaryIO | None = None,
    *,
    max_bytes: int | None = None,
) -> PhotoBatch:
    """A batch row; an uploaded ZIP (`stream`) is kept in the content store first."""
    batch = PhotoBatch(
        source_name=shown(source_name),
        state=BatchState.QUEUED,
        requested_by_id=requester.user_id,
    )
    if stream is not None:
        try:
            stored = store.put_stream("batches", stream, ".zip", limit=max_bytes)
        except TooLarge:
            raise DomainError(
                N_("The archive is larger than %(limit)s MB."),
                limit=(max_bytes or 0) // (1024 * 1024),
            ) from None
        if stored.size == 0:
            raise DomainError(N_("The file is empty."))
        batch.archive_sha256 = stored.sha256
        batch.archive_path = stored.path
    session.add(batch)
    session.flush()
    batch.job_id = f"photo-batch-{batch.id}"
    return batch


def requester_of(session: Session, batch: PhotoBatch) -> Requester:
    """Whoever asked for the batch, as they are now (roles and scope read again); the CLI's
    batches, asked for by nobody, run as the system."""
    if batch.requested_by_id is None:
        return Requester.system()
    user = session.get(DangVienUser, batch.requested_by_id)
    if user is None or not user.active:
        return Requester(user_id=batch.requested_by_id, scope=NOWHERE)
    roles = frozenset(role.name for role in user.roles)
    if Role.ADMIN in roles:
        scope = UNRESTRICTED
    else:
        scope = user.unit.path if user.unit is not None and user.unit.path else NOWHERE
    return Requester(user_id=user.id, roles=roles, scope=scope, username=user.username)


def find_batch(session: Session, requester: Requester, batch_id: int) -> PhotoBatch:
    """A batch its requester (or an Admin) may see; else NotFound."""
    # Read fresh: a worker changes the row while the page polls it.
    batch = (
        session.get(PhotoBatch, batch_id, populate_existing=True)
        if isinstance(batch_id, int)
        else None
    )
    if batch is None or not (requester.is_admin or batch.requested_by_id == requester.user_id):
        raise NotFound(N_("The batch does not exist."))
    return batch


def run_batch(
    session: Session,
    batch_id: int,
    entries: Iterator[Entry] | None,
    store: FileStore,
    limits: BatchLimits,
    number_pattern: str,
    progress: Callable[[int], None] | None = None,
) -> PhotoBatch:
    """Match and process every file of the batch; one item row per file, committed as it
    goes (the page shows the progress). `entries` None reads the batch's stored ZIP."""
    batch = session.get(PhotoBatch, batch_id)
    if batch is None or batch.state == BatchState.DONE:
        return batch
    requester = requester_of(session, batch)
    with transaction(session):
        batch.state = BatchState.RUNNING
        batch.started_at = datetime.now()
        batch.error = None
        # A rerun (after a crash) starts the report again; the photos themselves are
        # idempotent, so files done before are matched again without new work.
        session.query(PhotoBatchItem).filter(PhotoBatchItem.batch_id == batch.id).delete()
    try:
        if entries is None:
            entries = zip_entries(store.absolute(batch.archive_path), limits, batch.source_name)
        listed = list(entries)
    except SourceUnusable as error:
        with transaction(session):
            batch.state = BatchState.FAILED
            batch.error, batch.error_params = error.message, error.params or None
            batch.finished_at = datetime.now()
        raise
    matches = _match(session, requester, listed, number_pattern)
    with transaction(session):
        batch.total = len(listed)
        batch.processed = 0
    lines = list(zip(range(1, len(listed) + 1), listed, matches, strict=True))
    for chunk in _chunks(lines, limits):
        _run_chunk(session, requester, batch_id, chunk, store, limits)
        if progress is not None:
            progress(round(100 * chunk[-1][0] / max(len(listed), 1)))
    with transaction(session):
        batch = session.get(PhotoBatch, batch_id)
        batch.state = BatchState.DONE
        batch.finished_at = datetime.now()
    return batch


# A batch is worked through in chunks: the files of a chunk are processed one after the
# other in the one job, their files flushed to disk together, and their rows (uploads,
# then photos and the batch's lines) written in two transactions, not a handful per file.
CHUNK_FILES = 25
CHUNK_BYTES = 64 * 1024 * 1024  # packed sizes read into memory at once, at most

Line = tuple[int, Entry, tuple[str, int | None, str | None, dict]]


def _chunks(lines: list[Line], limits: BatchLimits) -> Iterator[list[Line]]:
    chunk, size = [], 0
    for line in lines:
        entry = line[1]
        weight = (
            min(entry.size, limits.photo.max_bytes) if line[2][0] == BatchOutcome.MATCHED else 0
        )
        if chunk and (len(chunk) >= CHUNK_FILES or size + weight > CHUNK_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(line)
        size += weight
    if chunk:
        yield chunk


def _run_chunk(
    session: Session,
    requester: Requester,
    batch_id: int,
    chunk: list[Line],
    store: FileStore,
    limits: BatchLimits,
) -> None:
    """Match, process and report the files of one chunk."""
    outcomes: dict[int, Outcome] = {}
    wanted: dict[int, tuple[Entry, int, bytes]] = {}  # position: entry, member, bytes
    for position, entry, (outcome, member_id, message, params) in chunk:
        if outcome != BatchOutcome.MATCHED:
            outcomes[position] = (outcome, member_id, None, message, params)
            continue
        data = _read(entry, limits)
        if isinstance(data, bytes):
            wanted[position] = (entry, member_id, data)
        else:
            outcomes[position] = (BatchOutcome.REFUSED, member_id, None, *data)
    # The originals flushed to disk together; each upload below then finds its own there.
    store.put_many([("originals", data, "") for _, _, data in wanted.values() if data])
    photos: dict[int, int] = {}  # position: the photo (to process, or done before)
    originals: dict[int, bytes] = {}
    try:
        with transaction(session):
            # The members' rows are locked in one order (two batches cannot deadlock).
            for position in sorted(wanted, key=lambda p: wanted[p][1]):
                entry, member_id, data = wanted[position]
                try:
                    photo = upload_photo(
                        session, requester, member_id, Upload(data, entry.name), store, limits.photo
                    )
                except PhotoRefused as refusal:
                    outcomes[position] = (
                        BatchOutcome.REFUSED,
                        member_id,
                        None,
                        *_named(entry, refusal),
                    )
                    continue
                except DomainError as error:
                    outcomes[position] = (
                        BatchOutcome.NOT_FOUND,
                        member_id,
                        None,
                        *_named(entry, error),
                    )
                    continue
                photos[position] = photo.id
                originals[photo.id] = data
    except ConcurrentChange:
        # A clash with another request for one of these members: file by file instead.
        _run_one_by_one(session, requester, batch_id, chunk, store, limits)
        return
    entries = {position: entry for position, entry, _ in chunk}

    def record(finished: dict[int, Finished]) -> None:
        for position, photo_id in photos.items():
            outcome, message, params = _outcome_of(entries[position], finished[photo_id])
            outcomes[position] = (outcome, wanted[position][1], photo_id, message, params)
        _write_lines(session, batch_id, chunk, outcomes)

    process_photos(
        session, list(photos.values()), store, limits.photo, originals=originals, record=record
    )


Outcome = tuple[str, int | None, int | None, str | None, dict]  # outcome, member, photo, why


def _write_lines(
    session: Session, batch_id: int, chunk: list[Line], outcomes: dict[int, Outcome]
) -> None:
    """The batch's lines for a chunk and its progress (inside the caller's transaction)."""
    for position, entry, _ in chunk:
        outcome, member_id, photo_id, message, params = outcomes[position]
        session.add(
            PhotoBatchItem(
                batch_id=batch_id,
                position=position,
                file_name=entry.name,
                outcome=outcome,
                member_id=member_id,
                photo_id=photo_id,
                message=message,
                message_params=params or None,
            )
        )
    session.execute(
        update(PhotoBatch)
        .where(PhotoBatch.id == batch_id)
        .values(processed=chunk[-1][0])
        .execution_options(synchronize_session=False)
    )


def _run_one_by_one(
    session: Session,
    requester: Requester,
    batch_id: int,
    chunk: list[Line],
    store: FileStore,
    limits: BatchLimits,
) -> None:
    """A chunk file by file, each in its own transactions (when the chunk's clashed)."""
    for position, entry, (outcome, member_id, message, params) in chunk:
        photo_id = None
        if outcome == BatchOutcome.MATCHED:
            outcome, photo_id, message, params = _process_one(
                session, requester, member_id, entry, store, limits
            )
        with transaction(session):
            line = (position, entry, (outcome, member_id, message, params))
            _write_lines(
                session,
                batch_id,
                [line],
                {position: (outcome, member_id, photo_id, message, params)},
            )


def _read(entry: Entry, limits: BatchLimits) -> bytes | tuple[str, dict]:
    """The file's bytes, or why they are not read (damaged, too large, an archive)."""
    try:
        data = entry.read(limits.photo.max_bytes)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return N_("%(name)s: the file is damaged in the archive; not read."), {"name": entry.name}
    if len(data) > limits.photo.max_bytes:
        return _too_large(entry.name, limits).problem
    if data.startswith(ARCHIVE_MAGIC):
        return (
            N_("%(name)s: archives inside the archive are not opened; unpack it first."),
            {"name": entry.name},
        )
    return data


def _outcome_of(entry: Entry, finished: Finished) -> tuple[str, str | None, dict]:
    """A processed photo's batch outcome: matched, or refused with the reason."""
    if finished.state == FileState.DONE:
        return BatchOutcome.MATCHED, None, {}
    reason = PhotoRefused(
        finished.error or N_("The image file is damaged or incomplete."),
        **(finished.error_params or {}),
    )
    return (BatchOutcome.REFUSED, *_named(entry, reason))


def _match(
    session: Session, requester: Requester, entries: list[Entry], number_pattern: str
) -> list[tuple[str, int | None, str | None, dict]]:
    """The outcome each file earns before processing: refused (name), not found,
    ambiguous (several files for one member), or matched with the member's id."""
    numbers = {}
    for index, entry in enumerate(entries):
        if entry.problem is None:
            number = member_number_of(entry.stem, number_pattern)
            if number is not None:
                numbers.setdefault(number, []).append(index)
    found = {}
    wanted = sorted(numbers)
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start : start + 1000]
        rows = session.execute(
            select(func.upper(Member.member_number), Member.id).where(
                func.upper(Member.member_number).in_(chunk),
                scope_clause(Member, requester.scope),
            )
        ).all()
        for number, member_id in rows:
            found.setdefault(number, []).append(member_id)
    results = []
    for index, entry in enumerate(entries):
        if entry.problem is not None:
            results.append((BatchOutcome.REFUSED, None, *entry.problem))
            continue
        number = member_number_of(entry.stem, number_pattern)
        if number is None:
            results.append(
                (
                    BatchOutcome.REFUSED,
                    None,
                    N_("%(name)s: the name is not a member number (e.g. 000123NB.jpg)."),
                    {"name": entry.name},
                )
            )
            continue
        members = found.get(number, [])
        if not members:
            results.append(
                (
                    BatchOutcome.NOT_FOUND,
                    None,
                    N_("%(name)s: no member numbered %(number)s."),
                    {"name": entry.name, "number": number},
                )
            )
        elif len(members) > 1:
            results.append(
                (
                    BatchOutcome.AMBIGUOUS,
                    None,
                    N_("%(name)s: several members are numbered %(number)s."),
                    {"name": entry.name, "number": number},
                )
            )
        elif len(numbers[number]) > 1:
            others = ", ".join(entries[i].name for i in numbers[number] if i != index)
            results.append(
                (
                    BatchOutcome.AMBIGUOUS,
                    members[0],
                    N_(
                        "%(name)s: other files are for the same member (%(others)s); none was used."
                    ),
                    {"name": entry.name, "others": others[:200]},
                )
            )
        else:
            results.append((BatchOutcome.MATCHED, members[0], None, {}))
    return results


def _process_one(
    session: Session,
    requester: Requester,
    member_id: int,
    entry: Entry,
    store: FileStore,
    limits: BatchLimits,
) -> tuple[str, int | None, str | None, dict]:
    data = _read(entry, limits)
    if not isinstance(data, bytes):
        return (BatchOutcome.REFUSED, None, *data)
    try:
        photo = upload_photo(
            session, requester, member_id, Upload(data, entry.name), store, limits.photo
        )
    except PhotoRefused as refusal:
        return (BatchOutcome.REFUSED, None, *_named(entry, refusal))
    except DomainError as error:
        return (BatchOutcome.NOT_FOUND, None, *_named(entry, error))
    if photo.state != FileState.DONE:
        try:
            photo = process_photo(session, photo.id, store, limits.photo)
        except Exception:  # one broken file does not stop the batch; the row says failed
            session.rollback()
            return (
                BatchOutcome.REFUSED,
                photo.id,
                N_("%(name)s: %(reason)s"),
                {"name": entry.name, "reason": STOPPED, "reason_params": {}},
            )
    outcome, message, params = _outcome_of(
        entry, Finished(photo.state, photo.error, photo.error_params)
    )
    return (outcome, photo.id, message, params)


def _named(entry: Entry, error: DomainError) -> tuple[str, dict]:
    """A photo's refusal, as a batch line: "name: reason" (both translated when shown)."""
    return N_("%(name)s: %(reason)s"), {
        "name": entry.name,
        "reason": error.message,
        "reason_params": error.params or {},
    }
