"""Official reports on a province of 100,000 members (PostgreSQL).

Data set: its own database (`dangvien_bench_reports`, or BENCH_REPORTS_DATABASE_URL), so
the shared `dangvien_bench` of the tree benchmark is never rewritten under another run. The
province is built by bench/tree.py's `build` (12 districts, 1,200 grassroots committees,
4,800 cells, 100,000 members) and then given, set-based in SQL, what the reports read:
varied attributes (sex, ethnicity, religion, education, occupation, completeness …), a
ledger (admission and official recognition of everyone; transfers within the province,
temporary transfers, transfers in from outside, admissions in the last two years; 4% more
members who left: death, transfer out, removal, expulsion, resignation), the periods that
ledger implies, a few reversed events, commendations and disciplinary decisions. Exactly
100,000 members are on the rolls today.

Measured, each in the same run as its baseline:
1. the figures of each aggregate report for the whole province (domain functions in
   webapp/domain/report_figures.py) against the same figures in ONE raw SQL statement;
   the two results are compared row by row (CHECK lines);
2. the member list of the province as of today to PDF (platypus, long_table.py) in a
   child process: wall time, pages, peak RSS, progress callbacks; the ratio against the
   same rows drawn directly with platypus SimpleDocTemplate + Table chunks is measured on
   one district (the baseline keeps every flowable in memory), and extrapolated;
3. the same list to XLSX (write-only workbook): time and peak RSS.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import time
from collections import Counter
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import create_engine, select, text

from bench.common import compare, median_seconds, write_results

N_MEMBERS = int(os.environ.get("BENCH_MEMBERS", "100000"))
LEAVERS = N_MEMBERS // 25  # members who left the rolls since 1 January two years ago
DATABASE = "dangvien_bench_reports"
HERE = Path(__file__).resolve().parent
OUT = HERE / ".instance" / "reports"
MOVES_FROM = date(2024, 1, 1)  # movements are spread from here to the build day
DISTRICT = "BN.03"  # the subset on which our PDF is compared with raw platypus


# ---------------------------------------------------------------- data set


def database_url() -> str:
    url = os.environ.get("BENCH_REPORTS_DATABASE_URL")
    if url:
        return url
    socket.create_connection(("127.0.0.1", 5432), timeout=0.5).close()
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DATABASE}"
    admin = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        if not connection.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": DATABASE}
        ):
            connection.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    admin.dispose()
    return url


def create(init: bool):
    os.environ["DATABASE_URL"] = database_url()
    os.environ.setdefault("DANGVIEN_INSTANCE_DIR", str(HERE / ".instance"))
    os.environ.setdefault("SECRET_KEY", "bench-secret-key-long-enough-for-hs256-tokens")
    from webapp import create_app

    app = create_app()
    if init:
        from bench.tree import ADMIN_PASSWORD

        result = app.test_cli_runner().invoke(args=["init", "--admin-password", ADMIN_PASSWORD])
        assert result.exit_code == 0, result.output
    return app


def dataset_ready(session) -> bool:
    if not session.scalar(text("SELECT to_regclass('bench_reports_marker') IS NOT NULL")):
        return False
    counts = session.execute(
        text(
            """SELECT (SELECT count(*) FROM member),
                      (SELECT count(*) FROM member_event WHERE kind = 'transfer_within'),
                      (SELECT count(*) FROM member_commendation),
                      (SELECT count(*) FROM bench_reports_marker)"""
        )
    ).one()
    return counts[0] == N_MEMBERS + LEAVERS and all(counts[1:])


def _catalogue(kind: str) -> list[str]:
    from webapp.domain import catalogue_data

    for value in vars(catalogue_data).values():
        if isinstance(value, catalogue_data.Catalogue) and value.kind == kind:
            return [entry.name for entry in value.entries]
    raise KeyError(kind)


def build(session) -> None:
    """tree.build's province, then attributes, ledger, periods, commendations in SQL."""
    from bench import tree
    from webapp.domain.vietnamese import search_key

    assert tree.N_MEMBERS == N_MEMBERS
    started = time.perf_counter()
    session.execute(text("DROP TABLE IF EXISTS bench_reports_marker"))
    for table in ("member_commendation", "member_discipline", "report_run"):
        session.execute(text(f"DELETE FROM {table}"))
    session.commit()
    tree.build(session)
    print(f"  base province (bench/tree.py build): {time.perf_counter() - started:.0f} s")
    n, today = N_MEMBERS, date.today()
    h = "abs(hashtext(m.id || '/{salt}'))"  # a deterministic pseudo-random number per member

    def run(sql: str, **params) -> None:
        session.execute(text(sql), params)

    # Members who will have left: copies of the first LEAVERS members under new numbers.
    columns = """birth_name, sex, birth_date, birth_date_precision, admitted_on,
        official_on, status, unit_id, sort_key, search_key, ethnicity, religion, away,
        activity, veteran, martyr_family, completeness, version_id, party_age_from"""
    run(
        f"""INSERT INTO member (id, member_number, {columns})
            SELECT id + :n, lpad((id + :n)::text, 6, '0') || 'BN', {columns}
            FROM member WHERE id <= :leavers""",
        n=n,
        leavers=LEAVERS,
    )
    rows = session.execute(
        text("SELECT id, birth_name, member_number FROM member WHERE id > :n"), {"n": n}
    ).all()
    session.execute(
        text("UPDATE member SET search_key = :key WHERE id = :id"),
        [{"id": row.id, "key": search_key(row.birth_name, row.member_number)} for row in rows],
    )

    def pick(values: list[str | None], salt: str) -> str:
        array = "ARRAY[" + ", ".join("NULL" if v is None else f"'{v}'" for v in values) + "]"
        return f"({array}::text[])[1 + {h.format(salt=salt)} % {len(values)}]"

    occupations = _catalogue("occupation")
    run(
        f"""UPDATE member m SET
            sex = CASE WHEN {h.format(salt="sex")} % 100 < 36 THEN 'female' ELSE 'male' END,
            ethnicity = CASE WHEN {h.format(salt="eth")} % 100 < 82 THEN 'Kinh'
                ELSE {pick(["Tày", "Thái", "Mường", "Nùng", "Hmông", "Dao", "Hoa", "Khơ-me"], "eth2")} END,
            religion = CASE WHEN {h.format(salt="rel")} % 100 < 88 THEN 'Không'
                ELSE {pick(["Phật giáo", "Công giáo", "Tin lành", "Cao Đài", None], "rel2")} END,
            general_education = {pick(["12/12", "12/12", "12/12", "12/12", "10/10", "9/12", "7/10", None], "ge")},
            professional_level = {pick(["Chưa qua đào tạo", "Sơ cấp", "Trung cấp", "Cao đẳng", "Đại học", "Đại học", "Đại học", "Thạc sĩ", "Tiến sĩ", None], "pl")},
            political_theory = {pick(["Chưa qua đào tạo", "Sơ cấp", "Sơ cấp", "Trung cấp", "Trung cấp", "Cao cấp", "Cử nhân", None], "pt")},
            occupation = {pick(occupations, "occ")},
            occupation_at_admission = CASE WHEN {h.format(salt="oa")} % 3 = 0
                THEN {pick(occupations, "oa2")} END,
            foreign_languages = {pick(["Tiếng Anh B1", "Tiếng Anh B", "Tiếng Pháp A", "Tiếng Trung A2", None, None], "fl")},
            home_town = 'Xã ' || {pick(["Đông Phong", "Tam Sơn", "Hòa Long", "Phù Chẩn", "Việt Đoàn", "Đại Đồng Thành"], "ht")}
                || ', huyện ' || {pick(["Yên Phong", "Tiên Du", "Quế Võ", "Thuận Thành", "Gia Bình", "Lương Tài"], "ht2")}
                || ', tỉnh Bắc Ninh',
            card_number = lpad((10 + m.id % 90)::text, 2, '0') || '.' || lpad(m.id::text, 6, '0'),
            veteran = {h.format(salt="vet")} % 20 = 0,
            war_invalid = CASE WHEN {h.format(salt="wi")} % 200 = 0 THEN 'Thương binh hạng 3/4' END,
            name_in_use = CASE WHEN {h.format(salt="niu")} % 500 = 0 THEN m.birth_name || ' Anh' END,
            completeness = CASE WHEN {h.format(salt="cp")} % 100 < 55 THEN 'four_page'
                WHEN {h.format(salt="cp")} % 100 < 90 THEN 'one_page' ELSE 'incomplete' END,
            missing_fields = CASE WHEN {h.format(salt="cp")} % 100 < 55 THEN NULL
                WHEN {h.format(salt="cp")} % 100 < 90 THEN 'work_periods, family_relations'
                ELSE 'home_town, citizen_id, current_address, work_periods, family_relations' END,
            -- 2% of the members on the rolls were admitted since 1 January last year; the
            -- others before 2023, so every later movement falls after their recognition.
            admitted_on = CASE WHEN m.id <= :n AND {h.format(salt="new")} % 100 < 2
                THEN CAST(:last_year AS date) + {h.format(salt="nd")} % (:today - CAST(:last_year AS date))
                ELSE (m.birth_date + interval '18 years')::date + {h.format(salt="ad")}
                     % greatest(1, date '2022-12-31' - (m.birth_date + interval '18 years')::date)
                END""",
        n=n,
        today=today,
        last_year=date(today.year - 1, 1, 1),
    )
    run(
        """UPDATE member SET
            official_on = CASE WHEN (admitted_on + interval '1 year')::date <= :today
                          THEN (admitted_on + interval '1 year')::date END,
            party_age_from = admitted_on""",
        today=today,
    )
    run(
        "UPDATE member SET status = CASE WHEN official_on IS NULL THEN 'probationary' "
        "ELSE 'official' END"
    )

    # The plan of each member's history: scenario, move day, second cell.
    run("DROP TABLE IF EXISTS bench_cells")
    run("DROP TABLE IF EXISTS bench_plan")
    run(
        "CREATE TEMP TABLE bench_cells AS SELECT row_number() OVER (ORDER BY id) AS rn, id "
        "FROM unit WHERE kind = 'cell'"
    )
    cells = session.scalar(text("SELECT count(*) FROM bench_cells"))
    run(
        f"""CREATE TEMP TABLE bench_plan AS
            SELECT m.id AS member_id, m.unit_id AS c0, c.id AS c1, m.admitted_on AS a,
                   m.official_on AS o,
                   CAST(:moves_from AS date) + {h.format(salt="md")} % (:today - CAST(:moves_from AS date)) AS md,
                   CASE WHEN m.id > :n THEN
                       CASE WHEN {h.format(salt="lk")} % 100 < 35 THEN 'death'
                            WHEN {h.format(salt="lk")} % 100 < 65 THEN 'transfer_out'
                            WHEN {h.format(salt="lk")} % 100 < 80 THEN 'removal'
                            WHEN {h.format(salt="lk")} % 100 < 88 THEN 'expulsion'
                            ELSE 'resignation' END
                   WHEN m.admitted_on >= CAST(:moves_from AS date) THEN 'none'
                   WHEN {h.format(salt="sc")} % 1000 < 40 THEN 'transfer_within'
                   WHEN {h.format(salt="sc")} % 1000 < 50 THEN 'temporary_host'
                   WHEN {h.format(salt="sc")} % 1000 < 60 THEN 'temporary_away'
                   WHEN {h.format(salt="sc")} % 1000 < 70 THEN 'transfer_in'
                   ELSE 'none' END AS scenario
            FROM member m JOIN bench_cells c ON c.rn = 1 + {h.format(salt="c1")} % :cells""",
        n=n,
        today=today,
        moves_from=MOVES_FROM,
        cells=cells,
    )
    run(
        "UPDATE bench_plan p SET c1 = (SELECT min(id) FROM bench_cells WHERE id <> p.c0) "
        "WHERE c1 = c0"
    )
    run("DELETE FROM member_period")
    run("DELETE FROM member_event")
    run(
        """INSERT INTO member_period (member_id, unit_id, standing, starts_on, ends_on,
                                      host_unit_id, away, activity)
           SELECT member_id, c0, 'probationary', a, o, NULL::int, false, 'normal'
             FROM bench_plan WHERE scenario <> 'transfer_in'
           UNION ALL
           SELECT member_id, c0, 'official', o, CASE WHEN scenario = 'none' THEN NULL ELSE md END,
                  NULL, false, 'normal'
             FROM bench_plan WHERE o IS NOT NULL AND scenario <> 'transfer_in'
           UNION ALL
           SELECT member_id, c1, 'official', md, NULL, NULL, false, 'normal'
             FROM bench_plan WHERE scenario = 'transfer_within'
           UNION ALL
           SELECT member_id, c0, 'official', md, NULL, c1, false, 'normal'
             FROM bench_plan WHERE scenario = 'temporary_host'
           UNION ALL
           SELECT member_id, c0, 'official', md, NULL, NULL, true, 'normal'
             FROM bench_plan WHERE scenario = 'temporary_away'
           UNION ALL
           SELECT member_id, c0, 'official', md, NULL, NULL, false, 'normal'
             FROM bench_plan WHERE scenario = 'transfer_in'"""
    )
    # Where Party age starts during each period (migration 0009): the admission, as no
    # member here had an interruption; NULL while probationary.
    has_column = session.scalar(
        text(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_name = 'member_period' AND column_name = 'party_age_from'"
        )
    )
    if has_column:
        run(
            """UPDATE member_period p SET party_age_from = m.admitted_on FROM member m
               WHERE m.id = p.member_id AND p.standing = 'official'"""
        )
    run(
        """INSERT INTO member_event (member_id, kind, effective_on, decision_number,
                                     to_unit_id, from_unit_id, other_organisation,
                                     arriving_as, note)
           SELECT member_id, 'admission', a, 'KN-' || member_id, c0, NULL::int, NULL::text,
                  NULL::text, NULL::text
             FROM bench_plan WHERE scenario <> 'transfer_in'
           UNION ALL
           SELECT member_id, 'official_recognition', o, 'CT-' || member_id, NULL, NULL, NULL,
                  NULL, NULL
             FROM bench_plan WHERE o IS NOT NULL AND scenario <> 'transfer_in'
           UNION ALL
           SELECT member_id, 'transfer_within', md, 'CS-' || member_id, c1, c0, NULL, NULL, NULL
             FROM bench_plan WHERE scenario = 'transfer_within'
           UNION ALL
           SELECT member_id, 'temporary_transfer', md, 'TT-' || member_id,
                  CASE WHEN scenario = 'temporary_host' THEN c1 END, c0,
                  CASE WHEN scenario = 'temporary_away' THEN 'Đảng bộ Khối cơ quan tỉnh Bắc Giang' END,
                  NULL, NULL
             FROM bench_plan WHERE scenario IN ('temporary_host', 'temporary_away')
           UNION ALL
           SELECT member_id, 'transfer_in', md, 'TD-' || member_id, c0, NULL,
                  'Đảng bộ tỉnh Lạng Sơn', 'official', NULL
             FROM bench_plan WHERE scenario = 'transfer_in'
           UNION ALL
           SELECT member_id, scenario, md, 'QĐ-' || member_id, NULL, c0,
                  CASE WHEN scenario = 'transfer_out' THEN 'Đảng bộ Thành phố Hà Nội' END, NULL,
                  CASE scenario WHEN 'death' THEN 'Từ trần do bệnh'
                                WHEN 'removal' THEN 'Bỏ sinh hoạt đảng 3 tháng'
                                WHEN 'expulsion' THEN 'Vi phạm tư cách đảng viên'
                                WHEN 'resignation' THEN 'Hoàn cảnh gia đình' END
             FROM bench_plan WHERE scenario IN ('death', 'transfer_out', 'removal',
                                                'expulsion', 'resignation')"""
    )
    # A few events entered by mistake and reversed (they must change nothing).
    run(
        """INSERT INTO member_event (member_id, kind, effective_on, from_unit_id, note)
            SELECT member_id, 'death', md, c0, 'ghi nhầm' FROM bench_plan
            WHERE scenario = 'none' AND abs(hashtext(member_id || '/rv')) % 1000 = 0"""
    )
    run(
        """INSERT INTO member_event (member_id, kind, effective_on, reverses_id, note)
           SELECT member_id, 'reversal', effective_on, id, 'hủy sự kiện ghi nhầm'
           FROM member_event WHERE note = 'ghi nhầm'"""
    )
    run(
        """UPDATE member m SET
             unit_id = CASE WHEN p.scenario = 'transfer_within' THEN p.c1 ELSE m.unit_id END,
             host_unit_id = CASE WHEN p.scenario = 'temporary_host' THEN p.c1 END,
             away = p.scenario = 'temporary_away',
             status = CASE p.scenario WHEN 'death' THEN 'deceased'
                                      WHEN 'transfer_out' THEN 'transferred_out'
                                      WHEN 'removal' THEN 'left' WHEN 'expulsion' THEN 'left'
                                      WHEN 'resignation' THEN 'left' ELSE m.status END
           FROM bench_plan p WHERE p.member_id = m.id AND p.scenario <> 'none'"""
    )
    commendations = [
        name
        for name in _catalogue("commendation_form")
        if not name.startswith(("Huân chương Sao vàng", "Huân chương Hồ Chí Minh"))
    ]
    run(
        f"""INSERT INTO member_commendation (member_id, awarded_on, form, level,
                                             decision_number, reason)
            SELECT m.id, date '2023-01-01' + {h.format(salt="ca")} % (:today - date '2023-01-01'),
                   {pick(commendations, "cf")},
                   {pick(["Tỉnh ủy", "Huyện ủy", "Đảng ủy xã", "Chủ tịch UBND tỉnh", None], "cl")},
                   ({h.format(salt="cn")} % 900 + 100)::text || '-QĐ/TU',
                   'Hoàn thành xuất sắc nhiệm vụ'
            FROM member m WHERE {h.format(salt="c")} % 100 < 15""",
        today=today,
    )
    run(
        f"""INSERT INTO member_discipline (member_id, decided_on, form, level,
                                           decision_number, reason)
            SELECT m.id, date '2023-01-01' + {h.format(salt="da")} % (:today - date '2023-01-01'),
                   {pick(["Khiển trách", "Khiển trách", "Cảnh cáo", "Cách chức"], "df")},
                   {pick(["Ủy ban Kiểm tra Tỉnh ủy", "Huyện ủy", "Chi bộ"], "dl")},
                   ({h.format(salt="dn")} % 900 + 100)::text || '-QĐ/UBKT',
                   'Vi phạm quy định về những điều đảng viên không được làm'
            FROM member m WHERE {h.format(salt="d")} % 1000 < 15""",
        today=today,
    )
    run("CREATE TABLE bench_reports_marker (built_on date)")
    run("INSERT INTO bench_reports_marker VALUES (:today)", today=today)
    session.commit()
    session.execute(text("ANALYZE"))
    session.commit()
    print(f"  data set built in {time.perf_counter() - started:.0f} s")


