"""Tile endpoint vs the bare ST_AsMVT query, side by side (target: our median ≤ 1.5× the bare query's).

Ours: GET /tiles/<level>/<z>/<x>/<y>.pbf from a real gunicorn server on a free loopback port, logged in as a
superuser (a session cookie), one request at a time, a new connection per request as a browser's tile fetch would
open at worst. Bare: the very SQL our view runs for that tile (the restricted queryset's SQL wrapped in ST_AsMVT),
rendered with its parameters and sent through psycopg on one open connection — no HTTP, no Django. Both answer the
same bytes (checked).

Run: .venv/bin/python bench/tiles.py [--rounds N]   (needs the demo district: `manage.py load_demo`)
"""

import argparse
import http.client
import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wangge.settings")

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django.db import connection  # noqa: E402

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


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def session_cookie(user):
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "wangge.accounts.backends.LockoutModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session


def fetch(port, path, cookie):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Cookie": f"sessionid={cookie}"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_ready(port, cookie, server, deadline=30):
    start = time.monotonic()
    while time.monotonic() - start < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
            fetch(port, "/tiles/district/0/0/0.pbf", cookie)
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start in time")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="timed requests per tile (after one warm-up)")
    args = parser.parse_args()

    generation = Generation.objects.filter(state=Generation.State.ACTIVE).first()
    if generation is None or not Area.objects.filter(generation=generation).exists():
        raise SystemExit("No active generation: run `manage.py load_demo` first.")
    user = (User.objects.filter(username="admin", is_superuser=True).first()
            or User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first())
    if user is None:
        raise SystemExit("No superuser to benchmark as: run `manage.py load_demo` first.")
    session = session_cookie(user)

    jobs = []
    for level, z, half in TILE_SET:
        cx, cy = tile_of(*CENTRE, z)
        for x in range(cx - half, cx + half + 1):
            for y in range(cy - half, cy + half + 1):
                sql, params = tiles.tile_sql(user, None, level, z, x, y)
                jobs.append({"level": level, "z": z, "path": f"/tiles/{level}/{z}/{x}/{y}.pbf",
                             "sql": connection.ops.compose_sql(sql, params), "ours": [], "bare": []})
    dsn = connection.settings_dict
    connection.close()

    port = free_port()
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "wangge.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1",
         "--access-logfile", "/dev/null", "--error-logfile", "-", "--log-level", "warning"],
        cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        wait_ready(port, session.session_key, server)
        with psycopg.connect(host=dsn["HOST"], port=dsn["PORT"], dbname=dsn["NAME"], user=dsn["USER"],
                             password=dsn["PASSWORD"], autocommit=True) as bare:
            for job in jobs:  # warm-up, and the check that both answer the same tile
                status, body = fetch(port, job["path"], session.session_key)
                row = bare.execute(job["sql"]).fetchone()
                expected = bytes(row[2]) if row and row[2] else b""
                if status not in (200, 204) or body != expected:
                    raise SystemExit(f"{job['path']}: {status}, {len(body)} bytes vs bare {len(expected)}")
                job["bytes"] = len(body)
            # Tile by tile, ours then bare: adjacent in time, so drift hits both alike. (Alternating every single
            # request slowed both sides down on a 2-CPU machine, by cache and scheduler effects of its own.)
            for job in jobs:
                for _ in range(args.rounds):
                    start = time.perf_counter()
                    fetch(port, job["path"], session.session_key)
                    job["ours"].append(time.perf_counter() - start)
                for _ in range(args.rounds):
                    start = time.perf_counter()
                    bare.execute(job["sql"]).fetchone()
                    job["bare"].append(time.perf_counter() - start)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        session.delete()

    print(f"Tiles: {len(jobs)} tiles x {args.rounds} rounds, {Area.objects.filter(generation=generation).count()} "
          f"areas; {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    print(f"{'level':<12}{'z':>3}{'tiles':>6}{'KB/tile':>9}{'ours ms':>10}{'bare ms':>10}{'ratio':>8}")
    groups = {}
    for job in jobs:
        groups.setdefault((job["level"], job["z"]), []).append(job)
    for (level, z), group in groups.items():
        ours = statistics.median(t for job in group for t in job["ours"]) * 1000
        bare_ms = statistics.median(t for job in group for t in job["bare"]) * 1000
        size = statistics.mean(job["bytes"] for job in group) / 1024
        print(f"{level:<12}{z:>3}{len(group):>6}{size:>9.1f}{ours:>10.2f}{bare_ms:>10.2f}{ours / bare_ms:>7.2f}x")
    ours = statistics.median(t for job in jobs for t in job["ours"]) * 1000
    bare_ms = statistics.median(t for job in jobs for t in job["bare"]) * 1000
    verdict = "meets" if ours <= 1.5 * bare_ms else "MISSES"
    print(f"{'all':<12}{'':>3}{len(jobs):>6}{'':>9}{ours:>10.2f}{bare_ms:>10.2f}{ours / bare_ms:>7.2f}x"
          f"  ({verdict} the 1.5x target)")


if __name__ == "__main__":
    main()
