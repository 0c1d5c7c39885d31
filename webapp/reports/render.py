"""The one render path of every report: its build gives a `TableReport`, drawn here to
PDF — xhtml2pdf for short tables, the platypus long-table path past LONG_REPORT_CELLS
cells, chosen by the report's size and not by which report it is — or written to XLSX or
CSV."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from itertools import chain, islice
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from webapp.models.unit import Unit
from webapp.reports.document import DataTable, TableReport
from webapp.reports.long_table import render_long_pdf
from webapp.reports.pdf import render_table_pdf
from webapp.reports.spec import ProgressCallback
from webapp.reports.spreadsheet import write_csv, write_xlsx

# xhtml2pdf's time grows with the cells it lays out, and faster than linearly with a
# table's length: measured on this machine, 3 to 6 ms a cell against 0.4 to 0.6 ms by the
# long-table path (a 71-member cell's list, 994 cells: 8.5 s against 0.9 s; 300 rows of
# 10 columns: 19.5 s against 1.8 s). Up to LONG_REPORT_CELLS cells (a page or two, about
# two seconds) a report goes through xhtml2pdf, past that through the long-table path.
LONG_REPORT_CELLS = 500

RenderFunction = Callable[[Session, Unit, dict[str, Any], str, Path, ProgressCallback], int]


def _read_ahead(report: TableReport, limit: int) -> tuple[TableReport, bool]:
    """Whether the report's tables have more than `limit` cells, reading no further than
    that: the report is returned with the rows read held in lists, and the unread rest of
    a streamed table still to come from its iterators."""
    left = limit
    tables: list[DataTable] = []
    for position, table in enumerate(report.tables):
        width = max(len(table.columns), 1)
        sections = []
        source = iter(table.sections)
        for section in source:
            rows = iter(section.rows)
            read = list(islice(rows, left // width + 1))
            left -= len(read) * width
            if left < 0:
                sections.append(replace(section, rows=chain(read, rows)))
                tables.append(replace(table, sections=chain(sections, source)))
                return replace(report, tables=tables + report.tables[position + 1 :]), True
            sections.append(replace(section, rows=read))
        tables.append(replace(table, sections=sections))
    return replace(report, tables=tables), False


def write_report(report: TableReport, output_format: str, path: Path) -> int:
    """Write the report to `path`; the run's row count, read after the rows were drawn (a
    streamed report's sections are iterators, counted by its `count`)."""
    if output_format == "pdf":
        read, long = _read_ahead(report, LONG_REPORT_CELLS)
        (render_long_pdf if long else render_table_pdf)(read, path)
    elif output_format == "xlsx":
        write_xlsx(report, path)
    elif output_format == "csv":
        write_csv(report, path)
    else:
        raise ValueError(f"no renderer for {output_format}")
    return report.row_count


def renders(build: Callable[..., TableReport], *, streamed: bool = False) -> RenderFunction:
    """A spec's render function: build the report, write it, report progress.

    `build(session, unit, parameters)` computes everything and is half the work; a
    `streamed` build also takes the progress callback and reports it itself as its rows
    are drawn."""

    def render(
        session: Session,
        unit: Unit,
        parameters: dict[str, Any],
        output_format: str,
        path: Path,
        progress: ProgressCallback,
    ) -> int:
        if streamed:
            report = build(session, unit, parameters, progress)
        else:
            report = build(session, unit, parameters)
            progress(50)
        count = write_report(report, output_format, path)
        progress(100)
        return count

    return render
