"""The member list narrowed to a unit, and exported as shown (issue 13, item 9).

- A unit filter with type-ahead: a province has thousands of cells, so the select
  (Select2, from FAB's own static files) asks `/membermodelview/units` for the units of
  the user's scope matching what is typed. "Include sub-units" widens it to the subtree.
- The list's state — unit filter, the search and advanced filters, the sort — is read
  from the request once (`list_state`) and replayed by `listed_members`, the one
  definition of the rows a state selects: the screen, the direct download and the report
  job all use it, always inside the requester's scope.
- Export: up to MEMBER_EXPORT_INLINE_ROWS rows the workbook is written in the request;
  past that it is a report run (webapp/reports/member_export.py) and the user follows it
  on the run page.
"""

from __future__ import annotations

import io
import re
import tempfile
from pathlib import Path
from typing import Any

from flask import abort, current_app, flash, jsonify, redirect, request, send_file, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.security.decorators import permission_name
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import false, or_, select

from webapp.domain.errors import DomainError
from webapp.domain.scope import member_clause, scope_clause
from webapp.domain.text import without_disallowed
from webapp.domain.vietnamese import fold
from webapp.extensions import db
from webapp.models.member import Member
from webapp.models.unit import Unit
from webapp.reports.member_export import NAME as EXPORT_REPORT
from webapp.reports.member_export import describe_state, export_report, provide_list_query
from webapp.reports.render import write_report
from webapp.reports.runs import request_report
from webapp.security import current_requester, current_scope
from webapp.views.adapters import flash_domain_error

# Lists up to this many rows download at once; longer ones go through the report job.
MEMBER_EXPORT_INLINE_ROWS = 2000
UNIT_CHOICES_PAGE = 30
FILTER_ARG = re.compile(r"_flt_(\d)_(.*)")


def find_unit(session, value, scope: str | None) -> Unit | None:
    """The unit a filter names (an id, or its digits), if `scope` covers it."""
    unit_id = value if isinstance(value, int) and not isinstance(value, bool) else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19:
        unit_id = int(value)
    if unit_id is None or not 0 < unit_id < 2**63:
        return None
    return session.scalar(select(Unit).where(Unit.id == unit_id, scope_clause(Unit, scope)))


def _unit_of(value) -> Unit | None:
    return find_unit(db.session, value, current_scope())


def in_unit(unit: Unit, subunits: bool):
    """Members of the unit — with `subunits`, of its whole subtree — held there or
    temporarily active there, as the scope counts them."""
    if subunits:
        return member_clause(unit.path)
    return or_(Member.unit_id == unit.id, Member.host_unit_id == unit.id)


class FilterInUnitSubtree(BaseFilter):
    """Members of a unit and of every unit under it. A unit outside the scope selects
    nobody."""

    name = _l("In the unit or its sub-units")
    arg_name = "in_subtree"
    subunits = True

    def apply(self, query, value):
        unit = _unit_of(value)
        return query.filter(false() if unit is None else in_unit(unit, self.subunits))


class FilterInUnit(FilterInUnitSubtree):
    """Members of exactly that unit."""

    name = _l("In the unit itself")
    arg_name = "in_unit"
    subunits = False


def unit_label(unit: Unit) -> str:
    return f"{unit.code} – {unit.name}"


