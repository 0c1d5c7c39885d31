"""`flask --app wsgi sync …`: this instance's identity and its peers (docs/sync.md)."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from webapp.cli_support import cli_text, run_in_cli, system
from webapp.extensions import db
from webapp.messages import translate


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


@sync_group.command("push")
@click.option(
    "--full", is_flag=True, help="Send every record of the scope (first sync, re-seeding)."
)
@click.option("--queue", "queued", is_flag=True, help="Hand it to a worker (the sync queue).")
@with_appcontext
def sync_push(full: bool, queued: bool) -> None:
    """Export now: make the next package of what changed and deliver every pending one."""
    from webapp.sync_push import UpstreamRefused, UpstreamUnreachable, deliver_pending, export_now

    if queued:
        from jobs.sync import queue_sync

        job = queue_sync(full=full)
        click.echo(f"Queued as job {job.id} on the sync queue.")
        return
    exported = run_in_cli(lambda: export_now(db.session, system(), full=full))
    click.echo(
        f"Package {exported.sequence} made ({exported.kind})."
        if exported is not None
        else "Nothing changed since the last package."
    )
    try:
        delivery = run_in_cli(lambda: deliver_pending(db.session, system()))
    except (UpstreamUnreachable, UpstreamRefused) as error:
        raise click.ClickException(f"Not delivered: {error}. The packages stay pending.") from error
    for sequence in delivery.delivered:
        click.echo(f"Package {sequence} delivered; receipt accepted.")
    for path in delivery.written:
        click.echo(f"Written to {path}: carry it to the upstream, then bring its receipt back.")
    if delivery.reference:
        click.echo(f"Reference data version {delivery.reference} taken from the upstream.")
    for sequence, reason in delivery.refused:
        click.echo(f"Package {sequence} refused by the upstream: {reason}")
    if delivery.refused:
        raise SystemExit(5)


@sync_group.command("status")
@with_appcontext
def sync_status_command() -> None:
    """Per peer: the last package sent and received, pending and refused ones."""
    from flask import current_app

    from webapp.domain.sync import refusals_without_peer, sync_status

    statuses = sync_status(db.session, stale_days=current_app.config["SYNC_STALE_DAYS"])
    for line in status_lines(statuses, refusals_without_peer(db.session)):
        click.echo(line)


def _package_text(info) -> str:
    when = info.created_at.strftime("%d/%m/%Y %H:%M") if info.created_at else "-"
    text = f"#{info.sequence if info.sequence is not None else '-'} {info.kind} {info.state} {when}"
    if info.size:
        text += f" {max(info.size // 1024, 1)} kB"
    if info.reason:
        text += f" — {translate(info.reason, info.reason_params or {})}"
    return text


def status_lines(statuses, strangers=()) -> list[str]:
    """What `sync status` prints: one block per peer (English: an administrator's tool)."""
    lines = []
    for status in statuses:
        head = f"{status.kind} {status.unit_code}" + (f" ({status.name})" if status.name else "")
        if status.stale:
            head += " — STALE: nothing received for too long"
        lines.append(head)
        if status.last_sent:
            lines.append(f"  last sent:     {_package_text(status.last_sent)}")
        if status.last_received:
            lines.append(f"  last received: {_package_text(status.last_received)}")
        if status.kind == "upstream":
            lines.append(f"  changes not yet in a package: {status.unsent_changes}")
        for info in status.pending:
            lines.append(f"  pending:       {_package_text(info)}")
        for info in status.refused:
            lines.append(f"  refused:       {_package_text(info)}")
    for info in strangers:
        lines.append(f"refused from an unknown sender: {_package_text(info)}")
    return lines or ["No peers: see docs/sync.md to set them up."]


@sync_group.command("resend")
@click.argument("sequence", type=int)
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def sync_resend(sequence: int, out: Path) -> None:
    """Write pending package SEQUENCE into a folder again (a file lost on the way)."""
    from webapp.domain.sync import package_file_name
    from webapp.domain.sync_delivery import package_data
    from webapp.domain.sync_setup import identity

    package = run_in_cli(lambda: package_data(db.session, sequence))
    out.mkdir(parents=True, exist_ok=True)
    target = out / package_file_name(identity(db.session).unit_code, sequence)
    target.write_bytes(package.data)
    click.echo(f"Package {sequence}: {target}")


@sync_group.command("hashes")
@click.option("--unit", "unit_code", help="Only members of this unit's subtree.")
@with_appcontext
def sync_hashes(unit_code: str | None) -> None:
    """One line per member: member number and a hash of their data, equal on every instance
    that holds the same record (compare a downstream's with its upstream's)."""
    from sqlalchemy import select

    from webapp.domain.scope import member_clause
    from webapp.domain.sync_rows import content_hash
    from webapp.domain.units import resolve_unit_code
    from webapp.models.member import Member

    query = select(Member.id, Member.member_number).order_by(Member.member_number)
    if unit_code:
        unit = resolve_unit_code(db.session, cli_text(unit_code, "--unit"))
        if unit is None:
            raise click.ClickException(f"Unknown unit code {unit_code}.")
        query = query.where(member_clause(unit.path))
    for member_id, number in db.session.execute(query):
        click.echo(f"{number} {content_hash(db.session, member_id)}")


@sync_group.group("reference")
def reference_group() -> None:
    """Reference data (catalogues, badge milestones and occasions, document types) flowing
    down to the lower levels, by file when there is no network."""


@reference_group.command("export")
@click.option("--unit", "unit_code", required=True, help="The lower level's unit code.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def reference_export(unit_code: str, out: Path) -> None:
    """Write the current version of the reference data for a registered lower level."""
    from sqlalchemy import select

    from webapp.domain.sync_reference import export_reference
    from webapp.models.sync import SyncPeer
    from webapp.sync_keys import load_key

    code = cli_text(unit_code, "--unit")
    peer = db.session.scalars(
        select(SyncPeer).where(SyncPeer.kind == "downstream", SyncPeer.unit_code == code)
    ).first()
    if peer is None:
        raise click.ClickException(f"{code} is not a registered lower level here.")
    data = run_in_cli(
        lambda: export_reference(db.session, system(), seed=load_key(), peer_id=peer.id)
    )
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"reference-{code}.dvref"
    target.write_bytes(data)
    click.echo(f"Reference data for {code}: {target}")


@reference_group.command("apply")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def reference_apply(path: Path) -> None:
    """Apply a version of the reference data written by the upstream."""
    from webapp.domain.sync_reference import apply_reference
    from webapp.sync_keys import load_key

    applied = run_in_cli(
        lambda: apply_reference(db.session, system(), path.read_bytes(), seed=load_key())
    )
    if applied.state == "older":
        click.echo(f"Version {applied.version} is not newer than ours: nothing changed.")
    else:
        click.echo(f"Reference data version {applied.version} applied: {applied.changed} rows.")
