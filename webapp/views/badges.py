"""Party badges on screen and in the API: the round of an occasion (eligible list →
propose → decide → award), awards and re-issue, and the reference data (Admins)."""

from __future__ import annotations

from datetime import date

from flask import abort, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.actions import action
from flask_appbuilder.api import expose as api_expose
from flask_appbuilder.api import protect, safe
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select

from webapp.domain.badges import (
    BADGES,
    award_badges,
    badge_round,
    check_occasion,
    decide_badges,
    next_occasion_after,
    occasion_days,
    propose_badge_manually,
    propose_badges,
    reissue_badge,
)
from webapp.domain.errors import N_, FieldErrors, ValidationFailed
from webapp.domain.scope import scope_clause
from webapp.extensions import db
from webapp.labels import BADGE_KIND_LABELS, PROPOSAL_STATE_LABELS, format_date, label_for
from webapp.models.badges import (
    BadgeAward,
    BadgeMilestone,
    BadgeOccasion,
    BadgeProposal,
    BadgeSetting,
)
from webapp.models.member import Member
from webapp.models.unit import Unit
from webapp.security import current_requester, current_scope, scoped_get
from webapp.views.adapters import flash_domain_error, run_on_screen
from webapp.views.base import DangVienModelView, form_text, parse_int, parse_iso_date, parse_text
from webapp.views.errors import DomainRule
from webapp.views.filters import PageLoadingInterface
from webapp.views.proposals import (
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

BADGE_REPORTS = ("badge-proposals", "badge-decision")
ROUND_PAGE_SIZE = 100


def party_age_text(age) -> str:
    return gettext("%(years)s years %(months)s months", years=age.years, months=age.months)


def occasion_choices(today: date) -> list[date]:
    """The occasions of last year, this year and next year."""
    return [
        date(year, month, day)
        for year in (today.year - 1, today.year, today.year + 1)
        for month, day in occasion_days(db.session)
    ]


class BadgeRoundView(BaseView):
    """One page per occasion and unit: who is eligible and why, the proposals, decisions,
    awards and the printables."""

    route_base = "/badges"
    default_view = "round"
    base_permissions = ["can_round", "can_propose", "can_decide", "can_award", "can_print"]

    def _can(self, permission: str) -> bool:
        return self.appbuilder.sm.has_access(f"can_{permission}", self.class_permission_name)

    def _occasion_and_unit(self, values):
        today = date.today()
        try:
            occasion = parse_form_date(values.get("occasion")) or next_occasion_after(
                db.session, today
            )
            occasion = check_occasion(db.session, occasion)
        except ValidationFailed as error:
            flash_domain_error(error)
            occasion = next_occasion_after(db.session, today)
        units = proposal_units()
        unit_id = form_number(values.get("unit_id"))
        unit = next((u for u in units if u.id == unit_id), units[0] if units else None)
        return occasion, unit, units

    def _back(self, occasion, unit):
        return redirect(
            url_for(
                "BadgeRoundView.round",
                occasion=occasion.isoformat() if occasion else None,
                unit_id=unit.id if unit else None,
            )
        )

    @expose("/round", methods=["GET"])
    @has_access
    @permission_name("round")
    def round(self):
        occasion, unit, units = self._occasion_and_unit(request.args)
        rows, proposals = [], []
        if unit is not None and occasion is not None:
            rows = badge_round(db.session, unit, occasion)
            proposals = db.session.scalars(
                select(BadgeProposal)
                .join(Member, Member.id == BadgeProposal.member_id)
                .join(Unit, Unit.id == Member.unit_id)
                .where(
                    BadgeProposal.occasion_on == occasion,
                    Unit.path.startswith(unit.path, autoescape=True),
                    scope_clause(BadgeProposal, current_scope()),
                )
                .order_by(Unit.path, Member.sort_key, BadgeProposal.id)
            ).all()
        page = page_number()
        pages = (len(rows) + ROUND_PAGE_SIZE - 1) // ROUND_PAGE_SIZE
        milestones = db.session.scalars(
            select(BadgeMilestone.years)
            .where(BadgeMilestone.active.is_(True))
            .order_by(BadgeMilestone.years)
        ).all()
        return self.render_template(
            "badges/round.html",
            occasion=occasion,
            occasions=occasion_choices(date.today()),
            unit=unit,
            units=units,
            rows=rows[page * ROUND_PAGE_SIZE : (page + 1) * ROUND_PAGE_SIZE],
            eligible_total=len(rows),
            not_proposed=sum(1 for r in rows if not r.proposed),
            page=page,
            pages=pages,
            proposals=proposals,
            milestones=milestones,
            kind_label=lambda v: label_for(BADGE_KIND_LABELS, v),
            state_label=lambda v: label_for(PROPOSAL_STATE_LABELS, v),
            party_age_text=party_age_text,
            format_date=format_date,
            form=FlaskForm(),
            can_propose=self._can("propose"),
            **decision_offer(BADGES, "badge.decide", proposals, self._can("decide")),
            can_award=self._can("award"),
            can_print=self._can("print"),
            today=format_date(date.today()),
            title=gettext("Party badge round"),
        )

    def _posted(self):
        occasion, unit, _ = self._occasion_and_unit(request.form)
        return form_is_fresh(), occasion, unit

    @expose("/propose", methods=["POST"])
    @has_access
    @permission_name("propose")
    def propose(self):
        ok, occasion, unit = self._posted()
        if ok:
            run_on_screen(
                lambda: propose_badges(db.session, current_requester(), occasion, selected_ids()),
                gettext("The selected members have been proposed."),
            )
        return self._back(occasion, unit)

    @expose("/propose-manual", methods=["POST"])
    @has_access
    @permission_name("propose")
    def propose_manual(self):
        ok, occasion, unit = self._posted()
        if ok:
            # Only the id: the command itself refuses a member outside the scope.
            number = (request.form.get("member_number") or "").strip()
            member_id = db.session.scalar(select(Member.id).where(Member.member_number == number))
            run_on_screen(
                lambda: propose_badge_manually(
                    db.session,
                    current_requester(),
                    occasion,
                    member_id,
                    form_number(request.form.get("milestone")),
                    request.form.get("kind") or "",
                    form_text("reason", multiline=True),
                ),
                gettext("The member has been proposed."),
            )
        return self._back(occasion, unit)

    @expose("/decide", methods=["POST"])
    @has_access
    @permission_name("decide")
    def decide(self):
        ok, occasion, unit = self._posted()
        if ok:
            decide_on_screen(decide_badges, selected_ids("proposal"))
        return self._back(occasion, unit)

    @expose("/award", methods=["POST"])
    @has_access
    @permission_name("award")
    def award(self):
        ok, occasion, unit = self._posted()
        if ok:
            run_on_screen(
                lambda: award_badges(
                    db.session,
                    current_requester(),
                    selected_ids("proposal"),
                    decision_number=request.form.get("decision_number"),
                    decision_on=parse_form_date(request.form.get("decision_on")),
                    first_number=request.form.get("first_number"),
                ),
                gettext("The awards have been recorded."),
            )
        return self._back(occasion, unit)

    @expose("/print", methods=["POST"])
    @has_access
    @permission_name("print")
    def print_round(self):
        ok, occasion, unit = self._posted()
        report = request.form.get("report")
        if report not in BADGE_REPORTS or unit is None or occasion is None:
            abort(400)
        if ok:
            response = request_print(report, unit.id, {"occasion": occasion.isoformat()})
            if response is not None:
                return response
        return self._back(occasion, unit)


class BadgeAwardView(DangVienModelView):
    """Awarded badges (read only) and the re-issue of a lost one."""

    datamodel = PageLoadingInterface(BadgeAward)
    route_base = "/badgeawards"
    list_title = _l("Party badge awards")
    show_title = _l("Party badge award")
    base_permissions = ["can_list", "can_show", "can_reissue"]
    # The action's permission is the page's: can_reissue (FAB would name it "reissue").
    method_permission_name = {"reissue_action": "reissue"}
    list_columns = [
        "member",
        "milestone",
        "badge_number",
        "decision_number",
        "decision_on",
        "occasion_on",
        "posthumous",
        "lost_on",
        "reissue_of",
    ]
    show_columns = list_columns
    search_columns = ["badge_number", "milestone", "occasion_on", "decision_number"]
    base_order = ("id", "desc")
    label_columns = {
        "member": _l("Party member"),
        "milestone": _l("Milestone (years)"),
        "badge_number": _l("Badge number"),
        "decision_number": _l("Decision number"),
        "decision_on": _l("Decision date"),
        "occasion_on": _l("Occasion"),
        "posthumous": _l("Posthumous"),
        "lost_on": _l("Lost on"),
        "reissue_of": _l("Re-issue of"),
    }
    formatters_columns = {
        "decision_on": format_date,
        "occasion_on": format_date,
        "lost_on": format_date,
    }

    @action(
        "reissue",
        _l("Re-issue a lost badge"),
        icon="fa-refresh",
        multiple=False,
        single=True,
    )
    def reissue_action(self, item):
        return redirect(url_for("BadgeAwardView.reissue", pk=item.id))

    @expose("/reissue/<int:pk>", methods=["GET", "POST"])
    @has_access
    @permission_name("reissue")
    def reissue(self, pk: int):
        award = scoped_get(BadgeAward, pk) or abort(404)
        form = FlaskForm()
        values = {
            k: request.form.get(k, "")
            for k in ("badge_number", "decision_number", "decision_on", "lost_on")
        }
        if (
            request.method == "POST"
            and form.validate()
            and run_on_screen(
                lambda: reissue_badge(
                    db.session,
                    current_requester(),
                    award.id,
                    badge_number=values["badge_number"],
                    decision_number=values["decision_number"],
                    decision_on=parse_form_date(values["decision_on"]),
                    lost_on=parse_form_date(values["lost_on"]),
                ),
                gettext("The badge has been re-issued."),
            )
        ):
            return redirect(url_for("BadgeAwardView.list"))
        return self.render_template(
            "badges/reissue.html",
            award=award,
            values=values,
            form=form,
            format_date=format_date,
            title=gettext("Re-issue a lost badge"),
        )


# --- Reference data (Admins) ------------------------------------------------------------


def _range_error(errors: FieldErrors, field: str, value, low: int, high: int) -> None:
    if value is None or not (low <= value <= high):
        errors.add(field, N_("Enter a whole number from %(low)s to %(high)s."), low=low, high=high)


def _form_rule(view_check):
    """The view's check_item as a form validator (refused before anything is written)."""

    def check(form):
        from types import SimpleNamespace

        return view_check(
            SimpleNamespace(**{name: field.data for name, field in form._fields.items()})
        )

    return DomainRule(check)


def check_milestone(item) -> FieldErrors:
    errors = FieldErrors()
    _range_error(errors, "years", item.years, 1, 120)
    _range_error(errors, "early_months", item.early_months, 0, 60)
    return errors


def check_occasion_day(item) -> FieldErrors:
    errors = FieldErrors()
    _range_error(errors, "month", item.month, 1, 12)
    _range_error(errors, "day", item.day, 1, 31)
    if not errors:
        try:
            date(2001, item.month, item.day)  # a common year: no 29/2 occasion
        except ValueError:
            errors.add("day", N_("The day does not exist in that month."))
    return errors


def check_setting(item) -> FieldErrors:
    errors = FieldErrors()
    _range_error(errors, "months", item.months, 0, 120)
    return errors


milestone_rule = _form_rule(check_milestone)
occasion_rule = _form_rule(check_occasion_day)
setting_rule = _form_rule(check_setting)


class BadgeMilestoneView(DangVienModelView):
    datamodel = SQLAInterface(BadgeMilestone)
    list_title = _l("Badge milestones")
    add_title = _l("Add a badge milestone")
    show_title = _l("Badge milestone")
    edit_title = _l("Edit badge milestone")
    list_columns = add_columns = edit_columns = show_columns = ["years", "early_months", "active"]
    label_columns = {
        "years": _l("Party age (years)"),
        "early_months": _l("Early window (months)"),
        "active": _l("In use"),
    }
    base_order = ("years", "asc")
    validators_columns = {"years": [milestone_rule], "early_months": [milestone_rule]}

    def check_item(self, item, item_id):
        return check_milestone(item)


class BadgeOccasionView(DangVienModelView):
    datamodel = SQLAInterface(BadgeOccasion)
    list_title = _l("Badge occasions")
    add_title = _l("Add a badge occasion")
    show_title = _l("Badge occasion")
    edit_title = _l("Edit badge occasion")
    list_columns = add_columns = edit_columns = show_columns = ["day", "month", "name", "active"]
    label_columns = {
        "day": _l("Day"),
        "month": _l("Month"),
        "name": _l("Name"),
        "active": _l("In use"),
    }
    base_order = ("month", "asc")
    validators_columns = {"day": [occasion_rule], "month": [occasion_rule]}

    def check_item(self, item, item_id):
        return check_occasion_day(item)


class BadgeSettingView(DangVienModelView):
    datamodel = SQLAInterface(BadgeSetting)
    list_title = _l("Badge deferrals after discipline")
    show_title = _l("Badge deferral after discipline")
    edit_title = _l("Edit badge deferral after discipline")
    base_permissions = ["can_list", "can_show", "can_edit"]
    list_columns = edit_columns = show_columns = ["key", "months"]
    edit_columns = ["months"]
    label_columns = {"key": _l("Setting"), "months": _l("Months")}
    formatters_columns = {
        "key": lambda value: {
            "warning_deferral_months": gettext("Deferral after a warning (months)"),
            "dismissal_deferral_months": gettext("Deferral after a dismissal (months)"),
        }.get(value, value)
    }

    validators_columns = {"months": [setting_rule]}

    def check_item(self, item, item_id):
        return check_setting(item)


# --- REST API ---------------------------------------------------------------------------


class BadgeProposalApi(ProposalApi):
    """Badge proposals: list and show; POST proposes (automatic list or one manual
    proposal); /decide and /award run the same commands as the round page; /eligible lists
    the round."""

    resource_name = "badge-proposals"
    datamodel = SQLAInterface(BadgeProposal)
    decide_command = staticmethod(decide_badges)
    include_route_methods = {"get", "get_list", "info", "post", "decide", "award", "eligible"}
    list_columns = [
        "id",
        "member.id",
        "member.member_number",
        "milestone",
        "occasion_on",
        "kind",
        "reason",
        "state",
        "proposed_by.username",
        "proposed_at",
        "decided_by.username",
        "decided_at",
        "comment",
        "version_id",
    ]
    show_columns = list_columns
    search_columns = ["state", "occasion_on", "milestone", "member", "kind"]
    order_columns = ["id", "occasion_on"]
    base_order = ("id", "asc")

    @api_expose("/", methods=["POST"])
    @protect()
    @safe
    @permission_name("post")
    def post(self):
        """Propose members for the occasion (automatic), or one member early/posthumously.
        ---
        post:
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    occasion: {type: string, format: date}
                    members: {type: array, items: {type: integer}}
                    member: {type: integer}
                    milestone: {type: integer}
                    kind: {type: string, enum: [early, posthumous]}
                    reason: {type: string}
          responses:
            201: {description: Proposed}
            422: {$ref: '#/components/responses/422'}
        """

        def run(payload: dict):
            occasion = parse_iso_date(payload.get("occasion"), "occasion")
            if "kind" in payload:
                proposal = propose_badge_manually(
                    db.session,
                    current_requester(),
                    occasion,
                    parse_int(payload.get("member"), "member"),
                    parse_int(payload.get("milestone"), "milestone"),
                    parse_text(payload.get("kind"), "kind") or "",
                    parse_text(payload.get("reason"), "reason", multiline=True),
                )
                return self.response(201, ids=[proposal.id])
            members = payload.get("members")
            if not isinstance(members, list):
                raise ValidationFailed({"members": [(N_("Choose at least one member."), {})]})
            proposals = propose_badges(
                db.session,
                current_requester(),
                occasion,
                [parse_int(m, "members") for m in members],
            )
            return self.response(201, ids=[p.id for p in proposals])

        return self.run_command(run)

    @api_expose("/award", methods=["POST"])
    @protect()
    @safe
    @permission_name("award")
    def award(self):
        """Record the awards of approved proposals under one decision.
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
                    decision_number: {type: string}
                    decision_on: {type: string, format: date}
                    first_number: {type: string}
          responses:
            200: {description: Awarded}
            422: {$ref: '#/components/responses/422'}
        """

        def run(payload: dict):
            awards = award_badges(
                db.session,
                current_requester(),
                proposal_ids(payload),
                decision_number=parse_text(payload.get("decision_number"), "decision_number"),
                decision_on=parse_iso_date(payload.get("decision_on"), "decision_on"),
                first_number=parse_text(payload.get("first_number"), "first_number"),
            )
            return self.response(
                200,
                awards=[
                    {"member": a.member_id, "milestone": a.milestone, "number": a.badge_number}
                    for a in awards
                ],
            )

        return self.run_command(run)

    @api_expose("/eligible", methods=["GET"])
    @protect()
    @safe
    @permission_name("get")
    def eligible(self):
        """Who is eligible on an occasion in a unit's subtree, and why.
        ---
        get:
          parameters:
          - {in: query, name: occasion, schema: {type: string, format: date}, required: true}
          - {in: query, name: unit, schema: {type: integer}, required: true}
          responses:
            200: {description: The eligible members}
            404: {$ref: '#/components/responses/404'}
            422: {$ref: '#/components/responses/422'}
        """

        def run():
            occasion = check_occasion(
                db.session, parse_iso_date(request.args.get("occasion"), "occasion")
            )
            unit = scoped_get(Unit, parse_int(request.args.get("unit"), "unit"))
            if unit is None:
                return self.response_404()
            rows = badge_round(db.session, unit, occasion)
            return self.response(
                200,
                result=[
                    {
                        "member": r.member.id,
                        "member_number": r.member.member_number,
                        "name": r.member.display_name,
                        "milestone": r.eligibility.milestone,
                        "reaches_on": r.eligibility.reaches_on.isoformat(),
                        "admitted_on": r.member.admitted_on.isoformat(),
                        "party_age_years": r.eligibility.party_age.years,
                        "reason": r.eligibility.reason,
                        "proposed": r.proposed,
                    }
                    for r in rows
                ],
            )

        return self.answering_domain_errors(run)
