"""Benchmark: door-to-door visits submitted through the API by 8 concurrent clients (issue 5, "Speed": ≥ 100 visits/s
sustained), beside the bare INSERTs of the same rows (the floor).

- Ours: POST /api/v1/campaigns/visits/ to a production gunicorn (bench/server.py: two gthread workers per core × 2
  threads, as scripts/serve.sh runs it) on loopback. Each of 8 clients is a community's staff member (VISIT_HOUSEHOLD in
  one of 8 communities of different subdistricts, signed in by session with a CSRF cookie + header as a browser sends)
  going household by household through their community, with a fresh instance id per visit: 90 % found at home, with the
  household form's answers for each registry member (name and ID number, so each is matched through the blind index)
  and, every fifth household, one member the registry does not know (a proposal); 10 % absent. The server does what a
  visit does: the scope checks, the instance-id lock, the form validation, member matching, proposals, sealing the
  answers (AES-GCM), the standing and the grid's ledger row, and the JSON answer.
  The load is bench/server.py's drive(): a fresh connection per visit by default (--keep-alive: one per client).
  WARMUP_S of warm-up, then DURATION_S measured. Visits/s is the median over WINDOW_S windows; latency median and
  p99 over every measured request.
- Floor: as many visits as ours made in the measured time, INSERTed through psycopg from 8 threads on their own
  connections, one transaction per visit: the visit row (answers sealed beforehand) and its member rows. No HTTP,
  no Django, no validation, no matching, no ledger.
- Runs in a throwaway copy of the dev database (`CREATE DATABASE … TEMPLATE`, needs the demo district and population:
  `manage.py load_demo`), migrated to the current migrations, dropped at the end (unless --keep). The dev database is
  only read (as a template), so the bench needs nobody else connected to it for the few seconds of the copy.

    .venv/bin/python bench/visit_submit.py [--duration 25] [--warmup 5] [--keep] [--keep-alive]
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

import scratch_db  # noqa: E402

CLIENTS = 8
WINDOW_S = 5
SEED = 5
TARGET_PER_S = 100
URL = "/api/v1/campaigns/visits/"  # reverse("campaign-visit-list")
BENCH_DB = os.environ.get("WANGGE_BENCH_DB", "wangge_bench_visits")
NAME = "bench:visit_submit"


# Data ----------------------------------------------------------------------------------------------------------------

def id_number(rng):
    """A valid 18-digit ID number of the district, unknown to the registry (sequence 900–999)."""
    from stdnum.cn import ric

    body = f"370103{1950 + int(rng.integers(60))}{1 + int(rng.integers(12)):02d}{1 + int(rng.integers(28)):02d}" \
           f"{900 + int(rng.integers(100))}"
    return body + ric.calc_check_digit(body + "?")  # stdnum wants a placeholder where the check digit goes


def setup():
    """The campaign (the whole district, started: round 1 and its ledger rows), 8 community staff users and each
    one's prepared visit bodies."""
    import numpy as np
    from django.db import connection

    from wangge.accounts.models import AreaAssignment, Role, User
    from wangge.campaigns import services
    from wangge.core import pii
    from wangge.geo.models import Generation
    from wangge.registry.models import Household, Person

    generation = Generation.objects.filter(state=Generation.State.ACTIVE).first()
    if generation is None or not Household.objects.exists():
        sys.exit("No demo district or population: run `manage.py load_demo` first.")
    actor = User.objects.create(username="bench-visit-admin", is_superuser=True)
    district = Household.objects.exclude(grid_code="").values_list("grid_code", flat=True).first()[:6]
    from datetime import date, timedelta

    campaign = services.do_create_campaign(
        actor=actor, name=NAME, purpose="benchmark", legal_basis="benchmark", area_code=district,
        target_codes=[district], starts_on=date.today(), ends_on=date.today() + timedelta(days=7), retention_days=0)
    campaign = services.do_start_campaign(campaign, actor=actor)
    # 8 communities with the most households, no two of one subdistrict while there are enough subdistricts
    with connection.cursor() as cursor:
        cursor.execute("SELECT left(grid_code, 12), count(*) FROM registry_household WHERE grid_code <> '' "
                       "GROUP BY 1 ORDER BY 2 DESC")
        ranked = cursor.fetchall()
    chosen, subdistricts = [], set()
    for code, _count in ranked:
        if code[:9] not in subdistricts:
            chosen.append(code)
            subdistricts.add(code[:9])
        if len(chosen) == CLIENTS:
            break
    for code, _count in ranked:
        if len(chosen) == CLIENTS:
            break
        if code not in chosen:
            chosen.append(code)
    role = Role.objects.get(slug="community_staff")
    rng = np.random.default_rng(SEED)
    clients = []
    for index, community in enumerate(chosen):
        user = User.objects.create(username=f"bench-visit-{index}")
        AreaAssignment.objects.create(user=user, area_code=community, role=role)
        households = list(Household.objects.filter(grid_code__startswith=community).order_by("grid_code", "pk")
                          .values_list("pk", flat=True))
        members = {}
        for household, name, sealed in (Person.objects.filter(household_id__in=households)
                                        .values_list("household_id", "name", "id_number_enc")):
            members.setdefault(household, []).append(
                (name, pii.decrypt(sealed, purpose=pii.ID_NUMBER) if sealed else ""))
        bodies = []
        for n, household in enumerate(households):
            if rng.random() < 0.1:
                bodies.append({"campaign": campaign.pk, "household": household, "status": "absent"})
                continue
            rows = [{"name": name, "id_number": number, "returned": "no", "fever": "no", "contact": "no",
                     "isolation": "none"} for name, number in members.get(household, [])[:6]]
            if n % 5 == 0 or not rows:
                rows.append({"name": "新成员", "id_number": id_number(rng), "returned": "yes",
                             "return_date": str(date.today() - timedelta(days=3)), "from_place": "上海",
                             "provinces_14d": ["p31"], "transport": "G123", "fever": "no", "contact": "no",
                             "isolation": "home"})
            bodies.append({"campaign": campaign.pk, "household": household, "status": "visited",
                           "answers": {"members": rows}})
        clients.append((user, bodies))
    return campaign, actor, clients


