"""The screens clerks and leaders use all day, at province scale, against bare FAB.

`python -m bench pages` measures every page through the real WSGI stack (Flask's test
client, signed in, the app `create_app` builds) on the province preset's data at 100,000
members (`flask demo --preset province --members 100000`, built once per database and
reused), on PostgreSQL and, when BENCH_PAGES_BACKENDS says so, SQLite. Each backend runs in
its own process (one app per process, as in production).

The baseline is a bare FAB ModelView (and ModelRestApi) of the member table with the same
page size, registered inside the benchmark in the same app and measured interleaved with
our pages in the same rounds: round r requests every page once, ours and bare FAB's in
turn, so the machine's load falls on both alike. Each page is reported as p50 and p95 in
ms (ratio to the bare FAB page where there is one), and the SQL statements the request ran
(a before_cursor_execute listener on the engine). Pages are measured as Admin and as a
district Clerk (the dashboard as a district Leader: Clerks have none), the Clerk's page
also against the Admin's.

Environment: BENCH_MEMBERS (100000), BENCH_PAGE_ROUNDS (40), BENCH_PAGES_BACKENDS
("postgresql" or "postgresql,sqlite"), BENCH_PAGES_PG_URL (a PostgreSQL URL; default the
local server's database dangvien_bench_pages), BENCH_REDIS_URL, BENCH_PAGES_SQL_LOG (a file:
the statements of each page's last warm-up request, each with the project's code that ran
it, as JSON), BENCH_PAGES_ONLY (a comma-separated list of page names to measure),
BENCH_PAGES_FREEZE_SETUP (1: the bench's set-up after create_app is frozen out of the
garbage collector's reach as create_app freezes start-up; 0: not, as before).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Result, compare, write_results

HERE = Path(__file__).resolve().parent
N_MEMBERS = int(os.environ.get("BENCH_MEMBERS", "100000"))
ROUNDS = int(os.environ.get("BENCH_PAGE_ROUNDS", "40"))
SQL_LOG = os.environ.get("BENCH_PAGES_SQL_LOG")
ONLY = [p for p in os.environ.get("BENCH_PAGES_ONLY", "").split(",") if p]
FREEZE_SETUP = os.environ.get("BENCH_PAGES_FREEZE_SETUP", "1") != "0"
WARMUP = 3
ADMIN_PASSWORD = "Bench-Admin-123"
USER_PASSWORD = "Bench-User-123"
TARGET_P95_MS = {"postgresql": 80.0, "sqlite": 60.0}
TARGET_SQL = 10
TARGET_BARE_RATIO = 0.8
TARGET_CLERK_RATIO = 1.1


def pg_url() -> str:
    from sqlalchemy import create_engine, text

    url = os.environ.get(
        "BENCH_PAGES_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/dangvien_bench_pages"
    )
    base, name = url.rsplit("/", 1)
    admin = create_engine(base + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        if not connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url


def database_url(backend: str) -> str:
    if backend == "postgresql":
        return pg_url()
    folder = HERE / ".instance"
    folder.mkdir(exist_ok=True)
    return f"sqlite:///{folder / f'pages-{N_MEMBERS}.db'}"


# ---------------------------------------------------------------- the app and its data


def make_app(backend: str):
    os.environ["DATABASE_URL"] = database_url(backend)
    os.environ.setdefault("DANGVIEN_INSTANCE_DIR", str(HERE / ".instance"))
    os.environ.setdefault("SECRET_KEY", "bench-secret-key-long-enough-for-hs256-tokens")
    if os.environ.get("BENCH_REDIS_URL"):
        os.environ["REDIS_URL"] = os.environ["BENCH_REDIS_URL"]
    from webapp import create_app

    app = create_app()
    app.config["WTF_CSRF_ENABLED"] = False
    register_bare_fab(app)
    return app


def register_bare_fab(app) -> None:
    """A ModelView and a ModelRestApi of Member as FAB makes them, same page size."""
    from flask_appbuilder import ModelRestApi, ModelView
    from flask_appbuilder.models.sqla.interface import SQLAInterface

    from webapp.models import Member

    columns = ["member_number", "birth_name", "birth_date", "sex", "unit", "admitted_on", "status"]

    class BareMemberView(ModelView):
        datamodel = SQLAInterface(Member)
        route_base = "/barememberview"
        page_size = 25
        list_columns = columns
        base_order = ("sort_key", "asc")
        search_columns = ["search_key"]
        edit_columns = [
            "member_number",
            "birth_name",
            "sex",
            "birth_date",
            "unit",
            "ethnicity",
            "religion",
            "general_education",
            "occupation",
        ]

    class BareMemberByUnitView(BareMemberView):
        """With FAB's filter on the unit (its search panel lists every unit: this view
        serves only the page filtered by a cell)."""

        route_base = "/barememberbyunitview"
        search_columns = ["search_key", "unit"]

    class BareMemberApi(ModelRestApi):
        datamodel = SQLAInterface(Member)
        resource_name = "barememberapi"
        page_size = 25
        list_columns = columns

    with app.app_context():
        appbuilder = app.appbuilder
        BareMemberView.edit_columns = [c for c in BareMemberView.edit_columns if hasattr(Member, c)]
        appbuilder.add_view_no_menu(BareMemberView)
        appbuilder.add_view_no_menu(BareMemberByUnitView)
        appbuilder.add_api(BareMemberApi)


def ensure_data(app) -> None:
    """The province preset at N_MEMBERS, built once per database, and the bench's users."""
    from sqlalchemy import func, select

    from webapp.extensions import db
    from webapp.models import Member, Unit

    with app.app_context():
        built = db.session.scalar(select(func.count(Member.id))) if _has_tables(db) else 0
    if built != N_MEMBERS:
        with app.app_context():
            has_units = _has_tables(db) and db.session.scalar(select(func.count(Unit.id)))
        if has_units:
            raise SystemExit(
                f"{app.config['SQLALCHEMY_DATABASE_URI']} holds {built} members, not "
                f"{N_MEMBERS}: drop it (or point BENCH_PAGES_PG_URL elsewhere) to rebuild."
            )
        runner = app.test_cli_runner()
        result = runner.invoke(args=["init", "--admin-password", ADMIN_PASSWORD])
        assert result.exit_code == 0, result.output
        print(f"building the province preset with {N_MEMBERS} members (minutes) …", flush=True)
        started = time.monotonic()
        result = runner.invoke(args=["demo", "--preset", "province", "--members", str(N_MEMBERS)])
        assert result.exit_code == 0, result.output
        print(result.output.strip(), f"({time.monotonic() - started:.0f} s)", flush=True)
    else:
        # Permissions of the bare views (and of any view added since the data was built).
        result = app.test_cli_runner().invoke(args=["init", "--admin-password", ADMIN_PASSWORD])
        assert result.exit_code == 0, result.output
    with app.app_context():
        app.appbuilder.add_permissions(update_perms=True)
        db.session.commit()


