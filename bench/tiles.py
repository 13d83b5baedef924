"""Tile endpoint vs the bare ST_AsMVT query, side by side (target: our median ≤ 1.5× the bare query's).

Ours: GET /tiles/<level>/<z>/<x>/<y>.pbf?generation=<active id> (the URL the map page asks for) from a real gunicorn
server (bench/server.py; 1 sync worker, as this bench has always been measured) on a free loopback port, logged in as
a superuser (a session cookie), one request at a time, a new connection per request as a browser's tile fetch would
open at worst. Two figures:
  cold — the first request for each tile in a freshly started server, its tile cache empty (the tile statement runs);
         --cold-passes fresh servers, one request per tile each;
  warm — the same tiles asked again: frozen generations' tiles come from the server's tile cache;
  off  — the same tiles, repeatedly, from a server with the tile cache off (WANGGE_TILE_CACHE_BYTES=0): the steady
         cost of making a tile per request, for reference.
Bare: the very SQL our view runs for that tile (the restricted queryset's SQL wrapped in ST_AsMVT), rendered with its
parameters and sent through psycopg on one open connection — no HTTP, no Django. All three answer the same bytes
(checked).

Run: .venv/bin/python bench/tiles.py [--rounds N] [--cold-passes N]   (needs the demo district: `manage.py load_demo`)
"""

import argparse
import math
import os
import platform
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
from server import Gunicorn, login_session  # noqa: E402

from wangge.accounts.models import User  # noqa: E402
from wangge.geo import tiles  # noqa: E402
from wangge.geo.models import Area, Generation  # noqa: E402

CENTRE = (116.992, 36.651)
# (level, zoom, half-width of the block of tiles around the centre): what a user's map asks for, coarse to fine.
TILE_SET = [("district", 10, 1), ("subdistrict", 10, 1), ("community", 11, 1), ("grid", 10, 1), ("grid", 12, 1),
            ("grid", 13, 1), ("grid", 14, 1), ("grid", 15, 1), ("grid", 16, 1)]


