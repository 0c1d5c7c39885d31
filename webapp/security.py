"""Security manager and role definitions.

Roles are data: ROLE_PERMISSIONS maps each role to (view, permission) regular expressions,
matched against the permissions FAB registers for the views. `sync_roles` (run by
`flask --app wsgi init`) writes them to the database, so they are visible in the
Security screens and documented in docs/roles.md.
"""

from __future__ import annotations

import re

import pyotp
from flask import current_app, g, has_request_context, request
from flask_appbuilder.fields import QuerySelectMultipleField
from flask_appbuilder.fieldwidgets import Select2ManyWidget
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.security.forms import UserInfoEdit
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.sqla.models import (
    Permission,
    PermissionView,
    Role,
    ViewMenu,
    assoc_permissionview_role,
)
from flask_appbuilder.security.views import (
    PermissionModelView,
    PermissionViewModelView,
    RoleModelView,
    UserDBModelView,
    UserGroupModelView,
    UserInfoEditView,
    ViewMenuModelView,
)
from flask_appbuilder.widgets import ListWidget, ShowWidget
from flask_babel import lazy_gettext
from flask_login import current_user
from sqlalchemy import event, select
from sqlalchemy.orm import Session, joinedload

from webapp.domain.commands import Requester
from webapp.domain.scope import NOWHERE, scope_clause, unit_in_scope, user_scope
from webapp.extensions import db
from webapp.forms import TextRuleViewMixin, with_text_rule
from webapp.labels import (
    PERMISSION_LABELS,
    ROLE_LABELS,
    VIEW_LABELS,
    format_timestamp,
    format_yes_no,
    label_for,
    show_related,
)
from webapp.models.user import DangVienUser

# Every signed-in person may see and edit their own profile and password.
SELF_SERVICE = [
    (r"UserInfoEditView|ResetMyPasswordView", r"can_this_form_(get|post)"),
    (r"UserDBModelView", r"can_userinfo|resetmypassword"),
]
ROW_VIEWS = r"WorkPeriodView|TrainingCourseView|CommendationView|DisciplineView|TripAbroadView|FamilyRelationView"
ROW_APIS = (
    r"WorkPeriodApi|TrainingCourseApi|CommendationApi|DisciplineApi|TripAbroadApi|FamilyRelationApi"
)
READ_DATA = [
    (
        r"UnitModelView|MemberModelView|MemberEventView|MemberSupplementView|CatalogueEntryView",
        r"can_(list|show|roll|tree)",
    ),
    (ROW_VIEWS, r"can_(list|show)"),
    (r"UnitApi|MemberApi|MemberEventApi|CatalogueApi", r"can_(get|info)"),
    (ROW_APIS, r"can_(get|info)"),
    (
        r"Organisation|Units|Organisation tree|Members|Reports|Report runs|Request a report",
        r"menu_access",
    ),
    (r"CardBatchView|PartyCardView|BadgeAwardView", r"can_(list|show|print)"),
    (r"BadgeRoundView", r"can_(round|print)"),
    (r"CardProposalApi|BadgeProposalApi|PartyCardApi", r"can_(get|info)"),
    (
        r"Cards and badges|Card proposal batches|Issued Party cards|Party badge round|Party badge awards",
        r"menu_access",
    ),
]
# Four-eyes: a Clerk proposes cards and badges, a Manager decides, issues and awards.
PROPOSE_CARDS_AND_BADGES = [
    (r"CardBatchView|BadgeRoundView", r"can_propose"),
    (r"CardProposalApi|BadgeProposalApi", r"can_post"),
    (r"Members needing a card", r"menu_access"),
    # A card the member holds already is entered from the paper record, like the record.
    (r"PartyCardView|PartyCardApi", r"can_record"),
]
DECIDE_CARDS_AND_BADGES = [
    (r"CardBatchView", r"can_(decide|issue)"),
    (r"BadgeRoundView", r"can_(decide|award)"),
    (r"BadgeAwardView", r"can_reissue"),
    (r"CardProposalApi", r"can_(decide|issue)"),
    (r"BadgeProposalApi", r"can_(decide|award)"),
]
# The member's file: everyone who reads members sees their photos and scans (scoped, audited).
READ_MEMBER_FILE = [
    (r"MemberPhotoApi|MemberDocumentApi|DocumentFileApi", r"can_get"),
    (r"MemberPhotoView", r"can_status"),
]
WRITE_MEMBER_FILE = [
    (r"MemberPhotoApi", r"can_(put|crop)"),
    (r"MemberPhotoView", r"can_(upload|crop)"),
    (r"PhotoBatchView", r"can_(list|upload)"),
    (r"MemberDocumentApi", r"can_post"),
    (r"MemberDocumentView", r"can_(attach|replace)"),
    (r"Photo batches", r"menu_access"),
]
IMPORT_MEMBERS = [
    (r"MemberImportView", r"can_(list|upload|commit|template)"),
    (r"Member imports", r"menu_access"),
]
TRANSFERS = [
    (r"TransferView", r"can_(list|export|import)"),
    (r"Transfers between provinces", r"menu_access"),
]
RUN_REPORTS = [
    (r"ReportRunView", r"can_(list|show|request|status|download|cancel)"),
    (r"ReportScreenView", r"can_(quality|members|screen)"),
    (r"Quality on screen|Reports on screen", r"menu_access"),
]
# The dashboard is for those who follow and decide (the seed's leaders' workstations).
DASHBOARD = [(r"DashboardView", r"can_show"), (r"Dashboard", r"menu_access")]
# The worklist and quality scores: Clerks and Managers work from it and may check again.
WORKLIST = [
    (r"WorklistView", r"can_(list|refresh)"),
    (r"Worklist|Data quality", r"menu_access"),
]

