"""Every command refuses by itself — no view in front of it — a requester outside the
target's scope and a role that may not take its action, and writes nothing (issue 12).

The table is `COMMANDS` (webapp/domain/commands.py): every registered command needs a
row in ROWS (cards and badges: in test_commands_refuse_cards_badges.py), so a new command without one fails `test_every_command_has_a_row`.

The world: district D1 (the requester's own) and district D2 (the target's). Each row
calls its command on a target in D2 and says
- `outside`: how a Clerk of D1 is refused (NotFound: the target does not exist for them;
  ValidationFailed: the target is a field value, e.g. the cell of a new member; Forbidden:
  the action is the Admin's, who has no scope below the whole instance);
- `may_not`: a role that may not take the action (a requester of that role in D2);
- `owner`: who may (a Clerk of D2, or the Admin) — the same call then works, so each
  refusal is the command's door, not a broken call.
"""

from __future__ import annotations

import hashlib
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import delete, select

import webapp
from factories import SYSTEM, make_member, make_tree, make_unit
from webapp.cli import create_user
from webapp.domain import (
    dossier,
    member_import,
    photo_batches,
    photos,
    sync,
    sync_delivery,
    sync_reference,
    sync_setup,
    transfers,
    worklist,
)
from webapp.domain.commands import COMMANDS, Requester, Role
from webapp.domain.errors import DomainError, Forbidden, NotFound, ValidationFailed
from webapp.domain.imaging import PhotoLimits
from webapp.domain.sync_envelope import generate_key, public_key
from webapp.models import Member, MemberEvent
from webapp.models.record import CatalogueEntry, WorkPeriod
from webapp.models.unit import Unit, UnitKind

PASSWORD = "Refuse-Pass-123"
TEST_ENTRIES = ("X98", "X99")  # catalogue entries the world adds (and takes out again)


@dataclass(frozen=True)
class Row:
    call: Callable[[object, Requester, SimpleNamespace], object]
    outside: type[DomainError] | None = NotFound  # None: the command names no target
    may_not: str = Role.LEADER
    owner: str = "clerk_b"  # "clerk_b" or "admin"


def _member_b(w):
    return Member(
        member_number="777001TN",
        birth_name="Vũ Thị Mới",
        sex="female",
        birth_date=date(1990, 1, 1),
        admitted_on=date(2015, 1, 1),
        official_on=date(2016, 1, 1),
        status="official",
        unit=w.cell_b,
        ethnicity="Kinh",
    )


def _unit_b(w):
    return Unit(code="P.02.009", name="Chi bộ Mới", kind=UnitKind.GRASSROOTS_CELL, parent=w.d2)


def _import_user(name: str):
    from webapp.cli import new_user

    return new_user(name, "Clerk", "P.02", None)[0]


def _events():
    from webapp.domain.events import EventInput

    return EventInput(kind="exemption", effective_on=date(2020, 1, 1))


def _supplement():
    from webapp.domain.records import SupplementInput

    return SupplementInput(year=2025, declared_on=date(2026, 1, 15), values={"health": "Tốt"})


def _retry_a_failed_job(session, requester):
    """A job in the default queue's failed registry (no queue key: the snapshot sees only
    a retry), then the retry."""
    from rq.job import Job
    from rq.registry import FailedJobRegistry

    from jobs import redis_connection
    from webapp.domain import jobs as job_commands

    connection = redis_connection()
    job = Job.create(
        "webapp.domain.dates.parse_date", ("x", "y"), connection=connection, origin="default"
    )
    job.save()
    FailedJobRegistry("default", connection=connection).add(job, exc_string="Traceback: x")
    return job_commands.retry_job(session, requester, connection, job.id, ("default",))


PATTERN = r"\d{6}[A-Z]{1,3}|\d{10}"

