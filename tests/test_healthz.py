"""`GET /healthz`: the database, Redis, a worker per queue and the cron scheduler, each with
its state and age; 200 only when all are well, 503 otherwise; no sign-in, no data, fast.
Real processes: `flask worker` and `flask cron` are started and stopped here."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from conftest import ROOT
from jobs import QUEUE_NAMES, SCHEDULER_STALE_S, cron_scheduler_name

CHECKS = {"database", "redis", "scheduler", *(f"worker:{name}" for name in QUEUE_NAMES)}
# What a check may say about itself: nothing about the data or the machine.
ALLOWED_KEYS = {"state", "ms", "age_s", "workers"}


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=os.environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for(client, status: int, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while True:
        response = client.get("/healthz")
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.5)


def test_without_workers_and_scheduler_it_is_503_and_says_which(client, redis_conn):
    started = time.monotonic()
    response = client.get("/healthz")  # not signed in
    assert time.monotonic() - started < 2.5
    assert response.status_code == 503
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body["status"] == "failing"
    assert set(body["checks"]) == CHECKS
    assert body["checks"]["database"]["state"] == "ok"
    assert body["checks"]["redis"]["state"] == "ok"
    for name in QUEUE_NAMES:
        assert body["checks"][f"worker:{name}"] == {
            "state": "missing",
            "workers": 0,
            "age_s": None,
            "ms": body["checks"][f"worker:{name}"]["ms"],
        }
    assert body["checks"]["scheduler"]["state"] == "missing"
    for check in body["checks"].values():
        assert set(check) <= ALLOWED_KEYS


def test_healthy_with_a_worker_and_the_scheduler_then_503_when_each_goes(client, redis_conn):
    worker, cron = start("worker"), start("cron")
    try:
        response = wait_for(client, 200, 240)  # two app start-ups on a busy machine
        assert response.status_code == 200, (response.json, worker.poll(), cron.poll())
        body = response.json
        assert body["status"] == "ok"
        assert all(check["state"] == "ok" for check in body["checks"].values())
        assert body["checks"]["worker:reports"]["workers"] == 1
        assert 0 <= body["checks"]["scheduler"]["age_s"] <= SCHEDULER_STALE_S

        # A heartbeat that stopped coming (a hung process) is stale: 503.
        from rq import Worker

        (registered,) = Worker.all(connection=redis_conn)
        old = (datetime.now(UTC) - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        redis_conn.hset(registered.key, "last_heartbeat", old)
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.json["checks"]["worker:photos"]["state"] == "stale"
        assert response.json["checks"]["worker:photos"]["age_s"] >= 600
        assert response.json["checks"]["database"]["state"] == "ok"

        # The worker stops: it leaves RQ's registry, the queues have nobody.
        stop(worker)
        response = wait_for(client, 503, 10)
        assert response.json["checks"]["worker:reports"]["state"] == "missing"
        assert response.json["checks"]["scheduler"]["state"] == "ok"

        redis_conn.zadd("rq:cron_schedulers", {cron_scheduler_name(client.application): 1.0})
        assert client.get("/healthz").json["checks"]["scheduler"]["state"] == "stale"
        stop(cron)
        response = client.get("/healthz")
        assert response.json["checks"]["scheduler"]["state"] == "missing"
    finally:
        stop(worker)
        stop(cron)


def test_a_database_behind_the_code_is_not_healthy(client, db_session, redis_conn):
    (revision,) = db_session.execute(text("SELECT version_num FROM alembic_version")).one()
    db_session.execute(text("UPDATE alembic_version SET version_num = '0001_initial_schema'"))
    db_session.commit()
    try:
        check = client.get("/healthz").json["checks"]["database"]
        assert check["state"] == "schema_mismatch"
    finally:
        db_session.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
        db_session.commit()


@pytest.mark.server_only
def test_unreachable_database_and_redis_answer_503_quickly():
    """Nothing listens on port 9 here: both checks fail fast, without details."""
    from config import TestConfig
    from webapp import create_app

    config = TestConfig()
    config.SQLALCHEMY_DATABASE_URI = "postgresql+psycopg://postgres@127.0.0.1:9/nowhere"
    config.SQLALCHEMY_ENGINE_OPTIONS = {"connect_args": {"connect_timeout": 1}}
    config.REDIS_URL = "redis://127.0.0.1:9/0"
    app = create_app(config)
    started = time.monotonic()
    response = app.test_client().get("/healthz")
    assert time.monotonic() - started < 3
    assert response.status_code == 503
    checks = response.json["checks"]
    assert checks["database"]["state"] == "failing"
    assert checks["redis"]["state"] == "failing"
    assert all(set(check) <= ALLOWED_KEYS for check in checks.values())
    assert "127.0.0.1" not in response.text and "nowhere" not in response.text
