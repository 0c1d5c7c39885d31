"""Party cards on screen and in the API: members needing a card, proposal batches with
decisions and issue, the card registry and recording a card a member holds already.
Adapters only: webapp/domain/cards.py decides (the shared parts are views/proposals.py)."""

from __future__ import annotations

from datetime import date

from flask import abort, current_app, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.api import expose as api_expose
from flask_appbuilder.api import protect, safe
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from sqlalchemy import func, select

from webapp.domain.cards import (
    CARDS,
    CardRequest,
    decide_cards,
    issue_cards,
    members_needing_card,
    propose_cards,
    record_card,
)
from webapp.domain.errors import N_, ValidationFailed
from webapp.domain.scope import scope_clause
from webapp.extensions import db
from webapp.labels import (
    CARD_REASON_LABELS,
    CARD_STATE_LABELS,
    PROPOSAL_STATE_LABELS,
    format_date,
    label_for,
)
from webapp.models.cards import CardProposal, CardProposalBatch, CardReason, PartyCard
from webapp.models.member import Member
from webapp.security import current_requester, current_scope, scoped_get
from webapp.views.adapters import run_on_screen
from webapp.views.base import DangVienModelView, parse_int, parse_iso_date, parse_text
from webapp.views.filters import PageLoadingInterface
from webapp.views.proposals import (
    PAGE_SIZE,
    CommandApi,
    ProposalApi,
    decide_on_screen,
    decision_offer,
    form_is_fresh,
    form_number,
    page_number,
    parse_form_date,
    proposal_ids,
    proposal_units,
    request_print,
    selected_ids,
)

CARD_REPORTS = ("card-proposals", "card-decision", "card-handover", "card-printer-data")


def card_prefix() -> str:
    return current_app.config["CARD_NUMBER_PREFIX"]


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

    def _back(self, batch_id: int):
        return redirect(url_for("CardBatchView.show", pk=batch_id))

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        batch = self._batch(int(pk)) if str(pk).isdigit() else abort(404)
        proposals = db.session.scalars(
            select(CardProposal)
            .where(CardProposal.batch_id == batch.id, scope_clause(CardProposal, current_scope()))
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
            **decision_offer(CARDS, "card.decide", proposals, self._can("decide")),
            can_issue=self._can("issue"),
            can_print=self._can("print"),
            today=format_date(date.today()),
            title=gettext("Card proposal batch %(id)s", id=batch.id),
        )

    @expose("/decide/<int:pk>", methods=["POST"])
    @has_access
    @permission_name("decide")
    def decide(self, pk: int):
        if form_is_fresh():
            decide_on_screen(decide_cards, selected_ids())
        return self._back(pk)

    @expose("/issue/<int:pk>", methods=["POST"])
    @has_access
    @permission_name("issue")
    def issue(self, pk: int):
        if form_is_fresh():
            run_on_screen(
                lambda: issue_cards(
                    db.session,
                    current_requester(),
                    selected_ids(),
                    prefix=card_prefix(),
                    issued_on=parse_form_date(request.form.get("issued_on")),
                ),
                gettext("The cards have been issued."),
            )
        return self._back(pk)

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
        return request_print(report, batch.unit_id, parameters) or self._back(batch.id)

    @expose("/needing", methods=["GET"])
    @has_access
    @permission_name("propose")
    def needing(self):
        query = members_needing_card(db.session, current_scope())
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

    def _propose(self, unit_id: int | None, requests: list[CardRequest], note=None):
        """Propose the batch; its page when it was created, else None (refusal flashed)."""
        created = []
        ran = run_on_screen(
            lambda: created.append(
                propose_cards(db.session, current_requester(), unit_id, requests, note=note)
            ),
            gettext("The proposal batch has been created."),
        )
        return self._back(created[0].id) if ran else None

    @expose("/propose", methods=["POST"])
    @has_access
    @permission_name("propose")
    def propose(self):
        if form_is_fresh():
            requests = [CardRequest(member_id) for member_id in selected_ids()]
            unit_id = form_number(request.form.get("unit_id"))
            done = self._propose(unit_id, requests, request.form.get("note"))
            if done is not None:
                return done
        return redirect(url_for("CardBatchView.needing"))

    @expose("/propose-one/<int:member_id>", methods=["GET", "POST"])
    @has_access
    @permission_name("propose")
    def propose_one(self, member_id: int):
        """A card for one member: lost, damaged, name changed (or a first card)."""
        member = scoped_get(Member, member_id) or abort(404)
        form = FlaskForm()
        first = CardReason.LOST if member.card_number else CardReason.NEW_OFFICIAL
        values = {
            "reason": request.form.get("reason", first),
            "explanation": request.form.get("explanation", ""),
            "photo_reference": request.form.get("photo_reference", ""),
        }
        if request.method == "POST" and form.validate():
            done = self._propose(member.unit_id, [CardRequest(member.id, **values)])
            if done is not None:
                return done
        return self.render_template(
            "cards/propose_one.html",
            member=member,
            form=form,
            values=values,
            reasons=CARD_REASON_LABELS,
            title=gettext("Propose a Party card"),
        )