# "module.function" → how to call it on a target in D2.
ROWS: dict[str, Row] = {
    # --- members and their records ---
    "webapp.domain.members.create_member": Row(
        lambda s, r, w: m.create_member(s, r, _member_b(w), member_number_pattern=PATTERN),
        outside=ValidationFailed,  # the cell of the new member "does not exist"
    ),
    "webapp.domain.members.edit_member": Row(
        lambda s, r, w: m.edit_member(s, r, w.b.id, {"alias": "Ba"}, member_number_pattern=PATTERN)
    ),
    "webapp.domain.members.delete_member": Row(
        lambda s, r, w: m.delete_member(s, r, w.bare_b.id),
        outside=Forbidden,
        may_not=Role.CLERK,
        owner="admin",
    ),
    "webapp.domain.events.open_ledger": Row(lambda s, r, w: ev.open_ledger(s, r, w.bare_b.id)),
    "webapp.domain.records.add_member_row": Row(
        lambda s, r, w: rec.add_member_row(
            s, r, WorkPeriod(member_id=w.b.id, starts_on=date(2010, 1, 1), description="Kỹ sư")
        )
    ),
    "webapp.domain.records.edit_member_row": Row(
        lambda s, r, w: rec.edit_member_row(s, r, WorkPeriod, w.row_b.id, {"description": "X"})
    ),
    "webapp.domain.records.delete_member_row": Row(
        lambda s, r, w: rec.delete_member_row(s, r, WorkPeriod, w.row_b.id)
    ),
    "webapp.domain.records.apply_supplement": Row(
        lambda s, r, w: rec.apply_supplement(
            s, r, w.b.id, _supplement(), member_number_pattern=PATTERN
        )
    ),
    # --- the ledger ---
    "webapp.domain.events.record_event": Row(
        lambda s, r, w: ev.record_event(s, r, w.b.id, _events())
    ),
    "webapp.domain.events.cancel_event": Row(
        lambda s, r, w: ev.cancel_event(s, r, w.recognition_b.id, reason="Nhầm")
    ),
    # --- the tree ---
    "webapp.domain.units.found_unit": Row(
        lambda s, r, w: u.found_unit(s, r, _unit_b(w)),
        outside=ValidationFailed,  # "choose a parent unit inside your scope"
    ),
    "webapp.domain.units.edit_unit": Row(
        lambda s, r, w: u.edit_unit(s, r, w.cell_b.id, {"name": "Chi bộ Đổi Tên"})
    ),
    "webapp.domain.units.delete_unit": Row(
        lambda s, r, w: u.delete_unit(s, r, w.empty_b.id),
        outside=Forbidden,
        may_not=Role.CLERK,
        owner="admin",
    ),
    "webapp.domain.units.merge_units": Row(
        lambda s, r, w: u.merge_units(
            s, r, w.empty_b.id, w.cell_b.id, effective_on=date(2025, 7, 1)
        )
    ),
    "webapp.domain.units.dissolve_unit": Row(
        lambda s, r, w: u.dissolve_unit(s, r, w.empty_b.id, effective_on=date(2025, 7, 1))
    ),
    # --- national catalogues (the Admin's) ---
    "webapp.domain.catalogues.seed_catalogues": Row(
        lambda s, r, w: cat.seed_catalogues(s, r),
        outside=Forbidden,
        may_not=Role.CLERK,
        owner="admin",
    ),
    "webapp.domain.catalogues.add_catalogue_entry": Row(
        lambda s, r, w: cat.add_catalogue_entry(
            s, r, CatalogueEntry(kind="religion", code="X99", name="Đạo Mới", position=99)
        ),
        outside=Forbidden,
        may_not=Role.CLERK,
        owner="admin",
    ),
    "webapp.domain.catalogues.edit_catalogue_entry": Row(
        lambda s, r, w: cat.edit_catalogue_entry(s, r, w.entry.id, {"active": False}),
        outside=Forbidden,
        may_not=Role.CLERK,
        owner="admin",
    ),
    # --- reports ---
    "webapp.reports.runs.request_report": Row(
        lambda s, r, w: runs.request_report(s, r, "member-list", "xlsx", w.d2.id),
        may_not=Role.SYNC,
    ),
    "webapp.reports.runs.cancel_run": Row(
        lambda s, r, w: runs.cancel_run(s, r, w.run_b.id), may_not=Role.SYNC
    ),
    "webapp.reports.runs.download_run": Row(
        lambda s, r, w: runs.download_run(s, r, w.done_b), may_not=Role.SYNC
    ),
    # A download names no target itself (download_run above finds the run in scope).
    "webapp.domain.audit.log_download": Row(
        lambda s, r, w: audit.log_download(s, r, audit.Download("member-list", "pdf", 3)),
        outside=None,
        may_not=Role.SYNC,
    ),
    # --- users (the Admin's) ---
    "webapp.domain.users.create_user": Row(
        lambda s, r, w: users.create_user(s, r, _import_user("moi_d2")),
        outside=Forbidden,
        may_not=Role.CLERK,
        owner="admin",
    ),
    "webapp.domain.users.import_users": Row(
        lambda s, r, w: users.import_users(s, r, {"line 2": _import_user("moi_d2_csv")}),
        outside=Forbidden,
        may_not=Role.CLERK,
        owner="admin",
    ),
    # --- background jobs (the Admin's jobs screen) ---
    "webapp.domain.jobs.retry_job": Row(
        lambda s, r, w: _retry_a_failed_job(s, r),
        outside=Forbidden,
        may_not=Role.CLERK,
        owner="admin",
    ),
    # --- the member's file (photos, batches of scans, the scanned dossier) ---
    "webapp.domain.photos.upload_photo": Row(
        lambda s, r, w: photos.upload_photo(
            s, r, w.b.id, photos.Upload(_jpeg(), "b.jpg"), _store(), PhotoLimits()
        )
    ),
    "webapp.domain.photos.crop_photo": Row(
        lambda s, r, w: photos.crop_photo(s, r, w.b.id, (0, 0, 150, 200), PhotoLimits())
    ),
    "webapp.domain.photos.view_photo": Row(
        lambda s, r, w: photos.view_photo(s, r, w.b.id), may_not=Role.SYNC
    ),
    "webapp.domain.photo_batches.request_batch": Row(
        lambda s, r, w: photo_batches.request_batch(s, r, "scans.zip", _store()),
        # A batch names no member until it runs: outside the scope is the job's "not found"
        # per file (tests/test_photo_batches.py); here only the role is the door.
        outside=None,
    ),
    # --- member imports (a new member of cell B from a one-row sheet) ---
    "webapp.domain.member_import.request_import": Row(
        lambda s, r, w: member_import.request_import(
            s, r, file_name="ds.xlsx", sha256="b" * 64, file_path=_IMPORT_PATH, size=1
        ),
        # An upload names no member until its dry run: the role is the door.
        outside=None,
    ),
    "webapp.domain.member_import.check_import": Row(
        lambda s, r, w: member_import.check_import(
            s, r, w.import_b, w.import_sheets, w.import_words, member_number_pattern=_PATTERN
        )
    ),
    "webapp.domain.member_import.request_commit": Row(
        lambda s, r, w: member_import.request_commit(s, r, w.import_b, w.import_hash)
    ),
    "webapp.domain.member_import.commit_import": Row(
        lambda s, r, w: member_import.commit_import(
            s, r, w.import_b, w.import_sheets, w.import_words, member_number_pattern=_PATTERN
        )
    ),
    "webapp.domain.dossier.attach_document": Row(
        lambda s, r, w: dossier.attach_document(
            s,
            r,
            w.b.id,
            dossier.DocumentFields(type_id=w.document_type_id),
            photos.Upload(_jpeg(), "scan.jpg"),
            _store(),
            dossier.DocumentLimits(),
        )
    ),
    "webapp.domain.dossier.replace_document": Row(
        lambda s, r, w: dossier.replace_document(
            s,
            r,
            w.document_b,
            photos.Upload(_jpeg(96), "scan2.jpg"),
            _store(),
            dossier.DocumentLimits(),
        )
    ),
    "webapp.domain.dossier.view_document": Row(
        lambda s, r, w: dossier.view_document(s, r, w.document_b), may_not=Role.SYNC
    ),
    # The worklist is derived data, recomputed for the requester's own scope: the refresh
    # names no target, so only its role is the door (its scope: tests/test_worklist.py).
    "webapp.domain.worklist.refresh_worklist": Row(
        lambda s, r, w: worklist.refresh_worklist(s, r, date(2026, 12, 2)), outside=None
    ),
    "webapp.domain.worklist.configure_worklist": Row(
        lambda s, r, w: worklist.configure_worklist(s, r, {"birthday_age": 75}),
        outside=None,
        may_not=Role.CLERK,
        owner="admin",
    ),
    # --- packages between instances: identity and peers are the Admin's ---
    "webapp.domain.sync_setup.init_instance": Row(
        lambda s, r, w: sync_setup.init_instance(
            s, r, unit_code=w.d2.code, public_key=public_key(generate_key())
        ),
        outside=Forbidden,
        may_not=Role.CLERK,
        owner="admin",
    ),
    "webapp.domain.sync_setup.register_peer": Row(
        lambda s, r, w: sync_setup.register_peer(
            s, r, kind="downstream", unit_code=w.d2.code, public_key=public_key(generate_key())
        ),
        outside=Forbidden,
        may_not=Role.CLERK,
        owner="admin",
    ),
    "webapp.domain.sync_setup.register_downstream": Row(
        lambda s, r, w: sync_setup.register_downstream(
            s,
            r,
            unit_code=w.cell_b.code,
            public_key=public_key(generate_key()),
            password_hash="scrypt:32768:8:1$x$y",
        ),
        outside=Forbidden,
        may_not=Role.CLERK,
        owner="admin",
    ),
    "webapp.domain.sync_setup.set_upstream": Row(
        lambda s, r, w: sync_setup.set_upstream(
            s, r, unit_code="TW", public_key=public_key(generate_key()), url="https://tw.example"
        ),
        outside=Forbidden,
        may_not=Role.CLERK,
        owner="admin",
    ),
    # The upstream said no to a package: kept as refused, its changes back in the outbox.
    "webapp.domain.sync_delivery.mark_refused": Row(
        lambda s, r, w: sync_delivery.mark_refused(s, r, _pending_package(s, w, r), "refused"),
        outside=Forbidden,
        may_not=Role.CLERK,
        owner="admin",
    ),
    # Reference data flows down: only a registered lower level's account takes it, and
    # only the system (or the Admin) applies a version; both name no unit of the tree.
    "webapp.domain.sync_reference.export_reference": Row(
        lambda s, r, w: _export_reference(s, r, w),
        outside=Forbidden,
        may_not=Role.CLERK,
        owner="admin",
    ),
    "webapp.domain.sync_reference.apply_reference": Row(
        lambda s, r, w: _apply_reference(s, r, w),
        outside=Forbidden,
        may_not=Role.CLERK,
        owner="admin",
    ),
    # Packages (webapp/domain/sync.py): the instance is set up only for a role that may act,
    # so a refused call writes nothing before its door.
    "webapp.domain.sync.export_package": Row(
        lambda s, r, w: sync.export_package(s, r, seed=_sync_ready(s, w, r), full=True),
        outside=Forbidden,
        may_not=Role.CLERK,
        owner="admin",
    ),
    "webapp.domain.sync.apply_received": Row(
        lambda s, r, w: sync.apply_received(s, r, _package_from_below(s, w, r), seed=w.sync_seed),
        outside=Forbidden,
        may_not=Role.CLERK,
        owner="admin",
    ),
    "webapp.domain.sync.accept_receipt": Row(
        lambda s, r, w: sync.accept_receipt(s, r, _receipt_from_above(s, w, r)),
        outside=Forbidden,
        may_not=Role.CLERK,
        owner="admin",
    ),
    # --- transfers between provinces (a partner registered, a package and a receipt) ---
    "webapp.domain.transfers.transfer_to_province": Row(
        lambda s, r, w: transfers.transfer_to_province(
            s,
            r,
            w.b.id,
            partner_unit_code="X",
            on=date(2026, 1, 5),
            decision_number="1-QĐ",
            seed=w.transfer_seed,
        )
    ),
    "webapp.domain.transfers.inspect_transfer": Row(
        lambda s, r, w: transfers.inspect_transfer(s, r, w.transfer_package, seed=w.transfer_seed),
        outside=None,
    ),
    "webapp.domain.transfers.import_transfer": Row(
        lambda s, r, w: transfers.import_transfer(
            s,
            r,
            w.transfer_package,
            seed=w.transfer_seed,
            cell_code=w.cell_b.code,
            member_number_pattern=PATTERN,
        ),
        outside=ValidationFailed,  # the cell "does not exist" for them
    ),
    "webapp.domain.transfers.close_transfer": Row(
        lambda s, r, w: transfers.close_transfer(s, r, w.transfer_receipt)
    ),
}


