"""Benchmark: the filtered person list (50 rows, masked) — its API and its page — vs the bare SQL of the same page.

- Needs ~720,000 persons in the dev database (issue 3 §7). With the demo population loaded
  (`manage.py load_demo_population`) it uses that. Otherwise it COPYs its own synthetic persons first — BENCH DATA,
  marked `hukou_place = 'bench:person_list'`, spread evenly over the active grids, a quarter of them flowing —
  and deletes them at the end (keep them with --keep). Those rows carry realistic masked numbers and unique
  blind indexes but no ciphertext: the list never decrypts, so what it reads is the same.
- Starts gunicorn (bench/server.py: two gthread workers per core × 2 threads, as scripts/serve.sh) on a free loopback
  port, signs in as a community staff user (a session row, as the login view makes) and asks, one request at a time over
  a kept-alive connection: GET /api/v1/registry/persons/?area=<community>&residence_type=flowing (50 rows) and the same
  filter on the page /registry/persons/. Stopped at the end, whatever happens.
- Peer: the SQL behind that page (scope ∧ filter, ordered by id, 51 rows), through psycopg, same server.
Target (issue 3, "Speed"): median ≤ 30 ms with 720,000 persons.
"""

import argparse
import hashlib
import io
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
from server import Gunicorn, login_session  # noqa: E402

from wangge.accounts.models import AreaAssignment, Role, User  # noqa: E402
from wangge.geo.models import Area  # noqa: E402
from wangge.registry.models import Person  # noqa: E402

TARGET_PERSONS = 720_000
BENCH_MARK = "bench:person_list"
BENCH_USER = "bench-person-list"
WARMUP, REQUESTS, RUNS = 50, 300, 3
TARGET_MEDIAN_MS = 30.0

PEER_SQL = """
SELECT id, name, grid_code, id_number_masked, phone_masked, gender, birth_date, residence_type, status,
       party_member
FROM registry_person
WHERE grid_code LIKE %s AND grid_code LIKE %s AND residence_type = 'flowing'
ORDER BY id LIMIT 51
"""


def dsn():
    return connection.get_connection_params()


# BENCH DATA ---------------------------------------------------------------------------------------------------------

def load_bench_persons(count):
    """COPY `count` synthetic persons (marked BENCH_MARK) with triggers off: bench rows are not history."""
    grids = list(Area.objects.current().filter(level="grid").values_list("code", flat=True))
    rng = np.random.default_rng(7)
    grid_pick = rng.integers(0, len(grids), count)
    flowing = rng.random(count) < 0.25
    surnames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
    given = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
    now = time.strftime("%Y-%m-%d %H:%M:%S+00")
    columns = ["name", "id_number_enc", "id_number_index", "id_number_masked", "gender", "birth_date", "phone_enc",
               "phone_index", "phone_masked", "ethnicity", "hukou_place", "residence_type", "household_status",
               "relation_to_head", "work_unit", "party_member", "status", "inflow_reason", "origin",
               "residence_permit", "grid_code", "district_code", "created_at", "updated_at"]
    buffer = io.StringIO()
    for i in range(count):
        grid = grids[grid_pick[i]]
        year = 1940 + i % 65
        name = surnames[i % len(surnames)] + given[(i * 7) % len(given)] + given[(i * 13) % len(given)]
        index = hashlib.sha256(f"{BENCH_MARK}:{i}".encode()).hexdigest()
        buffer.write("\t".join([
            name, "", index, f"370103********{i % 10000:04d}", "male" if i % 2 else "female",
            f"{year}-{1 + i % 12:02d}-{1 + i % 28:02d}", "", "", f"138****{i % 10000:04d}", "汉", BENCH_MARK,
            "flowing" if flowing[i] else "registered", "together", "", "", "f", "normal", "", "", "",
            grid, grid[:6], now, now]) + "\n")
    with psycopg.connect(**dsn()) as conn, conn.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        with cursor.copy(f"COPY registry_person ({', '.join(columns)}) FROM STDIN") as copy:
            copy.write(buffer.getvalue())
    with psycopg.connect(**dsn(), autocommit=True) as conn:
        conn.execute("ANALYZE registry_person")


