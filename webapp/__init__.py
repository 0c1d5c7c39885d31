"""DangVien: the Party member database. `create_app` is the application factory."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, request
from flask_appbuilder import AppBuilder
from flask_appbuilder.const import AUTH_DB
from flask_babel import gettext
from sqlalchemy import event
from sqlalchemy.engine import Engine

from config import Config
from webapp.collector import CollectBetweenRequests
from webapp.extensions import csrf, db, migrate
from webapp.i18n import LANGUAGES, babel_translation_directories, compile_catalogues

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

FAB_SETTINGS: dict[str, Any] = {
    "APP_NAME": "DangVien – CSDL đảng viên",
    "AUTH_TYPE": AUTH_DB,
    "AUTH_ROLE_ADMIN": "Admin",
    "AUTH_ROLE_PUBLIC": "Public",
    # Alembic creates every table, FAB's included (see DESIGN §12).
    "FAB_CREATE_DB": False,
    # Permissions are written by `flask init`, not on every start-up.
    "FAB_UPDATE_PERMS": False,
    "FAB_API_SWAGGER_UI": True,
    "FAB_API_MAX_PAGE_SIZE": 100,
    # webapp.security's manager with the view layer's sign-in screen (webapp/views).
    "FAB_SECURITY_MANAGER_CLASS": "webapp.views.SecurityManager",
    "FAB_INDEX_VIEW": "webapp.views.home.HomeView",
    "BABEL_DEFAULT_LOCALE": "vi",
    "BABEL_DEFAULT_TIMEZONE": "Asia/Ho_Chi_Minh",
    "LANGUAGES": LANGUAGES,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "FAB_PASSWORD_COMPLEXITY_ENABLED": True,
    "SQLALCHEMY_TRACK_MODIFICATIONS": False,
}


def create_app(config: object | None = None) -> Flask:
    config = config or Config()
    app = Flask(__name__, instance_path=getattr(config, "INSTANCE_DIR", None))
    app.config.update(FAB_SETTINGS)
    app.config.from_object(config)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = babel_translation_directories()
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"connect_args": {"timeout": 30}})
    else:
        # psycopg prepares a statement run five times on a connection; PostgreSQL may then
        # plan it once for any parameters (a generic plan). For the scope filter's
        # `path LIKE :prefix || '%'` that plan cannot use the prefix (a seq scan of the
        # units, then a sort of the whole subtree's rows: the worklist's list took 200 ms
        # instead of 17). Each execution is planned with its own parameters, as the first
        # five are; the statement is still parsed once.
        app.config.setdefault(
            "SQLALCHEMY_ENGINE_OPTIONS",
            {
                "pool_pre_ping": True,
                "connect_args": {"options": "-c plan_cache_mode=force_custom_plan"},
            },
        )
    Path(app.config["DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    if proxies := app.config.get("PROXY_COUNT"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        # The client's address (sign-in limit, audit log) and scheme from the proxy's headers.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    compile_catalogues()
    from webapp.domain.tracking import register_hooks

    # Derived data, field history and the audit log on every save (models stay plain).
    register_hooks()
    from webapp.domain.sync_capture import register_capture

    # Every change to a synced table leaves an outbox row (docs/sync.md).
    register_capture()
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))
    from webapp.views.guards import install_id_converter, register_request_guards

    # Both before the views: FAB exempts its APIs from an extension it finds, and each
    # route reads the `int` converter when it is added.
    csrf.init_app(app)
    install_id_converter(app)
    with app.app_context():
        appbuilder = AppBuilder(update_perms=False)
        appbuilder.init_app(app, db.session)
        from webapp.views import register_views

        register_views(appbuilder)
    register_request_guards(app, csrf)

    @app.before_request
    def _remember_who_saves() -> None:
        # Model hooks (field history, audit log) read the user from the session, not from
        # Flask; asked at flush time, because an API call's JWT is verified after this hook.
        from webapp.security import current_user_identity

        db.session.info["who"] = current_user_identity
        db.session.info["address"] = request.remote_addr

    @app.before_request
    def _refuse_oversized_bodies():
        # Checked before anything reads the body (FAB's API would turn the error into a 500).
        limit = app.config.get("MAX_CONTENT_LENGTH")
        larger = app.config.get("LARGE_UPLOAD_ENDPOINTS", {}).get(request.endpoint)
        if larger:  # e.g. a ZIP of scans: its own limit, for the form parser too
            limit = request.max_content_length = larger
        if limit and request.content_length and request.content_length > limit:
            message = gettext("The request is too large.")
            if request.path.startswith("/api/"):
                return jsonify({"message": message}), 413
            return message, 413
        return None

    @app.after_request
    def _security_headers(response):
        # FAB's pages carry inline scripts, so scripts need 'unsafe-inline'; nothing is
        # loaded from elsewhere, framing is refused.
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; object-src 'none'; base-uri 'self'; "
            "form-action 'self'; frame-ancestors 'none'",
        )
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    from webapp.cli import register_cli

    register_cli(app)
    from webapp.views.errors import register_error_handlers

    register_error_handlers(app)
    # Start-up leaves a large heap of long-lived objects (FAB's views, forms, menus,
    # catalogues of translations): moved out of the collector's reach, so that no request
    # pays for walking all of it in a full collection (250 ms on the unit tree).
    gc.collect()
    gc.freeze()
    # And the full collections of what requests leave run between requests (collector.py).
    app.wsgi_app = CollectBetweenRequests(app.wsgi_app)
    return app


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """Foreign keys on, WAL so the worker can write while the web server reads."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
