"""`flask --app wsgi sync …`: this instance's identity and its peers (docs/sync.md)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from webapp.cli_support import cli_text, run_in_cli, system
from webapp.extensions import db


@click.group("sync")
def sync_group() -> None:
    """Packages between instances: identity, peers, status."""


@sync_group.command("init")
@click.option("--unit", "unit_code", help="The unit this instance is (omit on the central one).")
@with_appcontext
def sync_init(unit_code: str | None) -> None:
    """Give this instance its identity and key pair; prints the public key to give peers."""
    from webapp.domain.sync_envelope import public_key
    from webapp.domain.sync_setup import init_instance
    from webapp.sync_keys import create_key, key_path

    unit_code = cli_text(unit_code, "--unit") if unit_code else None
    seed = create_key()
    created = run_in_cli(
        lambda: init_instance(
            db.session, system(), unit_code=unit_code, public_key=public_key(seed)
        ),
        {"unit_code": "--unit"},
    )
    click.echo(f"Instance of unit {created.unit_code or '(central)'}; key file {key_path()}.")
    click.echo("Public key (give it to the peers):")
    click.echo(created.public_key)


@sync_group.command("key")
@with_appcontext
def sync_key() -> None:
    """Print this instance's public key."""
    from webapp.domain.sync_setup import require_identity

    click.echo(run_in_cli(lambda: require_identity(db.session)).public_key)


@sync_group.command("partner")
@click.option("--unit", "unit_code", required=True, help="The partner province's unit code.")
@click.option("--key", "key", required=True, help="The partner's public key (dvk1:…).")
@click.option("--name", help="A name to show on screens.")
@with_appcontext
def sync_partner(unit_code: str, key: str, name: str | None) -> None:
    """Register another province's instance, so transfers can travel between the two."""
    from webapp.domain.sync_setup import register_peer

    peer = run_in_cli(
        lambda: register_peer(
            db.session,
            system(),
            kind="partner",
            unit_code=cli_text(unit_code, "--unit"),
            public_key=key,
            name=cli_text(name, "--name") if name else None,
        ),
        {"unit_code": "--unit", "key": "--key", "public_key": "--key"},
    )
    click.echo(f"Partner {peer.unit_code} registered.")
