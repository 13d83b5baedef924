"""Benchmark: matching a pushed list of 100,000 rows to the registry and grids (issue 5, "Speed": ≤ 20 s), side by
side in one run:

- ours: `lists.do_import_list(rows=…, commit=True)` — JSON rows in (as a system pushes them) → a committed list: every
  row checked (row id, name, ID checksum, phone), ID and phone numbers sealed (AES-GCM + blind index), the addresses
  normalised and matched against the district's building addresses in Python (one query for the buildings, one for
  the houses and households of the matched ones), the rows COPYed into a temporary table, matched to persons by one
  join on the blind index and written by one INSERT … SELECT; the grids' chains notified (a grid worker per grid is
  made for the run, untimed, so the notifications cost what they would);
- the naive peer: the same rows one at a time through the ORM — seal the numbers, look the person up by blind index,
  else look for a building whose address ends with the row's (normalised, the same normaliser) address, its house and
  household, then save the row — on a SAMPLE-row sample, extrapolated to the list; it notifies nobody. Its matches
  are checked against ours row by row.

Runs against the dev database with the demo population (`manage.py load_demo --quiet` first if it has none); every
run is rolled back, so the database keeps nothing — after the deferred foreign-key checks a commit would run, which
are timed. Medians of RUNS runs of ours.

    .venv/bin/python bench/list_match.py [--rows 100000] [--runs 3] [--sample 2000]
"""

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wangge.settings")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from wangge.accounts.models import AreaAssignment, Role, User  # noqa: E402
from wangge.campaigns import lists  # noqa: E402
from wangge.campaigns.models import MatchMethod, PushedList, PushedRow  # noqa: E402
from wangge.core import pii  # noqa: E402
from wangge.registry import identity  # noqa: E402
from wangge.registry.models import Building, House, Household, Person  # noqa: E402

DISTRICT = "370103"
TARGET_S = 20.0
SEED = 20261128
MIX = {"id_number": 0.70, "address": 0.20, "unmatched": 0.10}


class Rollback(Exception):
    pass


def check_digit(body):
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]


def stranger_id(rng):
    """A valid ID number of a Beijing county, born 1950–1999: almost surely nobody in the demo registry."""
    body = f"110105{rng.randint(1950, 1999)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    return body + check_digit(body)


def build_rows(total):
    """Deterministic rows: 70 % registry persons (by their real ID numbers, decrypted here), 20 % strangers at a
    registry house address (unit and room), 10 % strangers at unknown addresses."""
    rng = random.Random(SEED)
    n_id, n_address = int(total * MIX["id_number"]), int(total * MIX["address"])
    # The same sample every run (ids drawn with the seed), so runs and machines compare.
    person_ids = list(Person.objects.filter(grid_code__startswith=DISTRICT, status="normal")
                      .exclude(id_number_enc="").order_by("pk").values_list("pk", flat=True))
    house_ids = list(House.objects.filter(grid_code__startswith=DISTRICT).exclude(building__address="")
                     .order_by("pk").values_list("pk", flat=True))
    people = list(Person.objects.filter(pk__in=rng.sample(person_ids, min(n_id, len(person_ids))))
                  .order_by("pk").values_list("name", "id_number_enc", "phone_enc"))
    houses = list(House.objects.filter(pk__in=rng.sample(house_ids, min(n_address, len(house_ids))))
                  .order_by("pk").values_list("building__address", "unit", "room"))
    rows = []
    for name, id_enc, phone_enc in people:
        rows.append({"name": name, "id_number": pii.decrypt(id_enc, purpose=pii.ID_NUMBER),
                     "phone": pii.decrypt(phone_enc, purpose=pii.PHONE) if phone_enc else "", "address": ""})
    for address, unit, room in houses:
        rows.append({"name": "核查对象", "id_number": stranger_id(rng), "phone": "",
                     "address": f"{address}{unit}单元{room}室" if unit else f"{address}{room}室"})
    while len(rows) < total:
        rows.append({"name": "核查对象", "id_number": stranger_id(rng), "phone": f"139{rng.randint(0, 10**8 - 1):08d}",
                     "address": f"济南市历下区不存在路{rng.randint(1, 999)}号"})
    rng.shuffle(rows)
    seen, unique = set(), []
    for row in rows:  # a stranger's random number may repeat: the list would refuse the second
        if row["id_number"] not in seen:
            seen.add(row["id_number"])
            unique.append(row)
    return [{"row_id": f"GA-{i:06d}", **row} for i, row in enumerate(unique, start=1)]


def settle():
    """What the commit would still do: the deferred foreign-key checks of the rows written (run now, inside the
    timing, since the run is rolled back instead of committed)."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def bench_actor(with_workers=False):
    """The importer (subdistrict staff at the district); with `with_workers`, one grid worker per current grid of
    the district too (as a city has them), so the grids' notifications cost what they would. Not timed."""
    from wangge.geo.models import Area

    stamp = time.time_ns()
    user = User.objects.create(username=f"bench-lists-{stamp}")
    AreaAssignment.objects.create(user=user, area_code=DISTRICT, role=Role.objects.get(slug="subdistrict_staff"))
    if with_workers:
        codes = list(Area.objects.current().filter(level="grid", code__startswith=DISTRICT)
                     .values_list("code", flat=True))
        workers = User.objects.bulk_create([User(username=f"bench-lists-{stamp}-{code}") for code in codes])
        role = Role.objects.get(slug="grid_worker")
        AreaAssignment.objects.bulk_create([AreaAssignment(user=worker, area_code=code, role=role)
                                            for worker, code in zip(workers, codes, strict=True)])
    return user


