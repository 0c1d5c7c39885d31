"""Full garbage collections run after a response is sent, never while a request runs
(webapp/collector.py); processes that serve no request keep CPython's default."""

from __future__ import annotations

import gc
import subprocess
import sys

from conftest import ROOT
from webapp.collector import FULL_AFTER, NEVER


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_no_full_collection_runs_during_a_request_even_when_one_is_due(app, client):
    client.get("/login/").close()  # the first request defers full collections
    assert gc.get_threshold()[2] == NEVER
    full: list[str] = []
    during = [False]

    def watch(phase, info):
        if phase == "start" and info["generation"] == 2:
            full.append("during" if during[0] else "after")

    outer = app.wsgi_app
    inner = outer.wsgi_app

    def busy_request(environ, start_response):
        during[0] = True
        try:
            # Cyclic garbage enough for many young collections: with CPython's default
            # thresholds, and a full collection due, one would run here.
            for _ in range(50_000):
                Cycle()
            return inner(environ, start_response)
        finally:
            during[0] = False

    for _ in range(FULL_AFTER):
        gc.collect(1)  # a full collection is due
    gc.callbacks.append(watch)
    outer.wsgi_app = busy_request
    try:
        response = client.get("/login/")
        assert response.status_code == 200 and response.data
        assert full == []
        response.close()  # the server has sent the body
    finally:
        outer.wsgi_app = inner
        gc.callbacks.remove(watch)
    assert full == ["after"]
    assert gc.get_count()[2] < FULL_AFTER


def test_the_same_busy_request_would_pay_for_a_full_collection_under_the_default():
    """The test above can fail: without the deferral the collection lands in the request."""
    script = (
        "import gc\n"
        "class Cycle:\n"
        "    def __init__(self): self.me = self\n"
        "full = []\n"
        "gc.callbacks.append(lambda phase, info: phase == 'start' and info['generation'] == 2"
        " and full.append(1))\n"
        "for _ in range(10): gc.collect(1)\n"
        "for _ in range(50_000): Cycle()\n"
        "print(len(full))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) >= 1


def test_a_process_that_serves_no_request_keeps_the_default_thresholds():
    script = "import gc\nfrom webapp import create_app\ncreate_app()\nprint(gc.get_threshold()[2])\n"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip().splitlines()[-1]) == 10