def _reference_world(s, w) -> None:
    """This instance (district D2) as both levels: an upstream registered (key
    w.upstream_seed) and a lower level (key w.reference_lower), so that what it exports as
    the upper level it can apply as the lower one (as tests/test_sync_reference.py). Its
    own identity (w.sync_seed) is made only for an owner's call (init_instance has a row
    of its own, which needs none)."""
    w.sync_seed, w.upstream_seed, w.reference_lower = generate_key(), generate_key(), generate_key()
    # A unit of its own: a registered lower level's subtree is read-only here, and the
    # other rows act in D1 and D2.
    lower = make_unit(s, "REF", "Đảng bộ khối Tham chiếu", UnitKind.UPPER_GRASSROOTS_COMMITTEE)
    w.reference_peer = sync_setup.register_peer(
        s, SYSTEM, kind="downstream", unit_code=lower.code, public_key=public_key(w.reference_lower)
    ).id
    sync_setup.register_peer(
        s, SYSTEM, kind="upstream", unit_code="P", public_key=public_key(w.upstream_seed)
    )


def _pending_package(s, w, r) -> int:
    """The number of a package waiting for its receipt (made only for an owner's call)."""
    _sync_ready(s, w, r)
    if not r.is_admin:
        return 1
    return sync.export_package(s, SYSTEM, seed=w.sync_seed, full=True).sequence


