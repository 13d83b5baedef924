"""Benchmark: the coverage report of the whole demo district (issue 3, "Speed": ≤ 2 s), through the API on a
gunicorn on loopback, beside the bare SQL that computes the same per-grid counts (the floor).

Needs `make demo` (the district and its population). Medians of RUNS sequential requests after one warm-up; the
report() call alone in-process, and the peer's totals are checked against the API's answer.
"""

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

import psycopg  # noqa: E402
from django.db import connection  # noqa: E402
from server import Gunicorn, cookie_header, login_session  # noqa: E402

from wangge.accounts.models import User  # noqa: E402
from wangge.registry import coverage  # noqa: E402

RUNS = 5
TARGET_S = 2.0

# The peer: the same report's numbers in bare, tuned SQL — the same rows (the whole district), the same per-grid
# counts for every line, the same index-only anti-joins and covering index ours relies on; only the ORM, the
# Python roll-up and the HTTP/JSON layers are missing. One round trip per statement, as ours.
ACTIVE = "(SELECT id FROM geo_generation WHERE state = 'active')"
PEER_SQL = [
    f"""SELECT code, name, household_target FROM geo_area WHERE generation_id = {ACTIVE} AND level = 'grid'
        AND code LIKE '370103%' ORDER BY code""",
    "SELECT grid_code, count(*) FROM registry_building WHERE grid_code LIKE '370103%' OR grid_code = '' GROUP BY 1",
    f"""SELECT b.grid_code, count(*) FILTER (WHERE ST_Covers(d.geom, b.location)),
               count(*) FILTER (WHERE NOT ST_Covers(d.geom, b.location))
        FROM registry_building b, geo_area d WHERE d.generation_id = {ACTIVE} AND d.level = 'district'
        AND (b.grid_code LIKE '370103%' OR b.grid_code = '') AND NOT EXISTS (SELECT FROM geo_area g
            WHERE g.generation_id = {ACTIVE} AND g.level = 'grid' AND g.code = b.grid_code)
        GROUP BY 1""",
    f"""WITH c AS MATERIALIZED (
            SELECT c.grid_code, ST_Covers(d.geom, c.geom) AS inside, g.code IS NOT NULL AS placed,
                   coalesce(ST_Covers(g.geom, c.geom), false) AS within
            FROM registry_courtyard c
            CROSS JOIN (SELECT geom FROM geo_area WHERE generation_id = {ACTIVE} AND level = 'district') d
            LEFT JOIN geo_area g ON g.generation_id = {ACTIVE} AND g.level = 'grid' AND g.code = c.grid_code
            WHERE c.grid_code LIKE '370103%' OR c.grid_code = '')
        SELECT grid_code, count(*) FILTER (WHERE NOT inside), count(*) FILTER (WHERE inside AND NOT placed),
               count(*) FILTER (WHERE inside AND placed AND NOT within)
        FROM c GROUP BY 1""",
    "SELECT grid_code, count(*) FROM registry_household WHERE grid_code LIKE '370103%' GROUP BY 1",
    """SELECT h.grid_code, count(*) FROM registry_household h WHERE h.grid_code LIKE '370103%'
       AND NOT EXISTS (SELECT FROM registry_person p WHERE p.household_id = h.id) GROUP BY 1""",
    """SELECT grid_code, count(*), count(*) FILTER (WHERE household_id IS NULL OR house_id IS NULL)
       FROM registry_person WHERE grid_code LIKE '370103%' AND status = 'normal' GROUP BY 1""",
    """SELECT h.grid_code, count(*) FROM registry_house h WHERE h.grid_code LIKE '370103%'
       AND NOT EXISTS (SELECT FROM registry_person p WHERE p.house_id = h.id AND p.status = 'normal') GROUP BY 1""",
]


def main():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM registry_person")
        persons = cursor.fetchone()[0]
    if not persons:
        sys.exit("No population: run `make demo` first.")
    admin = User.objects.filter(username="admin").first() or User.objects.filter(is_superuser=True).first()
    if admin is None:
        sys.exit("No admin user: run `make demo` first.")
    session = login_session(admin)
    api = []
    try:
        # 2 sync workers and a 120 s timeout, as this bench has always been measured (a report is one long request).
        with Gunicorn(workers=2, worker_class="sync", timeout=120) as server:
            for i in range(RUNS + 1):
                client = server.connection(timeout=120)
                started = time.perf_counter()
                client.request("GET", "/api/v1/registry/coverage/?area=370103",
                               headers={"Cookie": cookie_header(session)})
                response = client.getresponse()
                body = response.read()
                elapsed = time.perf_counter() - started
                client.close()
                if response.status != 200:
                    sys.exit(f"coverage answered {response.status}: {body[:200]!r}")
                if i:
                    api.append(elapsed)
    finally:
        session.delete()
    report = json.loads(body)
    user = User.objects.filter(is_superuser=True).order_by("pk").first()
    in_process = []
    for i in range(RUNS + 1):
        started = time.perf_counter()
        coverage.report(user, "370103")
        if i:
            in_process.append(time.perf_counter() - started)
    params = connection.get_connection_params()
    peer = []
    with psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"}) as conn:
        for i in range(RUNS + 1):
            started = time.perf_counter()
            with conn.cursor() as cursor:
                results = []
                for sql in PEER_SQL:
                    cursor.execute(sql)
                    results.append(cursor.fetchall())
            if i:
                peer.append(time.perf_counter() - started)
    check_peer(report, results)
    ours, floor = statistics.median(api), statistics.median(peer)
    print(f"coverage: whole district ({persons:,} persons), medians of {RUNS}")
    print(f"  ours: GET /api/v1/registry/coverage/?area=370103 via gunicorn  {ours:7.2f} s   target ≤ {TARGET_S} s")
    print(f"        coverage.report() in-process                            {statistics.median(in_process):7.2f} s")
    print(f"  peer: the bare per-grid SQL (psycopg)                         {floor:7.2f} s   ratio {ours / floor:.2f}×")


def check_peer(report, results):
    """The peer must compute the same report: its totals per line against the API's."""
    _grids, _buildings, stray, courtyards, _households, empty, persons, vacant = results
    peer = {"buildings_without_grid": sum(r[1] for r in stray),
            "buildings_outside_district": sum(r[2] for r in stray),
            "courtyards_outside_district": sum(r[1] for r in courtyards),
            "courtyards_without_grid": sum(r[2] for r in courtyards),
            "courtyards_straddling": sum(r[3] for r in courtyards),
            "households_without_members": sum(r[1] for r in empty),
            "persons_without_household_or_house": sum(r[2] for r in persons),
            "houses_without_occupants": sum(r[1] for r in vacant)}
    ours = {item["line"]: item["count"] for item in report["totals"]}
    wrong = {line: (n, ours.get(line)) for line, n in peer.items() if ours.get(line) != n}
    if wrong:
        sys.exit(f"the peer SQL disagrees with the report (peer, ours): {wrong}")


if __name__ == "__main__":
    main()