def _code_key(code: str) -> list:
    """NB.3 before NB.10: the code's parts, numbers as numbers."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in code.split(".")]


class MemberListMixin:
    """For MemberModelView: the unit filter, the unit look-up and the export."""

    # As a tab (a unit's members) its list adds the unit filter of the request's arguments:
    # its rows are not counted ahead with the other tabs (DangVienModelView._related_counts).
    counted_ahead = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # The view defines the rows of its list; the report job replays them from here.
        provide_list_query(cls.listed_members)

    # ------------------------------------------------------------ the list's state

    @classmethod
    def list_state(cls) -> dict[str, Any]:
        """What selects and orders the rows shown, from the request's arguments (the same
        ones FAB reads for the list: _flt_N_column, _oc_/_od_ of the view)."""
        filters = []
        for arg in sorted(request.args):
            match = FILTER_ARG.fullmatch(arg)
            if match and match.group(2) in cls.search_columns:
                values = [without_disallowed(v) for v in request.args.getlist(arg)]
                filters.append([match.group(2), int(match.group(1)), values])
        name = cls.__name__
        order_column = request.args.get(f"_oc_{name}")
        direction = request.args.get(f"_od_{name}")
        order = (
            [order_column, direction]
            if order_column in cls.order_columns and direction in ("asc", "desc")
            else None
        )
        unit = request.args.get("unit", "")
        unit_id = int(unit) if unit.isascii() and unit.isdigit() and len(unit) < 19 else None
        return {
            "unit_id": unit_id,
            "subunits": request.args.get("subunits") == "1",
            "filters": filters,
            "order": order,
        }

    @classmethod
    def unit_filter(cls, state: dict[str, Any]):
        """(filter class, value) of the state's unit filter, or None."""
        if state.get("unit_id") is None:
            return None
        return (FilterInUnitSubtree if state.get("subunits") else FilterInUnit), state["unit_id"]

    @classmethod
    def listed_members(cls, session, scope: str | None, state: dict[str, Any]):
        """The Members a list state selects in `scope`, in the list's order (with FAB's
        tie-break on the id, so pages and exports agree row for row)."""
        datamodel = cls.datamodel
        filters = datamodel.get_filters(cls.search_columns)
        known = filters.get_search_filters()
        for column, index, values in state.get("filters") or []:
            if column in known and 0 <= index < len(known[column]):
                filters.add_filter_index(column, index, values)
        order_column, direction = state.get("order") or cls.base_order
        query = session.query(Member).filter(scope_clause(Member, scope))
        if state.get("unit_id") is not None:
            # Resolved in the given scope (the job has no signed-in user): a unit outside
            # it selects nobody, never that unit's members.
            unit = find_unit(session, state["unit_id"], scope)
            query = query.filter(false() if unit is None else in_unit(unit, state["subunits"]))
        return datamodel.apply_all(query, filters, order_column, direction)

    # ------------------------------------------------------------ the screen

    def _get_list_widget(self, filters, **kwargs):
        state = self.list_state()
        unit_filter = self.unit_filter(state)
        if unit_filter is not None:
            # A copy: FAB's filters of the view also draw the search panel.
            filters = filters.copy().add_filter("unit", *unit_filter)
        return super()._get_list_widget(filters, **kwargs)

    def render_template(self, template, **kwargs):
        if template == self.list_template:
            state = self.list_state()
            unit = _unit_of(state["unit_id"]) if state["unit_id"] is not None else None
            if state["unit_id"] is not None and unit is None:
                flash(gettext("The unit does not exist."), "warning")
            kwargs["unit_filter"] = {
                "unit": unit,
                "label": unit_label(unit) if unit else "",
                "subunits": state["subunits"] or state["unit_id"] is None,
            }
            kwargs["kept_args"] = [
                (name, value)
                for name, value in request.args.items(multi=True)
                if name not in ("unit", "subunits", "_flt_0_search_key")
                and not name.startswith("page_")
            ]
        return super().render_template(template, **kwargs)

    @expose("/units")
    @has_access
    @permission_name("list")
    def unit_choices(self):
        """Units of the user's scope whose code starts with, or whose name contains, what
        was typed (diacritics ignored), for the list's unit filter: Select2's JSON."""
        typed = without_disallowed(request.args.get("q", ""))[:100].strip()
        page = request.args.get("page", "1")
        page = int(page) if page.isascii() and page.isdigit() and len(page) < 6 else 1
        query = select(Unit.id, Unit.code, Unit.name).where(
            Unit.dissolved_on.is_(None), scope_clause(Unit, current_scope())
        )
        if typed and " " not in typed and any(ch.isdigit() or ch == "." for ch in typed):
            # A code typed: its prefix, in the database.
            escaped = typed.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(Unit.code.ilike(f"{escaped}%", escape="\\"))
        rows = db.session.execute(query).all()
        words = fold(typed).split()
        found = [
            row for row in rows if all(word in fold(f"{row.code} {row.name}") for word in words)
        ]
        found.sort(key=lambda row: _code_key(row.code))
        start = max(page - 1, 0) * UNIT_CHOICES_PAGE
        chosen = found[start : start + UNIT_CHOICES_PAGE]
        return jsonify(
            {
                "results": [{"id": row.id, "text": f"{row.code} – {row.name}"} for row in chosen],
                "pagination": {"more": start + UNIT_CHOICES_PAGE < len(found)},
            }
        )

    @expose("/export")
    @has_access
    @permission_name("list")
    def export(self):
        """The list as shown, as a workbook: at once when short, else by the report job."""
        state = self.list_state()
        unit = None
        if state["unit_id"] is not None:
            unit = _unit_of(state["unit_id"])
            if unit is None:
                abort(404)
        scope = current_scope()
        query = self.listed_members(db.session, scope, state)
        total = query.count()
        heading_unit = unit or self._scope_unit()
        if heading_unit is None:
            abort(404)
        if total > export_threshold():
            return self._export_by_job(heading_unit, state)
        report = export_report(
            heading_unit, query.yield_per(1000), describe_state(db.session, scope, state)
        )
        # Report files are in Vietnamese whatever the screen's language (as the worker's).
        with tempfile.TemporaryDirectory() as folder, force_locale("vi"):
            path = Path(folder) / f"danh-sach-loc_{heading_unit.code}.xlsx"
            write_report(report, "xlsx", path)
            data = path.read_bytes()
        from webapp.domain.audit import Download, log_download

        # A list of members' data leaves the system: logged like every report download
        # (the longer lists go through a report run, whose download is logged there).
        log_download(
            db.session,
            current_requester(),
            Download(
                what=EXPORT_REPORT,
                output_format="xlsx",
                rows=total,
                unit_id=heading_unit.id,
                unit_code=heading_unit.code,
                parameters={
                    name: value for name, value in state.items() if value not in (None, "")
                },
                file_name=path.name,
            ),
        )
        db.session.commit()
        return send_file(
            io.BytesIO(data),
            as_attachment=True,
            download_name=path.name,
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )

    def _export_by_job(self, unit: Unit, state: dict[str, Any]):
        try:
            run = request_report(
                db.session, current_requester(), EXPORT_REPORT, "xlsx", unit.id, {"list": state}
            )
        except DomainError as error:
            flash_domain_error(error)
            return redirect(url_for(f"{type(self).__name__}.list", **request.args))
        return redirect(url_for("ReportRunView.show", pk=run.id))

    @staticmethod
    def _scope_unit() -> Unit | None:
        """The unit a list without a unit filter is about (the file's heading and the
        run's unit): the user's own, or for an Admin the top of the tree."""
        unit_id = getattr(current_user, "unit_id", None)
        if unit_id is not None:
            return db.session.get(Unit, unit_id)
        return db.session.scalar(
            select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.code).limit(1)
        )


def export_threshold() -> int:
    return int(current_app.config.get("MEMBER_EXPORT_INLINE_ROWS", MEMBER_EXPORT_INLINE_ROWS))
