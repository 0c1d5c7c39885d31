"""Every screen and API of DangVien, registered in one place."""

from __future__ import annotations

from flask import current_app
from flask_appbuilder import AppBuilder
from flask_babel import lazy_gettext as _l

from webapp.security import DangVienSecurityManager
from webapp.views.audit import AuditEntryView
from webapp.views.badges import (
    BadgeAwardView,
    BadgeMilestoneView,
    BadgeOccasionView,
    BadgeProposalApi,
    BadgeRoundView,
    BadgeSettingView,
)
from webapp.views.cards import CardBatchView, CardProposalApi, PartyCardApi, PartyCardView
from webapp.views.dashboard import DashboardView
from webapp.views.events import MemberEventApi, MemberEventView
from webapp.views.health import register_health
from webapp.views.imports import MemberImportView
from webapp.views.jobs_admin import JobsView
from webapp.views.member_file import register_member_file
from webapp.views.members import MemberApi, MemberModelView
from webapp.views.records import (
    ROW_APIS,
    ROW_VIEWS,
    CatalogueApi,
    CatalogueEntryView,
    MemberSupplementView,
)
from webapp.views.report_screens import ReportScreenView
from webapp.views.reports import ReportRunView
from webapp.views.sync_api import SyncApi
from webapp.views.sync_screens import SyncStatusView
from webapp.views.totp import DangVienAuthDBView, TotpView
from webapp.views.transfers import TransferView
from webapp.views.units import UnitApi, UnitModelView
from webapp.views.worklist import WorklistView


class SecurityManager(DangVienSecurityManager):
    """The security manager FAB runs (FAB_SECURITY_MANAGER_CLASS), with its sign-in screen:
    password, then the second factor. Assembled here, so webapp.security imports no view."""

    authdbview = DangVienAuthDBView