def delete_bench_persons():
    with psycopg.connect(**dsn()) as conn, conn.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("DELETE FROM registry_person WHERE hukou_place = %s", [BENCH_MARK])
        return cursor.rowcount


# Measuring -----------------------------------------------------------------------------------------------------------

def bench_user(community):
    User.objects.filter(username=BENCH_USER).delete()
    user = User.objects.create(username=BENCH_USER)
    AreaAssignment.objects.create(user=user, area_code=community, role=Role.objects.get(slug="community_staff"))
    return user, login_session(user)


def http_latencies(server, cookie, path, expect, n):
    conn = server.connection()
    latencies = []
    for _ in range(n):
        start = time.perf_counter()
        conn.request("GET", path, headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={cookie}"})
        response = conn.getresponse()
        body = response.read()
        latencies.append((time.perf_counter() - start) * 1000)
        if response.status != 200 or expect not in body:
            raise RuntimeError(f"{path} answered {response.status}: {body[:200]!r}")
    conn.close()
    return latencies


def sql_latencies(community, n):
    with psycopg.connect(**dsn(), autocommit=True) as conn, conn.cursor() as cursor:
        latencies = []
        for _ in range(n):
            start = time.perf_counter()
            cursor.execute(PEER_SQL, (community + "%", community + "%"), prepare=True)
            rows = cursor.fetchall()
            latencies.append((time.perf_counter() - start) * 1000)
        assert len(rows) == 51, len(rows)
    return latencies


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the bench persons (if this run made them)")
    args = parser.parse_args()

    existing = Person.objects.count()
    made = 0
    if existing < TARGET_PERSONS * 0.95:
        made = TARGET_PERSONS - existing
        started = time.perf_counter()
        load_bench_persons(made)
        print(f"person_list: no demo population ({existing} persons): COPYed {made} BENCH persons in "
              f"{time.perf_counter() - started:.1f} s")
    total = Person.objects.count()
    # The community with the most flowing persons among the first few: a full page for sure.
    community = (Area.objects.current().filter(level="community").order_by("code").values_list("code", flat=True)
                 .first())
    flowing = Person.objects.filter(grid_code__startswith=community, residence_type="flowing").count()
    user, session = bench_user(community)
    api_path = f"/api/v1/registry/persons/?area={community}&residence_type=flowing"
    page_path = f"/registry/persons/?area={community}&residence_type=flowing"
    results = {}
    try:
        with Gunicorn() as server:
            shape = server.describe()
            cookie = session.session_key
            for label, path, expect in (("API", api_path, b'"results"'), ("page", page_path, b"persons")):
                http_latencies(server, cookie, path, expect, WARMUP)  # a worker connects and warms up
                results[label] = [statistics.median(http_latencies(server, cookie, path, expect, REQUESTS))
                                  for _ in range(RUNS)]
        sql_latencies(community, WARMUP)
        results["bare SQL (psycopg)"] = [statistics.median(sql_latencies(community, REQUESTS)) for _ in range(RUNS)]
    finally:
        session.delete()
        user.delete()
        if made and not args.keep:
            print(f"person_list: deleted {delete_bench_persons()} BENCH persons")

    print(f"person_list: {total} persons; community {community}, {flowing} flowing; 50 rows a page; "
          f"gunicorn {shape}; {RUNS} runs × {REQUESTS} sequential requests, median of run medians (ms)")
    print(f"  {'':24} {'median':>8}   runs")
    for label, medians in results.items():
        print(f"  {label:24} {statistics.median(medians):8.2f}   {' '.join(f'{m:.2f}' for m in medians)}")
    api = statistics.median(results["API"])
    page = statistics.median(results["page"])
    verdict = "met" if max(api, page) <= TARGET_MEDIAN_MS else "MISSED"
    print(f"  target median ≤ {TARGET_MEDIAN_MS:.0f} ms: {verdict} (API {api:.2f}, page {page:.2f}; "
          f"bare SQL {statistics.median(results['bare SQL (psycopg)']):.2f})")


if __name__ == "__main__":
    main()