ROLE_PERMISSIONS: dict[str, list[tuple[str, str]]] = {
    "Clerk": [
        *SELF_SERVICE,
        *READ_DATA,
        *RUN_REPORTS,
        (r"UnitModelView|MemberModelView", r"can_(add|edit)"),
        (r"MemberEventView", r"can_(record|cancel)"),
        (r"UnitModelView|UnitApi", r"can_(merge|dissolve)"),
        (ROW_VIEWS, r"can_(add|edit|delete)"),
        (ROW_APIS, r"can_(post|put|delete)"),
        (r"MemberSupplementView", r"can_apply"),
        (r"UnitApi|MemberApi", r"can_(post|put)"),
        (r"MemberEventApi", r"can_post"),
        *PROPOSE_CARDS_AND_BADGES,
        *READ_MEMBER_FILE,
        *WRITE_MEMBER_FILE,
        *WORKLIST,
        *IMPORT_MEMBERS,
        *TRANSFERS,
    ],
    "Manager": [
        *SELF_SERVICE,
        *READ_DATA,
        *RUN_REPORTS,
        (r"TotpView", r"can_setup"),
        (r"Second factor", r"menu_access"),
        *DECIDE_CARDS_AND_BADGES,
        *READ_MEMBER_FILE,
        *WORKLIST,
        *DASHBOARD,
    ],
    "Leader": [*SELF_SERVICE, *READ_DATA, *RUN_REPORTS, *READ_MEMBER_FILE, *DASHBOARD],
    # Machine accounts of lower-level instances: they push their packages, nothing else.
    "Sync": [(r"SyncApi", r"can_push")],
}


def role_label(value) -> str:
    return label_for(ROLE_LABELS, getattr(value, "name", value))


def view_menu_label(name: str) -> str:
    """What a permission is about, as the screens call it: the view's list title, the
    menu entry's label, the screen whose records an API serves (FAB stores class names)."""
    from flask_appbuilder.api import BaseApi

    appbuilder = current_app.appbuilder

    def title(view) -> str | None:
        if isinstance(view, BaseApi):
            model = getattr(getattr(view, "datamodel", None), "obj", None)
            screen = next(
                (
                    v
                    for v in appbuilder.baseviews
                    if not isinstance(v, BaseApi)
                    and model is not None
                    and getattr(getattr(v, "datamodel", None), "obj", None) is model
                ),
                None,
            )
            return lazy_gettext("%(screen)s (API)", screen=title(screen)) if screen else None
        return getattr(view, "list_title", None)

    if name in VIEW_LABELS:
        return str(VIEW_LABELS[name])
    view = next((v for v in appbuilder.baseviews if v.class_permission_name == name), None)
    found = title(view) if view is not None else None
    if found is None and (item := appbuilder.menu.find(name)) is not None:
        found = item.label
    return str(found or name)


