"""Background jobs seen by an Admin (the jobs screen): what waits, runs and failed in each
queue, and retrying a failed job. The Redis connection and the queue names come from the
adapter (the domain knows RQ's registries, not where Redis is)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from rq import Queue, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry
from sqlalchemy.orm import Session

from webapp.domain import audit
from webapp.domain.commands import Requester, after_commit, command
from webapp.domain.errors import N_, NotFound

# RQ job ids: uuid4 hex, or our deterministic ones ("report-12", "photo-3-…").
JOB_ID = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
FAILED_SHOWN = 50  # the newest failed jobs per queue on the screen
NO_SUCH_FAILED_JOB = N_("There is no such failed job (it may have been retried or expired).")


@dataclass(frozen=True)
class QueueState:
    name: str
    queued: int
    running: int
    failed: int
    finished: int
    scheduled: int


@dataclass(frozen=True)
class JobRow:
    id: str
    queue: str
    title: str
    function: str
    enqueued_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    progress: int | None
    traceback: str | None


def _row(job: Job) -> JobRow:
    result = job.latest_result() if job.get_status(refresh=False) == "failed" else None
    return JobRow(
        id=job.id,
        queue=job.origin,
        title=str(job.meta.get("title") or job.func_name),
        function=job.func_name,
        enqueued_at=job.enqueued_at,
        started_at=job.started_at,
        ended_at=job.ended_at,
        progress=job.meta.get("progress"),
        traceback=(result.exc_string if result is not None else None),
    )


def queue_states(connection: Redis, names: Iterable[str]) -> list[QueueState]:
    states = []
    for name in names:
        queue = Queue(name, connection=connection)
        states.append(
            QueueState(
                name=name,
                queued=queue.count,
                running=queue.started_job_registry.count,
                failed=queue.failed_job_registry.count,
                finished=queue.finished_job_registry.count,
                scheduled=queue.scheduled_job_registry.count + queue.deferred_job_registry.count,
            )
        )
    return states


def _jobs(connection: Redis, ids: list[str]) -> list[Job]:
    return [job for job in Job.fetch_many(ids, connection=connection) if job is not None]


def running_jobs(connection: Redis, names: Iterable[str]) -> list[JobRow]:
    rows = []
    for name in names:
        registry = Queue(name, connection=connection).started_job_registry
        rows.extend(_row(job) for job in _jobs(connection, registry.get_job_ids()))
    return rows


def failed_jobs(connection: Redis, names: Iterable[str]) -> list[JobRow]:
    """The newest failed jobs of every queue, newest first, with their tracebacks."""
    rows = []
    for name in names:
        registry = FailedJobRegistry(name, connection=connection)
        ids = registry.get_job_ids(0, FAILED_SHOWN - 1, desc=True)
        rows.extend(_row(job) for job in _jobs(connection, ids))
    far_past = datetime.min.replace(tzinfo=UTC)
    return sorted(rows, key=lambda row: _aware(row.ended_at) or far_past, reverse=True)


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=moment.tzinfo or UTC) if moment else None


def workers(connection: Redis) -> list[dict[str, Any]]:
    return [
        {
            "name": worker.name,
            "queues": worker.queue_names(),
            "state": worker.get_state(),
            "last_heartbeat": worker.last_heartbeat,
            "current_job": worker.get_current_job_id(),
        }
        for worker in Worker.all(connection=connection)
    ]


def find_failed_job(connection: Redis, job_id: str, queue_names: Iterable[str]) -> Job:
    """The failed job `job_id` of one of the queues, or NotFound."""
    if not isinstance(job_id, str) or not JOB_ID.fullmatch(job_id):
        raise NotFound(NO_SUCH_FAILED_JOB)
    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        raise NotFound(NO_SUCH_FAILED_JOB) from None
    if job.origin not in set(queue_names) or job.id not in FailedJobRegistry(
        job.origin, connection=connection
    ):
        raise NotFound(NO_SUCH_FAILED_JOB)
    return job


@command("job.retry")
def retry_job(
    session: Session,
    requester: Requester,
    connection: Redis,
    job_id: str,
    queue_names: Iterable[str],
) -> Job:
    """Put a failed job back on its queue (RQ's requeue: same id, arguments and meta),
    recorded in the audit log; the job is handed back once the entry is committed."""
    job = find_failed_job(connection, job_id, queue_names)
    audit.append(
        session,
        "job_retry",
        object_type="Job",
        object_id=job.id[:40],
        after={"job": job.id, "queue": job.origin, "function": job.func_name},
        user_id=requester.user_id,
        username=requester.username,
    )
    after_commit(session, job.requeue)
    return job
