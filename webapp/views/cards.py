"""Party cards on screen and in the API: members needing a card, proposal batches with
decisions and issue, issued cards. Views stay thin: webapp/domain/cards.py decides."""

from __future__ import annotations

from datetime import date

from flask import abort, current_app, flash, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.api import expose as api_expose
from flask_appbuilder.api import protect, safe
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from webapp.domain.cards import (
    CardRequest,
    decide_cards,
    issue_cards,
    members_needing_card,
    propose_cards,
)
from webapp.domain.dates import parse_date
from webapp.domain.errors import N_, DomainError, ValidationFailed
from webapp.domain.scope import scope_clause
from webapp.extensions import db
from webapp.labels import format_date, label_for
from webapp.models.cards import (
    CardProposal,
    CardProposalBatch,
    CardReason,
    PartyCard,
    ProposalState,
)
from webapp.models.member import Member
from webapp.models.unit import Unit, UnitKind
from webapp.reports.runs import request_report
from webapp.security import current_scope, current_user_id, scoped_get
from webapp.views.base import (
    DangVienModelRestApi,
    DangVienModelView,
    form_text,
    parse_int,
    parse_iso_date,
    parse_text,
)
from webapp.views.errors import translate, translated_field_errors

CARD_REASON_LABELS = {
    CardReason.NEW_OFFICIAL: _l("New official member"),
    CardReason.LOST: _l("Card lost"),
    CardReason.DAMAGED: _l("Card damaged"),
    CardReason.NAME_CHANGE: _l("Name changed"),
}
PROPOSAL_STATE_LABELS = {
    ProposalState.PROPOSED: _l("Proposed"),
    ProposalState.APPROVED: _l("Approved"),
    ProposalState.REJECTED: _l("Rejected"),
    ProposalState.ISSUED: _l("Issued"),
    ProposalState.REVOKED: _l("Revoked"),
}
CARD_STATE_LABELS = {
    "valid": _l("Valid"),
    "revoked": _l("Revoked"),
    "withdrawn": _l("Withdrawn"),
}
CARD_REPORTS = ("card-proposals", "card-decision", "card-handover", "card-printer-data")
PAGE_SIZE = 50


def flash_domain_error(error: DomainError) -> None:
    """Every message of a refused command, translated, as one flash each."""
    if isinstance(error, ValidationFailed):
        for messages in translated_field_errors(error.errors).values():
            for message in messages:
                flash(message, "danger")
    else:
        flash(translate(error.message, error.params), "danger")


class ConcurrentChange(DomainError):
    status_code = 409


def guarded(command):
    """Run `command`; a clash with another transaction that the locks did not foresee
    (a unique number taken, a deadlock, a stale version) becomes a clear refusal."""
    try:
        return command()
    except (IntegrityError, OperationalError, StaleDataError) as error:
        db.session.rollback()
        raise ConcurrentChange(
            N_(
                "Someone else changed these records at the same time; nothing was saved. "
                "Open the page again and retry."
            )
        ) from error


def run_command(command, success: str) -> bool:
    """Run a domain command; on refusal roll back and flash why. True when it ran."""
    try:
        guarded(command)
    except DomainError as error:
        db.session.rollback()
        flash_domain_error(error)
        return False
    flash(success, "success")
    return True


def selected_ids(name: str = "selected") -> list[int]:
    return [
        int(v) for v in request.form.getlist(name) if v.isascii() and v.isdigit() and len(v) < 10
    ]


def parse_form_date(value: str | None, field: str = "date") -> date | None:
    """dd/mm/yyyy or ISO (the domain parser); raises ValidationFailed on anything else."""
    return parse_date(value, field)


def page_number() -> int:
    value = request.args.get("page", "0")
    return int(value) if value.isdigit() and len(value) < 6 else 0


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
        .order_by(Unit.path)
    ).all()


def request_print(report: str, unit_id: int, parameters: dict):
    try:
        run = request_report(
            report,
            "xlsx" if report == "card-printer-data" else "pdf",
            unit_id,
            parameters,
            user_id=current_user_id(),
            scope=current_scope(),
        )
    except DomainError as error:
        flash_domain_error(error)
        return None
    flash(gettext("The report has been queued."), "info")
    return redirect(url_for("ReportRunView.show", pk=run.id))


