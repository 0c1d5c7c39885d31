"""The load test of issue 17: the production shape of docs/production.md on loopback
(gunicorn with N workers, PostgreSQL, the Redis server, an RQ worker) with 20 clerks who
search, open, edit and save members of their own organisation and 5 leaders on the
dashboard, for a bounded time; it reports errors, worker crashes and the latencies (p50,
p95, max) per kind of request, and writes bench/results/load.json.

    python -m bench.load --duration 180            # DATABASE_URL, REDIS_URL from the environment

The database must hold a province (`flask --app wsgi init` then `flask --app wsgi demo
--preset province`): the clerks and leaders are created on it (users `load-clerk-NN`,
`load-leader-N`, scoped to the largest grassroots organisations and to the province and
its largest upper committees), their edits change members' current address (written to
the history and the audit log like any edit). Run it on a copy, not on real data.

Not a timed unit test and not part of `python -m bench all` (minutes, a built province and
a Redis server). Each simulated person is a thread with its own HTTP session: a request,
then a think time (uniform 0.5–1.5 × `--think` seconds), so 25 people make ~15–25
requests a second. A "worker crash" is any gunicorn worker that died and was replaced
(gunicorn's log: a worker booted beyond the first N, a timeout, a signal, an exit code).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "load.json"
PASSWORD = "Load-Test-Password-1"
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


class Forms(HTMLParser):
    """The fields of every <form> of a page, as a browser would submit them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._select: str | None = None
        self._select_first: str | None = None
        self._select_chosen = False
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action") or "", "fields": {}})
            return
        if not self.forms:
            return
        fields = self.forms[-1]["fields"]
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    fields[name] = a.get("value") or "y"
            elif kind not in ("submit", "button", "file", "image", "reset"):
                fields[name] = a.get("value") or ""
        elif tag == "select" and name:
            self._select, self._select_first, self._select_chosen = name, None, False
        elif tag == "option" and self._select:
            value = a.get("value") or ""
            if self._select_first is None:
                self._select_first = value
            if "selected" in a:
                fields[self._select] = value
                self._select_chosen = True
        elif tag == "textarea" and name:
            self._textarea = name
            fields[name] = ""

    def handle_endtag(self, tag):
        if tag == "select" and self._select:
            if not self._select_chosen and self._select_first is not None:
                self.forms[-1]["fields"][self._select] = self._select_first
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea and self.forms:
            self.forms[-1]["fields"][self._textarea] += data


def edit_form(page: str) -> dict[str, str] | None:
    parser = Forms()
    parser.feed(page)
    return next((f["fields"] for f in parser.forms if "version_id" in f["fields"]), None)


