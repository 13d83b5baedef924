"""Benchmark: batch assignment of 1,000,000 random points to the demo district's grids, ours vs plain PostGIS.

Runs against the dev database (the full demo district, ~3,170 grids). Side by side, in one run:
- ours: wangge.geo.batch.assign_arrays — the code path behind the assign_points command and the batch API —
  from coordinate arrays to grid codes (including the active-generation check and the code look-up);
  then the same with CSV parsing in front (wangge.geo.batch.parse_csv), and with CSV writing behind;
- the peer: `UPDATE points SET grid_code = a.code FROM geo_area a WHERE … ST_Contains(a.geom, points.geom)` over the
  same points in an unlogged table with a GIST index (only the UPDATE is timed; the table is vacuumed between runs).
Targets (issue 2, "Speed"): ≥ 400,000 points/s end to end and ≥ 10× the PostGIS UPDATE.
"""

import io
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wangge.settings")

import django

django.setup()

import numpy as np  # noqa: E402
from django.db import connection  # noqa: E402

from wangge.geo import batch  # noqa: E402
from wangge.geo.index import current_index  # noqa: E402

N = 1_000_000
SEED = 20260101
OUR_RUNS = 5
PEER_RUNS = 3
TARGET_RATE = 400_000
TARGET_RATIO = 10


def timed(function, runs):
    times = []
    result = None
    for _ in range(runs):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, result


def main():
    start = time.perf_counter()
    index = current_index()
    if index is None:
        sys.exit("No active generation: run `make demo` first.")
    build = time.perf_counter() - start
    x0, y0, x1, y1 = index.bounds
    rng = np.random.default_rng(SEED)
    lon, lat = rng.uniform(x0, x1, N), rng.uniform(y0, y1, N)
    print(f"batch_assign: {N:,} random points (seed {SEED}) in the bbox of {len(index.codes):,} grids "
          f"(generation #{index.generation_id}); index built in {build:.2f} s")

    def arrays_to_codes():
        index, found = batch.assign_arrays(lon, lat)
        codes = np.full(len(found), None, dtype=object)
        codes[found >= 0] = index.codes[found[found >= 0]]
        return codes

    ours, our_times, codes = timed(arrays_to_codes, OUR_RUNS)
    rows = zip(range(N), lon.tolist(), lat.tolist(), strict=True)
    text = "id,lon,lat\n" + "".join(f"p{i},{x!r},{y!r}\n" for i, x, y in rows)
    with_csv, _, _ = timed(lambda: batch.assign_points(batch.parse_csv(text)), OUR_RUNS)

    def csv_to_csv():
        batch.assign_points(batch.parse_csv(text)).write_csv(io.StringIO())

    csv_round, _, _ = timed(csv_to_csv, 3)

    table = f"bench_points_{os.getpid()}"
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE UNLOGGED TABLE {table} AS SELECT i::int AS id, "
            "ST_SetSRID(ST_MakePoint(x, y), 4326)::geometry(Point, 4326) AS geom, NULL::varchar(15) AS grid_code "
            "FROM unnest(%s::float8[], %s::float8[]) WITH ORDINALITY AS t(x, y, i)", [lon.tolist(), lat.tolist()])
        cursor.execute(f"CREATE INDEX ON {table} USING gist (geom)")
        cursor.execute(f"VACUUM ANALYZE {table}")
    try:
        peer_times = []
        for _ in range(PEER_RUNS):
            with connection.cursor() as cursor:
                cursor.execute(f"UPDATE {table} SET grid_code = NULL WHERE grid_code IS NOT NULL")
                cursor.execute(f"VACUUM ANALYZE {table}")
                start = time.perf_counter()
                cursor.execute(
                    f"UPDATE {table} p SET grid_code = a.code FROM geo_area a WHERE a.generation_id = %s "
                    "AND a.level = 'grid' AND ST_Contains(a.geom, p.geom)", [index.generation_id])
                peer_times.append(time.perf_counter() - start)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT id, grid_code FROM {table} ORDER BY id")
            theirs = [code for _id, code in cursor.fetchall()]
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
    peer = statistics.median(peer_times)

    agree = sum(a == b for a, b in zip(codes.tolist(), theirs, strict=True))
    matched = int(sum(code is not None for code in theirs))
    rate, csv_rate, round_rate = N / ours, N / with_csv, N / csv_round
    ratio = peer / ours
    print(f"  matched {matched:,} of {N:,}; ours and PostGIS agree on {agree:,} points")
    print(f"  {'':44} {'median s':>9} {'points/s':>12}")
    print(f"  {'ours: arrays -> codes':44} {ours:9.3f} {rate:12,.0f}   runs: "
          + ", ".join(f"{t:.3f}" for t in our_times))
    print(f"  {'ours: CSV text -> parse -> codes':44} {with_csv:9.3f} {csv_rate:12,.0f}")
    print(f"  {'ours: CSV text -> parse -> codes -> CSV text':44} {csv_round:9.3f} {round_rate:12,.0f}")
    print(f"  {'peer: PostGIS UPDATE ... ST_Contains (GIST)':44} {peer:9.3f} {N / peer:12,.0f}   runs: "
          + ", ".join(f"{t:.3f}" for t in peer_times))
    print(f"  ratio (peer / ours, arrays): {ratio:.1f}x; with CSV parsing: {peer / with_csv:.1f}x")
    print(f"  target >= {TARGET_RATE:,} points/s: {'met' if rate >= TARGET_RATE else 'MISSED'} "
          f"(with CSV parsing: {'met' if csv_rate >= TARGET_RATE else 'MISSED'}); "
          f"target >= {TARGET_RATIO}x PostGIS: {'met' if ratio >= TARGET_RATIO else 'MISSED'}")


if __name__ == "__main__":
    main()