def batch_link(batch_id) -> Markup:
    if batch_id is None:
        return Markup("")
    return Markup('<a href="{}">#{}</a>').format(
        url_for("CardBatchView.show", pk=batch_id), escape(batch_id)
    )


class CardBatchView(DangVienModelView):
    """Proposal batches: the list, the batch page (decide, issue, print) and the list of
    members needing a card (select and propose)."""

    datamodel = SQLAInterface(CardProposalBatch)
    route_base = "/cards"
    list_title = _l("Card proposal batches")
    show_title = _l("Card proposal batch")
    base_permissions = [
        "can_list",
        "can_show",
        "can_propose",
        "can_decide",
        "can_issue",
        "can_print",
    ]
    list_columns = ["id", "unit", "proposed_by", "proposed_at", "note"]
    label_columns = {
        "id": _l("Batch"),
        "unit": _l("Unit"),
        "proposed_by": _l("Proposed by"),
        "proposed_at": _l("Proposed at"),
        "note": _l("Note"),
    }
    search_columns = ["proposed_at", "note"]
    base_order = ("id", "desc")
    formatters_columns = {
        "id": batch_link,
        "proposed_at": lambda value: value.strftime("%d/%m/%Y %H:%M") if value else "",
    }

    def _batch(self, pk: int) -> CardProposalBatch:
        batch = scoped_get(CardProposalBatch, pk)
        if batch is None:
            abort(404)
        return batch

    def _can(self, permission: str) -> bool:
        return self.appbuilder.sm.has_access(f"can_{permission}", self.class_permission_name)

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        batch = self._batch(int(pk)) if str(pk).isdigit() else abort(404)
        scope = current_scope()
        proposals = db.session.scalars(
            select(CardProposal)
            .where(CardProposal.batch_id == batch.id, scope_clause(CardProposal, scope))
            .order_by(CardProposal.id)
        ).all()
        return self.render_template(
            "cards/batch.html",
            batch=batch,
            proposals=proposals,
            reason_label=lambda v: label_for(CARD_REASON_LABELS, v),
            state_label=lambda v: label_for(PROPOSAL_STATE_LABELS, v),
            format_date=format_date,
            form=FlaskForm(),
            can_decide=self._can("decide"),
            can_issue=self._can("issue"),
            can_print=self._can("print"),
            today=format_date(date.today()),
            title=gettext("Card proposal batch %(id)s", id=batch.id),
        )

    @expose("/decide/<int:pk>", methods=["POST"])
    @has_access
    @permission_name("decide")
    def decide(self, pk: int):
        batch = self._batch(pk)
        if not FlaskForm().validate():
            flash(gettext("The form has expired; please submit it again."), "danger")
            return redirect(url_for("CardBatchView.show", pk=batch.id))
        approve = request.form.get("decision") == "approve"
        run_command(
            lambda: decide_cards(
                db.session,
                selected_ids(),
                approve,
                user_id=current_user_id(),
                scope=current_scope(),
                comment=form_text("comment", multiline=True),
            ),
            gettext("The selected proposals have been approved.")
            if approve
            else gettext("The selected proposals have been rejected."),
        )
        return redirect(url_for("CardBatchView.show", pk=batch.id))

    @expose("/issue/<int:pk>", methods=["POST"])
    @has_access
    @permission_name("issue")
    def issue(self, pk: int):
        batch = self._batch(pk)
        if not FlaskForm().validate():
            flash(gettext("The form has expired; please submit it again."), "danger")
            return redirect(url_for("CardBatchView.show", pk=batch.id))
        run_command(
            lambda: issue_cards(
                db.session,
                selected_ids(),
                user_id=current_user_id(),
                scope=current_scope(),
                prefix=current_app.config["CARD_NUMBER_PREFIX"],
                issued_on=parse_form_date(request.form.get("issued_on")),
            ),
            gettext("The cards have been issued."),
        )
        return redirect(url_for("CardBatchView.show", pk=batch.id))

    @expose("/print/<int:pk>", methods=["POST"])
    @has_access
    @permission_name("print")
    def print_batch(self, pk: int):
        batch = self._batch(pk)
        report = request.form.get("report")
        if report not in CARD_REPORTS or not FlaskForm().validate():
            abort(400)
        parameters = {"batch_id": batch.id}
        chosen = selected_ids()
        if chosen:
            parameters["proposal_ids"] = sorted(chosen)  # print selected
        return request_print(report, batch.unit_id, parameters) or redirect(
            url_for("CardBatchView.show", pk=batch.id)
        )

    @expose("/needing", methods=["GET"])
    @has_access
    @permission_name("propose")
    def needing(self):
        scope = current_scope()
        query = members_needing_card(db.session, scope)
        total = db.session.scalar(select(func.count()).select_from(query.subquery()))
        page = page_number()
        members = db.session.scalars(
            query.order_by(Member.sort_key, Member.id).offset(page * PAGE_SIZE).limit(PAGE_SIZE)
        ).all()
        return self.render_template(
            "cards/needing.html",
            members=members,
            total=total,
            page=page,
            pages=(total + PAGE_SIZE - 1) // PAGE_SIZE,
            units=proposal_units(),
            form=FlaskForm(),
            format_date=format_date,
            title=gettext("Members needing a card"),
        )

    @expose("/propose", methods=["POST"])
    @has_access
    @permission_name("propose")
    def propose(self):
        if not FlaskForm().validate():
            flash(gettext("The form has expired; please submit it again."), "danger")
            return redirect(url_for("CardBatchView.needing"))
        unit_id = parse_int_or_none(request.form.get("unit_id"))
        created = []
        ok = run_command(
            lambda: created.append(
                propose_cards(
                    db.session,
                    unit_id,
                    [CardRequest(member_id) for member_id in selected_ids()],
                    user_id=current_user_id(),
                    scope=current_scope(),
                    note=form_text("note", multiline=True),
                )
            ),
            gettext("The proposal batch has been created."),
        )
        if ok:
            return redirect(url_for("CardBatchView.show", pk=created[0].id))
        return redirect(url_for("CardBatchView.needing"))

    @expose("/propose-one/<int:member_id>", methods=["GET", "POST"])
    @has_access
    @permission_name("propose")
    def propose_one(self, member_id: int):
        """A card for one member: lost, damaged, name changed (or a first card)."""
        member = scoped_get(Member, member_id)
        if member is None:
            abort(404)
        form = FlaskForm()
        values = {
            "reason": request.form.get(
                "reason", CardReason.LOST if member.card_number else CardReason.NEW_OFFICIAL
            ),
            "explanation": request.form.get("explanation", ""),
            "photo_reference": request.form.get("photo_reference", ""),
        }
        if request.method == "POST" and form.validate():
            created = []
            ok = run_command(
                lambda: created.append(
                    propose_cards(
                        db.session,
                        member.unit_id,
                        [
                            CardRequest(
                                member.id,
                                values["reason"],
                                parse_text(values["explanation"], "explanation", multiline=True),
                                parse_text(values["photo_reference"], "photo_reference"),
                            )
                        ],
                        user_id=current_user_id(),
                        scope=current_scope(),
                    )
                ),
                gettext("The proposal batch has been created."),
            )
            if ok:
                return redirect(url_for("CardBatchView.show", pk=created[0].id))
        return self.render_template(
            "cards/propose_one.html",
            member=member,
            form=form,
            values=values,
            reasons=CARD_REASON_LABELS,
            title=gettext("Propose a Party card"),
        )