def describe(session) -> dict[str, int]:
    day = date.today()
    row = session.execute(
        text(
            """SELECT (SELECT count(*) FROM member) AS members,
                      (SELECT count(*) FROM unit) AS units,
                      (SELECT count(*) FROM member_period WHERE starts_on <= :day
                         AND (ends_on IS NULL OR ends_on > :day)) AS on_rolls,
                      (SELECT count(*) FROM member_event) AS events,
                      (SELECT count(*) FROM member_period) AS periods,
                      (SELECT count(*) FROM member_commendation) AS commendations,
                      (SELECT count(*) FROM member_discipline) AS disciplines"""
        ),
        {"day": day},
    ).one()
    figures = dict(row._mapping)
    kinds = session.execute(
        text("SELECT kind, count(*) FROM member_event GROUP BY kind ORDER BY 2 DESC")
    ).all()
    figures["events_by_kind"] = {kind: count for kind, count in kinds}
    return figures


# ---------------------------------------------------------------- raw SQL baselines

SUBTREE = """sub AS (
    SELECT u.id, u.path,
           CASE WHEN u.id = :root THEN :root
                ELSE split_part(substr(u.path, length(:rpath) + 1), '/', 1)::int END AS grp
    FROM unit u WHERE u.path LIKE :rpath || '%')"""

