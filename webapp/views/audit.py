"""The audit log screen: Admins browse and filter it; nobody edits it."""

from __future__ import annotations

import json

from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l

from webapp.labels import (
    AUDIT_ACTION_LABELS,
    RECORD_TYPE_LABELS,
    format_stored_value,
    format_yes_no,
    label_for,
)
from webapp.models.audit import AuditEntry
from webapp.views.base import DangVienModelView


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
