"""Benchmark: the coverage ledger of the whole demo district during a campaign with 200,000 visits (issue 5, "Speed":
median ≤ 300 ms), through the API on a production gunicorn, beside the same figures computed by GROUP BY over the
raw visits (the peer), with the ratio.

- Runs in the dev database, which must hold the demo district and its population (`manage.py load_demo --quiet`);
  the campaigns tables must be migrated (`manage.py migrate campaigns`). A district-wide campaign is created and
  started through the services (round 1: the ledger rows with every grid's households, and its persons counted,
  as services.count_registered_persons does), then seeded set-based with COPY — the change-log triggers of the seeded
  tables disabled for the seed only (ALTER TABLE … DISABLE TRIGGER USER), enabled again before anything is timed:
  - VISITS calls: STANDING households (drawn at random from the district's) each with one standing call (visited
    85 %, absent 5 %, refused 2 %, moved out 2 %, revisit 6 % with a time within three days), and EARLIER of them an
    absent call before it; visited calls carry 1–8 members (screened-member rows), the form's counts (arrivals,
    contacts, abnormal health, isolation) and a sealed-answers-sized payload; abnormal members are flagged by a
    fever rule with an event category (their events not yet opened: they count against 管控清); 96 % of calls are
    placed inside their grid by GPS, 1 % outside, 3 % have no fix;
  - the standings (HouseholdScreening) and the ledger rows (CoverageCount) as do_record_visit keeps them.
  Everything the bench wrote is deleted at the end (--keep leaves it for a look).
- Ours: GET /api/v1/campaigns/campaigns/{id}/coverage/ (grid level: every grid of the district, the heaviest answer; and
  subdistrict level) as a superuser on gunicorn (bench/server.py: two gthread workers per core × 2 threads,
  scripts/serve.sh's defaults); then the grid level again with the round's persons not counted (registered_persons None:
  the ledger counts the registry's persons live, as for a round opened without services.count_registered_persons);
  ledger.coverage() in-process as well. Medians of RUNS sequential requests after a warm-up.
- Peer: the same per-grid figures in bare SQL over the raw rows (psycopg): each household's latest call by
  DISTINCT ON over the round's visits, its members and flagged members, revisits due, calls outside their grid or
  without a fix, open flags; households and persons registered per grid; JIT off for its session (it would spend
  seconds compiling the statement). Its per-grid numbers are checked equal to the API's.

    .venv/bin/python bench/campaign_ledger.py [--runs 7] [--keep]
"""

import argparse
import json
import os
import signal
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wangge.settings")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
import psycopg  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from server import Gunicorn, cookie_header, login_session  # noqa: E402

VISITS = 200_000
EARLIER = 25_000  # households called on twice (absent first)
STANDING = VISITS - EARLIER
TARGET_S = 0.300
SEED = 5
BENCH_USER = "bench-campaign-ledger"
STATUSES = np.array(["visited", "absent", "refused", "moved_out", "revisit"])
STATUS_P = [0.85, 0.05, 0.02, 0.02, 0.06]
# per screened member: chance of each of the form's counts (household_form.py's stat tags)
STAT_P = {"arrival": 0.12, "contact": 0.01, "abnormal": 0.02, "isolation_home": 0.04, "isolation_central": 0.005}
SEEDED = ["campaigns_visit", "campaigns_visitmember", "campaigns_flaghit", "campaigns_householdscreening",
          "campaigns_coveragecount"]