RAW_INCREASE_DECREASE = text(
    f"""WITH {SUBTREE},
ev AS (SELECT e.member_id, e.kind, e.effective_on FROM member_event e
       WHERE NOT EXISTS (SELECT 1 FROM member_event r WHERE r.reverses_id = e.id))
SELECT grp, key, count(*) FROM (
  SELECT s.grp, 'opening' AS key FROM member_period p JOIN sub s ON s.id = p.unit_id
   WHERE p.starts_on <= :before AND (p.ends_on IS NULL OR p.ends_on > :before)
  UNION ALL
  SELECT s.grp, 'closing' FROM member_period p JOIN sub s ON s.id = p.unit_id
   WHERE p.starts_on <= :end AND (p.ends_on IS NULL OR p.ends_on > :end)
  UNION ALL
  SELECT s.grp, 'in/' || CASE WHEN e.kind IS NULL THEN 'other' ELSE e.kind END
    FROM member_period p JOIN sub s ON s.id = p.unit_id
    LEFT JOIN ev e ON e.member_id = p.member_id AND e.effective_on = p.starts_on
         AND e.kind IN ('admission', 'readmission', 'transfer_in', 'restoration')
   WHERE p.starts_on BETWEEN :start AND :end
     AND NOT EXISTS (SELECT 1 FROM member_period o
                     WHERE o.member_id = p.member_id AND o.ends_on = p.starts_on)
  UNION ALL
  SELECT s.grp, 'out/' || CASE WHEN e.kind IS NULL THEN 'other' ELSE e.kind END
    FROM member_period p JOIN sub s ON s.id = p.unit_id
    LEFT JOIN ev e ON e.member_id = p.member_id AND e.effective_on = p.ends_on
         AND e.kind IN ('death', 'removal', 'not_recognised', 'expulsion', 'resignation',
                        'transfer_out')
   WHERE p.ends_on BETWEEN :start AND :end
     AND NOT EXISTS (SELECT 1 FROM member_period o
                     WHERE o.member_id = p.member_id AND o.starts_on = p.ends_on)
  UNION ALL
  SELECT x.grp, x.key FROM (
    SELECT sb.grp AS from_grp, sa.grp AS to_grp FROM member_period b
      JOIN member_period a ON a.member_id = b.member_id AND a.starts_on = b.ends_on
                          AND a.unit_id <> b.unit_id
      LEFT JOIN sub sb ON sb.id = b.unit_id LEFT JOIN sub sa ON sa.id = a.unit_id
     WHERE a.starts_on BETWEEN :start AND :end AND (sb.id IS NOT NULL OR sa.id IS NOT NULL)
       AND sa.grp IS DISTINCT FROM sb.grp) m
  CROSS JOIN LATERAL (VALUES (m.from_grp, 'out/transfer_within'),
                             (m.to_grp, 'in/transfer_within')) AS x(grp, key)
  WHERE x.grp IS NOT NULL
  UNION ALL
  SELECT s.grp, 'memo/official_recognition' FROM member_period p
    JOIN sub s ON s.id = p.unit_id
    JOIN ev e ON e.member_id = p.member_id AND e.effective_on = p.starts_on
             AND e.kind = 'official_recognition'
   WHERE p.starts_on BETWEEN :start AND :end
  UNION ALL
  SELECT x.grp, x.key FROM (
    SELECT sh.grp AS home, st.grp AS host FROM member_period b
      JOIN member_period a ON a.member_id = b.member_id AND a.starts_on = b.ends_on
           AND a.unit_id = b.unit_id AND b.host_unit_id IS NULL AND NOT b.away
           AND (a.host_unit_id IS NOT NULL OR a.away)
      LEFT JOIN sub sh ON sh.id = a.unit_id LEFT JOIN sub st ON st.id = a.host_unit_id
     WHERE a.starts_on BETWEEN :start AND :end AND (sh.id IS NOT NULL OR st.id IS NOT NULL)
       AND sh.grp IS DISTINCT FROM st.grp) t
  CROSS JOIN LATERAL (VALUES (t.home, 'memo/temporary_out'),
                             (t.host, 'memo/temporary_in')) AS x(grp, key)
  WHERE x.grp IS NOT NULL
) figures GROUP BY grp, key"""
)


