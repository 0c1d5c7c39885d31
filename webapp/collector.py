"""Full garbage collections between requests, not during them.

CPython collects its oldest generation when the younger ones have been collected ten
times (and enough has survived); whichever request is running then waits for a walk of
everything allocated since start-up's `gc.freeze()`: 150–400 ms at province scale, once
every few dozen requests. In a process that serves requests, the automatic full
collection is turned off at the first request, and the same collection runs instead after
a response has been sent — when the WSGI server closes its body, which gunicorn's sync
workers do after writing the last byte. The young generations are collected as before,
during requests: they are small.

Processes that serve no request (the CLI, RQ workers and their jobs) keep CPython's
default. With a threaded server another thread's request can still wait for a collection
run after a response; production runs gunicorn's sync workers (docs/production.md).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable

from werkzeug.wsgi import ClosingIterator

# CPython's default: a full collection after ten collections of the middle generation.
FULL_AFTER = 10
# The oldest generation's threshold when full collections are ours to run: never reached.
NEVER = 2**31 - 1


def defer_full_collections() -> None:
    """No automatic full collection from now on in this process (see collect_if_due)."""
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, NEVER)


def full_collections_deferred() -> bool:
    return gc.get_threshold()[2] == NEVER


def collect_if_due() -> bool:
    """The full collection CPython would have run by now, if it is due; True if it ran."""
    if gc.get_count()[2] < FULL_AFTER:
        return False
    gc.collect()
    return True


class CollectBetweenRequests:
    """WSGI middleware: full collections after responses (see the module's docstring)."""

    def __init__(self, wsgi_app: Callable) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if not full_collections_deferred():
            defer_full_collections()
        return ClosingIterator(self.wsgi_app(environ, start_response), [collect_if_due])
