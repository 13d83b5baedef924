"""Benchmark: the clock job re-evaluating 100,000 open events (issue 4, "Speed": cases.clocks.evaluate_clocks
≤ 10 s), beside a naive per-event loop.

- Runs in a throwaway database (default `wangge_bench_clock`, created and migrated at every run, dropped at the end;
  the dev database is only read, for the active generation's grid codes). Seeded with COPY, the change log's row
  triggers disabled for the seed only (ALTER TABLE … DISABLE TRIGGER <pghistory's>) and enabled again before
  anything is timed, so the job's own writes are logged as in production; the other triggers on events (the KPI
  roll-ups, statement-level) run for the seed, so the roll-ups hold the seeded events as they would:
  - 100,000 open events (dispatched / signed / handled) on the real grid codes, the seeded categories and
    urgencies, due_at = cases.calendar.add_working_time(dispatched_at, the category's limit) as dispatch computes
    it, and dispatched_at set back from NOW so that the working time used is a share of the limit drawn from SHARES:
    about four fifths under the warning threshold, the rest crossing warning, yellow or red in the run (--heavy:
    a third crossing). Every event starts on_time, as after a stop of the job worker: its heaviest run;
  - a grid chief (a user holding a grid post) in every grid, a community staff user per community, a subdistrict
    staff user per subdistrict, two command-centre users: each rise notifies 2 to 5 users, and each notification is
    queued for the outbound channels configured (capture by default).
- Ours: clocks.evaluate_clocks(NOW) inside the job's change-log context (as cases.jobs runs it), --runs times from
  the same state: the levels, carded_at, the job's timeline rows, notifications, outbox messages and change-log rows
  are reset (and the tables vacuumed) before each run. The figure is the median wall time. Each run is followed at
  once by a second one with nothing left to raise: the steady cost of the five-minute job.
- Peer: a naive per-event loop on a sample (every 50th event), extrapolated: for each event,
  calendar.elapsed_fraction + calendar.clock_level; for a rise, event.save(), one timeline row and one notification
  per recipient (the chain looked up per event, each queued for the outbox) — the same outcome, which is checked
  against ours on the sample row by row: levels and card moments, timeline rows, notifications, outbox messages and
  change-log rows.
Machine notes: NOW is a fixed working Wednesday of 2025 (the calendar shipped with the project).

    .venv/bin/python bench/clock_job.py [--events 100000] [--runs 3] [--heavy] [--keep] [--profile]
"""

import argparse
import bisect
import os
import signal
import statistics
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import scratch_db  # noqa: E402

BENCH_DB = os.environ.get("WANGGE_BENCH_CLOCK_DB", "wangge_bench_clock")
SAMPLE_EVERY = 50
TARGET_S = 10.0
SEED = 4
# (share of events, lowest and highest fraction of the limit used): on time, warning, yellow card, red card
# (red lies past the category's red factor: "red-" and "red+" are just below and above it). The default mix is a
# district meeting a ~90 % on-time rate with a backlog; --heavy is a stress case, a third of the events crossing.
SHARES = [(0.78, 0.0, 0.68), (0.11, 0.72, 0.98), (0.08, 1.03, "red-"), (0.03, "red+", 3.5)]
HEAVY_SHARES = [(0.66, 0.0, 0.68), (0.14, 0.72, 0.98), (0.13, 1.03, "red-"), (0.07, "red+", 3.5)]


