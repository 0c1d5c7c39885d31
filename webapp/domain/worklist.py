"""The clerk's worklist and the data-quality checks (issue "The clerk's morning").

Each check is one entry of RULES: a key, whether it says what is *due* or what is *wrong*
(quality), a severity, the regulation or form it comes from, and a function that finds the
members it applies to with a few SQL queries (in batches, never one query per member).
Adding a check is adding one entry. `refresh_worklist` runs every rule that is on for the
requester's scope and keeps what it found in `work_item`, the last run of each rule in
`check_run`, and each unit's score for the month in `quality_score`; pages read those
tables. A rule that fails (an error, a statement timeout) is kept as a failed run with its
reason; the others still run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, not_, or_, select, true
from sqlalchemy.orm import Session, aliased

from webapp.domain.badge_eligibility import add_months
from webapp.domain.cards import CARD_NUMBER_PATTERN
from webapp.domain.commands import Requester, command
from webapp.domain.completeness import FOUR_PAGE
from webapp.domain.errors import N_, ValidationFailed
from webapp.domain.ledger import EventKind
from webapp.domain.scope import UNRESTRICTED, units_in
from webapp.domain.vietnamese import fold
from webapp.models.badges import BadgeProposal, BadgeProposalState
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
from webapp.models.unit import Unit
from webapp.models.worklist import CheckRun, QualityScore, WorkItem, WorklistSetting

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
    find: Callable[[Session, Context], Iterable[Found]]
    # What resolves the item on screen: "event", "supplement", "card", "badge", "member",
    # "photo", "dossier" (the view maps it to a link).
    action: str = "member"


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


def supplement_missing(session: Session, ctx: Context) -> Iterator[Found]:
    year = ctx.day.year
    rows = session.execute(
        select(Member.id, Member.unit_id).where(
            ctx.members(),
            Member.admitted_on < date(year, 1, 1),
            ~exists().where(MemberSupplement.member_id == Member.id, MemberSupplement.year == year),
        )
    )
    for member_id, unit_id in rows:
        yield Found(member_id, unit_id, date(year, 12, 31), {"year": year})


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


def badge_occasion(session: Session, ctx: Context) -> Iterator[Found]:
    from webapp.domain.badges import badge_round, next_occasion_after

    occasion = next_occasion_after(session, ctx.day - timedelta(days=1))
    if occasion is None:
        return
    for root in _roots(session, ctx.scope):
        for row in badge_round(session, root, occasion):
            member = row.member
            if row.proposed or member.status not in ON_THE_ROLLS:
                continue
            yield Found(
                member.id,
                member.unit_id,
                occasion,
                {"milestone": row.eligibility.milestone},
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


def incomplete_record(session: Session, ctx: Context) -> Iterator[Found]:
    rows = session.execute(
        select(Member.id, Member.unit_id, Member.missing_fields).where(
            ctx.members(), or_(Member.completeness.is_(None), Member.completeness != FOUR_PAGE)
        )
    )
    for member_id, unit_id, missing in rows:
        fields = [name for name in (missing or "").split(",") if name]
        yield Found(member_id, unit_id, None, {"fields": fields})


def documents_missing(session: Session, ctx: Context) -> Iterator[Found]:
    required = session.execute(
        select(DocumentType.id, DocumentType.name).where(
            DocumentType.required.is_(True), DocumentType.active.is_(True)
        )
    ).all()
    missing: dict[tuple[int, int], list[str]] = defaultdict(list)
    for type_id, name in required:
        scanned = (
            select(MemberDocument.member_id)
            .join(MemberDocumentVersion, MemberDocumentVersion.document_id == MemberDocument.id)
            .where(MemberDocument.type_id == type_id, MemberDocumentVersion.state == FileState.DONE)
        )
        for member_id, unit_id in session.execute(
            select(Member.id, Member.unit_id).where(ctx.members(), Member.id.not_in(scanned))
        ):
            missing[(member_id, unit_id)].append(name)
    for (member_id, unit_id), names in missing.items():
        yield Found(member_id, unit_id, None, {"documents": names})


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
    rows = session.execute(
        select(
            Member.id,
            Member.unit_id,
            Member.birth_date,
            Member.admitted_on,
            Member.official_on,
            Member.youth_union_on,
        ).where(ctx.members())
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


def dissolved_unit(session: Session, ctx: Context) -> Iterator[Found]:
    rows = session.execute(
        select(Member.id, Member.unit_id, Unit.code)
        .join(Unit, Unit.id == Member.unit_id)
        .where(ctx.members(), Unit.dissolved_on.is_not(None))
    )
    for member_id, unit_id, code in rows:
        yield Found(member_id, unit_id, None, {"unit": code})


def no_photo(session: Session, ctx: Context) -> Iterator[Found]:
    has_photo = exists().where(
        MemberPhoto.member_id == Member.id,
        MemberPhoto.current.is_(True),
    )
    for member_id, unit_id in session.execute(
        select(Member.id, Member.unit_id).where(ctx.members(), not_(has_photo))
    ):
        yield Found(member_id, unit_id)


def card_number_format(session: Session, ctx: Context) -> Iterator[Found]:
    rows = session.execute(
        select(Member.id, Member.unit_id, Member.card_number).where(
            ctx.members(), Member.card_number.is_not(None)
        )
    )
    for member_id, unit_id, number in rows:
        if not CARD_NUMBER_PATTERN.match(number):
            yield Found(member_id, unit_id, None, {"number": number})


def events_out_of_order(session: Session, ctx: Context) -> Iterator[Found]:
    starts = (
        select(MemberEvent.member_id, func.min(MemberEvent.effective_on).label("first_on"))
        .where(MemberEvent.kind == EventKind.ADMISSION)
        .group_by(MemberEvent.member_id)
        .subquery()
    )
    rows = session.execute(
        select(Member.id, Member.unit_id, func.count(MemberEvent.id))
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
    for member_id, unit_id, count in rows:
        yield Found(member_id, unit_id, None, {"events": count})


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
    """Recompute the worklist and the quality checks for the requester's scope on `day`."""
    settings = current_settings(session)
    ctx = Context(day=day, settings=settings, scope=requester.scope)
    chosen = [
        rule
        for rule in RULES
        if (rules is None or rule.key in set(rules)) and settings[rule_setting_key(rule.key)]
    ]
    result = RefreshResult()
    in_scope = true() if ctx.scope is UNRESTRICTED else WorkItem.unit_id.in_(units_in(ctx.scope))
    for index, rule in enumerate(chosen):
        savepoint = session.begin_nested()
        try:
            if session.get_bind().dialect.name == "postgresql":
                session.execute(func.set_config("statement_timeout", "60000", True).select())
            session.execute(delete(WorkItem).where(WorkItem.rule == rule.key, in_scope))
            count = _store(session, rule, ctx)
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
    _store_scores(session, ctx)
    return result


