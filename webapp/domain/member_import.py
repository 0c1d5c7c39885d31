"""Importing members from a spreadsheet (issue 16): a dry run that shows what every row
would do, then a commit of exactly that, all or nothing.

There is no second copy of the member form's rules here. Each row, once its cells are
read (dates by the one date parser, text by the one text rule), is checked by the very
functions the commands use, with the importing clerk's requester and scope:
`member_problems` (the form's rules; `create_member` and `edit_member` call it),
`check_editable`, `plan_opening` (the checks `record_event` makes of the opening events:
admission and, when dated, official recognition, with the ledger replay), `check_card_entry`
(`record_card`'s) and `row_problems` (`add_member_row`'s). What those functions read from
the database (catalogues, units in scope, members holding a number, citizen ID or card)
is loaded once for the file by IN lists (`ImportLookups`), and a row that passes takes its
unique values, so a duplicate that only the second of two rows reveals is found as if the
first had been written.

The *dry run* writes nothing (no row, no audit entry, so no lock other clerks wait for).
The *commit* (`import.commit`) checks the rows again in the same way, a chunk at a time,
and writes each chunk in the one transaction of the command: new members, their opening
events and periods in bulk (the columns computed by the functions `create_member` and
`record_event` use), with their audit entries written at once; edits of stored members
in bulk too (one UPDATE a chunk: what `edit_member`'s flush writes through the hooks,
field history and audit entries included), and cards as `record_card` records them
(the registry's rows, the record's copy). It stops at the first refusal, so a file is
imported whole or not at all; it refuses too when the plan differs from the dry run the
clerk saw (the database changed in between), and then the new plan is what the clerk
sees next.

Rows are matched to members in the requester's scope by member number, then by citizen
ID. A blank cell is "not given" (it never erases a stored value), so importing a file
twice changes nothing the second time. Identifiers that a spreadsheet stored as numbers
(a citizen ID shown as 1.0E+11, a member number that lost its leading zeros) are refused
rather than saved wrong.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, inspect, or_, select, text
from sqlalchemy.orm import Session

from webapp.domain import audit
from webapp.domain.bulk import among, insert_rows, update_rows
from webapp.domain.cards import check_card_entry, lock_numbering, refuse_taken
from webapp.domain.commands import Requester, command
from webapp.domain.completeness import completeness
from webapp.domain.dates import parse_date
from webapp.domain.errors import N_, DomainError, Forbidden, NotFound, ValidationFailed
from webapp.domain.events import PlannedEvent, event_row, period_rows, plan_opening, state_fields
from webapp.domain.members import (
    UNIQUE_FIELDS,
    MemberLookups,
    check_editable,
    member_problems,
    row_values,
    trimmed,
)
from webapp.domain.records import row_problems
from webapp.domain.scope import OWNED_ELSEWHERE, downstreams, owner_among, scope_clause
from webapp.domain.spreadsheet_input import Sheet
from webapp.domain.sync_capture import record_changes
from webapp.domain.text import clean_text
from webapp.domain.tracking import (
    NOT_LOGGED,
    TRACKED,
    _text,
    member_keys,
)
from webapp.models.cards import CardState, PartyCard
from webapp.models.ledger import MemberEvent, MemberPeriod
from webapp.models.member import BirthDatePrecision, Member, MemberStatus, Sex
from webapp.models.member_import import ImportOutcome, ImportState, MemberImport, MemberImportRow
from webapp.models.record import (
    Commendation,
    Discipline,
    FamilyRelation,
    MemberChange,
    TrainingCourse,
    TripAbroad,
    WorkPeriod,
)
from webapp.models.unit import MEMBER_HOLDING_KINDS, Unit

# --- The columns, in the order of the paper form (phiếu đảng viên) -----------------------

TEXT, DATE, CHOICE, BOOLEAN, IDENTIFIER, UNIT, YEAR = (
    "text",
    "date",
    "choice",
    "boolean",
    "identifier",
    "unit",
    "year",
)


@dataclass(frozen=True)
class ImportColumn:
    field: str
    label: str  # msgid of the header (the member form's label)
    kind: str = TEXT
    required: bool = False
    note: str | None = None  # msgid for the template's notes row


MEMBER_IMPORT_COLUMNS: tuple[ImportColumn, ...] = (
    ImportColumn("member_number", N_("Member number"), IDENTIFIER, True, N_("As text")),
    ImportColumn("birth_name", N_("Full name at birth"), required=True),
    ImportColumn("name_in_use", N_("Name in use")),
    ImportColumn("alias", N_("Alias")),
    ImportColumn("sex", N_("Sex"), CHOICE, True),
    ImportColumn("birth_date", N_("Date of birth"), DATE, True, N_("dd/mm/yyyy")),
    ImportColumn("birth_date_precision", N_("Date of birth known"), CHOICE),
    ImportColumn("birthplace", N_("Place of birth")),
    ImportColumn("home_town", N_("Home town")),
    ImportColumn("permanent_address", N_("Permanent address")),
    ImportColumn("current_address", N_("Current address")),
    ImportColumn("ethnicity", N_("Ethnicity")),
    ImportColumn("religion", N_("Religion")),
    ImportColumn("citizen_id", N_("Citizen ID"), IDENTIFIER, note=N_("12 digits, as text")),
    ImportColumn("unit_id", N_("Party cell"), UNIT, True, N_("Code of the cell")),
    ImportColumn("status", N_("Status"), CHOICE),
    ImportColumn("admitted_on", N_("Admitted on"), DATE, True, N_("dd/mm/yyyy")),
    ImportColumn("admitting_cell", N_("Admitting cell")),
    ImportColumn("introducer_1", N_("First introducer")),
    ImportColumn("introducer_2", N_("Second introducer")),
    ImportColumn("official_on", N_("Official on"), DATE, note=N_("dd/mm/yyyy")),
    ImportColumn("youth_union_on", N_("Joined the Youth Union on"), DATE, note=N_("dd/mm/yyyy")),
    ImportColumn("card_number", N_("Card number"), IDENTIFIER, note=N_("NN.NNNNNN")),
    ImportColumn("card_issued_on", N_("Card issued on"), DATE, note=N_("dd/mm/yyyy")),
    ImportColumn("general_education", N_("General education")),
    ImportColumn("professional_level", N_("Professional qualification")),
    ImportColumn("professional_field", N_("Field of study")),
    ImportColumn("academic_title", N_("Academic title")),
    ImportColumn("political_theory", N_("Political theory")),
    ImportColumn("state_management", N_("State management")),
    ImportColumn("foreign_languages", N_("Foreign languages")),
    ImportColumn("it_level", N_("Information technology")),
    ImportColumn("occupation_at_admission", N_("Occupation when admitted")),
    ImportColumn("occupation", N_("Occupation now")),
    ImportColumn("party_position", N_("Position in the Party")),
    ImportColumn("government_position", N_("Position in government and mass organisations")),
    ImportColumn("health", N_("Health")),
    ImportColumn("veteran", N_("Veteran"), BOOLEAN, note=N_("x = yes")),
    ImportColumn("war_invalid", N_("War invalid or sick soldier (grade)")),
    ImportColumn("martyr_family", N_("Family of a martyr"), BOOLEAN, note=N_("x = yes")),
)
# Changed only by the card commands (record_card), never by editing the record.
CARD_FIELDS = ("card_number", "card_issued_on")

# Choices are read by their label in Vietnamese or English, or by their stored value.
CHOICES: dict[str, dict[str, str]] = {
    "sex": {Sex.MALE: N_("Male"), Sex.FEMALE: N_("Female")},
    "status": {
        MemberStatus.PROBATIONARY: N_("Probationary"),
        MemberStatus.OFFICIAL: N_("Official"),
    },
    "birth_date_precision": {
        BirthDatePrecision.DAY: N_("Full date known"),
        BirthDatePrecision.MONTH: N_("Month and year only"),
        BirthDatePrecision.YEAR: N_("Year only"),
    },
}
TRUE_WORDS = frozenset({"x", "có", "co", "yes", "y", "1", "true", "đúng"})
FALSE_WORDS = frozenset({"không", "khong", "no", "n", "0", "false"})

MEMBER_NUMBER = ImportColumn("member_number", N_("Member number"), IDENTIFIER, True)


@dataclass(frozen=True)
class RowSheet:
    """A further sheet of repeating rows, keyed by member number."""

    key: str  # the member's relationship name
    label: str  # msgid of the sheet's name
    model: type
    columns: tuple[ImportColumn, ...]


ROW_SHEETS: tuple[RowSheet, ...] = (
    RowSheet(
        "work_periods",
        N_("Work history"),
        WorkPeriod,
        (
            ImportColumn("starts_on", N_("From"), DATE, True),
            ImportColumn("ends_on", N_("To"), DATE),
            ImportColumn("description", N_("Position and workplace"), required=True),
        ),
    ),
    RowSheet(
        "training_courses",
        N_("Training"),
        TrainingCourse,
        (
            ImportColumn("starts_on", N_("From"), DATE, True),
            ImportColumn("ends_on", N_("To"), DATE),
            ImportColumn("institution", N_("School or institution"), required=True),
            ImportColumn("field", N_("Field of study")),
            ImportColumn("study_form", N_("Form of study")),
            ImportColumn("qualification", N_("Qualification obtained")),
        ),
    ),
    RowSheet(
        "commendations",
        N_("Commendations"),
        Commendation,
        (
            ImportColumn("awarded_on", N_("Date"), DATE, True),
            ImportColumn("form", N_("Form"), required=True),
            ImportColumn("level", N_("Level deciding")),
            ImportColumn("decision_number", N_("Decision number")),
            ImportColumn("reason", N_("Reason")),
        ),
    ),
    RowSheet(
        "disciplines",
        N_("Discipline"),
        Discipline,
        (
            ImportColumn("decided_on", N_("Date"), DATE, True),
            ImportColumn("form", N_("Form"), required=True),
            ImportColumn("level", N_("Level deciding")),
            ImportColumn("decision_number", N_("Decision number")),
            ImportColumn("reason", N_("Reason"), required=True),
        ),
    ),
    RowSheet(
        "trips_abroad",
        N_("Trips abroad"),
        TripAbroad,
        (
            ImportColumn("starts_on", N_("From"), DATE, True),
            ImportColumn("ends_on", N_("To"), DATE),
            ImportColumn("country", N_("Country"), required=True),
            ImportColumn("purpose", N_("Purpose")),
        ),
    ),
    RowSheet(
        "family_relations",
        N_("Family relations"),
        FamilyRelation,
        (
            ImportColumn("relation", N_("Relation"), required=True),
            ImportColumn("full_name", N_("Full name"), required=True),
            ImportColumn("birth_year", N_("Year of birth"), YEAR),
            ImportColumn("occupation", N_("Occupation")),
            ImportColumn("notes", N_("Notes")),
        ),
    ),
)
MEMBERS_SHEET_LABEL = N_("Party members")


def normalised(text: Any) -> str:
    """A header or a choice as compared: NFC, case and spacing folded, without the
    template's "*" of a required column."""
    return " ".join(unicodedata.normalize("NFC", str(text)).casefold().split()).rstrip(" *")