def raw_quality(as_of: date):
    """One statement: every dimension of every member on the rolls, counted per group."""
    from webapp.domain.party_age import add_years
    from webapp.domain.report_figures import (
        AGE_BANDS,
        AGE_OVER,
        NOT_DECLARED,
        PARTY_AGE_BANDS,
        PARTY_AGE_OVER,
        PROBATIONARY,
    )

    params = {"not_declared": NOT_DECLARED, "age_over": AGE_OVER, "probationary": PROBATIONARY}
    params["party_age_over"] = PARTY_AGE_OVER
    age, party_age = [], []
    for index, (limit, label) in enumerate(AGE_BANDS):
        params[f"age_{index}"], params[f"age_label_{index}"] = add_years(as_of, -(limit + 1)), label
        age.append(f"WHEN m.birth_date > :age_{index} THEN :age_label_{index}")
    for index, (limit, label) in enumerate(PARTY_AGE_BANDS):
        params[f"pa_{index}"], params[f"pa_label_{index}"] = add_years(as_of, -limit), label
        party_age.append(f"WHEN p.party_age_from > :pa_{index} THEN :pa_label_{index}")
    declared = "coalesce(nullif(m.{0}, ''), :not_declared)"
    statement = text(
        f"""WITH {SUBTREE}
SELECT s.grp, d.dim, d.cat, count(*)
FROM member_period p JOIN member m ON m.id = p.member_id JOIN sub s ON s.id = p.unit_id
CROSS JOIN LATERAL (VALUES
    ('total', 'n'),
    ('sex', {declared.format("sex")}),
    ('age', CASE {" ".join(age)} ELSE :age_over END),
    ('ethnicity', {declared.format("ethnicity")}),
    ('religion', {declared.format("religion")}),
    ('general_education', {declared.format("general_education")}),
    ('professional_level', {declared.format("professional_level")}),
    ('political_theory', {declared.format("political_theory")}),
    ('occupation', {declared.format("occupation")}),
    ('party_age', CASE WHEN p.standing = 'probationary' THEN :probationary
                       WHEN p.party_age_from IS NULL THEN :not_declared
                       {" ".join(party_age)} ELSE :party_age_over END)
) AS d(dim, cat)
WHERE p.starts_on <= :day AND (p.ends_on IS NULL OR p.ends_on > :day)
GROUP BY s.grp, d.dim, d.cat"""
    )
    return statement, params


