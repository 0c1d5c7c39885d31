"""The scanned dossier: attach (PDF with several pages, multi-page TIFF), replace with the
old version kept, refusals by content, missing required documents, scope, audit, the
member page's Hồ sơ panel; checked by a real worker."""

from __future__ import annotations

import io

import photo_samples as samples
import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter
from sqlalchemy import func, select

from conftest import login, run_worker_burst
from factories import make_member, make_tree
from helpers import vietnamese
from webapp.cli import create_user
from webapp.models import AuditEntry, DocumentType, MemberDocumentVersion

PASSWORD = "Dossier-Pass-123"


@pytest.fixture()
def world(app, db_session, redis_conn):
    tree = make_tree(db_session)
    member = make_member(db_session, tree["C1"], birth_name="Trần Thị Hồ Sơ")
    outside = make_member(db_session, tree["C3"], birth_name="Lê Văn Ngoài")
    db_session.commit()
    create_user("clerk_d", "Clerk", "P.01", PASSWORD)
    create_user("clerk_d2", "Clerk", "P.02", PASSWORD)
    create_user("leader_d", "Leader", "P.01", PASSWORD)
    return {"member": member, "outside": outside}


def token_client(app, username):
    client = app.test_client()
    response = client.post(
        "/api/v1/security/login",
        json={"username": username, "password": PASSWORD, "provider": "db"},
    )
    return client, {"Authorization": f"Bearer {response.json['access_token']}"}


def attach(client, headers, member_id, data, name, **fields):
    return client.post(
        f"/api/v1/members/{member_id}/documents",
        data={"file": (io.BytesIO(data), name), **fields},
        headers=headers,
        content_type="multipart/form-data",
    )


def documents(client, headers, member_id):
    response = client.get(f"/api/v1/members/{member_id}/documents", headers=headers)
    assert response.status_code == 200, response.text
    return response.json


def multi_page_tiff(pages: int = 2) -> bytes:
    frames = [Image.new("L", (400, 560), 255 - 60 * n) for n in range(pages)]
    out = io.BytesIO()
    frames[0].save(out, "TIFF", save_all=True, append_images=frames[1:])
    return out.getvalue()


def encrypted_pdf() -> bytes:
    writer = PdfWriter(clone_from=io.BytesIO(samples.multi_page_pdf(2)))
    writer.encrypt(user_password="bi-mat", owner_password="chu-so-huu")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def worker_ok():
    result = run_worker_burst()
    assert result.returncode == 0, result.stderr


