"""The scanned dossier (hồ sơ đảng viên): documents by type, their scans as versions.

A Clerk attaches a scan (PDF, JPEG, PNG or TIFF; several pages) with its type, date,
number and note; a job validates it by content and makes a first-page preview. A
document can be replaced — the new scan is a new version, the old ones are kept — but
never deleted. Every view and download is scoped like the member and written to the
audit log. Which required types (Admin reference data) a member still lacks is listed.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import date, datetime

from PIL import Image
from sqlalchemy import false, func, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.elements import ColumnElement

from webapp.domain import audit, imaging
from webapp.domain.commands import Requester, command, transaction
from webapp.domain.errors import N_, DomainError, NotFound, ValidationFailed
from webapp.domain.imaging import PhotoLimits, PhotoRefused
from webapp.domain.photos import STOPPED, Upload, display_name
from webapp.domain.scope import find_in_scope
from webapp.filestore import FileStore
from webapp.models.files import (
    DocumentType,
    FileState,
    MemberDocument,
    MemberDocumentVersion,
)
from webapp.models.member import Member

log = logging.getLogger(__name__)
PREVIEW_WIDTH = 800
PDF_MAGIC = b"%PDF-"


@dataclass(frozen=True)
class DocumentLimits:
    max_bytes: int = 20 * 1024 * 1024
    max_pages: int = 200
    max_pixels: int = 40_000_000

    @classmethod
    def from_config(cls, config) -> DocumentLimits:
        return cls(
            max_bytes=int(config.get("DOCUMENT_MAX_MB", 20)) * 1024 * 1024,
            max_pages=int(config.get("DOCUMENT_MAX_PAGES", 200)),
            max_pixels=int(config.get("PHOTO_MAX_MEGAPIXELS", 40)) * 1_000_000,
        )

    @property
    def image(self) -> PhotoLimits:
        return PhotoLimits(max_bytes=self.max_bytes, max_pixels=self.max_pixels, min_side=1)


@dataclass(frozen=True)
class DocumentFields:
    type_id: int | None
    issued_on: date | None = None
    number: str | None = None
    note: str | None = None


def job_id_for(version: MemberDocumentVersion) -> str:
    return f"document-{version.id}"


def _audit(session, requester: Requester, action: str, version: MemberDocumentVersion, **after):
    audit.append(
        session,
        action,
        object_type="Member",
        object_id=version.document.member_id,
        after={"document": version.document_id, "version": version.number, **after},
        user_id=requester.user_id,
        username=requester.username,
    )


def _check_fields(session: Session, fields: DocumentFields) -> DocumentType:
    errors: dict[str, list] = {}
    kind = session.get(DocumentType, fields.type_id) if isinstance(fields.type_id, int) else None
    if kind is None or not kind.active:
        errors["type"] = [(N_("Choose the type of document."), {})]
    if fields.number and len(fields.number) > 60:
        errors["number"] = [(N_("At most %(count)s characters."), {"count": 60})]
    if fields.note and len(fields.note) > 500:
        errors["note"] = [(N_("At most %(count)s characters."), {"count": 500})]
    if fields.issued_on and fields.issued_on > date.today():
        errors["issued_on"] = [(N_("The date cannot be in the future."), {})]
    if errors:
        raise ValidationFailed(errors)
    return kind


def _new_version(
    session: Session,
    requester: Requester,
    document: MemberDocument,
    upload: Upload,
    store: FileStore,
    limits: DocumentLimits,
) -> MemberDocumentVersion:
    if not upload.data:
        raise DomainError(N_("The file is empty."))
    if len(upload.data) > limits.max_bytes:
        raise DomainError(
            N_("The file is larger than %(limit)s MB."), limit=limits.max_bytes // (1024 * 1024)
        )
    stored = store.put_bytes("documents", upload.data)
    number = (
        session.scalar(
            select(func.max(MemberDocumentVersion.number)).where(
                MemberDocumentVersion.document_id == document.id
            )
        )
        or 0
    ) + 1
    version = MemberDocumentVersion(
        document=document,
        number=number,
        sha256=stored.sha256,
        path=stored.path,
        file_name=display_name(upload.file_name),
        size=stored.size,
        state=FileState.QUEUED,
        uploaded_by_id=requester.user_id,
        # The clock of this process, not the transaction's start (the lost-job check
        # compares it with this clock).
        created_at=datetime.now(),
    )
    session.add(version)
    session.flush()
    version.job_id = job_id_for(version)
    return version


@command("document.attach")
def attach_document(
    session: Session,
    requester: Requester,
    member_id: int,
    fields: DocumentFields,
    upload: Upload,
    store: FileStore,
    limits: DocumentLimits,
) -> MemberDocumentVersion:
    """A new document of the member's dossier with its first scan (queued for checking)."""
    member = find_in_scope(session, Member, member_id, requester.scope, lock=True)
    kind = _check_fields(session, fields)
    document = MemberDocument(
        member_id=member.id,
        type_id=kind.id,
        issued_on=fields.issued_on,
        number=fields.number,
        note=fields.note,
        created_by_id=requester.user_id,
    )
    session.add(document)
    session.flush()
    version = _new_version(session, requester, document, upload, store, limits)
    _audit(session, requester, "document_attach", version, type=kind.code)
    return version


