"""Two calls at one household at once, each on its own database connection: the second waits for the first and moves
the standing the first left, so the ledger counts the household once and its statistics add up — whether the first
was the household's first call in the round or a later one. Two copies of one submission at once (a phone retrying):
the second answers with the first's visit and writes nothing."""

import threading
import time
from datetime import date, timedelta

import pytest
from django.db import connection, transaction

from wangge.campaigns import services
from wangge.campaigns.models import CoverageCount, HouseholdScreening, Visit
from wangge.core.testing import COMMUNITY_A, load_test_district, make_user
from wangge.geo.models import Area
from wangge.registry import services as registry

KNOWN_ID = "11010519491231002X"
ARRIVAL = {"members": [{"name": "张三", "id_number": KNOWN_ID, "returned": "yes", "return_date": "2026-11-20",
                        "from_place": "武汉", "fever": "no", "contact": "no", "isolation": "home"}]}


def waiting_on_a_lock():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock'")
        return cursor.fetchone()[0]


def at_once(first, second):
    """`first` records its visit and holds its transaction open until `second`, started then on another connection,
    waits for it on a lock; then both finish. Whether it waited, the errors either raised, and what each returned."""
    recorded, release, errors, results = threading.Event(), threading.Event(), [], {}

    def hold():
        try:
            with transaction.atomic():
                results["first"] = first()
                recorded.set()
                release.wait(timeout=30)
        except Exception as exc:
            errors.append(exc)
        finally:
            recorded.set()
            connection.close()

    def call():
        try:
            results["second"] = second()
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    holder, caller = threading.Thread(target=hold), threading.Thread(target=call)
    holder.start()
    recorded.wait(timeout=30)
    caller.start()
    deadline = time.monotonic() + 30
    while not waiting_on_a_lock() and time.monotonic() < deadline and caller.is_alive():
        time.sleep(0.02)
    waited = bool(waiting_on_a_lock())
    release.set()
    holder.join(timeout=30)
    caller.join(timeout=30)
    return waited, errors, results


@pytest.mark.transactional
@pytest.mark.django_db(transaction=True)
def test_two_calls_at_one_household_at_once_count_it_once():
    load_test_district()
    grid = (Area.objects.filter(generation__state="active", level="grid", code__startswith=COMMUNITY_A)
            .order_by("code").values_list("code", flat=True).first())
    community = make_user("community_staff", COMMUNITY_A)
    first_call, called_before = (registry.do_create_household(actor=community, number=f"H-{i}", grid_code=grid)
                                 for i in range(2))
    registry.do_create_person(actor=community, name="张三", id_number=KNOWN_ID, household=first_call, grid_code=grid)
    staff = make_user("subdistrict_staff", COMMUNITY_A[:9])
    campaign = services.do_start_campaign(services.do_create_campaign(
        actor=staff, name="冬季入户摸排", purpose="掌握辖区返乡人员健康情况", legal_basis="《传染病防治法》第三十一条",
        area_code=COMMUNITY_A[:9], target_codes=[COMMUNITY_A], starts_on=date.today(),
        ends_on=date.today() + timedelta(days=14)), actor=staff)
    worker, colleague = make_user("grid_worker", grid), make_user("grid_worker", grid)

    def visit(household, actor, **values):
        return lambda: services.do_record_visit(campaign, actor=actor, household=household, **values)

    # Both calls are the household's first in the round: the second finds the first's standing and moves it.
    waited, errors, _results = at_once(visit(first_call, worker, status="visited", answers=ARRIVAL),
                                       visit(first_call, colleague, status="absent"))
    assert waited and not errors
    # Called on before: the standing moves under its row lock, from the visit that committed while the second waited.
    services.do_record_visit(campaign, actor=worker, household=called_before, status="absent")
    waited, errors, _results = at_once(visit(called_before, worker, status="visited", answers=ARRIVAL),
                                       visit(called_before, colleague, status="refused"))
    assert waited and not errors

    # The same form instance sent twice at once: one visit, the second call answered with it.
    resent = visit(called_before, worker, status="absent", instance_id="uuid:resent")
    waited, errors, results = at_once(resent, resent)
    assert waited and not errors and results["second"].pk == results["first"].pk

    assert Visit.objects.filter(campaign=campaign).count() == 6
    assert dict(HouseholdScreening.objects.filter(campaign=campaign).values_list("household_id", "status")) == {
        first_call.pk: "absent", called_before.pk: "absent"}
    counts = CoverageCount.objects.get(campaign=campaign, round=1, grid_code=grid)
    assert (counts.visited, counts.absent, counts.refused, counts.members, counts.flagged_members) == (0, 2, 0, 0, 0)
    assert counts.stats == {}  # the arrivals counted, then taken back when their households' standings moved on
