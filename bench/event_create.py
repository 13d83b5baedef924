"""Benchmark: reporting events through the API under 8 concurrent clients (issue 4, "Speed": ≥ 200 events/s
sustained), beside the bare INSERTs of the same rows (the floor).

- Ours: POST /api/v1/cases/events/ (a GeoJSON point inside a grid of the demo district, a subclass category id, a
  description) to a production gunicorn (bench/server.py: gthread workers × threads as scripts/serve.sh runs them,
  two workers per core × 2 threads; --workers/--threads for another shape) on loopback. The server does what a
  report does: the grid lookup, the scope check, the case number, the event and its timeline row, the change log,
  the routing, the KPI rollups, and the JSON answer.
  8 client threads (bench/server.py's drive(): a fresh connection per report by default, as phones send them;
  --keep-alive for one connection per client), signed in as the demo command-centre user (a session row as the login
  view makes, and a CSRF cookie + header as the browser sends), send again as soon as answered: a warm-up, then the
  measured seconds. Events/s is the median over WINDOW_S windows; latency median and p99 over every measured
  request.
- Floor: as many events as ours made in the measured time, INSERTed through psycopg from 8 threads with their own
  connections, one transaction per event (the event row, as the API wrote it but with the grid known beforehand,
  and its timeline row), the change-log triggers firing as for ours. No HTTP, no Django, no lookup.
- Runs in the dev database with the demo district and its year of cases (`manage.py load_demo`); every event it
  made (ours and the floor's), the rows that point to them, their change-log rows and contexts are deleted at the
  end, the day's case-number counter is put back when no other event took a number meanwhile, and the tables are
  vacuumed.

    .venv/bin/python bench/event_create.py [--duration 25] [--warmup 5] [--keep] [--keep-alive]
                                           [--workers 4] [--threads 2] [--worker-class gthread]
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wangge.settings")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.utils.crypto import get_random_string  # noqa: E402
from server import (  # noqa: E402
    SERVE_THREADS,
    SERVE_WORKERS,
    Gunicorn,
    cookie_header,
    drive,
    drive_floor,
    login_session,
    percentile,
)

from wangge.accounts.models import AreaAssignment, User  # noqa: E402
from wangge.cases import demo_events  # noqa: E402
from wangge.cases.models import CaseSequence, Category, Event, EventTimeline  # noqa: E402
from wangge.geo.models import Generation  # noqa: E402
from wangge.kpi.rollups import ROLLUP  # noqa: E402

CLIENTS = 8
WINDOW_S = 5
POINTS_PER_GRID = 2
SEED = 11
TARGET_PER_S = 200
URL = "/api/v1/cases/events/"  # reverse("event-list")
APP_NAME = "bench_event_create"  # the gunicorn workers' PostgreSQL connections, to count their backends' CPU
MARK = "bench:event_create"  # the address of every event this bench makes; the floor's case numbers start BENCH-


def dsn():
    return {k: v for k, v in connection.get_connection_params().items() if k != "cursor_factory"}


# Data ---------------------------------------------------------------------------------------------------------------

def reporter():
    """The demo command-centre user (district-wide REPORT_EVENT), else any active user with the command role."""
    user = User.objects.filter(username="command", is_active=True).first()
    if user is None:
        assignment = (AreaAssignment.objects.filter(role__slug="command", user__is_active=True)
                      .select_related("user").first())
        user = assignment.user if assignment else None
    if user is None:
        sys.exit("No command-centre user: run `manage.py load_demo` first.")
    return user


def points_in_grids(generation):
    """POINTS_PER_GRID random points inside every grid of the generation, with that grid's code (for the floor)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT code, ST_X(p.geom), ST_Y(p.geom) FROM geo_area a, "
            "LATERAL ST_Dump(ST_GeneratePoints(ST_Buffer(a.geom, -0.00001), %s, (%s + a.id)::int)) p "
            "WHERE a.generation_id = %s AND a.level = 'grid' ORDER BY a.code",
            [POINTS_PER_GRID, SEED, generation.pk])
        rows = cursor.fetchall()
    order = np.random.default_rng(SEED).permutation(len(rows))
    return [rows[i] for i in order]


# Ours: through the API ------------------------------------------------------------------------------------------------