def register_views(appbuilder: AppBuilder) -> None:
    appbuilder.add_view(
        UnitModelView,
        "Units",
        label=_l("Organisation units"),
        icon="fa-sitemap",
        category="Organisation",
        category_label=_l("Organisation"),
        category_icon="fa-sitemap",
    )
    # The member form's repeating rows and supplements are tabs of the member page.
    for view in [*ROW_VIEWS, MemberSupplementView]:
        appbuilder.add_view_no_menu(view)
    MemberModelView.related_views = [
        *ROW_VIEWS,
        MemberSupplementView,
        PartyCardView,
        BadgeAwardView,
    ]
    appbuilder.add_link(
        "Organisation tree",
        label=_l("Organisation tree"),
        href="/unitmodelview/tree",
        icon="fa-tree",
        category="Organisation",
    )
    appbuilder.add_view(
        MemberModelView,
        "Members",
        label=_l("Party members"),
        icon="fa-users",
        category="Organisation",
    )
    appbuilder.add_view(
        ReportRunView,
        "Report runs",
        label=_l("My report runs"),
        icon="fa-file-pdf-o",
        category="Reports",
        category_label=_l("Reports"),
        category_icon="fa-file-text-o",
    )
    appbuilder.add_link(
        "Request a report",
        label=_l("Request a report"),
        href="/reports/request",
        icon="fa-plus",
        category="Reports",
    )
    appbuilder.add_view_no_menu(ReportScreenView)
    appbuilder.add_link(
        "Quality on screen",
        label=_l("Quality analysis on screen"),
        href="/reports/screen/quality",
        icon="fa-table",
        category="Reports",
    )
    appbuilder.add_link(
        "Reports on screen",
        label=_l("Reports on screen"),
        href="/reports/screen/",
        icon="fa-th",
        category="Reports",
    )
    appbuilder.add_view_no_menu(MemberEventView)
    # Party cards: members needing one → batch → decide → issue; the cards issued.
    appbuilder.add_link(
        "Members needing a card",
        label=_l("Members needing a card"),
        href="/cards/needing",
        icon="fa-id-card",
        category="Cards and badges",
        category_label=_l("Cards and badges"),
        category_icon="fa-id-card",
    )
    appbuilder.add_view(
        CardBatchView,
        "Card proposal batches",
        label=_l("Card proposal batches"),
        icon="fa-list-ol",
        category="Cards and badges",
    )
    appbuilder.add_view(
        PartyCardView,
        "Issued Party cards",
        label=_l("Issued Party cards"),
        icon="fa-id-card-o",
        category="Cards and badges",
    )
    # Party badges: the round of an occasion, the awards, the reference data.
    appbuilder.add_view(
        BadgeRoundView,
        "Party badge round",
        label=_l("Party badge round"),
        icon="fa-star",
        category="Cards and badges",
    )
    appbuilder.add_view(
        BadgeAwardView,
        "Party badge awards",
        label=_l("Party badge awards"),
        icon="fa-certificate",
        category="Cards and badges",
    )
    for view, name, label in (
        (BadgeMilestoneView, "Badge milestones", _l("Badge milestones")),
        (BadgeOccasionView, "Badge occasions", _l("Badge occasions")),
        (BadgeSettingView, "Badge deferrals", _l("Badge deferrals after discipline")),
    ):
        appbuilder.add_view(view, name, label=label, icon="fa-cog", category="Cards and badges")
    appbuilder.add_view(
        AuditEntryView,
        "Audit log",
        label=_l("Audit log"),
        icon="fa-shield",
        category="Security",
    )
    appbuilder.add_view(
        TotpView,
        "Second factor",
        label=_l("Second factor"),
        icon="fa-key",
        category="Security",
    )
    appbuilder.add_api(UnitApi)
    appbuilder.add_api(MemberApi)
    appbuilder.add_api(MemberEventApi)
    appbuilder.add_api(CatalogueApi)
    appbuilder.add_api(CardProposalApi)
    appbuilder.add_api(PartyCardApi)
    appbuilder.add_api(BadgeProposalApi)
    for api in ROW_APIS:
        appbuilder.add_api(api)
    register_member_file(appbuilder)  # photos, batches of scans, the scanned dossier
    appbuilder.add_view(
        DashboardView,
        "Dashboard",
        label=_l("Dashboard"),
        href="/dashboard/",
        icon="fa-tachometer",
    )
    # The clerk's morning: what is due and wrong in the user's units, and the scores.
    appbuilder.add_view(
        WorklistView,
        "Worklist",
        label=_l("Worklist"),
        href="/worklist/",
        icon="fa-check-square-o",
        category="Worklist",
        category_label=_l("Worklist"),
        category_icon="fa-check-square-o",
    )
    appbuilder.add_link(
        "Data quality",
        label=_l("Data quality by unit"),
        href="/worklist/quality",
        icon="fa-bar-chart",
        category="Worklist",
    )
    appbuilder.add_link(
        "Worklist settings",
        label=_l("Worklist settings"),
        href="/worklist/settings",
        icon="fa-cog",
        category="Worklist",
    )
    appbuilder.add_view(
        MemberImportView,
        "Member imports",
        label=_l("Import members from a spreadsheet"),
        icon="fa-file-excel-o",
        category="Organisation",
    )
    # Members transferred to and from partner provinces (docs/sync.md).
    appbuilder.add_view(
        TransferView,
        "Transfers between provinces",
        label=_l("Transfers between provinces"),
        icon="fa-exchange",
        category="Organisation",
    )
    # A transfer package carries the member's photo and scans: as large as a sync package.
    current_app.config.setdefault("LARGE_UPLOAD_ENDPOINTS", {})["TransferView.check"] = (
        current_app.config.get("SYNC_MAX_PACKAGE_MB", 512) * 1024 * 1024
    )
    appbuilder.add_view(
        CatalogueEntryView,
        "Catalogues",
        label=_l("Catalogues"),
        icon="fa-list",
        category="Organisation",
    )
    # Packages from downstream instances (docs/sync.md): their Sync accounts push here;
    # the Admin's screen of the exchange.
    appbuilder.add_api(SyncApi)
    # Operations (docs/production.md): the health probe (no sign-in), the Admin's jobs screen.
    register_health()
    appbuilder.add_view(
        JobsView,
        "Background jobs",
        label=_l("Background jobs"),
        icon="fa-tasks",
        category="Operations",
        category_label=_l("Operations"),
        category_icon="fa-cogs",
    )
    appbuilder.add_view(
        SyncStatusView,
        "Data exchange",
        label=_l("Data exchange between levels"),
        icon="fa-exchange",
        category="Operations",
    )