@command("document.replace")
def replace_document(
    session: Session,
    requester: Requester,
    document_id: int,
    upload: Upload,
    store: FileStore,
    limits: DocumentLimits,
) -> MemberDocumentVersion:
    """A new scan of a document; the versions before it are kept."""
    document = find_in_scope(session, MemberDocument, document_id, requester.scope, lock=True)
    version = _new_version(session, requester, document, upload, store, limits)
    _audit(session, requester, "document_replace", version)
    return version


# --- The job ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Checked:
    media_type: str
    pages: int
    preview: bytes


def check_scan(data: bytes, limits: DocumentLimits) -> Checked:
    """What the scan is, by content, and its first page as a JPEG; PhotoRefused if it is
    not an acceptable document."""
    if data.startswith(PDF_MAGIC):
        return _check_pdf(data, limits)
    try:
        image = imaging.open_checked(data, limits.image)
    except PhotoRefused as refusal:
        if refusal.message == N_("The file is not a JPEG, PNG or TIFF image."):
            raise PhotoRefused(N_("The file is not a PDF, JPEG, PNG or TIFF document.")) from None
        raise
    pages = getattr(image, "n_frames", 1)
    if pages > limits.max_pages:
        raise PhotoRefused(
            N_("The document has more than %(limit)s pages."), limit=limits.max_pages
        )
    media_type = {"JPEG": "image/jpeg", "PNG": "image/png", "TIFF": "image/tiff"}[image.format]
    first = imaging.decode(image)
    return Checked(media_type, pages, _preview(first))


def _check_pdf(data: bytes, limits: DocumentLimits) -> Checked:
    import pypdfium2

    try:
        pdf = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as error:
        if "password" in str(error).lower():
            raise PhotoRefused(N_("The PDF is protected by a password.")) from None
        raise PhotoRefused(N_("The PDF file is damaged or incomplete.")) from None
    try:
        pages = len(pdf)
        if pages == 0:
            raise PhotoRefused(N_("The PDF file is damaged or incomplete."))
        if pages > limits.max_pages:
            raise PhotoRefused(
                N_("The document has more than %(limit)s pages."), limit=limits.max_pages
            )
        page = pdf[0]
        width, height = page.get_size()
        if width <= 0 or height <= 0:
            raise PhotoRefused(N_("The PDF file is damaged or incomplete."))
        # The scale follows the page's size, so a giant page renders no larger.
        scale = min(PREVIEW_WIDTH / width, 4.0)
        bitmap = page.render(scale=scale)
        image = bitmap.to_pil().convert("RGB")
    except pypdfium2.PdfiumError:
        raise PhotoRefused(N_("The PDF file is damaged or incomplete.")) from None
    finally:
        pdf.close()
    return Checked("application/pdf", pages, _preview(image))