def _record_branch(kind: str, table: str, day: str) -> str:
    return f"""SELECT s.grp, g.code AS group_code, '{kind}' AS kind,
           coalesce(m.name_in_use, m.birth_name) AS member_name, m.member_number,
           u.name AS unit_name, r.{day} AS day, r.form, coalesce(r.level, '') AS level,
           coalesce(r.decision_number, '') AS decision_number,
           coalesce(r.reason, '') AS reason, count(*) OVER (PARTITION BY r.form) AS form_count,
           u.code, m.sort_key, r.id
    FROM {table} r JOIN member m ON m.id = r.member_id
    JOIN member_period p ON p.member_id = r.member_id AND p.starts_on <= r.{day}
         AND (p.ends_on IS NULL OR p.ends_on > r.{day})
    JOIN sub s ON s.id = p.unit_id JOIN unit u ON u.id = p.unit_id JOIN unit g ON g.id = s.grp
    WHERE r.{day} BETWEEN :start AND :end"""


RAW_COMMENDATIONS = text(
    f"""WITH {SUBTREE}
SELECT * FROM ({_record_branch("commendation", "member_commendation", "awarded_on")}
               UNION ALL
               {_record_branch("discipline", "member_discipline", "decided_on")}) lines
ORDER BY grp <> :root, group_code, kind, code, day, sort_key, id"""
)

RAW_COMPLETENESS = text(
    f"""WITH {SUBTREE},
base AS (SELECT s.grp, m.id, m.completeness, m.sort_key, m.member_number, m.missing_fields,
                coalesce(m.name_in_use, m.birth_name) AS member_name, u.name AS unit_name,
                u.code
         FROM member m JOIN sub s ON s.id = m.unit_id JOIN unit u ON u.id = m.unit_id
         WHERE m.status IN ('probationary', 'official'))
SELECT 0 AS part, grp, completeness, count(*) AS n, NULL AS unit_name, NULL AS member_name,
       NULL AS member_number, NULL AS missing, NULL AS code, NULL AS sort_key, NULL AS id
  FROM base GROUP BY grp, completeness
UNION ALL
SELECT 1, grp, completeness, NULL, unit_name, member_name, member_number,
       coalesce(missing_fields, ''), code, sort_key, id
  FROM base WHERE completeness <> 'four_page'
ORDER BY part, code, sort_key, id"""
)


# ---------------------------------------------------------------- checks

checks: list[str] = []


def check(name: str, ours, theirs) -> None:
    if ours == theirs:
        checks.append(f"CHECK {name}: ok")
    else:
        if isinstance(ours, dict) and isinstance(theirs, dict):
            keys = sorted(set(ours) | set(theirs), key=str)
            diff = [(k, ours.get(k), theirs.get(k)) for k in keys if ours.get(k) != theirs.get(k)]
            detail = f"{len(diff)} differences, first: {diff[:6]}"
        elif isinstance(ours, list) and isinstance(theirs, list):
            first = next(
                (i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b),
                min(len(ours), len(theirs)),
            )
            detail = (
                f"{len(ours)} vs {len(theirs)} lines; first difference at {first}: "
                f"{ours[first] if first < len(ours) else None} vs "
                f"{theirs[first] if first < len(theirs) else None}"
            )
        else:
            detail = f"{ours!r} vs {theirs!r}"
        checks.append(f"CHECK {name}: MISMATCH {detail}")
    print(checks[-1])


def _nonzero(mapping: dict) -> dict:
    return {key: value for key, value in mapping.items() if value}


# ---------------------------------------------------------------- child processes


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM). Not ru_maxrss: on Linux that survives exec and
    starts at the parent's RSS when the child was spawned."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def compressing_canvas():
    """A reportlab canvas that compresses each page's content stream when the page is
    finished. Stock reportlab keeps every page's uncompressed stream (a str) until save(),
    so the memory of a long document grows with its page count."""
    from reportlab.pdfbase.pdfdoc import PDFArray, PDFName, PDFStream, PDFZCompress
    from reportlab.pdfgen.canvas import Canvas

    class CompressingCanvas(Canvas):
        def showPage(self):
            super().showPage()
            page = self._doc.Pages.pages[-1]
            if getattr(page, "stream", None) and not page.Contents and page.compression:
                contents = PDFStream(content=PDFZCompress.encode(page.stream))
                contents.dictionary["Filter"] = PDFArray([PDFName(PDFZCompress.pdfname)])
                contents.__Comment__ = "page stream"
                page.Contents = contents
                page.stream = None

    return CompressingCanvas


def apply_experiments(names: list[str]) -> None:
    """Bench-only patches (product code unchanged) that measure a suggested fix:
    `compress` = now the product's own behaviour (kept so old mode strings still parse);
    `chunkN` = N rows per table chunk (gone: pages hold as many rows as fit);
    `plainempty` = empty cells as plain "" rather than empty Paragraphs."""

    from webapp.reports import long_table

    for name in names:
        if name == "compress":
            pass  # the product compresses each page since long_table.CompressingCanvas
        elif name == "plainempty":
            # Empty cells as "" instead of an empty Paragraph (nothing to wrap or draw).
            paragraph = long_table.Paragraph

            def cell(text, *args, paragraph=paragraph, **kwargs):
                return "" if text == "" else paragraph(text, *args, **kwargs)

            long_table.Paragraph = cell
        elif name.startswith("chunk"):
            # Tables are no longer cut into chunks: each page holds one table of as many
            # rows as fit (long_table.PagedTable).
            raise ValueError(f"{name}: there are no chunks to size any more")
        else:
            raise ValueError(name)