def _store(session: Session, rule: Rule, ctx: Context) -> int:
    count = 0
    batch: list[dict[str, Any]] = []
    for found in rule.find(session, ctx):
        batch.append(
            {
                "rule": rule.key,
                "member_id": found.member_id,
                "unit_id": found.unit_id,
                "due_on": found.due_on,
                "details": found.details,
                "found_on": ctx.day,
            }
        )
        if len(batch) >= BATCH:
            session.execute(WorkItem.__table__.insert(), batch)
            count += len(batch)
            batch = []
    if batch:
        session.execute(WorkItem.__table__.insert(), batch)
        count += len(batch)
    return count


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
    """Each unit's members on its own rolls and how many have no quality item."""
    month = ctx.day.replace(day=1)
    members = dict(
        session.execute(
            select(Member.unit_id, func.count(Member.id))
            .where(ctx.members())
            .group_by(Member.unit_id)
        ).all()
    )
    flagged = dict(
        session.execute(
            select(WorkItem.unit_id, func.count(func.distinct(WorkItem.member_id)))
            .join(Member, Member.id == WorkItem.member_id)
            .where(WorkItem.rule.in_(QUALITY_RULES), ctx.members())
            .group_by(WorkItem.unit_id)
        ).all()
    )
    existing = {
        score.unit_id: score
        for score in session.scalars(
            select(QualityScore).where(
                QualityScore.month == month, QualityScore.unit_id.in_(list(members) or [-1])
            )
        )
    }
    for unit_id, count in members.items():
        clean = count - flagged.get(unit_id, 0)
        score = existing.get(unit_id)
        if score is None:
            session.add(QualityScore(unit_id=unit_id, month=month, members=count, clean=clean))
        else:
            score.members, score.clean = count, clean
    session.flush()


# --- Reading --------------------------------------------------------------------------


def score_percent(members: int, clean: int) -> float:
    return 100.0 if members == 0 else round(100.0 * clean / members, 1)
