"""The clerk's worklist and the data-quality scores: thin screens over the tables the
refresh job fills (webapp/domain/worklist.py decides what is due or wrong)."""

from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from webapp.domain.errors import DomainError, ValidationFailed
from webapp.domain.scope import scope_clause
from webapp.domain.worklist import (
    DUE,
    QUALITY,
    RULES,
    RULES_BY_KEY,
    THRESHOLDS,
    child_counts,
    configure_worklist,
    counted_unit,
    current_settings,
    rule_counts,
    rule_setting_key,
    score_percent,
)
from webapp.extensions import db
from webapp.labels import MEMBER_COLUMNS, format_date
from webapp.messages import translated_field_errors
from webapp.models.unit import Unit
from webapp.models.worklist import CheckRun, QualityScore, WorkItem
from webapp.security import current_requester
from webapp.views.adapters import flash_domain_error

PAGE_SIZE = 50
SEVERITY_LABELS = {"high": _l("High"), "medium": _l("Medium"), "low": _l("Low")}
PROBLEM_LABELS = {
    "birth_future": _l("birth date in the future"),
    "admission_future": _l("admission date in the future"),
    "admitted_under_18": _l("admitted before the age of 18"),
    "official_before_admission": _l("official before admission"),
    "youth_union_before_birth": _l("Youth Union date before birth"),
}


def describe(item: WorkItem) -> str:
    """The item's details as a sentence in the user's language."""
    details = item.details or {}
    rule = item.rule
    if rule == "probation_ending":
        text = gettext("Probation ends on %(day)s", day=format_date(item.due_on))
        return text + (" — " + gettext("overdue") if details.get("overdue") else "")
    if rule == "badge_occasion":
        return gettext(
            "%(years)s-year badge on %(day)s",
            years=details.get("milestone"),
            day=format_date(item.due_on),
        )
    if rule == "proposals_waiting":
        what = gettext("Card") if details.get("what") == "card" else gettext("Badge")
        since = date.fromisoformat(details["since"]) if details.get("since") else None
        return gettext("%(what)s proposal waiting since %(day)s", what=what, day=format_date(since))
    if rule == "transfer_unconfirmed":
        since = date.fromisoformat(details["since"]) if details.get("since") else None
        return gettext(
            "Transferred out on %(day)s to %(to)s; no arrival recorded",
            day=format_date(since),
            to=details.get("to") or "—",
        )
    if rule == "temporary_transfer_long":
        since = date.fromisoformat(details["since"]) if details.get("since") else None
        return gettext("On a temporary transfer since %(day)s", day=format_date(since))
    if rule == "supplement_missing":
        return gettext("No supplement for %(year)s", year=details.get("year"))
    if rule == "birthdays":
        return gettext(
            "%(age)s years old on %(day)s", age=details.get("age"), day=format_date(item.due_on)
        )
    if rule == "incomplete_record":
        names = [str(MEMBER_COLUMNS.get(name, name)) for name in details.get("fields", [])]
        return gettext("Missing: %(fields)s", fields=", ".join(names)) if names else ""
    if rule == "documents_missing":
        return gettext("Missing: %(fields)s", fields=", ".join(details.get("documents", [])))
    if rule == "duplicate_person":
        return gettext("%(count)s other record(s) alike", count=details.get("others", 0))
    if rule == "impossible_dates":
        return "; ".join(str(PROBLEM_LABELS.get(p, p)) for p in details.get("problems", []))
    if rule == "dissolved_unit":
        return gettext("Unit %(code)s is dissolved", code=details.get("unit", ""))
    if rule == "card_number_format":
        return gettext("Card number %(number)s", number=details.get("number", ""))
    if rule == "events_out_of_order":
        return gettext("%(count)s event(s) out of order", count=details.get("events", 0))
    return ""


def action_link(item: WorkItem) -> tuple[str, str] | None:
    """Where the item is resolved: (label, url)."""
    action = RULES_BY_KEY[item.rule].action if item.rule in RULES_BY_KEY else "member"
    member_id = item.member_id
    if action == "event":
        return gettext("Record the event"), url_for("MemberEventView.record", member_id=member_id)
    if action == "supplement":
        return gettext("Record the supplement"), url_for(
            "MemberSupplementView.apply", member_id=member_id
        )
    if action == "badge":
        occasion = item.due_on.isoformat() if item.due_on else None
        return gettext("Badge round"), url_for("BadgeRoundView.round", occasion=occasion)
    return gettext("Open the record"), url_for("MemberModelView.show", pk=member_id)


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    if not value:
        return None
    if not (value.isascii() and value.isdigit() and len(value) < 10):
        abort(404)
    return int(value)


