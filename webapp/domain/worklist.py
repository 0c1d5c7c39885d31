"""The clerk's worklist and the data-quality checks (issue "The clerk's morning").

Each check is one entry of RULES: a key, whether it says what is *due* or what is *wrong*
(quality), a severity, the regulation or form it comes from, and a function that finds the
members it applies to. The function returns either a SELECT of (member_id, unit_id, due_on,
details) -- the refresh then writes the items with one INSERT … SELECT inside the database,
no row passing through Python -- or, for the few checks written in Python (folded names,
anniversaries, the names of impossible dates), the Found rows, which are few (on
PostgreSQL they go back into the database as one JSON parameter and are written like the
others: as a diff). Badge eligibility is SQL on PostgreSQL (badge_eligibility.
eligible_select) and the ledger replayed in Python elsewhere. Adding a check is adding
one entry. `refresh_worklist` runs every rule that is on for the
requester's scope and keeps what it found in `work_item`, the last run of each rule in
`check_run`, and each unit's score for the month in `quality_score`; pages read those
tables. A rule that fails (an error, a statement timeout) is kept as a failed run with its
reason; the others still run.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Integer,
    Select,
    String,
    Text,
    and_,
    case,
    cast,
    column,
    exists,
    false,
    func,
    literal,
    literal_column,
    not_,
    null,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.functions import FunctionElement

from webapp.domain.badge_eligibility import add_months
from webapp.domain.cards import CARD_NUMBER_PATTERN
from webapp.domain.commands import Requester, command
from webapp.domain.completeness import FOUR_PAGE
from webapp.domain.errors import N_, ValidationFailed
from webapp.domain.ledger import EventKind
from webapp.domain.scope import UNRESTRICTED, units_in
from webapp.domain.vietnamese import fold
from webapp.models.badges import OPEN_BADGE_STATES, BadgeProposal, BadgeProposalState
from webapp.models.cards import OPEN_PROPOSAL_STATES, CardProposal
from webapp.models.files import (
    DocumentType,
    FileState,
    MemberDocument,
    MemberDocumentVersion,
    MemberPhoto,
)
from webapp.models.ledger import MemberEvent
from webapp.models.member import ON_THE_ROLLS, Member, MemberStatus
from webapp.models.record import MemberSupplement
from webapp.models.transfer import OutgoingTransfer, TransferState
from webapp.models.unit import Unit
from webapp.models.worklist import CheckRun, QualityScore, WorkCount, WorkItem, WorklistSetting

DUE, QUALITY = "due", "quality"
HIGH, MEDIUM, LOW = "high", "medium", "low"
BATCH = 5000


@dataclass(frozen=True)
class Threshold:
    key: str
    label: str
    default: int
    low: int
    high: int


# Admin reference data, each with its sane range (refused outside it).
THRESHOLDS: dict[str, Threshold] = {
    t.key: t
    for t in (
        Threshold(
            "probation_warning_days",
            N_("Days before the end of probation to warn"),
            30,
            1,
            120,
        ),
        Threshold(
            "proposal_waiting_days", N_("Days a proposal may wait for a decision"), 30, 1, 365
        ),
        Threshold("birthday_age", N_("Age from which birthdays are listed"), 80, 60, 110),
        Threshold("birthday_window_days", N_("Days ahead to list birthdays"), 30, 1, 90),
        Threshold(
            "transfer_arrival_days",
            N_("Days after a transfer out to follow up its arrival"),
            30,
            1,
            180,
        ),
        Threshold(
            "transfer_follow_up_days",
            N_("Days after which a transfer out is no longer followed up"),
            365,
            30,
            3650,
        ),
        Threshold(
            "temporary_transfer_days",
            N_("Days after which a temporary transfer is listed for a check"),
            365,
            30,
            1825,
        ),
    )
}


@dataclass(frozen=True)
class Context:
    """What a rule may use: the day, the thresholds, and which members to look at."""

    day: date
    settings: Mapping[str, int]
    scope: str | None

    def members(self):
        """The members whose items this refresh computes: on rolls in the scope."""
        clause = Member.status.in_(ON_THE_ROLLS)
        if self.scope is not UNRESTRICTED:
            clause = and_(clause, Member.unit_id.in_(units_in(self.scope)))
        return clause


@dataclass(frozen=True)
class Found:
    member_id: int
    unit_id: int
    due_on: date | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    key: str
    kind: str  # DUE or QUALITY
    title: str  # N_ message: what the item says
    severity: str
    source: str  # the regulation or form the rule comes from
    # A SELECT of (member_id, unit_id, due_on, details), written by INSERT … SELECT; or the
    # Found rows, for a check written in Python.
    find: Callable[[Session, Context], Select | Iterable[Found]]
    # What resolves the item on screen: "event", "supplement", "card", "badge", "member",
    # "photo", "dossier" (the view maps it to a link).
    action: str = "member"


# --- SQL pieces the rules share (PostgreSQL, and SQLite for a desktop instance) -----------


class json_object(FunctionElement):  # noqa: N801 - an SQL function
    """A JSON object built in SQL: json_build_object on PostgreSQL, json_object on SQLite."""

    type = JSON()
    inherit_cache = True


@compiles(json_object)
def _json_object_sqlite(element, compiler, **kw):
    return f"json_object({compiler.process(element.clauses, **kw)})"


@compiles(json_object, "postgresql")
def _json_object_pg(element, compiler, **kw):
    return f"json_build_object({compiler.process(element.clauses, **kw)})"


class json_list(FunctionElement):  # noqa: N801
    """The values of a group as a JSON array (json_agg / json_group_array)."""

    type = JSON()
    inherit_cache = True


@compiles(json_list)
def _json_list_sqlite(element, compiler, **kw):
    return f"json_group_array({compiler.process(element.clauses, **kw)})"


@compiles(json_list, "postgresql")
def _json_list_pg(element, compiler, **kw):
    return f"json_agg({compiler.process(element.clauses, **kw)})"


class comma_list(FunctionElement):  # noqa: N801
    """A comma-separated text ("a,b," or NULL) as a JSON array of its non-empty parts."""

    type = JSON()
    inherit_cache = True


@compiles(comma_list)
def _comma_list_sqlite(element, compiler, **kw):
    text = f"coalesce({compiler.process(element.clauses, **kw)}, '')"
    return (
        f"(CASE WHEN trim({text}, ',') = '' THEN json('[]') ELSE "
        f"json('[\"' || replace(trim({text}, ','), ',', '\",\"') || '\"]') END)"
    )


@compiles(comma_list, "postgresql")
def _comma_list_pg(element, compiler, **kw):
    text = compiler.process(element.clauses, **kw)
    return f"to_json(array_remove(string_to_array(coalesce({text}, ''), ','), ''))"


class years_later(FunctionElement):  # noqa: N801
    """A date `years` years later, 29 February giving 28 February (as add_months)."""

    type = Date()
    inherit_cache = True


@compiles(years_later)
def _years_later_sqlite(element, compiler, **kw):
    day, years = list(element.clauses)
    # SQLite rolls 29 February over to 1 March: step back to the 28th then.
    text, n = compiler.process(day, **kw), int(years.value)
    later = f"date({text}, '+{n} years')"
    return (
        f"(CASE WHEN strftime('%m-%d', {text}) = '02-29' AND strftime('%m', {later}) = '03' "
        f"THEN date({later}, '-1 day') ELSE {later} END)"
    )


@compiles(years_later, "postgresql")
def _years_later_pg(element, compiler, **kw):
    day, years = list(element.clauses)
    return f"CAST(({compiler.process(day, **kw)}) + interval '{int(years.value)} years' AS DATE)"


class days_later(FunctionElement):  # noqa: N801
    """A date `days` days later."""

    type = Date()
    inherit_cache = True


@compiles(days_later)
def _days_later_sqlite(element, compiler, **kw):
    day, days = list(element.clauses)
    return f"date({compiler.process(day, **kw)}, '+{int(days.value)} days')"


@compiles(days_later, "postgresql")
def _days_later_pg(element, compiler, **kw):
    day, days = list(element.clauses)
    return f"CAST(({compiler.process(day, **kw)}) + {int(days.value)} AS DATE)"


class json_text(FunctionElement):  # noqa: N801
    """A constant JSON text as a JSON value."""

    type = JSON()
    inherit_cache = True


@compiles(json_text)
def _json_text_sqlite(element, compiler, **kw):
    return f"json({compiler.process(element.clauses, **kw)})"


@compiles(json_text, "postgresql")
def _json_text_pg(element, compiler, **kw):
    return f"CAST({compiler.process(element.clauses, **kw)} AS JSON)"


class card_number_wrong(FunctionElement):  # noqa: N801
    """True when the card number does not match CARD_NUMBER_PATTERN (NN.NNNNNN)."""

    type = Boolean()
    inherit_cache = True


@compiles(card_number_wrong)
def _card_number_wrong_sqlite(element, compiler, **kw):
    number = compiler.process(element.clauses, **kw)
    return f"({number} NOT GLOB '[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]')"


@compiles(card_number_wrong, "postgresql")
def _card_number_wrong_pg(element, compiler, **kw):
    number = compiler.process(element.clauses, **kw)
    return f"({number} !~ '^[0-9]{{2}}\\.[0-9]{{6}}$')"


assert CARD_NUMBER_PATTERN.pattern == r"^\d{2}\.\d{6}$", "card_number_wrong follows it"


def details(**pairs: Any):
    """The item's details as a JSON object built in SQL (keys are this module's constants)."""
    args: list[Any] = []
    for key, value in pairs.items():
        args.append(literal_column(f"'{key}'"))
        if isinstance(value, bool):
            args.append(literal_column("true" if value else "false"))
        elif isinstance(value, int):
            args.append(literal_column(str(int(value)), Integer))
        elif isinstance(value, str):
            args.append(cast(literal(value), String))
        else:
            args.append(value)
    return json_object(*args)


# --- Rules: what is due ---------------------------------------------------------------


def _probation_starts():
    """Per member, the day of the last admission or re-admission that was not reversed."""
    reversal = aliased(MemberEvent)
    return (
        select(MemberEvent.member_id, func.max(MemberEvent.effective_on).label("starts_on"))
        .where(
            MemberEvent.kind.in_((EventKind.ADMISSION, EventKind.READMISSION)),
            ~exists().where(
                reversal.reverses_id == MemberEvent.id, reversal.kind == EventKind.REVERSAL
            ),
        )
        .group_by(MemberEvent.member_id)
        .subquery()
    )


def probation_ending(session: Session, ctx: Context) -> Iterator[Found]:
    # Probation is 12 months from (re-)admission (Điều lệ Đảng, Điều 5).
    warn = ctx.settings["probation_warning_days"]
    latest_start = add_months(ctx.day + timedelta(days=warn), -12)
    starts = _probation_starts()
    rows = session.execute(
        select(Member.id, Member.unit_id, starts.c.starts_on)
        .join(starts, starts.c.member_id == Member.id)
        .where(
            ctx.members(),
            Member.status == MemberStatus.PROBATIONARY,
            starts.c.starts_on <= latest_start,
        )
    )
    for member_id, unit_id, starts_on in rows:
        ends_on = add_months(starts_on, 12)
        yield Found(member_id, unit_id, ends_on, {"overdue": ends_on < ctx.day})


def supplement_missing(session: Session, ctx: Context) -> Select:
    year = ctx.day.year
    return select(
        Member.id, Member.unit_id, literal(date(year, 12, 31), Date), details(year=year)
    ).where(
        ctx.members(),
        Member.admitted_on < date(year, 1, 1),
        ~exists().where(MemberSupplement.member_id == Member.id, MemberSupplement.year == year),
    )


def proposals_waiting(session: Session, ctx: Context) -> Iterator[Found]:
    waited = ctx.settings["proposal_waiting_days"]
    before = datetime.combine(ctx.day - timedelta(days=waited), time())
    open_badges = (BadgeProposalState.PROPOSED, BadgeProposalState.APPROVED)
    for model, states, kind in (
        (CardProposal, OPEN_PROPOSAL_STATES, "card"),
        (BadgeProposal, open_badges, "badge"),
    ):
        rows = session.execute(
            select(Member.id, Member.unit_id, func.min(model.proposed_at))
            .join(model, model.member_id == Member.id)
            .where(ctx.members(), model.state.in_(states), model.proposed_at < before)
            .group_by(Member.id, Member.unit_id)
        )
        for member_id, unit_id, since in rows:
            since_day = since.date() if hasattr(since, "date") else since
            yield Found(member_id, unit_id, None, {"what": kind, "since": since_day.isoformat()})


def badge_occasion(session: Session, ctx: Context) -> Select | Iterator[Found]:
    """Eligible on the coming occasion (the first on or after the day) and holding no
    open proposal for that milestone. On PostgreSQL the rule runs in the database
    (`badge_eligibility.eligible_select`, set-based); elsewhere (SQLite) the ledger of
    each candidate is replayed in Python (`badge_occasion_replayed`). Both give the same
    items (tests/test_worklist.py)."""
    if session.get_bind().dialect.name != "postgresql":
        return badge_occasion_replayed(session, ctx)
    from webapp.domain.badge_eligibility import eligible_select
    from webapp.domain.badges import next_occasion_after, rules_from_db

    occasion = next_occasion_after(session, ctx.day - timedelta(days=1))
    roots = _roots(session, ctx.scope) if occasion is not None else []
    if not roots:
        return select(Member.id, Member.unit_id, null(), details()).where(false())
    eligible = eligible_select(
        session, [root.path for root in roots], occasion, rules_from_db(session)
    ).subquery("eligible")
    return select(
        eligible.c.id,
        eligible.c.unit_id,
        literal(occasion, Date),
        details(milestone=eligible.c.milestone),
    ).where(
        ~exists().where(
            BadgeProposal.member_id == eligible.c.id,
            BadgeProposal.milestone == eligible.c.milestone,
            BadgeProposal.state.in_(OPEN_BADGE_STATES),
        )
    )


def badge_occasion_replayed(session: Session, ctx: Context) -> Iterator[Found]:
    # Badge eligibility replays each candidate's ledger (webapp/domain/badge_eligibility.py):
    # the members themselves are not loaded, only their unit.
    from webapp.domain.badges import eligible_for_badges, next_occasion_after, proposed_milestones

    occasion = next_occasion_after(session, ctx.day - timedelta(days=1))
    if occasion is None:
        return
    for root in _roots(session, ctx.scope):
        found = eligible_for_badges(session, root, occasion)
        if not found:
            continue
        ids = [e.member_id for e in found]
        proposed = proposed_milestones(session, ids)
        units = dict(
            session.execute(
                select(Member.id, Member.unit_id).where(
                    Member.unit_id.in_(units_in(root.path)), Member.status.in_(ON_THE_ROLLS)
                )
            ).all()
        )
        for eligible in found:
            unit_id = units.get(eligible.member_id)
            if unit_id is None or eligible.milestone in proposed.get(eligible.member_id, ()):
                continue
            yield Found(eligible.member_id, unit_id, occasion, {"milestone": eligible.milestone})


def _last_event(kind: str):
    """Per member, the day of the last event of `kind` that was not reversed."""
    reversal = aliased(MemberEvent)
    return (
        select(
            MemberEvent.member_id,
            func.max(MemberEvent.effective_on).label("on"),
        )
        .where(
            MemberEvent.kind == kind,
            ~exists().where(
                reversal.reverses_id == MemberEvent.id, reversal.kind == EventKind.REVERSAL
            ),
        )
        .group_by(MemberEvent.member_id)
        .subquery()
    )


def transfer_unconfirmed(session: Session, ctx: Context) -> Select:
    # Transferred out (Regulation 24-QĐ/TW: the receiving organisation confirms the
    # arrival) more than N days ago and still transferred out, with no receipt recorded:
    # a transfer to a partner province closed by its receipt (webapp/domain/transfers.py)
    # is confirmed; any other is followed up from N days until it is
    # `transfer_follow_up_days` old. The item is in the scope of the unit the member left.
    arrival = ctx.settings["transfer_arrival_days"]
    follow_up = ctx.settings["transfer_follow_up_days"]
    out = _last_event(EventKind.TRANSFER_OUT)
    scope = true() if ctx.scope is UNRESTRICTED else Member.unit_id.in_(units_in(ctx.scope))
    return (
        select(
            Member.id,
            Member.unit_id,
            days_later(out.c.on, literal(arrival)),
            details(
                since=out.c.on,
                to=func.coalesce(MemberEvent.other_organisation, literal_column("''")),
            ),
        )
        .join(out, out.c.member_id == Member.id)
        .join(
            MemberEvent,
            and_(
                MemberEvent.member_id == Member.id,
                MemberEvent.kind == EventKind.TRANSFER_OUT,
                MemberEvent.effective_on == out.c.on,
            ),
        )
        .where(
            scope,
            Member.status == MemberStatus.TRANSFERRED_OUT,
            out.c.on <= ctx.day - timedelta(days=arrival),
            out.c.on > ctx.day - timedelta(days=follow_up),
            ~exists().where(
                OutgoingTransfer.event_id == MemberEvent.id,
                OutgoingTransfer.state == TransferState.CLOSED,
            ),
        )
    )


def temporary_transfer_long(session: Session, ctx: Context) -> Select:
    # The ledger records no end date for a temporary transfer (sinh hoạt tạm thời), so
    # "past its end" is read as "still open after N days": the clerk checks whether the
    # member came back (record the return) or the transfer should be made official.
    days = ctx.settings["temporary_transfer_days"]
    since = _last_event(EventKind.TEMPORARY_TRANSFER)
    return (
        select(
            Member.id,
            Member.unit_id,
            days_later(since.c.on, literal(days)),
            details(since=since.c.on, away=Member.away),
        )
        .join(since, since.c.member_id == Member.id)
        .where(
            ctx.members(),
            or_(Member.host_unit_id.is_not(None), Member.away.is_(True)),
            since.c.on <= ctx.day - timedelta(days=days),
        )
    )


def birthdays(session: Session, ctx: Context) -> Iterator[Found]:
    age = ctx.settings["birthday_age"]
    window = ctx.settings["birthday_window_days"]
    born_by = add_months(ctx.day + timedelta(days=window), -12 * age)
    rows = session.execute(
        select(Member.id, Member.unit_id, Member.birth_date).where(
            ctx.members(), Member.birth_date <= born_by
        )
    )
    for member_id, unit_id, born in rows:
        coming = _next_anniversary(born, ctx.day)
        if coming <= ctx.day + timedelta(days=window):
            years = coming.year - born.year
            if years >= age:
                yield Found(member_id, unit_id, coming, {"age": years})


def _next_anniversary(day: date, after: date) -> date:
    for year in (after.year, after.year + 1):
        candidate = add_months(date(year, 1, 1), day.month - 1)
        candidate = candidate.replace(day=min(day.day, _month_length(candidate)))
        if candidate >= after:
            return candidate
    raise AssertionError("unreachable")  # pragma: no cover


def _month_length(day: date) -> int:
    return (add_months(day.replace(day=1), 1) - timedelta(days=1)).day


# --- Rules: what is wrong (data quality) --------------------------------------------------


def incomplete_record(session: Session, ctx: Context) -> Select:
    return select(
        Member.id, Member.unit_id, null(), details(fields=comma_list(Member.missing_fields))
    ).where(ctx.members(), or_(Member.completeness.is_(None), Member.completeness != FOUR_PAGE))


def documents_missing(session: Session, ctx: Context) -> Select:
    required = session.execute(
        select(DocumentType.id, DocumentType.name)
        .where(DocumentType.required.is_(True), DocumentType.active.is_(True))
        .order_by(DocumentType.position, DocumentType.id)
    ).all()
    if not required:
        return select(Member.id, Member.unit_id, null(), details()).where(false())
    required_ids = [type_id for type_id, _ in required]

    def scans(member_id):
        return (
            select(MemberDocument.type_id)
            .join(MemberDocumentVersion, MemberDocumentVersion.document_id == MemberDocument.id)
            .where(
                MemberDocument.member_id == member_id,
                MemberDocument.type_id.in_(required_ids),
                MemberDocumentVersion.state == FileState.DONE,
            )
        )

    # Per member, how many required types have a scan (one grouped join, not a subquery
    # per member): most members have none, and their list is the whole (constant) list;
    # the others' list is built by a subquery.
    scanned_types = (
        select(
            MemberDocument.member_id,
            func.count(func.distinct(MemberDocument.type_id)).label("have"),
        )
        .join(MemberDocumentVersion, MemberDocumentVersion.document_id == MemberDocument.id)
        .where(
            MemberDocument.type_id.in_(required_ids),
            MemberDocumentVersion.state == FileState.DONE,
        )
        .group_by(MemberDocument.member_id)
        .subquery("scanned_types")
    )
    members = (
        select(Member.id, Member.unit_id, func.coalesce(scanned_types.c.have, 0).label("have"))
        .outerjoin(scanned_types, scanned_types.c.member_id == Member.id)
        .where(ctx.members())
        .subquery()
    )
    scanned = (
        scans(members.c.id)
        .where(MemberDocument.type_id == DocumentType.id)
        .correlate(members, DocumentType)
    )
    missing = (
        select(json_list(DocumentType.name))
        .where(DocumentType.id.in_(required_ids), ~exists(scanned))
        .correlate(members)
        .scalar_subquery()
    )
    every = json_text(json.dumps([name for _, name in required], ensure_ascii=False))
    return select(
        members.c.id,
        members.c.unit_id,
        null(),
        details(documents=case((members.c.have == 0, every), else_=missing)),
    ).where(members.c.have < len(required))


def duplicate_person(session: Session, ctx: Context) -> Iterator[Found]:
    # The same person twice: the same name (folded), birth date and home town, on the
    # rolls of any unit of the instance; the item is shown in each record's own scope.
    groups: dict[tuple, list[tuple[int, int]]] = defaultdict(list)
    query = select(
        Member.id,
        Member.unit_id,
        func.coalesce(Member.name_in_use, Member.birth_name),
        Member.birth_date,
        Member.home_town,
    ).where(Member.status.in_(ON_THE_ROLLS))
    for member_id, unit_id, name, born, home_town in session.execute(query):
        groups[(fold(name), born, fold(home_town))].append((member_id, unit_id))
    in_scope = _member_ids(session, ctx)
    for rows in groups.values():
        if len(rows) < 2:
            continue
        for member_id, unit_id in rows:
            if member_id in in_scope:
                others = [m for m, _ in rows if m != member_id]
                yield Found(member_id, unit_id, None, {"others": len(others)})


def impossible_dates(session: Session, ctx: Context) -> Iterator[Found]:
    # The database finds the few members with a problem; Python names the problems.
    under_18 = years_later(Member.birth_date, literal(18)) > Member.admitted_on
    rows = session.execute(
        select(
            Member.id,
            Member.unit_id,
            Member.birth_date,
            Member.admitted_on,
            Member.official_on,
            Member.youth_union_on,
        ).where(
            ctx.members(),
            or_(
                Member.birth_date > ctx.day,
                Member.admitted_on > ctx.day,
                under_18,
                Member.official_on < Member.admitted_on,
                Member.youth_union_on < Member.birth_date,
            ),
        )
    )
    for member_id, unit_id, born, admitted, official, youth in rows:
        problems = []
        if born > ctx.day:
            problems.append("birth_future")
        if admitted > ctx.day:
            problems.append("admission_future")
        # The Party Statute admits from 18 years of age.
        if add_months(born, 12 * 18) > admitted:
            problems.append("admitted_under_18")
        if official is not None and official < admitted:
            problems.append("official_before_admission")
        if youth is not None and youth < born:
            problems.append("youth_union_before_birth")
        if problems:
            yield Found(member_id, unit_id, None, {"problems": problems})


def dissolved_unit(session: Session, ctx: Context) -> Select:
    return (
        select(Member.id, Member.unit_id, null(), details(unit=Unit.code))
        .join(Unit, Unit.id == Member.unit_id)
        .where(ctx.members(), Unit.dissolved_on.is_not(None))
    )


def no_photo(session: Session, ctx: Context) -> Select:
    has_photo = exists().where(
        MemberPhoto.member_id == Member.id,
        MemberPhoto.current.is_(True),
    )
    return select(Member.id, Member.unit_id, null(), details()).where(
        ctx.members(), not_(has_photo)
    )


def card_number_format(session: Session, ctx: Context) -> Select:
    return select(Member.id, Member.unit_id, null(), details(number=Member.card_number)).where(
        ctx.members(), Member.card_number.is_not(None), card_number_wrong(Member.card_number)
    )


def events_out_of_order(session: Session, ctx: Context) -> Select:
    starts = (
        select(MemberEvent.member_id, func.min(MemberEvent.effective_on).label("first_on"))
        .where(MemberEvent.kind == EventKind.ADMISSION)
        .group_by(MemberEvent.member_id)
        .subquery()
    )
    return (
        select(Member.id, Member.unit_id, null(), details(events=func.count(MemberEvent.id)))
        .join(MemberEvent, MemberEvent.member_id == Member.id)
        .outerjoin(starts, starts.c.member_id == Member.id)
        .where(
            ctx.members(),
            MemberEvent.kind != EventKind.REVERSAL,
            or_(
                MemberEvent.effective_on > ctx.day,
                and_(
                    starts.c.first_on.is_not(None),
                    MemberEvent.effective_on < starts.c.first_on,
                ),
            ),
        )
        .group_by(Member.id, Member.unit_id)
    )


RULES: tuple[Rule, ...] = (
    Rule(
        "probation_ending",
        DUE,
        N_("Probation ends: record official recognition or non-recognition"),
        HIGH,
        N_("Party Statute, Article 5; Regulation 24-QĐ/TW"),
        probation_ending,
        "event",
    ),
    Rule(
        "badge_occasion",
        DUE,
        N_("Eligible for a Party badge on the next occasion, not proposed"),
        MEDIUM,
        N_("Regulation on the Party badge (Huy hiệu Đảng)"),
        badge_occasion,
        "badge",
    ),
    Rule(
        "proposals_waiting",
        DUE,
        N_("A card or badge proposal has waited too long"),
        MEDIUM,
        N_("Card and badge procedure"),
        proposals_waiting,
        "member",
    ),
    Rule(
        "transfer_unconfirmed",
        DUE,
        N_("Transferred out: arrival not confirmed"),
        MEDIUM,
        N_("Regulation 24-QĐ/TW (chuyển sinh hoạt đảng)"),
        transfer_unconfirmed,
        "member",
    ),
    Rule(
        "temporary_transfer_long",
        DUE,
        N_("A temporary transfer is still open"),
        LOW,
        N_("Regulation 24-QĐ/TW (sinh hoạt đảng tạm thời)"),
        temporary_transfer_long,
        "event",
    ),
    Rule(
        "supplement_missing",
        DUE,
        N_("The yearly supplement is not recorded for this year"),
        MEDIUM,
        N_("Guidance 12-HD/BTCTW (phiếu bổ sung hồ sơ)"),
        supplement_missing,
        "supplement",
    ),
    Rule(
        "birthdays",
        DUE,
        N_("Birthday of an elder member coming (congratulations)"),
        LOW,
        N_("Practice of the Organization Commission"),
        birthdays,
        "member",
    ),
    Rule(
        "incomplete_record",
        QUALITY,
        N_("The record is below 4-page completeness"),
        MEDIUM,
        N_("Form 2-HSĐV (phiếu đảng viên)"),
        incomplete_record,
        "member",
    ),
    Rule(
        "documents_missing",
        QUALITY,
        N_("Required dossier documents are missing"),
        LOW,
        N_("Guidance 12-HD/BTCTW (hồ sơ đảng viên)"),
        documents_missing,
        "dossier",
    ),
    Rule(
        "duplicate_person",
        QUALITY,
        N_("The same person may be recorded twice"),
        HIGH,
        N_("Same name, birth date and home town"),
        duplicate_person,
        "member",
    ),
    Rule(
        "impossible_dates",
        QUALITY,
        N_("Impossible or inconsistent dates"),
        HIGH,
        N_("Party Statute, Article 1 (age 18); form 2-HSĐV"),
        impossible_dates,
        "member",
    ),
    Rule(
        "dissolved_unit",
        QUALITY,
        N_("On the rolls of a dissolved unit"),
        HIGH,
        N_("Organisation tree"),
        dissolved_unit,
        "member",
    ),
    Rule(
        "no_photo",
        QUALITY,
        N_("No photo"),
        LOW,
        N_("Form 2-HSĐV (photo 3×4)"),
        no_photo,
        "photo",
    ),
    Rule(
        "card_number_format",
        QUALITY,
        N_("The card number has the wrong format"),
        MEDIUM,
        N_("Party card numbering (NN.NNNNNN)"),
        card_number_format,
        "member",
    ),
    Rule(
        "events_out_of_order",
        QUALITY,
        N_("Events dated before the admission or in the future"),
        MEDIUM,
        N_("Ledger of movements"),
        events_out_of_order,
        "member",
    ),
)
RULES_BY_KEY: dict[str, Rule] = {rule.key: rule for rule in RULES}


def _roots(session: Session, scope: str | None) -> list[Unit]:
    query = select(Unit).where(Unit.dissolved_on.is_(None))
    if scope is UNRESTRICTED:
        query = query.where(Unit.parent_id.is_(None))
    else:
        query = query.where(Unit.path == scope)
    return list(session.scalars(query.order_by(Unit.path)))


def _member_ids(session: Session, ctx: Context) -> set[int]:
    return set(session.scalars(select(Member.id).where(ctx.members())))


# --- Settings ---------------------------------------------------------------------------


def rule_setting_key(rule: str) -> str:
    return f"rule:{rule}"


def current_settings(session: Session) -> dict[str, int]:
    """Thresholds and rule switches: the stored value, else the default (rules on)."""
    stored = dict(session.execute(select(WorklistSetting.key, WorklistSetting.value)).all())
    settings = {key: stored.get(key, t.default) for key, t in THRESHOLDS.items()}
    for rule in RULES:
        settings[rule_setting_key(rule.key)] = stored.get(rule_setting_key(rule.key), 1)
    return settings


def _range_of(key: str) -> tuple[int, int] | None:
    if key in THRESHOLDS:
        return THRESHOLDS[key].low, THRESHOLDS[key].high
    if key.startswith("rule:") and key[5:] in RULES_BY_KEY:
        return 0, 1
    return None


@command("worklist.configure")
def configure_worklist(session: Session, requester: Requester, values: Mapping[str, int]) -> None:
    """Set thresholds (each within its range) and switch rules on (1) or off (0): all of
    them or, when one is wrong, none."""
    errors: dict[str, list] = {}
    for key, value in values.items():
        bounds = _range_of(key)
        if bounds is None:
            errors[key] = [(N_("Unknown setting."), {})]
        elif (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not (bounds[0] <= value <= bounds[1])
        ):
            errors[key] = [
                (
                    N_("Enter a whole number from %(low)s to %(high)s."),
                    {"low": bounds[0], "high": bounds[1]},
                )
            ]
    if errors:
        raise ValidationFailed(errors)
    stored = {
        row.key: row
        for row in session.scalars(
            select(WorklistSetting).where(WorklistSetting.key.in_(list(values)))
        )
    }
    for key, value in values.items():
        if key in stored:
            stored[key].value = value
        else:
            session.add(WorklistSetting(key=key, value=value))


# --- The refresh --------------------------------------------------------------------------


@dataclass
class RefreshResult:
    items: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


@command("worklist.refresh")
def refresh_worklist(
    session: Session,
    requester: Requester,
    day: date,
    rules: Iterable[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RefreshResult:
    """Recompute the worklist and the quality checks for the requester's scope on `day`.

    Per rule, in a savepoint with a statement timeout: the scope's items of the rule are
    deleted (one statement) and found again (one INSERT … SELECT for a rule written in SQL),
    then the rule's counts per unit subtree are recomputed; the run is kept in check_run.
    The month's scores follow, in SQL."""
    settings = current_settings(session)
    ctx = Context(day=day, settings=settings, scope=requester.scope)
    chosen = [
        rule
        for rule in RULES
        if (rules is None or rule.key in set(rules)) and settings[rule_setting_key(rule.key)]
    ]
    result = RefreshResult()
    in_scope = true() if ctx.scope is UNRESTRICTED else WorkItem.unit_id.in_(units_in(ctx.scope))
    paths = dict(session.execute(select(Unit.id, Unit.path)).all())
    postgresql = session.get_bind().dialect.name == "postgresql"
    for index, rule in enumerate(chosen):
        savepoint = session.begin_nested()
        try:
            if postgresql:
                session.execute(func.set_config("statement_timeout", "60000", True).select())
                # Each rule is one or two statements over the province: compiling them
                # (JIT) costs more than it saves.
                session.execute(func.set_config("jit", "off", True).select())
            count = _store(session, rule, ctx, in_scope, postgresql)
            _store_counts(session, rule.key, paths)
            savepoint.commit()
        except Exception as error:  # noqa: BLE001 - a failing check is reported, not raised
            savepoint.rollback()
            result.failed[rule.key] = f"{type(error).__name__}: {error}"[:2000]
            _record_run(session, rule.key, day, "failed", 0, result.failed[rule.key])
        else:
            result.items[rule.key] = count
            _record_run(session, rule.key, day, "done", count, None)
        if progress is not None:
            progress(index + 1, len(chosen))
    if postgresql:
        session.execute(func.set_config("statement_timeout", "0", True).select())
    _store_scores(session, ctx)
    if postgresql and chosen:
        # Fresh statistics after writing many rows: the pages' plans (an index walked in
        # the list's order) depend on them, and autovacuum may not come for minutes.
        session.execute(text("ANALYZE work_item, work_count"))
    return result


