"""Optional second factor (TOTP) for Admins and Managers: set it up, and the sign-in step
that asks for the code."""

from __future__ import annotations

import pyotp
import segno
from flask import abort, flash, redirect, request, session, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_appbuilder.security.views import AuthDBView
from flask_appbuilder.utils.base import get_safe_redirect
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user
from wtforms import StringField
from wtforms.validators import InputRequired, Length

from webapp.domain.audit import append
from webapp.extensions import db
from webapp.forms import TextRuleForm
from webapp.models.user import DangVienUser
from webapp.security import code_is_valid

ISSUER = "DangVien"
PENDING = "totp_pending"  # session key: the user who passed the password step
MAX_TRIES = 5


class CodeForm(TextRuleForm):
    code = StringField(
        _l("Code from the authenticator app"), validators=[InputRequired(), Length(min=6, max=8)]
    )


def _audit(action: str, user: DangVienUser | None) -> None:
    append(
        db.session,
        action,
        object_type="User",
        object_id=user.id if user else None,
        user_id=user.id if user else None,
        username=user.username if user else None,
        address=request.remote_addr,
    )
    db.session.commit()


class DangVienAuthDBView(AuthDBView):
    """FAB's sign-in, with a second step for users who turned TOTP on."""

    @expose("/login/", methods=["GET", "POST"])
    def login(self):
        from flask import g

        if g.user is not None and g.user.is_authenticated:
            return redirect(self._get_safe_next_url())
        from flask_appbuilder.security.forms import LoginForm_db

        form = LoginForm_db()
        if form.validate_on_submit():
            next_url = get_safe_redirect(request.args.get("next", ""))
            user = self.appbuilder.sm.auth_user_db(form.username.data, form.password.data)
            if not user:
                flash(str(self.invalid_login_message), "warning")
                return redirect(self.appbuilder.get_url_for_login_with(next_url))
            if user.totp_enabled:
                session[PENDING] = {"user_id": user.id, "next": next_url, "tries": 0}
                return redirect(url_for(f"{self.__class__.__name__}.totp"))
            login_user(user, remember=False)
            return redirect(next_url)
        return self.render_template(
            self.login_template, title=self.title, form=form, appbuilder=self.appbuilder
        )

    @expose("/login/code", methods=["GET", "POST"])
    def totp(self):
        pending = session.get(PENDING)
        user = db.session.get(DangVienUser, pending["user_id"]) if pending else None
        if user is None:
            return redirect(self.appbuilder.get_url_for_login)
        form = CodeForm()
        if form.validate_on_submit():
            if code_is_valid(user.totp_secret, form.code.data):
                session.pop(PENDING, None)
                login_user(user, remember=False)
                _audit("login_second_factor", user)
                return redirect(pending.get("next") or self.appbuilder.get_url_for_index)
            pending["tries"] = pending.get("tries", 0) + 1
            session[PENDING] = pending
            _audit("second_factor_failed", user)
            if pending["tries"] >= MAX_TRIES:
                session.pop(PENDING, None)
                flash(gettext("Too many wrong codes; sign in again."), "danger")
                return redirect(self.appbuilder.get_url_for_login)
            flash(gettext("The code is not right; try the current one."), "warning")
        return self.render_template(
            "security/totp_code.html",
            form=form,
            appbuilder=self.appbuilder,
            title=gettext("Second factor"),
        )


class TotpView(BaseView):
    """Turn the second factor on or off for oneself (Admins and Managers)."""

    route_base = "/second-factor"
    default_view = "setup"

    @expose("/", methods=["GET", "POST"])
    @has_access
    @permission_name("setup")
    def setup(self):
        user = db.session.get(DangVienUser, current_user.id)
        if user is None:
            abort(404)
        form = CodeForm()
        if not user.totp_enabled:
            secret = session.get("totp_setup_secret") or pyotp.random_base32()
            session["totp_setup_secret"] = secret
            if form.validate_on_submit():
                if code_is_valid(secret, form.code.data):
                    user.totp_secret, user.totp_enabled = secret, True
                    session.pop("totp_setup_secret", None)
                    db.session.commit()
                    flash(
                        gettext("The second factor is on: sign-in will ask for a code."), "success"
                    )
                    return redirect(url_for("TotpView.setup"))
                flash(gettext("The code is not right; try the current one."), "warning")
            uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)
            qr = segno.make(uri).svg_data_uri(scale=4)
            return self.render_template(
                "security/totp_setup.html", form=form, secret=secret, uri=uri, qr=qr, enabled=False
            )
        if form.validate_on_submit():
            if code_is_valid(user.totp_secret, form.code.data):
                user.totp_secret, user.totp_enabled = None, False
                db.session.commit()
                flash(gettext("The second factor is off."), "success")
                return redirect(url_for("TotpView.setup"))
            flash(gettext("The code is not right; try the current one."), "warning")
        return self.render_template("security/totp_setup.html", form=form, enabled=True)
