"""Report runs: request a report, follow its progress, download the file."""

from __future__ import annotations

from flask import abort, current_app, flash, jsonify, redirect, request, send_file, session, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import permission_name
from flask_appbuilder.widgets import ListWidget
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select

from webapp.domain.errors import DomainError, ValidationFailed
from webapp.domain.scope import scope_clause
from webapp.extensions import db
from webapp.labels import REPORT_STATE_LABELS, format_date, label_for
from webapp.models.member import Member
from webapp.models.report_run import ReportRun, ReportState
from webapp.models.unit import Unit
from webapp.reports import REPORTS
from webapp.reports.delegates import delegates_from_numbers, read_delegates
from webapp.reports.runs import (
    cancel_run,
    download_run,
    live_progress,
    request_report,
    runs_of,
)
from webapp.reports.spec import describe_parameters
from webapp.security import current_requester, current_scope, scoped_get
from webapp.views.adapters import flash_domain_error, run_on_screen
from webapp.views.base import DangVienModelView
from webapp.views.errors import translate, translated_field_errors
from webapp.views.proposals import form_is_fresh, request_print

FORMAT_LABELS = {"pdf": "PDF", "xlsx": "Excel (XLSX)", "csv": "CSV", "zip": "ZIP"}


class OwnOrScheduledRuns(BaseFilter):
    """A user's own runs, and the scheduled runs (requested by nobody) on units in scope."""

    name = "own or scheduled"
    arg_name = "own"

    def apply(self, query, value):
        return query.filter(runs_of(current_requester()))


def format_timestamp(value) -> str:
    return value.strftime("%d/%m/%Y %H:%M:%S") if value else ""


class RunListWidget(ListWidget):
    """The list of runs with a download link on each finished one."""

    template = "reports/run_list_widget.html"

    def __call__(self, **kwargs):
        kwargs["can_download"] = current_app.appbuilder.sm.has_access(
            "can_download", "ReportRunView"
        )
        return super().__call__(**kwargs)