COLUMNS = ("rule", "member_id", "unit_id", "due_on", "details", "found_on", "sort_key")


def _store(session: Session, rule: Rule, ctx: Context, in_scope, postgresql: bool) -> int:
    """Write the rule's items for the scope; the number of items it now has there."""
    found = rule.find(session, ctx)
    items = WorkItem.__table__
    if postgresql and not isinstance(found, Select):
        found = _found_rows(found)
    if isinstance(found, Select):
        rows = found.subquery("found")
        member_id, unit_id, due_on, details_ = rows.c
        query = select(
            literal(rule.key, String).label("rule"),
            member_id.label("member_id"),
            unit_id.label("unit_id"),
            # A NULL due day needs its type on PostgreSQL; SQLite's CAST AS DATE is numeric.
            (cast(due_on, Date) if postgresql else due_on).label("due_on"),
            details_.label("details"),
            literal(ctx.day, Date).label("found_on"),
            Member.sort_key.label("sort_key"),
        ).join(Member, Member.id == member_id)
        if not postgresql:
            session.execute(items.delete().where(items.c.rule == rule.key, in_scope))
            statement = items.insert().from_select(COLUMNS, query)
            return session.execute(statement.execution_options(preserve_rowcount=True)).rowcount
        # A diff in one statement: the items no longer found are deleted, the new ones
        # inserted, the unchanged ones (most, from one night to the next) left alone.
        new = query.cte("new_items")
        old = items.alias("old")

        def same(a, b):
            return and_(
                a.c.member_id == b.c.member_id,
                a.c.unit_id == b.c.unit_id,
                a.c.due_on.is_not_distinct_from(b.c.due_on),
                a.c.sort_key == b.c.sort_key,
                # Both written by the same SQL: the same text when the same.
                cast(a.c.details, Text) == cast(b.c.details, Text),
            )

        gone = (
            items.delete()
            .where(items.c.rule == rule.key, in_scope, ~exists().where(same(new, items)))
            .returning(items.c.id)
            .cte("gone")
        )
        added = select(*(new.c[name] for name in COLUMNS)).where(
            ~exists().where(old.c.rule == rule.key, same(old, new))
        )
        session.execute(items.insert().from_select(COLUMNS, added).add_cte(gone))
        return session.scalar(
            select(func.count()).select_from(items).where(items.c.rule == rule.key, in_scope)
        )
    session.execute(items.delete().where(items.c.rule == rule.key, in_scope))
    count = 0
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        session.execute(items.insert(), batch)
        batch.clear()

    for row in found:
        batch.append(
            {
                "rule": rule.key,
                "member_id": row.member_id,
                "unit_id": row.unit_id,
                "due_on": row.due_on,
                "details": row.details,
                "found_on": ctx.day,
            }
        )
        count += 1
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    if count:
        session.execute(
            items.update()
            .where(items.c.rule == rule.key, items.c.found_on == ctx.day, items.c.sort_key == "")
            .values(
                sort_key=select(Member.sort_key)
                .where(Member.id == items.c.member_id)
                .scalar_subquery()
            )
        )
    return count


