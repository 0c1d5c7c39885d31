"""A batch of scans on screen: upload a ZIP, follow its progress, read the per-file table.
The job (jobs/photos.py run_batch_job) does the work; webapp/domain/photo_batches.py decides.
"""

from __future__ import annotations

from flask import current_app, flash, jsonify, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import func, select

from jobs.photos import queue_batch
from webapp.domain.errors import N_, DomainError, ValidationFailed
from webapp.domain.photo_batches import find_batch, request_batch
from webapp.extensions import db
from webapp.filestore import app_store
from webapp.models.files import BatchOutcome, BatchState, PhotoBatch, PhotoBatchItem
from webapp.photos_cli import item_message
from webapp.security import current_requester
from webapp.views.adapters import run_on_screen
from webapp.views.errors import translate

OUTCOME_LABELS = {
    BatchOutcome.MATCHED: _l("Matched"),
    BatchOutcome.NOT_FOUND: _l("Member not found"),
    BatchOutcome.AMBIGUOUS: _l("Ambiguous"),
    BatchOutcome.REFUSED: _l("Refused"),
}
BATCH_STATE_LABELS = {
    BatchState.QUEUED: _l("Queued"),
    BatchState.RUNNING: _l("Running"),
    BatchState.DONE: _l("Done"),
    BatchState.FAILED: _l("Failed"),
}
PAGE_SIZE = 200


class BatchForm(FlaskForm):
    """CSRF token only: the archive is read from the request's files."""


def batch_summary(batch: PhotoBatch) -> dict:
    counts = dict(
        db.session.execute(
            select(PhotoBatchItem.outcome, func.count(PhotoBatchItem.id))
            .where(PhotoBatchItem.batch_id == batch.id)
            .group_by(PhotoBatchItem.outcome)
        ).all()
    )
    return {
        "batch": batch.id,
        "state": batch.state,
        "state_label": str(BATCH_STATE_LABELS.get(batch.state, batch.state)),
        "total": batch.total,
        "processed": batch.processed,
        "progress": round(100 * batch.processed / batch.total) if batch.total else 0,
        "counts": {outcome: counts.get(outcome, 0) for outcome in BatchOutcome},
        "error": translate(batch.error, batch.error_params) if batch.error else None,
    }


class PhotoBatchView(BaseView):
    route_base = "/photobatches"
    default_view = "index"
    base_permissions = ["can_list", "can_upload"]

    @expose("/")
    @has_access
    @permission_name("list")
    def index(self):
        requester = current_requester()
        query = select(PhotoBatch).order_by(PhotoBatch.id.desc()).limit(50)
        if not requester.is_admin:
            query = query.where(PhotoBatch.requested_by_id == requester.user_id)
        batches = db.session.scalars(query).all()
        return self.render_template(
            "memberfile/batches.html",
            batches=batches,
            form=BatchForm(),
            labels=BATCH_STATE_LABELS,
            limit_mb=current_app.config["BATCH_UPLOAD_MB"],
            title=gettext("Batch of photo scans"),
        )

    @expose("/upload", methods=["POST"])
    @has_access
    @permission_name("upload")
    def upload(self):
        form = BatchForm()
        if not form.validate_on_submit():
            flash(gettext("The form has expired; open the page again."), "danger")
            return redirect(url_for("PhotoBatchView.index"))
        created = []

        def run():
            storage = request.files.get("archive")
            if storage is None or not storage.filename:
                raise ValidationFailed({"archive": [(N_("Choose a ZIP file of scans."), {})]})
            batch = request_batch(
                db.session,
                current_requester(),
                storage.filename,
                app_store(),
                storage.stream,
                max_bytes=current_app.config["BATCH_UPLOAD_MB"] * 1024 * 1024,
            )
            queue_batch(batch.id, user_id=batch.requested_by_id)
            created.append(batch.id)

        if run_on_screen(run, gettext("The archive was received; its files are being matched.")):
            return redirect(url_for("PhotoBatchView.show", pk=created[0]))
        return redirect(url_for("PhotoBatchView.index"))

    @expose("/<int:pk>")
    @has_access
    @permission_name("list")
    def show(self, pk: int):
        try:
            batch = find_batch(db.session, current_requester(), pk)
        except DomainError as error:
            flash(translate(error.message, error.params), "danger")
            return redirect(url_for("PhotoBatchView.index"))
        outcome = request.args.get("outcome")
        query = select(PhotoBatchItem).where(PhotoBatchItem.batch_id == batch.id)
        if outcome in set(BatchOutcome):
            query = query.where(PhotoBatchItem.outcome == outcome)
        items = db.session.scalars(query.order_by(PhotoBatchItem.position).limit(PAGE_SIZE)).all()
        rows = [
            {
                "position": item.position,
                "file_name": item.file_name,
                "outcome": item.outcome,
                "outcome_label": str(OUTCOME_LABELS.get(item.outcome, item.outcome)),
                "member": item.member,
                "message": item_message(item.message, item.message_params),
            }
            for item in items
        ]
        return self.render_template(
            "memberfile/batch.html",
            batch=batch,
            summary=batch_summary(batch),
            rows=rows,
            outcome_labels=OUTCOME_LABELS,
            outcome=outcome,
            page_size=PAGE_SIZE,
            title=gettext("Batch of photo scans"),
        )

    @expose("/<int:pk>/status")
    @has_access
    @permission_name("list")
    def status(self, pk: int):
        try:
            batch = find_batch(db.session, current_requester(), pk)
        except DomainError as error:
            return jsonify({"message": translate(error.message, error.params)}), 404
        return jsonify(batch_summary(batch))
