"""The audit log screen: Admins browse and filter it; nobody edits it."""

from __future__ import annotations

import json

from flask import abort, request
from flask_appbuilder import expose, has_access
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l

from webapp.domain.audit import LogFilter, members_matching, search_log
from webapp.domain.dates import parse_date
from webapp.domain.errors import ValidationFailed
from webapp.domain.text import without_disallowed
from webapp.extensions import db
from webapp.labels import (
    AUDIT_ACTION_LABELS,
    RECORD_TYPE_LABELS,
    format_stored_value,
    format_yes_no,
    label_for,
)
from webapp.messages import translated_field_errors
from webapp.models.audit import AuditEntry
from webapp.views.audit_summary import ACTION_LABELS, summarise
from webapp.views.base import DangVienModelView

ACTION_GROUP_LABELS = {"seen": _l("Viewed or downloaded members' data")}
FILTER_FIELDS = ("member", "user", "action", "from", "to")


def format_recorded_values(text: str | None) -> str:
    """The JSON an entry keeps, one "field: value" a line (dates dd/mm/yyyy, lists joined,
    empty values blank), not raw JSON with Python's lists."""
    if not text:
        return ""
    try:
        values = json.loads(text)
    except ValueError:
        return text
    if not isinstance(values, dict):
        return text

    def shown(value) -> str:
        if isinstance(value, list):
            return ", ".join(shown(one) for one in value)
        if isinstance(value, bool):
            return format_yes_no(value)
        return format_stored_value(None if value is None else str(value))

    return "\n".join(f"{key}: {shown(value)}" for key, value in values.items())


def format_timestamp(value) -> str:
    return value.strftime("%d/%m/%Y %H:%M:%S") if value else ""


def _key(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else None


class AuditEntryView(DangVienModelView):
    datamodel = SQLAInterface(AuditEntry)
    list_title = _l("Audit log")
    show_title = _l("Audit log entry")
    base_permissions = ["can_list", "can_show"]
    page_size = 50
    base_order = ("id", "desc")
    list_columns = ["at", "username", "address", "action", "object_type", "object_id"]
    show_columns = [
        "at",
        "username",
        "user_id",
        "address",
        "action",
        "object_type",
        "object_id",
        "before",
        "after",
        "prev_hash",
        "hash",
    ]
    search_columns = ["at", "username", "action", "object_type", "object_id", "address"]
    label_columns = {
        "at": _l("Time"),
        "username": _l("User"),
        "user_id": _l("User id"),
        "address": _l("Address"),
        "action": _l("Action"),
        "object_type": _l("Record type"),
        "object_id": _l("Record id"),
        "before": _l("Before"),
        "after": _l("After"),
        "prev_hash": _l("Previous hash"),
        "hash": _l("Hash"),
    }
    formatters_columns = {
        "at": format_timestamp,
        "action": lambda action: label_for(AUDIT_ACTION_LABELS, action),
        "object_type": lambda kind: label_for(RECORD_TYPE_LABELS, kind),
        "before": format_recorded_values,
        "after": format_recorded_values,
    }

    @expose("/list/")
    @has_access
    def list(self):
        """The log newest first, narrowed by member (number or name), user, action and
        days, with each entry's summary; paged by id, so page 4,000 costs what page 1 does."""
        typed = {
            name: without_disallowed(request.args.get(name, "")).strip()[:120]
            for name in FILTER_FIELDS
        }
        errors: dict[str, list[str]] = {}
        days = {}
        for name in ("from", "to"):
            try:
                days[name] = parse_date(typed[name], name)
            except ValidationFailed as error:
                errors.update(translated_field_errors(error.errors))
        actions = {**ACTION_LABELS, **ACTION_GROUP_LABELS}
        if typed["action"] and typed["action"] not in actions:
            typed["action"] = ""
        member_ids = members_matching(db.session, typed["member"]) if typed["member"] else None
        page = None
        if not errors and member_ids != []:
            wanted = LogFilter(
                member_ids=tuple(member_ids) if member_ids is not None else None,
                username=typed["user"] or None,
                action=typed["action"] or None,
                start=days["from"],
                end=days["to"],
            )
            page = search_log(
                db.session, wanted, before=_key("before"), after=_key("after"), size=self.page_size
            )
        entries = page.entries if page else []
        return self.render_template(
            "audit/list.html",
            title=self.list_title,
            typed=typed,
            errors=errors,
            no_member=member_ids == [],
            filtered=any(typed.values()),
            actions=[(key, str(label)) for key, label in actions.items()],
            entries=entries,
            summaries=summarise(db.session, entries),
            page=page,
            filters={name: value for name, value in typed.items() if value},
            format_timestamp=format_timestamp,
        )

    @expose("/show/<pk>")
    @has_access
    def show(self, pk):
        key = str(pk)
        entry = db.session.get(AuditEntry, int(key)) if key.isdigit() and len(key) < 10 else None
        if entry is None:
            abort(404)
        return self.render_template(
            "audit/show.html",
            title=_l("Audit entry"),
            entry=entry,
            summary=summarise(db.session, [entry])[entry.id],
            labels=self.label_columns,
            technical=[
                "user_id",
                "object_type",
                "object_id",
                "before",
                "after",
                "prev_hash",
                "hash",
            ],
            format_timestamp=format_timestamp,
        )