def permission_label(permission_view) -> str:
    """ "can_post on CommendationApi" → "tạo mới (API) — Khen thưởng (API)"."""
    if permission_view is None:
        return ""
    name = permission_view.permission.name
    return (
        f"{label_for(PERMISSION_LABELS, name)} — {view_menu_label(permission_view.view_menu.name)}"
    )


def permission_labels(values) -> str:
    return "\n".join(sorted(permission_label(value) for value in values or []))


# FAB's security screens show related records and flags as Python writes them ("None",
# "True", "[Admin]"): the same values as our screens show them.
SECURITY_FORMATTERS = {
    "roles": lambda roles: ", ".join(role_label(r) for r in roles or []),
    "groups": show_related,
    "users": show_related,
    "user": show_related,
    "active": format_yes_no,
    "last_login": format_timestamp,
    "created_on": format_timestamp,
    "changed_on": format_timestamp,
    "created_by": show_related,
    "changed_by": show_related,
    "unit": show_related,
    "permissions": permission_labels,
}
USER_LABELS = {
    "get_full_name": lazy_gettext("Full name"),
    "first_name": lazy_gettext("Given name"),
    "last_name": lazy_gettext("Family and middle name"),
    "username": lazy_gettext("Username"),
    "password": lazy_gettext("Password"),
    "active": lazy_gettext("Account enabled"),
    "email": lazy_gettext("Email"),
    "roles": lazy_gettext("Roles"),
    "groups": lazy_gettext("Groups"),
    "last_login": lazy_gettext("Last signed in"),
    "login_count": lazy_gettext("Number of sign-ins"),
    "fail_login_count": lazy_gettext("Failed sign-ins"),
    "created_on": lazy_gettext("Created at"),
    "created_by": lazy_gettext("Created by"),
    "changed_on": lazy_gettext("Changed at"),
    "changed_by": lazy_gettext("Changed by"),
    "unit": lazy_gettext("Scope unit"),
}


ROLES_FIELD = QuerySelectMultipleField(
    lazy_gettext("Roles"),
    query_func=lambda: db.session.query(current_app.appbuilder.sm.role_model),
    get_pk_func=lambda role: role.id,
    get_label=role_label,
    widget=Select2ManyWidget(),
)


class DangVienRoleModelView(TextRuleViewMixin, RoleModelView):
    """FAB's role screen with the roles and permissions named as the office does."""

    label_columns = {
        "name": lazy_gettext("Name"),
        "permissions": lazy_gettext("Permissions"),
        "user": lazy_gettext("Users"),
        "groups": lazy_gettext("Groups"),
    }
    formatters_columns = {**SECURITY_FORMATTERS, "name": role_label}
    # A role's name is the key `flask init` syncs its permissions by (ROLE_PERMISSIONS):
    # it is not renamed on screen; the screens show its label.
    edit_columns = ["permissions"]
    # FAB's role widgets print the values raw (no formatters); the plain ones apply them.
    list_widget = ListWidget
    show_widget = ShowWidget
    add_form_extra_fields = edit_form_extra_fields = {
        "permissions": QuerySelectMultipleField(
            lazy_gettext("Permissions"),
            query_func=lambda: db.session.query(current_app.appbuilder.sm.permissionview_model),
            get_pk_func=lambda permission_view: permission_view.id,
            get_label=permission_label,
            widget=Select2ManyWidget(),
        )
    }