def _export_reference(s, r, w):
    _sync_ready(s, w, r)
    return sync_reference.export_reference(s, r, seed=w.upstream_seed, peer_id=w.reference_peer)


def _apply_reference(s, r, w):
    _sync_ready(s, w, r)
    if r.is_admin:
        data = sync_reference.export_reference(s, r, seed=w.upstream_seed, peer_id=w.reference_peer)
    else:
        data = b"not even read: the role is refused first"
    return sync_reference.apply_reference(s, r, data, seed=w.reference_lower)


def _sync_ready(session, w, requester) -> bytes:
    """This instance (district D2) with its identity and an upstream, when the requester
    may act; the seed of its key."""
    # The world has the upstream registered already (_reference_world).
    if requester.is_admin and sync_setup.identity(session) is None:
        sync_setup.init_instance(
            session, SYSTEM, unit_code=w.d2.code, public_key=public_key(w.sync_seed)
        )
    return w.sync_seed


def _package_from_below(session, w, requester) -> bytes:
    """An empty delta from a downstream registered for D2 (sealed for this instance)."""
    import gzip
    import json

    from webapp.domain.sync_envelope import seal

    w.sync_seed = getattr(w, "sync_seed", None) or generate_key()
    below = generate_key()
    if requester.is_admin:
        sync_setup.register_peer(
            session, SYSTEM, kind="downstream", unit_code=w.d2.code, public_key=public_key(below)
        )
    manifest = {
        "format": sync.FORMAT_VERSION,
        "schema": sync.schema_revision(session),
        "kind": "delta",
        "sender_key": public_key(below),
        "sender_unit": w.d2.code,
        "sequence": 1,
    }
    body = gzip.compress(json.dumps({"manifest": manifest, "rows": [], "deletions": []}).encode())
    return seal(body, kind="delta", sender_seed=below, recipient_key=public_key(w.sync_seed))


