"""Member import at province scale (issue 16): a 100,000-row XLSX read, dry-run and
committed through the member commands, against a raw bulk INSERT of the same rows in
the same run; and the two XLSX readers (python-calamine, openpyxl read-only) on the file.

Data: its own cells (codes IB.*) under a province unit IB, in the database of the other
benchmarks (bench/tree.py: BENCH_DATABASE_URL or the local dangvien_bench); the members
of earlier runs (numbers ending in IB) are removed first. BENCH_IMPORT_ROWS sets the
number of rows (default 100,000).

Measured: reading the file with each reader (median of runs after a warm-up), the dry
run (every row through create_member and its opening events in a savepoint, all rolled
back), the commit (the same, kept), each once (they take minutes), and the peak memory
(resident set) of this process after each; the baseline is one multi-row INSERT of the
same 100,000 member rows (psycopg executemany, rolled back). Targets from the issue:
dry run ≤ 30 s, commit ≤ 60 s.
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

from sqlalchemy import delete, select, text

from bench.common import compare, median_seconds, write_results
from bench.tree import make_app

N_ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "100000"))
N_CELLS = 40
HEADERS = [
    "Số lý lịch",
    "Họ và tên khai sinh",
    "Giới tính",
    "Ngày sinh",
    "Dân tộc",
    "Số định danh cá nhân",
    "Chi bộ",
    "Ngày vào Đảng",
    "Ngày chính thức",
    "Nghề nghiệp hiện nay",
]
GIVEN = ["An", "Bình", "Cường", "Dũng", "Hoa", "Lan", "Minh", "Nga", "Phúc", "Thảo"]
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rows(n: int):
    for i in range(n):
        birth = date(1950 + i % 45, 1 + i % 12, 1 + i % 28)
        admitted = birth.replace(year=birth.year + 25)
        yield [
            f"{i:06d}IB",
            f"{FAMILY[i % 8]} Văn {GIVEN[i % 10]}",
            "Nam" if i % 3 else "Nữ",
            birth,
            "Kinh",
            f"{900000000000 + i:012d}",
            f"IB.{i % N_CELLS:03d}",
            admitted.strftime("%d/%m/%Y"),
            admitted.replace(year=admitted.year + 1),
            "Cán bộ, công chức cơ quan nhà nước từ cấp huyện trở lên",
        ]


def write_file(path: Path, n: int) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Đảng viên")
    sheet.append(HEADERS)
    for row in rows(n):
        sheet.append(row)
    workbook.save(path)


def prepare(session) -> dict[str, int]:
    """The province IB and its cells; earlier runs' members removed."""
    from webapp.models import Member, MemberEvent, MemberPeriod, Unit
    from webapp.models.member_import import MemberImport
    from webapp.models.unit import UnitKind

    old = select(Member.id).where(Member.member_number.like("%IB"))
    session.execute(delete(MemberPeriod).where(MemberPeriod.member_id.in_(old)))
    session.execute(delete(MemberEvent).where(MemberEvent.member_id.in_(old)))
    session.execute(
        text(
            "DELETE FROM member_change WHERE member_id IN (SELECT id FROM member WHERE member_number LIKE '%IB')"
        )
    )
    session.execute(delete(Member).where(Member.member_number.like("%IB")))
    session.execute(delete(MemberImport))
    province = session.scalar(select(Unit).where(Unit.code == "IB"))
    if province is None:
        province = Unit(code="IB", name="Đảng bộ Nhập thử", kind=UnitKind.PROVINCIAL_COMMITTEE)
        session.add(province)
        session.flush()
    cells = {
        u.code: u.id for u in session.scalars(select(Unit).where(Unit.parent_id == province.id))
    }
    for i in range(N_CELLS):
        code = f"IB.{i:03d}"
        if code not in cells:
            unit = Unit(code=code, name=f"Chi bộ {i}", kind=UnitKind.CELL, parent=province)
            session.add(unit)
            session.flush()
            cells[code] = unit.id
    session.commit()
    return cells


def raw_insert(session, cells: dict[str, int], n: int) -> float:
    """One bulk INSERT of the same member rows (no checks, no ledger), rolled back."""
    statement = text(
        "INSERT INTO member (member_number, birth_name, sex, birth_date, birth_date_precision,"
        " ethnicity, citizen_id, unit_id, admitted_on, official_on, status, occupation,"
        " veteran, martyr_family, completeness, activity, away, sort_key, search_key,"
        " version_id) VALUES (:n, :name, :sex, :birth, 'day', 'Kinh', :cid, :unit, :adm,"
        " :off, 'official', 'Cán bộ, công chức', false, false, 'incomplete', 'normal', false, :name,"
        " :name, 1)"
    )
    params = [
        {
            "n": r[0],
            "name": r[1],
            "sex": "male" if r[2] == "Nam" else "female",
            "birth": r[3],
            "cid": r[5],
            "unit": cells[r[6]],
            "adm": date(int(r[7][6:]), int(r[7][3:5]), int(r[7][:2])),
            "off": r[8],
        }
        for r in rows(n)
    ]
    start = time.perf_counter()
    session.execute(statement, params)
    session.flush()
    elapsed = time.perf_counter() - start
    session.rollback()
    return elapsed


