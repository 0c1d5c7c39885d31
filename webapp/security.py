"""Security manager and role definitions.

Roles are data: ROLE_PERMISSIONS maps each role to (view, permission) regular expressions,
matched against the permissions FAB registers for the views. `sync_roles` (run by
`flask --app wsgi init`) writes them to the database, so they are visible in the
Security screens and documented in docs/roles.md.
"""

from __future__ import annotations

import re

from flask_appbuilder.security.sqla.manager import SecurityManager

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
]
RUN_REPORTS = [(r"ReportRunView", r"can_(list|show|request|status|download)")]

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
    ],
    "Manager": [*SELF_SERVICE, *READ_DATA, *RUN_REPORTS],
    "Leader": [*SELF_SERVICE, *READ_DATA, *RUN_REPORTS],
    # Machine accounts of lower-level instances; their sync API arrives with upward sync.
    "Sync": [],
}


class DangVienSecurityManager(SecurityManager):
    """Project security manager; user scopes and audit hooks attach here."""


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
