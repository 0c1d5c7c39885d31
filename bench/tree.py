"""Subtree queries, rolls and the member list screen on a province-sized data set.

Builds (or reuses) 100,000 members in ~5,000 units with bulk inserts, then times the
application's own code against a hand-written SQL baseline in the same run:
- members on the rolls of a district: materialised-path count vs a recursive CTE;
- the roll of a district "as of" a date (ORM, periods) vs the same query in raw SQL;
- subtree counts for the whole tree (tree page) vs one raw GROUP BY per unit path;
- the member list screen with a diacritic-free name search (FAB view, HTTP in-process)
  vs the raw SQL of that page (count + one page of rows).
"""

from __future__ import annotations

import os
import random
import socket
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, insert, select, text

from bench.common import compare, median_seconds, write_results

N_MEMBERS = int(os.environ.get("BENCH_MEMBERS", "100000"))
DISTRICTS, GRASSROOTS_PER_DISTRICT, CELLS_PER_GRASSROOTS = 12, 100, 4
ADMIN_PASSWORD = "Bench-Admin-123"
HERE = Path(__file__).resolve().parent


def database_url() -> str:
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        return url
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=0.5).close()
    except OSError:
        return f"sqlite:///{HERE / '.instance' / 'bench.db'}"
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/dangvien_bench"
    admin = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        if not connection.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = 'dangvien_bench'")
        ):
            connection.execute(text('CREATE DATABASE "dangvien_bench"'))
    admin.dispose()
    return url


def make_app():
    os.environ["DATABASE_URL"] = database_url()
    os.environ.setdefault("DANGVIEN_INSTANCE_DIR", str(HERE / ".instance"))
    os.environ.setdefault("SECRET_KEY", "bench-secret-key-long-enough-for-hs256-tokens")
    from webapp import create_app

    app = create_app()
    app.config["WTF_CSRF_ENABLED"] = False
    result = app.test_cli_runner().invoke(args=["init", "--admin-password", ADMIN_PASSWORD])
    assert result.exit_code == 0, result.output
    return app


def build(session) -> None:
    """Bulk-insert the province: ids and paths computed here, keys by the domain functions."""
    from webapp.domain.vietnamese import name_sort_key, search_key
    from webapp.models import Member, MemberPeriod, Unit
    from webapp.models.unit import code_sort_key

    rng = random.Random(7)
    session.execute(text("DELETE FROM member_period"))
    session.execute(text("DELETE FROM member_event"))
    session.execute(text("DELETE FROM member"))
    session.execute(text("DELETE FROM unit_change"))
    ids = session.scalars(text("SELECT id FROM unit ORDER BY length(path) DESC")).all()
    for unit_id in ids:
        session.execute(text("DELETE FROM unit WHERE id = :id"), {"id": unit_id})
    units, cells = [], []
    sort_paths: dict[str, str] = {}
    next_id = 1

    def unit(code, name, kind, parent_path):
        nonlocal next_id
        parent_sort = sort_paths.get(parent_path)
        key = code_sort_key(code)
        sort_paths[f"{parent_path}{next_id}/"] = f"{parent_sort} {key}" if parent_sort else key
        row = {
            "id": next_id,
            "code": code,
            "name": name,
            "kind": kind,
            "path": f"{parent_path}{next_id}/",
            "sort_path": sort_paths[f"{parent_path}{next_id}/"],
            "parent_id": int(parent_path.strip("/").split("/")[-1]) if parent_path != "/" else None,
            "version_id": 1,
        }
        next_id += 1
        units.append(row)
        return row

    province = unit("BN", "Đảng bộ tỉnh Bench", "provincial_committee", "/")
    for d in range(1, DISTRICTS + 1):
        district = unit(
            f"BN.{d:02d}", f"Đảng bộ huyện {d}", "upper_grassroots_committee", province["path"]
        )
        for g in range(1, GRASSROOTS_PER_DISTRICT + 1):
            grassroots = unit(
                f"{district['code']}.{g:03d}",
                f"Đảng bộ xã {d}-{g}",
                "grassroots_committee",
                district["path"],
            )
            for c in range(1, CELLS_PER_GRASSROOTS + 1):
                cells.append(
                    unit(f"{grassroots['code']}.{c:02d}", f"Chi bộ {c}", "cell", grassroots["path"])
                )
    session.execute(insert(Unit.__table__), units)
    families = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Hồ"]
    middles = ["Văn", "Thị", "Hữu", "Đức", "Thanh", "Minh"]
    givens = [
        "An",
        "Bình",
        "Cường",
        "Dũng",
        "Hường",
        "Hương",
        "Lan",
        "Minh",
        "Nam",
        "Phúc",
        "Quang",
        "Sơn",
        "Thảo",
        "Vân",
    ]
    batch_members, batch_periods = [], []
    for i in range(1, N_MEMBERS + 1):
        cell = cells[i % len(cells)]
        name = f"{rng.choice(families)} {rng.choice(middles)} {rng.choice(givens)}"
        birth = date(1940, 1, 1) + timedelta(days=rng.randint(0, 60 * 365))
        admitted = birth + timedelta(days=365 * 19 + rng.randint(0, 365 * 20))
        official = admitted + timedelta(days=366)
        number = f"{i:06d}BN"
        batch_members.append(
            {
                "id": i,
                "member_number": number,
                "birth_name": name,
                "sex": "male",
                "birth_date": birth,
                "birth_date_precision": "day",
                "admitted_on": admitted,
                "official_on": official,
                "status": "official",
                "unit_id": cell["id"],
                "sort_key": name_sort_key(name),
                "search_key": search_key(name, number),
                "ethnicity": "Kinh",
                "religion": "Không",
                "away": False,
                "activity": "normal",
                "veteran": False,
                "martyr_family": False,
                "completeness": "one_page",
                "version_id": 1,
                "party_age_from": admitted,
            }
        )
        batch_periods.append(
            {
                "member_id": i,
                "unit_id": cell["id"],
                "standing": "official",
                "starts_on": official,
                "away": False,
                "activity": "normal",
            }
        )
        if len(batch_members) == 10000:
            session.execute(insert(Member.__table__), batch_members)
            session.execute(insert(MemberPeriod.__table__), batch_periods)
            batch_members, batch_periods = [], []
    if batch_members:
        session.execute(insert(Member.__table__), batch_members)
        session.execute(insert(MemberPeriod.__table__), batch_periods)
    if session.get_bind().dialect.name == "postgresql":
        for table in ("unit", "member"):
            session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
            )
    session.commit()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE"))
        session.commit()


