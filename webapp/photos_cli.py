"""`flask --app wsgi photos import PATH`: a folder or a ZIP of scanner output, matched to
members by file name and processed in this process (the same code as the batch job)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import force_locale

from webapp.extensions import db


@click.group("photos")
def photos_group() -> None:
    """Members' photos."""


@photos_group.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--user",
    "username",
    help="Run as this user: only members in their scope are matched (default: everyone).",
)
@with_appcontext
def photos_import(path: Path, username: str | None) -> None:
    """Match every file of PATH (a folder or a ZIP) to a member by its number
    (000123NB.jpg, 000123NB_1.jpg) and make it the member's photo. Prints one line per
    file; exits non-zero only when PATH itself cannot be read."""
    from webapp.domain.commands import Requester
    from webapp.domain.errors import DomainError
    from webapp.domain.photo_batches import (
        BatchLimits,
        SourceUnusable,
        request_batch,
        requester_of,
        run_batch,
        source_entries,
    )
    from webapp.filestore import app_store
    from webapp.models.files import PhotoBatch

    config = current_app.config
    limits = BatchLimits.from_config(config)
    store = app_store()
    requester = Requester.system()
    if username:
        user = current_app.appbuilder.sm.find_user(username=username)
        if user is None:
            raise click.ClickException(f"Unknown user {username}.")
        requester = requester_of(db.session, PhotoBatch(requested_by_id=user.id))
    with current_app.test_request_context(), force_locale(config.get("BABEL_DEFAULT_LOCALE", "vi")):
        try:
            entries = source_entries(path, limits)
            batch = request_batch(db.session, requester, path.name or str(path), store)
            batch = run_batch(
                db.session, batch.id, entries, store, limits, config["MEMBER_NUMBER_PATTERN"]
            )
        except SourceUnusable as error:
            raise click.ClickException(_text(error.message, error.params)) from None
        except DomainError as error:
            raise click.ClickException(_text(error.message, error.params)) from None
        counts: dict[str, int] = {}
        click.echo("file\toutcome\tmember\tmessage")
        for item in batch.items:
            counts[item.outcome] = counts.get(item.outcome, 0) + 1
            number = item.member.member_number if item.member is not None else ""
            message = item_message(item.message, item.message_params)
            click.echo(f"{item.file_name}\t{item.outcome}\t{number}\t{message}")
        summary = ", ".join(f"{outcome} {count}" for outcome, count in sorted(counts.items()))
        click.echo(f"batch {batch.id}: {len(batch.items)} files ({summary or 'none'})")


def _text(message: str, params: dict | None) -> str:
    from flask_babel import gettext

    return gettext(message, **(params or {}))


def item_message(message: str | None, params: dict | None) -> str:
    """A batch line's message, translated; a photo's reason inside it translated first."""
    if not message:
        return ""
    params = dict(params or {})
    if "reason" in params:
        params["reason"] = _text(params["reason"], params.pop("reason_params", None))
    return _text(message, params)
