"""Registration of the member's file (photos, batches of scans, the scanned dossier):
its screens, APIs and the functions the member page's includes call."""

from __future__ import annotations

from flask_appbuilder import AppBuilder
from flask_babel import lazy_gettext as _l

from webapp.views.dossier import (
    DocumentFileApi,
    MemberDocumentApi,
    MemberDocumentView,
    member_dossier_panel,
)
from webapp.views.photo_batches import PhotoBatchView
from webapp.views.photos import MemberPhotoApi, MemberPhotoView, member_photo_panel


def register_member_file(appbuilder: AppBuilder) -> None:
    appbuilder.add_view_no_menu(MemberPhotoView)
    appbuilder.add_api(MemberPhotoApi)
    appbuilder.add_view_no_menu(MemberDocumentView)
    appbuilder.add_api(MemberDocumentApi)
    appbuilder.add_api(DocumentFileApi)
    appbuilder.add_view(
        PhotoBatchView,
        "Photo batches",
        label=_l("Batch of photo scans"),
        icon="fa-file-archive-o",
        category="Organisation",
    )
    from flask import current_app

    current_app.jinja_env.globals.update(
        member_photo_panel=member_photo_panel, member_dossier_panel=member_dossier_panel
    )
    # A ZIP of scans may be larger than an ordinary request (webapp/__init__.py).
    current_app.config.setdefault("LARGE_UPLOAD_ENDPOINTS", {})["PhotoBatchView.upload"] = (
        current_app.config.get("BATCH_UPLOAD_MB", 500) * 1024 * 1024
    )