def _receipt_from_above(session, w, requester) -> bytes:
    """The upstream's receipt for this instance's first package."""
    _sync_ready(session, w, requester)
    sequence, sha256 = 1, "0" * 64
    if requester.is_admin:
        package = sync.export_package(session, SYSTEM, seed=w.sync_seed, full=True)
        sequence, sha256 = package.sequence, package.sha256
    return sync._receipt(
        w.upstream_seed,
        sender_key=public_key(w.sync_seed),
        sequence=sequence,
        sha256=sha256,
        state="applied",
    )


# The command modules, by the names the rows use.
from webapp.domain import audit, users  # noqa: E402
from webapp.domain import catalogues as cat  # noqa: E402
from webapp.domain import events as ev  # noqa: E402
from webapp.domain import members as m  # noqa: E402
from webapp.domain import records as rec  # noqa: E402
from webapp.domain import units as u  # noqa: E402
from webapp.reports import runs  # noqa: E402


def all_commands() -> set[str]:
    """Every command the code base registers: import every module (migrations aside)."""
    for module in pkgutil.walk_packages(webapp.__path__, "webapp."):
        if not module.name.startswith("webapp.migrations"):
            importlib.import_module(module.name)
    return set(COMMANDS)


def test_every_command_has_a_row(app):
    """Both tables together: this file's and the cards and badges one (its own world of
    proposals, in tests/test_commands_refuse_cards_badges.py)."""
    from test_commands_refuse_cards_badges import ROWS as CARD_AND_BADGE_ROWS

    rows = set(ROWS) | {f"{r.command.__module__}.{r.command.__name__}" for r in CARD_AND_BADGE_ROWS}
    commands = all_commands()
    assert not commands - rows, f"commands without a row: {sorted(commands - rows)}"
    assert not rows - commands, f"rows without a command: {sorted(rows - commands)}"


