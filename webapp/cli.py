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

from webapp.extensions import db


def register_cli(app: Flask) -> None:
    from webapp.photos_cli import photos_group

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
    ):
        app.cli.add_command(command)


@click.group("users")
def users_group() -> None:
    """Create users with a role and a scope unit (for rolling out to many communes)."""


ROLES = ("Admin", "Clerk", "Manager", "Leader", "Sync")


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
    from webapp.domain.units import resolve_unit_code

    sm = current_app.appbuilder.sm
    if role_name not in ROLES:
        raise click.ClickException(f"Unknown role {role_name}; choose one of {', '.join(ROLES)}.")
    if sm.find_user(username=username):
        raise click.ClickException(f"User {username} exists already.")
    unit = None
    if role_name != "Admin":
        if not unit_code:
            raise click.ClickException(
                f"{username}: a {role_name} needs a scope unit (--unit CODE)."
            )
        unit = resolve_unit_code(db.session, unit_code)
        if unit is None:
            raise click.ClickException(f"{username}: unknown unit code {unit_code}.")
    password = password or secrets.token_urlsafe(12)
    names = (full_name or username).split()
    user = sm.add_user(
        username=username,
        first_name=names[-1],
        last_name=" ".join(names[:-1]) or "-",
        email=email or f"{username}@localhost",
        role=sm.find_role(role_name),
        password=password,
    )
    if not user:
        raise click.ClickException(
            f"{username}: could not be created (is the e-mail address taken?)."
        )
    user.unit_id = unit.id if unit else None
    db.session.commit()
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

    rows = list(csv.DictReader(csv_file))
    problems = []
    sm = current_app.appbuilder.sm
    seen = set()
    from webapp.domain.units import resolve_unit_code

    for number, row in enumerate(rows, start=2):
        username = (row.get("username") or "").strip()
        role = (row.get("role") or "").strip()
        unit = (row.get("unit") or "").strip()
        if not username:
            problems.append(f"line {number}: username is empty")
        elif username in seen or sm.find_user(username=username):
            problems.append(f"line {number}: user {username} exists already")
        seen.add(username)
        if role not in ROLES:
            problems.append(f"line {number}: unknown role {role!r}")
        elif role != "Admin" and (not unit or resolve_unit_code(db.session, unit) is None):
            problems.append(f"line {number}: unknown or missing unit {unit!r}")
    if problems:
        raise click.ClickException("Nothing imported:\n" + "\n".join(problems))
    click.echo("username,password")
    for row in rows:
        password = create_user(
            row["username"].strip(),
            row["role"].strip(),
            (row.get("unit") or "").strip() or None,
            (row.get("password") or "").strip() or None,
            email=(row.get("email") or "").strip() or None,
            full_name=(row.get("full_name") or "").strip() or None,
        )
        click.echo(f"{row['username'].strip()},{password}")


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
    added = seed_catalogues(db.session)
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
    generated = admin_password is None
    password = admin_password or secrets.token_urlsafe(12)
    user = sm.add_user(
        username=admin_username,
        first_name="Quản trị",
        last_name="Hệ thống",
        email=f"{admin_username}@localhost",
        role=sm.find_role(sm.auth_role_admin),
        password=password,
    )
    if not user:
        raise click.ClickException("Could not create the admin user.")
    if admin_password_file:
        import os

        admin_password_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(admin_password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(password)
    if generated:
        click.echo(f"Admin user '{admin_username}' created with password: {password}")
        click.echo("This password is shown only once.")
    else:
        click.echo(f"Admin user '{admin_username}' created.")


@click.command("demo")
@with_appcontext
@click.option("--members", default=300, show_default=True, help="Number of members to generate.")
@click.option(
    "--seed", default=1, show_default=True, help="Random seed (same seed, same province)."
)
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already holds units.")
def demo_command(members: int, seed: int, if_empty: bool) -> None:
    """Generate a realistic demo province (units and members)."""
    from webapp.demo import generate_province
    from webapp.models import Unit

    if if_empty and db.session.scalar(select(Unit.id).limit(1)) is not None:
        click.echo("The database already holds units; demo data not loaded.")
        return
    summary = generate_province(db.session, members=members, seed=seed)
    click.echo(
        f"Demo province loaded: {summary['units']} units, {summary['members']} members, "
        f"{summary['events']} events, {summary['supplements']} supplements, {summary['merges']} merge."
    )


@click.command("worker")
@with_appcontext
@click.option("--burst", is_flag=True, help="Run the queued jobs, then exit.")
def worker_command(burst: bool) -> None:
    """Run an RQ worker for the reports, photos, sync and default queues."""
    from jobs.worker import run_worker

    run_worker(current_app._get_current_object(), burst=burst)


@click.command("report")
@with_appcontext
@click.argument("name")
@click.option(
    "--unit", "unit_code", required=True, help="Code of the unit whose subtree is reported."
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["pdf", "xlsx", "csv"]),
    default="pdf",
    show_default=True,
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Copy the file here."
)
@click.option("--as-of", "as_of", help="Day of the rolls, yyyy-mm-dd (default: today).")
@click.option("--from", "start", help="First day of the period, yyyy-mm-dd.")
@click.option("--to", "end", help="Last day of the period, yyyy-mm-dd (default: today).")
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
    unit_code: str,
    output_format: str,
    output: Path | None,
    as_of: str | None,
    start: str | None,
    end: str | None,
    delegates_file: Path | None,
    enqueue: bool,
) -> None:
    """Produce report NAME for a unit: increase-decrease, member-list, quality,
    commendation-discipline, cards-badges, completeness or delegates."""
    import shutil

    from webapp.domain.errors import DomainError, ValidationFailed
    from webapp.models import Unit
    from webapp.reports.delegates import read_delegates
    from webapp.reports.runs import execute_run, request_report
    from webapp.views.errors import translate, translated_field_errors

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
    try:
        if delegates_file is not None:
            with delegates_file.open("rb") as handle:
                parameters["delegates"] = read_delegates(handle)
        run = request_report(name, output_format, unit.id, parameters, queue=enqueue)
    except ValidationFailed as error:
        messages = translated_field_errors(error.errors).values()
        raise click.ClickException("\n".join(m for field in messages for m in field)) from error
    except DomainError as error:
        raise click.ClickException(translate(error.message, error.params)) from error
    if enqueue:
        click.echo(f"Queued report run {run.id} (job {run.job_id}).")
        return
    run = execute_run(run.id)
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run.file_path, output)
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
        unit = resolve_unit_code(db.session, unit_code)
        if unit is None:
            raise click.ClickException(f"Unknown unit code {unit_code}.")
        return [unit]
    return list(
        db.session.scalars(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.code))
    )


