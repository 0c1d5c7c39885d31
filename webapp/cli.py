"""Command line: `flask --app wsgi init|demo|worker|report|serve`."""

from __future__ import annotations

import secrets
import signal
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade
from sqlalchemy import select

from jobs import QUEUE_NAMES
from webapp.cli_support import (
    Refused,
    cli_date,
    cli_text,
    hash_password,
    run_in_cli,
    system,
)
from webapp.domain.errors import ValidationFailed
from webapp.domain.users import ROLES, NewUser
from webapp.extensions import db
from webapp.messages import translate


def register_cli(app: Flask) -> None:
    from webapp.backup import backup_command, restore_command
    from webapp.import_cli import import_members_command
    from webapp.photos_cli import photos_group
    from webapp.sync_cli import sync_group
    from webapp.sync_package_cli import export_command, import_command
    from webapp.transfer_cli import transfer_group

    for command in (
        init_command,
        demo_command,
        worker_command,
        report_command,
        cron_command,
        serve_command,
        users_group,
        audit_group,
        badges_group,
        cards_group,
        photos_group,
        import_members_command,
        backup_command,
        restore_command,
        sync_group,
        export_command,
        import_command,
        transfer_group,
    ):
        app.cli.add_command(command)


def log_export(download, *, object_type: str | None = None, object_id=None) -> None:
    """An export the CLI wrote, in the audit log under the server account that ran it
    (`cli:<login>`): a file with members' data leaves the system here as on the web."""
    import dataclasses
    import getpass

    from webapp.domain.audit import log_download

    exporter = dataclasses.replace(system(), username=f"cli:{getpass.getuser()}"[:100])
    log_download(
        db.session,
        exporter,
        download,
        object_type=object_type,
        object_id=object_id,
        action="export",
    )


@click.group("users")
def users_group() -> None:
    """Create users with a role and a scope unit (for rolling out to many communes)."""


def new_user(
    username: str,
    role_name: str,
    unit_code: str | None,
    password: str | None,
    *,
    email: str | None = None,
    full_name: str | None = None,
) -> tuple[NewUser, str]:
    """The user to create and their password (generated if not given), hashed as FAB does."""
    password = password or secrets.token_urlsafe(12)
    password_hash = hash_password(password)
    user = NewUser(
        username=username,
        role=role_name,
        unit_code=unit_code,
        password_hash=password_hash,
        email=email,
        full_name=full_name,
    )
    return user, password


def create_user(
    username: str,
    role_name: str,
    unit_code: str | None,
    password: str | None,
    *,
    email: str | None = None,
    full_name: str | None = None,
) -> str:
    """Create one user; returns the password (generated if not given). Raises ClickException."""
    from webapp.domain import users

    if role_name != "Admin" and not unit_code:
        raise click.ClickException(f"{username}: a {role_name} needs a scope unit (--unit CODE).")
    user, password = new_user(
        username, role_name, unit_code, password, email=email, full_name=full_name
    )
    run_in_cli(lambda: users.create_user(db.session, system(), user))
    return password


@users_group.command("create")
@click.option("--username", required=True)
@click.option("--role", "role_name", required=True, type=click.Choice(ROLES))
@click.option("--unit", "unit_code", help="Code of the scope unit (required except for Admin).")
@click.option("--password", help="Generated and printed if omitted.")
@click.option("--email")
@with_appcontext
def users_create(
    username: str, role_name: str, unit_code: str | None, password: str | None, email: str | None
) -> None:
    """Create a user with a role and a scope unit."""
    username = cli_text(username, "--username")
    unit_code = cli_text(unit_code, "--unit")
    email = cli_text(email, "--email")
    generated = password is None
    password = create_user(username, role_name, unit_code, password, email=email)
    click.echo(
        f"User {username} ({role_name}, unit {unit_code or '-'}) created"
        + (f"; password: {password}" if generated else ".")
    )