def test_attach_replace_keep_versions_and_list_missing(app, db_session, world):
    client, headers = token_client(app, "clerk_d")
    member = world["member"]
    required = {
        t.code for t in db_session.scalars(select(DocumentType).where(DocumentType.required))
    }
    assert "application" in required and "member_form" in required
    listing = documents(client, headers, member.id)
    assert listing["documents"] == []
    assert {t["code"] for t in listing["missing"]} == required

    pdf = samples.multi_page_pdf(3)
    response = attach(
        client,
        headers,
        member.id,
        pdf,
        "don-xin-vao-dang.pdf",
        type="application",
        issued_on="2004-06-01",
        number="15-ĐXVĐ",
        note="Bản chính",
    )
    assert response.status_code == 202, response.text
    document_id = response.json["document"]
    assert response.json["version"] == 1 and response.json["state"] == "queued"
    worker_ok()
    listing = documents(client, headers, member.id)
    [document] = listing["documents"]
    assert document["type"]["code"] == "application"
    assert document["number"] == "15-ĐXVĐ" and document["issued_on"] == "2004-06-01"
    assert document["current_version"] == 1
    version = document["versions"][0]
    assert (version["state"], version["pages"], version["media_type"]) == (
        "done",
        3,
        "application/pdf",
    )
    assert "application" not in {t["code"] for t in listing["missing"]}

    # The scan comes back as it went in, as a non-sniffable attachment; the preview is
    # the first page as a JPEG. Each read is in the audit log.
    audit_before = db_session.scalar(select(func.count(AuditEntry.id)))
    scan = client.get(f"/api/v1/documents/{document_id}/file", headers=headers)
    assert scan.status_code == 200 and scan.data == pdf
    assert scan.headers["Content-Type"] == "application/pdf"
    assert scan.headers["X-Content-Type-Options"] == "nosniff"
    assert scan.headers["Content-Disposition"].startswith("attachment;")
    assert len(PdfReader(io.BytesIO(scan.data)).pages) == 3
    preview = client.get(f"/api/v1/documents/{document_id}/file?preview=1", headers=headers)
    image = Image.open(io.BytesIO(preview.data))
    assert image.format == "JPEG" and image.width == 800
    db_session.expire_all()
    assert db_session.scalar(select(func.count(AuditEntry.id))) == audit_before + 2
    last = db_session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
    assert last.action == "document_view" and last.username == "clerk_d"

    # Replaced by a two-page TIFF: version 2 is current, version 1 is kept and readable.
    tiff = multi_page_tiff(2)
    response = attach(
        client, headers, member.id, tiff, "don-quet-lai.tif", document=str(document_id)
    )
    assert response.status_code == 202 and response.json["version"] == 2
    worker_ok()
    [document] = documents(client, headers, member.id)["documents"]
    assert document["current_version"] == 2
    assert [(v["number"], v["state"], v["pages"]) for v in document["versions"]] == [
        (1, "done", 3),
        (2, "done", 2),
    ]
    assert client.get(f"/api/v1/documents/{document_id}/file", headers=headers).data == tiff
    old = client.get(f"/api/v1/documents/{document_id}/file?version=1", headers=headers)
    assert old.data == pdf

    # A bad replacement is refused with its reason; version 2 stays current.
    for data, name, message in [
        (
            samples.text_named_jpg(),
            "khong-phai.pdf",
            "The file is not a PDF, JPEG, PNG or TIFF document.",
        ),
        (pdf[: len(pdf) // 3], "cat-ngang.pdf", "The PDF file is damaged or incomplete."),
        (encrypted_pdf(), "mat-khau.pdf", "The PDF is protected by a password."),
    ]:
        response = attach(client, headers, member.id, data, name, document=str(document_id))
        assert response.status_code == 202
        worker_ok()
        [document] = documents(client, headers, member.id)["documents"]
        latest = document["versions"][-1]
        assert latest["state"] == "refused", (name, latest)
        assert latest["reason"] == vietnamese(app, message), name
        assert document["current_version"] == 2
    db_session.expire_all()
    assert db_session.scalar(select(func.count(MemberDocumentVersion.id))) == 5  # none deleted


def test_bad_requests_scope_and_roles(app, db_session, world):
    clerk, headers = token_client(app, "clerk_d")
    other, other_headers = token_client(app, "clerk_d2")
    leader, leader_headers = token_client(app, "leader_d")
    member, outside = world["member"], world["outside"]
    pdf = samples.multi_page_pdf(1)
    no_type = attach(clerk, headers, member.id, pdf, "a.pdf")
    assert no_type.status_code == 422
    assert no_type.json["message"] == {"type": [vietnamese(app, "Choose the type of document.")]}
    unknown_type = attach(clerk, headers, member.id, pdf, "a.pdf", type="khong-co")
    assert unknown_type.status_code == 422
    future = attach(
        clerk, headers, member.id, pdf, "a.pdf", type="application", issued_on="2999-01-01"
    )
    assert future.status_code == 422
    bad_date = attach(
        clerk, headers, member.id, pdf, "a.pdf", type="application", issued_on="hôm qua"
    )
    assert bad_date.status_code == 422
    empty = attach(clerk, headers, member.id, b"", "a.pdf", type="application")
    assert empty.status_code == 400 and empty.json["message"] == vietnamese(
        app, "The file is empty."
    )
    assert attach(clerk, headers, outside.id, pdf, "a.pdf", type="application").status_code == 404
    assert (
        attach(leader, leader_headers, member.id, pdf, "a.pdf", type="application").status_code
        == 403
    )
    db_session.expire_all()
    assert db_session.scalar(select(func.count(MemberDocumentVersion.id))) == 0
    created = attach(clerk, headers, member.id, pdf, "a.pdf", type="application")
    document_id = created.json["document"]
    worker_ok()
    assert (
        other.get(f"/api/v1/members/{member.id}/documents", headers=other_headers).status_code
        == 404
    )
    assert (
        other.get(f"/api/v1/documents/{document_id}/file", headers=other_headers).status_code == 404
    )
    replaced = attach(other, other_headers, outside.id, pdf, "b.pdf", document=str(document_id))
    assert replaced.status_code == 404
    assert (
        leader.get(f"/api/v1/documents/{document_id}/file", headers=leader_headers).status_code
        == 200
    )
    assert clerk.get("/api/v1/documents/999999/file", headers=headers).status_code == 404
    assert (
        clerk.get(f"/api/v1/documents/{document_id}/file?version=x", headers=headers).status_code
        == 422
    )


def test_member_page_shows_the_dossier_and_attaches(app, db_session, world):
    client = app.test_client()
    login(client, "clerk_d", PASSWORD)
    member = world["member"]
    html = client.get(f"/membermodelview/show/{member.id}").get_data(as_text=True)
    assert 'id="member-dossier"' in html and 'id="dossier-missing"' in html
    assert 'data-code="application"' in html
    kind = db_session.scalar(select(DocumentType).where(DocumentType.code == "application"))
    response = client.post(
        f"/memberdocs/{member.id}/attach",
        data={
            "type": str(kind.id),
            "number": "12",
            "issued_on": "01/06/2004",
            "scan": (io.BytesIO(samples.multi_page_pdf(2)), "don.pdf"),
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert vietnamese(app, "The scan was received and is being checked.") in response.get_data(
        as_text=True
    )
    worker_ok()
    html = client.get(f"/membermodelview/show/{member.id}").get_data(as_text=True)
    assert 'data-type="application"' in html and "01/06/2004" in html
    assert 'data-code="application"' not in html  # no longer missing
    assert vietnamese(app, "%(count)s pages", count=2) in html
    # A Leader reads the dossier but sees no forms.
    leader = app.test_client()
    login(leader, "leader_d", PASSWORD)
    html = leader.get(f"/membermodelview/show/{member.id}").get_data(as_text=True)
    assert 'data-type="application"' in html and 'id="dossier-attach-form"' not in html


def test_openapi_lists_the_dossier_endpoints(client, api_token, db_session):
    paths = client.get("/api/v1/_openapi", headers={"Authorization": f"Bearer {api_token}"}).json[
        "paths"
    ]
    assert {"get", "post"} <= set(paths["/api/v1/members/{pk}/documents"])
    assert "get" in paths["/api/v1/documents/{pk}/file"]
