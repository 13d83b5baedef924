"""Benchmark: the district's KPI page over 5,000,000 historical events (issue 4 §6: median ≤ 200 ms, against ≥ 10×
slower for the same figures computed by GROUP BY over the raw events), side by side in one run.

- A throwaway database (default `wangge_bench_kpi`), created and migrated at every run and dropped at the end: the
  demo district and its work team, then 5,000,000 events over twelve months from wangge/cases/demo_events.py (the
  demo's generator, month by month, COPY with the tables' triggers off — the change log's and the KPI trigger — no
  timelines), ANALYZE, and the KPI rollups rebuilt set-based (rebuild_kpi_rollups; its time is printed).
- Ours, through a production gunicorn (bench/server.py: two gthread workers per core × 2 threads, as scripts/serve.sh)
  with a district leader's session: the page `/kpi/?level=subdistrict&period=M` (the district's landing: 17
  subdistricts, the table, the red and black lists), and the API for the grids (3,170 rows), the departments and the
  subdistricts over six months. One client, sequential requests; medians and p95 of --requests each, after a warm-up
  request.
- Peer: the same figures by one GROUP BY over the raw events (kpi.rollups.raw_figures_sql: the same per-event
  expressions, the two stored flags read per event), via psycopg, median of --peer-runs; the peer gets an index on
  created_at (its best case) and is timed without HTTP, templates or names. The bench checks that both give the same
  counts.

    .venv/bin/python bench/kpi_page.py [--events 5000000] [--requests 40] [--peer-runs 5] [--keep] [--reuse]
"""

import argparse
import datetime
import json
import os
import signal
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import scratch_db  # noqa: E402

BENCH_DB = os.environ.get("WANGGE_BENCH_KPI_DB", "wangge_bench_kpi")
END = datetime.datetime(2026, 6, 30, 22, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=8)))
MONTH = "2026-05"  # a settled month: every event of it has been through the loop
RANGE = ("2026-01", "2026-06")
TARGET_MS, TARGET_RATIO = 200.0, 10.0


def seed(events):
    import pghistory
    from django.core.management import call_command
    from django.db import connection, transaction

    from wangge.accounts.models import User
    from wangge.cases import demo_events
    from wangge.cases.models import Event
    from wangge.geo import demo_district
    from wangge.kpi import rollups
    from wangge.workforce import demo as workforce_demo

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    admin = User.objects.create(username="bench-admin", is_superuser=True)
    with pghistory.context(command="bench"):
        demo_district.load(actor=admin, seed=370103)
        workforce_demo.load(volunteers=0)
    print(f"kpi_page: {BENCH_DB} created, migrated, district and work team loaded in "
          f"{time.perf_counter() - started:.0f} s", flush=True)

    started = time.perf_counter()
    rng = demo_events.np.random.default_rng([demo_events.DEFAULT_SEED, 99])
    district = "370103"
    place = demo_events.grids(rng, district)
    cats = demo_events.categories()
    people = demo_events.actors(rng, place, district)
    table = Event._meta.db_table
    with connection.cursor() as cursor:
        # A throwaway database: the secondary indexes are dropped for the COPY and built again after it.
        cursor.execute("SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s AND NOT EXISTS "
                       "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)", [table])
        indexes = cursor.fetchall()
        for name, _definition in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    with transaction.atomic(), connection.cursor() as wrapper:
        cursor = wrapper.cursor
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        written, _timeline = demo_events.write(
            cursor, place=place, cats=cats, people=people, end=END, count=events, seed=demo_events.DEFAULT_SEED,
            district=district, timeline=False,
            progress=lambda message: print(f"kpi_page: {message} ({time.perf_counter() - started:.0f} s)",
                                           flush=True))
        cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
    with connection.cursor() as cursor:
        for _name, definition in indexes:
            cursor.execute(definition)
        cursor.execute(f"CREATE INDEX bench_event_created ON {table} (created_at)")  # the peer's best case
        cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"kpi_page: {written:,} events written (COPY, triggers off; {len(indexes)} indexes built after) in "
          f"{time.perf_counter() - started:.0f} s", flush=True)
    started = time.perf_counter()
    rollups.rebuild()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE kpi_rollup")
    print(f"kpi_page: rollups rebuilt from the raw events in {time.perf_counter() - started:.0f} s: "
          f"{rollups.row_count():,} rollup rows", flush=True)


def leader():
    from wangge.accounts.models import AreaAssignment, Role, User

    user, created = User.objects.get_or_create(username="bench-leader", defaults={"display_name": "区领导"})
    if created:
        AreaAssignment.objects.create(user=user, area_code="370103", role=Role.objects.get(slug="leader"))
    return user


def timed_requests(server, cookie, path, count):
    connection = server.connection(timeout=60)
    times, body = [], None
    for index in range(count + 1):
        started = time.perf_counter()
        connection.request("GET", path, headers={"Cookie": cookie, "Accept-Language": "zh-hans"})
        response = connection.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status != 200:
            sys.exit(f"GET {path} answered {response.status}: {body[:300]!r}")
        if index:  # the first request warms the worker
            times.append(elapsed)
    connection.close()
    return times, body