def timed(label: str, fn):
    """(seconds, result) of fn(); with BENCH_PROFILE set, the cProfile of it is printed."""
    if not os.environ.get("BENCH_PROFILE"):
        start, cpu = time.perf_counter(), time.process_time()
        result = fn()
        elapsed = time.perf_counter() - start
        # The machine is shared: the CPU time of this process tells its own share.
        print(f"{label}: {elapsed:.1f} s, of which {time.process_time() - cpu:.1f} s CPU here")
        return elapsed, result
    import cProfile
    import pstats

    profile = cProfile.Profile()
    start = time.perf_counter()
    result = profile.runcall(fn)
    elapsed = time.perf_counter() - start
    print(f"--- {label}: {elapsed:.2f} s")
    pstats.Stats(profile).sort_stats("tottime").print_stats(40)
    return elapsed, result


def run() -> None:
    app = make_app()
    from webapp.domain.commands import Requester
    from webapp.domain.member_import import check_import, commit_import, request_import
    from webapp.domain.spreadsheet_input import ReadLimits, read_spreadsheet
    from webapp.extensions import db
    from webapp.reports.member_import_sheet import import_vocabulary

    backend = "postgresql" if "postgresql" in os.environ["DATABASE_URL"] else "sqlite"
    folder = Path(tempfile.mkdtemp(prefix="dangvien-ingest-"))
    path = folder / "members.xlsx"
    results = []
    with app.app_context(), app.test_request_context():
        session = db.session
        cells = prepare(session)
        print(f"writing {N_ROWS} rows …")
        write_file(path, N_ROWS)
        limits = ReadLimits(max_rows=max(N_ROWS, 200_000))
        times = {
            engine: median_seconds(
                lambda engine=engine: read_spreadsheet(path, "m.xlsx", limits, engine=engine),
                # A 100,000-row file takes openpyxl a minute or more: read once then.
                repeat=3 if N_ROWS <= 20_000 else 1,
                warmup=1 if N_ROWS <= 20_000 else 0,
            )
            for engine in ("calamine", "openpyxl")
        }
        results.append(
            compare(
                "read XLSX: python-calamine vs openpyxl read-only",
                times["calamine"],
                times["openpyxl"],
                backend=backend,
                n=N_ROWS,
            )
        )
        baseline = raw_insert(session, cells, N_ROWS)
        words = import_vocabulary()
        requester = Requester.system()
        sheets = read_spreadsheet(path, "m.xlsx", limits)
        imported = request_import(
            session,
            requester,
            file_name="m.xlsx",
            sha256="0" * 64,
            file_path="files/imports/00/" + "0" * 64,
            size=path.stat().st_size,
        )
        pattern = app.config["MEMBER_NUMBER_PATTERN"]
        print("dry run …")
        dry, plan = timed(
            "dry run",
            lambda: check_import(
                session, requester, imported.id, sheets, words, member_number_pattern=pattern
            ),
        )
        assert plan.counts["new"] == N_ROWS, (plan.counts, plan.rows[0].problems)
        dry_peak = peak_mb()
        print(f"dry run {dry:.1f} s; commit …")
        committed, _ = timed(
            "commit",
            lambda: commit_import(
                session, requester, imported.id, sheets, words, member_number_pattern=pattern
            ),
        )
        commit_peak = peak_mb()
        print(f"commit {committed:.1f} s; dry run of the same file again …")
        again = request_import(
            session,
            requester,
            file_name="m.xlsx",
            sha256="0" * 64,
            file_path="files/imports/00/" + "0" * 64,
            size=path.stat().st_size,
        )
        second, plan = timed(
            "second dry run",
            lambda: check_import(
                session, requester, again.id, sheets, words, member_number_pattern=pattern
            ),
        )
        assert plan.counts["unchanged"] == N_ROWS, plan.counts
        print(f"second dry run {second:.1f} s")
        results += [
            compare(
                "dry run of the file vs raw bulk INSERT",
                dry,
                baseline,
                backend=backend,
                n=N_ROWS,
                target=30,
                target_on="value",
            ),
            compare(
                "commit of the file vs raw bulk INSERT",
                committed,
                baseline,
                backend=backend,
                n=N_ROWS,
                target=60,
                target_on="value",
            ),
            compare(
                "dry run of the same file once imported (every row unchanged) vs raw bulk INSERT",
                second,
                baseline,
                backend=backend,
                n=N_ROWS,
                target=30,
                target_on="value",
            ),
            compare(
                "peak memory after the dry run",
                dry_peak,
                None,
                unit="MB",
                backend=backend,
                n=N_ROWS,
            ),
            compare(
                "peak memory after the commit",
                commit_peak,
                None,
                unit="MB",
                backend=backend,
                n=N_ROWS,
            ),
        ]
    path.unlink()
    folder.rmdir()
    write_results("ingest", results)


if __name__ == "__main__":
    run()
