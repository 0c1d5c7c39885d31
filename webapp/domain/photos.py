"""The member's photo: upload, crop, processing and viewing, as commands (DESIGN §7).

An upload is stored under DATA_DIR by content hash before its row is written; the row is
the request "make this original, cropped so, the member's photo". A job processes it
(`process_photo`): the standard photo and thumbnail are written (atomically, by hash)
before the row names them, and the member's current photo moves to it in the same
transaction that marks it done. A refused or crashed processing leaves the previous photo
current. The same upload twice, or the same crop twice, is the same row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, aliased

from webapp.domain import audit, imaging
from webapp.domain.commands import Requester, command, transaction
from webapp.domain.errors import N_, DomainError, NotFound
from webapp.domain.imaging import PhotoLimits, PhotoRefused
from webapp.domain.scope import find_in_scope
from webapp.domain.sync_capture import record_changes
from webapp.filestore import FileStore, Stored
from webapp.models.files import ACTIVE_FILE_STATES, AUTO_CROP, FileState, MemberPhoto
from webapp.models.member import Member

log = logging.getLogger(__name__)

# Shown when a processing stopped without saying why (a killed worker, a timeout).
STOPPED = N_("The processing stopped before it finished; upload the photo again.")


@dataclass(frozen=True)
class Upload:
    data: bytes
    file_name: str | None = None


def display_name(file_name: str | None) -> str | None:
    """The user's file name for display: its last part, printable, bounded."""
    if not file_name:
        return None
    name = file_name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable())
    return name[:255] or None


def job_id_for(photo: MemberPhoto) -> str:
    return f"photo-{photo.id}"


def current_photo(session: Session, member_id: int) -> MemberPhoto | None:
    return session.scalar(
        select(MemberPhoto)
        .where(MemberPhoto.member_id == member_id, MemberPhoto.current)
        .execution_options(populate_existing=True)  # a worker changes it under our feet
    )