@dataclass
class Vocabulary:
    """The words a file may use for headers, sheet names and choices, in every language
    the application speaks (built by the adapter from the translations)."""

    headers: dict[str, str] = field(default_factory=dict)  # normalised header → field
    row_headers: dict[str, dict[str, str]] = field(default_factory=dict)  # sheet key → …
    sheets: dict[str, str] = field(default_factory=dict)  # normalised sheet name → key
    choices: dict[str, dict[str, str]] = field(default_factory=dict)


def vocabulary(translators: Iterable[Callable[[str], str]]) -> Vocabulary:
    """Headers, sheet names and choices in each language (`translators`: msgid → text,
    e.g. gettext in Vietnamese and in English), plus the fields' own names."""
    words = Vocabulary()
    translators = [lambda msgid: msgid, *translators]
    for translate in translators:
        for column in MEMBER_IMPORT_COLUMNS:
            words.headers[normalised(translate(column.label))] = column.field
        words.sheets[normalised(translate(MEMBERS_SHEET_LABEL))] = "members"
        for row_sheet in ROW_SHEETS:
            words.sheets[normalised(translate(row_sheet.label))] = row_sheet.key
            headers = words.row_headers.setdefault(row_sheet.key, {})
            headers[normalised(translate(MEMBER_NUMBER.label))] = "member_number"
            for column in row_sheet.columns:
                headers[normalised(translate(column.label))] = column.field
        for name, options in CHOICES.items():
            by_word = words.choices.setdefault(name, {})
            for value, label in options.items():
                by_word[normalised(translate(label))] = str(value)
                by_word[normalised(value)] = str(value)
    for column in MEMBER_IMPORT_COLUMNS:
        words.headers[normalised(column.field)] = column.field
    words.headers[normalised("unit")] = "unit_id"
    for row_sheet in ROW_SHEETS:
        words.sheets[normalised(row_sheet.key)] = row_sheet.key
        for column in (MEMBER_NUMBER, *row_sheet.columns):
            words.row_headers[row_sheet.key][normalised(column.field)] = column.field
    return words


# --- Reading the cells of a row ------------------------------------------------------------

FLOAT_MANGLED = N_(
    "%(value)s was stored by the spreadsheet as a number, so digits or leading zeros may "
    "have been lost. Format the column as Text and type the number again."
)
SCIENTIFIC = re.compile(r"^[0-9]+([.,][0-9]+)?[eE][+-]?[0-9]+$")
NOT_A_CHOICE = N_("%(value)s is not one of the choices: %(choices)s.")
NOT_YES_NO = N_("Write x (or “có”) for yes and leave the cell empty for no.")
UNKNOWN_UNIT = N_("There is no Party cell with the code %(value)s in your scope.")
NOT_A_CELL = N_("Members belong to a Party cell; %(unit)s is not a cell.")
NOT_A_YEAR = N_("Enter a year of four digits.")
REQUIRED_CELL = N_("This column is required.")
TOO_LONG = N_("At most %(limit)s characters.")