# The rule's items per unit subtree in one statement: counted per unit, added up along
# each unit's path ("/1/5/23/": the unit and its ancestors), and written as a diff -- the
# counts gone deleted, the changed ones updated, the same ones (most, night after night)
# left alone, so the table the pages read keeps no dead rows.
COUNTS_SQL = text(
    """
    WITH per_unit AS (
        SELECT unit_id, count(*) AS items FROM work_item WHERE rule = :rule GROUP BY unit_id
    ), counted AS (
        SELECT CAST(part AS INTEGER) AS unit_id, sum(p.items) AS items
        FROM per_unit p JOIN unit u ON u.id = p.unit_id,
             unnest(string_to_array(trim(BOTH '/' FROM u.path), '/')) AS part
        GROUP BY 1
    ), gone AS (
        DELETE FROM work_count c WHERE c.rule = :rule
        AND NOT EXISTS (SELECT 1 FROM counted n WHERE n.unit_id = c.unit_id)
    )
    INSERT INTO work_count (unit_id, rule, items) SELECT unit_id, :rule, items FROM counted
    ON CONFLICT (unit_id, rule) DO UPDATE SET items = excluded.items
    WHERE work_count.items <> excluded.items
    """
)


def _found_rows(found: Iterable[Found]) -> Select:
    """The Found rows of a rule written in Python as a SELECT (one JSON parameter read by
    json_to_recordset), so that they are written as a diff like the rules written in SQL."""
    rows = [
        {
            "member_id": row.member_id,
            "unit_id": row.unit_id,
            "due_on": row.due_on.isoformat() if row.due_on else None,
            "details": row.details,
        }
        for row in found
    ]
    table = (
        func.json_to_recordset(cast(literal(json.dumps(rows, ensure_ascii=False)), JSON))
        .table_valued(
            column("member_id", Integer),
            column("unit_id", Integer),
            column("due_on", Date),
            column("details", JSON),
        )
        .render_derived(name="found_rows", with_types=True)
    )
    return select(table.c.member_id, table.c.unit_id, table.c.due_on, table.c.details)