@users_group.command("import")
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
@with_appcontext
def users_import(csv_file) -> None:
    """Create users from a CSV with the header username,role,unit[,password,email,full_name].

    All rows are checked first; nothing is created if any row is wrong. Generated passwords
    are printed once, as CSV, for handing over."""
    import csv

    from webapp.domain import users
    from webapp.domain.text import clean_text

    new, passwords, problems = {}, {}, []
    for number, row in enumerate(csv.DictReader(csv_file), start=2):
        # Every cell but the password through the text rule; a refused cell is a problem
        # of its line, and nothing is imported.
        cells = {}
        for column in ("username", "role", "unit", "email", "full_name"):
            try:
                cells[column] = clean_text(row.get(column) or "", column, label=column) or ""
            except ValidationFailed as error:
                problems.append(f"line {number}: {translate(error.message, error.params)}")
                cells[column] = ""
        user, passwords[number] = new_user(
            cells["username"],
            cells["role"],
            cells["unit"] or None,
            (row.get("password") or "").strip() or None,
            email=cells["email"] or None,
            full_name=cells["full_name"] or None,
        )
        new[f"line {number}"] = user
    if problems:
        raise click.ClickException("Nothing imported:\n" + "\n".join(problems))
    try:
        created = run_in_cli(lambda: users.import_users(db.session, system(), new))
    except Refused as refused:
        refused.message = "Nothing imported:\n" + refused.message
        raise
    from types import SimpleNamespace

    from webapp.reports.spreadsheet import CsvWriter

    echo = SimpleNamespace(write=lambda text: click.echo(text, nl=False))
    writer = CsvWriter(echo, lineterminator="\n")
    writer.writerow(["username", "password"])
    for user, password in zip(created, passwords.values(), strict=True):
        writer.writerow([user.username, password])


