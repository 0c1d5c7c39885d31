"""What the member's file screens and APIs share (photos, the scanned dossier): reading an
uploaded file, answering with a stored file, the API base with its "accepted, poll
there" answer, and the screen side of an upload (CSRF, run the command, come back).

The commands themselves are webapp/domain/photos.py and webapp/domain/dossier.py; these
are the adapters' common parts, so each view says only what differs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, redirect, request, send_file
from flask_appbuilder.api import BaseApi
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm

from webapp.domain.errors import N_, ValidationFailed
from webapp.domain.photos import Upload, settle_lost_job
from webapp.domain.scope import find_in_scope
from webapp.extensions import db
from webapp.filestore import app_store
from webapp.models.files import FileState
from webapp.models.member import Member
from webapp.security import current_requester
from webapp.views.adapters import run_on_screen
from webapp.views.base import DangVienModelRestApi

# The states of a photo's processing and of a scan's check, as the pages name them.
FILE_STATE_LABELS = {
    FileState.QUEUED: _l("Queued"),
    FileState.PROCESSING: _l("Processing"),
    FileState.DONE: _l("Done"),
    FileState.REFUSED: _l("Refused"),
    FileState.FAILED: _l("Failed"),
}


def state_label(state: str) -> str:
    return str(FILE_STATE_LABELS.get(state, state))


def settle_lost(rows) -> None:
    """Rows (photos, document versions) whose job is gone say failed, not queued forever."""
    from jobs.photos import job_state

    for row in rows:
        settle_lost_job(db.session, row, job_state)


def uploaded_file(field: str = "file") -> Upload:
    """The uploaded file of a multipart request (read whole: the request size is already
    bounded by MAX_UPLOAD_MB), or a 422 saying it is missing."""
    storage = request.files.get(field)
    if storage is None or not storage.filename and not storage.content_length:
        raise ValidationFailed({field: [(N_("Choose a file to upload."), {})]})
    return Upload(data=storage.read(), file_name=storage.filename)


def whole_number(value: Any, field: str, digits: int = 9) -> int:
    """A whole number of at most `digits` digits from JSON or a form, else a 422 naming
    the field."""
    text = (
        str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else ""
    )
    if not (text.isascii() and text.isdigit() and len(text) <= digits):
        raise ValidationFailed({field: [(N_("Enter a whole number."), {})]})
    return int(text)


def send_stored(relative: str, media_type: str, download_name: str):
    """A stored file as an attachment the browser may not sniff or keep."""
    response = send_file(
        app_store().absolute(relative),
        mimetype=media_type,
        as_attachment=True,
        download_name=download_name,
        max_age=0,
        conditional=False,
        etag=False,
        last_modified=None,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def member_in_scope(member_id: int) -> Member:
    """The member if the current user's scope covers it; NotFound otherwise."""
    return find_in_scope(db.session, Member, member_id, current_requester().scope)


class MemberFileApi(BaseApi):
    """Base of the member's file APIs: browser sessions allowed (the member page calls
    them), domain refusals answered as 4xx, and the "accepted, follow it there" answer."""

    resource_name = "members"
    allow_browser_login = True
    answering_domain_errors = DangVienModelRestApi.answering_domain_errors

    def accepted(self, code: int, location: str, **body: Any):
        """`code` (202: queued) with the body, and where to follow it in Location."""
        response = self.response(code, **body)
        response.headers["Location"] = location
        return response


class FileForm(FlaskForm):
    """CSRF token only: the fields and the file are read from the request."""


def form_is_fresh(form: FlaskForm | None = None) -> bool:
    """The posted form's CSRF token is valid; otherwise say so (nothing is run)."""
    if (form or FileForm()).validate_on_submit():
        return True
    flash(gettext("The form has expired; open the page again."), "danger")
    return False


def upload_on_screen(
    run: Callable[[], Any], done: str, back: str, *, refused_back: str | None = None
):
    """A member-file form posted from the member page: the CSRF token checked, then
    `run` (a command; its refusal flashed), then back to `back` (or `refused_back` when
    refused)."""
    if not form_is_fresh():
        return redirect(back)
    if run_on_screen(run, done) or refused_back is None:
        return redirect(back)
    return redirect(refused_back)
