"""What every report declares, and the checking of its parameters."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from webapp.domain.dates import date_or_none, parse_date
from webapp.domain.errors import N_, FieldErrors, ValidationFailed

ProgressCallback = Callable[[int], None]

# Added by the worker to the parameters a report is rendered with (never stored on the
# run): the unit path the requester may see, None for everything.
REQUESTER_SCOPE = "requester_scope"

# What a report is computed over.
AS_OF = "as_of"  # a single day: the rolls on that day
PERIOD = "period"  # from–to, both days included
NOW = "now"  # the records as they are today (no day to choose)


@dataclass(frozen=True)
class ReportSpec:
    name: str  # as in the CLI: `flask report NAME`
    title: str  # msgid of the title shown in the UI
    formats: tuple[str, ...]
    # render(session, unit, parameters, output_format, path, progress) -> row count; every
    # report's is `webapp.reports.render.renders(build)`, build giving the report as data.
    render: Callable[..., int]
    file_stem: str
    period: str = AS_OF
    takes_delegates: bool = False  # needs a delegate list (congress support)
    # Checks the report's own parameters (a card batch, chosen rows, a badge occasion) and
    # returns them, or raises ValidationFailed.
    check_extra: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None
    # Checks what those parameters name against the database once the unit is known to be
    # in the requester's scope: check_selection(session, unit, parameters) raises a
    # DomainError (e.g. a chosen member outside the unit's subtree), nothing is queued.
    check_selection: Callable[..., None] | None = None
    listed: bool = True  # offered on the report request screen

    def file_name(self, unit_code: str, output_format: str) -> str:
        return f"{self.file_stem}_{unit_code}.{output_format}"


def parse_day(value: Any) -> date | None:
    """A date from dd/mm/yyyy or ISO text (the domain parser); None if it is neither."""
    return date_or_none(value)


def check_parameters(spec: ReportSpec, raw: Mapping[str, Any], today: date) -> dict[str, Any]:
    """The run's parameters (ISO dates) from what a form, the API or the CLI sent.

    Missing dates default to today (as-of) or 1 January to today (period); dates that do
    not parse, future dates and a start after the end are refused field by field."""
    errors = FieldErrors()

    def day_of(field: str, default: date) -> date | None:
        try:
            day = parse_date(raw.get(field), field)
        except ValidationFailed as error:
            for message, params in error.errors[field]:
                errors.add(field, message, **params)
            return None
        if day is None:
            return default
        if day > today:
            errors.add(field, N_("The date cannot be in the future."))
        return day

    if spec.period == NOW:
        return {}
    if spec.period == PERIOD:
        start = day_of("from", date(today.year, 1, 1))
        end = day_of("to", today)
        if not errors and start > end:
            errors.add("to", N_("The end of the period is before its start."))
        errors.raise_if_any()
        return {"from": start.isoformat(), "to": end.isoformat()}
    as_of = day_of("as_of", today)
    errors.raise_if_any()
    return {"as_of": as_of.isoformat()}


def describe_parameters(parameters: Mapping[str, Any]) -> str:
    """ "tính đến ngày 31/12/2026" or "từ ngày 01/01/2026 đến ngày 30/06/2026"."""
    if "from" in parameters:
        start, end = date.fromisoformat(parameters["from"]), date.fromisoformat(parameters["to"])
        return f"từ ngày {start:%d/%m/%Y} đến ngày {end:%d/%m/%Y}"
    if "as_of" in parameters:
        return f"tính đến ngày {date.fromisoformat(parameters['as_of']):%d/%m/%Y}"
    return ""