class DangVienGroupModelView(TextRuleViewMixin, UserGroupModelView):
    label_columns = {
        "name": lazy_gettext("Name"),
        "label": lazy_gettext("Label"),
        "description": lazy_gettext("Description"),
        "users": lazy_gettext("Users"),
        "roles": lazy_gettext("Roles"),
    }
    formatters_columns = SECURITY_FORMATTERS
    add_form_extra_fields = edit_form_extra_fields = {"roles": ROLES_FIELD}


class DangVienPermissionModelView(TextRuleViewMixin, PermissionModelView):
    label_columns = {"name": lazy_gettext("Permission")}
    formatters_columns = {"name": lambda name: label_for(PERMISSION_LABELS, name)}


class DangVienViewMenuModelView(TextRuleViewMixin, ViewMenuModelView):
    label_columns = {"name": lazy_gettext("Screen or menu entry")}
    formatters_columns = {"name": view_menu_label}


class DangVienPermissionViewModelView(PermissionViewModelView):
    label_columns = {
        "permission": lazy_gettext("Permission"),
        "view_menu": lazy_gettext("Screen or menu entry"),
    }
    formatters_columns = {
        "permission": lambda p: label_for(PERMISSION_LABELS, getattr(p, "name", None)),
        "view_menu": lambda v: view_menu_label(v.name) if v is not None else "",
    }


class DangVienUserDBModelView(TextRuleViewMixin, UserDBModelView):
    """FAB's user screen with the scope unit: a user sees that unit's whole subtree."""

    formatters_columns = SECURITY_FORMATTERS
    # Roles offered by their label (FAB lists the role names); FAB's password fields kept.
    add_form_extra_fields = {**(UserDBModelView.add_form_extra_fields or {}), "roles": ROLES_FIELD}
    edit_form_extra_fields = {
        **(UserDBModelView.edit_form_extra_fields or {}),
        "roles": ROLES_FIELD,
    }

    list_columns = [*UserDBModelView.list_columns, "unit"]
    add_columns = [*UserDBModelView.add_columns, "unit"]
    edit_columns = [*UserDBModelView.edit_columns, "unit"]
    show_fieldsets = [
        *UserDBModelView.show_fieldsets[:1],
        (lazy_gettext("Scope"), {"fields": ["unit"]}),
        *UserDBModelView.show_fieldsets[1:],
    ]
    label_columns = USER_LABELS
    description_columns = {
        **UserDBModelView.description_columns,
        "unit": lazy_gettext(
            "The user sees and changes this unit and everything under it; Admins see everything."
        ),
    }


def code_is_valid(secret: str | None, code: str | None) -> bool:
    """Whether `code` is the second factor's current code for `secret` (or the one before
    or after it: clocks drift)."""
    return bool(secret and code and pyotp.TOTP(secret).verify(code.strip(), valid_window=1))


class DangVienUserInfoEditView(UserInfoEditView):
    """FAB's "edit my details" form with the text rule; same permission and address."""

    form = with_text_rule(UserInfoEdit)
    # Named, not read off a form instance at start-up (which may carry a CSRF field).
    form_columns = ["first_name", "last_name"]
    class_permission_name = "UserInfoEditView"
    route_base = "/userinfoeditview"


LOCKOUT_FAILURES = 5  # consecutive failed logins …
LOCKOUT_SECONDS = 15 * 60  # … lock the account for this long


