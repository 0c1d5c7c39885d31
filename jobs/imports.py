"""Member imports on the `imports` queue: the dry run and the commit of an uploaded file.

The job receives the import's id; the file is read from the content store by its hash,
the plan is kept on the import's rows (webapp/models/member_import.py), and progress is
in job.meta. The CLI (`flask import-members`) runs the same `execute_import` in its own
process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

from flask import current_app
from flask_babel import force_locale

from jobs import enqueue, fetch_job, report_progress

IMPORT_TIMEOUT = 3 * 3600
SUFFIXES = (".xlsx", ".xlsm", ".csv")


def store_upload(session, requester, stream: BinaryIO, file_name: str):
    """Keep an uploaded file in the content store by its SHA-256 and record it."""
    from pathlib import Path

    from webapp.domain.errors import N_
    from webapp.domain.member_import import request_import
    from webapp.domain.spreadsheet_input import FileRefused, ReadLimits
    from webapp.filestore import TooLarge, app_store

    limits = ReadLimits.from_config(current_app.config)
    suffix = Path(file_name).suffix.lower()
    try:
        stored = app_store().put_stream(
            "imports", stream, suffix if suffix in SUFFIXES else "", limit=limits.max_bytes
        )
    except TooLarge:
        raise FileRefused(
            N_("The file is larger than %(limit)s MB."), limit=limits.max_bytes // (1024 * 1024)
        ) from None
    return request_import(
        session,
        requester,
        file_name=file_name,
        sha256=stored.sha256,
        file_path=stored.path,
        size=stored.size,
    )


def execute_import(import_id: int, *, commit: bool, progress: Callable[[int], None] | None = None):
    """The dry run (commit False) or the commit of an import, as its requester; a file
    that cannot be read is recorded as failed with the reason. Returns the plan or None.
    A commit refused because the data changed runs the dry run again, so the import shows
    what its rows would do now."""
    from webapp.domain.errors import DomainError
    from webapp.domain.member_import import (
        PlanChanged,
        check_import,
        commit_import,
        find_import,
        refuse_file,
    )
    from webapp.domain.photo_batches import requester_of
    from webapp.domain.spreadsheet_input import ReadLimits
    from webapp.extensions import db
    from webapp.filestore import app_store
    from webapp.models.member_import import MemberImport
    from webapp.reports.member_import_sheet import import_vocabulary, read_import

    session = db.session
    config = current_app.config
    run = session.get(MemberImport, import_id)
    if run is None:
        return None
    requester = requester_of(session, run)
    pattern = config["MEMBER_NUMBER_PATTERN"]
    with current_app.test_request_context(), force_locale(config.get("BABEL_DEFAULT_LOCALE")):
        words = import_vocabulary()
    try:
        find_import(session, requester, import_id)
        sheets = read_import(
            app_store().absolute(run.file_path), run.file_name, ReadLimits.from_config(config)
        )
        if commit:
            try:
                return commit_import(
                    session,
                    requester,
                    import_id,
                    sheets,
                    words,
                    member_number_pattern=pattern,
                    progress=progress,
                )
            except PlanChanged:
                check_import(
                    session,
                    requester,
                    import_id,
                    sheets,
                    words,
                    member_number_pattern=pattern,
                    progress=progress,
                )
                raise
        return check_import(
            session,
            requester,
            import_id,
            sheets,
            words,
            member_number_pattern=pattern,
            progress=progress,
        )
    except DomainError as error:
        if commit:
            from webapp.domain.commands import transaction
            from webapp.domain.member_import import commit_refused

            session.rollback()
            with transaction(session):
                commit_refused(session, import_id, error)
            raise
        session.rollback()
        run = session.get(MemberImport, import_id)
        refuse_file(session, run, error)
        session.commit()
        return None


def import_job(import_id: int, commit: bool = False) -> int:
    from jobs import run_in_job

    run_in_job(lambda: execute_import(import_id, commit=commit, progress=report_progress))
    return import_id


def import_job_id(import_id: int, commit: bool) -> str:
    return f"member-import-{import_id}-{'commit' if commit else 'check'}"


def queue_import(import_id: int, *, commit: bool, user_id: int | None = None) -> str:
    """Queue the dry run or the commit of an import (one job id per step and import)."""
    job_id = import_job_id(import_id, commit)
    job = fetch_job(job_id)
    if job is not None:
        status = getattr(job.get_status(), "value", job.get_status())
        if status in ("queued", "started", "deferred", "scheduled"):
            return job_id
        job.delete()
    enqueue(
        import_job,
        import_id,
        commit,
        queue="imports",
        title=f"member import {import_id} ({'commit' if commit else 'dry run'})",
        job_id=job_id,
        timeout=IMPORT_TIMEOUT,
        user_id=user_id,
    )
    return job_id
