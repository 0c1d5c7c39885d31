"""The Admin's screen of the exchange between levels (docs/sync.md): every peer's status —
last package sent and received, those waiting for a receipt, those refused and why, a lower
level silent for too long — and the forms of the set-up and of the USB path: register a
lower level (its account's password shown once), upload a package from a stick (the
receipt comes back as a download), take a receipt, export now. Each form runs the same
command as the CLI."""

from __future__ import annotations

import io

from flask import current_app, flash, redirect, request, send_file, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select

from webapp.cli_support import generate_password, hash_password
from webapp.domain.errors import DomainError
from webapp.extensions import db
from webapp.filestore import app_store
from webapp.models.unit import Unit
from webapp.security import current_requester
from webapp.sync_keys import load_key
from webapp.views.adapters import flash_domain_error, run_on_screen
from webapp.views.errors import translate
from webapp.views.files import form_is_fresh, uploaded_file

PEER_KIND_LABELS = {
    "upstream": _l("Upper level"),
    "downstream": _l("Lower level"),
    "partner": _l("Another province"),
}


class SyncStatusView(BaseView):
    route_base = "/sync"
    default_view = "index"

    @expose("/")
    @has_access
    @permission_name("list")
    def index(self):
        from webapp.domain.sync import refusals_without_peer, sync_status
        from webapp.domain.sync_setup import identity

        statuses = sync_status(db.session, stale_days=current_app.config["SYNC_STALE_DAYS"])
        units = db.session.execute(
            select(Unit.code, Unit.name).order_by(Unit.sort_path).limit(5000)
        ).all()
        return self.render_template(
            "sync/index.html",
            title=gettext("Data exchange between levels"),
            me=identity(db.session),
            statuses=statuses,
            strangers=refusals_without_peer(db.session),
            units=units,
            form=FlaskForm(),
            kind_label=lambda kind: str(PEER_KIND_LABELS.get(kind, kind)),
            state_label=state_label,
            translate=translate,
        )

    @expose("/downstream", methods=["POST"])
    @has_access
    @permission_name("configure")
    def add_downstream(self):
        from webapp.domain.sync_setup import register_downstream, sync_account_name

        back = redirect(url_for("SyncStatusView.index"))
        if not form_is_fresh():
            return back
        password = generate_password()
        code = (request.form.get("unit") or "").strip()
        done = run_on_screen(
            lambda: register_downstream(
                db.session,
                current_requester(),
                unit_code=code,
                public_key=request.form.get("key") or "",
                password_hash=hash_password(password),
                name=(request.form.get("name") or "").strip() or None,
            )
        )
        if done:
            flash(
                gettext(
                    "Lower level %(unit)s registered. Its account: %(user)s, password (shown "
                    "once): %(password)s",
                    unit=code,
                    user=sync_account_name(code),
                    password=password,
                ),
                "success",
            )
        return back

    @expose("/import", methods=["POST"])
    @has_access
    @permission_name("configure")
    def import_package(self):
        """A package from a stick: applied as by `flask import`; the receipt downloads."""
        from webapp.domain.sync import RECEIPT_SUFFIX, apply_package

        back = redirect(url_for("SyncStatusView.index"))
        if not form_is_fresh():
            return back
        try:
            upload = uploaded_file()
            applied = apply_package(
                db.session, current_requester(), upload.data, seed=load_key(), files=app_store()
            )
        except DomainError as error:
            flash_domain_error(error)
            return back
        name = (upload.file_name or "package").removesuffix(".dvpkg") + RECEIPT_SUFFIX
        return send_file(
            io.BytesIO(applied.receipt),
            as_attachment=True,
            download_name=name,
            mimetype="application/octet-stream",
        )

    @expose("/receipt", methods=["POST"])
    @has_access
    @permission_name("configure")
    def take_receipt(self):
        from webapp.domain.sync import accept_receipt

        if form_is_fresh():
            run_on_screen(
                lambda: accept_receipt(db.session, current_requester(), uploaded_file().data),
                gettext("Receipt accepted: the package is delivered."),
            )
        return redirect(url_for("SyncStatusView.index"))

    @expose("/push", methods=["POST"])
    @has_access
    @permission_name("configure")
    def push(self):
        from jobs.sync import queue_sync

        if form_is_fresh():
            queue_sync(full=request.form.get("full") == "1", user_id=current_requester().user_id)
            flash(gettext("The export is queued; this page shows it once it is done."), "info")
        return redirect(url_for("SyncStatusView.index"))


def state_label(state: str) -> str:
    labels = {
        "pending": gettext("waiting for the receipt"),
        "delivered": gettext("delivered"),
        "applied": gettext("applied"),
        "refused": gettext("refused"),
    }
    return labels.get(state, state)