@click.command("init")
@with_appcontext
@click.option("--admin-username", default="admin", show_default=True)
@click.option(
    "--admin-password", help="Password for a new admin; generated and printed once if omitted."
)
@click.option(
    "--admin-password-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a generated admin password to this file (mode 0600).",
)
def init_command(
    admin_username: str, admin_password: str | None, admin_password_file: Path | None
) -> None:
    """Migrate the database, create roles and permissions and the admin user (idempotent)."""
    from webapp.security import install_permissions

    upgrade(directory=current_app.extensions["migrate"].directory)
    from webapp.domain.catalogues import seed_catalogues

    sm = current_app.appbuilder.sm
    granted = install_permissions(current_app.appbuilder)
    added = seed_catalogues(db.session, system())
    if added:
        click.echo(f"Catalogues: {added} entries added.")
    from webapp.domain.badges import seed_badge_reference

    added = seed_badge_reference(db.session)
    if added:
        click.echo(f"Badge reference data: {added} rows added.")
    click.echo(
        "Roles: " + ", ".join(f"{name} ({count} permissions)" for name, count in granted.items())
    )
    if sm.find_user(username=admin_username):
        click.echo(f"Admin user '{admin_username}' already exists; password unchanged.")
        return
    from dataclasses import replace

    from webapp.domain import users

    generated = admin_password is None
    admin, password = new_user(admin_username, sm.auth_role_admin, None, admin_password)
    admin = replace(admin, first_name="Quản trị", last_name="Hệ thống")
    run_in_cli(lambda: users.create_user(db.session, system(), admin))
    if admin_password_file:
        import os

        admin_password_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(admin_password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(password)
    if generated:
        click.echo(f"Admin user '{admin_username}' created with password: {password}")
        # Say what is true: kept in a file (which `flask serve`, so bin/run, prints at
        # every start when it is the instance's admin-password), or shown only here.
        if admin_password_file:
            click.echo(
                f"The password is also kept in {admin_password_file} (readable by you only)."
            )
        else:
            click.echo("This password is shown only once: note it now.")
    else:
        click.echo(f"Admin user '{admin_username}' created.")


@click.command("demo")
@with_appcontext
@click.option(
    "--members",
    type=int,
    default=None,
    help="Number of members (default 300; the province preset 99,300).",
)
@click.option(
    "--seed", default=1, show_default=True, help="Random seed (same seed, same province)."
)
@click.option(
    "--preset",
    type=click.Choice(["small", "province", "national"]),
    default="small",
    show_default=True,
    help="small: every change through the commands; province: the seed's province, "
    "members written in bulk; national: the province's shape scaled to --members.",
)
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already holds units.")
def demo_command(members: int | None, seed: int, preset: str, if_empty: bool) -> None:
    """Generate a realistic demo province (units and members)."""
    import time

    from webapp.demo import SEED_MEMBERS, build_preset, generate_province
    from webapp.models import Unit

    if if_empty and db.session.scalar(select(Unit.id).limit(1)) is not None:
        click.echo("The database already holds units; demo data not loaded.")
        return
    if preset == "national" and members is None:
        raise click.UsageError("--preset national needs --members N.")
    members = members or (300 if preset == "small" else SEED_MEMBERS)
    started = time.monotonic()
    with click.progressbar(length=members, label="Members", file=sys.stderr) as bar:
        if preset == "small":
            summary = generate_province(db.session, members=members, seed=seed, progress=bar.update)
        else:
            summary = build_preset(
                db.session,
                members=members,
                seed=seed,
                progress=bar.update,
                step=lambda text: click.echo(
                    f"  {time.monotonic() - started:.0f} s: {text}", file=sys.stderr
                ),
            )
    click.echo(
        f"Demo province loaded: {summary['units']} units, {summary['members']} members, "
        f"{summary['events']} events, {summary['supplements']} supplements, {summary['merges']} merge "
        f"in {time.monotonic() - started:.0f} s."
    )


@click.command("worker")
@with_appcontext
@click.option("--burst", is_flag=True, help="Run the queued jobs, then exit.")
@click.option(
    "--queue",
    "queues",
    multiple=True,
    type=click.Choice(QUEUE_NAMES),
    help="Work only this queue (repeatable; default: all). Production: one worker per queue.",
)
def worker_command(burst: bool, queues: tuple[str, ...]) -> None:
    """Run an RQ worker for every queue (reports, photos, imports, sync, default)."""
    from jobs.worker import run_worker

    run_worker(current_app._get_current_object(), burst=burst, queues=queues or QUEUE_NAMES)


@click.command("report")
@with_appcontext
@click.argument("name")
@click.option(
    "--unit",
    "unit_code",
    help="Code of the unit whose subtree is reported (member-form: the member's unit if omitted).",
)
@click.option(
    "--member",
    "member_numbers",
    multiple=True,
    help="Member number (số lý lịch) whose form is printed (report member-form; repeatable).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["pdf", "xlsx", "csv", "zip"]),
    default="pdf",
    show_default=True,
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Copy the file here."
)
@click.option(
    "--as-of", "as_of", help="Day of the rolls, dd/mm/yyyy or yyyy-mm-dd (default: today)."
)
@click.option("--from", "start", help="First day of the period, dd/mm/yyyy or yyyy-mm-dd.")
@click.option(
    "--to", "end", help="Last day of the period, dd/mm/yyyy or yyyy-mm-dd (default: today)."
)
@click.option(
    "--delegates",
    "delegates_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="XLSX list of delegates (report delegates).",
)
@click.option(
    "--enqueue", is_flag=True, help="Send the job to the queue instead of running it here."
)
def report_command(
    name: str,
    unit_code: str | None,
    member_numbers: tuple[str, ...],
    output_format: str,
    output: Path | None,
    as_of: str | None,
    start: str | None,
    end: str | None,
    delegates_file: Path | None,
    enqueue: bool,
) -> None:
    """Produce report NAME for a unit: increase-decrease, member-list, quality,
    commendation-discipline, cards-badges, completeness, delegates, or member-form (the
    phiếu đảng viên of --member NUMBER, or of every member of --unit)."""
    import shutil
    from itertools import takewhile

    from webapp.models import Member, Unit
    from webapp.reports.delegates import read_delegates
    from webapp.reports.runs import execute_run, request_report

    members = []
    for number in member_numbers:
        number = cli_text(number, "--member")
        member = db.session.scalar(select(Member).where(Member.member_number == number))
        if member is None:
            raise click.ClickException(f"Unknown member number {number}.")
        members.append(member)
    if members and name != "member-form":
        raise click.ClickException("--member is for report member-form.")
    if unit_code is None and not members:
        raise click.ClickException("Missing option '--unit'.")
    if unit_code is None:
        # The smallest unit holding every named member (their common ancestor).
        paths = [member.unit.path.strip("/").split("/") for member in members]
        common = [
            ids[0] for ids in takewhile(lambda ids: len(set(ids)) == 1, zip(*paths, strict=False))
        ]
        unit = db.session.get(Unit, int(common[-1])) if common else None
        if unit is None:
            raise click.ClickException("The members have no unit in common: give --unit.")
    else:
        unit_code = cli_text(unit_code, "--unit")
        unit = db.session.scalar(select(Unit).where(Unit.code == unit_code))
        if unit is None:
            raise click.ClickException(f"Unknown unit code {unit_code}.")
    from webapp.reports import REPORTS
    from webapp.reports.spec import AS_OF, NOW, PERIOD

    spec = REPORTS.get(name)
    if spec is not None and spec.period == PERIOD and as_of:
        raise click.ClickException(f"Report {name} covers a period: use --from and --to.")
    if spec is not None and spec.period == AS_OF and (start or end):
        raise click.ClickException(f"Report {name} is as of a day: use --as-of.")
    if spec is not None and spec.period == NOW and (as_of or start or end):
        raise click.ClickException(f"Report {name} is about the records as they are today.")
    if spec is not None and delegates_file is None and spec.takes_delegates:
        raise click.ClickException(f"Report {name} needs --delegates FILE.xlsx.")
    parameters = {"as_of": as_of, "from": start, "to": end}
    if members:
        parameters["member_ids"] = [member.id for member in members]
    if delegates_file is not None:
        with delegates_file.open("rb") as handle:
            parameters["delegates"] = run_in_cli(lambda: read_delegates(handle))
    run = run_in_cli(
        lambda: request_report(
            db.session, system(), name, output_format, unit.id, parameters, queue=enqueue
        ),
        options={
            "as_of": "--as-of",
            "from": "--from",
            "to": "--to",
            "unit_id": "--unit",
            "member_ids": "--member",
        },
    )
    if enqueue:
        click.echo(f"Queued report run {run.id} (job {run.job_id}).")
        return
    run = execute_run(run.id)
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run.file_path, output)
    if run.state == "done":
        from webapp.reports.runs import run_download

        log_export(
            run_download(run, str(output or run.file_path)),
            object_type="ReportRun",
            object_id=run.id,
        )
    click.echo(f"{run.row_count} rows written to {output or run.file_path}")