def _has_tables(db) -> bool:
    from sqlalchemy import inspect

    return inspect(db.engine).has_table("member")


def setup_world(app) -> dict:
    """The district, its users, a member with history, the page addresses."""
    from sqlalchemy import func, select

    from webapp.cli import create_user
    from webapp.domain.scope import member_clause
    from webapp.domain.vietnamese import fold
    from webapp.extensions import db
    from webapp.models import Member, MemberEvent, Unit

    with app.app_context():
        session = db.session
        district = session.scalar(
            select(Unit)
            .where(Unit.kind == "upper_grassroots_committee", Unit.dissolved_on.is_(None))
            .order_by(Unit.sort_path)
            .limit(1)
        )
        grassroots = session.scalar(
            select(Unit)
            .where(Unit.parent_id == district.id, Unit.dissolved_on.is_(None))
            .order_by(Unit.sort_path)
            .limit(1)
        )
        in_district = member_clause(district.path)
        cell_id = session.scalar(
            select(Member.unit_id)
            .where(in_district)
            .group_by(Member.unit_id)
            .order_by(func.count().desc(), Member.unit_id)
            .limit(1)
        )
        member_id = session.scalar(
            select(MemberEvent.member_id)
            .join(Member, Member.id == MemberEvent.member_id)
            .where(in_district, Member.status == "official")
            .group_by(MemberEvent.member_id)
            .order_by(func.count().desc(), MemberEvent.member_id)
            .limit(1)
        )
        member = session.get(Member, member_id)
        district_members = session.scalar(select(func.count(Member.id)).where(in_district))
        for username, role in (("bench_clerk", "Clerk"), ("bench_leader", "Leader")):
            if app.appbuilder.sm.find_user(username=username) is None:
                create_user(username, role, district.code, USER_PASSWORD)
        from datetime import date

        from webapp.reports.dashboard import compute_dashboard

        for scope in (None, district.path):  # as the nightly job leaves them
            compute_dashboard(scope, date.today().isoformat())
        world = {
            "district_id": district.id,
            "district_code": district.code,
            "grassroots_id": grassroots.id,
            "cell_id": cell_id,
            "member_id": member.id,
            "name": member.birth_name,
            "folded_name": fold(member.birth_name),
            "members": N_MEMBERS,
            "district_members": district_members,
        }
        session.commit()
    return world


