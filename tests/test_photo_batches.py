"""Batches of scans: `flask photos import` on a folder and a ZIP, the ZIP upload screen
with a real worker, and every hostile archive (traversal, absolute names, bombs, nested
archives, duplicates, links) refused per file with its reason, nothing written outside
DATA_DIR's store."""

from __future__ import annotations

import io
import struct
import warnings
import zipfile
from pathlib import Path

import photo_samples as samples
import pytest
from sqlalchemy import func, select

from conftest import login, run_flask, run_worker_burst
from factories import make_member, make_tree
from helpers import vietnamese
from webapp.cli import create_user
from webapp.models import MemberPhoto, PhotoBatch, PhotoBatchItem

PASSWORD = "Batch-Pass-123"


@pytest.fixture()
def world(app, db_session, redis_conn):
    tree = make_tree(db_session)
    numbers = ["000101NB", "000102NB", "000103NB", "000104NB", "000105NB"]
    members = {
        number: make_member(db_session, tree["C1"], member_number=number) for number in numbers
    }
    members["000900NB"] = make_member(db_session, tree["C3"], member_number="000900NB")
    db_session.commit()
    create_user("clerk_b", "Clerk", "P.01", PASSWORD)
    return {"tree": tree, "members": members}


def photo(seed: int = 0) -> bytes:
    return samples.jpeg(samples.quadrants(300 + seed, 400 + seed))


def outcomes(db_session, batch_id=None) -> dict[str, tuple[str, str | None]]:
    db_session.expire_all()
    if batch_id is None:
        batch_id = db_session.scalar(select(func.max(PhotoBatch.id)))
    items = db_session.scalars(
        select(PhotoBatchItem).where(PhotoBatchItem.batch_id == batch_id)
    ).all()
    return {item.file_name: (item.outcome, item) for item in items}


def message(app, item) -> str:
    from webapp.photos_cli import item_message

    with app.test_request_context():
        from flask_babel import force_locale

        with force_locale("vi"):
            return item_message(item.message, item.message_params)


def test_cli_imports_a_folder_and_prints_a_line_per_file(app, db_session, world, tmp_path):
    folder = tmp_path / "scanner"
    (folder / "sub").mkdir(parents=True)
    (folder / "000101NB.jpg").write_bytes(photo(1))
    (folder / "sub" / "000102nb_1.JPG").write_bytes(photo(2))  # case and a sequence number
    (folder / "000103NB.jpg").write_bytes(photo(3))
    (folder / "000103NB_2.jpg").write_bytes(photo(4))  # two files, one member: ambiguous
    (folder / "999999NB.jpg").write_bytes(photo(5))  # nobody has this number
    (folder / "000900NB.jpg").write_bytes(photo(6))  # outside clerk_b's scope
    (folder / "000104NB.jpg").write_bytes(samples.text_named_jpg())  # not an image
    (folder / "ghi-chu.txt").write_text("danh sách")
    (folder / "abc.jpg").write_bytes(photo(7))  # no member number
    (folder / "000105NB.jpg").symlink_to("/etc/hostname")
    result = run_flask("photos", "import", str(folder), "--user", "clerk_b")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "file\toutcome\tmember\tmessage"
    table = {line.split("\t")[0]: line.split("\t") for line in lines[1:-1]}
    assert table["000101NB.jpg"][1:3] == ["matched", "000101NB"]
    assert table["sub/000102nb_1.JPG"][1:3] == ["matched", "000102NB"]
    assert table["000103NB.jpg"][1] == table["000103NB_2.jpg"][1] == "ambiguous"
    assert table["999999NB.jpg"][1] == "not_found"
    assert table["000900NB.jpg"][1] == "not_found"  # outside the scope = not found
    assert table["000104NB.jpg"][1] == "refused"
    assert table["000104NB.jpg"][3] == "000104NB.jpg: " + vietnamese(
        app, "The file is not a JPEG, PNG or TIFF image."
    )
    assert table["ghi-chu.txt"][1] == "refused"
    assert table["abc.jpg"][1] == "refused"
    assert table["000105NB.jpg"][1] == "refused"
    assert table["000105NB.jpg"][3] == vietnamese(
        app, "%(name)s: links are not followed; not read.", name="000105NB.jpg"
    )
    assert lines[-1].startswith("batch ") and "matched 2" in lines[-1]
    db_session.expire_all()
    photos = db_session.scalars(select(MemberPhoto).where(MemberPhoto.current)).all()
    assert sorted(p.member.member_number for p in photos) == ["000101NB", "000102NB"]
    # The same folder again: the same photos, nothing processed twice.
    again = run_flask("photos", "import", str(folder), "--user", "clerk_b")
    assert again.returncode == 0
    db_session.expire_all()
    assert db_session.scalar(select(func.count(MemberPhoto.id))) == 3  # 2 done + 1 refused
    # As the system (no --user) the member outside the clerk's scope is found.
    system = run_flask("photos", "import", str(folder))
    assert "000900NB.jpg\tmatched\t000900NB" in system.stdout


