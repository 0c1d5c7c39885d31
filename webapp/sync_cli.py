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


@sync_group.group("downstream")
def downstream_group() -> None:
    """Lower-level instances that send their packages here."""


@downstream_group.command("add")
@click.option("--unit", "unit_code", required=True, help="The unit whose subtree it owns here.")
@click.option("--key", "key", required=True, help="Its public key (dvk1:…, from its `sync init`).")
@click.option("--name", help="A name to show on screens.")
@click.option("--password", help="The Sync account's password (generated and printed if omitted).")
@with_appcontext
def downstream_add(unit_code: str, key: str, name: str | None, password: str | None) -> None:
    """Register a downstream and create its Sync account; prints the account to give it."""
    from webapp.cli_support import generate_password, hash_password
    from webapp.domain.sync_setup import register_downstream, sync_account_name

    unit_code = cli_text(unit_code, "--unit")
    secret = password or generate_password()
    peer = run_in_cli(
        lambda: register_downstream(
            db.session,
            system(),
            unit_code=unit_code,
            public_key=key,
            password_hash=hash_password(secret),
            name=cli_text(name, "--name") if name else None,
        ),
        {"unit_code": "--unit", "key": "--key", "public_key": "--key"},
    )
    click.echo(f"Downstream {peer.unit_code} registered.")
    click.echo(f"Its Sync account: {sync_account_name(peer.unit_code)}")
    if password is None:
        click.echo(f"Password (shown once): {secret}")


@sync_group.group("upstream")
def upstream_group() -> None:
    """The instance this one sends its packages up to."""


@upstream_group.command("set")
@click.option("--unit", "unit_code", required=True, help="The upstream's own unit code.")
@click.option("--key", "key", required=True, help="The upstream's public key (dvk1:…).")
@click.option("--url", help="Its address, for pushing over the network.")
@click.option("--folder", type=click.Path(), help="A folder (USB stick) to write packages to.")
@click.option("--user", "username", help="The Sync account the upstream created for us.")
@click.option("--password", help="That account's password.")
@with_appcontext
def upstream_set(
    unit_code: str,
    key: str,
    url: str | None,
    folder: str | None,
    username: str | None,
    password: str | None,
) -> None:
    """Set where packages go: the upstream's key, and its address or a folder."""
    from webapp.domain.sync_setup import set_upstream
    from webapp.sync_keys import save_upstream_account

    if url and not (username and password):
        raise click.ClickException(
            "--url needs --user and --password (the upstream's Sync account)."
        )
    peer = run_in_cli(
        lambda: set_upstream(
            db.session,
            system(),
            unit_code=cli_text(unit_code, "--unit"),
            public_key=key,
            url=cli_text(url, "--url") if url else None,
            folder=str(folder) if folder else None,
        ),
        {"url": "--url", "key": "--key", "public_key": "--key", "unit_code": "--unit"},
    )
    if url:
        save_upstream_account(username, password)
    where = peer.url or peer.folder
    click.echo(f"Upstream {peer.unit_code}: packages go to {where}.")
