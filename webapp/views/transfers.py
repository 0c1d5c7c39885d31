"""Transfers between provinces on screen (docs/sync.md, "Transfers between provinces"):
the transfers out written here with their expiry, writing one from the member's page, and
the receiving clerk's import (upload → check the person → choose the cell → import →
download the receipt). webapp/domain/transfers.py decides."""

from __future__ import annotations

import hashlib
import re
from datetime import date
from io import BytesIO
from pathlib import Path

from flask import abort, current_app, flash, redirect, request, send_file, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import Length, Optional

from webapp.domain.errors import DomainError
from webapp.domain.transfers import (
    close_transfer,
    import_transfer,
    inspect_transfer,
    partners,
    pending_transfers,
    transfer_to_province,
)
from webapp.extensions import db
from webapp.filestore import app_store
from webapp.forms import TextRuleForm
from webapp.labels import EVENT_KIND_LABELS, STATUS_LABELS, format_date, label_for
from webapp.models.member import Member
from webapp.models.transfer import IncomingTransfer, OutgoingTransfer
from webapp.security import current_requester, scoped_get
from webapp.sync_keys import load_key
from webapp.views.adapters import flash_domain_error, run_on_form
from webapp.views.base import DayMonthYearField
from webapp.views.events import cell_choices

STATE_LABELS = {
    "pending": _l("Waiting for the receipt"),
    "closed": _l("Received"),
    "expired": _l("Expired"),
}
SHA = re.compile(r"^[0-9a-f]{64}$")


class UploadForm(FlaskForm):
    """CSRF token only: the file is read from the request's files."""


class ImportForm(TextRuleForm):
    package = HiddenField()
    cell = SelectField(_l("Receiving cell"), choices=[], validate_choice=False)


class ExportForm(TextRuleForm):
    partner = SelectField(_l("Partner province"), choices=[], validate_choice=False)
    effective_on = DayMonthYearField(_l("Date"))
    decision_number = StringField(_l("Decision number"), validators=[Optional(), Length(max=60)])


def _folder(kind: str) -> Path:
    folder = Path(current_app.config["DATA_DIR"]) / "transfers" / kind
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _send(path: Path, download_name: str):
    """A transfer package or receipt kept under DATA_DIR/transfers, as an attachment."""
    return send_file(
        BytesIO(path.read_bytes()),
        as_attachment=True,
        download_name=download_name,
        mimetype="application/octet-stream",
    )


def _pattern() -> str:
    return current_app.config["MEMBER_NUMBER_PATTERN"]