class CpuSample:
    """CPU seconds used so far by the gunicorn workers, the PostgreSQL backends serving them (application_name
    APP_NAME, set through PGAPPNAME), this process (the clients), and the whole machine — from /proc, so the time a
    report costs is split by where it is spent, and the machine's other load during the run is visible."""

    TICK = os.sysconf("SC_CLK_TCK")

    def __init__(self, gunicorn_pid):
        self.seconds = {"gunicorn": self._tree(gunicorn_pid), "postgres": self._backends(),
                        "clients": sum(os.times()[:2])}
        fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        self.seconds["machine"] = (sum(fields) - fields[3] - fields[4]) / self.TICK  # all but idle and iowait

    @classmethod
    def _process(cls, pid):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return 0.0, None
        fields = stat[stat.rindex(")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / cls.TICK, int(fields[1])

    @classmethod
    def _tree(cls, pid):
        parents = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                parents[int(entry.name)] = cls._process(entry.name)
        return sum(cpu for child, (cpu, parent) in parents.items() if parent == pid or child == pid)

    @classmethod
    def _backends(cls):
        with psycopg.connect(**dsn()) as conn:
            pids = [row[0] for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [APP_NAME])]
        return sum(cls._process(pid)[0] for pid in pids)

    def minus(self, earlier):
        used = {name: value - earlier.seconds[name] for name, value in self.seconds.items()}
        used["others"] = used.pop("machine") - used["gunicorn"] - used["postgres"] - used["clients"]
        return used


def report_requests(session, points, categories):
    """request(i, n) for bench/server.py's drive(): client i's report number n, at the next of the shuffled points
    (each client its own share of them), a category drawn per client."""
    csrf = get_random_string(32)  # a CSRF secret as the cookie holds it; the header repeats it
    headers = {"Cookie": f"{cookie_header(session)}; {settings.CSRF_COOKIE_NAME}={csrf}",
               "X-CSRFToken": csrf, "Content-Type": "application/json", "Accept": "application/json"}
    draws = [np.random.default_rng(SEED + i) for i in range(CLIENTS)]

    def request(i, n):
        index = i + n * CLIENTS
        _grid, lon, lat = points[index % len(points)]
        body = json.dumps({
            "location": {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]},
            "category": int(categories[draws[i].integers(len(categories))]),
            "description": f"Benchmark event {index}: a blocked drain in front of the building.",
            "address": MARK}).encode()
        return "POST", URL, body, headers

    return request


# The floor: bare INSERTs ----------------------------------------------------------------------------------------------

def floor_statements():
    """INSERTs for every concrete column of the event table, as the ORM writes them (defaults for the rest), so
    a column another change adds does not break the floor."""
    columns, placeholders = [], []
    for field in Event._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        placeholders.append("ST_GeomFromEWKT(%s)" if field.name == "location" else "%s")
    event_sql = (f"INSERT INTO {Event._meta.db_table} ({', '.join(columns)}) VALUES ({', '.join(placeholders)}) "
                 "RETURNING id")
    timeline_sql = (f"INSERT INTO {EventTimeline._meta.db_table} (event_id, actor_id, at, action, from_state, "
                    "to_state, note) VALUES (%s, %s, %s, 'report', '', 'reported', '')")
    return event_sql, timeline_sql


def floor_row(values):
    row = []
    for field in Event._meta.concrete_fields:
        if field.primary_key:
            continue
        if field.name in values:
            value = values[field.name]
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = values["created_at"]
        else:
            value = field.get_default()
        row.append(value if field.name == "location" else field.get_db_prep_save(value, connection))
    return row


def run_floor(count, points, categories, user, run_id):
    event_sql, timeline_sql = floor_statements()
    now = timezone.now()
    rows = []
    rng = np.random.default_rng(SEED)
    for n in range(count):
        grid, lon, lat = points[n % len(points)]
        rows.append(floor_row({
            "case_number": f"BENCH-{run_id}-{n:06d}", "district_code": grid[:6], "grid_code": grid,
            "source": "grid_worker", "reporter": user.pk, "location": f"SRID=4326;POINT({lon:.7f} {lat:.7f})",
            "address": MARK, "description": f"Benchmark event {n}: a blocked drain in front of the building.",
            "category": int(categories[rng.integers(len(categories))]), "urgency": "normal",
            "emergency": False, "state": "reported", "created_at": now}))

    def write(cursor, row):
        cursor.execute(event_sql, row, prepare=True)
        event_id = cursor.fetchone()[0]
        cursor.execute(timeline_sql, (event_id, user.pk, now), prepare=True)

    return drive_floor(dsn(), [rows[i::CLIENTS] for i in range(CLIENTS)], write)