def _store_counts(session: Session, rule: str, paths: Mapping[int, str]) -> None:
    """The rule's items per unit subtree: on PostgreSQL COUNTS_SQL; elsewhere counted per
    unit in SQL (a few thousand rows) and added up along each unit's path here."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(COUNTS_SQL, {"rule": rule})
        return
    totals: dict[int, int] = defaultdict(int)
    for unit_id, count in session.execute(
        select(WorkItem.unit_id, func.count())
        .where(WorkItem.rule == rule)
        .group_by(WorkItem.unit_id)
    ):
        for part in (paths.get(unit_id) or f"/{unit_id}/").strip("/").split("/"):
            totals[int(part)] += count
    table = WorkCount.__table__
    session.execute(table.delete().where(table.c.rule == rule))
    if totals:
        session.execute(
            table.insert(),
            [{"unit_id": unit, "rule": rule, "items": n} for unit, n in totals.items()],
        )


def _record_run(
    session: Session, rule: str, day: date, state: str, items: int, reason: str | None
) -> None:
    run = session.scalar(select(CheckRun).where(CheckRun.rule == rule))
    if run is None:
        run = CheckRun(rule=rule)
        session.add(run)
    run.as_of, run.state, run.items, run.reason = day, state, items, reason
    run.finished_at = func.now()
    session.flush()


QUALITY_RULES = tuple(rule.key for rule in RULES if rule.kind == QUALITY)


def _store_scores(session: Session, ctx: Context) -> None:
    """Each unit's members on its own rolls and how many have no quality item, for the
    month: the scope's rows of the month replaced by one INSERT … SELECT."""
    month = ctx.day.replace(day=1)
    scores = QualityScore.__table__
    unit_clause = true() if ctx.scope is UNRESTRICTED else scores.c.unit_id.in_(units_in(ctx.scope))
    session.execute(scores.delete().where(scores.c.month == month, unit_clause))
    flagged = (
        select(WorkItem.member_id).where(WorkItem.rule.in_(QUALITY_RULES)).distinct().subquery()
    )
    members = func.count(Member.id)
    query = (
        select(
            Member.unit_id, literal(month, Date), members, members - func.count(flagged.c.member_id)
        )
        .select_from(Member)
        .outerjoin(flagged, flagged.c.member_id == Member.id)
        .where(ctx.members())
        .group_by(Member.unit_id)
    )
    session.execute(scores.insert().from_select(("unit_id", "month", "members", "clean"), query))