@click.command("cron")
@with_appcontext
@click.option("--list", "list_only", is_flag=True, help="Print the schedules and exit.")
def cron_command(list_only: bool) -> None:
    """Run RQ's cron scheduler with this instance's scheduled reports (REPORT_SCHEDULES)."""
    from jobs.schedules import ScheduleError, build_cron

    try:
        scheduler = build_cron()
    except ScheduleError as error:
        raise click.ClickException(str(error)) from error
    for job in scheduler.get_jobs():
        click.echo(f"{job.cron:<14} {job.name}")
    if not list_only:
        scheduler.start()


@click.command("serve")
@with_appcontext
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-worker", is_flag=True, help="Do not start a worker beside the web server.")
def serve_command(host: str, port: int, no_worker: bool) -> None:
    """Run the web server (waitress) and an RQ worker in a child process."""
    import subprocess

    from waitress import serve

    from jobs import redis_connection

    app = current_app._get_current_object()
    # Start (or attach to) the Redis server first, so the worker finds it.
    redis_connection(app).ping()
    children = []
    if not no_worker:
        for command in ("worker", "cron"):
            children.append(
                subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", command])
            )
    password_file = Path(app.instance_path) / "admin-password"
    login = "admin / " + (
        password_file.read_text().strip()
        if password_file.exists()
        else "(the password set at init)"
    )
    click.echo(
        f"\n  DangVien is running at http://{host}:{port}/\n  Log in as {login}\n", color=False
    )
    sys.stdout.flush()

    def stop(signum, frame):
        raise SystemExit(0)

    # SIGTERM must unwind to the `finally` below, or the worker would be orphaned.
    signal.signal(signal.SIGTERM, stop)
    try:
        serve(app, host=host, port=port, threads=8)
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(timeout=10)


@click.group("audit")
def audit_group() -> None:
    """The audit log."""


@audit_group.command("verify")
@with_appcontext
def audit_verify() -> None:
    """Check the hash chain of the audit log; report the first broken link."""
    from webapp.domain.audit import verify_log

    count, broken = verify_log(db.session)
    if broken is None:
        click.echo(f"Audit log intact: {count} entries.")
        return
    raise click.ClickException(f"Audit log broken at entry {broken.entry_id}: {broken.reason}.")


def _unit_or_roots(unit_code: str | None):
    """The unit named by --unit (its subtree), else every top-level unit."""
    from webapp.domain.units import resolve_unit_code
    from webapp.models import Unit

    if unit_code:
        unit_code = cli_text(unit_code, "--unit")
        unit = resolve_unit_code(db.session, unit_code)
        if unit is None:
            raise click.ClickException(f"Unknown unit code {unit_code}.")
        return [unit]
    return list(
        db.session.scalars(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.code))
    )


