"""`flask --app wsgi import-members FILE [--commit] [--user NAME]` and
`flask --app wsgi import-members --template -o FILE.xlsx`: the same dry run and commit as
the import screen's job, in this process."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import force_locale, gettext

from webapp.extensions import db

OUTCOME_WORDS = {"new": "new", "update": "update", "unchanged": "unchanged", "error": "error"}


def problem_text(problem: dict) -> str:
    """'C (Ngày sinh): message' — the column's letter and header, and the message."""
    message = gettext(problem["message"], **(problem.get("params") or {}))
    where = problem.get("column")
    if where and problem.get("header"):
        where = f"{where} ({problem['header']})"
    return f"{where}: {message}" if where else message


def run_in_cli(run):
    """A refusal of the rules as the CLI's message (exit code 1). webapp/cli.py's own
    run_in_cli is not imported: it registers this command (no import cycle)."""
    from webapp.domain.errors import DomainError
    from webapp.messages import refusal_text

    try:
        return run()
    except DomainError as error:
        raise click.ClickException(refusal_text(error)) from error


def _requester(username: str | None):
    from webapp.domain.commands import Requester
    from webapp.domain.photo_batches import requester_of
    from webapp.models.member_import import MemberImport

    if not username:
        return Requester.system()
    user = current_app.appbuilder.sm.find_user(username=username)
    if user is None:
        raise click.ClickException(f"Unknown user {username}.")
    return requester_of(db.session, MemberImport(requested_by_id=user.id))


@click.command("import-members")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--commit", is_flag=True, help="Import the rows (all or nothing) after the dry run.")
@click.option("--template", is_flag=True, help="Write the XLSX template instead (with -o).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--user", "username", help="Import as this clerk: their scope and rights (default: system)."
)
@with_appcontext
def import_members_command(
    file: Path | None, commit: bool, template: bool, output: Path | None, username: str | None
) -> None:
    """Dry run of a member spreadsheet (XLSX or CSV): one line per row with what would
    happen or what is wrong; with --commit, import it when no row is wrong. Exit code 1
    when rows are wrong or the file is refused; nothing is written then."""
    from jobs.imports import execute_import, store_upload
    from webapp.models.member_import import ImportState, MemberImport, MemberImportRow
    from webapp.reports.member_import_sheet import write_template

    config = current_app.config
    requester = _requester(username)
    with current_app.test_request_context(), force_locale(config.get("BABEL_DEFAULT_LOCALE")):
        if template:
            if output is None:
                raise click.ClickException("--template needs -o FILE.xlsx")
            write_template(db.session, requester, output)
            click.echo(f"Template written to {output}")
            return
        if file is None or not file.is_file():
            raise click.ClickException("Give the FILE to import (XLSX or CSV).")
        with file.open("rb") as handle:
            run = run_in_cli(lambda: store_upload(db.session, requester, handle, file.name))
        run_id = run.id
        # Run as the import's requester (the --user clerk, or the system), as the job does.
        run_in_cli(lambda: execute_import(run_id, commit=False))
        run = db.session.get(MemberImport, run_id, populate_existing=True)
        if run.state == ImportState.FAILED:
            raise click.ClickException(gettext(run.error, **(run.error_params or {})))
        click.echo("sheet\trow\toutcome\tmember\tdetail")
        rows = (
            db.session.query(MemberImportRow)
            .filter_by(import_id=run_id)
            .order_by(MemberImportRow.position)
        )
        for row in rows.yield_per(1000):
            detail = (
                "; ".join(problem_text(p) for p in row.problems or [])
                if row.outcome == "error"
                else ", ".join(row.fields or [])
            )
            click.echo(
                f"{row.sheet}\t{row.row}\t{OUTCOME_WORDS[row.outcome]}\t"
                f"{row.member_number or ''}\t{detail}"
            )
        summary = (
            f"import {run_id} ({run.sha256[:12]}): {run.total} rows: new {run.new_count}, "
            f"update {run.update_count}, unchanged {run.unchanged_count}, "
            f"error {run.error_count}"
        )
        click.echo(summary)
        if run.error_count:
            raise click.ClickException("Nothing imported: correct the rows with errors.")
        if not commit:
            click.echo("Dry run only: nothing was written (add --commit to import).")
            return
        run_in_cli(lambda: execute_import(run_id, commit=True))
        click.echo(f"import {run_id} committed.")