def psycopg_params():
    params = connection.get_connection_params()
    return {k: v for k, v in params.items() if k != "cursor_factory"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the seeded campaign")
    args = parser.parse_args()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM registry_household WHERE grid_code LIKE '370103%'")
        households = cursor.fetchone()[0]
        cursor.execute("SELECT to_regclass('campaigns_coveragecount') IS NOT NULL")
        migrated = cursor.fetchone()[0]
    if households < VISITS:
        sys.exit("The demo population is missing: run `manage.py load_demo --quiet` first.")
    if not migrated:
        sys.exit("The campaigns tables are missing: run `manage.py migrate campaigns` first.")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a stopped run still cleans up
    bench = Bench()
    try:
        started = time.perf_counter()
        bench.seed()
        print(f"campaign_ledger: campaign {bench.campaign.pk} seeded with {VISITS:,} visits in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        bench.run(args.runs, households)
    finally:
        if not args.keep:
            bench.clean_up()


class Bench:
    def __init__(self):
        self.campaign = None
        self.user = None

    # Seeding ------------------------------------------------------------------------------------------------------

    def seed(self):
        from wangge.accounts.models import User
        from wangge.campaigns import services
        from wangge.campaigns.models import Campaign
        from wangge.cases.models import Category

        leftover = User.objects.filter(username=BENCH_USER).first()  # from a run that was killed
        if leftover is not None:
            for campaign in Campaign.objects.filter(created_by=leftover):
                self.campaign, self.user = campaign, leftover
                self.clean_up()
            self.user = leftover
            self.clean_up()
        self.user = User.objects.create(username=BENCH_USER, is_superuser=True, is_staff=True)
        self.now = timezone.now()
        campaign = services.do_create_campaign(
            actor=self.user, name="bench: 冬季入户摸排", purpose="benchmark", legal_basis="benchmark",
            area_code="370103", target_codes=["370103"], starts_on=timezone.localdate() - timedelta(days=6),
            ends_on=timezone.localdate() + timedelta(days=8))
        campaign = services.do_start_campaign(campaign, actor=self.user)
        self.campaign = campaign
        services.count_registered_persons(campaign, 1)
        category = Category.objects.filter(kind="event", parent__isnull=False, active=True).order_by("pk").first()
        self.rule = services.do_add_flag_rule(campaign, actor=self.user, code="fever", label="发热", field="fever",
                                              operator="eq", value="yes", category=category)
        with psycopg.connect(**psycopg_params()) as conn:
            for table in SEEDED:
                conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            try:
                self._copy(conn)
                conn.execute("SET CONSTRAINTS ALL IMMEDIATE")  # Django's foreign keys are deferred: check them now
            finally:
                for table in SEEDED:
                    conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
            conn.commit()
            conn.autocommit = True
            for table in SEEDED:
                conn.execute(f"VACUUM ANALYZE {table}")

    def _copy(self, conn):
        rng = np.random.default_rng(SEED)
        rows = conn.execute("SELECT id, grid_code FROM registry_household WHERE grid_code LIKE '370103%' "
                            "ORDER BY id").fetchall()
        grid_points = dict((code, (x, y)) for code, x, y in conn.execute(
            "SELECT a.code, ST_X(p), ST_Y(p) FROM geo_area a JOIN geo_generation g ON g.id = a.generation_id, "
            "ST_PointOnSurface(a.geom) p WHERE g.state = 'active' AND a.level = 'grid'").fetchall())
        grid_list = sorted(grid_points)
        pick = rng.choice(len(rows), size=STANDING, replace=False)
        status = rng.choice(STATUSES, size=STANDING, p=STATUS_P)
        start = self.now - timedelta(days=6)
        offsets = rng.uniform(0, 6 * 86400 - 3600, size=STANDING)
        members = np.where(status == "visited", np.minimum(1 + rng.poisson(1.6, size=STANDING), 8), 0)
        place = rng.choice(3, size=VISITS, p=[0.96, 0.01, 0.03])  # inside, outside, no fix
        ids = [r[0] for r in conn.execute("SELECT nextval(pg_get_serial_sequence('campaigns_visit', 'id')) "
                                          "FROM generate_series(1, %s)", [VISITS]).fetchall()]
        visit_columns = ["id", "campaign_id", "round", "household_id", "grid_code", "district_code", "status",
                         "revisit_at", "worker_id", "visited_at", "location", "inside_grid", "form_version_id",
                         "answers_enc", "members", "stats", "flags", "instance_id", "source", "created_at"]
        campaign, user, version = self.campaign.pk, self.user.pk, self.campaign.form_version_id
        standings, member_rows, hits = [], [], []
        per_grid = {}

        def location(n, grid):
            kind = place[n]
            if kind == 2:
                return None, None
            code = grid if kind == 0 else grid_list[(grid_list.index(grid) + 1) % len(grid_list)]
            x, y = grid_points[code]
            return f"SRID=4326;POINT({x} {y})", kind == 0

        n = 0
        with conn.cursor().copy(f"COPY campaigns_visit ({', '.join(visit_columns)}) FROM STDIN") as copy:
            for i in range(STANDING):
                household, grid = rows[pick[i]]
                moment = start + timedelta(seconds=float(offsets[i]))
                if i < EARLIER:  # an absent call first
                    earlier = moment - timedelta(seconds=float(rng.uniform(600, 3000)))
                    point, inside = location(n, grid)
                    copy.write_row((ids[n], campaign, 1, household, grid, grid[:6], "absent", None, user, earlier,
                                    point, inside, version, "", 0, "{}", "{}", "", "page", earlier))
                    n += 1
                state = str(status[i])
                count = int(members[i])
                stats, flagged = {}, 0
                for key, p in STAT_P.items():
                    value = int(rng.binomial(count, p)) if count else 0
                    if value:
                        stats[key] = value
                flagged = stats.get("abnormal", 0)
                revisit = moment + timedelta(hours=float(rng.uniform(-24, 72))) if state == "revisit" else None
                point, inside = location(n, grid)
                sealed = "A" * (200 + 150 * count) if count else ""
                copy.write_row((ids[n], campaign, 1, household, grid, grid[:6], state, revisit, user, moment, point,
                                inside, version, sealed, count, json.dumps(stats), "{fever}" if flagged else "{}",
                                "", "page", moment))
                for index in range(count):
                    member_rows.append((ids[n], index, rng.bytes(32).hex(), index < flagged))
                for index in range(flagged):
                    hits.append((ids[n], self.rule.pk, index, moment))
                standings.append((campaign, 1, household, grid, state, revisit, ids[n], count, flagged, moment))
                row = per_grid.setdefault(grid, {"visited": 0, "absent": 0, "refused": 0, "moved_out": 0,
                                                 "revisit": 0, "members": 0, "flagged_members": 0, "stats": {}})
                row[state] += 1
                row["members"] += count
                row["flagged_members"] += flagged
                for key, value in stats.items():
                    row["stats"][key] = row["stats"].get(key, 0) + value
                n += 1
        assert n == VISITS
        with conn.cursor().copy("COPY campaigns_visitmember (visit_id, index, id_number_index, flagged) "
                                "FROM STDIN") as copy:
            for row in member_rows:
                copy.write_row(row)
        with conn.cursor().copy("COPY campaigns_flaghit (visit_id, rule_id, member_index, created_at) "
                                "FROM STDIN") as copy:
            for row in hits:
                copy.write_row(row)
        with conn.cursor().copy("COPY campaigns_householdscreening (campaign_id, round, household_id, grid_code, "
                                "status, revisit_at, last_visit_id, members, flagged_members, updated_at) "
                                "FROM STDIN") as copy:
            for row in standings:
                copy.write_row(row)
        conn.execute("CREATE TEMP TABLE bench_counts (grid_code varchar(15), visited int, absent int, refused int, "
                     "moved_out int, revisit int, members int, flagged_members int, stats jsonb) ON COMMIT DROP")
        with conn.cursor().copy("COPY bench_counts FROM STDIN") as copy:
            for grid, row in per_grid.items():
                copy.write_row((grid, row["visited"], row["absent"], row["refused"], row["moved_out"],
                                row["revisit"], row["members"], row["flagged_members"], json.dumps(row["stats"])))
        conn.execute("UPDATE campaigns_coveragecount c SET visited = b.visited, absent = b.absent, "
                     "refused = b.refused, moved_out = b.moved_out, revisit = b.revisit, members = b.members, "
                     "flagged_members = b.flagged_members, stats = b.stats FROM bench_counts b "
                     "WHERE c.campaign_id = %s AND c.round = 1 AND c.grid_code = b.grid_code", [campaign])
        self.flag_hits = len(hits)

    # Timing -------------------------------------------------------------------------------------------------------

    def run(self, runs, households):
        from wangge.campaigns import ledger, services
        from wangge.campaigns.models import CoverageCount

        session = login_session(self.user)
        url = f"/api/v1/campaigns/campaigns/{self.campaign.pk}/coverage/"
        api = {}
        try:
            with Gunicorn() as server:
                for level in ("grid", "subdistrict", "live"):
                    if level == "live":  # a round opened without its persons counted: the ledger counts the registry
                        CoverageCount.objects.filter(campaign=self.campaign).update(registered_persons=None)
                    times = []
                    client = server.connection(timeout=60)
                    for i in range(runs + 1):
                        started = time.perf_counter()
                        client.request("GET", f"{url}?level={'grid' if level == 'live' else level}",
                                       headers={"Cookie": cookie_header(session)})
                        response = client.getresponse()
                        body = response.read()
                        elapsed = time.perf_counter() - started
                        if response.status != 200:
                            sys.exit(f"coverage answered {response.status}: {body[:300]!r}")
                        if i:
                            times.append(elapsed)
                    client.close()
                    api[level] = (statistics.median(times), body)
                shape = server.describe()
        finally:
            session.delete()
        services.count_registered_persons(self.campaign, 1)
        in_process = []
        for i in range(runs + 1):
            started = time.perf_counter()
            ledger.coverage(self.campaign, user=self.user, level="grid")
            if i:
                in_process.append(time.perf_counter() - started)
        peer_times = []
        with psycopg.connect(**psycopg_params()) as conn:
            # JIT would compile this one statement for seconds (its estimated cost is high): the peer runs without
            conn.execute("SET jit = off")
            for i in range(runs + 1):
                started = time.perf_counter()
                peer = peer_figures(conn, self.campaign.pk)
                if i:
                    peer_times.append(time.perf_counter() - started)
        check(json.loads(api["grid"][1]), peer)
        from wangge.campaigns import reports

        tables = {"today": [], "yesterday": []}  # for the record: the statistics table, both of its paths
        for cutoff, times in tables.items():
            day = timezone.localdate() - timedelta(days=0 if cutoff == "today" else 1)
            for i in range(min(runs, 3) + 1):
                started = time.perf_counter()
                reports.statistics(self.campaign, user=self.user, cutoff=day)
                if i:
                    times.append(time.perf_counter() - started)
        ours, floor = api["grid"][0], statistics.median(peer_times)
        print(f"campaign_ledger: whole district ({households:,} households, {len(peer):,} grids), "
              f"{VISITS:,} visits ({STANDING:,} households called on, {self.flag_hits:,} flags), medians of {runs}")
        print(f"  ours: GET …/coverage/?level=grid via gunicorn ({shape})   {ours * 1000:7.0f} ms   "
              f"target ≤ {TARGET_S * 1000:.0f} ms")
        print(f"        GET …/coverage/?level=subdistrict                          "
              f"{api['subdistrict'][0] * 1000:7.0f} ms")
        print(f"        … the same, persons not counted at the round's opening (live)  "
              f"{api['live'][0] * 1000:7.0f} ms")
        print(f"        ledger.coverage() in-process, grid level                    "
              f"{statistics.median(in_process) * 1000:7.0f} ms")
        print(f"  (statistics table per subdistrict, in-process, no target: cut-off today "
              f"{statistics.median(tables['today']) * 1000:.0f} ms, yesterday "
              f"{statistics.median(tables['yesterday']) * 1000:.0f} ms)")
        print(f"  peer: GROUP BY over the raw visits (psycopg, bare SQL)            {floor * 1000:7.0f} ms   "
              f"ours/peer {ours / floor:.2f} (the peer takes {floor / ours:.1f}× ours)")

    def clean_up(self):
        if self.campaign is None and self.user is None:
            return
        with psycopg.connect(**psycopg_params()) as conn:
            if self.campaign is not None:
                pk = self.campaign.pk
                visits = "(SELECT id FROM campaigns_visit WHERE campaign_id = %s)"
                for sql in (f"DELETE FROM campaigns_flaghit WHERE visit_id IN {visits}",
                            f"DELETE FROM campaigns_visitmember WHERE visit_id IN {visits}",
                            f"DELETE FROM campaigns_personproposal WHERE visit_id IN {visits}",
                            f"DELETE FROM campaigns_answerreveal WHERE visit_id IN {visits}",
                            "DELETE FROM campaigns_householdscreening WHERE campaign_id = %s",
                            "DELETE FROM campaigns_visit WHERE campaign_id = %s",
                            "DELETE FROM campaigns_coveragecount WHERE campaign_id = %s",
                            "DELETE FROM campaigns_dailyreport WHERE campaign_id = %s",
                            "DELETE FROM campaigns_missingreportnotice WHERE campaign_id = %s",
                            "DELETE FROM campaigns_campaignround WHERE campaign_id = %s",
                            "DELETE FROM campaigns_campaignworker WHERE campaign_id = %s",
                            "DELETE FROM campaigns_flagrule WHERE campaign_id = %s",
                            "DELETE FROM campaigns_campaign WHERE id = %s"):
                    conn.execute(sql, [pk])
            if self.user is not None:  # raw SQL: the ORM's cascade would visit every app's tables
                conn.execute("DELETE FROM accounts_user WHERE id = %s", [self.user.pk])
            conn.commit()
        self.campaign = self.user = None
        print("campaign_ledger: the seeded campaign and the bench user were deleted")


# The peer: the ledger's per-grid figures from the raw rows — each household's latest call in the round by DISTINCT ON
# (the standing), grouped per grid; households and persons registered per grid from the registry. One statement.
PEER_SQL = """
WITH latest AS (
    SELECT DISTINCT ON (household_id) id, household_id, grid_code, status, revisit_at, members, inside_grid
    FROM campaigns_visit WHERE campaign_id = %(campaign)s AND round = 1
    ORDER BY household_id, visited_at DESC, id DESC),
flagged AS (
    SELECT m.visit_id, count(*) AS n FROM campaigns_visitmember m JOIN latest l ON l.id = m.visit_id
    WHERE m.flagged GROUP BY m.visit_id),
open_flags AS (
    SELECT h.visit_id, count(*) AS n FROM campaigns_flaghit h JOIN latest l ON l.id = h.visit_id
    JOIN campaigns_flagrule r ON r.id = h.rule_id LEFT JOIN cases_event e ON e.id = h.event_id
    WHERE r.category_id IS NOT NULL AND (e.id IS NULL OR e.state = 'reported') GROUP BY h.visit_id),
calls AS (
    SELECT l.grid_code,
           count(*) FILTER (WHERE status = 'visited') AS visited, count(*) FILTER (WHERE status = 'absent') AS absent,
           count(*) FILTER (WHERE status = 'refused') AS refused,
           count(*) FILTER (WHERE status = 'moved_out') AS moved_out,
           count(*) FILTER (WHERE status = 'revisit') AS revisit,
           count(*) FILTER (WHERE status = 'revisit' AND (revisit_at IS NULL OR revisit_at <= now())) AS due,
           sum(l.members) AS members, sum(coalesce(f.n, 0)) AS flagged, sum(coalesce(o.n, 0)) AS open_flags,
           count(*) FILTER (WHERE inside_grid IS FALSE) AS outside,
           count(*) FILTER (WHERE inside_grid IS NULL) AS unlocated
    FROM latest l LEFT JOIN flagged f ON f.visit_id = l.id LEFT JOIN open_flags o ON o.visit_id = l.id
    GROUP BY l.grid_code),
registered AS (
    SELECT grid_code, count(*) AS n FROM registry_household WHERE grid_code LIKE '370103%%' GROUP BY grid_code),
persons AS (
    SELECT grid_code, count(*) AS n FROM registry_person WHERE grid_code LIKE '370103%%' AND status = 'normal'
    GROUP BY grid_code)
SELECT a.code, coalesce(r.n, 0), coalesce(p.n, 0), coalesce(c.visited, 0), coalesce(c.absent, 0),
       coalesce(c.refused, 0), coalesce(c.moved_out, 0), coalesce(c.revisit, 0), coalesce(c.due, 0),
       coalesce(c.members, 0), coalesce(c.flagged, 0), coalesce(c.open_flags, 0), coalesce(c.outside, 0),
       coalesce(c.unlocated, 0)
FROM geo_area a JOIN geo_generation g ON g.id = a.generation_id AND g.state = 'active'
LEFT JOIN registered r ON r.grid_code = a.code LEFT JOIN persons p ON p.grid_code = a.code
LEFT JOIN calls c ON c.grid_code = a.code
WHERE a.level = 'grid' AND a.code LIKE '370103%%'
"""
PEER_COLUMNS = ("registered", "registered_persons", "visited", "absent", "refused", "moved_out", "revisit",
                "revisits_due", "members", "flagged_members", "flags_open", "outside_grid", "unlocated")


def peer_figures(conn, campaign):
    return {row[0]: dict(zip(PEER_COLUMNS, (int(v) for v in row[1:]), strict=True))
            for row in conn.execute(PEER_SQL, {"campaign": campaign}).fetchall()}


def check(answer, peer):
    """The peer must compute the same figures: per grid, every column against the API's answer."""
    ours = {row["code"]: row for row in answer["rows"]}
    if set(ours) != set(peer):
        sys.exit(f"the grids differ: {len(ours)} in ours, {len(peer)} in the peer's")
    wrong = [(code, column, peer[code][column], ours[code][column]) for code in peer for column in PEER_COLUMNS
             if peer[code][column] != ours[code][column]]
    if wrong:
        sys.exit(f"the peer disagrees with the ledger (grid, column, peer, ours): {wrong[:10]} … {len(wrong)} in all")


if __name__ == "__main__":
    main()
