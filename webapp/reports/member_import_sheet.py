"""The spreadsheet side of member imports, shared by the screen, the CLI and the job:
the words a file may use (headers, sheet names, choices) in every language of the
application, the XLSX template, and reading a stored upload.

The template has the member form's labels as headers in the order of the paper form, a
notes row, pick-lists (data validation) for every catalogue column, the choices and the
cell (the codes of the cells in the importer's scope), text-formatted identifier columns
(so Excel does not turn a citizen ID into 1.0E+11) and dd/mm/yyyy date columns. Every
value written goes through webapp/reports/spreadsheet.py's cell rule (formula-like text
stays text).
"""

from __future__ import annotations

from pathlib import Path

from flask_babel import force_locale, gettext
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.domain.catalogues import MEMBER_FIELD_CATALOGUES, catalogue_names
from webapp.domain.commands import Requester
from webapp.domain.member_import import (
    BOOLEAN,
    CHOICE,
    CHOICES,
    DATE,
    IDENTIFIER,
    MEMBER_IMPORT_COLUMNS,
    MEMBER_NUMBER,
    MEMBERS_SHEET_LABEL,
    NOTES_MARK,
    ROW_SHEETS,
    UNIT,
    ImportColumn,
    Vocabulary,
    vocabulary,
)
from webapp.domain.scope import scope_clause
from webapp.domain.spreadsheet_input import ReadLimits, Sheet, read_spreadsheet
from webapp.models.unit import MEMBER_HOLDING_KINDS, Unit
from webapp.reports.spreadsheet import cell_value, starts_like_formula

LANGUAGES = ("vi", "en")
TEMPLATE_ROWS = 500  # rows prepared with pick-lists and cell formats (then column formats)
LISTS_SHEET = "Danh sach"


def import_vocabulary() -> Vocabulary:
    """Headers and choices as the template writes them, in Vietnamese and in English."""

    def translator(language: str):
        def translate(msgid: str) -> str:
            with force_locale(language):
                return gettext(msgid)

        return translate

    return vocabulary([translator(language) for language in LANGUAGES])


def read_import(path: Path, file_name: str, limits: ReadLimits) -> list[Sheet]:
    return read_spreadsheet(path, file_name, limits)


def _put(sheet, row: int, column: int, value, **style) -> None:
    """One cell, through the product's rule for spreadsheet text."""
    value = cell_value(value)
    cell = sheet.cell(row=row, column=column, value=value)
    if isinstance(value, str) and starts_like_formula(value):
        cell.data_type = "s"
        cell.quotePrefix = True
    for name, setting in style.items():
        setattr(cell, name, setting)


def _choice_words(column: ImportColumn) -> list[str]:
    if column.kind == BOOLEAN:
        return ["x"]
    return [gettext(label) for label in CHOICES[column.field].values()]


def write_template(session: Session, requester: Requester, path: Path) -> Path:
    """The import template for `requester` (pick-list of the cells in their scope)."""
    workbook = Workbook()
    members = workbook.active
    members.title = gettext(MEMBERS_SHEET_LABEL)[:31]
    lists = workbook.create_sheet(LISTS_SHEET)
    lists.sheet_state = "hidden"
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="EEEEEE")
    wrap = Alignment(wrap_text=True, vertical="top")
    italic = Font(italic=True, color="666666")
    list_column = 0

    def pick_list(values: list[str]) -> str | None:
        nonlocal list_column
        if not values:
            return None
        list_column += 1
        for index, value in enumerate(values, start=1):
            _put(lists, index, list_column, value)
        letter = get_column_letter(list_column)
        return f"'{LISTS_SHEET}'!${letter}$1:${letter}${len(values)}"

    units = [
        code
        for (code,) in session.execute(
            select(Unit.code)
            .where(
                scope_clause(Unit, requester.scope),
                Unit.kind.in_(MEMBER_HOLDING_KINDS),
                Unit.dissolved_on.is_(None),
            )
            .order_by(Unit.path)
        )
    ]
    last = TEMPLATE_ROWS + 2
    for index, column in enumerate(MEMBER_IMPORT_COLUMNS, start=1):
        letter = get_column_letter(index)
        header = gettext(column.label) + (" *" if column.required else "")
        _put(members, 1, index, header, font=bold, fill=fill, alignment=wrap)
        note = gettext(column.note) if column.note else ""
        if index == 1:
            note = f"{NOTES_MARK} {note}"
        _put(members, 2, index, note, font=italic, alignment=wrap)
        members.column_dimensions[letter].width = 24 if column.kind != DATE else 14
        source = None
        if column.field in MEMBER_FIELD_CATALOGUES:
            source = pick_list(catalogue_names(session, MEMBER_FIELD_CATALOGUES[column.field]))
        elif column.kind in (CHOICE, BOOLEAN):
            source = pick_list(_choice_words(column))
        elif column.kind == UNIT:
            source = pick_list(units)
        if source:
            validation = DataValidation(type="list", formula1=f"={source}", allow_blank=True)
            validation.error = gettext("Choose a value from the list.")
            validation.showErrorMessage = True
            members.add_data_validation(validation)
            validation.add(f"{letter}3:{letter}{last}")
        if column.kind in (DATE, IDENTIFIER):
            number_format = "dd/mm/yyyy" if column.kind == DATE else "@"
            members.column_dimensions[letter].number_format = number_format
            for row in range(3, last + 1):
                members.cell(row=row, column=index).number_format = number_format
    members.freeze_panes = "B3"
    for row_sheet in ROW_SHEETS:
        sheet = workbook.create_sheet(gettext(row_sheet.label)[:31])
        for index, column in enumerate((MEMBER_NUMBER, *row_sheet.columns), start=1):
            letter = get_column_letter(index)
            header = gettext(column.label) + (" *" if column.required else "")
            _put(sheet, 1, index, header, font=bold, fill=fill, alignment=wrap)
            sheet.column_dimensions[letter].width = 22
            if column.kind in (DATE, IDENTIFIER):
                number_format = "dd/mm/yyyy" if column.kind == DATE else "@"
                sheet.column_dimensions[letter].number_format = number_format
                for row in range(2, TEMPLATE_ROWS + 2):
                    sheet.cell(row=row, column=index).number_format = number_format
        sheet.freeze_panes = "A2"
    workbook.move_sheet(lists, offset=len(workbook.sheetnames))
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path
