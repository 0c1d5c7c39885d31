"""Member photos: upload through the REST API and the member page, processing by a real RQ
worker, every hostile or odd file, idempotence, scope, audit, and a job killed mid-way."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time

import photo_samples as samples
import pytest
from PIL import Image
from sqlalchemy import func, select

from conftest import ROOT, login, run_worker_burst
from factories import make_member, make_tree
from helpers import vietnamese
from webapp.cli import create_user
from webapp.filestore import FileStore
from webapp.models import AuditEntry, MemberPhoto

PASSWORD = "Photo-Pass-123"


@pytest.fixture()
def world(app, db_session, redis_conn):
    tree = make_tree(db_session)
    members = {
        name: make_member(db_session, tree[cell], birth_name=f"Người {name}")
        for name, cell in [("an", "C1"), ("binh", "C1"), ("chi", "C2"), ("outside", "C3")]
    }
    db_session.commit()
    create_user("clerk_p", "Clerk", "P.01", PASSWORD)
    create_user("clerk_other", "Clerk", "P.02", PASSWORD)
    create_user("leader_p", "Leader", "P.01", PASSWORD)
    return {"tree": tree, "members": members}


def token_client(app, username):
    client = app.test_client()
    response = client.post(
        "/api/v1/security/login",
        json={"username": username, "password": PASSWORD, "provider": "db"},
    )
    assert response.status_code == 200, response.text
    return client, {"Authorization": f"Bearer {response.json['access_token']}"}


def put_photo(client, headers, member_id, data: bytes, name: str = "anh.jpg"):
    return client.put(
        f"/api/v1/members/{member_id}/photo",
        data={"file": (io.BytesIO(data), name)},
        headers=headers,
        content_type="multipart/form-data",
    )


def status_of(client, headers, member_id):
    response = client.get(f"/api/v1/members/{member_id}/photo/status", headers=headers)
    assert response.status_code == 200, response.text
    return response.json


def get_photo(client, headers, member_id, size="standard"):
    return client.get(f"/api/v1/members/{member_id}/photo?size={size}", headers=headers)


def worker_ok():
    result = run_worker_burst()
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def colour_at(image: Image.Image, x: float, y: float) -> tuple[int, int, int]:
    return image.convert("RGB").getpixel((int(x * image.width), int(y * image.height)))


def near(colour, expected, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected, strict=True))


# --- Every kind of file, processed by a real worker -------------------------------------


GOOD_FILES = {
    **{f"orientation-{n}": (lambda n=n: samples.oriented_jpeg(n)) for n in range(1, 9)},
    "cmyk-jpeg": samples.cmyk_jpeg,
    "cmyk-tiff": samples.cmyk_tiff,
    "grey16-png": samples.grey16_png,
    "rgb16-png": samples.rgb16_png,
    "grey16-tiff": samples.grey16_tiff,
    "palette-transparent": samples.palette_with_transparency,
}
BAD_FILES = {
    "truncated-jpeg": (samples.truncated_jpeg, "The image file is damaged or incomplete.", {}),
    "decompression-bomb": (
        samples.decompression_bomb,
        "The image has more than %(limit)s million pixels.",
        {"limit": 40},
    ),
    "huge-dimension-png": (
        samples.huge_dimension_png,
        "The image has more than %(limit)s million pixels.",
        {"limit": 40},
    ),
    "text-named-jpg": (samples.text_named_jpg, "The file is not a JPEG, PNG or TIFF image.", {}),
    "pdf-named-jpg": (
        lambda: samples.multi_page_pdf(3),
        "The file is not a JPEG, PNG or TIFF image.",
        {},
    ),
}


def test_every_file_kind_is_processed_or_refused_with_its_reason(app, db_session, world):
    """One member per file, all uploaded through the API, one real worker for them all."""
    tree = world["tree"]
    client, headers = token_client(app, "clerk_p")
    members = {}
    for name, make in {**GOOD_FILES, **{k: v[0] for k, v in BAD_FILES.items()}}.items():
        member = make_member(db_session, tree["C1"], birth_name=f"Mẫu {name}")
        db_session.commit()
        members[name] = member.id
        response = put_photo(client, headers, member.id, make(), f"{name}.jpg")
        assert response.status_code == 202, (name, response.text)
        assert response.json["state"] == "queued"
        assert response.headers["Location"].endswith(f"/members/{member.id}/photo/status")
    worker_ok()

    for name in GOOD_FILES:
        status = status_of(client, headers, members[name])
        assert status["latest"]["state"] == "done", (name, status)
        response = get_photo(client, headers, members[name])
        assert response.status_code == 200
        image = Image.open(io.BytesIO(response.data))
        assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (600, 800)), name
        # No metadata travels along: no EXIF, no comment, no ICC profile.
        assert not image.getexif(), name
        assert "comment" not in image.info and "icc_profile" not in image.info, name
        assert b"TestCamera" not in response.data and b"private note" not in response.data
        thumb = Image.open(io.BytesIO(get_photo(client, headers, members[name], "thumb").data))
        assert thumb.size == (120, 160)
        if name.startswith("orientation") or name.startswith("cmyk"):
            # Upright whatever the orientation tag said; CMYK colours come out as RGB.
            for corner, (x, y) in {
                "top_left": (0.25, 0.25),
                "top_right": (0.75, 0.25),
                "bottom_left": (0.25, 0.75),
                "bottom_right": (0.75, 0.75),
            }.items():
                assert near(colour_at(image, x, y), samples.QUADRANTS[corner]), (name, corner)
        elif name in ("grey16-png", "grey16-tiff"):
            top, bottom = colour_at(image, 0.5, 0.25), colour_at(image, 0.5, 0.75)
            expected_top = 233 if name == "grey16-png" else 194  # 60000 / 257, 50000 / 257
            assert near(top, (expected_top,) * 3, 3), (name, top)
            if name == "grey16-png":
                assert near(bottom, (19,) * 3, 3), bottom  # 5000 / 257
        elif name == "rgb16-png":
            assert near(colour_at(image, 0.5, 0.25), (255, 0, 0)), "top half red"
            assert near(colour_at(image, 0.5, 0.75), (0, 0, 255)), "bottom half blue"
        elif name == "palette-transparent":
            assert near(colour_at(image, 0.5, 0.2), (255, 255, 255), 3), "transparent is white"
            assert near(colour_at(image, 0.25, 0.75), samples.QUADRANTS["bottom_left"])

    for name, (_, message, params) in BAD_FILES.items():
        status = status_of(client, headers, members[name])
        assert status["latest"]["state"] == "refused", (name, status)
        assert status["latest"]["reason"] == vietnamese(app, message, **params), name
        assert status["latest"]["file_name"] == f"{name}.jpg"
        assert status["current"] is None
        assert get_photo(client, headers, members[name]).status_code == 404
    # Nothing was written outside DATA_DIR's store, and no temporary file was left.
    store = FileStore(app.config["DATA_DIR"])
    assert store.leftover_temporaries() == []


def test_a_face_is_the_centre_of_the_crop(app, db_session, world):
    client, headers = token_client(app, "clerk_p")
    member = world["members"]["an"]
    # A landscape scan with the face well right of the centre.
    face = samples.drawn_face(1600, 1200, centre=(1150, 520), size=180)
    assert put_photo(client, headers, member.id, samples.jpeg(face)).status_code == 202
    worker_ok()
    current = status_of(client, headers, member.id)["current"]
    assert current["face_found"] is True
    left, top, width, height = current["crop"]
    assert width * 4 == height * 3 and 600 <= width <= 900, current
    # The face is the horizontal centre of the box (the box fits inside the picture).
    assert abs(left + width / 2 - 1150) < 40 and left + width <= 1600, current
    assert top < 520 < top + height * 0.6, current
    # Without a face (the quadrants), the largest box in the centre.
    other = world["members"]["binh"]
    landscape = samples.jpeg(samples.quadrants(800, 400))
    assert put_photo(client, headers, other.id, landscape).status_code == 202
    worker_ok()
    current = status_of(client, headers, other.id)["current"]
    assert current["face_found"] is False
    assert current["crop"] == [250, 0, 300, 400]


def test_the_same_upload_twice_is_the_same_photo(app, db_session, world):
    client, headers = token_client(app, "clerk_p")
    member = world["members"]["an"]
    data = samples.oriented_jpeg(6)
    first = put_photo(client, headers, member.id, data, "mot.jpg")
    second = put_photo(client, headers, member.id, data, "hai.jpg")
    assert first.status_code == second.status_code == 202
    assert first.json["photo"] == second.json["photo"]
    worker_ok()
    photo_before = get_photo(client, headers, member.id).data
    again = put_photo(client, headers, member.id, data, "ba.jpg")
    assert again.status_code == 200 and again.json["state"] == "done"
    assert again.json["photo"] == first.json["photo"]
    db_session.expire_all()
    assert db_session.scalar(select(func.count(MemberPhoto.id))) == 1
    worker_ok()  # nothing queued
    assert get_photo(client, headers, member.id).data == photo_before
    # Another photo, then the first again: the first is current again, not processed again.
    put_photo(client, headers, member.id, samples.cmyk_jpeg())
    worker_ok()
    assert get_photo(client, headers, member.id).data != photo_before
    assert put_photo(client, headers, member.id, data).json["state"] == "done"
    assert get_photo(client, headers, member.id).data == photo_before
    db_session.expire_all()
    assert db_session.scalar(select(func.count(MemberPhoto.id))) == 2


def test_a_refused_upload_leaves_the_previous_photo(app, db_session, world):
    client, headers = token_client(app, "clerk_p")
    member = world["members"]["an"]
    put_photo(client, headers, member.id, samples.oriented_jpeg(1))
    worker_ok()
    before = get_photo(client, headers, member.id).data
    put_photo(client, headers, member.id, samples.truncated_jpeg(), "hong.jpg")
    worker_ok()
    status = status_of(client, headers, member.id)
    assert status["latest"]["state"] == "refused"
    assert status["latest"]["reason"] == vietnamese(app, "The image file is damaged or incomplete.")
    assert get_photo(client, headers, member.id).data == before


def test_bad_requests_answer_with_a_message_and_write_nothing(app, db_session, world):
    client, headers = token_client(app, "clerk_p")
    member = world["members"]["an"]
    store = FileStore(app.config["DATA_DIR"])
    originals = store.root / "files" / "originals"
    count_before = len(list(originals.rglob("*"))) if originals.exists() else 0
    no_file = client.put(
        f"/api/v1/members/{member.id}/photo",
        data={},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert no_file.status_code == 422
    assert no_file.json["message"] == {"file": [vietnamese(app, "Choose a file to upload.")]}
    empty = put_photo(client, headers, member.id, b"", "rong.jpg")
    assert empty.status_code == 422, empty.text
    assert empty.json["message"] == vietnamese(app, "The file is empty.")
    app.config["PHOTO_MAX_MB"] = 1
    try:
        big = put_photo(client, headers, member.id, b"\xff" * (1024 * 1024 + 1), "to.jpg")
    finally:
        app.config["PHOTO_MAX_MB"] = 15
    assert big.status_code == 422
    assert big.json["message"] == vietnamese(app, "The file is larger than %(limit)s MB.", limit=1)
    assert put_photo(client, headers, 999999, samples.oriented_jpeg(1)).status_code == 404
    db_session.expire_all()
    assert db_session.scalar(select(func.count(MemberPhoto.id))) == 0
    now = len(list(originals.rglob("*"))) if originals.exists() else 0
    assert now == count_before


def test_scope_roles_and_the_audit_log(app, db_session, world):
    clerk, clerk_headers = token_client(app, "clerk_p")
    other, other_headers = token_client(app, "clerk_other")
    leader, leader_headers = token_client(app, "leader_p")
    member = world["members"]["an"]
    outside = world["members"]["outside"]
    assert put_photo(clerk, clerk_headers, member.id, samples.oriented_jpeg(1)).status_code == 202
    worker_ok()
    # Outside the scope the member does not exist, for uploads and for reads.
    assert put_photo(other, other_headers, member.id, samples.oriented_jpeg(2)).status_code == 404
    assert get_photo(other, other_headers, member.id).status_code == 404
    assert put_photo(clerk, clerk_headers, outside.id, samples.oriented_jpeg(2)).status_code == 404
    # A Leader sees the photo but may not change it.
    assert put_photo(leader, leader_headers, member.id, samples.oriented_jpeg(3)).status_code == 403
    audit_before = db_session.scalar(select(func.count(AuditEntry.id)))
    response = get_photo(leader, leader_headers, member.id, "thumb")
    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "no-store" in response.headers["Cache-Control"]
    db_session.expire_all()
    entries = db_session.scalars(
        select(AuditEntry).where(AuditEntry.id > 0).order_by(AuditEntry.id.desc()).limit(1)
    ).all()
    assert db_session.scalar(select(func.count(AuditEntry.id))) == audit_before + 1
    assert entries[0].action == "photo_view" and entries[0].username == "leader_p"
    assert entries[0].object_id == str(member.id)
    # An unknown size is a clear 400, not a 500.
    bad = get_photo(clerk, clerk_headers, member.id, "huge")
    assert bad.status_code == 400
    # The original is kept and downloadable as it was uploaded.
    original = get_photo(clerk, clerk_headers, member.id, "original")
    assert original.status_code == 200 and original.data == samples.oriented_jpeg(1)


def test_openapi_lists_the_photo_endpoints(client, api_token, db_session):
    spec = client.get("/api/v1/_openapi", headers={"Authorization": f"Bearer {api_token}"})
    assert spec.status_code == 200
    paths = spec.json["paths"]
    assert {"put", "get"} <= set(paths["/api/v1/members/{pk}/photo"])
    assert (
        "multipart/form-data"
        in paths["/api/v1/members/{pk}/photo"]["put"]["requestBody"]["content"]
    )
    assert "get" in paths["/api/v1/members/{pk}/photo/status"]
    assert "post" in paths["/api/v1/members/{pk}/photo/crop"]


def test_crop_api_recrops_from_the_original(app, db_session, world):
    client, headers = token_client(app, "clerk_p")
    member = world["members"]["an"]
    put_photo(client, headers, member.id, samples.jpeg(samples.quadrants(800, 800)))
    worker_ok()
    assert status_of(client, headers, member.id)["current"]["crop"] == [100, 0, 600, 800]
    # The top-left quadrant only: the photo becomes all red.
    response = client.post(
        f"/api/v1/members/{member.id}/photo/crop",
        json={"left": 0, "top": 0, "width": 300, "height": 400},
        headers=headers,
    )
    assert response.status_code == 202, response.text
    worker_ok()
    current = status_of(client, headers, member.id)["current"]
    assert current["crop"] == [0, 0, 300, 400]
    image = Image.open(io.BytesIO(get_photo(client, headers, member.id).data))
    assert near(colour_at(image, 0.9, 0.9), samples.QUADRANTS["top_left"])
    for box, message in [
        (
            {"left": 0, "top": 0, "width": 400, "height": 400},
            "The crop box must have the proportions of a portrait (3:4).",
        ),
        (
            {"left": 600, "top": 0, "width": 300, "height": 400},
            "The crop box goes outside the picture.",
        ),
        (
            {"left": 0, "top": 0, "width": 60, "height": 80},
            "The photo is too small: a portrait needs at least %(width)s × %(height)s pixels.",
        ),
    ]:
        refused = client.post(f"/api/v1/members/{member.id}/photo/crop", json=box, headers=headers)
        assert refused.status_code == 422, refused.text
        params = {"width": 150, "height": 200} if "%(width)s" in message else {}
        assert refused.json["message"] == vietnamese(app, message, **params)
    not_numbers = client.post(
        f"/api/v1/members/{member.id}/photo/crop",
        json={"left": "x", "top": 0, "width": 300, "height": 400},
        headers=headers,
    )
    assert not_numbers.status_code == 422


# --- A job killed in the middle ----------------------------------------------------------


def test_a_killed_job_leaves_row_and_files_consistent(app, db_session, world, tmp_path):
    """The work horse is killed (SIGKILL) after writing the new files and before the row
    names them: the previous photo stays, the row says the processing stopped, no half
    file exists, and uploading again finishes the job."""
    client, headers = token_client(app, "clerk_p")
    member = world["members"]["an"]
    put_photo(client, headers, member.id, samples.oriented_jpeg(1))
    worker_ok()
    before = get_photo(client, headers, member.id).data
    new = samples.cmyk_jpeg()
    assert put_photo(client, headers, member.id, new).status_code == 202
    marker = tmp_path / "paused"
    env = {
        **os.environ,
        "DANGVIEN_JOB_PAUSE_AT": "files-written",
        "DANGVIEN_JOB_PAUSE_FILE": str(marker),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert worker.poll() is None, worker.stdout.read().decode()
            assert time.monotonic() < deadline, "the job never reached the pause point"
            time.sleep(0.1)
        horse = int(marker.read_text())
        assert horse != worker.pid  # the work horse, not the worker
        os.kill(horse, signal.SIGKILL)
        worker.wait(timeout=120)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    db_session.expire_all()
    photos = db_session.scalars(select(MemberPhoto).order_by(MemberPhoto.id)).all()
    assert [p.state for p in photos] == ["done", "processing"]
    killed = photos[1]
    assert killed.standard_path is None and not killed.current
    store = FileStore(app.config["DATA_DIR"])
    for photo in photos:  # every path a row names is a complete file
        for path in (photo.original_path, photo.standard_path, photo.thumb_path):
            if path:
                assert store.exists(path)
    assert store.leftover_temporaries() == []
    # The page does not say "processing" forever: the job is gone, so it stopped.
    status = status_of(client, headers, member.id)
    assert status["latest"]["state"] == "failed"
    assert status["latest"]["reason"] == vietnamese(
        app, "The processing stopped before it finished; upload the photo again."
    )
    assert get_photo(client, headers, member.id).data == before
    # Uploading the same file again retries the same row and finishes it.
    again = put_photo(client, headers, member.id, new)
    assert again.status_code == 202 and again.json["photo"] == killed.id
    worker_ok()
    assert status_of(client, headers, member.id)["latest"]["state"] == "done"
    assert get_photo(client, headers, member.id).data != before


# --- The member page -----------------------------------------------------------------------


def test_member_page_uploads_and_shows_the_state(app, db_session, world):
    client = app.test_client()
    login(client, "clerk_p", PASSWORD)
    member = world["members"]["an"]
    page = client.get(f"/membermodelview/show/{member.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="member-file-header"' in html and 'id="photo-upload-form"' in html
    response = client.post(
        f"/memberphoto/{member.id}/upload",
        data={"photo": (io.BytesIO(samples.text_named_jpg()), "giay-to.jpg")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert vietnamese(app, "The photo was received and is being processed.") in response.get_data(
        as_text=True
    )
    worker_ok()
    html = client.get(f"/membermodelview/show/{member.id}").get_data(as_text=True)
    assert vietnamese(app, "The file is not a JPEG, PNG or TIFF image.") in html
    assert 'data-state="refused"' in html
    client.post(
        f"/memberphoto/{member.id}/upload",
        data={"photo": (io.BytesIO(samples.oriented_jpeg(8)), "anh.jpg")},
        content_type="multipart/form-data",
    )
    worker_ok()
    html = client.get(f"/membermodelview/show/{member.id}").get_data(as_text=True)
    assert 'data-state="done"' in html and "size=thumb" in html
    # A Leader sees the photo but no upload form.
    leader = app.test_client()
    login(leader, "leader_p", PASSWORD)
    html = leader.get(f"/membermodelview/show/{member.id}").get_data(as_text=True)
    assert 'id="member-photo"' in html and 'id="photo-upload-form"' not in html
    refused = leader.post(
        f"/memberphoto/{member.id}/upload",
        data={"photo": (io.BytesIO(samples.oriented_jpeg(1)), "anh.jpg")},
        content_type="multipart/form-data",
    )
    assert refused.status_code in (302, 403)
    db_session.expire_all()
    assert db_session.scalar(select(func.count(MemberPhoto.id))) == 2


def test_no_network_needed_for_the_face_detector(tmp_path):
    """The cascade ships inside opencv-python-headless: detection runs in a process that
    has no network at all (a new network namespace) and downloads nothing."""
    script = (
        "import sys; sys.path.insert(0, 'tests');"
        "import photo_samples as s;"
        "from webapp.domain.imaging import find_face;"
        "face = find_face(s.drawn_face());"
        "print('face', face)"
    )
    result = subprocess.run(
        ["unshare", "-rn", sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if (
        result.returncode != 0
        and "unshare" in result.stderr
        and "Operation not permitted" in result.stderr
    ):
        pytest.skip("user namespaces are not allowed here")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("face (")


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_chosen_box_is_cut_from_the_upright_picture_whatever_the_orientation(orientation):
    """The standard photo is cut from the stored pixels (never turned whole): a box in
    each quadrant of the upright picture gives that quadrant's colour, for every EXIF
    orientation, and the preview is the whole upright picture."""
    from webapp.domain.imaging import PhotoLimits, process

    limits = PhotoLimits(min_side=30)
    data = samples.oriented_jpeg(orientation, 600, 800)
    boxes = {
        "top_left": "30,40,210,280",
        "top_right": "330,40,210,280",
        "bottom_left": "30,440,210,280",
        "bottom_right": "360,480,210,280",
    }
    for corner, key in boxes.items():
        result = process(data, limits, key)
        assert result.box.key == key
        standard = Image.open(io.BytesIO(result.standard))
        assert standard.size == (600, 800)
        for x, y in ((0.1, 0.1), (0.9, 0.1), (0.5, 0.5), (0.1, 0.9), (0.9, 0.9)):
            assert near(colour_at(standard, x, y), samples.QUADRANTS[corner]), (corner, x, y)
    preview = Image.open(io.BytesIO(process(data, limits).preview))
    assert preview.size == (600, 800)
    assert near(colour_at(preview, 0.25, 0.25), samples.QUADRANTS["top_left"])
    assert near(colour_at(preview, 0.75, 0.75), samples.QUADRANTS["bottom_right"])