def test_cli_exits_non_zero_only_when_path_is_unusable(app, db_session, world, tmp_path):
    missing = run_flask("photos", "import", str(tmp_path / "nowhere"))
    assert missing.returncode != 0
    assert vietnamese(app, "%(name)s is neither a folder nor a ZIP archive.", name="nowhere") in (
        missing.stderr
    )
    not_zip = tmp_path / "scans.zip"
    not_zip.write_bytes(b"this is not a zip file")
    bad = run_flask("photos", "import", str(not_zip))
    assert bad.returncode != 0
    assert vietnamese(app, "%(name)s is not a ZIP archive that can be read.", name="scans.zip") in (
        bad.stderr
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    ok = run_flask("photos", "import", str(empty))
    assert ok.returncode == 0 and "0 files" in ok.stdout


def lying_bomb(name: str, declared: int = 2000, real: int = 10 * 1024 * 1024) -> bytes:
    """A ZIP whose header says `declared` bytes while the data inflates to `real` bytes."""
    data = samples.zip_with_bomb(name, real)
    # Patch the uncompressed size in the local header (offset 22) and the central one.
    local = bytearray(data)
    struct.pack_into("<I", local, 22, declared)
    central = local.find(b"PK\x01\x02")
    struct.pack_into("<I", local, central + 24, declared)
    return bytes(local)


def test_hostile_zip_entries_are_refused_per_file(app, db_session, world, tmp_path):
    inner = samples.zip_of([("000101NB.jpg", photo(1))])
    entries = [
        ("000101NB.jpg", photo(1)),
        ("../../000102NB.jpg", photo(2)),  # path traversal
        ("/tmp/000103NB.jpg", photo(3)),  # absolute path
        ("C:\\scans\\000104NB.jpg", photo(4)),  # a Windows drive
        ("inner.zip", inner),  # a nested archive by name
        ("000105NB.jpg", inner),  # a nested archive disguised as a photo
        ("000102NB.jpg", photo(5)),
        ("000102NB.jpg", photo(6)),  # the same name twice in one archive
    ]
    archive = tmp_path / "hostile.zip"
    with zipfile.ZipFile(archive, "w") as zipped, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name it writes
        for name, data in entries:
            zipped.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), data)
    result = run_flask("photos", "import", str(archive))
    assert result.returncode == 0, result.stderr
    table = outcomes(db_session)
    assert table["000101NB.jpg"][0] == "matched", message(app, table["000101NB.jpg"][1])
    for name in ("../../000102NB.jpg", "/tmp/000103NB.jpg", "C:\\scans\\000104NB.jpg"):
        assert table[name][0] == "refused"
        assert message(app, table[name][1]) == vietnamese(
            app, "%(name)s: the name points outside the archive; not read.", name=name
        )
    nested = "%(name)s: archives inside the archive are not opened; unpack it first."
    assert message(app, table["inner.zip"][1]) == vietnamese(app, nested, name="inner.zip")
    assert message(app, table["000105NB.jpg"][1]) == vietnamese(app, nested, name="000105NB.jpg")
    duplicates = [item for name, (outcome, item) in table.items() if name == "000102NB.jpg"]
    assert len(duplicates) == 1  # the table is keyed by name: look at the rows themselves
    db_session.expire_all()
    rows = db_session.scalars(
        select(PhotoBatchItem)
        .where(PhotoBatchItem.file_name == "000102NB.jpg")
        .order_by(PhotoBatchItem.position)
    ).all()
    assert [row.outcome for row in rows] == ["matched", "refused"]
    assert message(app, rows[1]) == vietnamese(
        app,
        "%(name)s: the name appears more than once; only the first is read.",
        name="000102NB.jpg",
    )
    # Nothing was written outside the content store, under any name from the archive.
    for name in ("000102NB.jpg", "000103NB.jpg", "000104NB.jpg"):
        assert not (Path("/tmp") / name).exists()
        assert not list(Path(app.config["DATA_DIR"]).rglob(name))
    # No archive under any name from this one (the card printer's ZIP of an earlier test,
    # a report file, may be there: reports/ is the report runs' store, not the batch's).
    data = Path(app.config["DATA_DIR"])
    assert not [p for p in data.rglob("*.zip*") if "reports" not in p.relative_to(data).parts]