class Log:
    """Every request's kind, milliseconds and outcome (threads append under a lock)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.samples: list[tuple[str, float, bool, str]] = []

    def add(self, kind: str, ms: float, ok: bool, why: str = "") -> None:
        with self.lock:
            self.samples.append((kind, ms, ok, why))


def timed(log: Log, kind: str, call, check) -> object:
    started = time.perf_counter()
    try:
        response = call()
    except Exception as error:  # a refused connection, a timeout: an error, not a crash here
        log.add(kind, (time.perf_counter() - started) * 1000, False, f"{type(error).__name__}")
        return None
    ms = (time.perf_counter() - started) * 1000
    why = check(response)
    log.add(kind, ms, why is None, why or "")
    return response if why is None else None


def page_ok(response) -> str | None:
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    if 'name="password"' in response.text:
        return "signed out"
    return None


def sign_in(session, base: str, username: str) -> bool:
    page = session.get(f"{base}/login/", timeout=60)
    token = TOKEN.search(page.text)
    response = session.post(
        f"{base}/login/",
        data={
            "username": username,
            "password": PASSWORD,
            "csrf_token": token.group(1) or token.group(2),
        },
        timeout=60,
    )
    return response.status_code == 200 and "/logout" in response.text


def clerk(base: str, username: str, members: list[tuple[int, str]], until: float, think, log):
    import requests

    session = requests.Session()
    rng = random.Random(username)
    if not sign_in(session, base, username):
        log.add("sign-in", 0, False, username)
        return
    edits = 0
    while time.monotonic() < until:
        member_id, name = rng.choice(members)
        word = rng.choice(name.split())
        steps = [
            ("list", lambda: session.get(f"{base}/membermodelview/list/", timeout=60)),
            (
                "search",
                lambda w=word: session.get(
                    f"{base}/membermodelview/list/", params={"_flt_0_search_key": w}, timeout=60
                ),
            ),
            (
                "show",
                lambda m=member_id: session.get(f"{base}/membermodelview/show/{m}", timeout=60),
            ),
        ]
        for kind, call in steps:
            if time.monotonic() >= until:
                return
            timed(log, kind, call, page_ok)
            think()
        if time.monotonic() >= until:
            return
        form_page = timed(
            log,
            "edit form",
            lambda m=member_id: session.get(f"{base}/membermodelview/edit/{m}", timeout=60),
            page_ok,
        )
        think()
        if form_page is None or time.monotonic() >= until:
            continue
        fields = edit_form(form_page.text)
        if fields is None:
            log.add("save", 0, False, "no edit form")
            continue
        edits += 1
        fields["current_address"] = f"Thôn Load {username[-2:]}, số {edits}"

        def saved(response) -> str | None:
            if response.status_code != 302:
                return f"HTTP {response.status_code}"
            if "/edit/" in response.headers.get("Location", ""):
                return "refused"
            return None

        timed(
            log,
            "save",
            lambda m=member_id, f=fields: session.post(
                f"{base}/membermodelview/edit/{m}", data=f, allow_redirects=False, timeout=60
            ),
            saved,
        )
        think()


def leader(base: str, username: str, until: float, think, log):
    import requests

    session = requests.Session()
    if not sign_in(session, base, username):
        log.add("sign-in", 0, False, username)
        return
    while time.monotonic() < until:
        timed(log, "dashboard", lambda: session.get(f"{base}/dashboard/", timeout=60), page_ok)
        think()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def prepare_users(engine, env: dict, bindir: Path, clerks: int, leaders: int):
    """The load users (created once) and the members each clerk works on."""
    from sqlalchemy import text

    with engine.connect() as connection:
        units = connection.execute(
            text(
                "SELECT u.code, u.path FROM unit u JOIN member m ON m.unit_id = u.id "
                "WHERE u.dissolved_on IS NULL AND m.status IN ('official', 'probationary') "
                "GROUP BY u.id, u.code, u.path ORDER BY count(*) DESC, u.code LIMIT :n"
            ),
            {"n": clerks},
        ).all()
        tops = connection.execute(
            text(
                "SELECT code FROM unit WHERE dissolved_on IS NULL AND (parent_id IS NULL OR "
                "kind = 'upper_grassroots_committee') ORDER BY parent_id NULLS FIRST, "
                "(SELECT count(*) FROM unit c WHERE c.path LIKE unit.path || '%') DESC LIMIT :n"
            ),
            {"n": leaders},
        ).scalars()
        tops = list(tops)
        existing = set(
            connection.execute(text("SELECT username FROM ab_user WHERE username LIKE 'load-%'"))
            .scalars()
            .all()
        )
        work = {}
        for index, (code, path) in enumerate(units, start=1):
            work[f"load-clerk-{index:02d}"] = (
                code,
                connection.execute(
                    text(
                        "SELECT m.id, coalesce(m.name_in_use, m.birth_name) FROM member m "
                        "JOIN unit u ON u.id = m.unit_id WHERE u.path LIKE :path "
                        "AND m.status IN ('official', 'probationary') ORDER BY m.id LIMIT 300"
                    ),
                    {"path": path + "%"},
                ).all(),
            )
    wanted = [(name, "Clerk", code) for name, (code, _) in work.items()]
    wanted += [(f"load-leader-{i}", "Leader", code) for i, code in enumerate(tops, start=1)]
    for username, role, code in wanted:
        if username in existing:
            continue
        subprocess.run(
            [str(bindir / "flask"), "--app", "wsgi", "users", "create", "--username", username,
             "--role", role, "--unit", code, "--password", PASSWORD],
            cwd=ROOT, env=env, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    return {name: [tuple(row) for row in rows] for name, (_, rows) in work.items()}, [
        f"load-leader-{i}" for i in range(1, len(tops) + 1)
    ]


def workers_cpu(master_pid: int) -> float:
    """CPU seconds (user + system) the gunicorn master's workers have used so far: on a
    shared machine the latencies include the wait for a core, the CPU time does not."""
    import psutil

    total = 0.0
    for child in psutil.Process(master_pid).children():
        with contextlib.suppress(psutil.NoSuchProcess):
            times = child.cpu_times()
            total += times.user + times.system
    return total


def crashes(log_text: str, workers: int) -> dict[str, int]:
    """What gunicorn's log says of its workers before the test stopped it."""
    log_text = log_text.split("Handling signal: term")[0]
    booted = len(re.findall(r"Booting worker with pid", log_text))
    return {
        "booted": booted,
        "replaced": max(0, booted - workers),
        "timeouts": len(re.findall(r"WORKER TIMEOUT", log_text)),
        "signalled": len(re.findall(r"was sent (?:SIG\w+|code \d+)", log_text)),
        "exited": len(re.findall(r"exited with code", log_text)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=180, help="seconds of load (180)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (4)")
    parser.add_argument("--clerks", type=int, default=20)
    parser.add_argument("--leaders", type=int, default=5)
    parser.add_argument("--think", type=float, default=1.0, help="mean think time, s (1.0)")
    parser.add_argument(
        "--bin",
        default=str(Path(sys.executable).parent),
        help="folder of the gunicorn and flask to run (a virtualenv's bin; this Python's)",
    )
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if not database_url.startswith("postgresql") or not redis_url.startswith("redis://"):
        print("Set DATABASE_URL (PostgreSQL) and REDIS_URL (a Redis server).", file=sys.stderr)
        return 2
    from sqlalchemy import create_engine

    bindir = Path(args.bin)
    scratch = Path(tempfile.mkdtemp(prefix="dangvien-load-"))
    env = {
        **os.environ,
        "DANGVIEN_INSTANCE_DIR": str(scratch / "instance"),
        "DATA_DIR": str(scratch / "data"),
        "SECRET_KEY": os.environ.get("SECRET_KEY", "load-test-secret-key-of-enough-length"),
        "LOGIN_RATE_LIMIT": "off",  # 25 sign-ins from one address in a second
        "PATH": f"{bindir}:{os.environ.get('PATH', '')}",
    }
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    work, leaders = prepare_users(engine, env, bindir, args.clerks, args.leaders)
    engine.dispose()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    logs = {name: (scratch / f"{name}.log").open("w") for name in ("gunicorn", "worker")}
    processes = {
        "gunicorn": subprocess.Popen(
            [
                str(bindir / "gunicorn"),
                "--workers",
                str(args.workers),
                "--bind",
                f"127.0.0.1:{port}",
                "--timeout",
                "120",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=logs["gunicorn"],
            stderr=subprocess.STDOUT,
            start_new_session=True,
        ),  # fmt: skip
        "worker": subprocess.Popen(
            [str(bindir / "flask"), "--app", "wsgi", "worker"],
            cwd=ROOT,
            env=env,
            stdout=logs["worker"],
            stderr=subprocess.STDOUT,
            start_new_session=True,
        ),  # fmt: skip
    }
    python = subprocess.run(
        [str(bindir / "python"), "-c", "import sys; print(sys.version.split()[0])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    log = Log()

    def stop(signum, frame):  # killed from outside: the finally below stops the servers
        raise SystemExit(f"stopped by signal {signum}")

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)
    try:
        import requests

        deadline = time.monotonic() + 300
        while True:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{base}/login/", timeout=10).status_code == 200:
                    break
            if time.monotonic() > deadline or processes["gunicorn"].poll() is not None:
                raise SystemExit(
                    "gunicorn did not start: " + (scratch / "gunicorn.log").read_text()
                )
            time.sleep(1)
        rng = random.Random(1)
        lock = threading.Lock()

        def think() -> None:
            with lock:
                pause = rng.uniform(0.5, 1.5) * args.think
            time.sleep(pause)

        cpu_before = workers_cpu(processes["gunicorn"].pid)
        until = time.monotonic() + args.duration
        threads = [
            threading.Thread(target=clerk, args=(base, name, members, until, think, log))
            for name, members in work.items()
        ] + [
            threading.Thread(target=leader, args=(base, name, until, think, log))
            for name in leaders
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=args.duration + 120)
        elapsed = time.monotonic() - started
        alive = processes["gunicorn"].poll() is None
        cpu_used = workers_cpu(processes["gunicorn"].pid) - cpu_before
    finally:
        for process in processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for handle in logs.values():
            handle.close()
    crashed = crashes((scratch / "gunicorn.log").read_text(), args.workers)
    kinds: dict[str, dict] = {}
    for kind in dict.fromkeys(k for k, *_ in log.samples):
        times = [ms for k, ms, ok, _ in log.samples if k == kind and ok]
        failed = [why for k, _, ok, why in log.samples if k == kind and not ok]
        kinds[kind] = {
            "requests": len(times) + len(failed),
            "errors": len(failed),
            "error_kinds": sorted(set(failed)),
            "p50_ms": round(statistics.median(times), 1) if times else None,
            "p95_ms": round(percentile(times, 0.95), 1),
            "max_ms": round(max(times), 1) if times else None,
        }
    every = [ms for _, ms, ok, _ in log.samples if ok]
    report = {
        "python": python,
        "gunicorn_workers": args.workers,
        "clerks": len(work),
        "leaders": len(leaders),
        "duration_s": round(elapsed, 1),
        "think_s": args.think,
        "requests": len(log.samples),
        "requests_per_s": round(len(log.samples) / elapsed, 1) if elapsed else None,
        "errors": sum(1 for *_, ok, _ in log.samples if not ok),
        "worker_crashes": crashed["replaced"] + crashed["timeouts"] + crashed["signalled"],
        "gunicorn_alive": alive,
        "gunicorn_log": crashed,
        "web_cpu_s": round(cpu_used, 1),
        "web_cpu_ms_per_request": round(cpu_used * 1000 / len(log.samples), 1)
        if log.samples
        else None,
        "p50_ms": round(statistics.median(every), 1) if every else None,
        "p95_ms": round(percentile(every, 0.95), 1),
        "by_kind": kinds,
        "load_average": os.getloadavg(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"{'request':<10} {'count':>6} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for kind, row in kinds.items():
        print(
            f"{kind:<10} {row['requests']:>6} {row['errors']:>6} {row['p50_ms'] or 0:>8} "
            f"{row['p95_ms']:>8} {row['max_ms'] or 0:>8}"
        )
    print(
        f"Python {python}, {args.workers} workers, {len(work)} clerks + {len(leaders)} leaders, "
        f"{elapsed:.0f} s: {report['requests']} requests ({report['requests_per_s']}/s), "
        f"{report['errors']} errors, {report['worker_crashes']} worker crashes, "
        f"p95 {report['p95_ms']} ms; web workers' CPU {report['web_cpu_ms_per_request']} ms "
        f"a request, load average {report['load_average'][0]:.1f}. Logs in {scratch}; results in {args.out}."
    )
    return 0 if report["errors"] == 0 and report["worker_crashes"] == 0 and alive else 1


if __name__ == "__main__":
    sys.exit(main())
