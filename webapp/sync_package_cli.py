"""Packages on a USB stick (docs/sync.md, "By folder"): `flask --app wsgi export` writes
the next package for the upstream into a folder, `flask --app wsgi import` applies one on
the upstream and writes the signed receipt, `flask --app wsgi sync receipt` takes the
receipt back on the downstream."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from webapp.cli_support import run_in_cli, system
from webapp.extensions import db
from webapp.messages import translate
from webapp.sync_cli import sync_group

NO_KEY = "This instance has no key yet: run `flask --app wsgi sync init` first."


def _seed() -> bytes:
    from webapp.sync_keys import load_key

    seed = load_key()
    if seed is None:
        raise click.ClickException(translate(NO_KEY))
    return seed


def _store():
    from webapp.filestore import FileStore

    return FileStore(current_app.config["DATA_DIR"])


@click.command("export")
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    help="The folder to write the package into (default: the upstream's folder).",
)
@click.option("--full", is_flag=True, help="Every row of the subtree (first sync, re-seeding).")
@click.option("--files", "with_files", is_flag=True, help="Carry photos and scans too.")
@with_appcontext
def export_command(out: Path | None, full: bool, with_files: bool) -> None:
    """Write the next package for the upstream (<unit>-<sequence>.dvpkg) into a folder."""
    from webapp.domain.sync import export_package
    from webapp.domain.sync_setup import upstream

    seed = _seed()
    if out is None:
        peer = upstream(db.session)
        if peer is None or not peer.folder:
            raise click.UsageError("--out DIR is needed (the upstream has no folder set).")
        out = Path(peer.folder)
    package = run_in_cli(
        lambda: export_package(
            db.session, system(), seed=seed, full=full, files=_store() if with_files else None
        )
    )
    if package is None:
        click.echo("Nothing to send: no change since the last package.")
        return
    out.mkdir(parents=True, exist_ok=True)
    target = out / package.file_name
    partial = target.with_suffix(".part")
    partial.write_bytes(package.data)
    partial.replace(target)
    counts = ", ".join(f"{name} {count}" for name, count in sorted(package.counts.items()))
    click.echo(f"Package {package.sequence} ({package.kind}, {package.size_text}): {target}")
    if counts:
        click.echo(counts)


@click.command("import")
@click.argument("package", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--receipt-out",
    "receipt_out",
    type=click.Path(file_okay=False, path_type=Path),
    help="The folder for the signed receipt (default: the package's folder).",
)
@click.option("--no-files", is_flag=True, help="Do not store the files the package carries.")
@with_appcontext
def import_command(package: Path, receipt_out: Path | None, no_files: bool) -> None:
    """Apply a downstream's package here and write its signed receipt."""
    from webapp.domain.sync import RECEIPT_SUFFIX, apply_package

    seed = _seed()
    data = package.read_bytes()
    result = run_in_cli(
        lambda: apply_package(
            db.session, system(), data, seed=seed, files=None if no_files else _store()
        )
    )
    folder = receipt_out or package.parent
    folder.mkdir(parents=True, exist_ok=True)
    receipt = folder / (package.name.removesuffix(".dvpkg") + RECEIPT_SUFFIX)
    receipt.write_bytes(result.receipt)
    if result.state == "duplicate":
        click.echo(
            f"Package {result.sequence} of {result.sender_unit} was applied before: "
            "nothing changed."
        )
    else:
        upserted = result.counts.get("upserted", {})
        deleted = result.counts.get("deleted", {})
        click.echo(
            f"Package {result.sequence} of {result.sender_unit} applied: "
            f"{sum(upserted.values())} rows written, {sum(deleted.values())} deleted."
        )
    click.echo(f"Receipt: {receipt}")


@sync_group.command("receipt")
@click.argument("receipt", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def receipt_command(receipt: Path) -> None:
    """Take the upstream's receipt: the package it names is marked delivered."""
    from webapp.domain.sync import accept_receipt

    package = run_in_cli(lambda: accept_receipt(db.session, system(), receipt.read_bytes()))
    click.echo(f"Package {package.sequence} delivered.")


__all__ = ["export_command", "import_command", "receipt_command"]
