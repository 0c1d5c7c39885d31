"""What the card and badge screens and APIs share (the workflow itself is
webapp/domain/proposals.py): reading the posted selection, the decision on a screen, the
printables, and the REST base with the one /decide endpoint."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, ClassVar

from flask import flash, redirect, request, url_for
from flask_appbuilder.api import expose as api_expose
from flask_appbuilder.api import protect, safe
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext
from flask_wtf import FlaskForm
from sqlalchemy import or_, select

from webapp.domain.dates import parse_date
from webapp.domain.errors import N_, DomainError, ValidationFailed
from webapp.domain.proposals import Workflow, decidable
from webapp.domain.scope import scope_clause
from webapp.extensions import db
from webapp.models.unit import Unit, UnitKind
from webapp.reports.runs import request_report
from webapp.security import current_requester, current_scope
from webapp.views.adapters import flash_domain_error, run_on_screen
from webapp.views.base import DangVienModelRestApi, form_text, parse_int, parse_text

PAGE_SIZE = 50


# --- Screens --------------------------------------------------------------------------


def selected_ids(name: str = "selected") -> list[int]:
    """The ticked rows of a posted list (anything that is not an id is ignored)."""
    return [form_number(v) for v in request.form.getlist(name) if form_number(v) is not None]


def form_number(value: str | None) -> int | None:
    text = (value or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None


def parse_form_date(value: str | None, field: str = "date") -> date | None:
    """dd/mm/yyyy or ISO (the domain's one date parser); ValidationFailed on anything else."""
    return parse_date(value, field)


def page_number() -> int:
    value = request.args.get("page", "0")
    return int(value) if value.isdigit() and len(value) < 6 else 0


def form_is_fresh() -> bool:
    """The posted form's CSRF token is valid; otherwise say so (nothing is run)."""
    if FlaskForm().validate():
        return True
    flash(gettext("The form has expired; please submit it again."), "danger")
    return False


def decide_on_screen(decide: Callable[..., Any], proposal_ids: list[int]) -> bool:
    """Approve or reject the ticked proposals with the posted comment."""
    approve = request.form.get("decision") == "approve"
    return run_on_screen(
        lambda: decide(
            db.session,
            current_requester(),
            proposal_ids,
            approve,
            comment=form_text("comment", multiline=True),
        ),
        gettext("The selected proposals have been approved.")
        if approve
        else gettext("The selected proposals have been rejected."),
    )


def decision_offer(flow: Workflow, action: str, proposals, permitted: bool) -> dict:
    """What a page listing proposals offers for deciding them: Approve/Reject only when
    the user's role may decide (`permitted`: the screen's permission too) and one of them
    is open and proposed by someone else (the domain's four-eyes rule); a note when every
    open one is the user's own."""
    requester = current_requester()
    allowed = permitted and requester.may(action)
    open_ones = [p for p in proposals if p.state == flow.proposed]
    others = decidable(requester, flow, open_ones)
    return {
        "can_decide": allowed and bool(others),
        "four_eyes_note": allowed and bool(open_ones) and not others,
    }


def proposal_units():
    """Units that send lists up (not the cells under a grassroots committee, which would
    make the pick-list of a province thousands long), and the user's own unit."""
    scope = current_scope()
    return db.session.scalars(
        select(Unit)
        .where(
            Unit.dissolved_on.is_(None),
            scope_clause(Unit, scope),
            or_(Unit.kind != UnitKind.CELL, Unit.path == (scope or "")),
        )
        .order_by(Unit.sort_path)
    ).all()


def request_print(report: str, unit_id: int, parameters: dict):
    """Queue a printable through the report runs; the run's page, or None when refused."""
    try:
        run = request_report(
            db.session,
            current_requester(),
            report,
            # The card printer gets its data file with the members' photos in one ZIP.
            "zip" if report == "card-printer-data" else "pdf",
            unit_id,
            parameters,
        )
    except DomainError as error:
        flash_domain_error(error)
        return None
    flash(gettext("The report has been queued."), "info")
    return redirect(url_for("ReportRunView.show", pk=run.id))


# --- REST API -------------------------------------------------------------------------


def proposal_ids(payload: dict, key: str = "ids") -> list[int]:
    values = payload.get(key)
    ids = [parse_int(v, key) for v in values] if isinstance(values, list) else []
    if not ids or None in ids:
        raise ValidationFailed({key: [(N_("Choose at least one proposal."), {})]})
    return ids


class CommandApi(DangVienModelRestApi):
    """An API whose POST endpoints run domain commands on a JSON object body."""

    def run_command(self, handler: Callable[[dict], Any]):
        """`handler(payload)` on the request's JSON object; a refusal answers 4xx."""
        payload = self.json_object()
        if payload is None:
            return self.not_a_json_object()
        return self.answering_domain_errors(handler, payload)


class ProposalApi(CommandApi):
    """The card and badge proposal APIs: the same /decide endpoint, running the
    subclass's decision command."""

    decide_command: ClassVar[Callable[..., list]]

    @api_expose("/decide", methods=["POST"])
    @protect()
    @safe
    @permission_name("decide")
    def decide(self):
        """Approve or reject proposals (all or none); the proposer may not decide.
        ---
        post:
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    ids: {type: array, items: {type: integer}}
                    approve: {type: boolean}
                    comment: {type: string}
          responses:
            200: {description: Decided}
            404: {$ref: '#/components/responses/404'}
            422: {$ref: '#/components/responses/422'}
        """

        def run(payload: dict):
            approve = payload.get("approve")
            if not isinstance(approve, bool):
                raise ValidationFailed({"approve": [(N_("Say whether to approve or reject."), {})]})
            proposals = self.decide_command(
                db.session,
                current_requester(),
                proposal_ids(payload),
                approve,
                comment=parse_text(payload.get("comment"), "comment", multiline=True),
            )
            return self.response(200, ids=[p.id for p in proposals], state=proposals[0].state)

        return self.run_command(run)