def child(mode: str, unit_code: str, path: str) -> None:
    """Run one render in this (fresh) process and print its figures as the last line.
    mode: pdf | xlsx | baseline-pdf, optionally with +experiments (pdf+plainempty)."""
    mode, *experiments = mode.split("+")
    app = create(init=False)
    from webapp.extensions import db
    from webapp.models.unit import Unit
    from webapp.reports.member_list import left_rows

    apply_experiments(experiments)
    from webapp.reports import member_list

    with app.app_context():
        session = db.session
        unit = session.scalar(select(Unit).where(Unit.code == unit_code))
        as_of = date.today()
        rss_before = peak_rss_mb()
        progress: list[tuple[float, int]] = []
        start = time.perf_counter()

        def report(percent: int) -> None:
            progress.append((time.perf_counter() - start, percent))

        if mode == "baseline-pdf":
            rows, drawn = baseline_pdf(session, unit, as_of, Path(path))
            elapsed = time.perf_counter() - start
        elif mode.startswith("report="):  # another report: report=NAME=pdf|xlsx
            from webapp.reports import REPORTS

            _, name, output_format = mode.split("=")
            spec = REPORTS[name]
            parameters = (
                {
                    "from": date(as_of.year - 1, 1, 1).isoformat(),
                    "to": date(as_of.year - 1, 12, 31).isoformat(),
                }
                if spec.period == "period"
                else {"as_of": as_of.isoformat()}
            )
            rows = spec.render(session, unit, parameters, output_format, Path(path), report)
            elapsed = time.perf_counter() - start
            drawn = rows
        else:
            parameters = {"as_of": as_of.isoformat()}
            rows = member_list.render(session, unit, parameters, mode, Path(path), report)
            elapsed = time.perf_counter() - start
            drawn = rows + len(left_rows(session, unit, as_of).all())
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "rows": rows,
                "drawn_rows": drawn,
                "max_rss_mb": peak_rss_mb(),
                "rss_before_mb": rss_before,
                "progress_calls": len(progress),
                "first_progress_s": progress[0][0] if progress else None,
                "largest_gap_s": max(
                    (b[0] - a[0] for a, b in zip(progress, progress[1:], strict=False)),
                    default=None,
                ),
                "progress_values": sorted({p for _, p in progress}),
            }
        )
    )


def baseline_pdf(session, unit, as_of: date, path: Path) -> int:
    """The same rows and 14 columns of text drawn directly: SimpleDocTemplate + Table chunks
    of Paragraphs (wrapping is needed at these widths), every flowable built up front; no
    official heading, no group rows, no streaming."""
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import cm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

    from webapp.reports.document import format_cell
    from webapp.reports.long_table import FONT, register_fonts
    from webapp.reports.member_list import (
        COLUMNS,
        _left_values,
        _on_rolls_values,
        left_rows,
        on_rolls_rows,
    )

    register_fonts()
    style = ParagraphStyle("cell", fontName=FONT, fontSize=7.5, leading=9)
    page = landscape(A4)
    width = page[0] - 2.7 * cm
    weight = sum(column.width for column in COLUMNS)
    widths = [width * column.width / weight for column in COLUMNS]
    header = [Paragraph(escape(column.title), style) for column in COLUMNS]
    grid = TableStyle(  # the same grid and paddings as long_table.py, so rows wrap alike
        [
            ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 2),
            ("RIGHTPADDING", (0, 0), (-1, -1), 2),
            ("TOPPADDING", (0, 0), (-1, -1), 1.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
        ]
    )
    story, chunk, number, on_rolls = [], [], 0, 0

    def cells(values):
        return [
            Paragraph(escape(format_cell(value, column.kind)).replace("\n", "<br/>"), style)
            for value, column in zip(values, COLUMNS, strict=False)
        ]

    for rows, values in (
        (on_rolls_rows(session, unit, as_of), _on_rolls_values),
        (left_rows(session, unit, as_of), _left_values),
    ):
        on_rolls = number
        for row in rows:
            number += 1
            chunk.append(cells(values(number, row)))
            if len(chunk) == 60:
                story.append(Table([header, *chunk], colWidths=widths, repeatRows=1, style=grid))
                chunk = []
    if chunk:
        story.append(Table([header, *chunk], colWidths=widths, repeatRows=1, style=grid))
    SimpleDocTemplate(
        str(path),
        pagesize=page,
        leftMargin=1.5 * cm,
        rightMargin=1.2 * cm,
        topMargin=1.5 * cm,
        bottomMargin=1.8 * cm,
    ).build(story)
    return on_rolls, number


