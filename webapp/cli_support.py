"""What every command-line module shares: options through the domain's text and date
rules, domain refusals as messages with an exit code per kind, the system requester."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from datetime import date
from typing import TypeVar

import click

from webapp.domain.commands import Requester
from webapp.domain.errors import DomainError
from webapp.messages import refusal_text, translate

T = TypeVar("T")


def cli_text(value: str | None, name: str) -> str | None:
    """An option's or a CSV cell's text through the domain text rule (webapp/domain/text.py);
    refused with a ClickException naming the option or column."""
    from webapp.domain.errors import ValidationFailed
    from webapp.domain.text import clean_text

    try:
        return clean_text(value, name, label=name)
    except ValidationFailed as error:
        raise click.ClickException(translate(error.message, error.params)) from None


def cli_date(value: str | None, option: str) -> date:
    """An option's date through the domain date parser (dd/mm/yyyy or yyyy-mm-dd)."""
    from webapp.domain.dates import WRONG_FORMAT, parse_date
    from webapp.domain.errors import ValidationFailed

    try:
        day = parse_date(value, option)
    except ValidationFailed as error:
        raise click.ClickException(f"{option}: {translate(error.message, error.params)}") from None
    if day is None:
        raise click.ClickException(f"{option}: {translate(WRONG_FORMAT)}")
    return day


# Refusals leave with a nonzero exit code that says what kind (scripts can tell them apart).
EXIT_CODES = {400: 1, 422: 1, 403: 3, 404: 4, 409: 5}


class Refused(click.ClickException):
    """A domain refusal on the command line: the same translated message as on a screen or
    from the API, and an exit code for its kind."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.exit_code = EXIT_CODES.get(status_code, 1)


def run_in_cli(run: Callable[[], T], options: Mapping[str, str] | None = None) -> T:
    """Run a command for the CLI: its result, or its refusal as a Refused (message + exit
    code); field problems are named by their option (`options`: field → option)."""
    try:
        return run()
    except DomainError as error:
        raise Refused(refusal_text(error, names=options), error.status_code) from error


def system() -> Requester:
    """The CLI is run by whoever holds the server: the system, unrestricted."""
    return Requester.system()


def hash_password(password: str) -> str:
    """A password hashed as FAB hashes it (the app's settings)."""
    from flask import current_app
    from werkzeug.security import generate_password_hash

    config = current_app.config
    return generate_password_hash(
        password,
        method=config.get("FAB_PASSWORD_HASH_METHOD", "scrypt"),
        salt_length=config.get("FAB_PASSWORD_HASH_SALT_LENGTH", 16),
    )


def generate_password() -> str:
    """A random password that starts with a letter or digit: the import prints passwords
    as CSV, where one starting with "-" would be escaped (and so misread) as a formula."""
    while True:
        password = secrets.token_urlsafe(12)
        if password[0].isalnum():
            return password
