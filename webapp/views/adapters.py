"""Adapters between the screens and the domain commands: build the requester, call the
command, and tell the user what happened. A refused command has rolled back already
(webapp/domain/commands.py); the adapter only translates its message.

The REST API's adapter is `DangVienModelRestApi.answering_domain_errors` (webapp/views/base.py):
the error's status code and the same translated message as JSON."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import flash
from sqlalchemy import inspect
from sqlalchemy.orm import Session
from wtforms import Form

from webapp.domain.commands import Requester
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


def run_on_screen(
    run: Callable[[], Any], success: str | None = None, category: str = "success"
) -> bool:
    """Run a command for a screen: flash `success` when it ran, or why it was refused.
    True when it ran."""
    try:
        run()
    except DomainError as error:
        flash_domain_error(error)
        return False
    if success:
        flash(success, category)
    return True


def run_on_form(
    form: Form,
    run: Callable[[], Any],
    success: str | None = None,
    *,
    aliases: dict[str, str] | None = None,
    fallback: str | None = None,
) -> bool:
    """Run a command for a screen with a form: a field's problems go under that field
    (`aliases` maps the command's field names to the form's; the rest go under `fallback`,
    or flashed), any other refusal is flashed. True when it ran."""
    try:
        run()
    except ValidationFailed as error:
        for name, messages in translated_field_errors(error.errors).items():
            target = (aliases or {}).get(name, name)
            target = target if target in form else fallback
            if target is None:
                for message in messages:
                    flash(message, "danger")
            else:
                form[target].errors = [*form[target].errors, *messages]
        return False
    except DomainError as error:
        flash_domain_error(error)
        return False
    if success:
        flash(success, "success")
    return True


# --- FAB's own add, edit and delete screens and APIs ------------------------------------


@dataclass(frozen=True)
class RecordCommands:
    """The domain commands behind a FAB screen's or API's add, edit and delete. FAB keeps
    the forms and the JSON schemas; the write is the command's."""

    # (session, requester, the new record FAB built from the form or the body)
    add: Callable[[Session, Requester, Any], Any]
    # (session, requester, the record's id, {field: new value})
    edit: Callable[[Session, Requester, int, dict[str, Any]], Any]
    # (session, requester, the record's id)
    delete: Callable[[Session, Requester, int], Any] | None = None


def as_form_refusal(run: Callable[[], Any]) -> Any:
    """Run a command from a FAB form's pre_add / pre_update / pre_delete: a refusal becomes
    the ValueError FAB flashes (as "danger") before saving nothing."""
    try:
        return run()
    except ValidationFailed as error:
        messages = translated_field_errors(error.errors)
        raise ValueError(" ".join(m for msgs in messages.values() for m in msgs)) from error
    except DomainError as error:
        raise ValueError(translate(error.message, error.params)) from error


def edited_values(session: Session, item, columns: Iterable[str]) -> tuple[int, dict[str, Any]]:
    """What FAB's edit form or JSON schema wrote onto a stored record, as the edit command's
    changes ({field: value}, a relation by its key column), and the record's id. The record
    itself is reset, so only the command writes."""
    state = inspect(item)
    mapper = state.mapper
    changes: dict[str, Any] = {}
    for name in columns:
        if name in mapper.relationships:
            (column,) = mapper.relationships[name].local_columns
            related = getattr(item, name)
            changes[column.key] = inspect(related).identity[0] if related is not None else None
        elif name in mapper.column_attrs and name != "version_id":
            changes[name] = getattr(item, name)
    pk = state.identity[0]
    session.expire(item)
    return pk, changes
