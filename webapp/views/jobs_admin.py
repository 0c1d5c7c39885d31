"""The jobs screen for Admins: every queue's counts, the workers and their heartbeats, the
running jobs with their progress, the failed ones with their traceback, and a retry (a
POST with the page's CSRF token, through the domain command `job.retry`).

The app's own screen rather than rq-dashboard (docs/decisions.md): rq-dashboard's actions
post without a CSRF token (one even changes state on GET), bypass the audit log, and are
English only."""

from __future__ import annotations

from flask import flash, redirect, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext
from flask_wtf import FlaskForm

from jobs import QUEUE_NAMES, redis_connection
from webapp.domain.jobs import failed_jobs, queue_states, retry_job, running_jobs, workers
from webapp.extensions import db
from webapp.labels import QUEUE_LABELS, label_for
from webapp.security import current_requester
from webapp.views.adapters import run_on_screen


class JobsView(BaseView):
    route_base = "/jobs"
    default_view = "index"

    @expose("/")
    @has_access
    @permission_name("list")
    def index(self):
        connection = redis_connection()
        return self.render_template(
            "jobs/index.html",
            title=gettext("Background jobs"),
            queues=queue_states(connection, QUEUE_NAMES),
            workers=workers(connection),
            running=running_jobs(connection, QUEUE_NAMES),
            failed=failed_jobs(connection, QUEUE_NAMES),
            form=FlaskForm(),
            queue_label=lambda name: label_for(QUEUE_LABELS, name),
        )

    @expose("/retry/<job_id>", methods=["POST"])
    @has_access
    @permission_name("retry")
    def retry(self, job_id: str):
        if not FlaskForm().validate():
            flash(gettext("The form has expired; please submit it again."), "danger")
        else:
            run_on_screen(
                lambda: retry_job(
                    db.session, current_requester(), redis_connection(), job_id, QUEUE_NAMES
                ),
                gettext("The job is back on its queue."),
            )
        return redirect(url_for("JobsView.index"))