def ours(rows):
    """(seconds, report, {row id: grid code}) of one import, rolled back."""
    found = {}
    try:
        with transaction.atomic():
            actor = bench_actor(with_workers=True)
            started = time.perf_counter()
            report = lists.do_import_list(actor=actor, name="基准名单", source="公安", area_code=DISTRICT,
                                          deadline=timezone.now() + timezone.timedelta(days=2), rows=rows,
                                          commit=True)
            settle()
            seconds = time.perf_counter() - started
            found = dict(PushedRow.objects.filter(pushed_list_id=report["list"]).values_list("row_id", "grid_code"))
            raise Rollback
    except Rollback:
        pass
    return seconds, report, found


def naive(rows):
    """(seconds, {row id: grid code}) for `rows` one at a time through the ORM, rolled back."""
    normaliser = lists.normaliser_for(DISTRICT)
    found = {}
    try:
        with transaction.atomic():
            actor = bench_actor()
            pushed = PushedList.objects.create(name="naive", source="公安", area_code=DISTRICT, imported_by=actor,
                                               deadline=timezone.now() + timezone.timedelta(days=2))
            started = time.perf_counter()
            for row in rows:
                number = identity.clean_id_number(row["id_number"]) if row["id_number"] else ""
                phone = identity.clean_phone(row["phone"]) if row["phone"] else ""
                index = pii.blind_index(number, purpose=pii.ID_NUMBER) if number else ""
                person = (Person.objects.filter(id_number_index=index, grid_code__startswith=DISTRICT)
                          .exclude(status="merged").first() if number else None)
                grid, household, match = DISTRICT, None, MatchMethod.NONE
                if person is not None:
                    grid, household, match = person.grid_code, person.household_id, MatchMethod.ID_NUMBER
                elif row["address"]:
                    for key, rest in normaliser.keys(row["address"]):
                        buildings = [b for b in Building.objects.filter(grid_code__startswith=DISTRICT,
                                                                        address__endswith=key)
                                     if normaliser.normalise(b.address) == key]
                        if not buildings:
                            continue
                        if len({b.grid_code for b in buildings}) == 1:
                            grid, match = buildings[0].grid_code, MatchMethod.ADDRESS
                            room = lists.unit_and_room(rest) if len(buildings) == 1 else None
                            house = (House.objects.filter(building=buildings[0], unit=room[0], room=room[1]).first()
                                     if room else None)
                            if house is not None:
                                homes = list(Household.objects.filter(house=house)[:2])
                                household = homes[0].pk if len(homes) == 1 else None
                        break
                PushedRow.objects.create(
                    pushed_list=pushed, row_id=row["row_id"], name=row["name"],
                    id_number_enc=pii.encrypt(number, purpose=pii.ID_NUMBER) if number else "",
                    id_number_index=index, id_number_masked=pii.mask_id_number(number) if number else "",
                    phone_enc=pii.encrypt(phone, purpose=pii.PHONE) if phone else "",
                    phone_masked=pii.mask_phone(phone) if phone else "", address=row["address"],
                    person=person, household_id=household, grid_code=grid, match=match)
                found[row["row_id"]] = grid
            settle()
            seconds = time.perf_counter() - started
            raise Rollback
    except Rollback:
        pass
    return seconds, found


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sample", type=int, default=2000)
    args = parser.parse_args()
    persons = Person.objects.filter(grid_code__startswith=DISTRICT).count()
    if persons < 500_000:
        sys.exit(f"The dev database holds {persons} persons of {DISTRICT}: run `manage.py load_demo --quiet` first.")
    started = time.perf_counter()
    rows = build_rows(args.rows)
    print(f"{len(rows)} rows built from {persons} registry persons in {time.perf_counter() - started:.1f} s "
          f"(not timed)", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM registry_building WHERE grid_code LIKE %s", [DISTRICT + "%"])
        print(f"{cursor.fetchone()[0]} buildings in the district", flush=True)

    timings, report, found = [], None, {}
    for run in range(args.runs):
        seconds, report, found = ours(rows)
        timings.append(seconds)
        print(f"ours, run {run + 1}: {seconds:.2f} s", flush=True)
    ours_s = statistics.median(timings)
    print(f"ours: by ID number {report['matched_by_id_number']}, by address {report['matched_by_address']}, "
          f"unmatched {report['unmatched']}, problems {report['problem_count']}", flush=True)

    sample = rows[:args.sample]
    naive_s, naive_found = naive(sample)
    differ = [row["row_id"] for row in sample if naive_found.get(row["row_id"]) != found.get(row["row_id"])]
    naive_total = naive_s * len(rows) / len(sample)
    print(f"naive per-row ORM: {naive_s:.2f} s for {len(sample)} rows → {naive_total:.1f} s for {len(rows)} "
          f"(extrapolated); matches differing from ours: {len(differ)}", flush=True)
    print()
    print(f"| matching {len(rows):,} pushed rows | seconds | rows/s |")
    print("|---|---|---|")
    print(f"| ours (set-based), median of {args.runs}: {', '.join(f'{t:.2f}' for t in timings)} | **{ours_s:.2f}** | "
          f"{len(rows) / ours_s:,.0f} |")
    print(f"| naive per-row ORM, {len(sample):,}-row sample ×{len(rows) / len(sample):.0f} | {naive_total:.1f} | "
          f"{len(rows) / naive_total:,.0f} |")
    print()
    print(f"ours {ours_s:.2f} s (target ≤ {TARGET_S:.0f} s: {'met' if ours_s <= TARGET_S else 'MISSED'}); "
          f"naive / ours: {naive_total / ours_s:.1f}×")
    if differ:
        sys.exit(f"the naive peer matched {len(differ)} sample rows differently, e.g. {differ[:5]}")


if __name__ == "__main__":
    main()