_PATTERN = r"\d{6}[A-Z]{1,3}|\d{10}"
_IMPORT_PATH = "files/imports/bb/" + "b" * 64


def _import_world(session, w) -> None:
    """An import of clerk B's, its dry run done: one new member for cell B."""
    from webapp.domain.spreadsheet_input import Sheet

    header = ["member_number", "birth_name", "sex", "birth_date", "unit", "admitted_on"]
    w.import_sheets = [
        Sheet(
            "members",
            [
                (1, header),
                (2, ["777101TN", "Vũ Văn Nhập", "male", "01/01/1990", "P.02.001", "01/01/2015"]),
            ],
        )
    ]
    w.import_words = member_import.vocabulary([])
    owner = w.requesters["clerk_b"]
    run = member_import.request_import(
        session, owner, file_name="ds.xlsx", sha256="b" * 64, file_path=_IMPORT_PATH, size=1
    )
    plan = member_import.check_import(
        session, owner, run.id, w.import_sheets, w.import_words, member_number_pattern=_PATTERN
    )
    assert [row.outcome for row in plan.rows] == ["new"], [r.problems for r in plan.rows]
    w.import_b, w.import_hash = run.id, plan.fingerprint


def _jpeg(quality: int = 92) -> bytes:
    import photo_samples

    return photo_samples.jpeg(photo_samples.quadrants(), quality=quality)


def _store():
    from flask import current_app

    from webapp.filestore import FileStore

    return FileStore(current_app.config["DATA_DIR"])


