"""The production run of docs/production.md on this machine: gunicorn with 2 workers on a
loopback port, PostgreSQL, the Redis server, one RQ worker per queue group, the one cron
scheduler, as separate processes started the way the docs say. /healthz answers 200; an
Admin signs in through the "proxy" (X-Forwarded-For honoured: PROXY_COUNT=1), requests a
report and downloads it once a worker made it; the reports worker stops and /healthz
answers 503 naming its queue."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from conftest import DATABASE_URL, REDIS_URL, ROOT

PASSWORD = "Production-Run-1"
CLIENT_ADDRESS = "192.0.2.44"  # TEST-NET-1: only ever written in a header, never contacted
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def token_of(page: requests.Response) -> str:
    match = TOKEN.search(page.text)
    assert match, page.text[:500]
    return match.group(1) or match.group(2)


@pytest.fixture()
def production(tmp_path):
    """An instance of its own: database <test db>_prod, the test Redis, its own folders."""
    import redis

    # The test Redis database, emptied before and after (as the redis_conn fixture does,
    # without building the session's app: this test needs only its own instance).
    queues = redis.Redis.from_url(REDIS_URL)
    queues.flushdb()
    name = DATABASE_URL.rsplit("/", 1)[1] + "_prod"
    server = DATABASE_URL.rsplit("/", 1)[0]
    admin = create_engine(server + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    env = {
        **os.environ,
        "DATABASE_URL": f"{server}/{name}",
        "REDIS_URL": REDIS_URL,
        "DATA_DIR": str(tmp_path / "data"),
        "DANGVIEN_INSTANCE_DIR": str(tmp_path / "instance"),
        "SECRET_KEY": "production-run-secret-key-of-enough-length",
        "PROXY_COUNT": "1",
        "LOGIN_RATE_LIMIT": "10 per minute",
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
    }
    for args in (("init", "--admin-password", PASSWORD), ("demo", "--members", "20")):
        result = subprocess.run(
            [str(BIN / "flask"), "--app", "wsgi", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr[-3000:]
    processes: dict[str, subprocess.Popen] = {}
    logs = tmp_path / "logs"
    logs.mkdir()

    def start(label: str, *command: str) -> subprocess.Popen:
        log = (logs / f"{label}.log").open("w")
        # A session of its own: gunicorn's workers are stopped with their master.
        processes[label] = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        return processes[label]

    yield {
        "env": env,
        "start": start,
        "processes": processes,
        "logs": logs,
        "db": f"{server}/{name}",
    }
    for process in processes.values():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes.values():
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # whatever of its group is left
        process.wait()
    queues.flushdb()
    engine = create_engine(server + "/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()
    admin.dispose()


def wait_health(base: str, status: int, seconds: float, production) -> requests.Response:
    deadline = time.monotonic() + seconds
    response = None
    while time.monotonic() < deadline:
        try:
            response = requests.get(f"{base}/healthz", timeout=5)
            if response.status_code == status:
                return response
        except requests.RequestException:
            pass  # not listening yet, or its workers still booting
        for label, process in production["processes"].items():
            assert process.poll() is None, (
                f"{label} exited:\n" + (production["logs"] / f"{label}.log").read_text()[-3000:]
            )
        time.sleep(1)
    raise AssertionError(f"/healthz never answered {status}: {response and response.text}")


@pytest.mark.server_only
def test_gunicorn_workers_cron_healthz_login_report_and_a_stopped_worker(production):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    start = production["start"]
    flask = str(BIN / "flask")
    start(
        "gunicorn",
        str(BIN / "gunicorn"),
        "--workers", "2",
        "--bind", f"127.0.0.1:{port}",
        "--timeout", "120",
        "--access-logfile", "-",
        "wsgi:app",
    )  # fmt: skip
    start("worker-reports", flask, "--app", "wsgi", "worker", "--queue", "reports")
    start("worker-photos", flask, "--app", "wsgi", "worker", "--queue", "photos")
    start("worker-imports", flask, "--app", "wsgi", "worker", "--queue", "imports")
    start(
        "worker-default",
        flask, "--app", "wsgi", "worker", "--queue", "default", "--queue", "sync",
    )  # fmt: skip
    start("cron", flask, "--app", "wsgi", "cron")

    healthy = wait_health(base, 200, 240, production).json()
    assert healthy["status"] == "ok"
    assert {name for name, check in healthy["checks"].items() if check["state"] == "ok"} == {
        "database",
        "redis",
        "worker:reports",
        "worker:photos",
        "worker:imports",
        "worker:sync",
        "worker:default",
        "scheduler",
    }

    # Sign in as a browser behind the proxy would: the proxy adds X-Forwarded-For.
    session = requests.Session()
    session.headers["X-Forwarded-For"] = CLIENT_ADDRESS
    login_page = session.get(f"{base}/login/", timeout=30)
    response = session.post(
        f"{base}/login/",
        data={"username": "admin", "password": PASSWORD, "csrf_token": token_of(login_page)},
        timeout=30,
    )
    assert response.status_code == 200 and "/logout" in response.text, response.text[:500]

    form = session.get(f"{base}/reports/request", timeout=30)
    # The first unit offered: the province, at the top of the tree.
    unit_id = re.search(r'name="unit_id".*?<option value="(\d+)"', form.text, re.S)
    assert unit_id, form.text[:2000]
    response = session.post(
        f"{base}/reports/request",
        data={
            "csrf_token": token_of(form),
            "report": "member-list",
            "unit_id": unit_id.group(1),
            "output_format": "pdf",
        },
        timeout=30,
    )
    run_id = re.search(r"/reports/show/(\d+)", response.url)
    assert run_id, response.url
    deadline = time.monotonic() + 180
    while True:
        status = session.get(f"{base}/reports/status/{run_id.group(1)}", timeout=30).json()
        if status["state"] in ("done", "failed") or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert status["state"] == "done", status
    pdf = session.get(base + status["download_url"], timeout=30)
    assert pdf.status_code == 200 and pdf.content[:4] == b"%PDF"

    # The app saw the client's address, not the proxy's (the sign-in limit and audit log).
    engine = create_engine(production["db"])
    with engine.connect() as connection:
        addresses = (
            connection.execute(
                text("SELECT DISTINCT address FROM audit_entry WHERE action = 'login'")
            )
            .scalars()
            .all()
        )
    engine.dispose()
    assert addresses == [CLIENT_ADDRESS]

    # The reports worker stops: the probe says so within seconds.
    worker = production["processes"]["worker-reports"]
    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=30)
    failing = requests.get(f"{base}/healthz", timeout=5)
    assert failing.status_code == 503
    checks = failing.json()["checks"]
    assert checks["worker:reports"]["state"] == "missing"
    assert checks["worker:photos"]["state"] == "ok" and checks["database"]["state"] == "ok"
    for label, process in production["processes"].items():
        assert label == "worker-reports" or process.poll() is None, label  # nothing else fell