# ---------------------------------------------------------------- the pages


def bare_search_index(app) -> int:
    """The index of FAB's "contains" filter on search_key in the bare view."""
    from flask_appbuilder.models.sqla.filters import FilterContains

    view = next(v for v in app.appbuilder.baseviews if type(v).__name__ == "BareMemberView")
    filters = view.datamodel.get_filters(view.search_columns).get_search_filters()
    return next(i for i, f in enumerate(filters["search_key"]) if isinstance(f, FilterContains))


def pages(world: dict, contains: int) -> list[tuple[str, str, str, str | None]]:
    """(name, who, our address, bare FAB's address or None)."""
    from urllib.parse import quote_plus

    ours, bare = "/membermodelview", "/barememberview"
    sort = "_oc_MemberModelView=birth_date&_od_MemberModelView=desc"
    bare_sort = "_oc_BareMemberView=birth_date&_od_BareMemberView=desc"
    admin_deep = world["members"] // 25 // 2
    clerk_deep = max(world["district_members"] // 25 // 2, 1)
    name = quote_plus(world["name"])
    folded = quote_plus(world["folded_name"])
    m = world["member_id"]
    rows = []
    for who, deep in (("admin", admin_deep), ("clerk", clerk_deep)):
        rows += [
            ("member list", who, f"{ours}/list/", f"{bare}/list/"),
            ("list sorted by birth date", who, f"{ours}/list/?{sort}", f"{bare}/list/?{bare_sort}"),
            (
                f"list page {deep}",
                who,
                f"{ours}/list/?page_MemberModelView={deep - 1}",
                f"{bare}/list/?page_BareMemberView={deep - 1}",
            ),
            (
                "list filtered by a cell",
                who,
                f"{ours}/list/?unit={world['cell_id']}",
                f"/barememberbyunitview/list/?_flt_0_unit={world['cell_id']}",
            ),
            (
                "list of a grassroots subtree",
                who,
                f"{ours}/list/?unit={world['grassroots_id']}&subunits=1",
                None,
            ),
            (
                "name search",
                who,
                f"{ours}/list/?_flt_0_search_key={name}",
                f"{bare}/list/?_flt_{contains}_search_key={folded}",
            ),
            ("member detail", who, f"{ours}/show/{m}", f"{bare}/show/{m}"),
            ("edit form", who, f"{ours}/edit/{m}", f"{bare}/edit/{m}"),
            ("unit tree", who, "/unitmodelview/tree", None),
            ("district page", who, f"/unitmodelview/show/{world['district_id']}", None),
            ("home", who, "/", None),
            (
                "REST list",
                who,
                "/api/v1/members/?q=(page_size:25)",
                "/api/v1/barememberapi/?q=(page_size:25)",
            ),
        ]
    rows.append(("dashboard", "admin", "/dashboard/", None))
    rows.append(("dashboard", "leader", "/dashboard/", None))
    # Bare FAB pages are not scoped: they are measured once, as the Admin.
    return rows


def signed_in(app, username: str, password: str):
    client = app.test_client()
    response = client.post("/login/", data={"username": username, "password": password})
    assert response.status_code == 302, (username, response.status_code)
    token = client.post(
        "/api/v1/security/login",
        json={"username": username, "password": password, "provider": "db"},
    ).json["access_token"]
    return client, {"Authorization": f"Bearer {token}"}


def measure(backend: str) -> list[dict]:
    from sqlalchemy import event

    from webapp.extensions import db

    app = make_app(backend)
    ensure_data(app)
    world = setup_world(app)
    contains = bare_search_index(app)
    users = {
        "admin": signed_in(app, "admin", ADMIN_PASSWORD),
        "clerk": signed_in(app, "bench_clerk", USER_PASSWORD),
        "leader": signed_in(app, "bench_leader", USER_PASSWORD),
    }
    statements = [0]
    logged: list[dict] = []
    with app.app_context():
        engine = db.engine

    def count(conn, cursor, statement, parameters, context, executemany):
        statements[0] += 1
        if SQL_LOG:
            logged.append({"sql": " ".join(statement.split())[:400], "from": origin()})

    event.listen(engine, "before_cursor_execute", count)
    if FREEZE_SETUP:
        # The bench's own start-up (the bare views, `init`, the district's users and
        # dashboards) is done after create_app froze its heap: frozen likewise, as a
        # production worker has nothing of it, so that it is not what a full collection
        # during a measured request walks.
        import gc

        gc.collect()
        gc.freeze()
    # (name, who, kind) → samples in ms, statement counts
    plan: list[tuple[tuple[str, str, str], str, str]] = []
    for name, who, url, bare_url in pages(world, contains):
        if ONLY and name not in ONLY:
            continue
        plan.append(((name, who, "ours"), who, url))
        if bare_url and who == "admin":
            plan.append(((name, who, "bare"), "admin", bare_url))
    samples: dict[tuple, list[float]] = {key: [] for key, _, _ in plan}
    counts: dict[tuple, list[int]] = {key: [] for key, _, _ in plan}
    sizes: dict[tuple, int] = {}

    # Full garbage collections: in a measured request (the body not yet received) or
    # after it (the server closing the response, webapp/collector.py), counted.
    import gc

    in_request = [False]
    full_collections = {"during": 0, "after": 0}

    def watch(phase, info):
        if phase == "start" and info["generation"] == 2:
            full_collections["during" if in_request[0] else "after"] += 1

    def get(key, who, url) -> float:
        client, headers = users[who]
        statements[0] = 0
        in_request[0] = True
        start = time.perf_counter()
        response = client.get(url, headers=headers if url.startswith("/api/") else None)
        body = response.data
        elapsed = (time.perf_counter() - start) * 1000
        in_request[0] = False
        # What a server does once the last byte is written; a collection due runs here.
        response.close()
        assert response.status_code == 200, (key, url, response.status_code)
        counts[key].append(statements[0])
        sizes[key] = len(body)
        return elapsed

    sql_log: dict[str, list[dict]] = {}
    for _ in range(WARMUP):
        for key, who, url in plan:
            logged.clear()
            get(key, who, url)
            sql_log[" / ".join(key)] = list(logged)
    if SQL_LOG:
        Path(SQL_LOG).write_text(json.dumps(sql_log, indent=1, ensure_ascii=False))
    for key in counts:
        counts[key].clear()
    print(f"{backend}: {ROUNDS} rounds of {len(plan)} requests …", flush=True)
    gc.callbacks.append(watch)
    for r in range(ROUNDS):
        for key, who, url in plan:
            samples[key].append(get(key, who, url))
        if (r + 1) % 10 == 0:
            print(f"  round {r + 1}/{ROUNDS}", flush=True)
    rows = []
    for key in samples:
        values = sorted(samples[key])
        rows.append(
            {
                "page": key[0],
                "who": key[1],
                "kind": key[2],
                "p50": statistics.median(values),
                "p95": percentile(values, 95),
                "sql": statistics.median(counts[key]),
                "bytes": sizes[key],
            }
        )
    gc.callbacks.remove(watch)
    rows.append({"page": "full collections", "who": "-", "kind": "gc", **full_collections})
    print(
        f"  {world['district_code']}: {world['district_members']} members; "
        f"member {world['member_id']}; full collections during measured requests: "
        f"{full_collections['during']}, after them: {full_collections['after']}",
        flush=True,
    )
    return rows


def origin() -> str:
    """The innermost frames of the project's code (webapp/, templates) that ran a statement."""
    import traceback

    root = str(HERE.parent)
    frames = [
        f"{frame.filename.removeprefix(root + '/')}:{frame.lineno} {frame.name}"
        for frame in traceback.extract_stack()
        if (frame.filename.startswith(root + "/webapp") or frame.filename.endswith(".html"))
    ]
    return " < ".join(reversed(frames[-3:]))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


# ---------------------------------------------------------------- results


def results_for(backend: str, rows: list[dict]) -> list[Result]:
    found = {(r["page"], r["who"], r["kind"]): r for r in rows}
    results = []
    for (page, who, kind), row in found.items():
        if kind == "gc":
            results.append(
                compare(
                    "full garbage collections during measured requests",
                    row["during"],
                    None,
                    backend=backend,
                    n=N_MEMBERS,
                    unit="collections",
                    target=0,
                    target_on="value",
                )
            )
        if kind != "ours":
            continue
        bare = found.get((page, "admin", "bare"))
        label = f"{page} ({who})"
        results.append(
            compare(
                f"{label} p50 ms vs bare FAB",
                row["p50"],
                bare["p50"] if bare else None,
                backend=backend,
                n=N_MEMBERS,
                unit="ms",
                target=TARGET_BARE_RATIO if bare else None,
                target_on="ratio" if bare else None,
            )
        )
        results.append(
            compare(
                f"{label} p95 ms",
                row["p95"],
                bare["p95"] if bare else None,
                backend=backend,
                n=N_MEMBERS,
                unit="ms",
                target=TARGET_P95_MS[backend],
                target_on="value",
            )
        )
        results.append(
            compare(
                f"{label} SQL statements",
                row["sql"],
                bare["sql"] if bare else None,
                backend=backend,
                n=N_MEMBERS,
                unit="statements",
                target=TARGET_SQL,
                target_on="value",
            )
        )
        admin = found.get((page, "admin", "ours"))
        if who != "admin" and admin:
            results.append(
                compare(
                    f"{label} p50 ms vs the Admin's",
                    row["p50"],
                    admin["p50"],
                    backend=backend,
                    n=N_MEMBERS,
                    unit="ms",
                    target=TARGET_CLERK_RATIO,
                    target_on="ratio",
                )
            )
        if page == "unit tree":
            results.append(
                compare(
                    f"{label} HTML kB",
                    row["bytes"] / 1000,
                    None,
                    backend=backend,
                    n=N_MEMBERS,
                    unit="kB",
                    target=200,
                    target_on="value",
                )
            )
    return results


def print_table(backend: str, rows: list[dict]) -> None:
    found = {(r["page"], r["who"], r["kind"]): r for r in rows}
    print(f"\n{backend}: p50/p95 ms, SQL statements (bare FAB in the same rounds)")
    print(
        f"{'page':<34} {'who':<7} {'ours':>12} {'SQL':>5} {'bare FAB':>12} {'SQL':>5} {'ratio':>6}"
    )
    for (page, who, kind), row in found.items():
        if kind == "gc":
            print(f"full collections: {row['during']} during measured requests, {row['after']} after")
        if kind != "ours":
            continue
        bare = found.get((page, "admin", "bare"))
        ours = f"{row['p50']:.0f}/{row['p95']:.0f}"
        bare_text = f"{bare['p50']:.0f}/{bare['p95']:.0f}" if bare else "-"
        ratio = f"{row['p50'] / bare['p50']:.2f}" if bare else "-"
        bare_sql = f"{bare['sql']:.0f}" if bare else "-"
        print(
            f"{page:<34} {who:<7} {ours:>12} {row['sql']:>5.0f} {bare_text:>12} {bare_sql:>5} {ratio:>6}"
        )


def run() -> None:
    backends = os.environ.get("BENCH_PAGES_BACKENDS", "postgresql").split(",")
    results: list[Result] = []
    raw: dict[str, list[dict]] = {}
    for backend in backends:
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            subprocess.run(
                [sys.executable, "-m", "bench.pages", backend, out.name],
                check=True,
                cwd=HERE.parent,
            )
            rows = json.loads(Path(out.name).read_text())
        raw[backend] = rows
        print_table(backend, rows)
        results += results_for(backend, rows)
    write_results("pages", results)
    (HERE / "results" / "pages-raw.json").write_text(json.dumps(raw, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    if len(sys.argv) == 3:
        Path(sys.argv[2]).write_text(json.dumps(measure(sys.argv[1])))
    else:
        run()
