"""The member's file: photos (each upload and each crop a row; one is current), batches of
scans, and the scanned dossier (document types, documents, their kept versions).

Files live under DATA_DIR by content hash (webapp/filestore.py); a row names a file only
once the file is complete on disk, so a crash leaves no row pointing at half a file.
"""

from __future__ import annotations

from enum import StrEnum

from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import relationship


class FileState(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    DONE = "done"
    REFUSED = "refused"  # the content is not acceptable (the reason says why)
    FAILED = "failed"  # the job stopped (crash, timeout): may be retried


ACTIVE_FILE_STATES = (FileState.QUEUED, FileState.PROCESSING)
AUTO_CROP = "auto"


class MemberPhoto(Model):
    """One processing of an original photo with one crop (automatic or chosen); the
    member's photo is the row marked current, moved only when a processing succeeds."""

    __tablename__ = "member_photo"

    id = Column(Integer, primary_key=True)
    member_id = Column(Integer, ForeignKey("member.id", ondelete="RESTRICT"), nullable=False)
    member = relationship("Member")
    original_sha256 = Column(String(64), nullable=False)
    original_path = Column(String(200), nullable=False)  # relative to DATA_DIR
    original_name = Column(String(255))  # what the user called it: shown, never used as a path
    original_size = Column(Integer, nullable=False)
    # "auto" (face or centre) or "left,top,width,height" in the upright original's pixels.
    crop_key = Column(String(60), nullable=False, default=AUTO_CROP)
    crop_left = Column(Integer)
    crop_top = Column(Integer)
    crop_width = Column(Integer)
    crop_height = Column(Integer)
    face_found = Column(Boolean)
    width = Column(Integer)  # upright original
    height = Column(Integer)
    state = Column(String(12), nullable=False, default=FileState.QUEUED)
    error = Column(String(300))  # msgid, translated when shown
    error_params = Column(JSON)
    standard_sha256 = Column(String(64))
    standard_path = Column(String(200))
    thumb_path = Column(String(200))
    preview_path = Column(String(200))  # the upright original, reduced: for the crop screen
    current = Column(Boolean, nullable=False, default=False, server_default=text("false"))
    job_id = Column(String(64))
    uploaded_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    uploaded_by = relationship(User)
    created_at = Column(DateTime, nullable=False, server_default=func.now())
    # Asked for (again): of two processings that finish, the one asked for last is current.
    requested_at = Column(DateTime, nullable=False, server_default=func.now())
    started_at = Column(DateTime)
    finished_at = Column(DateTime)

    __table_args__ = (
        # The same upload (or the same crop of it) twice is the same photo.
        UniqueConstraint("member_id", "original_sha256", "crop_key", name="uq_member_photo_key"),
        Index(
            "uq_member_photo_current",
            "member_id",
            unique=True,
            postgresql_where=text("current"),
            sqlite_where=text("current"),
        ),
    )


class BatchState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class BatchOutcome(StrEnum):
    MATCHED = "matched"  # processed and now the member's photo
    NOT_FOUND = "not_found"  # no member with that number in the requester's scope
    AMBIGUOUS = "ambiguous"  # several files for one member, or a name that is not one number
    REFUSED = "refused"  # the file itself was refused (the message says why)


class PhotoBatch(Model):
    """A ZIP or a folder of scanner output whose file names carry member numbers."""

    __tablename__ = "photo_batch"

    id = Column(Integer, primary_key=True)
    source_name = Column(String(255), nullable=False)  # shown only
    archive_sha256 = Column(String(64))
    archive_path = Column(String(200))  # relative to DATA_DIR (uploaded ZIPs)
    state = Column(String(12), nullable=False, default=BatchState.QUEUED)
    total = Column(Integer, nullable=False, default=0)
    processed = Column(Integer, nullable=False, default=0)
    error = Column(String(300))
    error_params = Column(JSON)
    job_id = Column(String(64))
    requested_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    requested_by = relationship(User)
    created_at = Column(DateTime, nullable=False, server_default=func.now())
    started_at = Column(DateTime)
    finished_at = Column(DateTime)
    items = relationship(
        "PhotoBatchItem", back_populates="batch", order_by="PhotoBatchItem.position"
    )

    __table_args__ = (Index("ix_photo_batch_requester", "requested_by_id", "created_at"),)


class PhotoBatchItem(Model):
    __tablename__ = "photo_batch_item"

    id = Column(Integer, primary_key=True)
    batch_id = Column(Integer, ForeignKey("photo_batch.id", ondelete="CASCADE"), nullable=False)
    batch = relationship(PhotoBatch, back_populates="items")
    position = Column(Integer, nullable=False)
    file_name = Column(String(255), nullable=False)  # as in the archive, shown only
    outcome = Column(String(12), nullable=False)
    member_id = Column(Integer, ForeignKey("member.id", ondelete="CASCADE"))
    member = relationship("Member")
    photo_id = Column(Integer, ForeignKey("member_photo.id", ondelete="SET NULL"))
    message = Column(String(300))  # msgid
    message_params = Column(JSON)

    __table_args__ = (Index("ix_photo_batch_item_batch", "batch_id", "position"),)


class DocumentType(Model):
    """Admin reference data: the kinds of document in a member's dossier (12-HD/BTCTW)."""

    __tablename__ = "document_type"

    id = Column(Integer, primary_key=True)
    code = Column(String(40), nullable=False, unique=True)
    name = Column(String(255), nullable=False)
    required = Column(Boolean, nullable=False, default=False)
    position = Column(Integer, nullable=False, default=0)
    active = Column(Boolean, nullable=False, default=True)
    note = Column(String(500))

    def __repr__(self) -> str:
        return self.name


class MemberDocument(Model):
    """A document of the dossier; its scans are versions (a replacement keeps the old)."""

    __tablename__ = "member_document"

    id = Column(Integer, primary_key=True)
    member_id = Column(Integer, ForeignKey("member.id", ondelete="RESTRICT"), nullable=False)
    member = relationship("Member")
    type_id = Column(Integer, ForeignKey("document_type.id", ondelete="RESTRICT"), nullable=False)
    type = relationship(DocumentType)
    issued_on = Column(Date)
    number = Column(String(60))
    note = Column(String(500))
    created_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    created_at = Column(DateTime, nullable=False, server_default=func.now())
    versions = relationship(
        "MemberDocumentVersion",
        back_populates="document",
        order_by="MemberDocumentVersion.number",
    )

    __table_args__ = (Index("ix_member_document_member", "member_id", "type_id"),)

    @property
    def current_version(self) -> MemberDocumentVersion | None:
        done = [v for v in self.versions if v.state == FileState.DONE]
        return done[-1] if done else None

    @property
    def latest_version(self) -> MemberDocumentVersion | None:
        return self.versions[-1] if self.versions else None


class MemberDocumentVersion(Model):
    __tablename__ = "member_document_version"

    id = Column(Integer, primary_key=True)
    document_id = Column(
        Integer, ForeignKey("member_document.id", ondelete="RESTRICT"), nullable=False
    )
    document = relationship(MemberDocument, back_populates="versions")
    number = Column(Integer, nullable=False)
    sha256 = Column(String(64), nullable=False)
    path = Column(String(200), nullable=False)  # relative to DATA_DIR
    file_name = Column(String(255))  # shown only
    size = Column(Integer, nullable=False)
    media_type = Column(String(40))  # known once validated
    pages = Column(Integer)
    preview_path = Column(String(200))
    state = Column(String(12), nullable=False, default=FileState.QUEUED)
    error = Column(String(300))
    error_params = Column(JSON)
    job_id = Column(String(64))
    uploaded_by_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    uploaded_by = relationship(User)
    created_at = Column(DateTime, nullable=False, server_default=func.now())
    finished_at = Column(DateTime)

    __table_args__ = (UniqueConstraint("document_id", "number", name="uq_member_document_version"),)