def in_child(mode: str, unit_code: str, path: Path, timeout: float = 1500) -> dict:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    started = time.perf_counter()
    process = subprocess.run(
        [sys.executable, "-m", "bench.reports", "child", mode, unit_code, str(path)],
        cwd=HERE.parent,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if process.returncode != 0:
        raise RuntimeError(f"child {mode} {unit_code} failed:\n{process.stderr[-4000:]}")
    figures = json.loads(process.stdout.strip().splitlines()[-1])
    figures["process_seconds"] = time.perf_counter() - started
    figures["bytes"] = path.stat().st_size
    if path.suffix == ".pdf":
        from pypdf import PdfReader

        figures["pages"] = len(PdfReader(str(path)).pages)
    print(f"  {mode} {unit_code}: {json.dumps(figures, ensure_ascii=False)}")
    return figures


# ---------------------------------------------------------------- the benchmark

EXPERIMENT_INDEX = "bench_experiment_member_event_reverses"


@contextmanager
def reversal_index():
    """Experiment: the index on member_event.reverses_id that the schema lacks, created in
    this benchmark's own database for the duration of a measurement, then dropped."""
    engine = create_engine(database_url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(
            text(f"CREATE INDEX IF NOT EXISTS {EXPERIMENT_INDEX} ON member_event (reverses_id)")
        )
        connection.execute(text("ANALYZE member_event"))
    try:
        yield
    finally:
        with engine.connect() as connection:
            connection.execute(text(f"DROP INDEX IF EXISTS {EXPERIMENT_INDEX}"))
            connection.execute(text("ANALYZE member_event"))
        engine.dispose()


def run() -> None:
    app = create(init=True)
    from webapp.domain.report_figures import (
        DIMENSIONS,
        commendations_and_discipline,
        completeness_by_group,
        increase_decrease,
        quality,
    )
    from webapp.extensions import db
    from webapp.models import Unit

    results = []
    with app.app_context():
        session = db.session
        session.execute(text(f"DROP INDEX IF EXISTS {EXPERIMENT_INDEX}"))  # a killed run's
        session.commit()
        if not dataset_ready(session):
            print(f"building the reports data set ({N_MEMBERS} members + {LEAVERS} who left) …")
            build(session)
        backend = session.get_bind().dialect.name
        data = describe(session)
        print(f"data set: {json.dumps(data, ensure_ascii=False)}")
        root = session.scalar(select(Unit).where(Unit.parent_id.is_(None), Unit.code == "BN"))
        connection = session.connection()
        today = date.today()
        start, end = date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)
        tree = {"root": root.id, "rpath": root.path}
        n = data["on_rolls"]

        def timed(name, ours, raw, *, repeat=5):
            ours_s = median_seconds(ours, repeat=repeat, warmup=1)
            raw_s = median_seconds(raw, repeat=repeat, warmup=1)
            results.append(
                compare(
                    f"{name}: figures (s)",
                    ours_s,
                    None,
                    backend=backend,
                    n=n,
                    target=1,
                    target_on="value",
                )
            )
            results.append(
                compare(
                    f"{name}: ours vs one raw SQL statement",
                    ours_s,
                    raw_s,
                    backend=backend,
                    n=n,
                    target=3,
                    target_on="ratio",
                )
            )
            print(
                f"  {name}: ours {ours_s:.3f} s, one raw SQL statement {raw_s:.3f} s, "
                f"ratio {ours_s / raw_s:.2f}"
            )

        # 1. increase / decrease, last calendar year
        params = {**tree, "start": start, "end": end, "before": start - timedelta(days=1)}
        lines = increase_decrease(session, root, start, end)
        ours = Counter()
        for line in lines[:-1]:
            gid = line.group.unit_id
            ours[(gid, "opening")] += line.opening
            ours[(gid, "closing")] += line.closing
            for prefix, counter in (
                ("in", line.increases),
                ("out", line.decreases),
                ("memo", line.memo),
            ):
                for key, count in counter.items():
                    ours[(gid, f"{prefix}/{key}")] += count
        raw = {(g, k): c for g, k, c in connection.execute(RAW_INCREASE_DECREASE, params)}
        check("increase_decrease per group = raw SQL", _nonzero(ours), _nonzero(raw))
        total = lines[-1]
        check(
            "increase_decrease total reconciles (opening + in - out = closing)",
            (
                total.opening,
                total.increase_total,
                total.decrease_total,
                total.closing,
                all(line.reconciles for line in lines),
            ),
            (
                total.opening,
                total.increase_total,
                total.decrease_total,
                total.opening + total.increase_total - total.decrease_total,
                True,
            ),
        )
        print(
            f"  increase/decrease {start}..{end}: opening {total.opening}, "
            f"+{dict(total.increases)}, -{dict(total.decreases)}, closing {total.closing}, "
            f"memo {dict(total.memo)}"
        )
        timed(
            f"increase_decrease {start.year}, province",
            lambda: increase_decrease(session, root, start, end),
            lambda: connection.execute(RAW_INCREASE_DECREASE, params).all(),
        )

        # 2. quality as of today
        statement, qparams = raw_quality(today)
        qparams.update(tree, day=today)
        figures = quality(session, root, today)
        ours = {(g, "total", "n"): c for g, c in figures.totals.items()}
        for dimension in DIMENSIONS:
            for category, by_group in figures.counts[dimension.key].items():
                for g, c in by_group.items():
                    ours[(g, dimension.key, category)] = c
        raw = {(g, d, c): k for g, d, c, k in connection.execute(statement, qparams)}
        check("quality per group and category = raw SQL", _nonzero(ours), _nonzero(raw))
        timed(
            "quality as of today, province",
            lambda: quality(session, root, today),
            lambda: connection.execute(statement, qparams).all(),
        )

        # 3. commendations and discipline, last calendar year
        cparams = {**tree, "start": start, "end": end}
        groups, record_lines, counts = commendations_and_discipline(session, root, start, end)
        raw_rows = connection.execute(RAW_COMMENDATIONS, cparams).all()
        check(
            "commendation/discipline lines = raw SQL (same order)",
            [
                (
                    r.group_id,
                    r.kind,
                    r.member_name,
                    r.member_number,
                    r.unit_name,
                    r.decided_on,
                    r.form,
                    r.level,
                    r.decision_number,
                    r.reason,
                )
                for r in record_lines
            ],
            [
                (
                    r.grp,
                    r.kind,
                    r.member_name,
                    r.member_number,
                    r.unit_name,
                    r.day,
                    r.form,
                    r.level,
                    r.decision_number,
                    r.reason,
                )
                for r in raw_rows
            ],
        )
        raw_counts = {(r.kind, r.form): r.form_count for r in raw_rows}
        check(
            "commendation/discipline counts by form = raw SQL",
            {(kind, form): c for kind, counter in counts.items() for form, c in counter.items()},
            raw_counts,
        )
        print(
            f"  commendations {sum(counts['commendation'].values())}, "
            f"disciplines {sum(counts['discipline'].values())} in {start.year}"
        )
        timed(
            f"commendations_and_discipline {start.year}, province",
            lambda: commendations_and_discipline(session, root, start, end),
            lambda: connection.execute(RAW_COMMENDATIONS, cparams).all(),
        )

        # 4. completeness by group (counts and the list of records not 4-page)
        groups, counts, incomplete = completeness_by_group(session, root)
        raw_rows = connection.execute(RAW_COMPLETENESS, tree).all()
        check(
            "completeness counts = raw SQL",
            {(g, level): c for g, counter in counts.items() for level, c in counter.items()},
            {(r.grp, r.completeness): r.n for r in raw_rows if r.part == 0},
        )
        check(
            "completeness incomplete list = raw SQL (same order)",
            [
                (
                    r.group_id,
                    r.unit_name,
                    r.member_name,
                    r.member_number,
                    r.completeness,
                    r.missing_fields,
                )
                for r in incomplete
            ],
            [
                (r.grp, r.unit_name, r.member_name, r.member_number, r.completeness, r.missing)
                for r in raw_rows
                if r.part == 1
            ],
        )
        print(f"  completeness: {len(incomplete)} records not 4-page")
        timed(
            "completeness_by_group, province",
            lambda: completeness_by_group(session, root),
            lambda: connection.execute(RAW_COMPLETENESS, tree).all(),
            repeat=3,
        )
        session.commit()

        # The member list's row query alone (no drawing): as is, and with the index on
        # member_event.reverses_id that its "not reversed" subqueries need.
        from webapp.reports.member_list import on_rolls_rows

        district = session.scalar(select(Unit).where(Unit.code == DISTRICT))

        def fetch(unit) -> tuple[float, int]:
            started = time.perf_counter()
            count = len(on_rolls_rows(session, unit, today).all())
            elapsed = time.perf_counter() - started
            session.commit()
            return elapsed, count

        as_is, count_d = fetch(district)
        with reversal_index():
            indexed, _ = fetch(district)
            indexed_full, count_full = fetch(root)
        print(
            f"  member list query, {DISTRICT}: {as_is:.1f} s as is, {indexed:.2f} s with "
            f"the index; province with the index: {indexed_full:.2f} s"
        )
        results.append(
            compare(
                f"member list row query, district {DISTRICT} ({count_d} rows): as is vs "
                "with an index on member_event.reverses_id (experiment)",
                as_is,
                indexed,
                backend=backend,
                n=count_d,
            )
        )
        results.append(
            compare(
                f"member list row query, province ({count_full} rows), with the index (experiment)",
                indexed_full,
                None,
                backend=backend,
                n=count_full,
            )
        )

    if os.environ.get("BENCH_REPORTS_PARTS", "all") == "aggregates":
        write_results("reports", results)
        return

    # 5. member list PDF: district (ours vs raw platypus), then the whole province.
    OUT.mkdir(parents=True, exist_ok=True)
    experiments = os.environ.get("BENCH_REPORTS_EXPERIMENTS", "district")
    print("member list renders (child processes) …")
    ours_d = in_child("pdf", DISTRICT, OUT / f"list-{DISTRICT}.pdf")
    base_d = in_child("baseline-pdf", DISTRICT, OUT / f"baseline-{DISTRICT}.pdf")
    rows_d = ours_d["drawn_rows"]
    results.append(
        compare(
            f"member list PDF, district {DISTRICT} ({rows_d} rows, {ours_d['pages']} pages): "
            "ours vs raw platypus",
            ours_d["seconds"],
            base_d["seconds"],
            backend=backend,
            n=rows_d,
        )
    )
    results.append(
        compare(
            f"member list PDF, district {DISTRICT}: peak RSS ours vs raw platypus (MB)",
            ours_d["max_rss_mb"],
            base_d["max_rss_mb"],
            unit="MB",
            backend=backend,
            n=rows_d,
        )
    )
    if experiments in ("district", "full"):
        # Suggested fixes, patched in the child only (product code unchanged); "index" is
        # the missing index on member_event.reverses_id, created for the measurement only.
        for mode in ("pdf+compress", "pdf+plainempty", "pdf(index)"):
            if mode == "pdf(index)":
                with reversal_index():
                    trial = in_child("pdf", DISTRICT, OUT / f"list-{DISTRICT}-index.pdf")
            else:
                trial = in_child(mode, DISTRICT, OUT / f"list-{DISTRICT}-{mode[4:]}.pdf")
            results.append(
                compare(
                    f"member list PDF, district {DISTRICT}, experiment {mode}: vs as is",
                    trial["seconds"],
                    ours_d["seconds"],
                    backend=backend,
                    n=rows_d,
                )
            )
            results.append(
                compare(
                    f"member list PDF, district {DISTRICT}, experiment {mode}: peak RSS (MB)"
                    " vs as is",
                    trial["max_rss_mb"],
                    ours_d["max_rss_mb"],
                    unit="MB",
                    backend=backend,
                    n=rows_d,
                )
            )
    full = in_child("pdf", "BN", OUT / "list-BN.pdf")
    rows = full["drawn_rows"]
    # The baseline holds every flowable in memory: measured on the district, scaled by rows.
    extrapolated = base_d["seconds"] * rows / base_d["drawn_rows"]
    results.append(
        compare(
            f"member list PDF, province ({full['rows']} on the rolls + "
            f"{rows - full['rows']} left this year, {full['pages']} pages)",
            full["seconds"],
            None,
            backend=backend,
            n=rows,
            target=300,
            target_on="value",
        )
    )
    results.append(
        compare(
            "member list PDF, province: ours vs raw platypus (baseline extrapolated "
            f"from {DISTRICT} by rows)",
            full["seconds"],
            extrapolated,
            backend=backend,
            n=rows,
        )
    )
    results.append(
        compare(
            "member list PDF, province: peak RSS of the render process (MB)",
            full["max_rss_mb"],
            None,
            unit="MB",
            backend=backend,
            n=rows,
            target=500,
            target_on="value",
        )
    )
    results.append(
        compare(
            "member list PDF, province: progress callbacks",
            full["progress_calls"],
            None,
            unit="calls",
            backend=backend,
            n=rows,
        )
    )
    results.append(
        compare(
            "member list PDF, province: longest time between progress callbacks",
            full["largest_gap_s"] or full["seconds"],
            None,
            backend=backend,
            n=rows,
        )
    )
    if experiments == "full":
        mode = "pdf+compress"
        with reversal_index():
            trial = in_child(mode, "BN", OUT / "list-BN-fixed.pdf")
        mode = f"{mode}(index)"
        results.append(
            compare(
                f"member list PDF, province, experiment {mode}: time vs as is",
                trial["seconds"],
                full["seconds"],
                backend=backend,
                n=rows,
                target=300,
                target_on="value",
            )
        )
        results.append(
            compare(
                f"member list PDF, province, experiment {mode}: peak RSS (MB) vs as is",
                trial["max_rss_mb"],
                full["max_rss_mb"],
                unit="MB",
                backend=backend,
                n=rows,
                target=500,
                target_on="value",
            )
        )

    # 6. member list XLSX of the province.
    xlsx = in_child("xlsx", "BN", OUT / "list-BN.xlsx")
    results.append(
        compare(
            f"member list XLSX, province ({xlsx['drawn_rows']} rows)",
            xlsx["seconds"],
            None,
            backend=backend,
            n=xlsx["drawn_rows"],
        )
    )
    results.append(
        compare(
            "member list XLSX, province: peak RSS of the render process (MB)",
            xlsx["max_rss_mb"],
            None,
            unit="MB",
            backend=backend,
            n=xlsx["drawn_rows"],
            target=500,
            target_on="value",
        )
    )
    if experiments == "full":
        with reversal_index():
            trial = in_child("xlsx", "BN", OUT / "list-BN-index.xlsx")
        results.append(
            compare(
                "member list XLSX, province, experiment xlsx(index): time vs as is",
                trial["seconds"],
                xlsx["seconds"],
                backend=backend,
                n=xlsx["drawn_rows"],
            )
        )

    # 7. The other reports of the province, as a user gets them (xhtml2pdf PDF, XLSX).
    limit = float(os.environ.get("BENCH_REPORTS_RENDER_TIMEOUT", "240"))
    for name, output_format in (
        ("increase-decrease", "pdf"),
        ("quality", "pdf"),
        ("commendation-discipline", "pdf"),
        ("completeness", "pdf"),
        ("completeness", "xlsx"),
    ):
        try:
            done = in_child(
                f"report={name}={output_format}",
                "BN",
                OUT / f"{name}-BN.{output_format}",
                timeout=limit,
            )
        except subprocess.TimeoutExpired:
            print(f"  {name} {output_format}: stopped after {limit:.0f} s")
            results.append(
                compare(
                    f"{name} {output_format}, province: NOT FINISHED, stopped after {limit:.0f} s",
                    limit,
                    None,
                    backend=backend,
                    n=n,
                )
            )
            continue
        results.append(
            compare(
                f"{name} {output_format}, province ({done['rows']} rows): render time",
                done["seconds"],
                None,
                backend=backend,
                n=n,
            )
        )
        results.append(
            compare(
                f"{name} {output_format}, province: peak RSS (MB)",
                done["max_rss_mb"],
                None,
                unit="MB",
                backend=backend,
                n=n,
                target=500,
                target_on="value",
            )
        )

    write_results("reports", results)
    for line in checks:
        print(line)
    print(f"files in {OUT}; data set: {json.dumps(data, ensure_ascii=False)}")


def main(argv: list[str]) -> None:
    if argv and argv[0] == "child":
        child(*argv[1:4])
    else:
        run()


if __name__ == "__main__":
    main(sys.argv[1:])