# --- Reading --------------------------------------------------------------------------


def score_percent(members: int, clean: int) -> float:
    return 100.0 if members == 0 else round(100.0 * clean / members, 1)


def counted_unit(session: Session, scope: str | None, unit: Unit | None = None) -> Unit | None:
    """The unit whose subtree a page counts: the chosen one, else the scope's own unit, else
    (an Admin) the single root; None when there are several roots (or none)."""
    if unit is not None:
        return unit
    if scope is UNRESTRICTED:
        roots = session.scalars(select(Unit).where(Unit.parent_id.is_(None)).limit(2)).all()
        return roots[0] if len(roots) == 1 else None
    return session.scalar(select(Unit).where(Unit.path == scope)) if scope else None


def rule_counts(session: Session, scope: str | None, unit: Unit | None) -> dict[str, int]:
    """Items per rule in `unit`'s subtree (from counted_unit), or over every root for an
    Admin with several roots: a few rows of work_count, not a count of the items."""
    if unit is not None:
        where = WorkCount.unit_id == unit.id
    elif scope is UNRESTRICTED:
        where = WorkCount.unit_id.in_(select(Unit.id).where(Unit.parent_id.is_(None)))
    else:
        return {}
    return {
        rule: int(items)
        for rule, items in session.execute(
            select(WorkCount.rule, func.sum(WorkCount.items)).where(where).group_by(WorkCount.rule)
        )
    }


def child_counts(session: Session, scope: str | None, unit: Unit | None) -> list[dict[str, Any]]:
    """Per unit just below `unit` (or per root), its subtree's items per rule, in tree order:
    one query over work_count."""
    if unit is not None:
        parent = Unit.parent_id == unit.id
    elif scope is UNRESTRICTED:
        parent = Unit.parent_id.is_(None)
    else:
        return []
    rows: dict[int, dict[str, Any]] = {}
    due_rules = {rule.key for rule in RULES if rule.kind == DUE}
    for unit_id, code, name, rule, items in session.execute(
        select(Unit.id, Unit.code, Unit.name, WorkCount.rule, WorkCount.items)
        .join(WorkCount, WorkCount.unit_id == Unit.id)
        .where(parent)
        .order_by(Unit.sort_path)
    ):
        row = rows.setdefault(unit_id, {"id": unit_id, "code": code, "name": name, "due": 0})
        row[rule] = items
        if rule in due_rules:
            row["due"] += items
    return list(rows.values())
