"""The scanned dossier (Hồ sơ) on the member page and in the REST API: list, attach,
replace (versions kept), scoped and audited downloads and previews. Thin:
webapp/domain/dossier.py decides."""

from __future__ import annotations

from flask import current_app, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.api import expose as api_expose
from flask_appbuilder.api import protect, safe
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext

from jobs.photos import queue_document
from webapp.domain.dossier import (
    DocumentFields,
    DocumentLimits,
    attach_document,
    document_types,
    member_documents,
    missing_required,
    replace_document,
    view_document,
)
from webapp.domain.errors import N_, NotFound
from webapp.domain.scope import find_in_scope
from webapp.extensions import db
from webapp.filestore import app_store
from webapp.labels import format_date
from webapp.models.files import DocumentType, FileState, MemberDocument, MemberDocumentVersion
from webapp.security import current_requester
from webapp.views.base import page_fact, parse_iso_date, parse_text
from webapp.views.errors import translate
from webapp.views.files import (
    FILE_STATE_LABELS,
    FileForm,
    MemberFileApi,
    member_in_scope,
    send_stored,
    settle_lost,
    state_label,
    upload_on_screen,
    uploaded_file,
    whole_number,
)

EXTENSIONS = {
    "application/pdf": "pdf",
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/tiff": "tif",
}


def document_limits() -> DocumentLimits:
    return DocumentLimits.from_config(current_app.config)


def _type_id(value) -> int | None:
    """A document type by id or by code (the API takes either)."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    if text.isascii() and text.isdigit() and len(text) < 10:
        return int(text)
    kind = db.session.query(DocumentType).filter(DocumentType.code == text[:40]).one_or_none()
    return kind.id if kind is not None else -1


def _fields(form) -> DocumentFields:
    issued = form.get("issued_on")
    if issued and "/" in issued:  # the screen's dd/mm/yyyy
        parts = issued.strip().split("/")
        issued = "-".join(reversed(parts)) if len(parts) == 3 else issued
    return DocumentFields(
        type_id=_type_id(form.get("type")),
        issued_on=parse_iso_date(issued, "issued_on"),
        number=parse_text(form.get("number"), "number"),
        note=parse_text(form.get("note"), "note"),
    )


def version_json(version: MemberDocumentVersion) -> dict:
    return {
        "id": version.id,
        "number": version.number,
        "state": version.state,
        "state_label": state_label(version.state),
        "file_name": version.file_name,
        "size": version.size,
        "media_type": version.media_type,
        "pages": version.pages,
        "reason": translate(version.error, version.error_params) if version.error else None,
        "uploaded_at": version.created_at.isoformat() if version.created_at else None,
    }


def document_json(document: MemberDocument) -> dict:
    current = document.current_version
    return {
        "id": document.id,
        "type": {"id": document.type.id, "code": document.type.code, "name": document.type.name},
        "issued_on": document.issued_on.isoformat() if document.issued_on else None,
        "number": document.number,
        "note": document.note,
        "current_version": current.number if current else None,
        "versions": [version_json(v) for v in document.versions],
    }


def _settle(documents: list[MemberDocument]) -> None:
    """Versions whose job is gone (a killed worker) say so instead of queued forever."""
    settle_lost(version for document in documents for version in document.versions)


class MemberDocumentApi(MemberFileApi):
    """A member's dossier: GET lists the documents and their versions, POST attaches a
    scan (a new document, or with `document` a new version of one)."""

    openapi_spec_tag = "Member documents"

    @api_expose("/<int:pk>/documents", methods=["GET"])
    @protect()
    @safe
    @permission_name("get")
    def list_documents(self, pk: int):
        """The member's scanned documents, by type, with every version kept.
        ---
        get:
          parameters:
          - in: path
            name: pk
            required: true
            schema: {type: integer}
          responses:
            200: {description: "documents (each with its versions: state, pages, reason) and the required types still missing"}
            404: {$ref: '#/components/responses/404'}
        """

        def run():
            member_in_scope(pk)
            documents = member_documents(db.session, pk)
            _settle(documents)
            return self.response(
                200,
                documents=[document_json(d) for d in documents],
                missing=[
                    {"code": t.code, "name": t.name} for t in missing_required(db.session, pk)
                ],
            )

        return self.answering_domain_errors(run)

    @api_expose("/<int:pk>/documents", methods=["POST"])
    @protect()
    @safe
    @permission_name("post")
    def attach(self, pk: int):
        """Attach a scan: a PDF, JPEG, PNG or TIFF (several pages allowed), checked by a job.
        ---
        post:
          parameters:
          - in: path
            name: pk
            required: true
            schema: {type: integer}
          requestBody:
            required: true
            content:
              multipart/form-data:
                schema:
                  type: object
                  properties:
                    file: {type: string, format: binary}
                    type: {type: string, description: "document type code or id (a new document)"}
                    issued_on: {type: string, format: date}
                    number: {type: string}
                    note: {type: string}
                    document: {type: integer, description: "replace this document's scan (a new version; the old is kept)"}
          responses:
            202: {description: "Queued; GET the documents to see its state"}
            404: {$ref: '#/components/responses/404'}
            422: {$ref: '#/components/responses/422'}
        """

        def run():
            requester = current_requester()
            replaces = request.form.get("document")
            if replaces:
                document = find_in_scope(
                    db.session, MemberDocument, whole_number(replaces, "document"), requester.scope
                )
                if document.member_id != pk:
                    raise NotFound(N_("The record does not exist."))
                version = replace_document(
                    db.session,
                    requester,
                    document.id,
                    uploaded_file(),
                    app_store(),
                    document_limits(),
                )
            else:
                version = attach_document(
                    db.session,
                    requester,
                    pk,
                    _fields(request.form),
                    uploaded_file(),
                    app_store(),
                    document_limits(),
                )
            queue_document(version.id, user_id=requester.user_id)
            return self.accepted(
                202,
                url_for("MemberDocumentApi.list_documents", pk=pk),
                document=version.document_id,
                version=version.number,
                state=version.state,
            )

        return self.answering_domain_errors(run)


class DocumentFileApi(MemberFileApi):
    """A document's scan or its first-page preview, as an attachment (scoped, audited)."""

    resource_name = "documents"
    openapi_spec_tag = "Member documents"

    @api_expose("/<int:pk>/file", methods=["GET"])
    @protect()
    @safe
    @permission_name("get")
    def file(self, pk: int):
        """The document's current scan (or `version`), or its first page as a JPEG (`preview`).
        ---
        get:
          parameters:
          - in: path
            name: pk
            required: true
            schema: {type: integer}
          - in: query
            name: version
            schema: {type: integer}
          - in: query
            name: preview
            schema: {type: boolean}
          responses:
            200:
              description: The scan as uploaded (PDF, JPEG, PNG or TIFF) or the preview JPEG
              content:
                application/pdf: {schema: {type: string, format: binary}}
                image/jpeg: {schema: {type: string, format: binary}}
            404: {$ref: '#/components/responses/404'}
        """
        number = request.args.get("version")
        preview = request.args.get("preview") in ("1", "true", "yes")

        def run():
            wanted = whole_number(number, "version", digits=5) if number else None
            version = view_document(db.session, current_requester(), pk, wanted, preview)
            member = version.document.member
            base = f"{member.member_number}-{version.document.type.code}-v{version.number}"
            if preview:
                return send_stored(version.preview_path, "image/jpeg", f"{base}-trang-1.jpg")
            extension = EXTENSIONS.get(version.media_type, "bin")
            return send_stored(
                version.path,
                version.media_type or "application/octet-stream",
                f"{base}.{extension}",
            )

        return self.answering_domain_errors(run)


