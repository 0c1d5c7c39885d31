"""The member's photo on screen and in the REST API: upload (queued for the `photos`
job), state, crop, and the scoped, audited download. Thin: webapp/domain/photos.py decides.
"""

from __future__ import annotations

from flask import current_app, flash, jsonify, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.api import expose as api_expose
from flask_appbuilder.api import protect, safe
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext
from sqlalchemy import select

from jobs.photos import queue_photo
from webapp.domain.errors import NotFound
from webapp.domain.imaging import PhotoLimits
from webapp.domain.photos import (
    crop_photo,
    current_photo,
    photo_path,
    upload_photo,
    view_photo,
)
from webapp.extensions import db
from webapp.filestore import app_store
from webapp.models.files import FileState, MemberPhoto
from webapp.models.member import Member
from webapp.security import current_requester
from webapp.views.adapters import run_on_screen
from webapp.views.base import page_fact
from webapp.views.errors import translate
from webapp.views.files import (
    FileForm,
    MemberFileApi,
    form_is_fresh,
    member_in_scope,
    send_stored,
    settle_lost,
    state_label,
    upload_on_screen,
    uploaded_file,
    whole_number,
)

MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "TIFF": "image/tiff"}


def photo_limits() -> PhotoLimits:
    return PhotoLimits.from_config(current_app.config)


def queue_if_needed(photo: MemberPhoto) -> None:
    if photo.state == FileState.QUEUED:
        queue_photo(photo.id, user_id=photo.uploaded_by_id)


def photo_status(member_id: int) -> dict:
    """What the page and the API say about a member's photo (the caller checked scope)."""
    # The member's photos in one query (a few): the latest request and the current one.
    photos = (
        []
        if page_fact("has_photos") is False
        else db.session.scalars(
            select(MemberPhoto)
            .where(MemberPhoto.member_id == member_id)
            .order_by(MemberPhoto.requested_at.desc(), MemberPhoto.id.desc())
            .execution_options(populate_existing=True)  # a worker changes them under our feet
        ).all()
    )
    latest = photos[0] if photos else None
    if latest is not None:
        settle_lost([latest])
    current = next((photo for photo in photos if photo.current), None)
    status = {
        "member": member_id,
        "current": None,
        "latest": None,
    }
    if current is not None:
        status["current"] = {
            "photo": current.id,
            "face_found": current.face_found,
            "crop": [current.crop_left, current.crop_top, current.crop_width, current.crop_height],
            "width": current.width,
            "height": current.height,
            "version": current.standard_sha256[:12],
        }
    if latest is not None:
        status["latest"] = {
            "photo": latest.id,
            "state": latest.state,
            "state_label": state_label(latest.state),
            "file_name": latest.original_name,
            "reason": translate(latest.error, latest.error_params) if latest.error else None,
        }
    return status


def _box_from(payload) -> tuple[int, int, int, int]:
    """left, top, width, height: whole numbers of pixels (from JSON or a form)."""
    return tuple(
        whole_number(payload.get(key), key, digits=6) for key in ("left", "top", "width", "height")
    )


