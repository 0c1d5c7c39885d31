"""Audit entries as a person reads them (issue 13): whom the entry concerns (member number
and name), what was done to which record, and each changed field under the label its
screen uses, dates dd/mm/yyyy, coded values and references by their names. Computed here
for a page of entries at once (a few queries, not one per entry), never in a template."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask import current_app
from flask_appbuilder.api import BaseApi
from flask_babel import format_number, gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, Date, DateTime, inspect, select
from sqlalchemy.orm import Session

from webapp.domain.catalogue_data import CATALOGUES
from webapp.domain.tracking import audited_models
from webapp.labels import (
    ACTIVITY_LABELS,
    AUDIT_ACTION_LABELS,
    BADGE_KIND_LABELS,
    BIRTH_DATE_PRECISION_LABELS,
    CARD_REASON_LABELS,
    CARD_STATE_LABELS,
    COMPLETENESS_LABELS,
    EVENT_KIND_LABELS,
    PROPOSAL_STATE_LABELS,
    RECORD_TYPE_LABELS,
    REPORT_STATE_LABELS,
    SEX_LABELS,
    STATUS_LABELS,
    UNIT_KIND_LABELS,
    format_date,
)
from webapp.messages import translate
from webapp.models import AuditEntry, DangVienUser, DocumentType, Member, Unit
from webapp.reports import REPORTS
from webapp.reports.spec import describe_parameters

# One table of what an entry records and of the kind of record (webapp/labels.py), for
# the log's list and its summaries alike.
ACTION_LABELS = AUDIT_ACTION_LABELS
RECORD_LABELS = RECORD_TYPE_LABELS
# Labels of logged fields that no screen names (the screens' own labels come first), and
# of what download, photo and scan entries carry.
EXTRA_LABELS = {
    "member_id": _l("Party member"),
    "unit_id": _l("Unit"),
    "unit": _l("Unit"),
    "batch_id": _l("Batch"),
    "card_id": _l("Party card"),
    "reason": _l("Reason"),
    "explanation": _l("Explanation"),
    "photo_reference": _l("Photo reference"),
    "state": _l("State"),
    "kind": _l("Kind"),
    "comment": _l("Comment"),
    "milestone": _l("Milestone"),
    "occasion_on": _l("Occasion"),
    "occasion": _l("Occasion"),
    "proposal_id": _l("Proposal"),
    "proposed_by_id": _l("Proposed by"),
    "proposed_at": _l("Proposed at"),
    "decided_by_id": _l("Decided by"),
    "decided_at": _l("Decided at"),
    "issued_by_id": _l("Issued by"),
    "issued_at": _l("Issued at"),
    "recorded_by_id": _l("Recorded by"),
    "recorded_at": _l("Recorded at"),
    "requested_by_id": _l("Requested by"),
    "started_at": _l("Started at"),
    "file_name": _l("File"),
    "merged_into_id": _l("Merged into"),
    "created_by_fk": _l("Created by"),
    "changed_by_fk": _l("Changed by"),
    "totp_enabled": _l("Two-step sign-in"),
    "permissions": _l("Permissions"),
    # Downloads and exports (webapp/domain/audit.py log_download).
    "report": _l("Report"),
    "period": _l("Day or period"),
    "format": _l("Format"),
    "rows": _l("Rows"),
    "file": _l("File"),
    "delegates": _l("Delegates checked"),
    "proposal_ids": _l("Proposals chosen"),
    # Photos and scans (webapp/domain/photos.py, dossier.py).
    "photo": _l("Photo"),
    "size": _l("Size"),
    "box": _l("Crop"),
    "document": _l("Document"),
    "version": _l("Version"),
    "preview": _l("First-page preview"),
    "type": _l("Type of document"),
}
# Technical columns a reader has no use for (they stay in the raw entry on its page).
HIDDEN = {"id", "path", "sort_path", "dedupe_key", "job_id", "file_path", "version_id", "sha256"}
# Coded values by (record type, field); a field named alike elsewhere is another code.
CODED = {
    ("Member", "sex"): SEX_LABELS,
    ("Member", "status"): STATUS_LABELS,
    ("Member", "birth_date_precision"): BIRTH_DATE_PRECISION_LABELS,
    ("Member", "activity"): ACTIVITY_LABELS,
    ("Member", "completeness"): COMPLETENESS_LABELS,
    ("MemberEvent", "kind"): EVENT_KIND_LABELS,
    ("Unit", "kind"): UNIT_KIND_LABELS,
    ("CardProposal", "state"): PROPOSAL_STATE_LABELS,
    ("CardProposal", "reason"): CARD_REASON_LABELS,
    ("CardProposalBatch", "state"): PROPOSAL_STATE_LABELS,
    ("PartyCard", "state"): CARD_STATE_LABELS,
    ("BadgeProposal", "state"): PROPOSAL_STATE_LABELS,
    ("BadgeProposal", "kind"): BADGE_KIND_LABELS,
    ("ReportRun", "state"): REPORT_STATE_LABELS,
}
FORMAT_LABELS = {"pdf": "PDF", "xlsx": "Excel (XLSX)", "csv": "CSV"}
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# Tables a reference is shown by name from; other references show their number.
NAMED_TABLES = ("member", "unit", "ab_user", "document_type")


@dataclass(frozen=True)
class Detail:
    """One line of an entry: a field and its value before and after (an entry that
    creates, downloads or views something has only `after`)."""

    label: str
    before: str | None
    after: str

    def text(self) -> str:
        if self.before is None:
            return f"{self.label}: {self.after}"
        return f"{self.label}: {self.before or '—'} → {self.after or '—'}"


@dataclass(frozen=True)
class Summary:
    action: str
    record: str
    member: str  # "000123TN – Nguyễn Văn An", or "" when the entry concerns no member
    details: list[Detail] = field(default_factory=list)
    member_number: str = ""  # to filter the log by that member

    def text(self, limit: int | None = 4) -> str:
        """The line the audit list shows: the member, then the first `limit` details."""
        shown = self.details if limit is None else self.details[:limit]
        parts = [self.member] if self.member else []
        parts += [detail.text() for detail in shown]
        text = "; ".join(parts)
        if len(shown) < len(self.details):
            text += " " + gettext("(and %(count)s more)", count=len(self.details) - len(shown))
        return text


def _models() -> dict[str, type]:
    return {model.__name__: model for model in audited_models()}


def _screen_labels() -> dict[str, dict[str, Any]]:
    """Record type → field → the label the screens give it (declared labels only, not
    FAB's generated English ones); a screen before an API."""
    cached = current_app.extensions.get("dangvien_audit_labels")
    if cached is not None:
        return cached
    labels: dict[str, dict[str, Any]] = defaultdict(dict)
    views = sorted(current_app.appbuilder.baseviews, key=lambda v: isinstance(v, BaseApi))
    for view in reversed(views):  # screens last, so theirs win
        model = getattr(getattr(view, "datamodel", None), "obj", None)
        if model is None:
            continue
        for key, label in (getattr(view, "label_columns", None) or {}).items():
            if not isinstance(label, str):  # lazy_gettext: declared by us
                labels[model.__name__][key] = label
    current_app.extensions["dangvien_audit_labels"] = labels
    return labels


def field_label(record_type: str | None, key: str) -> str:
    """The label a logged field is shown under: its screen's, else EXTRA_LABELS."""
    screen = _screen_labels().get(record_type or "", {})
    for name in (key, key.removesuffix("_id"), key.removesuffix("_fk")):
        if name in screen:
            return str(screen[name])
    label = EXTRA_LABELS.get(key)
    return str(label) if label is not None else key


def _column(record_type: str | None, key: str):
    model = _models().get(record_type or "")
    return None if model is None else inspect(model).columns.get(key)


def _reference(column) -> str | None:
    for foreign_key in column.foreign_keys if column is not None else ():
        return foreign_key.column.table.name
    return None


def _number(value: Any) -> int | None:
    text = str(value)
    return int(text) if text.isascii() and text.isdigit() else None


class _Names:
    """Names of the members, units, users and document types a page of entries refers
    to, loaded in one query per table."""

    def __init__(self) -> None:
        self.wanted: dict[str, set] = defaultdict(set)
        self.names: dict[tuple[str, Any], str] = {}

    def want(self, table: str, key: Any) -> None:
        number = _number(key) if table != "document_type_code" else key
        if number is not None:
            self.wanted[table].add(number)

    def load(self, session: Session) -> None:
        if ids := self.wanted.get("member"):
            for member in session.scalars(select(Member).where(Member.id.in_(ids))):
                self.names["member", member.id] = f"{member.member_number} – {member.display_name}"
        if ids := self.wanted.get("unit"):
            for row in session.execute(
                select(Unit.id, Unit.code, Unit.name).where(Unit.id.in_(ids))
            ):
                self.names["unit", row.id] = f"{row.code} – {row.name}"
        if ids := self.wanted.get("ab_user"):
            for row in session.execute(
                select(DangVienUser.id, DangVienUser.username).where(DangVienUser.id.in_(ids))
            ):
                self.names["ab_user", row.id] = row.username
        if ids := self.wanted.get("document_type"):
            for row in session.execute(
                select(DocumentType.id, DocumentType.name).where(DocumentType.id.in_(ids))
            ):
                self.names["document_type", row.id] = row.name
        if codes := self.wanted.get("document_type_code"):
            for row in session.execute(
                select(DocumentType.code, DocumentType.name).where(DocumentType.code.in_(codes))
            ):
                self.names["document_type_code", row.code] = row.name

    def name(self, table: str, key: Any) -> str:
        number = _number(key) if table != "document_type_code" else key
        found = self.names.get((table, number))
        return found if found is not None else f"#{key}"


def _parse(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        values = json.loads(raw)
    except ValueError:
        return {}
    return values if isinstance(values, dict) else {}


def _is_download(entry: AuditEntry) -> bool:
    return entry.action in ("download", "export")


def _references(entry: AuditEntry, values: Mapping[str, Any], names: _Names) -> None:
    for key, value in values.items():
        if value is None:
            continue
        if _is_download(entry) and key == "unit_id":
            names.want("unit", value)
        elif key == "type" and entry.action.startswith("document_"):
            names.want("document_type_code", value)
        elif (table := _reference(_column(entry.object_type, key))) in NAMED_TABLES:
            names.want(table, value)


def _yes_no(value: Any) -> str:
    return gettext("Yes") if str(value) in ("True", "true", "1") else gettext("No")


def display_value(record_type: str | None, key: str, value: Any, names: _Names) -> str:
    """A logged value as the screens show it."""
    if value is None or value == "":
        return ""
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if (record_type, key) == ("CatalogueEntry", "kind") and value in CATALOGUES:
        return CATALOGUES[value].title_vi  # the national catalogue's own name
    if (record_type, key) == ("ReportRun", "report"):
        from webapp.reports import REPORTS

        spec = REPORTS.get(value)
        return translate(spec.title) if spec else str(value)
    coded = CODED.get((record_type or "", key))
    if coded is not None:
        return str(coded.get(value, value))
    column = _column(record_type, key)
    table = _reference(column)
    if table in NAMED_TABLES:
        return names.name(table, value)
    if table is not None:
        return f"#{value}"
    kind = column.type if column is not None else None
    text = str(value)
    try:
        if isinstance(kind, DateTime):
            return datetime.fromisoformat(text).strftime("%d/%m/%Y %H:%M")
        if isinstance(kind, Date) or (kind is None and ISO_DAY.fullmatch(text)):
            return format_date(date.fromisoformat(text[:10]))
    except ValueError:
        return text
    if isinstance(kind, Boolean) or isinstance(value, bool):
        return _yes_no(value)
    return text


def _download_details(values: Mapping[str, Any], names: _Names) -> list[Detail]:
    details = []
    report = values.get("report")
    spec = REPORTS.get(report)
    details.append(
        Detail(field_label(None, "report"), None, translate(spec.title) if spec else str(report))
    )
    if values.get("unit_id") is not None:
        details.append(
            Detail(field_label(None, "unit"), None, names.name("unit", values["unit_id"]))
        )
    elif values.get("unit"):
        details.append(Detail(field_label(None, "unit"), None, str(values["unit"])))
    if period := describe_parameters(values):
        details.append(Detail(field_label(None, "period"), None, period))
    shown = {"report", "unit", "unit_id", "as_of", "from", "to", "format", "rows", "file"}
    for key, value in values.items():
        if key not in shown and value is not None:
            details.append(
                Detail(field_label(None, key), None, display_value(None, key, value, names))
            )
    output_format = values.get("format")
    details.append(
        Detail(
            field_label(None, "format"), None, FORMAT_LABELS.get(output_format, str(output_format))
        )
    )
    if values.get("rows") is not None:
        details.append(Detail(field_label(None, "rows"), None, format_number(values["rows"])))
    if values.get("file"):
        details.append(Detail(field_label(None, "file"), None, str(values["file"])))
    return details


def _member_of(entry: AuditEntry, before: Mapping, after: Mapping, names: _Names) -> str:
    member_id = entry.member_id
    if member_id is None and entry.object_type == "Member":
        member_id = _number(entry.object_id)
    if member_id is None:
        return ""
    found = names.names.get(("member", member_id))
    if found is not None:
        return found
    # A deleted member's number and name are in the entry itself.
    values = {**after, **before} if entry.object_type == "Member" else {}
    if values.get("member_number"):
        name = values.get("name_in_use") or values.get("birth_name") or ""
        return f"{values['member_number']} – {name}"
    return names.name("member", member_id)


def summarise(session: Session, entries: Iterable[AuditEntry]) -> dict[int, Summary]:
    """Entry id → its Summary, for a page of entries (one query per referenced table)."""
    entries = list(entries)
    names = _Names()
    parsed = {}
    for entry in entries:
        before, after = _parse(entry.before), _parse(entry.after)
        parsed[entry.id] = (before, after)
        if entry.member_id is not None:
            names.want("member", entry.member_id)
        elif entry.object_type == "Member":
            names.want("member", entry.object_id)
        _references(entry, before, names)
        _references(entry, after, names)
    names.load(session)
    summaries = {}
    for entry in entries:
        before, after = parsed[entry.id]
        record_type = entry.object_type
        if _is_download(entry):
            details = _download_details(after, names)
        else:
            details = []
            update = entry.action == "update"
            for key in dict.fromkeys([*before, *after]) if update else (after or before):
                if key in HIDDEN or (key == "member_id" and entry.member_id is not None):
                    continue
                new = display_value(record_type, key, after.get(key), names)
                if update:
                    old = display_value(record_type, key, before.get(key), names)
                    details.append(Detail(field_label(record_type, key), old, new))
                else:
                    value = after.get(key) if after else before.get(key)
                    shown = display_value(record_type, key, value, names)
                    if shown:
                        details.append(Detail(field_label(record_type, key), None, shown))
        member = _member_of(entry, before, after, names)
        summaries[entry.id] = Summary(
            action=str(ACTION_LABELS.get(entry.action, entry.action)),
            record=str(RECORD_LABELS.get(record_type, record_type or "")),
            member=member,
            details=details,
            member_number=member.split(" – ", 1)[0] if " – " in member else "",
        )
    return summaries
