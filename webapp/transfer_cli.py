"""`flask --app wsgi transfer …`: transfers of members to and from a partner province
(docs/sync.md, "Transfers between provinces")."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from webapp.cli_support import Refused, cli_date, cli_text, run_in_cli, system
from webapp.extensions import db


@click.group("transfer")
def transfer_group() -> None:
    """Transfer packages between provinces: export, import, receipt, list."""


def _member_id(number: str) -> int:
    from webapp.models.member import Member

    found = db.session.scalar(select(Member.id).where(Member.member_number == number.strip()))
    if found is None:
        raise Refused(f"No member with member number {number}.", 404)
    return found


def _store():
    from webapp.filestore import FileStore

    return FileStore(current_app.config["DATA_DIR"])


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise click.ClickException(f"{path}: {error.strerror}") from None


@transfer_group.command("export")
@click.argument("member_number")
@click.option("--to", "unit_code", required=True, help="The partner province's unit code.")
@click.option("--on", "on", required=True, help="The date of the transfer (dd/mm/yyyy).")
@click.option("--decision", "decision", help="The decision's number.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="File.")
@with_appcontext
def transfer_export(member_number: str, unit_code: str, on: str, decision, out: str) -> None:
    """Record MEMBER_NUMBER's transfer out to a partner province and write its package."""
    from webapp.domain.transfers import transfer_to_province
    from webapp.sync_keys import load_key

    day = cli_date(on, "--on")
    member_id = _member_id(cli_text(member_number, "MEMBER_NUMBER"))
    transfer, data = run_in_cli(
        lambda: transfer_to_province(
            db.session,
            system(),
            member_id,
            partner_unit_code=cli_text(unit_code, "--to"),
            on=day,
            decision_number=cli_text(decision, "--decision") if decision else None,
            seed=load_key(),
            files=_store(),
        ),
        {"effective_on": "--on", "decision_number": "--decision"},
    )
    Path(out).write_bytes(data)
    click.echo(
        f"Transfer package {transfer.transfer_id} written to {out} ({len(data)} bytes); "
        f"valid until {transfer.expires_on:%d/%m/%Y}."
    )


def _summary(check) -> str:
    badges = ", ".join(f"{b['years']} years ({b['number']})" for b in check.badges) or "none"
    return (
        f"{check.name} ({check.member_number}), born {check.birth_date:%d/%m/%Y}, "
        f"from {check.sender_name}; {len(check.events)} events, {check.rows} rows; "
        f"photo: {'yes' if check.photo else 'no'}; dossier documents: {check.documents}; "
        f"badges: {badges}; {check.files} files ({check.files_size} bytes); "
        f"valid until {check.expires_on:%d/%m/%Y}."
    )


@transfer_group.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def transfer_check(files: tuple[str, ...]) -> None:
    """Check transfer packages without importing them: whom each carries, or why it would
    be refused. Exit code 1 when any is refused."""
    from webapp.domain.errors import DomainError
    from webapp.domain.transfers import inspect_transfer
    from webapp.messages import refusal_text
    from webapp.sync_keys import load_key

    seed = load_key()
    refused = 0
    for file in files:
        try:
            check = inspect_transfer(db.session, system(), _read(file), seed=seed)
        except DomainError as error:
            refused += 1
            click.echo(f"{file}: {refusal_text(error, separator='; ')}")
        else:
            click.echo(f"{file}: {_summary(check)}")
    if refused:
        raise click.exceptions.Exit(1)


@transfer_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--unit", "unit_code", required=True, help="The cell that receives the member.")
@click.option("--receipt-out", "receipt_out", type=click.Path(dir_okay=False), help="File.")
@with_appcontext
def transfer_import(file: str, unit_code: str, receipt_out: str | None) -> None:
    """Import a transfer package into a cell here; writes the receipt to carry back
    (FILE with the suffix .receipt unless --receipt-out names it)."""
    from webapp.domain.transfers import import_transfer, inspect_transfer
    from webapp.sync_keys import load_key

    data = _read(file)
    seed = load_key()
    check = run_in_cli(lambda: inspect_transfer(db.session, system(), data, seed=seed))
    click.echo(_summary(check))
    done = run_in_cli(
        lambda: import_transfer(
            db.session,
            system(),
            data,
            seed=seed,
            cell_code=cli_text(unit_code, "--unit"),
            member_number_pattern=current_app.config["MEMBER_NUMBER_PATTERN"],
            files=_store(),
        ),
        {"cell": "--unit"},
    )
    out = receipt_out or str(Path(file).with_suffix(".receipt"))
    Path(out).write_bytes(done.receipt)
    click.echo(
        f"Imported {done.member.member_number} into {unit_code}; receipt written to {out}: "
        "send it back to the sending province."
    )


@transfer_group.command("receipt")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def transfer_receipt(file: str) -> None:
    """Read a partner's receipt: it closes the pending transfer it names."""
    from webapp.domain.transfers import close_transfer

    closed = run_in_cli(lambda: close_transfer(db.session, system(), _read(file)))
    click.echo(
        f"Transfer of {closed.member.member_number} closed: received in "
        f"{closed.received_unit} on {closed.received_on:%d/%m/%Y}."
    )


@transfer_group.command("list")
@with_appcontext
def transfer_list() -> None:
    """The transfers out written here, with their state and expiry."""
    from webapp.domain.transfers import pending_transfers

    for transfer, state in pending_transfers(db.session, system()):
        click.echo(
            f"{transfer.transfer_id}  {transfer.member.member_number}  {transfer.peer.unit_code}"
            f"  {state}  until {transfer.expires_on:%d/%m/%Y}"
        )