class DangVienSecurityManager(SecurityManager):
    """Project security manager: users carry a scope unit; logins are audited and an
    account is locked for a while after repeated failures."""

    user_model = DangVienUser
    userdbmodelview = DangVienUserDBModelView
    rolemodelview = DangVienRoleModelView
    groupmodelview = DangVienGroupModelView
    permissionmodelview = DangVienPermissionModelView
    viewmenumodelview = DangVienViewMenuModelView
    permissionviewmodelview = DangVienPermissionViewModelView
    # FAB's user statistics chart draws with Google Charts from the internet: the page
    # stays blank offline and under our Content-Security-Policy. Sign-in counts are in the
    # users list and every sign-in is in the audit log, so the chart is not offered.
    userstatschartview = None
    # The sign-in screen that asks for the second factor is a view: the view layer's
    # subclass sets `authdbview` (webapp/views/__init__.py), so this module imports no view.
    userinfoeditview = DangVienUserInfoEditView

    def get_user_by_id(self, pk):
        """The signed-in user of every request (FAB's loader): with their roles, groups and
        scope unit in one query, not three lazy loads."""
        return self.session.get(
            self.user_model,
            pk,
            options=[
                joinedload(self.user_model.roles),
                joinedload(self.user_model.groups),
                joinedload(self.user_model.unit),
            ],
        )

    def exist_permission_on_roles(self, view_name, permission_name, role_ids) -> bool:
        """FAB asks this once per menu entry and per button (one EXISTS query each, ~30 a
        page): answered from the roles' permissions, read once per request."""
        granted = request_permissions(self, role_ids)
        if granted is None:
            return super().exist_permission_on_roles(view_name, permission_name, role_ids)
        return (permission_name, view_name) in granted

    def register_views(self):
        super().register_views()
        if not self.is_auth_limited:
            return
        # FAB limits only the web sign-in. One budget per address for the web form (and its
        # second step) and the API's login, counted by the same limiter in Redis.
        api = next(v for v in self.appbuilder.baseviews if isinstance(v, self.security_api))
        api_login = f"{api.blueprint.name}.login"
        for blueprint, exempt_when in (
            (self.auth_view.blueprint, None),
            (api.blueprint, lambda: request.endpoint != api_login),
        ):
            self.limiter.shared_limit(
                self.auth_rate_limit, scope="sign-in", methods=["POST"], exempt_when=exempt_when
            )(blueprint)

    def auth_user_db(self, username, password):
        from jobs import redis_connection
        from webapp.domain.audit import append

        lock_key = f"dangvien:lockout:{(username or '').lower()}"
        redis = redis_connection()
        if username and redis.exists(lock_key):
            user, action = None, "login_locked"
        else:
            user = super().auth_user_db(username, password)
            action = "login" if user else "login_failed"
            if user is not None and user.totp_enabled:
                # The web sign-in asks for the code in a second step; an API sign-in sends
                # it along in the X-TOTP header (FAB's login payload takes no extra keys).
                if request.path.startswith("/api/"):
                    if not code_is_valid(user.totp_secret, request.headers.get("X-TOTP")):
                        user, action = None, "login_second_factor_missing"
                else:
                    action = "password_ok_second_factor_pending"
            known = self.find_user(username=username) if username and not user else None
            if known is not None and (known.fail_login_count or 0) >= LOCKOUT_FAILURES:
                redis.set(lock_key, 1, ex=LOCKOUT_SECONDS)
                known.fail_login_count = 0
                action = "login_failed_locked"
        append(
            self.session,
            action,
            object_type="User",
            object_id=user.id if user else None,
            user_id=user.id if user else None,
            username=(username or "")[:100],
            address=request.remote_addr if has_request_context() else None,
        )
        self.session.commit()
        return user


# Where a request keeps the permissions of the roles it asked about: the request's own
# WSGI environment, so nothing outlives the request (a right taken away applies from the
# next request on, whatever worker or process serves it).
PERMISSIONS_KEY = "dangvien.permissions"


def request_permissions(security_manager, role_ids) -> frozenset[tuple[str, str]] | None:
    """The (permission, view) pairs granted to `role_ids`, read in one query per request
    and roles; None outside a request (the CLI and jobs ask the database each time)."""
    if not has_request_context():
        return None
    cache = request.environ.setdefault(PERMISSIONS_KEY, {})
    key = tuple(sorted(set(role_ids)))
    if key not in cache:
        sm = security_manager
        cache[key] = frozenset(
            sm.session.execute(
                select(sm.permission_model.name, sm.viewmenu_model.name)
                .select_from(sm.permissionview_model)
                .join(sm.permission_model)
                .join(sm.viewmenu_model)
                .join(
                    assoc_permissionview_role,
                    assoc_permissionview_role.c.permission_view_id == sm.permissionview_model.id,
                )
                .where(assoc_permissionview_role.c.role_id.in_(key))
            ).all()
        )
    return cache[key]