def latest_photo(session: Session, member_id: int) -> MemberPhoto | None:
    """The most recently requested processing (what the page reports the state of)."""
    return session.scalar(
        select(MemberPhoto)
        .where(MemberPhoto.member_id == member_id)
        .order_by(MemberPhoto.requested_at.desc(), MemberPhoto.id.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    )


def _audit(session: Session, requester: Requester, action: str, photo: MemberPhoto, **after):
    audit.append(
        session,
        action,
        object_type="Member",
        object_id=photo.member_id,
        after={"photo": photo.id, **after},
        user_id=requester.user_id,
        username=requester.username,
    )


def _request(
    session: Session,
    requester: Requester,
    member: Member,
    *,
    sha256: str,
    path: str,
    size: int,
    name: str | None,
    crop_key: str,
) -> MemberPhoto:
    """The row for (member, original, crop): the existing one asked for again, or new."""
    photo = session.scalar(
        select(MemberPhoto)
        .where(
            MemberPhoto.member_id == member.id,
            MemberPhoto.original_sha256 == sha256,
            MemberPhoto.crop_key == crop_key,
        )
        .with_for_update()
    )
    now = datetime.now()
    if photo is None:
        photo = MemberPhoto(
            member_id=member.id,
            original_sha256=sha256,
            original_path=path,
            original_name=name,
            original_size=size,
            crop_key=crop_key,
            state=FileState.QUEUED,
            uploaded_by_id=requester.user_id,
            requested_at=now,
        )
        session.add(photo)
        session.flush()
        photo.job_id = job_id_for(photo)
    elif photo.state == FileState.DONE:
        # Already made: it simply becomes the member's photo again, no new processing.
        photo.requested_at = now
        make_current(session, photo)
    elif photo.state in (FileState.REFUSED, FileState.FAILED):
        photo.state = FileState.QUEUED
        photo.error = None
        photo.error_params = None
        photo.requested_at = now
    else:
        photo.requested_at = now  # queued or processing: the job that runs will do
    return photo


@command("photo.upload")
def upload_photo(
    session: Session,
    requester: Requester,
    member_id: int,
    upload: Upload,
    store: FileStore,
    limits: PhotoLimits,
) -> MemberPhoto:
    """Keep the original and ask for its processing; the adapter queues the job when the
    row says queued. Only the size is checked here (the content is the job's)."""
    member = find_in_scope(session, Member, member_id, requester.scope, lock=True)
    imaging.check_size(len(upload.data), limits)
    stored = store.put_bytes("originals", upload.data)
    photo = _request(
        session,
        requester,
        member,
        sha256=stored.sha256,
        path=stored.path,
        size=stored.size,
        name=display_name(upload.file_name),
        crop_key=AUTO_CROP,
    )
    _audit(session, requester, "photo_upload", photo, sha256=stored.sha256)
    return photo


@command("photo.crop")
def crop_photo(
    session: Session,
    requester: Requester,
    member_id: int,
    box: tuple[int, int, int, int],
    limits: PhotoLimits,
    photo_id: int | None = None,
) -> MemberPhoto:
    """Ask for the member's photo (or photo `photo_id` of the member) cropped to `box`
    (left, top, width, height in the upright original): re-made from the kept original."""
    member = find_in_scope(session, Member, member_id, requester.scope, lock=True)
    base = (
        session.get(MemberPhoto, photo_id)
        if photo_id is not None
        else current_photo(session, member.id)
    )
    if base is None or base.member_id != member.id or base.width is None:
        raise NotFound(N_("The member has no processed photo to crop."))
    key = ",".join(str(int(v)) for v in box)
    chosen = imaging.chosen_box(key, base.width, base.height, limits)
    photo = _request(
        session,
        requester,
        member,
        sha256=base.original_sha256,
        path=base.original_path,
        size=base.original_size,
        name=base.original_name,
        crop_key=chosen.key,
    )
    _audit(session, requester, "photo_crop", photo, box=chosen.key)
    return photo


def make_current(session: Session, photo: MemberPhoto) -> None:
    """Photo becomes the member's photo (the caller holds the member's row lock)."""
    _demote_current(session, photo.member_id, photo.id)
    photo.current = True
    session.flush()


@dataclass(frozen=True)
class _Work:
    """What processing a row needs, read before a commit expires the row."""

    photo_id: int
    member_id: int
    asked_at: datetime
    original_path: str
    crop_key: str | None

    @classmethod
    def of(cls, photo: MemberPhoto) -> _Work:
        return cls(
            photo_id=photo.id,
            member_id=photo.member_id,
            asked_at=photo.requested_at,
            original_path=photo.original_path,
            crop_key=None if photo.crop_key == AUTO_CROP else photo.crop_key,
        )


@dataclass(frozen=True)
class Finished:
    """How a processing ended: the row's state and, when refused or failed, why."""

    state: str
    error: str | None = None
    error_params: dict | None = None


def process_photo(
    session: Session,
    photo_id: int,
    store: FileStore,
    limits: PhotoLimits,
    *,
    checkpoint=None,
) -> MemberPhoto | None:
    """Process one requested photo (the job's work; trusted, the request was checked).
    Running it again on a done row changes nothing."""
    photo = session.get(MemberPhoto, photo_id)
    if photo is None or photo.state == FileState.DONE:
        return photo
    work = _Work.of(photo)
    with transaction(session):
        photo.state = FileState.PROCESSING
        photo.started_at = datetime.now()
        photo.error = None
        photo.error_params = None
    try:
        data = store.read_bytes(work.original_path)
        result = imaging.process(data, limits, work.crop_key)
    except PhotoRefused as refusal:
        with transaction(session):
            _write_refused(session, photo_id, refusal)
        session.expire(photo)
        return photo
    except BaseException:
        log.exception("photo %s: processing failed", photo_id)
        session.rollback()
        with transaction(session):
            _write_failed(session, photo_id)
        raise
    outputs = store.put_many(_outputs(result))
    if checkpoint is not None:
        checkpoint("files-written")
    with transaction(session):
        _write_done(session, work, result, outputs)
    session.expire(photo)
    return photo


def process_photos(
    session: Session,
    photo_ids: list[int],
    store: FileStore,
    limits: PhotoLimits,
    *,
    originals: dict[int, bytes] | None = None,
    record: Callable[[dict[int, Finished]], None] | None = None,
) -> dict[int, Finished]:
    """Process several requested photos as one piece of work (a chunk of a batch): the
    pictures one after the other, their outputs flushed to disk together, and every row
    finished in one transaction, with `record(finished)` (the caller's rows, e.g. the
    batch's lines) in the same one. `originals` are the bytes already in hand, by photo
    id. A photo whose processing breaks is marked failed; the others go on."""
    rows = (
        session.scalars(
            select(MemberPhoto)
            .where(MemberPhoto.id.in_(photo_ids))
            .order_by(MemberPhoto.member_id, MemberPhoto.id)
        ).all()
        if photo_ids
        else []
    )
    finished: dict[int, Finished] = {}
    works, made = [], []
    for photo in rows:
        if photo.state == FileState.DONE:
            finished[photo.id] = Finished(FileState.DONE)
        else:
            works.append(_Work.of(photo))
    for work in works:
        try:
            data = (originals or {}).get(work.photo_id)
            if data is None:
                data = store.read_bytes(work.original_path)
            made.append((work, imaging.process(data, limits, work.crop_key)))
        except PhotoRefused as refusal:
            made.append((work, refusal))
        except Exception:  # one broken file does not stop the others; its row says failed
            log.exception("photo %s: processing failed", work.photo_id)
            made.append((work, None))
    done = [(work, result) for work, result in made if isinstance(result, imaging.ProcessedPhoto)]
    written = store.put_many([item for _, result in done for item in _outputs(result)])
    outputs = {work.photo_id: written[3 * i : 3 * i + 3] for i, (work, _) in enumerate(done)}
    with transaction(session):
        for work, result in made:
            if isinstance(result, imaging.ProcessedPhoto):
                _write_done(session, work, result, outputs[work.photo_id])
                finished[work.photo_id] = Finished(FileState.DONE)
            elif isinstance(result, PhotoRefused):
                _write_refused(session, work.photo_id, result)
                finished[work.photo_id] = Finished(
                    FileState.REFUSED, result.message, result.params or None
                )
            else:
                _write_failed(session, work.photo_id)
                finished[work.photo_id] = Finished(FileState.FAILED, STOPPED)
        if record is not None:
            record(finished)
    return finished


def _outputs(result: imaging.ProcessedPhoto) -> list[tuple[str, bytes, str]]:
    return [
        ("photos", result.standard, ".jpg"),
        ("thumbs", result.thumb, ".jpg"),
        ("previews", result.preview, ".jpg"),
    ]


def _write_refused(session: Session, photo_id: int, refusal: PhotoRefused) -> None:
    _set(
        session,
        photo_id,
        state=FileState.REFUSED,
        error=refusal.message,
        error_params=refusal.params or None,
        finished_at=datetime.now(),
    )


def _write_failed(session: Session, photo_id: int) -> None:
    _set(session, photo_id, state=FileState.FAILED, error=STOPPED, finished_at=datetime.now())


def _set(session: Session, photo_id: int, **values) -> None:
    # Written by statement, not through a row the last commit expired (read back first).
    session.execute(
        update(MemberPhoto)
        .where(MemberPhoto.id == photo_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def _write_done(
    session: Session, work: _Work, result: imaging.ProcessedPhoto, outputs: list[Stored]
) -> None:
    """The row done with its files (already on disk), and the member's photo when it was
    asked for last; inside the caller's transaction."""
    standard, thumb, preview = outputs
    # One round trip: the member's row lock (photo requests of a member are serialised
    # on it), when this photo was last asked for, and the current photo's.
    requested_at, current_asked = session.execute(
        _LOCK_AND_REQUESTS, {"member": work.member_id, "photo": work.photo_id}
    ).one()
    box = result.box
    done = {
        "state": FileState.DONE,
        "standard_sha256": standard.sha256,
        "standard_path": standard.path,
        "thumb_path": thumb.path,
        "preview_path": preview.path,
        "width": result.width,
        "height": result.height,
        "crop_left": box.left,
        "crop_top": box.top,
        "crop_width": box.width,
        "crop_height": box.height,
        "face_found": result.face_found,
        "error": None,
        "error_params": None,
        "finished_at": datetime.now(),
    }
    # A later request that finished first stays the member's photo.
    if current_asked is None or current_asked <= max(requested_at, work.asked_at):
        if current_asked is not None:
            _demote_current(session, work.member_id, work.photo_id)
        done["current"] = True
    _set(session, work.photo_id, **done)
    # Written by statement, out of the session's sight: the outbox is told directly.
    record_changes(session, "member_photo", [work.photo_id], member_id=work.member_id)


_OTHER = aliased(MemberPhoto)
_LOCK_AND_REQUESTS = (
    select(
        select(MemberPhoto.requested_at)
        .where(MemberPhoto.id == bindparam("photo"))
        .scalar_subquery(),
        select(_OTHER.requested_at)
        .where(_OTHER.member_id == Member.id, _OTHER.current, _OTHER.id != bindparam("photo"))
        .scalar_subquery(),
    )
    .select_from(Member)
    .where(Member.id == bindparam("member"))
    .with_for_update(of=Member)
)


def _demote_current(session: Session, member_id: int, photo_id: int) -> None:
    # The member's photos travel with the member: one outbox row for the member is enough.
    record_changes(session, "member", [member_id], member_id=member_id)
    session.execute(
        update(MemberPhoto)
        .where(
            MemberPhoto.member_id == member_id,
            MemberPhoto.current,
            MemberPhoto.id != photo_id,
        )
        .values(current=False)
        .execution_options(synchronize_session="fetch")
    )


LOST_AFTER_SECONDS = 30  # a row just committed may not have its job queued yet
ACTIVE_JOB_STATES = ("queued", "started", "deferred", "scheduled")


def settle_lost_job(
    session: Session, row, job_state_of: Callable[[str | None], str | None]
) -> bool:
    """A queued or processing row (a photo, a document version) whose job is gone or
    failed (a killed work horse): say so instead of showing it processing forever.
    `job_state_of(job_id)` is the job's state, None when there is no such job. True when
    the row was marked failed."""
    if row.state not in ACTIVE_FILE_STATES or job_state_of(row.job_id) in ACTIVE_JOB_STATES:
        return False
    with transaction(session):
        # Read again under a lock: the job may have finished since the row was loaded.
        session.refresh(row, with_for_update=True)
        if row.state not in ACTIVE_FILE_STATES:
            return False
        state = job_state_of(row.job_id)
        asked_at = getattr(row, "requested_at", None) or row.created_at
        age = (datetime.now() - asked_at).total_seconds()
        if state in ACTIVE_JOB_STATES or (state is None and age < LOST_AFTER_SECONDS):
            return False
        log.warning("%s %s: job %s is %s", type(row).__name__, row.id, row.job_id, state)
        row.state = FileState.FAILED
        row.error = STOPPED
        row.finished_at = datetime.now()
    return True


SIZES = ("standard", "thumb", "preview", "original")


@command("photo.view")
def view_photo(
    session: Session, requester: Requester, member_id: int, size: str = "standard"
) -> MemberPhoto:
    """The member's current photo for viewing, written to the audit log."""
    if size not in SIZES:
        raise DomainError(N_("Unknown photo size %(size)s."), size=size)
    member = find_in_scope(session, Member, member_id, requester.scope)
    photo = current_photo(session, member.id)
    if photo is None:
        raise NotFound(N_("The member has no photo."))
    _audit(session, requester, "photo_view", photo, size=size)
    return photo


def photo_path(photo: MemberPhoto, size: str) -> str:
    return {
        "standard": photo.standard_path,
        "thumb": photo.thumb_path,
        "preview": photo.preview_path,
        "original": photo.original_path,
    }[size]
