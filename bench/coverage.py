"""Benchmark: the coverage report of the whole demo district (issue 3, "Speed": ≤ 2 s), through the API on a
gunicorn on loopback, beside the bare SQL that computes the same per-grid counts (the floor).

Needs `make demo` (the district and its population). Medians of RUNS sequential requests after one warm-up.
"""

import http.client
import os
import signal
import statistics
import subprocess
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
from lookup_api import free_port, session_cookie, wait_until_up  # noqa: E402

RUNS = 5
TARGET_S = 2.0

PEER_SQL = [
    "SELECT grid_code, count(*) FROM registry_building GROUP BY 1",
    """SELECT c.grid_code, count(*) FILTER (WHERE NOT ST_CoveredBy(c.geom, a.geom)) FROM registry_courtyard c
       LEFT JOIN geo_area a ON a.code = c.grid_code AND a.generation_id =
         (SELECT id FROM geo_generation WHERE state = 'active') GROUP BY 1""",
    """SELECT h.grid_code, count(*), count(*) FILTER (WHERE m.ref IS NULL) FROM registry_household h
       LEFT JOIN (SELECT DISTINCT household_id AS ref FROM registry_person) m ON m.ref = h.id GROUP BY 1""",
    """SELECT grid_code, count(*), count(*) FILTER (WHERE household_id IS NULL OR house_id IS NULL)
       FROM registry_person WHERE status = 'normal' GROUP BY 1""",
    """SELECT h.grid_code, count(*) FILTER (WHERE m.ref IS NULL) FROM registry_house h
       LEFT JOIN (SELECT DISTINCT house_id AS ref FROM registry_person WHERE status = 'normal') m ON m.ref = h.id
       GROUP BY 1""",
]


def main():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM registry_person")
        persons = cursor.fetchone()[0]
    if not persons:
        sys.exit("No population: run `make demo` first.")
    session = session_cookie()
    port = free_port()
    command = [str(ROOT / ".venv" / "bin" / "gunicorn"), "wangge.wsgi:application", "--bind", f"127.0.0.1:{port}",
               "--workers", "2", "--timeout", "120", "--no-control-socket", "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ}, start_new_session=True)
    api = []
    try:
        wait_until_up(port, process)
        for i in range(RUNS + 1):
            client = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            started = time.perf_counter()
            client.request("GET", "/api/v1/registry/coverage/?area=370103",
                           headers={"Cookie": f"sessionid={session.session_key}"})
            response = client.getresponse()
            body = response.read()
            elapsed = time.perf_counter() - started
            if response.status != 200:
                sys.exit(f"coverage answered {response.status}: {body[:200]!r}")
            if i:
                api.append(elapsed)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
        session.delete()
    params = connection.get_connection_params()
    peer = []
    with psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"}) as conn:
        for i in range(RUNS + 1):
            started = time.perf_counter()
            with conn.cursor() as cursor:
                for sql in PEER_SQL:
                    cursor.execute(sql)
                    cursor.fetchall()
            if i:
                peer.append(time.perf_counter() - started)
    ours, floor = statistics.median(api), statistics.median(peer)
    print(f"coverage: whole district ({persons:,} persons), medians of {RUNS}")
    print(f"  ours: GET /api/v1/registry/coverage/?area=370103 via gunicorn  {ours:7.2f} s   target ≤ {TARGET_S} s")
    print(f"  peer: the bare per-grid SQL (psycopg)                         {floor:7.2f} s   ratio {ours / floor:.2f}×")


if __name__ == "__main__":
    main()