# Ours: through the API -----------------------------------------------------------------------------------------------

def api_requests(sessions, clients):
    """request(i, n) for server.drive: client i's n-th household as JSON, with a fresh instance id, signed in by
    session with a CSRF cookie and header as a browser sends."""
    from django.conf import settings
    from django.utils.crypto import get_random_string

    headers = []
    for session in sessions:
        csrf = get_random_string(32)
        headers.append({"Cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}; "
                                  f"{settings.CSRF_COOKIE_NAME}={csrf}",
                        "X-CSRFToken": csrf, "Content-Type": "application/json", "Accept": "application/json"})

    def request(i, n):
        bodies = clients[i][1]
        body = json.dumps({**bodies[n % len(bodies)], "instance_id": f"uuid:bench-{i}-{n}"},
                          ensure_ascii=False).encode()
        return "POST", URL, body, headers[i]

    return request


# The floor: bare INSERTs ---------------------------------------------------------------------------------------------

def run_floor(count, campaign, clients):
    """`count` visits as bare INSERTs (the visit row with its sealed answers, then its member rows), one transaction
    per visit, CLIENTS threads on their own connections."""
    from django.db import connection
    from django.utils import timezone
    from server import drive_floor

    from wangge.campaigns.models import Visit, VisitMember
    from wangge.campaigns.services import ANSWERS_PURPOSE
    from wangge.core import pii
    from wangge.registry.models import Household

    grids = dict(Household.objects.filter(pk__in=[b["household"] for _u, bodies in clients for b in bodies])
                 .values_list("pk", "grid_code"))
    columns = [field for field in Visit._meta.concrete_fields if not field.primary_key]
    names = ", ".join(connection.ops.quote_name(field.column) for field in columns)
    visit_sql = f"INSERT INTO {Visit._meta.db_table} ({names}) VALUES ({', '.join(['%s'] * len(columns))}) RETURNING id"
    member_sql = (f'INSERT INTO {VisitMember._meta.db_table} (visit_id, "index", person_id, id_number_index, flagged) '
                  "VALUES (%s, %s, NULL, %s, false)")
    now = timezone.now()
    work = [[] for _ in range(CLIENTS)]
    for n in range(count):
        i = n % CLIENTS
        body = clients[i][1][(n // CLIENTS) % len(clients[i][1])]
        grid = grids[body["household"]]
        answers = body.get("answers")
        members = answers["members"] if answers else []
        values = {  # by column, as the ORM writes them (defaults for the columns not named)
            "campaign_id": campaign.pk, "round": campaign.current_round, "household_id": body["household"],
            "grid_code": grid, "district_code": grid[:6], "status": body["status"], "worker_id": clients[i][0].pk,
            "visited_at": now, "form_version_id": campaign.form_version_id, "members": len(members),
            "answers_enc": pii.encrypt(json.dumps(answers, ensure_ascii=False), purpose=ANSWERS_PURPOSE)
            if answers else "", "instance_id": f"uuid:floor-{n}", "source": "api", "created_at": now}
        row = [field.get_db_prep_save(values[field.attname] if field.attname in values else field.get_default(),
                                      connection) for field in columns]
        indexes = [pii.blind_index(member["id_number"], purpose=pii.ID_NUMBER) for member in members]
        work[i].append((row, indexes))
    params = {k: v for k, v in connection.get_connection_params().items() if k != "cursor_factory"}

    def write(cursor, item):
        row, indexes = item
        cursor.execute(visit_sql, row, prepare=True)
        visit_id = cursor.fetchone()[0]
        if indexes:
            cursor.executemany(member_sql, [(visit_id, k, index) for k, index in enumerate(indexes)])

    return drive_floor(params, work, write)


# Main ----------------------------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=25, help="measured seconds of ours")
    parser.add_argument("--warmup", type=float, default=5, help="seconds of warm-up before measuring")
    parser.add_argument("--keep", action="store_true", help=f"keep {BENCH_DB} (for inspection)")
    parser.add_argument("--keep-alive", action="store_true", help=(
        "one kept-alive connection per client for the whole run (gunicorn then binds each client to one worker "
        "process for good: all 8 on one worker halves the figure)"))
    args = parser.parse_args()

    began = time.perf_counter()
    os.environ["DATABASE_URL"] = scratch_db.create(BENCH_DB, copy=True)
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from server import Gunicorn, drive, login_session, percentile

        from wangge.campaigns.models import CoverageCount, PersonProposal, Visit

        call_command("migrate", verbosity=0)
        campaign, _actor, clients = setup()
        sessions = [login_session(user) for user, _bodies in clients]
        connection.close()
        print(f"visit_submit: {BENCH_DB} copied, migrated and set up in {time.perf_counter() - began:.0f} s",
              flush=True)
        with Gunicorn(env={"DATABASE_URL": os.environ["DATABASE_URL"]}) as server:
            run = drive(server, CLIENTS, api_requests(sessions, clients), args.warmup, args.duration,
                        keep_alive=args.keep_alive)
        shape = server.describe()
        ours_rate, rates, median_ms, p99_ms = run.summary(WINDOW_S)
        count, made = len(run.results), run.made
        visits = Visit.objects.filter(campaign=campaign).count()
        proposals = PersonProposal.objects.count()
        ledger = sum(CoverageCount.objects.filter(campaign=campaign).values_list("visited", flat=True))
        floor_s, floor_latencies = run_floor(count, campaign, clients)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            scratch_db.drop(BENCH_DB)

    floor_rate = count / floor_s
    floor_ms = [x * 1000 for x in floor_latencies]
    print(f"visit_submit: {CLIENTS} concurrent clients (community staff of {CLIENTS} communities), gunicorn "
          f"{shape} ({'keep-alive' if args.keep_alive else 'a fresh connection per visit'}), "
          f"{args.warmup:.0f} s warm-up + {args.duration:.0f} s measured; "
          f"{sum(len(b) for _u, b in clients)} households prepared; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"  wrote {visits} visits ({made} answered 201), {proposals} proposals; ledger counts {ledger} visited")
    print(f"  {'':58} {'visits/s':>9} {'median':>8} {'p99':>8}  (ms)")
    label = f"ours: POST {URL} (median of {len(rates)} {WINDOW_S} s windows)"
    print(f"  {label:58} {ours_rate:9.0f} {median_ms:8.2f} {p99_ms:8.2f}"
          f"   windows {' '.join(f'{r:.0f}' for r in rates)}; {count} measured, {made} in all")
    print(f"  {'floor: bare INSERT visit + members (psycopg, 8 threads)':58} {floor_rate:9.0f} "
          f"{statistics.median(floor_ms):8.2f} {percentile(floor_ms, 99):8.2f}   {count} visits in {floor_s:.1f} s")
    print(f"  ratio (floor / ours, visits/s): {floor_rate / ours_rate:.1f}x; "
          f"target >= {TARGET_PER_S} visits/s: {'met' if ours_rate >= TARGET_PER_S else 'MISSED'}")


if __name__ == "__main__":
    main()
