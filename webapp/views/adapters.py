"""Adapters between the screens and the domain commands: build the requester, call the
command, and tell the user what happened. A refused command has rolled back already
(webapp/domain/commands.py); the adapter only translates its message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash

from webapp.domain.errors import DomainError, ValidationFailed
from webapp.views.errors import translate, translated_field_errors


def flash_domain_error(error: DomainError) -> None:
    """Every message of a refused command, translated, as one flash each."""
    if isinstance(error, ValidationFailed):
        for messages in translated_field_errors(error.errors).values():
            for message in messages:
                flash(message, "danger")
    else:
        flash(translate(error.message, error.params), "danger")


def run_on_screen(run: Callable[[], Any], success: str | None = None) -> bool:
    """Run a command for a screen: flash `success` when it ran, or why it was refused.
    True when it ran."""
    try:
        run()
    except DomainError as error:
        flash_domain_error(error)
        return False
    if success:
        flash(success, "success")
    return True
