"""Member imports on screen: download the template, upload a file, read its dry run page
by page, commit the dry run you saw. The jobs (jobs/imports.py) do the work and
webapp/domain/member_import.py decides."""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import after_this_request, flash, jsonify, redirect, request, send_file, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import HiddenField

from jobs import fetch_job
from jobs.imports import import_job_id, queue_import, store_upload
from webapp.domain.errors import N_, DomainError, ValidationFailed
from webapp.domain.member_import import find_import, request_commit
from webapp.extensions import db
from webapp.forms import TextRuleForm
from webapp.import_cli import problem_text
from webapp.labels import MEMBER_COLUMNS
from webapp.models.member_import import ImportOutcome, ImportState, MemberImport, MemberImportRow
from webapp.reports.member_import_sheet import write_template
from webapp.security import current_requester
from webapp.views.adapters import run_on_screen
from webapp.views.errors import translate

OUTCOME_LABELS = {
    ImportOutcome.NEW: _l("New member"),
    ImportOutcome.UPDATE: _l("Update"),
    ImportOutcome.UNCHANGED: _l("Unchanged"),
    ImportOutcome.ERROR: _l("Error"),
}
STATE_LABELS = {
    ImportState.QUEUED: _l("Queued"),
    ImportState.RUNNING: _l("Running"),
    ImportState.CHECKED: _l("Dry run done"),
    ImportState.COMMITTING: _l("Importing"),
    ImportState.COMMITTED: _l("Imported"),
    ImportState.FAILED: _l("Failed"),
}
ACTIVE = (ImportState.QUEUED, ImportState.RUNNING, ImportState.COMMITTING)
PAGE_SIZE = 100


class UploadForm(FlaskForm):
    """CSRF token only: the file is read from the request's files."""


class CommitForm(TextRuleForm):
    # The dry run the clerk saw: a commit of any other is refused.
    plan_hash = HiddenField()


def field_label(name: str) -> str:
    return str(MEMBER_COLUMNS.get(name, name))


def summary(run: MemberImport) -> dict:
    progress = 100 if run.state not in ACTIVE else 0
    job = (
        fetch_job(import_job_id(run.id, run.state == ImportState.COMMITTING))
        if run.state in ACTIVE
        else None
    )
    if job is not None:
        progress = int(job.meta.get("progress", 0))
    return {
        "import": run.id,
        "state": run.state,
        "state_label": str(STATE_LABELS.get(run.state, run.state)),
        "progress": progress,
        "total": run.total,
        "counts": {
            ImportOutcome.NEW.value: run.new_count,
            ImportOutcome.UPDATE.value: run.update_count,
            ImportOutcome.UNCHANGED.value: run.unchanged_count,
            ImportOutcome.ERROR.value: run.error_count,
        },
        "error": translate(run.error, run.error_params) if run.error else None,
    }


class MemberImportView(BaseView):
    route_base = "/memberimports"
    default_view = "index"
    base_permissions = ["can_list", "can_upload", "can_commit", "can_template"]

    @expose("/")
    @has_access
    @permission_name("list")
    def index(self):
        requester = current_requester()
        query = select(MemberImport).order_by(MemberImport.id.desc()).limit(50)
        if not requester.is_admin:
            query = query.where(MemberImport.requested_by_id == requester.user_id)
        return self.render_template(
            "imports/index.html",
            imports=db.session.scalars(query).all(),
            form=UploadForm(),
            labels=STATE_LABELS,
            title=gettext("Import members from a spreadsheet"),
        )

    @expose("/template")
    @has_access
    @permission_name("template")
    def template(self):
        folder = Path(tempfile.mkdtemp(prefix="dangvien-template-"))
        path = write_template(db.session, current_requester(), folder / "mau-nhap-dang-vien.xlsx")

        @after_this_request
        def remove(response):
            path.unlink(missing_ok=True)
            folder.rmdir()
            return response

        return send_file(path, as_attachment=True, download_name=path.name)

    @expose("/upload", methods=["POST"])
    @has_access
    @permission_name("upload")
    def upload(self):
        if not UploadForm().validate_on_submit():
            flash(gettext("The form has expired; open the page again."), "danger")
            return redirect(url_for("MemberImportView.index"))
        created = []

        def run():
            storage = request.files.get("file")
            if storage is None or not storage.filename:
                raise ValidationFailed({"file": [(N_("Choose an Excel (.xlsx) or CSV file."), {})]})
            record = store_upload(db.session, current_requester(), storage.stream, storage.filename)
            created.append(record.id)

        if run_on_screen(run, gettext("The file was received; its dry run has started.")):
            queue_import(created[0], commit=False, user_id=current_requester().user_id)
            return redirect(url_for("MemberImportView.show", pk=created[0]))
        return redirect(url_for("MemberImportView.index"))

    @expose("/<int:pk>")
    @has_access
    @permission_name("list")
    def show(self, pk: int):
        try:
            run = find_import(db.session, current_requester(), pk)
        except DomainError as error:
            flash(translate(error.message, error.params), "danger")
            return redirect(url_for("MemberImportView.index"))
        db.session.refresh(run)
        outcome = request.args.get("outcome")
        page = max(request.args.get("page", 1, type=int) or 1, 1)
        query = select(MemberImportRow).where(MemberImportRow.import_id == run.id)
        if outcome in set(ImportOutcome):
            query = query.where(MemberImportRow.outcome == outcome)
        total = db.session.scalar(select(func.count()).select_from(query.subquery()))
        rows = db.session.scalars(
            query.order_by(MemberImportRow.position).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
        ).all()
        shown = [
            {
                "sheet": row.sheet,
                "row": row.row,
                "outcome": row.outcome,
                "outcome_label": str(OUTCOME_LABELS.get(row.outcome, row.outcome)),
                "member_number": row.member_number,
                "member_id": row.member_id,
                "fields": ", ".join(field_label(name) for name in row.fields or []),
                "problems": [problem_text(problem) for problem in row.problems or []],
            }
            for row in rows
        ]
        return self.render_template(
            "imports/show.html",
            run=run,
            summary=summary(run),
            rows=shown,
            outcome=outcome,
            outcome_labels=OUTCOME_LABELS,
            page=page,
            pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
            form=CommitForm(plan_hash=run.plan_hash),
            committable=run.state == ImportState.CHECKED and not run.error_count and run.total,
            active=run.state in ACTIVE,
            title=gettext("Import members from a spreadsheet"),
        )

    @expose("/<int:pk>/commit", methods=["POST"])
    @has_access
    @permission_name("commit")
    def commit(self, pk: int):
        form = CommitForm()
        if not form.validate_on_submit():
            flash(gettext("The form has expired; open the page again."), "danger")
            return redirect(url_for("MemberImportView.show", pk=pk))
        requester = current_requester()
        if run_on_screen(
            lambda: request_commit(db.session, requester, pk, form.plan_hash.data or ""),
            gettext("The import has started; the page shows when it is done."),
        ):
            queue_import(pk, commit=True, user_id=requester.user_id)
        return redirect(url_for("MemberImportView.show", pk=pk))

    @expose("/<int:pk>/status")
    @has_access
    @permission_name("list")
    def status(self, pk: int):
        try:
            run = find_import(db.session, current_requester(), pk)
        except DomainError as error:
            return jsonify({"message": translate(error.message, error.params)}), 404
        db.session.refresh(run)
        return jsonify(summary(run))