def test_zip_bombs_are_not_unpacked(app, db_session, world, tmp_path):
    """Three bombs: one declaring 600 MB, one declaring 10 MB at 1000:1, one lying that
    it holds 2,000 bytes. None is inflated beyond the per-file limit."""
    big = tmp_path / "big.zip"
    big.write_bytes(samples.zip_with_bomb("000101NB.jpg", 600 * 1024 * 1024))
    dense = tmp_path / "dense.zip"
    dense.write_bytes(samples.zip_with_bomb("000102NB.jpg", 10 * 1024 * 1024))
    liar = tmp_path / "liar.zip"
    liar.write_bytes(lying_bomb("000103NB.jpg"))
    assert big.stat().st_size < 1024 * 1024 and dense.stat().st_size < 20_000
    expected = {
        big: (
            "000101NB.jpg",
            "%(name)s: the file is larger than %(limit)s MB.",
            {"limit": 15},
        ),
        dense: (
            "000102NB.jpg",
            "%(name)s: unpacks to far more than its packed size (a ZIP bomb); not read.",
            {},
        ),
        liar: ("000103NB.jpg", "%(name)s: the file is damaged in the archive; not read.", {}),
    }
    for path, (name, text, params) in expected.items():
        result = run_flask("photos", "import", str(path))
        assert result.returncode == 0, result.stderr
        table = outcomes(db_session)
        assert table[name][0] == "refused", (path, table)
        assert message(app, table[name][1]) == vietnamese(app, text, name=name, **params)
    db_session.expire_all()
    assert db_session.scalar(select(func.count(MemberPhoto.id))) == 0


