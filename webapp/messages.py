"""Domain messages in the user's language: the msgids that domain rules raise (`N_`)
translated with their parameters. Shared by the screens and APIs (webapp/views/errors.py)
and the command line (webapp/cli.py), so neither imports the other."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext

from webapp.domain.errors import DomainError, ValidationFailed


def translate(message: str, params: Mapping[str, Any] | None = None) -> str:
    return gettext(message, **(params or {}))


def translated_field_errors(errors: Mapping[str, list[tuple[str, dict]]]) -> dict[str, list[str]]:
    return {
        field: [translate(msg, params) for msg, params in msgs] for field, msgs in errors.items()
    }


def error_messages(error: DomainError) -> list[str]:
    """Every message of a refusal, translated: each field's of a ValidationFailed, in order."""
    if isinstance(error, ValidationFailed):
        return [m for messages in translated_field_errors(error.errors).values() for m in messages]
    return [translate(error.message, error.params)]


def refusal_text(
    error: DomainError, separator: str = "\n", names: Mapping[str, str] | None = None
) -> str:
    """A refusal's translated message; field problems one each, named by their field (or
    by what the caller calls it, e.g. the CLI's option: `names`)."""
    names = names or {}
    if isinstance(error, ValidationFailed):
        return separator.join(
            f"{names.get(field, field)}: {translate(message, params)}"
            for field, messages in error.errors.items()
            for message, params in messages
        )
    return translate(error.message, error.params)