class MemberDocumentView(BaseView):
    """The Hồ sơ panel's forms: attach a scan, replace a document's scan."""

    route_base = "/memberdocs"
    default_view = "attach"
    base_permissions = ["can_attach", "can_replace"]

    def _back(self, member_id: int) -> str:
        return url_for("MemberModelView.show", pk=member_id) + "#member-dossier"

    @expose("/<int:member_id>/attach", methods=["POST"])
    @has_access
    @permission_name("attach")
    def attach(self, member_id: int):
        def run():
            requester = current_requester()
            version = attach_document(
                db.session,
                requester,
                member_id,
                _fields(request.form),
                uploaded_file("scan"),
                app_store(),
                document_limits(),
            )
            queue_document(version.id, user_id=requester.user_id)

        return upload_on_screen(
            run, gettext("The scan was received and is being checked."), self._back(member_id)
        )

    @expose("/document/<int:document_id>/replace", methods=["POST"])
    @has_access
    @permission_name("replace")
    def replace(self, document_id: int):
        requester = current_requester()
        member_id = db.session.scalar(
            db.select(MemberDocument.member_id).where(MemberDocument.id == document_id)
        )

        def run():
            version = replace_document(
                db.session,
                requester,
                document_id,
                uploaded_file("scan"),
                app_store(),
                document_limits(),
            )
            queue_document(version.id, user_id=requester.user_id)

        return upload_on_screen(
            run,
            gettext("The new scan was received; the old one is kept."),
            self._back(member_id or 0),
            refused_back=self._back(member_id) if member_id else url_for("MemberModelView.list"),
        )


def held_types(documents) -> set[int]:
    """The document types of which one of `documents` has an accepted scan."""
    return {
        document.type_id
        for document in documents
        if any(version.state == FileState.DONE for version in document.versions)
    }


def member_dossier_panel(member_id: int | str) -> dict:
    """For the member page's Hồ sơ include: documents by type, missing required types."""
    member_id = int(member_id)
    # The member page asked whether there are any (page_fact): most members have none.
    documents = (
        [] if page_fact("has_documents") is False else member_documents(db.session, member_id)
    )
    _settle(documents)
    sm = current_app.appbuilder.sm
    types = document_types(db.session)
    held = held_types(documents)
    by_type = {kind.id: [] for kind in types}
    for document in documents:
        by_type.setdefault(document.type_id, []).append(document)
    return {
        "types": types,
        "by_type": by_type,
        "documents": documents,
        # As missing_required says, from the documents already read: the required types
        # (in list order) of which the member holds no accepted scan.
        "missing": [
            kind
            for kind in sorted(types, key=lambda t: (t.position, t.id))
            if kind.required and kind.id not in held
        ],
        "can_attach": sm.has_access("can_attach", "MemberDocumentView"),
        "can_replace": sm.has_access("can_replace", "MemberDocumentView"),
        "form": FileForm(),
        "labels": FILE_STATE_LABELS,
        "format_date": format_date,
        "translate": translate,
    }