def run() -> None:
    app = make_app()
    from webapp.domain.reports import count_subtree_members
    from webapp.domain.rolls import roll_as_of
    from webapp.domain.units import subtree_member_counts
    from webapp.extensions import db
    from webapp.models import Member, Unit

    with app.app_context():
        session = db.session
        if session.scalar(select(func.count(Member.id))) != N_MEMBERS:
            print(f"building {N_MEMBERS} members …")
            build(session)
        backend = session.get_bind().dialect.name
        district = session.scalar(select(Unit).where(Unit.code == "BN.03"))
        connection = session.connection()
        results = []

        ours = median_seconds(lambda: count_subtree_members(session, district))
        cte = text(
            """WITH RECURSIVE sub(id) AS (SELECT id FROM unit WHERE id = :root
               UNION ALL SELECT u.id FROM unit u JOIN sub ON u.parent_id = sub.id)
               SELECT count(*) FROM member m JOIN sub ON m.unit_id = sub.id
               WHERE m.status IN ('probationary', 'official')"""
        )
        assert connection.scalar(cte, {"root": district.id}) == count_subtree_members(
            session, district
        )
        baseline = median_seconds(lambda: connection.scalar(cte, {"root": district.id}))
        results.append(
            compare(
                "district count: path prefix vs recursive CTE",
                ours,
                baseline,
                backend=backend,
                n=N_MEMBERS,
                target=3,
                target_on="ratio",
            )
        )

        day = date.today()
        ours = median_seconds(lambda: roll_as_of(session, district, day), repeat=5)
        raw = text(
            """SELECT m.id, m.birth_name, u.code FROM member m JOIN member_period p ON p.member_id = m.id
               JOIN unit u ON u.id = p.unit_id WHERE u.path LIKE :prefix AND p.starts_on <= :day
               AND (p.ends_on IS NULL OR p.ends_on > :day) ORDER BY u.path, m.sort_key, m.id"""
        )
        expected = len(roll_as_of(session, district, day)[0])
        assert (
            len(connection.execute(raw, {"prefix": district.path + "%", "day": day}).all())
            == expected
        )
        baseline = median_seconds(
            lambda: connection.execute(raw, {"prefix": district.path + "%", "day": day}).all(),
            repeat=5,
        )
        results.append(
            compare(
                f"district roll as of today ({expected} rows): ours vs raw SQL",
                ours,
                baseline,
                backend=backend,
                n=N_MEMBERS,
                target=5,
                target_on="ratio",
            )
        )

        ours = median_seconds(lambda: subtree_member_counts(session), repeat=5)
        raw_counts = text(
            """SELECT a.id, count(m.id) FROM unit a JOIN unit d ON d.path LIKE a.path || '%'
               JOIN member m ON m.unit_id = d.id AND m.status IN ('probationary', 'official') GROUP BY a.id"""
        )
        baseline = median_seconds(lambda: connection.execute(raw_counts).all(), repeat=3, warmup=1)
        results.append(
            compare(
                "tree page counts (all units): ours vs SQL self-join",
                ours,
                baseline,
                backend=backend,
                n=N_MEMBERS,
                target=1,
                target_on="ratio",
            )
        )
        session.commit()

    client = app.test_client()
    client.post("/login/", data={"username": "admin", "password": ADMIN_PASSWORD})
    page_url = "/membermodelview/list/?_flt_0_search_key=nguyen+van+huong"

    def page():
        response = client.get(page_url)
        assert response.status_code == 200

    ours = median_seconds(page)
    with app.app_context():
        connection = db.session.connection()
        raw_page = text(
            """SELECT m.*, u.code, u.name FROM member m JOIN unit u ON u.id = m.unit_id
               WHERE m.search_key LIKE '%nguyen%' AND m.search_key LIKE '%van%' AND m.search_key LIKE '%huong%'
               ORDER BY m.sort_key LIMIT 25"""
        )
        raw_count = text(
            "SELECT count(*) FROM member m WHERE m.search_key LIKE '%nguyen%' AND m.search_key LIKE '%van%' AND m.search_key LIKE '%huong%'"
        )
        baseline = median_seconds(
            lambda: (connection.scalar(raw_count), connection.execute(raw_page).all())
        )
    results.append(
        compare(
            "member list page, name search (HTTP) vs its SQL",
            ours,
            baseline,
            backend=backend,
            n=N_MEMBERS,
            target=10,
            target_on="ratio",
        )
    )
    results.append(
        compare(
            "member list page, name search (HTTP)",
            ours,
            None,
            backend=backend,
            n=N_MEMBERS,
            target=1.0,
            target_on="value",
        )
    )
    write_results("tree", results)


if __name__ == "__main__":
    run()
