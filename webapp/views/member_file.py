"""Registration of the member's file (photos, batches of scans, the scanned dossier):
its screens, APIs and the functions the member page's includes call."""

from __future__ import annotations

from flask_appbuilder import AppBuilder

from webapp.views.photos import MemberPhotoApi, MemberPhotoView, member_photo_panel


def register_member_file(appbuilder: AppBuilder) -> None:
    appbuilder.add_view_no_menu(MemberPhotoView)
    appbuilder.add_api(MemberPhotoApi)
    from flask import current_app

    current_app.jinja_env.globals.update(member_photo_panel=member_photo_panel)