# Cleaning up ----------------------------------------------------------------------------------------------------------

def delete_bench_events(sequence_before, day, district):
    """Deletes the bench's events, every row that points to one (found from the catalogue, so rows a newer
    do_report_event writes go too), their change-log rows and the change-log contexts of the bench's requests."""
    table = Event._meta.db_table
    with psycopg.connect(**dsn()) as conn, conn.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE bench_ids ON COMMIT DROP AS SELECT id FROM {table} WHERE address = %s",
                       [MARK])
        cursor.execute("SELECT count(*) FROM bench_ids")
        count = cursor.fetchone()[0]
        # Change-log event tables hold the event id without a constraint (pghistory's pgh_obj_id).
        cursor.execute(f"""CREATE TEMP TABLE bench_contexts ON COMMIT DROP AS
                           SELECT DISTINCT pgh_context_id AS id FROM {table}event
                           WHERE pgh_obj_id IN (SELECT id FROM bench_ids) AND pgh_context_id IS NOT NULL""")
        cursor.execute("""
            SELECT c.conrelid::regclass::text, a.attname FROM pg_constraint c
            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
            WHERE c.contype = 'f' AND c.confrelid = %s::regclass AND c.conrelid <> c.confrelid""", [table])
        for child, column in cursor.fetchall():
            cursor.execute(f'DELETE FROM {child} WHERE "{column}" IN (SELECT id FROM bench_ids)')
        cursor.execute(f"DELETE FROM {table} WHERE id IN (SELECT id FROM bench_ids)")
        cursor.execute(f"DELETE FROM {table}event WHERE pgh_obj_id IN (SELECT id FROM bench_ids)")
        # Other change-log rows written in the bench's requests (e.g. by routing), then the contexts themselves.
        cursor.execute("""SELECT table_name FROM information_schema.columns
                          WHERE column_name = 'pgh_context_id' AND table_schema = 'public'""")
        for (log_table,) in cursor.fetchall():
            cursor.execute(f"DELETE FROM {log_table} WHERE pgh_context_id IN (SELECT id FROM bench_contexts)")
        cursor.execute("DELETE FROM pghistory_context WHERE id IN (SELECT id FROM bench_contexts)")
        # The day's case-number counter: back to where it was, unless a real event took a number meanwhile.
        prefix = f"{district}-{day:%Y%m%d}-"
        cursor.execute(f"SELECT max(case_number) FROM {table} WHERE case_number LIKE %s", [prefix + "%"])
        highest = cursor.fetchone()[0]
        keep = max(sequence_before, int(highest.rsplit("-", 1)[1]) if highest else 0)
        if keep:
            cursor.execute(f"UPDATE {CaseSequence._meta.db_table} SET last = %s WHERE district_code = %s AND day = %s",
                           [keep, district, day])
        else:
            cursor.execute(f"DELETE FROM {CaseSequence._meta.db_table} WHERE district_code = %s AND day = %s",
                           [district, day])
    # The next run reports at the same points: the index entries of the rows just deleted would slow its
    # neighbour searches (KPI repeats) until autovacuum came by.
    with psycopg.connect(**dsn(), autocommit=True) as conn:
        conn.execute(f"VACUUM (ANALYZE) {table}, {EventTimeline._meta.db_table}, {table}event, {ROLLUP}")
    return count