def _open_csv(output: Path):
    import csv

    output.parent.mkdir(parents=True, exist_ok=True)
    handle = output.open("w", newline="", encoding="utf-8-sig")
    return handle, csv.writer(handle)


@click.group("badges")
def badges_group() -> None:
    """Party badges: who is eligible on an occasion."""


@badges_group.command("eligible")
@click.option(
    "--occasion", required=True, help="The occasion, YYYY-MM-DD (3/2, 19/5, 2/9 or 7/11)."
)
@click.option(
    "--unit", "unit_code", help="Code of the unit whose subtree is listed (default: all)."
)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def badges_eligible(occasion: str, unit_code: str | None, output: Path) -> None:
    """Write one CSV row per eligible member: member number, name, milestone, admission
    date, computed Party age and the reason."""
    from datetime import date

    from webapp.domain.badges import badge_round, check_occasion
    from webapp.domain.errors import ValidationFailed
    from webapp.views.errors import translate

    try:
        day = date.fromisoformat(occasion)
    except ValueError:
        raise click.ClickException(f"--occasion {occasion!r} is not a date YYYY-MM-DD.") from None
    try:
        check_occasion(db.session, day)
    except ValidationFailed as error:
        messages = [translate(m, p) for msgs in error.errors.values() for m, p in msgs]
        raise click.ClickException(" ".join(messages)) from error
    units = _unit_or_roots(unit_code)
    handle, writer = _open_csv(output)
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

    units = _unit_or_roots(unit_code)
    handle, writer = _open_csv(output)
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
    click.echo(f"{count} members waiting for a card written to {output}")