class WorklistView(BaseView):
    route_base = "/worklist"
    default_view = "items"
    base_permissions = ["can_list", "can_refresh", "can_settings"]

    @expose("/")
    @has_access
    @permission_name("list")
    def items(self):
        scope = current_requester().scope
        rule_key = request.args.get("rule") or None
        if rule_key is not None and rule_key not in RULES_BY_KEY:
            abort(404)
        unit_id = _int_arg("unit")
        page = _int_arg("page") or 1
        unit = None
        if unit_id is not None:
            unit = db.session.scalar(
                select(Unit).where(Unit.id == unit_id, scope_clause(Unit, scope))
            )
            if unit is None:
                abort(404)  # a tampered unit: no other scope's items, not even a count
        counted = counted_unit(db.session, scope, unit)
        # Counts per rule and per unit below: a few rows the refresh keeps (work_count).
        counts = rule_counts(db.session, scope, counted)
        units = child_counts(db.session, scope, counted)
        runs = {run.rule: run for run in db.session.scalars(select(CheckRun))}
        if counted is not None:
            where = WorkItem.unit_id.in_(
                select(Unit.id).where(Unit.path.startswith(counted.path, autoescape=True))
            )
        else:
            where = scope_clause(WorkItem, scope)
        query = select(WorkItem).where(where)
        if rule_key:
            query = query.where(WorkItem.rule == rule_key)
            total = counts.get(rule_key, 0)
        else:
            total = sum(counts.values())
        # One page in the list's order, on an index of work_item; members and units loaded
        # with it (no query per item).
        items = db.session.scalars(
            query.options(joinedload(WorkItem.member), joinedload(WorkItem.unit))
            .order_by(WorkItem.due_on.asc().nulls_last(), WorkItem.sort_key, WorkItem.id)
            .limit(PAGE_SIZE)
            .offset((page - 1) * PAGE_SIZE)
        ).all()
        titles = {rule.key: gettext(rule.title) for rule in RULES}
        for row in units:  # the table's cells in the rules' order, read once per row
            row["cells"] = [(rule.key, row.get(rule.key)) for rule in RULES]
        return self.render_template(
            "worklist/items.html",
            title=gettext("Worklist"),
            rules=RULES,
            due=[r for r in RULES if r.kind == DUE],
            quality=[r for r in RULES if r.kind == QUALITY],
            counts=counts,
            runs=runs,
            items=[
                (item, titles.get(item.rule, item.rule), describe(item), action_link(item))
                for item in items
            ],
            total=total,
            page=page,
            pages=max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE),
            rule_key=rule_key,
            unit=unit,
            units=units,
            severity_labels=SEVERITY_LABELS,
            format_date=format_date,
            may_refresh=self.appbuilder.sm.has_access("can_refresh", "WorklistView"),
        )

    @expose("/refresh", methods=["POST"])
    @has_access
    @permission_name("refresh")
    def refresh(self):
        from jobs.worklist import queue_refresh

        requester = current_requester()
        if not requester.may("worklist.refresh"):
            flash(gettext("You may not do this."), "danger")
        else:
            queue_refresh(requester.user_id)
            flash(
                gettext("The worklist is being recomputed; refresh the page in a moment."), "info"
            )
        return redirect(url_for("WorklistView.items"))

    @expose("/quality")
    @has_access
    @permission_name("list")
    def quality(self):
        scope = current_requester().scope
        months = [
            m
            for (m,) in db.session.execute(
                select(QualityScore.month)
                .where(scope_clause(QualityScore, scope))
                .distinct()
                .order_by(QualityScore.month.desc())
                .limit(12)
            )
        ][::-1]
        rows: dict[int, dict] = {}
        for score, code, name in db.session.execute(
            select(QualityScore, Unit.code, Unit.name)
            .join(Unit, Unit.id == QualityScore.unit_id)
            .where(scope_clause(QualityScore, scope), QualityScore.month.in_(months or [None]))
        ):
            row = rows.setdefault(score.unit_id, {"id": score.unit_id, "code": code, "name": name})
            row[score.month] = (score_percent(score.members, score.clean), score.members)
        return self.render_template(
            "worklist/quality.html",
            title=gettext("Data quality by unit"),
            months=months,
            rows=sorted(rows.values(), key=lambda r: r["code"]),
        )

    @expose("/settings", methods=["GET", "POST"])
    @has_access
    @permission_name("settings")
    def settings(self):
        requester = current_requester()
        if request.method == "POST":
            values = {}
            for key in THRESHOLDS:
                text = request.form.get(key, "").strip()
                ok = text.isascii() and text.isdigit() and len(text) < 6
                values[key] = int(text) if ok else -1
            for rule in RULES:
                key = rule_setting_key(rule.key)
                values[key] = 1 if request.form.get(key) == "1" else 0

            def save():
                configure_worklist(db.session, requester, values)

            try:
                save()
            except ValidationFailed as error:
                for key, messages in translated_field_errors(error.errors).items():
                    label = THRESHOLDS[key].label if key in THRESHOLDS else key
                    for message in messages:
                        flash(f"{gettext(label)}: {message}", "danger")
            except DomainError as error:
                flash_domain_error(error)
            else:
                flash(gettext("The settings are saved."), "success")
                return redirect(url_for("WorklistView.settings"))
        return self.render_template(
            "worklist/settings.html",
            title=gettext("Worklist settings"),
            thresholds=THRESHOLDS.values(),
            rules=RULES,
            settings=current_settings(db.session),
            rule_setting_key=rule_setting_key,
            severity_labels=SEVERITY_LABELS,
        )