@dataclass
class Problem:
    """What is wrong, where: the sheet, the row, the column (its letter and header)."""

    column: str | None
    header: str | None
    message: str
    params: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "header": self.header,
            "message": self.message,
            "params": {k: _jsonable(v) for k, v in self.params.items()},
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def shown_value(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return f"{value:.0f}" if abs(value) < 1e10 else f"{value:.1E}"
    return str(value)


@functools.cache
def _length_limit(model: type, name: str) -> int | None:
    column = model.__table__.columns.get(name)
    return getattr(column.type, "length", None) if column is not None else None


def read_cell(
    column: ImportColumn,
    raw: Any,
    words: Vocabulary,
    units: Mapping[str, Unit],
    model: type,
    header: str | None = None,
) -> Any:
    """The cell's value for the rules, or ValidationFailed on the column's field."""
    name = column.field
    if isinstance(raw, str):
        raw = clean_text(raw, name, label=header or column.label)
        if raw == "":
            raw = None
    if raw is None:
        return None
    if column.kind == DATE:
        return parse_date(raw, name)
    if column.kind == IDENTIFIER:
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            raise ValidationFailed({name: [(FLOAT_MANGLED, {"value": shown_value(raw)})]})
        text = str(raw)
        if SCIENTIFIC.match(text):
            raise ValidationFailed({name: [(FLOAT_MANGLED, {"value": text})]})
        return text.upper() if name == "member_number" else text
    if isinstance(raw, date | datetime):
        raw = raw.strftime("%d/%m/%Y")
    elif isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if column.kind == YEAR:
        if isinstance(raw, int) or (isinstance(raw, str) and re.fullmatch(r"[0-9]{4}", raw)):
            return int(raw)
        raise ValidationFailed({name: [(NOT_A_YEAR, {})]})
    text = str(raw)
    if column.kind == CHOICE:
        value = words.choices[name].get(normalised(text))
        if value is None:
            choices = ", ".join(sorted({k for k in words.choices[name] if k not in CHOICES[name]}))
            raise ValidationFailed({name: [(NOT_A_CHOICE, {"value": text, "choices": choices})]})
        return value
    if column.kind == BOOLEAN:
        word = normalised(text)
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValidationFailed({name: [(NOT_YES_NO, {})]})
    if column.kind == UNIT:
        unit = units.get(text.upper())
        if unit is None:
            raise ValidationFailed({name: [(UNKNOWN_UNIT, {"value": text})]})
        if unit.kind not in MEMBER_HOLDING_KINDS:
            raise ValidationFailed({name: [(NOT_A_CELL, {"unit": unit.name})]})
        return unit.id
    limit = _length_limit(model, name)
    if limit and len(text) > limit:
        raise ValidationFailed({name: [(TOO_LONG, {"limit": limit})]})
    return text


# --- Finding the header and the rows of a sheet ------------------------------------------


@dataclass
class SheetRow:
    sheet: str
    number: int
    kind: str  # "members" or a ROW_SHEETS key
    values: dict[str, Any]
    cells: dict[str, tuple[str, str]]  # field → (column letter, header as written)
    problems: list[Problem] = field(default_factory=list)


HEADER_SEARCH_ROWS = 10
PARENTHESIS = re.compile(r"\s*\([^)]*\)")


def header_field(text: Any, headers: Mapping[str, str]) -> str | None:
    """The field a header names: the label as the template writes it, without its
    parenthesis ("Số định danh cá nhân"), or the start of one label only ("Số lý lịch"
    for "Số lý lịch đảng viên")."""
    word = normalised(text)
    if not word:
        return None
    if word in headers:
        return headers[word]
    bare = normalised(PARENTHESIS.sub("", word))
    if bare in headers:
        return headers[bare]
    stripped = {(normalised(PARENTHESIS.sub("", label)), field) for label, field in headers.items()}
    same = {field for label, field in stripped if label == bare}
    if len(same) == 1:
        return same.pop()
    starting = {field for label, field in stripped if label.startswith(bare + " ")}
    return starting.pop() if len(starting) == 1 and " " in bare else None


NO_HEADER = N_(
    "No sheet has a header row with “%(header)s”: use the template, or name the columns as it does."
)
MISSING_COLUMN = N_("The sheet %(sheet)s has no column “%(header)s”, which is required.")
DUPLICATE_COLUMN = N_("The sheet %(sheet)s has two columns for “%(header)s”.")


def find_header(
    sheet: Sheet, headers: Mapping[str, str]
) -> tuple[int, dict[int, str], dict[int, str]] | None:
    """(header row number, column index → field, column index → header as written) of the
    first row among the first few that names a member number."""
    for number, cells in sheet.rows[:HEADER_SEARCH_ROWS]:
        fields = {}
        written = {}
        for index, cell in enumerate(cells):
            if cell is None:
                continue
            name = header_field(cell, headers)
            if name is not None:
                fields[index] = name
                written[index] = str(cell).strip()
        if "member_number" in fields.values():
            return number, fields, written
    return None


def _sheet_rows(
    sheet: Sheet,
    kind: str,
    columns: tuple[ImportColumn, ...],
    headers: Mapping[str, str],
    words: Vocabulary,
    units: Mapping[str, Unit],
    model: type,
) -> Iterator[SheetRow]:
    found = find_header(sheet, headers)
    if found is None:
        return
    header_row, fields, written = found
    by_field = {column.field: column for column in columns}
    seen: dict[str, int] = {}
    for index, name in fields.items():
        if name in seen:
            raise DomainError(DUPLICATE_COLUMN, sheet=sheet.name, header=written[index])
        seen[name] = index
    for column in columns:
        if column.required and column.field not in seen:
            raise DomainError(MISSING_COLUMN, sheet=sheet.name, header=column.label)
    # Each field's column, its letter and its header as written: the same for every row.
    places = {name: (column_letter(index), written[index]) for name, index in seen.items()}
    reading = [(name, index, by_field[name], places[name]) for name, index in seen.items()]
    notes_row = None
    for number, cells in sheet.rows:
        if number <= header_row:
            continue
        if notes_row is None and number == header_row + 1 and _is_notes_row(cells, columns, fields):
            notes_row = number
            continue
        if all(cell is None for cell in cells):
            continue  # blank row
        row = SheetRow(sheet=sheet.name, number=number, kind=kind, values={}, cells=places)
        width = len(cells)
        for name, index, column, (letter, header) in reading:
            raw = cells[index] if index < width else None
            try:
                value = read_cell(column, raw, words, units, model, header)
            except ValidationFailed as error:
                for message, params in error.errors[name]:
                    row.problems.append(Problem(letter, header, message, params))
                continue
            if value is None and column.required:
                row.problems.append(Problem(letter, header, REQUIRED_CELL))
            row.values[name] = value
        yield row


NOTES_MARK = "⁂"


def _is_notes_row(cells: list[Any], columns, fields: Mapping[int, str]) -> bool:
    """The template's notes row (under the header) starts with the notes mark."""
    first = next((cell for cell in cells if cell is not None), None)
    return isinstance(first, str) and first.startswith(NOTES_MARK)


def parse_workbook(
    session: Session, requester: Requester, sheets: list[Sheet], words: Vocabulary
) -> list[SheetRow]:
    """The rows of the member sheet (the first sheet with a member header) and of the
    further sheets of repeating rows, cells read; DomainError when no sheet has members."""
    units = {
        unit.code.upper(): unit
        for unit in session.scalars(select(Unit).where(scope_clause(Unit, requester.scope)))
    }
    rows: list[SheetRow] = []
    members_found = False
    for sheet in sheets:
        key = words.sheets.get(normalised(sheet.name))
        row_sheet = next((r for r in ROW_SHEETS if r.key == key), None)
        if row_sheet is not None:
            rows.extend(
                _sheet_rows(
                    sheet,
                    row_sheet.key,
                    (MEMBER_NUMBER, *row_sheet.columns),
                    words.row_headers[row_sheet.key],
                    words,
                    units,
                    row_sheet.model,
                )
            )
        elif not members_found and find_header(sheet, words.headers) is not None:
            members_found = True
            rows.extend(
                _sheet_rows(
                    sheet, "members", MEMBER_IMPORT_COLUMNS, words.headers, words, units, Member
                )
            )
    if not members_found and not rows:
        raise DomainError(NO_HEADER, header="Số lý lịch")
    return rows


# --- Planning: the same commands, rolled back ----------------------------------------------


@dataclass
class RowPlan:
    sheet: str
    row: int
    outcome: str
    member_number: str | None = None
    member_id: int | None = None
    fields: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def key(self) -> list[Any]:
        return [self.sheet, self.row, self.outcome, self.member_number, sorted(self.fields)]


@dataclass
class Plan:
    rows: list[RowPlan]

    @property
    def counts(self) -> dict[str, int]:
        counts = {outcome.value: 0 for outcome in ImportOutcome}
        for row in self.rows:
            counts[row.outcome] += 1
        return counts

    @property
    def fingerprint(self) -> str:
        payload = json.dumps([row.key() for row in self.rows], ensure_ascii=False, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()

    @property
    def has_errors(self) -> bool:
        return any(row.outcome == ImportOutcome.ERROR for row in self.rows)


DUPLICATE_IN_FILE = N_("%(value)s is also on row %(row)s of this file.")
UNKNOWN_MEMBER = N_(
    "No member with the number %(value)s in your scope or in the member sheet of this file."
)
CARD_CHANGE = N_(
    "The member's card is %(card)s; a different card is issued or recorded from the "
    "member's page, not by an import."
)


def _problems_of(error: DomainError, cells: Mapping[str, tuple[str, str]]) -> list[Problem]:
    aliases = {"number": "card_number", "issued_on": "card_issued_on"}
    if isinstance(error, ValidationFailed):
        problems = []
        for name, messages in error.errors.items():
            letter, header = cells.get(aliases.get(name, name), (None, None))
            problems.extend(Problem(letter, header, msg, params) for msg, params in messages)
        return problems
    return [Problem(None, None, error.message, dict(error.params))]


def _duplicates(rows: list[SheetRow]) -> None:
    """A member number or citizen ID on two member rows: the later rows are errors."""
    for name in ("member_number", "citizen_id"):
        first: dict[str, int] = {}
        for row in rows:
            value = row.values.get(name)
            if row.kind != "members" or not value:
                continue
            if value in first:
                letter, header = row.cells[name]
                row.problems.append(
                    Problem(
                        letter, header, DUPLICATE_IN_FILE, {"value": value, "row": first[value]}
                    )
                )
            else:
                first[value] = row.number


# --- Planning: the form's rules on rows in memory, look-ups loaded once -------------------

CHUNK = 5000  # rows planned (and, on commit, written) at a time; values per IN list


def _chunks(items: list, size: int | None = None) -> Iterator[list]:
    size = size or CHUNK
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True)
class NewMember:
    """A member that a row of this file creates (no id before the commit writes it)."""

    row: int


class ImportLookups(MemberLookups):
    """The member rules' questions (webapp/domain/members.py) answered for a file's rows
    from what was loaded once, by IN lists: the catalogues, the units in scope, the members
    holding the file's member numbers, citizen IDs and card numbers (anywhere: they are
    unique), the stored records matched. A row that passes takes its unique values from
    here on, so the second of two rows learns of the first as if it had been written."""

    def __init__(self, session: Session, units: Mapping[int, Unit]) -> None:
        super().__init__(session)
        self.units = units
        self.catalogue: dict[str, set[str]] = {}
        self.used: dict[str, dict[Any, Any]] = {name: {} for name in UNIQUE_FIELDS}
        self.cards: set[str] = set()  # numbers in the card registry
        self.stored: dict[int, dict[str, Any]] = {}
        # The stored rows as read where not as `stored` (untrimmed text), and their
        # version: for the bulk edit's history and its version check.
        self.rows: dict[int, dict[str, Any]] = {}
        self.downstreams: list = []  # registered downstreams and their roots' paths
        self.owners: dict[int, Any] = {}  # unit id → its owning downstream or None

    def load(self, rows: list[SheetRow], member_ids: Iterable[int]) -> None:
        from webapp.models.record import CatalogueEntry

        session = self.session
        self.downstreams = downstreams(session)
        for kind, name in session.execute(select(CatalogueEntry.kind, CatalogueEntry.name)):
            self.catalogue.setdefault(name, set()).add(kind)
        for name in UNIQUE_FIELDS:
            column = getattr(Member, name)
            wanted = sorted({r.values.get(name) for r in rows} - {None})
            for chunk in _chunks(wanted):
                for member_id, value in session.execute(
                    select(Member.id, column).where(among(session, column, chunk))
                ):
                    self.used[name][value] = member_id
        numbers = sorted({r.values.get("card_number") for r in rows} - {None})
        for chunk in _chunks(numbers):
            self.cards.update(
                session.scalars(
                    select(PartyCard.number).where(among(session, PartyCard.number, chunk))
                )
            )
        table = Member.__table__
        for chunk in _chunks(sorted(set(member_ids))):
            for row in session.execute(
                select(table).where(among(session, table.c.id, chunk))
            ).mappings():
                stored = self.stored[row["id"]] = row_values(row)
                # What trimming changed, and the version: the row as read is both.
                self.rows[row["id"]] = {
                    k: v for k, v in row.items() if k == "version_id" or stored[k] != v
                }

    def catalogue_known(self, names: set[str]) -> set[tuple[str, str]]:
        return {(kind, name) for name in names for kind in self.catalogue.get(name, ())}

    def stored_value(self, member_id: int, field: str) -> Any:
        return self.stored.get(member_id, {}).get(field)

    def used_by_another(self, field: str, value: Any, member_id: int | None) -> bool:
        holder = self.used[field].get(value)
        return holder is not None and holder != member_id

    def unit(self, unit_id: int) -> Unit | None:
        unit = self.units.get(unit_id)
        return unit if unit is not None else self.session.get(Unit, unit_id)

    def unit_in_scope(self, unit_id: int, scope: str | None) -> bool:
        return unit_id in self.units

    def unit_owner(self, unit_id: int):
        unit = self.units.get(unit_id)
        if unit is None:
            return super().unit_owner(unit_id)
        if unit_id not in self.owners:
            self.owners[unit_id] = owner_among(self.downstreams, unit.path)
        return self.owners[unit_id]

    def take(self, holder: Any, values: Mapping[str, Any], before: Mapping | None = None) -> None:
        """`holder` (a member id or a NewMember) now holds these unique values."""
        for name in UNIQUE_FIELDS:
            value = values.get(name)
            if value is None:
                continue
            old = (before or {}).get(name)
            if old is not None and old != value and self.used[name].get(old) == holder:
                del self.used[name][old]
            self.used[name][value] = holder


@dataclass
class PlannedMember:
    """A new member row that passed every rule: what the commit writes."""

    plan: RowPlan
    key: NewMember
    values: dict[str, Any]
    events: list[PlannedEvent]
    card: tuple[str, date | None] | None


@dataclass
class PlannedChange:
    """An existing member row that passed: the edit and the card the commit records."""

    member_id: int
    changes: dict[str, Any]
    card: tuple[str, date | None] | None
    before: dict[str, Any]  # the stored record as the row found it


@dataclass
class Planning:
    """What the rows are checked against, loaded once for the file."""

    session: Session
    requester: Requester
    lookups: ImportLookups
    by_number: dict[str, int]
    by_citizen: dict[str, int]
    numbers_in_scope: dict[str, Any]
    existing_rows: dict[tuple[type, Any], set[tuple]]
    pattern: str
    today: date


def _matches(
    session: Session, requester: Requester, rows: list[SheetRow]
) -> tuple[dict[str, int], dict[str, int]]:
    """Members in scope by member number and by citizen ID, for the numbers in the file."""
    numbers = {r.values.get("member_number") for r in rows} - {None}
    citizen_ids = {r.values.get("citizen_id") for r in rows if r.kind == "members"} - {None}
    by_number: dict[str, int] = {}
    by_citizen: dict[str, int] = {}
    wanted = [("member_number", n) for n in sorted(numbers)]
    wanted += [("citizen_id", c) for c in sorted(citizen_ids)]
    for chunk in _chunks(wanted):
        chunk_numbers = [v for k, v in chunk if k == "member_number"]
        chunk_ids = [v for k, v in chunk if k == "citizen_id"]
        query = select(Member.id, Member.member_number, Member.citizen_id).where(
            scope_clause(Member, requester.scope),
            or_(
                among(session, Member.member_number, chunk_numbers),
                among(session, Member.citizen_id, chunk_ids),
            ),
        )
        for member_id, number, citizen_id in session.execute(query):
            by_number[number] = member_id
            if citizen_id:
                by_citizen[citizen_id] = member_id
    return by_number, by_citizen


def _row_names(model: type) -> list[str]:
    return [c.key for c in inspect(model).column_attrs if c.key not in ("id", "member_id")]


def _planning(
    session: Session, requester: Requester, rows: list[SheetRow], pattern: str, today: date
) -> Planning:
    units = {
        unit.id: unit
        for unit in session.scalars(select(Unit).where(scope_clause(Unit, requester.scope)))
    }
    member_rows = [r for r in rows if r.kind == "members"]
    by_number, by_citizen = _matches(session, requester, member_rows)
    numbers_in_scope: dict[str, Any] = dict(by_number)
    further = [r for r in rows if r.kind != "members"]
    wanted = sorted({r.values.get("member_number") for r in further} - {None} - set(by_number))
    for chunk in _chunks(wanted):
        for member_id, number in session.execute(
            select(Member.id, Member.member_number).where(
                scope_clause(Member, requester.scope),
                among(session, Member.member_number, chunk),
            )
        ):
            numbers_in_scope[number] = member_id
    lookups = ImportLookups(session, units)
    lookups.load(member_rows, [*by_number.values(), *by_citizen.values()])
    existing_rows: dict[tuple[type, Any], set[tuple]] = {}
    for row_sheet in ROW_SHEETS:
        numbers = {r.values.get("member_number") for r in further if r.kind == row_sheet.key}
        ids = sorted({numbers_in_scope[n] for n in numbers if n in numbers_in_scope})
        model, names = row_sheet.model, _row_names(row_sheet.model)
        columns = [getattr(model, n) for n in names]
        for chunk in _chunks(ids):
            for member_id, *values in session.execute(
                select(model.member_id, *columns).where(among(session, model.member_id, chunk))
            ):
                existing_rows.setdefault((model, member_id), set()).add(tuple(values))
    return Planning(
        session,
        requester,
        lookups,
        by_number,
        by_citizen,
        numbers_in_scope,
        existing_rows,
        pattern,
        today,
    )


def _card_problems(planning: Planning, member: Member, number: str, issued_on: date | None) -> None:
    """`record_card`'s rules on a row's card, the registry read from the look-ups."""
    check_card_entry(member, number, issued_on, planning.today)
    lookups = planning.lookups
    if number in lookups.cards or lookups.used_by_another("card_number", number, member.id):
        refuse_taken(number)


def _plan_member_row(planning: Planning, row: SheetRow, plan: RowPlan):
    """The rules `create_member` (with its opening events) or `edit_member` and
    `record_card` apply to this row, in memory: a PlannedMember, a PlannedChange or None
    (nothing to do); DomainError when a rule refuses it."""
    session, requester, lookups = planning.session, planning.requester, planning.lookups
    values = dict(row.values)
    card_number, card_issued_on = (values.pop(name, None) for name in CARD_FIELDS)
    member_id = planning.by_number.get(values.get("member_number") or "")
    if member_id is None and values.get("citizen_id"):
        member_id = planning.by_citizen.get(values["citizen_id"])
    if member_id is None:
        if not values.get("status"):
            values["status"] = (
                MemberStatus.OFFICIAL if values.get("official_on") else MemberStatus.PROBATIONARY
            )
        values = {k: v for k, v in values.items() if v is not None}
        # What `create_member` reads of the new record (`record_values`), without building one.
        record = trimmed({name: values.get(name) for name in MEMBER_COLUMNS})
        new = Opening(values.get("admitted_on"), values.get("unit_id"), values.get("official_on"))
        member_problems(
            session,
            requester,
            record,
            member_id=None,
            member_number_pattern=planning.pattern,
            today=planning.today,
            lookups=lookups,
        ).raise_if_any()
        events = plan_opening(
            session,
            new,
            in_scope=lambda unit_id: lookups.unit_in_scope(unit_id, requester.scope),
            today=planning.today,
            units=lookups.units,
        )
        derived = state_fields(
            events[-1].state,
            planning.today,
            admitted_on=new.admitted_on,
            card_issued_on=None,
        )
        values.update(derived)
        card = None
        if card_number:
            _card_problems(planning, Member(**values), card_number, card_issued_on)
            card = (card_number, card_issued_on)
        key = NewMember(row.number)
        lookups.take(key, {**values, "card_number": card_number})
        planning.numbers_in_scope[values["member_number"]] = key
        plan.outcome = ImportOutcome.NEW
        plan.fields = sorted(k for k, v in row.values.items() if v is not None)
        return PlannedMember(plan, key, values, events, card)
    stored = lookups.stored[member_id]
    plan.member_id, plan.member_number = member_id, stored["member_number"]
    changes = {
        name: value
        for name, value in values.items()
        if value is not None and name != "status" and stored.get(name) != value
    }
    if values.get("status") and values["status"] != stored["status"]:
        changes["status"] = values["status"]
    if changes:
        check_editable(changes)
        member_problems(
            session,
            requester,
            {**stored, **trimmed(changes)},
            member_id=member_id,
            member_number_pattern=planning.pattern,
            today=planning.today,
            lookups=lookups,
        ).raise_if_any()
    card = None
    card_fields = []
    if card_number and card_number != stored["card_number"]:
        if stored["card_number"]:
            raise ValidationFailed(
                {"card_number": [(CARD_CHANGE, {"card": stored["card_number"]})]}
            )
        if not changes and (owner := lookups.unit_owner(stored["unit_id"])) is not None:
            # `record_card` locks the record to write: a downstream's records are its own.
            raise Forbidden(OWNED_ELSEWHERE, owner=owner.name or owner.unit_code)
        held = Member(id=member_id, **{**{k: stored[k] for k in CARD_CHECK_FIELDS}, **changes})
        _card_problems(planning, held, card_number, card_issued_on)
        card = (card_number, card_issued_on)
        card_fields = [n for n in CARD_FIELDS if row.values.get(n) is not None]
    plan.fields = sorted([*changes, *card_fields])
    plan.outcome = ImportOutcome.UPDATE if plan.fields else ImportOutcome.UNCHANGED
    if not plan.fields:
        return None
    after = {**stored, **changes, **({"card_number": card_number} if card else {})}
    lookups.take(member_id, after, stored)
    lookups.stored[member_id] = after
    return PlannedChange(member_id, changes, card, stored)


MEMBER_COLUMNS = tuple(c.key for c in Member.__table__.columns)


@dataclass(frozen=True)
class Opening:
    """What `opening_events` reads of a new member."""

    admitted_on: date | None
    unit_id: int | None
    official_on: date | None


# What `record_card` reads of a stored member.
CARD_CHECK_FIELDS = (
    "status",
    "card_number",
    "admitted_on",
    "birth_name",
    "name_in_use",
    "member_number",
)


def _plan_repeating_row(planning: Planning, row: SheetRow, plan: RowPlan):
    """`add_member_row`'s rules on a row of a further sheet: its member in scope (stored or
    new in this file), its dates; an identical row is "unchanged". Returns the row's
    (model, member, values) to write, or None."""
    row_sheet = next(r for r in ROW_SHEETS if r.key == row.kind)
    number = row.values.get("member_number")
    member = planning.numbers_in_scope.get(number or "")
    if member is None:
        letter, header = row.cells["member_number"]
        plan.problems.append(Problem(letter, header, UNKNOWN_MEMBER, {"value": number}))
        return None
    if isinstance(member, int):
        plan.member_id = member
    model = row_sheet.model
    names = _row_names(model)
    values = {k: v for k, v in row.values.items() if k != "member_number"}
    wanted = {name: values.get(name) for name in names}
    existing = planning.existing_rows.setdefault((model, member), set())
    if tuple(wanted[n] for n in names) in existing:
        plan.outcome = ImportOutcome.UNCHANGED
        return None
    row_problems(model, {"id": None, "member_id": plan.member_id, **wanted}).raise_if_any()
    existing.add(tuple(wanted[n] for n in names))
    plan.outcome, plan.fields = ImportOutcome.NEW, sorted(k for k, v in values.items() if v)
    return model, member, wanted


# --- Writing a planned chunk: in bulk, in the caller's transaction ----------------------

MEMBER_WRITTEN = [
    c for c in Member.__table__.columns if c.key not in ("id", "created_at", "updated_at")
]


def _column_default(column) -> Any:
    default = column.default
    if default is not None and default.is_scalar:
        return default.arg
    return None


@functools.cache
def _logged_keys(model: type) -> tuple[str, ...]:
    return tuple(a.key for a in inspect(model).column_attrs if a.key not in NOT_LOGGED)


def _logged(row: Mapping[str, Any], model: type) -> dict[str, Any]:
    """The audit log's values of a created row, as the session hooks log a create."""
    logged = {}
    for key in _logged_keys(model):
        value = row.get(key)
        # `_text`, with the text that most cells hold passed as it is.
        logged[key] = value if value is None or type(value) is str else _text(value)
    return logged


def _write_members(planning: Planning, planned: list[PlannedMember]) -> dict[NewMember, int]:
    """Insert the chunk's new members, their opening events and periods (the columns
    `create_member` and `record_event` write, computed by the same functions), audit each
    record as the hooks would, in one go; the cards they hold with them (the record holds
    its card from the start, the registry's rows written at once)."""
    if not planned:
        return {}
    session, requester = planning.session, planning.requester
    rows = []
    for item in planned:
        values = {c.key: _column_default(c) for c in MEMBER_WRITTEN}
        values.update(item.values)
        if item.card is not None:
            # The record holds its card from the start (what `record_card` leaves on it).
            values["card_number"], values["card_issued_on"] = item.card
        values.update(member_keys(values))
        result = completeness(values, {})
        values["completeness"] = result.level
        values["missing_fields"] = ",".join(result.missing) or None
        rows.append(values)
    ids = insert_rows(session, Member.__table__, rows, with_ids=True)
    written = {item.key: member_id for item, member_id in zip(planned, ids, strict=True)}
    events, periods = [], []
    for item, member_id in written_items(planned, written):
        item.plan.member_id = member_id
        events += [event_row(member_id, e, requester.user_id) for e in item.events]
        values = item.values
        periods += period_rows(member_id, item.events[-1].state, values["admitted_on"], None)
    event_ids = insert_rows(session, MemberEvent.__table__, events, with_ids=True)
    recorded = _recorded_at(session, event_ids)
    insert_rows(session, MemberPeriod.__table__, periods)
    # Written around the ORM: the upward sync's outbox is told (a member travels whole,
    # with its events and periods).
    record_changes(session, "member", ids)
    who = {"user_id": requester.user_id, "username": requester.username}
    entries = [
        {
            "action": "create",
            "object_type": "Member",
            "object_id": member_id,
            "after": _logged({**row, "id": member_id}, Member),
            **who,
        }
        for row, member_id in zip(rows, ids, strict=True)
    ]
    entries += [
        {
            "action": "create",
            "object_type": "MemberEvent",
            "object_id": event_id,
            "member_id": event["member_id"],
            "after": _logged({**event, "id": event_id, "recorded_at": at}, MemberEvent),
            **who,
        }
        for event, (event_id, at) in zip(events, recorded, strict=True)
    ]
    cards = [
        (member_id, *item.card)
        for item, member_id in written_items(planned, written)
        if item.card is not None
    ]
    entries += _write_cards(planning, cards)
    audit.append_many(session, entries)
    return written


def _write_cards(planning: Planning, cards: list[tuple[int, str, date | None]]) -> list[dict]:
    """The registry's rows of the cards the members hold (`record_card`'s, checked by its
    rules when planned), after waiting for the numbering of their prefixes as it does;
    returns their audit entries."""
    if not cards:
        return []
    session, requester = planning.session, planning.requester
    lock_numbering(session, [number for _, number, _ in cards])
    rows = [
        {
            "member_id": member_id,
            "number": number,
            "issued_on": issued_on,
            "state": CardState.VALID,
            "ended_on": None,
            "end_note": None,
            "version_id": 1,
        }
        for member_id, number, issued_on in cards
    ]
    ids = insert_rows(session, PartyCard.__table__, rows, with_ids=True)
    record_changes(session, "party_card", ids)
    return [
        {
            "action": "create",
            "object_type": "PartyCard",
            "object_id": card_id,
            "member_id": row["member_id"],
            "after": _logged({**row, "id": card_id}, PartyCard),
            "user_id": requester.user_id,
            "username": requester.username,
        }
        for row, card_id in zip(rows, ids, strict=True)
    ]


def _write_changes(planning: Planning, changes: list[PlannedChange]) -> None:
    """The chunk's edits of stored members in bulk: what `edit_member`'s flush writes
    through the session hooks (the changed fields, the name keys, the completeness level,
    the version and time of the update, the field history, an audit entry per record,
    the sync outbox), with a statement per kind of row; a card recorded for a member
    without one is written with the edit (the record's copy) and in the registry at once.
    A member edited by someone else since it was read (its version differs) makes the
    commit refused, as the ORM's version check would."""
    pending = [change for change in changes if change.changes or change.card]
    while pending:
        # A member twice in one file (by number and by citizen ID) is updated in turn.
        wave, rest, seen = [], [], set()
        for change in pending:
            (rest if change.member_id in seen else wave).append(change)
            seen.add(change.member_id)
        _update_members(planning, wave)
        pending = rest


def _update_members(planning: Planning, wave: list[PlannedChange]) -> None:
    session, requester, lookups = planning.session, planning.requester, planning.lookups
    ids = [change.member_id for change in wave]
    counts = _row_counts(session, ids)
    # A card recorded for a member without one: the record holds it (`record_card`).
    written = {
        change.member_id: {
            **change.changes,
            **(dict(zip(CARD_FIELDS, change.card, strict=True)) if change.card else {}),
        }
        for change in wave
    }
    names = sorted({name for values in written.values() for name in values})
    updates, history, entries = [], [], []
    who = {"user_id": requester.user_id, "username": requester.username}
    for change in wave:
        changed = written[change.member_id]
        # The record as this change finds it: as read (untrimmed), or as a change before
        # it in this file left it.
        before = {**change.before, **lookups.rows[change.member_id]}
        after = {**before, **changed}
        after.update(member_keys(after))
        result = completeness(
            after, {name: by_member.get(change.member_id, 0) for name, by_member in counts.items()}
        )
        after["completeness"] = result.level
        after["missing_fields"] = ",".join(result.missing) or None
        updates.append(
            {
                "id": change.member_id,
                "version_id": before["version_id"],
                # A blank cell is never a change: None leaves the stored value.
                **{name: changed.get(name) for name in names},
                **{name: after[name] for name in DERIVED_ON_EDIT},
            }
        )
        logged_before, logged_after = {}, {}
        for name in changed:
            old, new = _text(before[name]), _text(after[name])
            if old == new:
                continue
            if name in TRACKED:
                history.append(
                    {
                        "member_id": change.member_id,
                        "field": name,
                        "old_value": old,
                        "new_value": new,
                        "supplement_id": None,
                        "changed_by_id": requester.user_id,
                    }
                )
            if name not in NOT_LOGGED:
                logged_before[name], logged_after[name] = old, new
        if logged_after:
            entries.append(
                {
                    "action": "update",
                    "object_type": "Member",
                    "object_id": change.member_id,
                    "before": logged_before,
                    "after": logged_after,
                    **who,
                }
            )
        lookups.rows[change.member_id] = {"version_id": before["version_id"] + 1}
    updated = update_rows(session, Member.__table__, updates, names, DERIVED_ON_EDIT)
    if updated != len(updates):
        raise PlanChanged(PLAN_CHANGED)
    _expire_members(session, ids)
    change_ids = insert_rows(session, MemberChange.__table__, history, with_ids=True)
    cards = [(change.member_id, *change.card) for change in wave if change.card is not None]
    entries += _write_cards(planning, cards)
    record_changes(session, "member", ids)
    record_changes(session, "member_change", change_ids or [])
    audit.append_many(session, entries)


# Computed by the hooks on every update of a record (keys, completeness).
DERIVED_ON_EDIT = ("sort_key", "search_key", "completeness", "missing_fields")


def _recorded_at(session: Session, event_ids: list[int]) -> list[tuple[int, datetime]]:
    """(id, recorded_at) of events just written: the column's default, now(), is the
    transaction's start on PostgreSQL (read once); elsewhere the rows are read back."""
    if session.get_bind().dialect.name == "postgresql":
        at = session.scalar(text("SELECT now()::timestamp"))
        return [(event_id, at) for event_id in event_ids]
    stamps = dict(
        session.execute(
            select(MemberEvent.id, MemberEvent.recorded_at).where(
                among(session, MemberEvent.id, event_ids)
            )
        ).all()
    )
    return [(event_id, stamps[event_id]) for event_id in event_ids]


def written_items(planned: list[PlannedMember], written: Mapping[NewMember, int]):
    return ((item, written[item.key]) for item in planned)


def _write_rows(planning: Planning, planned: list[tuple], new_ids: Mapping[NewMember, int]):
    """Insert the chunk's repeating rows (`add_member_row`'s columns), audited in one go;
    the members' completeness is brought up to date as the hooks would."""
    if not planned:
        return
    session, requester = planning.session, planning.requester
    by_model: dict[type, list[dict]] = {}
    for model, member, values in planned:
        member_id = new_ids[member] if isinstance(member, NewMember) else member
        by_model.setdefault(model, []).append({"member_id": member_id, **values})
    entries = []
    record_changes(
        session, "member", sorted({row["member_id"] for rows in by_model.values() for row in rows})
    )
    for model, rows in by_model.items():
        ids = insert_rows(session, model.__table__, rows, with_ids=True)
        entries += [
            {
                "action": "create",
                "object_type": model.__name__,
                "object_id": row_id,
                "member_id": row["member_id"],
                "after": _logged({**row, "id": row_id}, model),
                "user_id": requester.user_id,
                "username": requester.username,
            }
            for row, row_id in zip(rows, ids, strict=True)
        ]
    audit.append_many(session, entries)
    member_ids = sorted({row["member_id"] for rows in by_model.values() for row in rows})
    for chunk in _chunks(member_ids):
        _refresh_completeness(session, chunk)


def _refresh_completeness(session: Session, member_ids: list[int]) -> None:
    """`refresh_completeness` (the hooks') for many records at once: the row counts in one
    query each, the levels that changed in one UPDATE."""
    counts = _row_counts(session, member_ids)
    table = Member.__table__
    changed = []
    for row in session.execute(
        select(table).where(among(session, table.c.id, member_ids))
    ).mappings():
        result = completeness(
            row, {name: by_member.get(row["id"], 0) for name, by_member in counts.items()}
        )
        missing = ",".join(result.missing) or None
        if (row["completeness"], row["missing_fields"]) != (result.level, missing):
            changed.append(
                {"id": row["id"], "completeness": result.level, "missing_fields": missing}
            )
    update_rows(session, table, changed, (), ("completeness", "missing_fields"), versioned=False)
    _expire_members(session, [row["id"] for row in changed])


def _row_counts(session: Session, member_ids: list[int]) -> dict[str, dict[int, int]]:
    """The counts of the rows completeness asks for, by member."""
    connection = session.connection()
    return {
        name: dict(
            connection.execute(
                select(model.member_id, func.count(model.id))
                .where(among(session, model.member_id, member_ids))
                .group_by(model.member_id)
            ).all()
        )
        for name, model in (("work_periods", WorkPeriod), ("family_relations", FamilyRelation))
    }


def _expire_members(session: Session, member_ids: Iterable[int]) -> None:
    """The session's copies of these records (if any) are read again when next used."""
    for member_id in member_ids:
        cached = session.identity_map.get((Member, (member_id,), None))
        if cached is not None:
            session.expire(cached)


def run_rows(
    session: Session,
    requester: Requester,
    rows: list[SheetRow],
    *,
    member_number_pattern: str,
    write: bool,
    progress: Callable[[int], None] | None = None,
    today: date | None = None,
) -> Plan:
    """Every row checked by the rules of its command, in memory, with the look-ups loaded
    once for the file (catalogues, units in scope, members by member number, citizen ID
    and card number). With `write` (the commit) the rows are also written, a chunk at a
    time, in the caller's transaction, stopping at the first refused row; the caller
    keeps the whole or rolls it back. Without it nothing is written (not the audit log
    either: the dry run takes no lock that other clerks' work waits for)."""
    today = today or date.today()
    _duplicates(rows)
    planning = _planning(session, requester, rows, member_number_pattern, today)
    member_rows = [r for r in rows if r.kind == "members"]
    further = [r for r in rows if r.kind != "members"]
    held = set(session.identity_map.keys())  # what the caller holds stays in the session
    plans: list[RowPlan] = []
    new_ids: dict[NewMember, int] = {}
    total = len(rows) or 1
    stopped = False
    for kind, chunk in [
        *(("members", c) for c in _chunks(member_rows)),
        *(("rows", c) for c in _chunks(further)),
    ]:
        new_members: list[PlannedMember] = []
        changes: list[PlannedChange] = []
        new_rows: list[tuple] = []
        for row in chunk:
            plan = RowPlan(
                row.sheet, row.number, ImportOutcome.ERROR, row.values.get("member_number")
            )
            plans.append(plan)
            if row.problems:
                plan.problems = row.problems
            else:
                try:
                    if kind == "members":
                        planned = _plan_member_row(planning, row, plan)
                        if isinstance(planned, PlannedMember):
                            new_members.append(planned)
                        elif planned is not None:
                            changes.append(planned)
                    else:
                        planned = _plan_repeating_row(planning, row, plan)
                        if planned is not None:
                            new_rows.append(planned)
                except DomainError as error:
                    plan.outcome, plan.fields = ImportOutcome.ERROR, []
                    plan.problems = _problems_of(error, row.cells)
            if plan.outcome == ImportOutcome.ERROR and write:
                stopped = True
                break
        if stopped:
            break
        if write:
            new_ids.update(_write_members(planning, new_members))
            _write_changes(planning, changes)
            _write_rows(planning, new_rows, new_ids)
            # A flush looks at every object the session holds: the chunk's records leave
            # it once written (they stay in the transaction; the units and the import stay).
            for key, obj in list(session.identity_map.items()):
                if key not in held and not isinstance(obj, KEPT):
                    session.expunge(obj)
        if progress is not None:
            progress(int(len(plans) * 100 / total))
    return Plan(plans)


KEPT = (Unit, MemberImport)


# --- Commands: upload, dry run, commit ---------------------------------------------------


def find_import(session: Session, requester: Requester, import_id: int) -> MemberImport:
    """An import is seen by whoever uploaded it (and Admins): it names members of their
    scope only."""
    run = session.get(MemberImport, import_id) if isinstance(import_id, int) else None
    if run is None or not (requester.is_admin or run.requested_by_id == requester.user_id):
        raise NotFound(N_("The import does not exist."))
    return run


@command("import.check")
def request_import(
    session: Session,
    requester: Requester,
    *,
    file_name: str,
    sha256: str,
    file_path: str,
    size: int,
) -> MemberImport:
    """Record an uploaded file (kept in the content store by its hash) for its dry run."""
    run = MemberImport(
        file_name=(clean_text(file_name, "file_name") or "?")[:255],
        sha256=sha256,
        file_path=file_path,
        size=size,
        state=ImportState.QUEUED,
        requested_by_id=requester.user_id,
        scope=requester.scope,
    )
    session.add(run)
    session.flush()
    return run


def _store_plan(session: Session, run: MemberImport, plan: Plan) -> None:
    session.query(MemberImportRow).filter(MemberImportRow.import_id == run.id).delete(
        synchronize_session=False
    )
    # Members a dry run created are gone with its savepoint: only stored ones are linked.
    ids = sorted({row.member_id for row in plan.rows if row.member_id})
    stored: set[int] = set()
    for start in range(0, len(ids), 5000):
        stored.update(
            session.scalars(
                select(Member.id).where(among(session, Member.id, ids[start : start + 5000]))
            )
        )
    insert_rows(
        session,
        MemberImportRow.__table__,
        [
            {
                "import_id": run.id,
                "position": position,
                "sheet": row.sheet[:31],
                "row": row.row,
                "outcome": row.outcome,
                "member_number": (row.member_number or "")[:16] or None,
                "member_id": row.member_id if row.member_id in stored else None,
                "fields": row.fields,
                "problems": [p.as_json() for p in row.problems],
            }
            for position, row in enumerate(plan.rows)
        ],
    )
    counts = plan.counts
    run.total = len(plan.rows)
    run.new_count = counts[ImportOutcome.NEW]
    run.update_count = counts[ImportOutcome.UPDATE]
    run.unchanged_count = counts[ImportOutcome.UNCHANGED]
    run.error_count = counts[ImportOutcome.ERROR]
    run.plan_hash = plan.fingerprint


def refuse_file(session: Session, run: MemberImport, error: DomainError) -> None:
    run.state = ImportState.FAILED
    run.error = error.message
    run.error_params = {k: _jsonable(v) for k, v in error.params.items()}
    run.checked_at = datetime.now()


@command("import.check")
def check_import(
    session: Session,
    requester: Requester,
    import_id: int,
    sheets: list[Sheet],
    words: Vocabulary,
    *,
    member_number_pattern: str,
    progress: Callable[[int], None] | None = None,
    today: date | None = None,
) -> Plan:
    """The dry run: every row checked by the rules of its command, nothing written (no
    member, no event, no audit entry: no lock taken); the plan is kept on the import for
    the clerk to read and to commit."""
    run = find_import(session, requester, import_id)
    run.state = ImportState.RUNNING
    rows = parse_workbook(session, requester, sheets, words)
    plan = run_rows(
        session,
        requester,
        rows,
        member_number_pattern=member_number_pattern,
        write=False,
        progress=progress,
        today=today,
    )
    _store_plan(session, run, plan)
    run.state = ImportState.CHECKED
    run.checked_at = datetime.now()
    run.error = run.error_params = None
    return plan


class PlanChanged(DomainError):
    """The rows would no longer do what the dry run showed."""

    status_code = 409


PLAN_CHANGED = N_(
    "The data changed since the dry run: the rows would no longer do what it showed. "
    "Nothing was imported; check the new dry run and commit again."
)
HAS_ERRORS = N_("The dry run found %(count)s rows with errors; correct the file first.")
NOT_CHECKED = N_("Run the dry run of this file first.")
ALREADY_COMMITTED = N_("This file has been imported already.")


@command("import.commit")
def request_commit(
    session: Session, requester: Requester, import_id: int, plan_hash: str
) -> MemberImport:
    """Ask for the commit of the dry run the clerk saw (`plan_hash`, from the page they
    read); the job then commits it (`commit_import`)."""
    run = find_import(session, requester, import_id)
    session.refresh(run, with_for_update=True)
    _committable(run)
    if plan_hash != run.plan_hash:
        raise PlanChanged(PLAN_CHANGED)
    run.state = ImportState.COMMITTING
    run.error = run.error_params = None
    return run


def _committable(run: MemberImport) -> None:
    if run.state == ImportState.COMMITTED:
        raise DomainError(ALREADY_COMMITTED)
    if run.state not in (ImportState.CHECKED, ImportState.COMMITTING) or run.plan_hash is None:
        raise DomainError(NOT_CHECKED)
    if run.error_count:
        raise DomainError(HAS_ERRORS, count=run.error_count)


def commit_refused(session: Session, import_id: int, error: DomainError) -> None:
    """A commit that did not happen: the import is back to its dry run, with the reason."""
    run = session.get(MemberImport, import_id)
    if run is not None and run.state != ImportState.COMMITTED:
        run.state = ImportState.CHECKED
        run.error = error.message
        run.error_params = {k: _jsonable(v) for k, v in error.params.items()}


@command("import.commit")
def commit_import(
    session: Session,
    requester: Requester,
    import_id: int,
    sheets: list[Sheet],
    words: Vocabulary,
    *,
    member_number_pattern: str,
    progress: Callable[[int], None] | None = None,
    today: date | None = None,
) -> Plan:
    """Import what the dry run showed, in one transaction: every row checked by the rules
    of its command and written in bulk (new members with their opening events, their
    rows, the audit entries) or by the command itself (edits, cards); a refused row, or a
    plan that differs from the dry run, leaves the database as it was."""
    run = find_import(session, requester, import_id)
    session.refresh(run, with_for_update=True)  # one commit of an import at a time
    _committable(run)
    seen = run.plan_hash
    rows = parse_workbook(session, requester, sheets, words)
    plan = run_rows(
        session,
        requester,
        rows,
        member_number_pattern=member_number_pattern,
        write=True,
        progress=progress,
        today=today,
    )
    if plan.has_errors or plan.fingerprint != seen:
        raise PlanChanged(PLAN_CHANGED)
    counts = plan.counts
    audit.append(
        session,
        "import",
        object_type="MemberImport",
        object_id=run.id,
        after={"file": run.file_name, "sha256": run.sha256, **counts},
        user_id=requester.user_id,
        username=requester.username,
    )
    run.state = ImportState.COMMITTED
    run.committed_at = datetime.now()
    return plan