class MemberPhotoApi(MemberFileApi):
    """A member's photo: PUT uploads (202, poll the status), GET downloads (scoped and
    written to the audit log), POST crop re-crops from the kept original."""

    openapi_spec_tag = "Member photos"

    @api_expose("/<int:pk>/photo", methods=["PUT"])
    @protect()
    @safe
    @permission_name("put")
    def upload(self, pk: int):
        """Upload the member's photo; it is processed by a job.
        ---
        put:
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
          responses:
            202:
              description: Queued; poll `status` (also in the Location header)
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      photo: {type: integer}
                      state: {type: string}
                      status: {type: string}
            200: {description: The same photo was processed already and is current again}
            404: {$ref: '#/components/responses/404'}
            422: {$ref: '#/components/responses/422'}
        """

        def run():
            photo = upload_photo(
                db.session,
                current_requester(),
                pk,
                uploaded_file(),
                app_store(),
                photo_limits(),
            )
            queue_if_needed(photo)
            return self._accepted(pk, photo)

        return self.answering_domain_errors(run)

    def _accepted(self, pk: int, photo: MemberPhoto):
        status_url = url_for("MemberPhotoApi.status", pk=pk)
        code = 200 if photo.state == FileState.DONE else 202
        return self.accepted(code, status_url, photo=photo.id, state=photo.state, status=status_url)

    @api_expose("/<int:pk>/photo", methods=["GET"])
    @protect()
    @safe
    @permission_name("get")
    def download(self, pk: int):
        """The member's current photo as a JPEG attachment.
        ---
        get:
          parameters:
          - in: path
            name: pk
            required: true
            schema: {type: integer}
          - in: query
            name: size
            schema: {type: string, enum: [standard, thumb, preview, original], default: standard}
          responses:
            200:
              description: The photo (600×800 standard, 120×160 thumb, the upright original reduced, or the original as uploaded)
              content:
                image/jpeg: {schema: {type: string, format: binary}}
            404: {$ref: '#/components/responses/404'}
        """
        size = request.args.get("size", "standard")

        def run():
            photo = view_photo(db.session, current_requester(), pk, size)
            member = db.session.get(Member, pk)
            if size == "original":
                media_type = _original_media_type(photo)
                extension = media_type.rsplit("/", 1)[1]
            else:
                media_type, extension = "image/jpeg", "jpg"
            return send_stored(
                photo_path(photo, size),
                media_type,
                f"{member.member_number}-{size}.{extension}",
            )

        return self.answering_domain_errors(run)

    @api_expose("/<int:pk>/photo/status", methods=["GET"])
    @protect()
    @safe
    @permission_name("get")
    def status(self, pk: int):
        """State of the member's latest photo processing and the current photo.
        ---
        get:
          parameters:
          - in: path
            name: pk
            required: true
            schema: {type: integer}
          responses:
            200: {description: "current: the photo shown; latest: the last processing asked for (queued, processing, done, refused or failed, with the reason)"}
            404: {$ref: '#/components/responses/404'}
        """

        def run():
            member_in_scope(pk)
            return self.response(200, **photo_status(pk))

        return self.answering_domain_errors(run)

    @api_expose("/<int:pk>/photo/crop", methods=["POST"])
    @protect()
    @safe
    @permission_name("crop")
    def crop(self, pk: int):
        """Re-crop the member's photo from the kept original.
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
              application/json:
                schema:
                  type: object
                  properties:
                    left: {type: integer}
                    top: {type: integer}
                    width: {type: integer}
                    height: {type: integer}
          responses:
            202: {description: Queued; poll `status`}
            404: {$ref: '#/components/responses/404'}
            422: {$ref: '#/components/responses/422'}
        """
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict):
            return self.response_400(message=gettext("The request body must be a JSON object."))

        def run():
            photo = crop_photo(
                db.session, current_requester(), pk, _box_from(payload), photo_limits()
            )
            queue_if_needed(photo)
            return self._accepted(pk, photo)

        return self.answering_domain_errors(run)


def _original_media_type(photo: MemberPhoto) -> str:
    from PIL import Image

    try:
        with Image.open(app_store().absolute(photo.original_path)) as image:
            return MEDIA_TYPES.get(image.format, "application/octet-stream")
    except OSError:
        return "application/octet-stream"


class MemberPhotoView(BaseView):
    """The photo block of the member page: upload, state, crop screen."""

    route_base = "/memberphoto"
    default_view = "crop"
    base_permissions = ["can_upload", "can_crop", "can_status"]

    @expose("/<int:member_id>/upload", methods=["POST"])
    @has_access
    @permission_name("upload")
    def upload(self, member_id: int):
        def run():
            photo = upload_photo(
                db.session,
                current_requester(),
                member_id,
                uploaded_file("photo"),
                app_store(),
                photo_limits(),
            )
            queue_if_needed(photo)

        return upload_on_screen(
            run,
            gettext("The photo was received and is being processed."),
            url_for("MemberModelView.show", pk=member_id),
        )

    @expose("/<int:member_id>/status")
    @has_access
    @permission_name("status")
    def status(self, member_id: int):
        try:
            member_in_scope(member_id)
        except NotFound:
            return jsonify({"message": gettext("The record does not exist.")}), 404
        return jsonify(photo_status(member_id))

    @expose("/<int:member_id>/crop", methods=["GET", "POST"])
    @has_access
    @permission_name("crop")
    def crop(self, member_id: int):
        requester = current_requester()
        try:
            member = member_in_scope(member_id)
        except NotFound:
            flash(gettext("The record does not exist."), "danger")
            return redirect(url_for("MemberModelView.list"))
        back = url_for("MemberModelView.show", pk=member_id)
        photo = current_photo(db.session, member_id)
        if photo is None:
            flash(gettext("The member has no processed photo to crop."), "danger")
            return redirect(back)
        form = FileForm()
        if request.method == "POST":
            if not form_is_fresh(form):
                return redirect(back)

            def run():
                box = _box_from(request.form)
                queue_if_needed(crop_photo(db.session, requester, member_id, box, photo_limits()))

            if run_on_screen(run, gettext("The new crop is being made.")):
                return redirect(back)
        return self.render_template(
            "memberfile/crop.html",
            member=member,
            photo=photo,
            form=form,
            back=back,
            title=gettext("Crop the photo"),
        )


def member_photo_panel(member_id: int | str) -> dict:
    """For the member page's include: the photo state and what the user may do."""
    sm = current_app.appbuilder.sm
    member_id = int(member_id)  # the page passes its pk as text
    status = photo_status(member_id)
    return {
        "member": db.session.get(Member, member_id),
        "status": status,
        "can_upload": sm.has_access("can_upload", "MemberPhotoView"),
        "can_crop": sm.has_access("can_crop", "MemberPhotoView") and status["current"],
        "form": FileForm(),
    }