def month_bounds(first, last):
    zone = datetime.timezone(datetime.timedelta(hours=8))
    year, month = map(int, first.split("-"))
    start = datetime.datetime(year, month, 1, tzinfo=zone)
    year, month = map(int, last.split("-"))
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return start, datetime.datetime(year, month, 1, tzinfo=zone)


def peer(level_sql, first, last, runs):
    """The same counts by GROUP BY over the raw events: (median ms, {key: counts})."""
    import psycopg

    from wangge.kpi import rollups
    from wangge.kpi.indicators import COUNTER_NAMES

    start, end = month_bounds(first, last)
    sql = rollups.raw_figures_sql(level_sql, "e.created_at >= %s AND e.created_at < %s")
    times, rows = [], None
    with psycopg.connect(os.environ["DATABASE_URL"].replace("postgis://", "postgresql://")) as conn:
        for _ in range(runs + 1):
            started = time.perf_counter()
            rows = conn.execute(sql, [start, end]).fetchall()
            times.append((time.perf_counter() - started) * 1000)
    figures = {str(row[0]): dict(zip(COUNTER_NAMES, map(int, row[1:]), strict=True)) for row in rows}
    return times[1:], figures


def ms(values):
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(values):7.1f} ms, p95 {p95:7.1f} ms"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--peer-runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help=f"keep the throwaway database {BENCH_DB}")
    parser.add_argument("--reuse", action="store_true", help=f"reuse a kept {BENCH_DB} (no seeding)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a stopped run still drops the throwaway database
    os.environ["DATABASE_URL"] = scratch_db.url_of(BENCH_DB) if args.reuse else scratch_db.create(BENCH_DB)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wangge.settings")
    try:
        import django

        django.setup()
        if not args.reuse:
            seed(args.events)
        run(args)
    finally:
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        if not args.keep:
            scratch_db.drop(BENCH_DB)
            print(f"kpi_page: dropped {BENCH_DB}")


def run(args):
    from django.db import connection
    from server import Gunicorn, cookie_header, login_session

    from wangge.kpi.indicators import COUNTER_NAMES

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM cases_event")
        total = cursor.fetchone()[0]
    session = login_session(leader())
    cookie = cookie_header(session)
    cases = [
        ("page: district, by subdistrict, one month", f"/kpi/?level=subdistrict&period={MONTH}",
         "substr(e.grid_code, 1, 9)", (MONTH, MONTH), None),
        ("API: every grid, one month", f"/api/v1/kpi/?level=grid&period={MONTH}", "e.grid_code", (MONTH, MONTH),
         "code"),
        ("API: departments, one month", f"/api/v1/kpi/?level=department&period={MONTH}", "e.department_id",
         (MONTH, MONTH), "id"),
        ("API: subdistricts, six months", f"/api/v1/kpi/?level=subdistrict&period={RANGE[0]}&period_to={RANGE[1]}",
         "substr(e.grid_code, 1, 9)", RANGE, "code"),
    ]
    print(f"kpi_page: {total:,} events; one client, {args.requests} sequential requests per case after a warm-up; "
          f"peer: {args.peer_runs} runs after a warm-up", flush=True)
    results = []
    with Gunicorn() as server:
        print(f"kpi_page: gunicorn {server.describe()} on 127.0.0.1:{server.port}", flush=True)
        for label, path, group, (first, last), key in cases:
            ours, body = timed_requests(server, cookie, path, args.requests)
            theirs, figures = peer(group, first, last, args.peer_runs)
            agree = "n/a (HTML)"
            if key:
                rows = json.loads(body)["rows"]
                mine = {str(row[key]): {name: row[name] for name in COUNTER_NAMES} for row in rows}
                figures.pop("None", None)  # events with no department count for none
                agree = "yes" if mine == figures else "NO"
                if agree == "NO":
                    sys.exit(f"{label}: the API and the GROUP BY disagree")
            ratio = statistics.median(theirs) / statistics.median(ours)
            results.append((label, statistics.median(ours), statistics.median(theirs), ratio))
            print(f"{label:<34} ours {ms(ours)} | GROUP BY over raw events {ms(theirs)} | {ratio:5.1f}× | "
                  f"same counts: {agree}", flush=True)
    session.delete()
    page = results[0]
    print(f"kpi_page: the district page median {page[1]:.1f} ms (target ≤ {TARGET_MS:.0f} ms: "
          f"{'met' if page[1] <= TARGET_MS else 'MISSED'}); the GROUP BY peer {page[2]:.0f} ms, {page[3]:.1f}× "
          f"(target ≥ {TARGET_RATIO:.0f}×: {'met' if page[3] >= TARGET_RATIO else 'MISSED'})")


if __name__ == "__main__":
    main()