def forget_request_permissions() -> None:
    """After a change of roles or permissions in this request, read them again."""
    if has_request_context():
        request.environ.pop(PERMISSIONS_KEY, None)


@event.listens_for(Session, "after_flush")
def _forget_changed_permissions(session, flush_context) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(item, (Role, PermissionView, Permission, ViewMenu)) for item in changed):
        forget_request_permissions()


def current_user_identity() -> tuple[int | None, str | None]:
    """(id, username) of the signed-in user (screens and APIs alike), or (None, None)."""
    user = getattr(g, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        user = current_user
    if user is None or not getattr(user, "is_authenticated", False):
        return None, None
    return user.id, user.username


def current_user_id() -> int | None:
    return current_user_identity()[0]


def current_scope() -> str | None:
    """The unit path the signed-in user may see: None for an Admin (everything), "" for
    anyone without a unit or not signed in (nothing)."""
    user = getattr(g, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        user = current_user
    if user is None or not getattr(user, "is_authenticated", False):
        return NOWHERE
    return scope_of(user)


def scope_of(user) -> str | None:
    """A user's scope: everything for an Admin, else their unit's subtree (or nothing)."""
    return user_scope(user, current_app.config["AUTH_ROLE_ADMIN"])


def requester_for(user) -> Requester:
    """A user record as the domain's Requester (the CLI, jobs and tests act as a user)."""
    return Requester(
        user_id=user.id,
        roles=frozenset(role.name for role in user.roles),
        scope=scope_of(user),
        username=user.username,
    )


def current_requester() -> Requester:
    """The signed-in user as the domain's Requester (every command's first argument)."""
    user = getattr(g, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        user = current_user
    if user is None or not getattr(user, "is_authenticated", False):
        return Requester(user_id=None, scope=NOWHERE)
    # Reading the user's roles and unit must not flush a record a form is still building.
    with db.session.no_autoflush:
        return requester_for(user)


class ScopeFilter(BaseFilter):
    """The one scope filter: attached to every screen and API of scoped data (the column
    name is ignored; webapp/domain/scope.py knows how each model reaches a unit)."""

    name = "scope"
    arg_name = "scope"

    def apply(self, query, value):
        return query.filter(scope_clause(self.model, current_scope()))


SCOPE_FILTER = ["id", ScopeFilter, lambda: None]


def scoped_get(model, pk):
    """A row by id if the current user's scope covers it, else None (callers answer 404)."""
    if pk is None:
        return None
    return db.session.scalar(
        select(model).where(model.id == pk, scope_clause(model, current_scope()))
    )


def in_scope_unit(unit_id: int | None) -> bool:
    return unit_in_scope(db.session, unit_id, current_scope())


def install_permissions(appbuilder) -> dict[str, int]:
    """Register every view's permissions, then sync the roles (idempotent)."""
    security_manager = appbuilder.sm
    # FAB grants each new permission to the Admin role, which must exist first.
    security_manager.add_role(security_manager.auth_role_admin)
    appbuilder.add_permissions(update_perms=True)
    return sync_roles(security_manager)


def sync_roles(security_manager: SecurityManager) -> dict[str, int]:
    """Create the roles and give each exactly the permissions its patterns match."""
    session = security_manager.session
    all_permission_views = session.query(security_manager.permissionview_model).all()
    admin = security_manager.add_role(security_manager.auth_role_admin)
    admin.permissions = list(all_permission_views)
    security_manager.add_role(security_manager.auth_role_public)
    granted: dict[str, int] = {}
    for role_name, patterns in ROLE_PERMISSIONS.items():
        role = security_manager.add_role(role_name)
        role.permissions = [
            pv
            for pv in all_permission_views
            if any(
                re.fullmatch(view, pv.view_menu.name) and re.fullmatch(perm, pv.permission.name)
                for view, perm in patterns
            )
        ]
        granted[role_name] = len(role.permissions)
    session.commit()
    return granted