def _preview(image: Image.Image) -> bytes:
    if image.width > PREVIEW_WIDTH:
        height = max(1, round(image.height * PREVIEW_WIDTH / image.width))
        image = image.resize((PREVIEW_WIDTH, height), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    image.info = {}
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def process_document(
    session: Session, version_id: int, store: FileStore, limits: DocumentLimits
) -> MemberDocumentVersion | None:
    """Check one scan and make its preview (the job's work); a done version is left."""
    version = session.get(MemberDocumentVersion, version_id)
    if version is None or version.state == FileState.DONE:
        return version
    with transaction(session):
        version.state = FileState.PROCESSING
    try:
        checked = check_scan(store.read_bytes(version.path), limits)
    except PhotoRefused as refusal:
        with transaction(session):
            version.state = FileState.REFUSED
            version.error, version.error_params = refusal.message, refusal.params or None
            version.finished_at = datetime.now()
        return version
    except BaseException:
        log.exception("document version %s: check failed", version_id)
        session.rollback()
        with transaction(session):
            version = session.get(MemberDocumentVersion, version_id)
            version.state = FileState.FAILED
            version.error = STOPPED
            version.finished_at = datetime.now()
        raise
    preview = store.put_bytes("previews", checked.preview, ".jpg")
    with transaction(session):
        session.refresh(version)
        version.media_type = checked.media_type
        version.pages = checked.pages
        version.preview_path = preview.path
        version.state = FileState.DONE
        version.finished_at = datetime.now()
    return version


# --- Reading ----------------------------------------------------------------------------


def member_documents(session: Session, member_id: int) -> list[MemberDocument]:
    return session.scalars(
        select(MemberDocument)
        .where(MemberDocument.member_id == member_id)
        .options(selectinload(MemberDocument.versions), selectinload(MemberDocument.type))
        .order_by(MemberDocument.type_id, MemberDocument.id)
        .execution_options(populate_existing=True)
    ).all()


def document_types(session: Session) -> list[DocumentType]:
    return session.scalars(
        select(DocumentType).where(DocumentType.active).order_by(DocumentType.position)
    ).all()


def required_document_types(session: Session) -> list[DocumentType]:
    """The document types every dossier must hold (Admin reference data), in list order."""
    return session.scalars(
        select(DocumentType)
        .where(DocumentType.active, DocumentType.required)
        .order_by(DocumentType.position, DocumentType.id)
    ).all()


def _held_types():
    """(member_id, type_id) of every document with an accepted scan."""
    return select(MemberDocument.member_id, MemberDocument.type_id).where(
        MemberDocument.id.in_(
            select(MemberDocumentVersion.document_id).where(
                MemberDocumentVersion.state == FileState.DONE
            )
        )
    )


def lacks_required_documents(required: list[DocumentType]) -> ColumnElement[bool]:
    """A condition on Member: the member has no accepted scan of some required type."""
    if not required:
        return false()
    held = _held_types().subquery()
    return select(func.count(held.c.type_id.distinct())).where(
        held.c.member_id == Member.id, held.c.type_id.in_([t.id for t in required])
    ).scalar_subquery() < len(required)


def missing_required_by_member(
    session: Session, members, required: list[DocumentType]
) -> dict[int, list[DocumentType]]:
    """For the members of the select `members` (of Member.id): the required types each
    lacks, in list order; members lacking none are left out. Reads one row per held
    document, not per member."""
    held: dict[int, set[int]] = {}
    if required:
        rows = session.execute(
            _held_types().where(
                MemberDocument.member_id.in_(members),
                MemberDocument.type_id.in_([t.id for t in required]),
            )
        )
        for member_id, type_id in rows:
            held.setdefault(member_id, set()).add(type_id)
    lacking = {}
    for (member_id,) in session.execute(members):
        missing = [t for t in required if t.id not in held.get(member_id, ())]
        if missing:
            lacking[member_id] = missing
    return lacking


def missing_required(session: Session, member_id: int) -> list[DocumentType]:
    """Required document types the member has no accepted scan of."""
    required = required_document_types(session)
    lacking = missing_required_by_member(
        session, select(Member.id).where(Member.id == member_id), required
    )
    return lacking.get(member_id, [])


@command("document.view")
def view_document(
    session: Session,
    requester: Requester,
    document_id: int,
    version_number: int | None = None,
    preview: bool = False,
) -> MemberDocumentVersion:
    """A document's scan (its current version, or version `version_number`) for viewing
    or download, written to the audit log."""
    document = find_in_scope(session, MemberDocument, document_id, requester.scope)
    versions = [v for v in document.versions if v.state == FileState.DONE]
    if version_number is not None:
        versions = [v for v in versions if v.number == version_number]
    if not versions:
        raise NotFound(N_("The document has no scan that can be shown."))
    version = versions[-1]
    _audit(session, requester, "document_view", version, preview=preview)
    return version