class PartyCardView(DangVienModelView):
    """The card registry (read only): valid, revoked on re-issue, withdrawn on leaving;
    and recording the card a member holds already (paper record, transfer in)."""

    datamodel = PageLoadingInterface(PartyCard)
    route_base = "/partycards"
    list_title = _l("Issued Party cards")
    show_title = _l("Party card")
    base_permissions = ["can_list", "can_show", "can_record"]
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

    @expose("/record/<int:member_id>", methods=["GET", "POST"])
    @has_access
    @permission_name("record")
    def record(self, member_id: int):
        member = scoped_get(Member, member_id) or abort(404)
        form = FlaskForm()
        values = {k: request.form.get(k, "") for k in ("number", "issued_on")}
        if (
            request.method == "POST"
            and form.validate()
            and run_on_screen(
                lambda: record_card(
                    db.session,
                    current_requester(),
                    member.id,
                    values["number"],
                    parse_form_date(values["issued_on"]),
                ),
                gettext("The card has been entered in the card registry."),
            )
        ):
            return redirect(url_for("MemberModelView.show", pk=member.id))
        return self.render_template(
            "cards/record.html",
            member=member,
            form=form,
            values=values,
            title=gettext("Enter a card the member holds"),
        )


# --- REST API ---------------------------------------------------------------------------


class CardProposalApi(ProposalApi):
    """Card proposals: list and show; POST proposes a batch; /decide and /issue run the
    same commands as the batch page."""

    resource_name = "card-proposals"
    datamodel = SQLAInterface(CardProposal)
    decide_command = staticmethod(decide_cards)
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

        def run(payload: dict):
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
                current_requester(),
                parse_int(payload.get("unit"), "unit"),
                requests,
                note=parse_text(payload.get("note"), "note", multiline=True),
            )
            return self.response(201, batch=batch.id, ids=[p.id for p in batch.proposals])

        return self.run_command(run)

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

        def run(payload: dict):
            cards = issue_cards(
                db.session,
                current_requester(),
                proposal_ids(payload),
                prefix=card_prefix(),
                issued_on=parse_iso_date(payload.get("issued_on"), "issued_on"),
            )
            return self.response(
                200, cards=[{"member": c.member_id, "number": c.number} for c in cards]
            )

        return self.run_command(run)


class PartyCardApi(CommandApi):
    """The card registry: list and show; /record enters a card a member holds already."""

    resource_name = "party-cards"
    datamodel = SQLAInterface(PartyCard)
    include_route_methods = {"get", "get_list", "info", "record"}
    list_columns = [
        "id",
        "member.id",
        "member.member_number",
        "number",
        "issued_on",
        "state",
        "ended_on",
        "end_note",
    ]
    show_columns = list_columns
    search_columns = ["number", "state", "member"]
    order_columns = ["id", "number", "issued_on"]
    base_order = ("id", "asc")

    @api_expose("/record", methods=["POST"])
    @protect()
    @safe
    @permission_name("record")
    def record(self):
        """Enter the card a member holds already (paper record, transfer in).
        ---
        post:
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    member: {type: integer}
                    number: {type: string}
                    issued_on: {type: string, format: date}
          responses:
            201: {description: Entered}
            404: {$ref: '#/components/responses/404'}
            422: {$ref: '#/components/responses/422'}
        """

        def run(payload: dict):
            card = record_card(
                db.session,
                current_requester(),
                parse_int(payload.get("member"), "member"),
                parse_text(payload.get("number"), "number"),
                parse_iso_date(payload.get("issued_on"), "issued_on"),
            )
            return self.response(201, id=card.id, member=card.member_id, number=card.number)

        return self.run_command(run)