def parse_int_or_none(value) -> int | None:
    text = (value or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None


class PartyCardView(DangVienModelView):
    """Issued cards (read only): valid, revoked on re-issue, withdrawn on leaving."""

    datamodel = SQLAInterface(PartyCard)
    route_base = "/partycards"
    list_title = _l("Issued Party cards")
    show_title = _l("Party card")
    base_permissions = ["can_list", "can_show"]
    list_columns = ["number", "member", "issued_on", "state", "ended_on", "end_note"]
    show_columns = list_columns
    search_columns = ["number", "state", "issued_on"]
    base_order = ("number", "asc")
    label_columns = {
        "number": _l("Card number"),
        "member": _l("Party member"),
        "issued_on": _l("Card issued on"),
        "state": _l("State"),
        "ended_on": _l("Ended on"),
        "end_note": _l("Note"),
    }
    formatters_columns = {
        "state": lambda value: label_for(CARD_STATE_LABELS, value),
        "issued_on": format_date,
        "ended_on": format_date,
    }


# --- REST API ---------------------------------------------------------------------------


def _ids(payload: dict, key: str = "ids") -> list[int]:
    values = payload.get(key)
    ids = [parse_int(v, key) for v in values] if isinstance(values, list) else []
    if not ids or None in ids:
        raise ValidationFailed({key: [(N_("Choose at least one proposal."), {})]})
    return ids


class CardProposalApi(DangVienModelRestApi):
    """Card proposals: list and show; POST proposes a batch; /decide and /issue run the
    same commands as the batch page."""

    resource_name = "card-proposals"
    datamodel = SQLAInterface(CardProposal)
    include_route_methods = {"get", "get_list", "info", "post", "decide", "issue"}
    list_columns = [
        "id",
        "batch.id",
        "member.id",
        "member.member_number",
        "reason",
        "explanation",
        "photo_reference",
        "state",
        "proposed_by.username",
        "proposed_at",
        "decided_by.username",
        "decided_at",
        "comment",
        "card.number",
        "issued_at",
        "version_id",
    ]
    show_columns = list_columns
    search_columns = ["state", "reason", "member", "batch"]
    order_columns = ["id", "proposed_at"]
    base_order = ("id", "asc")

    @api_expose("/", methods=["POST"])
    @protect()
    @safe
    @permission_name("post")
    def post(self):
        """Propose a batch of cards.
        ---
        post:
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    unit: {type: integer}
                    note: {type: string}
                    proposals:
                      type: array
                      items:
                        type: object
                        properties:
                          member: {type: integer}
                          reason: {type: string, enum: [new_official, lost, damaged, name_change]}
                          explanation: {type: string}
                          photo_reference: {type: string}
          responses:
            201: {description: Batch created}
            400: {$ref: '#/components/responses/400'}
            422: {$ref: '#/components/responses/422'}
        """
        payload = self.json_object()
        if payload is None:
            return self.not_a_json_object()

        def run():
            items = payload.get("proposals")
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise ValidationFailed({"proposals": [(N_("Choose at least one member."), {})]})
            requests = [
                CardRequest(
                    member_id=parse_int(item.get("member"), "member") or 0,
                    reason=parse_text(item.get("reason"), "reason") or CardReason.NEW_OFFICIAL,
                    explanation=parse_text(item.get("explanation"), "explanation", multiline=True),
                    photo_reference=parse_text(item.get("photo_reference"), "photo_reference"),
                )
                for item in items
            ]
            batch = propose_cards(
                db.session,
                parse_int(payload.get("unit"), "unit"),
                requests,
                user_id=current_user_id(),
                scope=current_scope(),
                note=parse_text(payload.get("note"), "note", multiline=True),
            )
            return self.response(201, batch=batch.id, ids=[p.id for p in batch.proposals])

        return self.answering_domain_errors(guarded, run)

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
        payload = self.json_object()
        if payload is None:
            return self.not_a_json_object()

        def run():
            approve = payload.get("approve")
            if not isinstance(approve, bool):
                raise ValidationFailed({"approve": [(N_("Say whether to approve or reject."), {})]})
            proposals = decide_cards(
                db.session,
                _ids(payload),
                approve,
                user_id=current_user_id(),
                scope=current_scope(),
                comment=parse_text(payload.get("comment"), "comment", multiline=True),
            )
            return self.response(200, ids=[p.id for p in proposals], state=proposals[0].state)

        return self.answering_domain_errors(guarded, run)

    @api_expose("/issue", methods=["POST"])
    @protect()
    @safe
    @permission_name("issue")
    def issue(self):
        """Number and issue the cards of approved proposals.
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
                    issued_on: {type: string, format: date}
          responses:
            200: {description: Issued}
            404: {$ref: '#/components/responses/404'}
            422: {$ref: '#/components/responses/422'}
        """
        payload = self.json_object()
        if payload is None:
            return self.not_a_json_object()

        def run():
            cards = issue_cards(
                db.session,
                _ids(payload),
                user_id=current_user_id(),
                scope=current_scope(),
                prefix=current_app.config["CARD_NUMBER_PREFIX"],
                issued_on=parse_iso_date(payload.get("issued_on"), "issued_on"),
            )
            return self.response(
                200, cards=[{"member": c.member_id, "number": c.number} for c in cards]
            )

        return self.answering_domain_errors(guarded, run)