class TransferView(BaseView):
    route_base = "/transfers"
    default_view = "index"
    base_permissions = ["can_list", "can_export", "can_import"]

    @expose("/")
    @has_access
    @permission_name("list")
    def index(self):
        rows = [
            {
                "transfer": transfer,
                "state": state,
                "state_label": str(STATE_LABELS.get(state, state)),
            }
            for transfer, state in pending_transfers(db.session, current_requester())
        ]
        return self.render_template(
            "transfers/index.html",
            rows=rows,
            form=UploadForm(),
            format_date=format_date,
            title=gettext("Transfers between provinces"),
        )

    # -- out -------------------------------------------------------------------------------

    @expose("/out/<int:member_id>", methods=["GET", "POST"])
    @has_access
    @permission_name("export")
    def export(self, member_id: int):
        member = scoped_get(Member, member_id)
        if member is None:
            abort(404)
        form = ExportForm()
        form.partner.choices = [
            (p.unit_code, f"{p.unit_code} – {p.name}" if p.name else p.unit_code)
            for p in partners(db.session)
        ]
        written = []
        if request.method == "POST" and form.validate_on_submit():

            def run():
                written.append(
                    transfer_to_province(
                        db.session,
                        current_requester(),
                        member.id,
                        partner_unit_code=form.partner.data or "",
                        on=form.effective_on.data,
                        decision_number=form.decision_number.data,
                        seed=load_key(),
                        files=app_store(),
                    )
                )

            if run_on_form(form, run, aliases={"effective_on": "effective_on"}):
                transfer, data = written[0]
                (_folder("out") / f"{transfer.transfer_id}.dvpkg").write_bytes(data)
                flash(
                    gettext(
                        "The transfer is recorded. Give the file to the receiving province; "
                        "it is valid until %(day)s.",
                        day=format_date(transfer.expires_on),
                    ),
                    "success",
                )
                return redirect(url_for("TransferView.index"))
        return self.render_template(
            "transfers/export.html",
            member=member,
            form=form,
            title=gettext("Transfer to another province"),
        )

    @expose("/package/<int:pk>")
    @has_access
    @permission_name("export")
    def package(self, pk: int):
        transfer = db.session.get(OutgoingTransfer, pk)
        if transfer is None or scoped_get(Member, transfer.member_id) is None:
            abort(404)
        path = _folder("out") / f"{transfer.transfer_id}.dvpkg"
        if not path.is_file():
            abort(404)
        return _send(path, f"chuyen-{transfer.member.member_number}.dvpkg")

    @expose("/receipt", methods=["POST"])
    @has_access
    @permission_name("export")
    def receipt(self):
        if not UploadForm().validate_on_submit():
            flash(gettext("The form has expired; open the page again."), "danger")
            return redirect(url_for("TransferView.index"))
        storage = request.files.get("file")
        data = storage.read() if storage is not None else b""
        try:
            closed = close_transfer(db.session, current_requester(), data)
        except DomainError as error:
            flash_domain_error(error)
        else:
            flash(
                gettext(
                    "The transfer of %(number)s is closed: received in %(unit)s.",
                    number=closed.member.member_number,
                    unit=closed.received_unit,
                ),
                "success",
            )
        return redirect(url_for("TransferView.index"))

    # -- in --------------------------------------------------------------------------------

    @expose("/check", methods=["POST"])
    @has_access
    @permission_name("import")
    def check(self):
        if not UploadForm().validate_on_submit():
            flash(gettext("The form has expired; open the page again."), "danger")
            return redirect(url_for("TransferView.index"))
        storage = request.files.get("file")
        data = storage.read() if storage is not None else b""
        try:
            found = inspect_transfer(db.session, current_requester(), data, seed=load_key())
        except DomainError as error:
            flash_domain_error(error)
            return redirect(url_for("TransferView.index"))
        sha = hashlib.sha256(data).hexdigest()
        (_folder("in") / f"{sha}.dvpkg").write_bytes(data)
        form = ImportForm(package=sha)
        form.cell.choices = _cell_codes()
        return self._check_page(found, form)

    def _check_page(self, found, form):
        events = [
            {
                "date": format_date(date.fromisoformat(e["effective_on"])),
                "kind": label_for(EVENT_KIND_LABELS, e["kind"]),
                "decision": e.get("decision_number") or "",
                "units": " → ".join(x for x in (e.get("from_unit"), e.get("to_unit")) if x),
                "other": e.get("other_organisation") or "",
            }
            for e in found.events
        ]
        return self.render_template(
            "transfers/check.html",
            found=found,
            events=events,
            standing=label_for(STATUS_LABELS, found.standing),
            format_date=format_date,
            form=form,
            title=gettext("Check a transfer package"),
        )

    @expose("/import", methods=["POST"])
    @has_access
    @permission_name("import")
    def do_import(self):
        form = ImportForm()
        form.cell.choices = _cell_codes()
        sha = form.package.data or ""
        path = _folder("in") / f"{sha}.dvpkg"
        if not form.validate_on_submit() or not SHA.match(sha) or not path.is_file():
            flash(gettext("The form has expired; open the page again."), "danger")
            return redirect(url_for("TransferView.index"))
        data = path.read_bytes()
        done = []

        def run():
            done.append(
                import_transfer(
                    db.session,
                    current_requester(),
                    data,
                    seed=load_key(),
                    cell_code=form.cell.data or "",
                    member_number_pattern=_pattern(),
                    files=app_store(),
                )
            )

        if not run_on_form(form, run):
            try:
                found = inspect_transfer(db.session, current_requester(), data, seed=load_key())
            except DomainError as error:
                flash_domain_error(error)
                return redirect(url_for("TransferView.index"))
            return self._check_page(found, form)
        imported = done[0]
        transfer = db.session.scalars(
            select(IncomingTransfer).where(IncomingTransfer.member_id == imported.member.id)
        ).one()
        (_folder("in") / f"{transfer.transfer_id}.receipt").write_bytes(imported.receipt)
        path.unlink(missing_ok=True)
        flash(
            gettext(
                "%(name)s is received in the cell. Download the receipt and send it back to "
                "the sending province.",
                name=imported.member.display_name,
            ),
            "success",
        )
        return self.render_template(
            "transfers/done.html",
            member=imported.member,
            transfer=transfer,
            title=gettext("Transfer received"),
        )

    @expose("/received/<int:pk>/receipt")
    @has_access
    @permission_name("import")
    def received_receipt(self, pk: int):
        transfer = db.session.get(IncomingTransfer, pk)
        if transfer is None or scoped_get(Member, transfer.member_id) is None:
            abort(404)
        path = _folder("in") / f"{transfer.transfer_id}.receipt"
        if not path.is_file():
            abort(404)
        return _send(path, f"bien-nhan-{transfer.member.member_number}.receipt")


def _cell_codes() -> list[tuple[str, str]]:
    """The cells of the user's scope, by code (what import_transfer takes)."""
    from webapp.models.unit import Unit

    ids = {value for value, _ in cell_choices() if value}
    units = db.session.scalars(
        select(Unit).where(Unit.id.in_([int(i) for i in ids])).order_by(Unit.sort_path)
    )
    return [("", "—")] + [(u.code, f"{u.code} – {u.name}") for u in units]
