"""Errors raised by domain rules and commands; views map them to messages and status codes."""

from __future__ import annotations

from collections.abc import Mapping


def N_(message: str) -> str:
    """Mark a message for translation without translating it here (Babel keyword)."""
    return message


class DomainError(Exception):
    """A rule refused an action; `message` is an untranslated msgid with %(name)s params."""

    status_code = 400

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


class NotFound(DomainError):
    """The target does not exist, or lies outside the requester's scope (the same answer)."""

    status_code = 404


class Forbidden(DomainError):
    """The requester's role may not take this action."""

    status_code = 403


class InUse(DomainError):
    """The target has a history or is referred to, so the action does not apply to it
    (a member with a ledger is not deleted); the message says what to do instead."""

    status_code = 409


class ConcurrentChange(DomainError):
    """A clash with another transaction that the locks did not foresee; nothing was saved."""

    status_code = 409


class ValidationFailed(DomainError):
    """One or more fields are invalid: {field name: [messages]}, each (msgid, params)."""

    status_code = 422

    def __init__(self, errors: Mapping[str, list[tuple[str, dict]]]) -> None:
        self.errors = {field: list(messages) for field, messages in errors.items()}
        first_field, first = next(iter(self.errors.items()))
        super().__init__(first[0][0], **first[0][1])
        self.field = first_field


class FieldErrors:
    """Collects field errors while a rule checks a record."""

    def __init__(self) -> None:
        self._errors: dict[str, list[tuple[str, dict]]] = {}

    def add(self, field: str, message: str, **params: object) -> None:
        self._errors.setdefault(field, []).append((message, params))

    def __bool__(self) -> bool:
        return bool(self._errors)

    def as_dict(self) -> dict[str, list[tuple[str, dict]]]:
        return dict(self._errors)

    def raise_if_any(self) -> None:
        if self._errors:
            raise ValidationFailed(self._errors)
