"""Benchmark: the single-point lookup API under 8 concurrent clients, against a production server, vs bare PostGIS.

- Starts gunicorn (`wangge.wsgi:application`, bench/server.py) on a free 127.0.0.1 port with two gthread workers
  per core × 2 threads, as scripts/serve.sh does (the threads keep clients' connections alive). It is always
  stopped at the end.
- Logs in as the demo admin by creating a session row (what the login view does after checking the password) and
  sends its cookie; 8 client threads fire GET /api/v1/geo/lookup at random points in the district for a bounded
  count and time, over loopback only.
- Side by side: the bare PostGIS query behind the same lookup (the grid chain covering the point) from 8 threads
  with their own psycopg connections.
Targets (issue 2, "Speed"): median ≤ 5 ms and p99 ≤ 20 ms.
"""

import http.client
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
from server import Gunicorn, login_session, run_threads  # noqa: E402

from wangge.accounts.models import User  # noqa: E402
from wangge.geo.models import Area, Generation  # noqa: E402

CLIENTS = 8
WARMUP = 200
REQUESTS_PER_CLIENT = 500
TIME_LIMIT_S = 60
# The paced load: 8 clients × 25 requests/s = 200 lookups/s, several times a district command centre's click rate
# plus its integrations. Each paced client sends PACED_REQUESTS requests (10 s a run).
RATE_PER_CLIENT = 25
PACED_REQUESTS = 250
RUNS = 3
SEED = 7
TARGET_MEDIAN_MS, TARGET_P99_MS = 5.0, 20.0

PEER_SQL = """
SELECT level, code, name FROM geo_area
WHERE generation_id = %s AND ST_Covers(geom, ST_SetSRID(ST_MakePoint(%s, %s), 4326))
ORDER BY code
"""


def session_cookie(username="admin"):
    user = User.objects.filter(username=username).first() or User.objects.filter(is_superuser=True).first()
    if user is None:
        sys.exit("No admin user: run `make demo` first.")
    return login_session(user)


def percentile(values, q):
    return float(np.percentile(np.asarray(values), q))


def run_clients(worker, points, rate_per_client=None):
    """Runs `worker(i, lon, lat) -> seconds` from CLIENTS threads over their share of points; latencies in ms.

    Without a rate each client fires its next request as soon as the last one is answered (saturation: the
    latency then mostly measures the queue, with the clients competing for the same 2 cores). With a rate each
    client sends on a fixed schedule, as a pool of operators or an integration would, and latency is measured
    from the scheduled send time, so a slow server cannot hide behind a slowed-down client.
    """
    latencies = [[] for _ in range(CLIENTS)]
    deadline = time.monotonic() + TIME_LIMIT_S

    def client(i):
        state = {}
        interval = 1 / rate_per_client if rate_per_client else 0
        next_send = time.perf_counter() + (i / CLIENTS) * interval  # clients spread over the interval
        for lon, lat in points[i::CLIENTS][:REQUESTS_PER_CLIENT]:
            if time.monotonic() > deadline:
                break
            if interval:
                wait = next_send - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                late = max(0.0, time.perf_counter() - next_send)
                next_send += interval
                latencies[i].append((worker(state, lon, lat) + late) * 1000)
            else:
                latencies[i].append(worker(state, lon, lat) * 1000)

    elapsed = run_threads(client, CLIENTS)
    flat = [x for per in latencies for x in per]
    return flat, len(flat) / elapsed