def tile_of(lon, lat, z):
    n = 2 ** z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def fetch(server, path, cookie):
    conn = server.connection(timeout=30)
    try:
        conn.request("GET", path, headers={"Cookie": f"sessionid={cookie}"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def start_server(**env):
    """1 sync worker; readiness is probed with a tile outside the set (zoom 0), which also opens the worker's
    database connection, as any earlier request would have."""
    return Gunicorn(workers=1, worker_class="sync", env=env).start()


def timed_fetch(server, path, cookie):
    start = time.perf_counter()
    status, body = fetch(server, path, cookie)
    return time.perf_counter() - start, status, body


def median_ms(values):
    return statistics.median(values) * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="timed warm requests (and bare queries) per tile")
    parser.add_argument("--cold-passes", type=int, default=5,
                        help="freshly started servers, each asked for every tile once (the cold figure)")
    args = parser.parse_args()

    generation = Generation.objects.filter(state=Generation.State.ACTIVE).first()
    if generation is None or not Area.objects.filter(generation=generation).exists():
        raise SystemExit("No active generation: run `manage.py load_demo` first.")
    user = (User.objects.filter(username="admin", is_superuser=True).first()
            or User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first())
    if user is None:
        raise SystemExit("No superuser to benchmark as: run `manage.py load_demo` first.")
    session = login_session(user)
    cookie = session.session_key

    jobs = []
    for level, z, half in TILE_SET:
        cx, cy = tile_of(*CENTRE, z)
        for x in range(cx - half, cx + half + 1):
            for y in range(cy - half, cy + half + 1):
                sql, params = tiles.tile_sql(user, str(generation.pk), level, z, x, y)
                path = f"/tiles/{level}/{z}/{x}/{y}.pbf?generation={generation.pk}"
                jobs.append({"level": level, "z": z, "path": path, "sql": connection.ops.compose_sql(sql, params),
                             "cold": [], "warm": [], "off": [], "bare": []})
    dsn = connection.settings_dict
    areas = Area.objects.filter(generation=generation).count()
    connection.close()

    def check(job, status, body, what):
        if status not in (200, 204) or body != job["expected"]:
            raise SystemExit(f"{job['path']} ({what}): {status}, {len(body)} bytes vs bare {len(job['expected'])}")

    server = off_server = None
    try:
        with psycopg.connect(host=dsn["HOST"], port=dsn["PORT"], dbname=dsn["NAME"], user=dsn["USER"],
                             password=dsn["PASSWORD"], autocommit=True) as bare:
            for job in jobs:
                row = bare.execute(job["sql"]).fetchone()
                job["expected"] = bytes(row[2]) if row and row[2] else b""
                job["bytes"] = len(job["expected"])
            for cold_pass in range(args.cold_passes):
                server = start_server()
                # A tile outside the set (zoom 0) first, so every tile below is still uncached; it also opens the
                # worker's database connection, as any earlier request would have.
                fetch(server, "/tiles/district/0/0/0.pbf", cookie)
                for job in jobs:
                    elapsed, status, body = timed_fetch(server, job["path"], cookie)
                    check(job, status, body, "cold")
                    job["cold"].append(elapsed)
                if cold_pass < args.cold_passes - 1:
                    server.stop()
                    server = None
            off_server = start_server(WANGGE_TILE_CACHE_BYTES="0")
            fetch(off_server, "/tiles/district/0/0/0.pbf", cookie)
            # Warm: the last fresh server, every tile now cached. Tile by tile, warm, off, then bare: adjacent in
            # time, so drift hits all alike. (Alternating every single request slowed both sides down on a 2-CPU
            # machine, by cache and scheduler effects of its own.)
            for job in jobs:
                status, body = fetch(server, job["path"], cookie)
                check(job, status, body, "warm")
                status, body = fetch(off_server, job["path"], cookie)
                check(job, status, body, "cache off")
                for _ in range(args.rounds):
                    job["warm"].append(timed_fetch(server, job["path"], cookie)[0])
                for _ in range(args.rounds):
                    job["off"].append(timed_fetch(off_server, job["path"], cookie)[0])
                for _ in range(args.rounds):
                    start = time.perf_counter()
                    bare.execute(job["sql"]).fetchone()
                    job["bare"].append(time.perf_counter() - start)
    finally:
        for running in (server, off_server):
            if running is not None:
                running.stop()
        session.delete()

    print(f"Tiles: {len(jobs)} tiles; cold: {args.cold_passes} fresh servers x 1 request per tile; warm, off "
          f"(cache off) and bare: {args.rounds} rounds per tile; {areas} areas; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    print(f"{'level':<12}{'z':>3}{'tiles':>6}{'KB/tile':>9}{'cold ms':>9}{'warm ms':>9}{'off ms':>8}{'bare ms':>9}"
          f"{'cold/bare':>11}{'warm/bare':>11}")
    groups = {}
    for job in jobs:
        groups.setdefault((job["level"], job["z"]), []).append(job)
    rows = [(f"{level:<12}{z:>3}", group, f"{statistics.mean(job['bytes'] for job in group) / 1024:>9.1f}")
            for (level, z), group in groups.items()]
    rows.append((f"{'all':<15}", jobs, f"{'':>9}"))
    for label, group, size in rows:
        cold, warm, off, bare_ms = (median_ms([t for job in group for t in job[key]])
                                    for key in ("cold", "warm", "off", "bare"))
        print(f"{label}{len(group):>6}{size}{cold:>9.2f}{warm:>9.2f}{off:>8.2f}{bare_ms:>9.2f}"
              f"{cold / bare_ms:>10.2f}x{warm / bare_ms:>10.2f}x")
    cold, warm, bare_ms = (median_ms([t for job in jobs for t in job[key]]) for key in ("cold", "warm", "bare"))
    for name, ours in (("cold", cold), ("warm", warm)):
        verdict = "meets" if ours <= 1.5 * bare_ms else "MISSES"
        print(f"{name}: {ours:.2f} ms vs bare {bare_ms:.2f} ms = {ours / bare_ms:.2f}x — {verdict} the 1.5x target")


if __name__ == "__main__":
    main()