class ReportRunView(DangVienModelView):
    datamodel = SQLAInterface(ReportRun)
    list_widget = RunListWidget
    route_base = "/reports"
    list_title = _l("My report runs")
    show_title = _l("Report run")
    base_permissions = [
        "can_list",
        "can_show",
        "can_request",
        "can_status",
        "can_download",
        "can_cancel",
    ]
    base_filters = [["requested_by_id", OwnOrScheduledRuns, lambda: None]]
    base_order = ("created_at", "desc")
    list_columns = [
        "created_at",
        "report",
        "unit",
        "output_format",
        "parameters",
        "state",
        "row_count",
        "seconds_taken",
        "finished_at",
    ]
    show_template = "reports/show.html"
    list_template = "reports/list.html"
    search_columns = ["report", "state", "created_at"]
    label_columns = {
        "created_at": _l("Requested at"),
        "report": _l("Report"),
        "unit": _l("Unit"),
        "output_format": _l("Format"),
        "state": _l("State"),
        "row_count": _l("Rows"),
        "finished_at": _l("Finished at"),
        "error": _l("Reason"),
        "parameters": _l("Day or period"),
        "seconds_taken": _l("Time taken"),
    }
    formatters_columns = {
        "state": lambda value: label_for(REPORT_STATE_LABELS, value),
        "report": lambda value: translate(REPORTS[value].title) if value in REPORTS else value,
        "created_at": format_timestamp,
        "finished_at": format_timestamp,
        "output_format": lambda value: FORMAT_LABELS.get(value, value),
        "parameters": lambda value: describe_parameters(value or {}),
        "seconds_taken": lambda value: f"{value:.1f} s" if value is not None else "",
    }

    def _own_run(self, pk: int) -> ReportRun:
        run = self.datamodel.get(pk, self._base_filters)
        if run is None:
            abort(404)
        return run

    @expose("/request", methods=["GET", "POST"])
    @has_access
    @permission_name("request")
    def request_form(self):
        units = db.session.scalars(
            select(Unit)
            .where(Unit.dissolved_on.is_(None), scope_clause(Unit, current_scope()))
            .order_by(Unit.sort_path)
        ).all()
        own_unit = getattr(current_user, "unit_id", None)
        chosen = {
            "report": request.values.get("report", "member-list"),
            "unit_id": request.values.get("unit_id", type=int) or own_unit,
            "output_format": request.values.get("output_format", "pdf"),
            "as_of": request.values.get("as_of", ""),
            "from": request.values.get("from", ""),
            "to": request.values.get("to", ""),
            "member_numbers": request.values.get("member_numbers", ""),
        }
        form = FlaskForm()  # carries and checks the CSRF token
        field_errors: dict[str, list[str]] = {}
        if request.method == "POST" and not form.validate():
            flash(gettext("The form has expired; please submit it again."), "danger")
        elif request.method == "POST":
            try:
                run = request_report(
                    db.session,
                    current_requester(),
                    chosen["report"],
                    chosen["output_format"],
                    chosen["unit_id"],
                    {**chosen, "delegates": self._delegates(chosen["report"])},
                )
            except ValidationFailed as error:
                field_errors = translated_field_errors(error.errors)
                flash(gettext("Please correct the errors below."), "danger")
            except DomainError as error:
                flash_domain_error(error)
            else:
                # No flash: the run page says queued itself and follows the state.
                return redirect(url_for("ReportRunView.show", pk=run.id))
        return self.render_template(
            "reports/request.html",
            reports=[
                (name, translate(spec.title), spec.formats, spec.period, spec.takes_delegates)
                for name, spec in REPORTS.items()
                if spec.listed
            ],
            units=units,
            chosen=chosen,
            format_labels=FORMAT_LABELS,
            form=form,
            field_errors=field_errors,
        )

    @staticmethod
    def _delegates(report: str) -> list[dict] | None:
        """The delegate list of a delegates request: an uploaded XLSX, else typed numbers."""
        spec = REPORTS.get(report)
        if spec is None or not spec.takes_delegates:
            return None
        upload = request.files.get("delegates_file")
        if upload is not None and upload.filename:
            return read_delegates(upload.stream)
        return delegates_from_numbers(request.values.get("member_numbers", ""))

    @expose("/cancel/<int:pk>", methods=["POST"])
    @has_access
    @permission_name("cancel")
    def cancel(self, pk: int):
        run = self._own_run(pk)
        if not FlaskForm().validate():
            flash(gettext("The form has expired; please submit it again."), "danger")
        else:
            run_on_screen(
                lambda: cancel_run(db.session, current_requester(), run.id),
                gettext("The report has been cancelled."),
                "info",
            )
        return redirect(url_for("ReportRunView.show", pk=run.id))

    @expose("/status/<int:pk>")
    @has_access
    @permission_name("status")
    def status(self, pk: int):
        run = self._own_run(pk)
        progress = live_progress(run)
        return jsonify(
            {
                "id": run.id,
                "state": run.state,
                "state_label": label_for(REPORT_STATE_LABELS, run.state),
                "progress": progress,
                "error": run.error,
                "row_count": run.row_count,
                "seconds": run.seconds_taken,
                "download_url": url_for("ReportRunView.download", pk=run.id)
                if run.state == ReportState.DONE
                else None,
                "message": run_state_message(run.state),
            }
        )

    @expose("/download/<int:pk>")
    @has_access
    @permission_name("download")
    def download(self, pk: int):
        try:  # the command finds the run in the user's runs and logs the download
            run = download_run(db.session, current_requester(), pk)
        except DomainError as error:  # not found, or a role that may not
            abort(error.status_code)
        return send_file(run.file_path, as_attachment=True, download_name=run.file_name)

    @expose("/member-form/<int:member_id>", methods=["POST"])
    @has_access
    @permission_name("request")
    def print_member_form(self, member_id: int):
        """The member page's "print the member form": a member-form run for that member,
        on the member's unit (the requester's scope is checked by the request)."""
        member = scoped_get(Member, member_id) or abort(404)
        back = redirect(url_for("MemberModelView.show", pk=member.id))
        if not form_is_fresh():
            return back
        return request_print("member-form", member.unit_id, {"member_ids": [member.id]}) or back

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        run = self._own_run(int(pk)) if str(pk).isdigit() else abort(404)
        drop_queued_flash()
        return self.render_template(
            self.show_template,
            run=run,
            report_title=translate(REPORTS[run.report].title)
            if run.report in REPORTS
            else run.report,
            format_label=FORMAT_LABELS.get(run.output_format, run.output_format),
            created_at=format_timestamp(run.created_at),
            period=describe_parameters(run.parameters or {}),
            delegate_count=len((run.parameters or {}).get("delegates") or []),
            cancel_form=FlaskForm(),
            title=self.show_title,
            format_date=format_date,
            state_message=run_state_message(run.state),
        )


# What the run page says in its status line for each state; the page's script changes it
# as the state changes (a flash would stay "queued" after the run is done).
RUN_STATE_MESSAGES = {
    ReportState.QUEUED: _l("The report is waiting in the queue; this page follows it."),
    ReportState.RUNNING: _l("The report is being prepared…"),
    ReportState.DONE: _l("The report is ready: download it below."),
    ReportState.FAILED: _l("The report could not be prepared."),
    ReportState.CANCELLED: _l("The report was cancelled before it was finished."),
}
RUN_STATE_ALERTS = {
    ReportState.QUEUED: "info",
    ReportState.RUNNING: "info",
    ReportState.DONE: "success",
    ReportState.FAILED: "danger",
    ReportState.CANCELLED: "warning",
}


def run_state_message(state: str) -> dict[str, str]:
    """The status line of a run in `state`: its text and the alert class it is shown in."""
    text = RUN_STATE_MESSAGES.get(state)
    return {"text": str(text) if text else "", "alert": RUN_STATE_ALERTS.get(state, "info")}


def drop_queued_flash() -> None:
    """Take the "queued" flash of the screen that sent the user here (e.g. a card batch's
    printables): the run page's own status line says it and keeps it up to date."""
    queued = gettext("The report has been queued.")
    flashes = session.get("_flashes")
    if flashes:
        kept = [(category, message) for category, message in flashes if message != queued]
        if len(kept) != len(flashes):
            session["_flashes"] = kept