def api_worker(port, cookie):
    def call(state, lon, lat):
        # Each client keeps its connection open between requests, as an integration or a browser does.
        if "conn" not in state:
            state["conn"] = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection = state["conn"]
        start = time.perf_counter()
        connection.request("GET", f"/api/v1/geo/lookup?lon={lon:.7f}&lat={lat:.7f}",
                           headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={cookie}"})
        response = connection.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - start
        if response.status != 200 or b'"chain"' not in body:
            raise RuntimeError(f"lookup answered {response.status}: {body[:200]!r}")
        return elapsed
    return call


def peer_worker(dsn, generation_id):
    def call(state, lon, lat):
        if "conn" not in state:
            state["conn"] = psycopg.connect(**dsn, autocommit=True)
        start = time.perf_counter()
        with state["conn"].cursor() as cursor:
            cursor.execute(PEER_SQL, (generation_id, lon, lat), prepare=True)
            cursor.fetchall()
        return time.perf_counter() - start
    return call


def summary(label, latencies, rate):
    return (f"  {label:46} {statistics.median(latencies):8.2f} {percentile(latencies, 99):8.2f} "
            f"{rate:9.0f}  (n={len(latencies)})")


def main():
    generation = Generation.objects.filter(state=Generation.State.ACTIVE).first()
    if generation is None:
        sys.exit("No active generation: run `make demo` first.")
    district = Area.objects.get(generation=generation, level="district")
    x0, y0, x1, y1 = district.geom.extent
    rng = np.random.default_rng(SEED)
    total = CLIENTS * REQUESTS_PER_CLIENT
    points = list(zip(rng.uniform(x0, x1, total).tolist(), rng.uniform(y0, y1, total).tolist(), strict=True))
    warmup = points[:WARMUP]
    session = session_cookie()
    dsn = connection.get_connection_params()  # the same server and credentials the app uses

    try:
        with Gunicorn() as server:
            shape = server.describe()
            api = api_worker(server.port, session.session_key)
            run_clients(api, warmup * CLIENTS)  # every worker opens its DB connection and warms its caches
            api_runs = [run_clients(api, points) for _ in range(RUNS)]
            api_paced = [run_clients(api, points[: CLIENTS * PACED_REQUESTS], RATE_PER_CLIENT) for _ in range(RUNS)]
    finally:
        session.delete()

    peer = peer_worker(dsn, generation.pk)
    run_clients(peer, warmup * CLIENTS)
    peer_runs = [run_clients(peer, points) for _ in range(RUNS)]
    peer_paced = [run_clients(peer, points[: CLIENTS * PACED_REQUESTS], RATE_PER_CLIENT) for _ in range(RUNS)]

    def median_of_runs(runs):
        medians = [statistics.median(latencies) for latencies, _ in runs]
        p99s = [percentile(latencies, 99) for latencies, _ in runs]
        rates = [rate for _, rate in runs]
        return statistics.median(medians), statistics.median(p99s), statistics.median(rates), medians, p99s

    print(f"lookup_api: {CLIENTS} concurrent clients, gunicorn {shape} (keep-alive), "
          f"{RUNS} runs each (generation #{generation.pk}); medians over runs")
    print(f"  {'':52} {'median':>8} {'p99':>8} {'req/s':>9}   (ms)")
    paced_title = f"paced: {CLIENTS} clients x {RATE_PER_CLIENT} req/s = {CLIENTS * RATE_PER_CLIENT} req/s"
    for title, ours_runs, peer_runs_ in [
        (paced_title, api_paced, peer_paced),
        ("saturated: each client sends again as soon as answered", api_runs, peer_runs),
    ]:
        ours, theirs = median_of_runs(ours_runs), median_of_runs(peer_runs_)
        print(f"  {title}")
        print(f"    {'ours: GET /api/v1/geo/lookup (session login)':50} {ours[0]:8.2f} {ours[1]:8.2f} {ours[2]:9.0f}"
              "   runs median " + ", ".join(f"{m:.2f}" for m in ours[3])
              + "; p99 " + ", ".join(f"{p:.2f}" for p in ours[4]))
        print(f"    {'peer: bare PostGIS query (psycopg, 8 threads)':50} {theirs[0]:8.2f} {theirs[1]:8.2f} "
              f"{theirs[2]:9.0f}   runs median " + ", ".join(f"{m:.2f}" for m in theirs[3]))
        print(f"    ratio (ours / peer): median {ours[0] / theirs[0]:.1f}x, p99 {ours[1] / theirs[1]:.1f}x; "
              f"target median <= {TARGET_MEDIAN_MS} ms: {'met' if ours[0] <= TARGET_MEDIAN_MS else 'MISSED'}, "
              f"p99 <= {TARGET_P99_MS} ms: {'met' if ours[1] <= TARGET_P99_MS else 'MISSED'}")

if __name__ == "__main__":
    main()
