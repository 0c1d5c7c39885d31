"""The one door for every change (DESIGN §1; STYLE "Workflows are commands").

A change to data happens only through a *command*: a function in `webapp/domain/` declared
with `@command(ACTION)` whose first two parameters are the session and the `Requester`.
The decorator

- refuses a requester whose role may not take ACTION (`Forbidden`, 403), before anything
  is read;
- runs the command in one transaction: commit when it returns, roll back on any error, so
  a refused command leaves nothing behind;
- turns clashes the locks did not foresee (a unique value taken by a parallel transaction,
  a deadlock or lock timeout, a stale version) into `ConcurrentChange` (409).

The command itself checks scope (a target outside `requester.scope` does not exist:
`NotFound`), state and four-eyes. A command called from inside another command, or inside
`transaction(session)`, joins that transaction instead of committing on its own (the
demo and imports batch thousands of commands into one commit this way).

Screens, the REST API, the CLI and jobs are adapters: they build the Requester, call the
command and map `DomainError` to a flash, a status code or an exit code.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from webapp.domain.errors import N_, ConcurrentChange, Forbidden, InUse
from webapp.domain.scope import NOWHERE, UNRESTRICTED


class Role(StrEnum):
    ADMIN = "Admin"
    CLERK = "Clerk"
    MANAGER = "Manager"
    LEADER = "Leader"
    SYNC = "Sync"
    # Not a person: migrations, the demo generator, benchmarks, trusted maintenance.
    SYSTEM = "System"


@dataclass(frozen=True)
class Requester:
    """Who asks for a change: the user, their roles and their scope (a unit path; None =
    everything, "" = nothing)."""

    user_id: int | None
    roles: frozenset[str] = field(default_factory=frozenset)
    scope: str | None = NOWHERE
    username: str | None = None

    @classmethod
    def system(cls, user_id: int | None = None) -> Requester:
        return cls(user_id=user_id, roles=frozenset({Role.SYSTEM}), scope=UNRESTRICTED)

    def may(self, action: str) -> bool:
        return bool(self.roles & allowed_roles(action))

    @property
    def is_admin(self) -> bool:
        return bool(self.roles & {Role.ADMIN, Role.SYSTEM})


# Who may take each action (Admin and System may take every one). This is the domain's
# own copy of the role table: a command refuses a role even when an adapter forgot to.
# webapp/security.py ROLE_PERMISSIONS grants the matching screens and APIs.
ACTIONS: dict[str, frozenset[Role]] = {
    "member.create": frozenset({Role.CLERK}),
    "member.edit": frozenset({Role.CLERK}),
    "member.delete": frozenset(),
    "member_row.write": frozenset({Role.CLERK}),
    "supplement.apply": frozenset({Role.CLERK}),
    "event.record": frozenset({Role.CLERK}),
    "event.cancel": frozenset({Role.CLERK}),
    "unit.create": frozenset({Role.CLERK}),
    "unit.edit": frozenset({Role.CLERK}),
    "unit.delete": frozenset(),
    "unit.merge": frozenset({Role.CLERK}),
    "unit.dissolve": frozenset({Role.CLERK}),
    "catalogue.write": frozenset(),
    "card.propose": frozenset({Role.CLERK}),
    "card.decide": frozenset({Role.MANAGER}),
    "card.issue": frozenset({Role.MANAGER}),
    # Entering the card a member already holds (paper record, transfer in) is data entry.
    "card.record": frozenset({Role.CLERK}),
    "badge.propose": frozenset({Role.CLERK}),
    "badge.decide": frozenset({Role.MANAGER}),
    "badge.award": frozenset({Role.MANAGER}),
    "badge.reissue": frozenset({Role.MANAGER}),
    "report.request": frozenset({Role.CLERK, Role.MANAGER, Role.LEADER}),
    "report.cancel": frozenset({Role.CLERK, Role.MANAGER, Role.LEADER}),
    # Taking a report file or an export (the audit log records each one).
    "report.download": frozenset({Role.CLERK, Role.MANAGER, Role.LEADER}),
    # The member's file (photos, batches of scans, the scanned dossier).
    "photo.upload": frozenset({Role.CLERK}),
    "photo.crop": frozenset({Role.CLERK}),
    "photo.batch": frozenset({Role.CLERK}),
    "photo.view": frozenset({Role.CLERK, Role.MANAGER, Role.LEADER}),
    "document.attach": frozenset({Role.CLERK}),
    "document.replace": frozenset({Role.CLERK}),
    "document.view": frozenset({Role.CLERK, Role.MANAGER, Role.LEADER}),
    # The worklist is derived data: a Clerk or Manager may recompute it for their scope.
    "worklist.refresh": frozenset({Role.CLERK, Role.MANAGER}),
    "worklist.configure": frozenset(),
    # Imports of members from spreadsheets: the dry run and the commit (each row through
    # the member, card and row commands above, which check their own rights too).
    "import.check": frozenset({Role.CLERK}),
    "import.commit": frozenset({Role.CLERK}),
    "user.create": frozenset(),
    "user.import": frozenset(),
    # The jobs screen (operations): the Admin's.
    "job.retry": frozenset(),
    # Packages between instances (docs/sync.md): identity and peers are the Admin's.
    "sync.configure": frozenset(),
    # Reference data flows down: a lower level's Sync account takes the current version;
    # applying one is the system's (the push job) or the Admin's (a file from the stick).
    "sync.reference": frozenset({Role.SYNC}),
    "sync.apply_reference": frozenset(),
    # Making a package for the upstream and taking its receipt back: the Admin's (and the
    # scheduled job's, as System). Applying a package: the sender's Sync account.
    "sync.export": frozenset(),
    "sync.apply": frozenset({Role.SYNC}),
    # Transfers of members to and from a partner province (docs/sync.md): the clerk's,
    # inside their scope, like the events they record.
    "transfer.export": frozenset({Role.CLERK}),
    "transfer.import": frozenset({Role.CLERK}),
    "transfer.close": frozenset({Role.CLERK}),
}
ALWAYS = frozenset({Role.ADMIN, Role.SYSTEM})


def allowed_roles(action: str) -> frozenset[str]:
    try:
        return ACTIONS[action] | ALWAYS
    except KeyError:
        raise ValueError(f"unknown action {action!r}") from None


# Every command, by "module.function": the table the refusal tests walk.
COMMANDS: dict[str, Callable[..., Any]] = {}

F = TypeVar("F", bound=Callable[..., Any])

CLASH = N_(
    "Someone else changed these records at the same time; nothing was saved. "
    "Open the page again and retry."
)


@contextmanager
def transaction(session: Session) -> Iterator[None]:
    """One transaction for the block: commit at the end of the outermost block, roll back
    on any error. Inner blocks (a command calling a command) join the outer one."""
    depth = session.info.get("command_depth", 0)
    session.info["command_depth"] = depth + 1
    try:
        yield
        if depth == 0:
            session.commit()
    except (IntegrityError, OperationalError, StaleDataError) as error:
        if depth:
            raise
        session.rollback()
        session.info.pop(AFTER_COMMIT, None)
        raise ConcurrentChange(CLASH) from error
    except BaseException:
        if depth == 0:
            session.rollback()
            session.info.pop(AFTER_COMMIT, None)
        raise
    finally:
        session.info["command_depth"] = depth
    if depth == 0:
        for callback in session.info.pop(AFTER_COMMIT, []):
            callback()


AFTER_COMMIT = "after_commit"


def after_commit(session: Session, callback: Callable[[], Any]) -> None:
    """Run `callback` once the command's transaction has committed (dropped if it rolls
    back): for what must not happen before the rows are visible to others, like handing a
    job to a worker."""
    session.info.setdefault(AFTER_COMMIT, []).append(callback)


def in_transaction(session: Session) -> bool:
    """True inside a command or a `transaction` block (helpers that must not commit)."""
    return session.info.get("command_depth", 0) > 0


def command(action: str) -> Callable[[F], F]:
    """Declare a command: `fn(session, requester, …)` may take `action`, runs in one
    transaction, and is listed in COMMANDS."""
    allowed_roles(action)  # an unknown action is a programming error, found at import

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def run(session: Session, requester: Requester, *args: Any, **kwargs: Any) -> Any:
            if not isinstance(requester, Requester):
                raise TypeError(f"{fn.__name__} needs a Requester, got {requester!r}")
            if not requester.may(action):
                raise Forbidden(N_("Your role does not allow this action."))
            with transaction(session):
                return fn(session, requester, *args, **kwargs)

        run.action = action  # type: ignore[attr-defined]
        COMMANDS[f"{fn.__module__}.{fn.__name__}"] = run
        return run  # type: ignore[return-value]

    return decorate


def delete_unreferenced(session: Session, row: Any, refusal: str) -> None:
    """Delete `row` inside a command, or refuse with `refusal` when other rows still refer
    to it (the foreign keys say so; a savepoint keeps the command's other work intact
    until the command itself rolls back)."""
    try:
        with session.begin_nested():
            session.delete(row)
            session.flush()
    except IntegrityError:
        raise InUse(refusal) from None