@click.group("badges")
def badges_group() -> None:
    """Party badges: who is eligible on an occasion."""


@badges_group.command("eligible")
@click.option(
    "--occasion",
    required=True,
    help="The occasion, dd/mm/yyyy or yyyy-mm-dd (3/2, 19/5, 2/9 or 7/11).",
)
@click.option(
    "--unit", "unit_code", help="Code of the unit whose subtree is listed (default: all)."
)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def badges_eligible(occasion: str, unit_code: str | None, output: Path) -> None:
    """Write one CSV row per eligible member: member number, name, milestone, admission
    date, computed Party age and the reason."""
    from webapp.domain.badges import badge_round, check_occasion
    from webapp.reports.spreadsheet import open_csv

    day = cli_date(occasion, "--occasion")
    run_in_cli(lambda: check_occasion(db.session, day))
    units = _unit_or_roots(unit_code)
    handle, writer = open_csv(output)
    count = 0
    with handle:
        writer.writerow(
            [
                "member_number",
                "name",
                "milestone",
                "admitted_on",
                "party_age",
                "reaches_on",
                "proposed",
                "reason",
            ]
        )
        for unit in units:
            for row in badge_round(db.session, unit, day):
                age = row.eligibility.party_age
                writer.writerow(
                    [
                        row.member.member_number,
                        row.member.display_name,
                        row.eligibility.milestone,
                        row.member.admitted_on.isoformat(),
                        f"{age.years} năm {age.months} tháng",
                        row.eligibility.reaches_on.isoformat(),
                        "yes" if row.proposed else "no",
                        row.eligibility.reason,
                    ]
                )
                count += 1
    from webapp.domain.audit import Download

    log_export(
        Download(
            what="badges-eligible",
            output_format="csv",
            rows=count,
            unit_code=",".join(unit.code for unit in units),
            parameters={"occasion": day.isoformat()},
            file_name=str(output),
        )
    )
    click.echo(f"{count} eligible members written to {output}")


@click.group("cards")
def cards_group() -> None:
    """Party cards: who is waiting for one."""


@cards_group.command("pending")
@click.option(
    "--unit", "unit_code", help="Code of the unit whose subtree is listed (default: all)."
)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def cards_pending(unit_code: str | None, output: Path) -> None:
    """Write one CSV row per member waiting for a card: official members without a card
    and not yet proposed, and open (proposed or approved) proposals."""
    from webapp.domain.cards import members_needing_card
    from webapp.models import CardProposal, Member, Unit
    from webapp.models.cards import OPEN_PROPOSAL_STATES
    from webapp.reports.spreadsheet import open_csv

    units = _unit_or_roots(unit_code)
    handle, writer = open_csv(output)
    count = 0
    with handle:
        writer.writerow(["member_number", "name", "unit", "state", "reason", "batch", "proposal"])
        for unit in units:
            scope = unit.path
            for member in db.session.scalars(
                members_needing_card(db.session, scope).order_by(Member.sort_key, Member.id)
            ):
                writer.writerow(
                    [
                        member.member_number,
                        member.display_name,
                        member.unit.code,
                        "not_proposed",
                        "new_official",
                        "",
                        "",
                    ]
                )
                count += 1
            for proposal in db.session.scalars(
                select(CardProposal)
                .join(Member, Member.id == CardProposal.member_id)
                .join(Unit, Unit.id == Member.unit_id)
                .where(
                    CardProposal.state.in_(OPEN_PROPOSAL_STATES),
                    Unit.path.startswith(scope, autoescape=True),
                )
                .order_by(CardProposal.id)
            ):
                member = proposal.member
                writer.writerow(
                    [
                        member.member_number,
                        member.display_name,
                        member.unit.code,
                        proposal.state,
                        proposal.reason,
                        proposal.batch_id,
                        proposal.id,
                    ]
                )
                count += 1
    from webapp.domain.audit import Download

    log_export(
        Download(
            what="cards-pending",
            output_format="csv",
            rows=count,
            unit_code=",".join(unit.code for unit in units),
            file_name=str(output),
        )
    )
    click.echo(f"{count} members waiting for a card written to {output}")