def test_zip_upload_screen_runs_the_batch_on_a_worker(app, db_session, world):
    client = app.test_client()
    login(client, "clerk_b", PASSWORD)
    page = client.get("/photobatches/")
    assert page.status_code == 200 and 'id="batch-upload-form"' in page.get_data(as_text=True)
    archive = samples.zip_of(
        [
            ("000101NB.jpg", samples.oriented_jpeg(6)),
            ("000102NB.png", samples.png(samples.quadrants())),
            ("000900NB.jpg", photo(1)),  # outside the scope
            ("../000103NB.jpg", photo(2)),
            ("000104NB.jpg", samples.truncated_jpeg()),
        ]
    )
    response = client.post(
        "/photobatches/upload",
        data={"archive": (io.BytesIO(archive), "quet-thang-11.zip")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    show_url = response.headers["Location"]
    html = client.get(show_url).get_data(as_text=True)
    assert 'data-state="queued"' in html
    result = run_worker_burst()
    assert result.returncode == 0, result.stderr
    html = client.get(show_url).get_data(as_text=True)
    assert 'data-state="done"' in html
    table = outcomes(db_session)
    assert {name: outcome for name, (outcome, _) in table.items()} == {
        "000101NB.jpg": "matched",
        "000102NB.png": "matched",
        "000900NB.jpg": "not_found",
        "../000103NB.jpg": "refused",
        "000104NB.jpg": "refused",
    }
    reason = vietnamese(app, "The image file is damaged or incomplete.")
    assert f"000104NB.jpg: {reason}" in html
    status = client.get(show_url + "/status").json
    assert status["state"] == "done" and status["progress"] == 100
    assert status["counts"] == {"matched": 2, "not_found": 1, "ambiguous": 0, "refused": 2}
    # Another clerk does not see this batch.
    create_user("clerk_b2", "Clerk", "P.01", PASSWORD)
    other = app.test_client()
    login(other, "clerk_b2", PASSWORD)
    assert other.get(show_url + "/status").status_code == 404
    # Not a ZIP: the batch fails with the reason, nothing is matched.
    response = client.post(
        "/photobatches/upload",
        data={"archive": (io.BytesIO(b"not a zip"), "scans.zip")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    run_worker_burst()
    db_session.expire_all()
    failed = db_session.scalar(select(PhotoBatch).order_by(PhotoBatch.id.desc()).limit(1))
    assert failed.state == "failed"
    html = client.get(f"/photobatches/{failed.id}").get_data(as_text=True)
    assert Path(failed.archive_path).name not in html  # the stored name is never shown
    text = vietnamese(app, "%(name)s is not a ZIP archive that can be read.", name="scans.zip")
    assert text in html


def test_a_batch_of_several_chunks_is_one_job_on_a_real_worker(app, db_session, world):
    """More files than a chunk holds (CHUNK_FILES): every file gets its line in order,
    whichever chunk it falls in, all in the one batch job (no job per photo), with the
    progress at 100 and the members' photos current."""
    from rq.registry import FinishedJobRegistry

    from jobs import get_queue
    from webapp.domain.photo_batches import CHUNK_FILES

    tree = world["tree"]
    count = 2 * CHUNK_FILES + 5  # three chunks
    numbers = [f"{700 + n:06d}NB" for n in range(count)]
    for number in numbers:
        make_member(db_session, tree["C1"], member_number=number)
    db_session.commit()
    files = [(f"{number}.jpg", photo(n % 7)) for n, number in enumerate(numbers)]
    # Refusals and misses inside the second and third chunks, between matched files.
    files[CHUNK_FILES + 3] = (f"{numbers[CHUNK_FILES + 3]}.jpg", samples.truncated_jpeg())
    files[CHUNK_FILES + 4] = ("000999NB.jpg", photo(1))  # nobody has this number
    files[2 * CHUNK_FILES + 1] = (f"{numbers[2 * CHUNK_FILES + 1]}.jpg", samples.text_named_jpg())
    client = app.test_client()
    login(client, "clerk_b", PASSWORD)
    response = client.post(
        "/photobatches/upload",
        data={"archive": (io.BytesIO(samples.zip_of(files)), "ba-lo.zip")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    show_url = response.headers["Location"]
    result = run_worker_burst()
    assert result.returncode == 0, result.stderr

    db_session.expire_all()
    batch = db_session.scalar(select(PhotoBatch).order_by(PhotoBatch.id.desc()).limit(1))
    assert (batch.state, batch.total, batch.processed) == ("done", count, count)
    items = sorted(batch.items, key=lambda item: item.position)
    assert [item.position for item in items] == list(range(1, count + 1))
    assert [item.file_name for item in items] == [name for name, _ in files]
    expected = ["matched"] * count
    expected[CHUNK_FILES + 3] = "refused"
    expected[CHUNK_FILES + 4] = "not_found"
    expected[2 * CHUNK_FILES + 1] = "refused"
    assert [item.outcome for item in items] == expected
    damaged = vietnamese(app, "The image file is damaged or incomplete.")
    assert message(app, items[CHUNK_FILES + 3]) == f"{files[CHUNK_FILES + 3][0]}: {damaged}"
    not_image = vietnamese(app, "The file is not a JPEG, PNG or TIFF image.")
    assert (
        message(app, items[2 * CHUNK_FILES + 1]) == f"{files[2 * CHUNK_FILES + 1][0]}: {not_image}"
    )
    # Each matched line names its member's current, done photo, whose files are there.
    store_root = Path(app.config["DATA_DIR"])
    for item in items:
        if item.outcome != "matched":
            continue
        photo_row = db_session.get(MemberPhoto, item.photo_id)
        assert photo_row.member_id == item.member_id
        assert (photo_row.state, photo_row.current) == ("done", True), item.file_name
        for path in (photo_row.standard_path, photo_row.thumb_path, photo_row.preview_path):
            assert (store_root / path).is_file()
    refused_row = db_session.get(MemberPhoto, items[CHUNK_FILES + 3].photo_id)
    assert refused_row.state == "refused" and not refused_row.current
    # One job did it all: the batch's; no photo job was queued for its files.
    finished = FinishedJobRegistry(queue=get_queue("photos")).get_job_ids()
    assert finished == [batch.job_id], finished
    status = client.get(show_url + "/status").json
    assert status["state"] == "done" and status["progress"] == 100
    assert status["counts"] == {"matched": count - 3, "not_found": 1, "ambiguous": 0, "refused": 2}

    # The same archive again: the same photos (nothing processed anew), the same lines.
    photos_before = db_session.scalar(select(func.count()).select_from(MemberPhoto))
    response = client.post(
        "/photobatches/upload",
        data={"archive": (io.BytesIO(samples.zip_of(files)), "ba-lo.zip")},
        content_type="multipart/form-data",
    )
    assert run_worker_burst().returncode == 0
    db_session.expire_all()
    again = db_session.scalar(select(PhotoBatch).order_by(PhotoBatch.id.desc()).limit(1))
    assert again.id != batch.id and again.state == "done"
    assert [i.outcome for i in sorted(again.items, key=lambda i: i.position)] == expected
    assert db_session.scalar(select(func.count()).select_from(MemberPhoto)) == photos_before