# Main ----------------------------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=25, help="measured seconds of ours")
    parser.add_argument("--warmup", type=float, default=5, help="seconds of warm-up before measuring")
    parser.add_argument("--keep", action="store_true", help="keep the events made (for inspection)")
    parser.add_argument("--workers", type=int, default=SERVE_WORKERS, help="gunicorn workers (serve.sh's default)")
    parser.add_argument("--threads", type=int, default=SERVE_THREADS, help="threads per gunicorn worker")
    parser.add_argument("--worker-class", default="gthread", help="gunicorn worker class (gthread as serve.sh; sync)")
    parser.add_argument("--keep-alive", action="store_true", help=(
        "one kept-alive connection per client for the whole run (gunicorn then binds each client to one worker)"))
    args = parser.parse_args()

    generation = Generation.objects.filter(state=Generation.State.ACTIVE).first()
    if generation is None:
        sys.exit("No active generation: run `manage.py load_demo` first.")
    if not demo_events.already_loaded():
        # On a near-empty events table the planner reads it sequentially, and each report then costs more as the
        # run adds rows: the figure would be neither a city's nor steady.
        sys.exit("The demo's year of cases is not loaded: run `manage.py load_demo` (or load_demo_events) first.")
    if Event.objects.filter(address=MARK).exists():
        sys.exit(f"Events marked {MARK!r} are left from an earlier run; delete them first (or run without --keep).")
    user = reporter()
    points = points_in_grids(generation)
    categories = list(Category.objects.filter(parent__isnull=False, active=True).order_by("pk")
                      .values_list("pk", flat=True))
    district = points[0][0][:6]
    day = timezone.localdate()
    sequence_before = (CaseSequence.objects.filter(district_code=district, day=day).values_list("last", flat=True)
                       .first() or 0)
    connection.close()
    session = login_session(user)
    run_id = f"{int(time.time())}"
    try:
        with Gunicorn(workers=args.workers, threads=args.threads, worker_class=args.worker_class,
                      env={"PGAPPNAME": APP_NAME}) as server:
            requests = report_requests(session, points, categories)
            drive(server, CLIENTS, requests, args.warmup, 0, keep_alive=args.keep_alive)
            before = CpuSample(server.process.pid)
            run = drive(server, CLIENTS, requests, 0, args.duration, keep_alive=args.keep_alive)
            cpu = CpuSample(server.process.pid).minus(before)
        ours_rate, rates, ours_median, ours_p99 = run.summary(WINDOW_S)
        count, made = len(run.results), run.made
        floor_s, floor_latencies = run_floor(count, points, categories, user, run_id)
    finally:
        session.delete()
        if not args.keep:
            deleted = delete_bench_events(sequence_before, day, district)
            print(f"event_create: deleted {deleted} bench events")

    floor_rate = count / floor_s
    floor_ms = [x * 1000 for x in floor_latencies]
    connections = "keep-alive" if args.keep_alive else "a fresh connection per report"
    print(f"event_create: {CLIENTS} concurrent clients, gunicorn {server.describe()} ({connections}), "
          f"{args.warmup:.0f} s warm-up + {args.duration:.0f} s measured; "
          f"{len(points)} points in {len(points) // POINTS_PER_GRID} grids, {len(categories)} subclasses, "
          f"as {user.username!r}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"  {'':58} {'events/s':>9} {'median':>8} {'p99':>8}  (ms)")
    label = f"ours: POST {URL} (median of {len(rates)} {WINDOW_S} s windows)"
    print(f"  {label:58} {ours_rate:9.0f} {ours_median:8.2f} {ours_p99:8.2f}"
          f"   windows {' '.join(f'{r:.0f}' for r in rates)}; {count} measured, {made} in all")
    print(f"  {'floor: bare INSERT event + timeline (psycopg, 8 threads)':58} {floor_rate:9.0f} "
          f"{statistics.median(floor_ms):8.2f} {percentile(floor_ms, 99):8.2f}   {count} events in {floor_s:.1f} s")
    per_report = {name: seconds / run.made * 1000 for name, seconds in cpu.items() if name != "others"}
    print("  CPU per report (ms): " + ", ".join(f"{name} {ms:.2f}" for name, ms in per_report.items())
          + f"; the machine's other use in the measured time: {cpu['others']:.1f} CPU-s of "
          f"{os.cpu_count() * args.duration:.0f} (≈ 0 for a clean figure)")
    print(f"  ratio (floor / ours, events/s): {floor_rate / ours_rate:.1f}x; "
          f"target >= {TARGET_PER_S} events/s: {'met' if ours_rate >= TARGET_PER_S else 'MISSED'}")


if __name__ == "__main__":
    main()