@pytest.fixture()
def world(app, db_session, redis_conn):
    from webapp.domain.events import open_ledger
    from webapp.models import DangVienUser
    from webapp.reports.runs import request_report

    tree = make_tree(db_session)
    a = make_member(db_session, tree["C1"], birth_name="Đinh Văn Nhà")
    b = make_member(db_session, tree["C3"], birth_name="Quách Thị Bên")
    bare_b = make_member(db_session, tree["C3"], birth_name="Lò Văn Chưa", official_on=None)
    empty_b = make_unit(
        db_session, "P.02.002", "Chi bộ Trống", UnitKind.GRASSROOTS_CELL, tree["D2"]
    )
    db_session.commit()
    for member in (a, b):
        open_ledger(db_session, SYSTEM, member.id)
    row_b = WorkPeriod(member_id=b.id, starts_on=date(2000, 1, 1), description="Giáo viên")
    entry = CatalogueEntry(kind="religion", code="X98", name="Đạo Thử", position=98)
    db_session.add_all([row_b, entry])
    db_session.commit()
    for username, role, unit in (("clerk_a", "Clerk", "P.01"), ("clerk_b", "Clerk", "P.02")):
        create_user(username, role, unit, PASSWORD)
    ids = {
        name: db_session.scalar(select(DangVienUser.id).where(DangVienUser.username == name))
        for name in ("admin", "clerk_a", "clerk_b")
    }
    w = SimpleNamespace(
        d1=tree["D1"],
        d2=tree["D2"],
        cell_b=tree["C3"],
        empty_b=empty_b,
        a=a,
        b=b,
        bare_b=bare_b,
        row_b=row_b,
        recognition_b=db_session.scalar(
            select(MemberEvent).where(
                MemberEvent.member_id == b.id, MemberEvent.kind == "official_recognition"
            )
        ),
        entry=entry,
        requesters={
            "clerk_a": Requester(ids["clerk_a"], frozenset({Role.CLERK}), tree["D1"].path),
            "clerk_b": Requester(ids["clerk_b"], frozenset({Role.CLERK}), tree["D2"].path),
            "admin": Requester(ids["admin"], frozenset({Role.ADMIN}), None),
        },
    )
    w.run_b = request_report(
        db_session, w.requesters["clerk_b"], "member-list", "pdf", tree["D2"].id, queue=False
    )
    # B's finished run (its file written here, not rendered: only the download is tested).
    from pathlib import Path

    from flask import current_app

    from webapp.models import ReportRun

    done = Path(current_app.config["DATA_DIR"]) / "refuse-done-b.pdf"
    done.parent.mkdir(parents=True, exist_ok=True)
    done.write_bytes(b"%PDF-1.4 refuse test")
    run = ReportRun(
        report="completeness",
        output_format="pdf",
        unit_id=tree["D2"].id,
        parameters={},
        dedupe_key="refuse-done-b",
        state="done",
        requested_by_id=ids["clerk_b"],
        file_path=str(done),
        file_name=done.name,
        row_count=1,
    )
    db_session.add(run)
    db_session.commit()
    w.done_b = run.id
    # B's processed photo and scanned document (the jobs run here, in the test's process).
    from jobs.photos import process_document_job, process_photo_job
    from webapp.models import DocumentType

    admin = w.requesters["admin"]
    photo = photos.upload_photo(
        db_session, admin, b.id, photos.Upload(_jpeg(), "b.jpg"), _store(), PhotoLimits()
    )
    process_photo_job(photo.id)
    w.document_type_id = db_session.scalar(select(DocumentType.id).order_by(DocumentType.id))
    version = dossier.attach_document(
        db_session,
        admin,
        b.id,
        dossier.DocumentFields(type_id=w.document_type_id),
        photos.Upload(_jpeg(), "scan.jpg"),
        _store(),
        dossier.DocumentLimits(),
    )
    process_document_job(version.id)
    w.document_b = version.document_id
    _import_world(db_session, w)
    _reference_world(db_session, w)
    db_session.commit()
    _transfer_world(db_session, w)
    yield w
    # Catalogues outlive the per-test clean-up: take this world's entries out again.
    db_session.rollback()
    db_session.execute(delete(CatalogueEntry).where(CatalogueEntry.code.in_(TEST_ENTRIES)))
    db_session.commit()