def dev_grid_codes():
    import psycopg

    with psycopg.connect(scratch_db.dev_url().replace("postgis://", "postgresql://")) as conn:
        rows = conn.execute("SELECT a.code FROM geo_area a JOIN geo_generation g ON g.id = a.generation_id "
                            "WHERE g.state = 'active' AND a.level = 'grid' ORDER BY a.code").fetchall()
    if not rows:
        sys.exit("No active generation in the dev database: run `manage.py load_demo` first.")
    return [code for (code,) in rows]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help=f"keep the throwaway database {BENCH_DB}")
    parser.add_argument("--profile", action="store_true", help="one more run of ours under cProfile, at the end")
    parser.add_argument("--heavy", action="store_true", help="the stress mix: a third of the events cross a level")
    args = parser.parse_args()

    grids = dev_grid_codes()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a stopped run still drops the throwaway database
    started = time.perf_counter()
    os.environ["DATABASE_URL"] = scratch_db.create(BENCH_DB)
    try:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wangge.settings")
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        print(f"clock_job: {BENCH_DB} created and migrated in {time.perf_counter() - started:.1f} s", flush=True)
        Bench(grids, args.events, HEAVY_SHARES if args.heavy else SHARES).run(args.runs, profile=args.profile)
    finally:
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        if not args.keep:
            scratch_db.drop(BENCH_DB)
            print(f"clock_job: dropped {BENCH_DB}")


def change_log_triggers(cursor, table):
    """The change log's row triggers on `table` (pghistory's, writing to its event table). Only these stand aside
    for the seed and the resets: other triggers (the KPI roll-ups) run, so the roll-ups hold the seeded events and
    every run starts from the same state, as in production."""
    cursor.execute("SELECT t.tgname FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
                   "WHERE t.tgrelid = %s::regclass AND NOT t.tgisinternal AND p.prosrc LIKE %s",
                   [table, f'%INSERT INTO "{table}event"%'])
    names = [name for (name,) in cursor.fetchall()]
    if not names:
        sys.exit(f"no change-log triggers found on {table}")
    return names


