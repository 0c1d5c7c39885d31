"""Users with a role and a scope unit, created one at a time or imported as a list (for
rolling out to many communes). The password arrives hashed: hashing follows the app's
settings, which the adapter (the CLI) knows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.domain.commands import Requester, Role, command
from webapp.domain.errors import N_, ValidationFailed
from webapp.models.user import DangVienUser
from webapp.models.user import Role as RoleRow

ROLES = tuple(role.value for role in (Role.ADMIN, Role.CLERK, Role.MANAGER, Role.LEADER, Role.SYNC))


@dataclass(frozen=True)
class NewUser:
    username: str
    role: str
    unit_code: str | None
    password_hash: str
    email: str | None = None
    full_name: str | None = None  # split into last and first name, unless they are given
    first_name: str | None = None
    last_name: str | None = None


def _problems(session: Session, new: NewUser, taken: set[str]) -> list[tuple[str, dict]]:
    from webapp.domain.units import resolve_unit_code

    problems: list[tuple[str, dict]] = []
    username = new.username.strip()
    if not username:
        problems.append((N_("The user name is required."), {}))
    elif username.lower() in taken or session.scalar(
        select(DangVienUser.id).where(func.lower(DangVienUser.username) == username.lower())
    ):
        problems.append((N_("The user %(username)s exists already."), {"username": username}))
    if new.role not in ROLES:
        problems.append(
            (
                N_("Unknown role %(role)s; choose one of %(roles)s."),
                {"role": new.role, "roles": ", ".join(ROLES)},
            )
        )
    elif new.role != Role.ADMIN:
        if not new.unit_code:
            problems.append((N_("A %(role)s needs a scope unit."), {"role": new.role}))
        elif resolve_unit_code(session, new.unit_code) is None:
            problems.append((N_("The unit code %(code)s does not exist."), {"code": new.unit_code}))
    email = new.email or f"{username}@localhost"
    if session.scalar(select(DangVienUser.id).where(DangVienUser.email == email)):
        problems.append((N_("The e-mail address %(email)s is already used."), {"email": email}))
    return problems


def _add(session: Session, new: NewUser) -> DangVienUser:
    from webapp.domain.units import resolve_unit_code

    username = new.username.strip()
    names = (new.full_name or username).split()
    unit = resolve_unit_code(session, new.unit_code) if new.role != Role.ADMIN else None
    user = DangVienUser(
        username=username,
        first_name=new.first_name or names[-1],
        # One name only (a username): no family name, not a placeholder "-".
        last_name=new.last_name or " ".join(names[:-1]),
        email=new.email or f"{username}@localhost",
        active=True,
        password=new.password_hash,
        roles=[session.scalar(select(RoleRow).where(RoleRow.name == new.role))],
        unit_id=unit.id if unit else None,
    )
    session.add(user)
    session.flush()
    return user


@command("user.create")
def create_user(session: Session, requester: Requester, new: NewUser) -> DangVienUser:
    """Create one user; a role other than Admin needs a scope unit."""
    problems = _problems(session, new, set())
    if problems:
        raise ValidationFailed({"user": problems})
    return _add(session, new)


@command("user.import")
def import_users(
    session: Session, requester: Requester, users: Mapping[str, NewUser]
) -> list[DangVienUser]:
    """Create every user of a list, or none: all rows are checked first. `users` is keyed
    by how the caller names a row (e.g. "line 3"); the problems are reported by that name."""
    problems: dict[str, list[tuple[str, dict]]] = {}
    taken: set[str] = set()
    for label, new in users.items():
        found = _problems(session, new, taken)
        if found:
            problems[label] = found
        taken.add(new.username.strip().lower())
    if problems:
        raise ValidationFailed(problems)
    return [_add(session, new) for new in users.values()]