def _transfer_world(session, w) -> None:
    """A partner province X; a package for this instance from X (a member of D2 written
    by X's key, then renumbered here so that it arrives as a new member), and X's receipt
    for that transfer. One key plays both sides: the envelope's checks are tested in
    tests/test_transfers.py; here only the doors are."""
    import json

    from webapp.domain.events import open_ledger
    from webapp.domain.sync_envelope import sign_only

    w.transfer_seed = generate_key()
    key = public_key(w.transfer_seed)
    sync_setup.register_peer(session, SYSTEM, kind="partner", unit_code="X", public_key=key)
    leaving = make_member(session, w.cell_b, birth_name="Hà Văn Đi", member_number="777002TN")
    session.commit()
    open_ledger(session, SYSTEM, leaving.id)
    transfer, w.transfer_package = transfers.transfer_to_province(
        session,
        SYSTEM,
        leaving.id,
        partner_unit_code="X",
        on=date(2026, 1, 5),
        decision_number="9-QĐ",
        seed=w.transfer_seed,
    )
    leaving.member_number = "777003TN"
    session.commit()
    receipt = {
        "transfer_id": transfer.transfer_id,
        "sender_key": key,
        "received_on": "2026-01-10",
        "received_unit": "X.01 – Chi bộ X",
    }
    w.transfer_receipt = sign_only(
        json.dumps(receipt).encode(), kind=transfers.RECEIPT_KIND, sender_seed=w.transfer_seed
    )


def snapshot(session, redis_conn) -> str:
    """A digest of every row of every table, and of the queues: equal means nothing written."""
    from webapp.models import metadata

    session.expire_all()
    digest = hashlib.sha256()
    for table in metadata.sorted_tables:
        rows = sorted(repr(tuple(row)) for row in session.execute(select(table)))
        digest.update(f"{table.name}:{rows}".encode())
    digest.update(repr(sorted(redis_conn.keys("rq:queue:*"))).encode())
    return digest.hexdigest()


# Commands that name no target in a scope (a batch of scans names its members only when it
# runs, and refuses those outside the scope per file) have only their role as the door.
@pytest.mark.parametrize("name", sorted(n for n, row in ROWS.items() if row.outside))
def test_a_requester_outside_the_scope_is_refused(db_session, redis_conn, world, name):
    row = ROWS[name]
    before = snapshot(db_session, redis_conn)
    with pytest.raises(row.outside):
        row.call(db_session, world.requesters["clerk_a"], world)
    assert snapshot(db_session, redis_conn) == before


@pytest.mark.parametrize("name", sorted(ROWS))
def test_a_role_that_may_not_act_is_refused(db_session, redis_conn, world, name):
    row = ROWS[name]
    # In the target's own scope: only the role stands in the way.
    requester = Requester(None, frozenset({row.may_not}), world.d2.path)
    before = snapshot(db_session, redis_conn)
    with pytest.raises(Forbidden):
        row.call(db_session, requester, world)
    assert snapshot(db_session, redis_conn) == before


@pytest.mark.parametrize("name", sorted(ROWS))
def test_the_owner_may(db_session, redis_conn, world, name):
    row = ROWS[name]
    before = snapshot(db_session, redis_conn)
    row.call(db_session, world.requesters[row.owner], world)
    if name == "webapp.domain.transfers.inspect_transfer":
        # Checking a file writes nothing (it is a command for its door: the clerk's role).
        assert snapshot(db_session, redis_conn) == before
    elif name != "webapp.domain.catalogues.seed_catalogues":  # init seeded everything already
        assert snapshot(db_session, redis_conn) != before