class Bench:
    def __init__(self, grids, events, shares):
        from wangge.cases import calendar

        self.grids, self.events, self.shares = grids, events, shares
        self.now = datetime(2025, 11, 19, 10, 0, tzinfo=calendar.zone())  # a working Wednesday

    # Seeding ------------------------------------------------------------------------------------------------------

    def seed_people(self):
        from django.contrib.auth.hashers import make_password

        from wangge.accounts.models import AreaAssignment, Role, User
        from wangge.workforce.models import GridPost

        communities = sorted({grid[:12] for grid in self.grids})
        subdistricts = sorted({grid[:9] for grid in self.grids})
        district = self.grids[0][:6]
        names = ([f"chief-{g}" for g in self.grids] + [f"community-{c}" for c in communities]
                 + [f"subdistrict-{s}" for s in subdistricts] + ["command-1", "command-2", "reporter"])
        unusable = make_password(None)
        User.objects.bulk_create([User(username=name, password=unusable) for name in names], batch_size=5000)
        users = dict(User.objects.values_list("username", "pk"))
        GridPost.objects.bulk_create([
            GridPost(kind="grid_chief", grid_code=g, holder_user_id=users[f"chief-{g}"], holder_name=f"网格长 {g[-3:]}",
                     started_on=date(2024, 1, 1)) for g in self.grids], batch_size=5000)
        roles = dict(Role.objects.values_list("slug", "pk"))
        assignments = ([AreaAssignment(user_id=users[f"community-{c}"], area_code=c, role_id=roles["community_staff"])
                        for c in communities]
                       + [AreaAssignment(user_id=users[f"subdistrict-{s}"], area_code=s,
                                         role_id=roles["subdistrict_staff"]) for s in subdistricts]
                       + [AreaAssignment(user_id=users[name], area_code=district, role_id=roles["command"])
                          for name in ("command-1", "command-2")])
        AreaAssignment.objects.bulk_create(assignments, batch_size=5000)
        self.reporter_id = users["reporter"]
        return len(names)

    def moment_at(self, ruler, target):
        """The local moment whose working seconds (ruler.seconds) equal `target`: the inverse of Ruler.seconds."""
        index = bisect.bisect_right(ruler.cumulative, target) - 1
        remaining = target - ruler.cumulative[index]
        offset = 0
        for start, end in ruler.spans:
            if remaining <= end - start:
                offset = start + remaining
                break
            remaining -= end - start
        day = date.fromordinal(ruler.first + index)
        return datetime.combine(day, datetime.min.time(), tzinfo=ruler.zone) + timedelta(seconds=offset)

    def seed_events(self):
        import numpy as np
        from django.db import connection

        from wangge.cases import calendar
        from wangge.cases.clocks import Ruler
        from wangge.cases.models import Category, Event

        rng = np.random.default_rng(SEED)
        categories = list(Category.objects.filter(parent__isnull=False, active=True).order_by("pk"))
        ruler = Ruler()
        now_seconds = ruler.seconds(self.now)
        ruler.seconds(self.now - timedelta(days=800))
        ruler.seconds(self.now + timedelta(days=2))
        day_seconds = calendar.working_day_length().total_seconds()
        shares = np.array([share for share, _lo, _hi in self.shares])
        band = rng.choice(len(self.shares), size=self.events, p=shares / shares.sum())
        where = rng.random(self.events)
        pick = rng.integers(len(categories), size=self.events)
        grid_pick = rng.integers(len(self.grids), size=self.events)
        urgency_pick = rng.choice(["normal", "urgent", "emergency"], size=self.events, p=[0.8, 0.15, 0.05])
        state_pick = rng.choice(["dispatched", "signed", "handled"], size=self.events, p=[0.3, 0.5, 0.2])

        fields = [f for f in Event._meta.concrete_fields if not f.primary_key]
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)

        def rows():
            for n in range(self.events):
                category = categories[pick[n]]
                urgency = str(urgency_pick[n])
                amount, unit = category.limit_for(urgency)
                limit = float(amount) * (3600 if unit == "hours" else day_seconds)
                red = float(category.red_factor)
                _share, low, high = self.shares[band[n]]
                low = red * 1.02 if low == "red+" else low
                high = red * 0.98 if high == "red-" else high
                used = (low + (high - low) * where[n]) * limit
                dispatched = self.moment_at(ruler, now_seconds - used)
                due = calendar.add_working_time(dispatched, amount, unit)
                grid = self.grids[grid_pick[n]]
                values = {
                    "case_number": f"{grid[:6]}-BENCH-{n:07d}", "district_code": grid[:6], "grid_code": grid,
                    "source": "grid_worker", "reporter": self.reporter_id,
                    "location": f"SRID=4326;POINT({116.99 + (n % 997) * 1e-5:.6f} {36.65 + (n % 991) * 1e-5:.6f})",
                    "description": f"Benchmark event {n}", "category": category.pk, "urgency": urgency,
                    "emergency": urgency == "emergency", "state": str(state_pick[n]),
                    "dispatched_at": dispatched, "due_at": due, "clock_level": "on_time",
                    "created_at": dispatched - timedelta(minutes=30), "updated_at": dispatched}
                row = []
                for field in fields:
                    value = values[field.name] if field.name in values else field.get_default()
                    row.append(value if field.name == "location" else field.get_db_prep_save(value, connection))
                yield row

        # Built before the COPY starts: the calendar reads a year's days on first use, and no other statement may
        # run on the connection while a COPY is in progress.
        prepared = list(rows())
        table = Event._meta.db_table
        with connection.cursor() as cursor:
            raw = cursor.cursor
            history = change_log_triggers(raw, table)
            for name in history:
                raw.execute(f"ALTER TABLE {table} DISABLE TRIGGER {name}")
            with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in prepared:
                    copy.write_row(row)
            for name in history:
                raw.execute(f"ALTER TABLE {table} ENABLE TRIGGER {name}")
            raw.execute(f"ANALYZE {table}")

    # Measuring ----------------------------------------------------------------------------------------------------

    def reset(self):
        """Every event back on time; the job's timeline rows, notifications and change-log rows gone; vacuumed."""
        from django.db import connection

        with connection.cursor() as cursor:
            history = change_log_triggers(cursor, "cases_event")
            for name in history:
                cursor.execute(f"ALTER TABLE cases_event DISABLE TRIGGER {name}")
            cursor.execute("UPDATE cases_event SET clock_level = 'on_time', carded_at = NULL "
                           "WHERE clock_level <> 'on_time' OR carded_at IS NOT NULL")
            for name in history:
                cursor.execute(f"ALTER TABLE cases_event ENABLE TRIGGER {name}")
            cursor.execute("DELETE FROM cases_eventtimeline WHERE actor_id IS NULL")
            cursor.execute("TRUNCATE cases_notification, cases_eventevent CASCADE")  # and queued outbox messages
            for table in ("cases_event", "cases_eventtimeline", "cases_notification", "cases_eventevent"):
                cursor.execute(f"VACUUM ANALYZE {table}")

    def outcome(self, ids):
        """What a run left on the events `ids`: {part: sorted rows} — their levels and card moments, the job's
        timeline rows, the notifications, their outbox messages and the change-log rows (level and card moment)."""
        from wangge.cases.models import Event, EventTimeline, Notification
        from wangge.outbox.models import OutboxMessage

        history = Event.pgh_event_models["update"].objects.filter(pgh_obj_id__in=ids)
        parts = {
            "levels": Event.objects.filter(pk__in=ids).values_list("pk", "clock_level", "carded_at"),
            "timeline rows": EventTimeline.objects.filter(event_id__in=ids, actor__isnull=True).values_list(
                "event_id", "action", "from_state", "to_state", "note"),
            "notifications": Notification.objects.filter(event_id__in=ids).values_list(
                "event_id", "recipient_id", "kind", "title", "body", "read_at"),
            "outbox messages": OutboxMessage.objects.filter(notification__event_id__in=ids).values_list(
                "notification__event_id", "notification__recipient_id", "notification__kind", "recipient_id",
                "channel", "status", "attempts", "last_error", "sent_at"),
            "change-log rows": history.values_list("pgh_obj_id", "clock_level", "carded_at"),
        }
        return {part: sorted(rows) for part, rows in parts.items()}

    def ours(self):
        """One timed run from the reset state, then one at once after it (nothing left to raise: the steady cost
        of the five-minute job, which reads and computes every open clock all the same)."""
        import pghistory

        from wangge.cases import clocks

        self.reset()
        timed = []
        for _ in range(2):
            started = time.perf_counter()
            with pghistory.context(job="cases.evaluate_clocks"):
                counts = clocks.evaluate_clocks(self.now)
            timed.append(time.perf_counter() - started)
            if not timed[1:]:
                rises = {str(level): n for level, n in counts.items()}
        if counts:
            sys.exit(f"evaluate_clocks is not idempotent: a second run raised {counts}")
        return timed[0], timed[1], rises

    def profile(self):
        """One more run from the reset state under cProfile, with the time spent in each kind of SQL statement."""
        import cProfile
        import pstats
        from collections import defaultdict

        import pghistory
        from django.db import connection

        from wangge.cases import clocks

        statements = defaultdict(lambda: [0, 0.0])

        def timed(execute, sql, params, many, context):
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                key = " ".join(sql.split())[:90]
                statements[key][0] += 1
                statements[key][1] += time.perf_counter() - started

        self.reset()
        profiler = cProfile.Profile()
        with connection.execute_wrapper(timed), pghistory.context(job="cases.evaluate_clocks"):
            profiler.enable()
            clocks.evaluate_clocks(self.now)
            profiler.disable()
        print("profile: SQL statements by total time (count, seconds; the ORM's bulk inserts are batched)")
        for key, (count, seconds) in sorted(statements.items(), key=lambda item: -item[1][1])[:12]:
            print(f"  {count:5d} {seconds:7.2f}  {key}")
        stats = pstats.Stats(profiler).sort_stats("cumulative")
        stats.print_stats(r"wangge/|django/db/models/(query|sql/compiler)", 30)

    def naive(self, ids):
        """The per-event loop: elapsed_fraction, then save + timeline row + notifications (each queued for the
        outbound channels, as the job queues them) for each rise."""
        from wangge.cases import calendar, clocks
        from wangge.cases.models import CLOCK_RANK, ClockLevel, Event, EventTimeline, Notification
        from wangge.outbox import services as outbox

        self.reset()
        started = time.perf_counter()
        for event in Event.objects.filter(pk__in=ids).select_related("category").order_by("pk"):
            if event.clock_level == ClockLevel.RED:
                continue
            fraction = calendar.elapsed_fraction(event.dispatched_at, event.due_at, self.now)
            new = calendar.clock_level(fraction, red_at=float(event.category.red_factor))
            if CLOCK_RANK[new] <= CLOCK_RANK[event.clock_level]:
                continue
            event.clock_level, event.carded_at = new, self.now
            event.save()
            title, body = clocks._message(new, event.case_number, str(event.category), event.due_at)
            EventTimeline.objects.create(event=event, actor=None, action=clocks.TIMELINE_ACTION[new],
                                         from_state=event.state, to_state=event.state, note=title)
            recipients = clocks._recipients([(event.pk, event.grid_code, new, event.department_id)])[event.pk]
            for user_id in sorted(recipients):
                note = Notification.objects.create(recipient_id=user_id, event=event,
                                                   kind=clocks.NOTIFICATION_KIND[new], title=title, body=body)
                outbox.enqueue([note])
        return time.perf_counter() - started

    def counts(self):
        from wangge.cases.models import Event, EventTimeline, Notification
        from wangge.outbox.models import OutboxMessage

        return (EventTimeline.objects.filter(actor__isnull=True).count(), Notification.objects.count(),
                OutboxMessage.objects.count(), Event.pgh_event_models["update"].objects.count())

    def run(self, runs, profile=False):
        from wangge.cases.models import Event

        started = time.perf_counter()
        people = self.seed_people()
        self.seed_events()
        print(f"clock_job: seeded {self.events:,} events on {len(self.grids):,} grids and {people:,} users with "
              f"COPY in {time.perf_counter() - started:.1f} s (change-log triggers off for the seed only)", flush=True)

        times, again, results = [], [], []
        for _ in range(runs):
            elapsed, steady, rises = self.ours()
            times.append(elapsed)
            again.append(steady)
            results.append(rises)
            print(f"  ours: {elapsed:.2f} s  rises {rises}; at once again: {steady:.2f} s, nothing raised", flush=True)
        timeline, notifications, messages, changes = self.counts()
        sample = sorted(pk for pk in Event.objects.values_list("pk", flat=True) if pk % SAMPLE_EVERY == 0)
        ours_outcome = self.outcome(sample)
        naive_s = self.naive(sample)
        naive_outcome = self.outcome(sample)
        for part, rows in ours_outcome.items():
            if rows != naive_outcome[part]:
                wrong = sorted(set(rows) ^ set(naive_outcome[part]))
                sys.exit(f"the naive loop and evaluate_clocks disagree on the sample's {part}: {len(rows)} vs "
                         f"{len(naive_outcome[part])} rows, e.g. {wrong[:3]}")
        checked = ", ".join(f"{len(rows):,} {part}" for part, rows in ours_outcome.items())
        scaled = naive_s * self.events / len(sample)
        ours_s = statistics.median(times)
        rises = sum(results[-1].values())

        print(f"clock_job: {self.events:,} open events, evaluate_clocks at {self.now:%Y-%m-%d %H:%M} (a working "
              f"Wednesday); {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        print(f"  rises per run: {results[-1]} = {rises:,} ({rises / self.events:.0%} of the events): {timeline:,} "
              f"timeline rows, {notifications:,} notifications, {messages:,} outbox messages, {changes:,} change-log "
              "rows")
        print(f"  ours: evaluate_clocks, median of {runs}: {ours_s:7.2f} s   runs "
              + ", ".join(f"{t:.2f}" for t in times) + f"   target ≤ {TARGET_S:.0f} s: "
              + ("met" if ours_s <= TARGET_S else "MISSED"))
        print(f"  ours, run again at once (nothing to raise), median of {runs}: "
              f"{statistics.median(again):7.2f} s   runs " + ", ".join(f"{t:.2f}" for t in again))
        print(f"  peer: naive per-event loop, {len(sample):,} events in {naive_s:.2f} s, "
              f"×{self.events / len(sample):.0f} = {scaled:7.1f} s")
        print(f"  same outcome as ours on the sample (checked row by row): {checked}")
        print(f"  ratio (peer / ours): {scaled / ours_s:.1f}x")
        if profile:
            self.profile()


if __name__ == "__main__":
    main()
