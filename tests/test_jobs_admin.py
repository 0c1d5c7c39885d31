"""The Admin's jobs screen: the queues with their counts, the workers, the failed jobs with
their traceback, and a retry (POST with the CSRF token, through `job.retry`, audited).
A job really fails in a real worker first; a Clerk sees none of it; Chromium drives it."""

from __future__ import annotations

import pytest
import test_browser
from rq import Queue
from rq.registry import FailedJobRegistry
from sqlalchemy import select
from test_csrf import csrf_on, page_token, signed_in  # noqa: F401 - fixture

from conftest import login, run_worker_burst
from helpers import vietnamese
from webapp.cli import create_user
from webapp.models import AuditEntry

live_server = test_browser.live_server
browser_page = test_browser.browser_page
PASSWORD = "Jobs-Clerk-123"


@pytest.fixture()
def failed_job(app, db_session, redis_conn):
    """A job that fails in a real worker: an impossible date through the domain's parser."""
    from jobs import enqueue

    with app.test_request_context():
        job = enqueue(
            "webapp.domain.dates.parse_date",
            "31/02/2020",
            "ngay",
            queue="default",
            title="Kiểm tra ngày hỏng",
        )
    assert run_worker_burst().returncode == 0
    assert job.id in FailedJobRegistry("default", connection=redis_conn)
    return job


def test_admin_sees_queues_and_the_traceback_and_retries(app, client, failed_job, redis_conn):
    login(client)
    page = client.get("/jobs/")
    assert page.status_code == 200
    assert 'data-queue="reports"' in page.text and 'data-queue="photos"' in page.text
    assert "Kiểm tra ngày hỏng" in page.text
    assert "ValidationFailed" in page.text and "Traceback" in page.text  # exc_info shown
    assert f'data-job="{failed_job.id}"' in page.text

    response = client.post(f"/jobs/retry/{failed_job.id}", follow_redirects=True)
    assert response.status_code == 200
    assert vietnamese(app, "The job is back on its queue.") in response.text
    assert failed_job.id not in FailedJobRegistry("default", connection=redis_conn)
    assert Queue("default", connection=redis_conn).job_ids == [failed_job.id]
    entry = client.application.extensions["sqlalchemy"].session.scalar(
        select(AuditEntry).where(AuditEntry.action == "job_retry")
    )
    assert entry is not None and entry.username == "admin" and entry.object_id == failed_job.id

    # Retried already (or never failed): refused with a message, nothing queued twice.
    again = client.post(f"/jobs/retry/{failed_job.id}", follow_redirects=True)
    assert vietnamese(
        app, "There is no such failed job (it may have been retried or expired)."
    ) in (again.text)
    assert client.post("/jobs/retry/not%20an%20id", follow_redirects=True).status_code == 200
    assert Queue("default", connection=redis_conn).job_ids == [failed_job.id]


def test_a_clerk_has_no_jobs_screen_and_cannot_retry(app, client, db_session, failed_job):
    from factories import make_tree

    make_tree(db_session)
    db_session.commit()
    create_user("clerk_jobs", "Clerk", "P.01", PASSWORD)
    login(client, "clerk_jobs", PASSWORD)
    page = client.get("/jobs/")
    assert page.status_code in (302, 403) and "ValidationFailed" not in page.text
    client.post(f"/jobs/retry/{failed_job.id}")
    assert failed_job.id in FailedJobRegistry("default", connection=failed_job.connection)


def test_retry_needs_the_pages_csrf_token(csrf_on, failed_job):  # noqa: F811
    client = signed_in(csrf_on)
    client.post(f"/jobs/retry/{failed_job.id}")  # no token: refused
    assert failed_job.id in FailedJobRegistry("default", connection=failed_job.connection)
    token = page_token(client, "/jobs/")
    client.post(f"/jobs/retry/{failed_job.id}", data={"csrf_token": token})
    assert failed_job.id not in FailedJobRegistry("default", connection=failed_job.connection)


@pytest.mark.browser
def test_admin_retries_a_failed_job_in_chromium(
    app,
    db_session,
    failed_job,
    live_server,
    browser_page,  # noqa: F811
):
    from playwright.sync_api import expect

    from conftest import ADMIN_PASSWORD

    page, base = browser_page, live_server
    page.goto(f"{base}/login/")
    page.locator("input#username").fill("admin")
    page.locator("input#password").fill(ADMIN_PASSWORD)
    page.locator("input#password").press("Enter")
    expect(page.locator("a.dropdown-toggle", has=page.locator(".fa-user"))).to_be_visible()
    # Through the menu, as an Admin finds it.
    page.locator("a.dropdown-toggle", has_text=vietnamese(app, "Operations")).click()
    page.locator("a", has_text=vietnamese(app, "Background jobs")).click()
    row = page.locator(f'#jobs-failed tr[data-job="{failed_job.id}"]')
    expect(row).to_contain_text("Kiểm tra ngày hỏng")
    expect(page.locator('#jobs-queues tr[data-queue="default"] td').nth(3)).to_have_text("1")
    row.locator("summary").click()
    expect(row.locator("pre.job-traceback")).to_contain_text("ValidationFailed")
    page.screenshot(path=str(test_browser.ARTIFACTS / "jobs-screen.png"), full_page=True)
    row.locator("button.retry-job").click()
    expect(page.locator(".alert-success")).to_contain_text(
        vietnamese(app, "The job is back on its queue.")
    )
    expect(page.locator('#jobs-queues tr[data-queue="default"] td').nth(1)).to_have_text("1")
    expect(page.locator('#jobs-queues tr[data-queue="default"] td').nth(3)).to_have_text("0")
    expect(page.locator("#jobs-failed")).to_contain_text(vietnamese(app, "No failed job."))
