"""The upstream's side of delivery over HTTP (docs/sync.md, "Delivery over HTTP"): a
downstream's Sync account posts a package and gets the signed receipt back; large packages
arrive in resumable chunks. The command (webapp/domain/sync.py `apply_package`) checks the
envelope, the sender, the sequence and the subtree; this adapter only moves bytes."""

from __future__ import annotations

from flask import make_response, request
from flask_appbuilder.api import BaseApi, protect, safe
from flask_appbuilder.api import expose as api_expose
from flask_appbuilder.security.decorators import permission_name

from webapp.domain.errors import DomainError, ValidationFailed
from webapp.extensions import db
from webapp.filestore import app_store
from webapp.security import current_requester
from webapp.sync_keys import load_key
from webapp.sync_uploads import (
    TOO_LARGE,
    append_chunk,
    complete_bytes,
    discard,
    find_upload,
    max_bytes,
    parse_range,
    start_upload,
)
from webapp.views.base import DangVienModelRestApi
from webapp.views.errors import translate, translated_field_errors

RECEIPT_TYPE = "application/vnd.dangvien.receipt"


def apply_and_answer(data: bytes):
    """Apply a whole package as the signed-in Sync account: 200 with the receipt, or the
    refusal (recorded for both sides' status screens) as JSON."""
    from webapp.domain.sync import apply_package

    try:
        # The command records a refusal for the status screen itself.
        applied = apply_package(
            db.session, current_requester(), data, seed=load_key(), files=app_store()
        )
    except DomainError as error:
        body = (
            translated_field_errors(error.errors)
            if isinstance(error, ValidationFailed)
            else translate(error.message, error.params)
        )
        response = make_response({"message": body}, error.status_code)
        return response
    response = make_response(applied.receipt, 200)
    response.headers["Content-Type"] = RECEIPT_TYPE
    response.headers["X-Sync-State"] = applied.state
    response.headers["X-Sync-Sequence"] = str(applied.sequence)
    return response


class SyncApi(BaseApi):
    """Packages from downstream instances. Only their Sync accounts may push (`can_push`)."""

    resource_name = "sync"
    openapi_spec_tag = "Sync"
    answering_domain_errors = DangVienModelRestApi.answering_domain_errors

    @api_expose("/packages", methods=["POST"])
    @protect()
    @safe
    @permission_name("push")
    def push(self):
        """Apply one package sent whole (application/octet-stream); answers the receipt.
        ---
        post:
          requestBody:
            required: true
            content:
              application/octet-stream:
                schema: {type: string, format: binary}
          responses:
            200: {description: Applied or already applied; the body is the signed receipt}
            409: {description: Refused (a gap in the sequence, ...); nothing applied}
            422: {description: Refused (signature, sender, subtree, format); nothing applied}
        """
        if (request.content_length or 0) > max_bytes():
            limit = max_bytes() // (1024 * 1024)
            return self.response(413, message=translate(TOO_LARGE, {"limit": limit}))
        return apply_and_answer(request.get_data(cache=False))

    @api_expose("/uploads", methods=["POST"])
    @protect()
    @safe
    @permission_name("push")
    def upload_start(self):
        """Announce a large package: {"size": bytes, "sha256": hex}; answers its upload id.
        ---
        post:
          responses:
            201: {description: The upload's id, to send chunks to}
            422: {description: Too large or no checksum}
        """
        payload = request.get_json(silent=True) or {}
        size = payload.get("size")

        def start():
            if not isinstance(size, int) or isinstance(size, bool):
                raise ValidationFailed({"size": [("Enter a whole number.", {})]})
            upload = start_upload(size, str(payload.get("sha256", "")), current_requester().user_id)
            return self.response(201, id=upload.token, received=0)

        return self.answering_domain_errors(start)

    @api_expose("/uploads/<token>", methods=["GET"])
    @protect()
    @safe
    @permission_name("push")
    def upload_state(self, token: str):
        """How many bytes of an upload have arrived (where to resume).
        ---
        get:
          responses:
            200: {description: "{received, size}"}
            404: {description: No such upload for this account}
        """

        def state():
            upload = find_upload(token, current_requester().user_id)
            return self.response(200, received=upload.received, size=upload.size)

        return self.answering_domain_errors(state)

    @api_expose("/uploads/<token>", methods=["PUT"])
    @protect()
    @safe
    @permission_name("push")
    def upload_chunk(self, token: str):
        """One chunk, with Content-Range: bytes START-END/TOTAL.
        ---
        put:
          responses:
            200: {description: "{received}"}
            409: {description: Not where the file ends; the body says where to resume}
        """

        def chunk():
            upload = find_upload(token, current_requester().user_id)
            start, _end, _total = parse_range(request.headers.get("Content-Range"))
            try:
                upload = append_chunk(upload, start, request.get_data(cache=False))
            except DomainError as error:
                if error.status_code == 409:
                    return self.response(
                        409,
                        message=translate(error.message, error.params),
                        received=upload.received,
                    )
                raise
            return self.response(200, received=upload.received, size=upload.size)

        return self.answering_domain_errors(chunk)

    @api_expose("/uploads/<token>/apply", methods=["POST"])
    @protect()
    @safe
    @permission_name("push")
    def upload_apply(self, token: str):
        """Apply an upload whose every byte has arrived; answers as POST /packages.
        ---
        post:
          responses:
            200: {description: The signed receipt}
        """

        def refuse(error: DomainError):
            raise error

        try:
            upload = find_upload(token, current_requester().user_id)
            data = complete_bytes(upload)
        except DomainError as error:
            return self.answering_domain_errors(refuse, error)
        response = apply_and_answer(data)
        if response.status_code == 200:
            discard(upload)
        return response

    @api_expose("/reference", methods=["GET"])
    @protect()
    @safe
    @permission_name("push")
    def reference(self):
        """The current version of the reference data, sealed for the calling lower level.
        ---
        get:
          responses:
            200: {description: "The sealed version (application/octet-stream)"}
            403: {description: Not a registered lower level's account}
        """
        from webapp.domain.sync_reference import export_reference

        def sealed():
            data = export_reference(db.session, current_requester(), seed=load_key())
            response = make_response(data, 200)
            response.headers["Content-Type"] = "application/octet-stream"
            return response

        return self.answering_domain_errors(sealed)
