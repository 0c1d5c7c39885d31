"""Jobs on the `photos` queue: process a member's photo, a batch of scans, a document.

Each receives an id; the durable outcome is on the row (webapp/models/files.py). A test
can stop a job at a named point (DANGVIEN_JOB_PAUSE_AT): it writes its process id to
DANGVIEN_JOB_PAUSE_FILE and waits there, to be killed from outside.
"""

from __future__ import annotations

import os
import time

from flask import current_app

from jobs import enqueue, fetch_job
from webapp.domain.photos import ACTIVE_JOB_STATES

PHOTO_TIMEOUT = 120


def preload() -> None:
    """What every photo job needs, loaded in the worker before it forks: OpenCV and its
    face cascade (about 0.1 s per job otherwise), PDFium."""
    import contextlib

    from webapp.domain import dossier, imaging, photo_batches, photos  # noqa: F401

    imaging._cascade()
    with contextlib.suppress(ImportError):
        import pypdfium2  # noqa: F401


def pause_point(name: str) -> None:
    """Wait here forever when a test asked to (to kill the process in the middle)."""
    if os.environ.get("DANGVIEN_JOB_PAUSE_AT") != name:
        return
    marker = os.environ.get("DANGVIEN_JOB_PAUSE_FILE")
    if marker:
        with open(marker + ".tmp", "w") as handle:
            handle.write(str(os.getpid()))
        os.replace(marker + ".tmp", marker)
    while True:  # pragma: no cover - ended by the test's kill
        time.sleep(1)


def _store_and_limits():
    from webapp.domain.imaging import PhotoLimits
    from webapp.filestore import app_store

    return app_store(), PhotoLimits.from_config(current_app.config)


def process_photo_job(photo_id: int) -> int:
    from webapp.domain.photos import process_photo
    from webapp.extensions import db

    store, limits = _store_and_limits()
    process_photo(db.session, photo_id, store, limits, checkpoint=pause_point)
    return photo_id


def queue_photo(photo_id: int, *, user_id: int | None = None) -> str:
    """Queue the processing of a photo row once (a deterministic job id per row)."""
    job_id = f"photo-{photo_id}"
    job = fetch_job(job_id)
    if job is not None and job.get_status() in ACTIVE_JOB_STATES:
        return job_id
    if job is not None:
        job.delete()
    enqueue(
        process_photo_job,
        photo_id,
        queue="photos",
        title=f"photo {photo_id}",
        job_id=job_id,
        timeout=PHOTO_TIMEOUT,
        user_id=user_id,
    )
    return job_id


def job_state(job_id: str | None) -> str | None:
    if not job_id:
        return None
    job = fetch_job(job_id)
    if job is None:
        return None
    status = job.get_status()
    # RQ's JobStatus is a str enum: its value ("queued"), not str() ("JobStatus.QUEUED").
    return getattr(status, "value", status)


def run_batch_job(batch_id: int) -> int:
    """Match and process the files of an uploaded ZIP of scans."""
    from jobs import report_progress
    from webapp.domain.photo_batches import BatchLimits, run_batch
    from webapp.extensions import db
    from webapp.filestore import app_store

    run_batch(
        db.session,
        batch_id,
        None,
        app_store(),
        BatchLimits.from_config(current_app.config),
        current_app.config["MEMBER_NUMBER_PATTERN"],
        report_progress,
    )
    return batch_id


BATCH_TIMEOUT = 3 * 3600


def queue_batch(batch_id: int, *, user_id: int | None = None) -> str:
    job_id = f"photo-batch-{batch_id}"
    enqueue(
        run_batch_job,
        batch_id,
        queue="photos",
        title=f"photo batch {batch_id}",
        job_id=job_id,
        timeout=BATCH_TIMEOUT,
        user_id=user_id,
    )
    return job_id


def process_document_job(version_id: int) -> int:
    """Check a scanned document and make its first-page preview."""
    from webapp.domain.dossier import DocumentLimits, process_document
    from webapp.extensions import db
    from webapp.filestore import app_store

    process_document(
        db.session, version_id, app_store(), DocumentLimits.from_config(current_app.config)
    )
    return version_id


def queue_document(version_id: int, *, user_id: int | None = None) -> str:
    job_id = f"document-{version_id}"
    job = fetch_job(job_id)
    if job is not None and job.get_status() in ACTIVE_JOB_STATES:
        return job_id
    if job is not None:
        job.delete()
    enqueue(
        process_document_job,
        version_id,
        queue="photos",
        title=f"document version {version_id}",
        job_id=job_id,
        timeout=PHOTO_TIMEOUT,
        user_id=user_id,
    )
    return job_id
