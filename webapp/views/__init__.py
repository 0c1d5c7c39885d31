"""Every screen and API of DangVien, registered in one place."""

from __future__ import annotations

from flask_appbuilder import AppBuilder
from flask_babel import lazy_gettext as _l

from webapp.views.audit import AuditEntryView
from webapp.views.events import MemberEventApi, MemberEventView
from webapp.views.members import MemberApi, MemberModelView
from webapp.views.records import (
    ROW_APIS,
    ROW_VIEWS,
    CatalogueApi,
    CatalogueEntryView,
    MemberSupplementView,
)
from webapp.views.reports import ReportRunView
from webapp.views.totp import TotpView
from webapp.views.units import UnitApi, UnitModelView


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
    MemberModelView.related_views = [*ROW_VIEWS, MemberSupplementView]
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
    appbuilder.add_view_no_menu(MemberEventView)
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
    for api in ROW_APIS:
        appbuilder.add_api(api)
    appbuilder.add_view(
        CatalogueEntryView,
        "Catalogues",
        label=_l("Catalogues"),
        icon="fa-list",
        category="Organisation",
    )
