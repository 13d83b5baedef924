"""Two people acting on the same step at once, each on their own database connection: exactly one succeeds, the other
gets the conflict (409) and the event holds one timeline row for the step."""

import threading
from datetime import date

import pytest
from django.db import connection

from wangge.cases.models import Category, Event, EventTimeline
from wangge.cases.services import VersionConflict, do_act, do_report_event, next_case_number
from wangge.cases.tests.test_event_api import png
from wangge.core.testing import COMMUNITY_A, load_test_district, make_user
from wangge.geo.models import Area
from wangge.workforce.models import Department, DepartmentMembership


@pytest.mark.transactional
@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_accept_at_once():
    load_test_district()
    department = Department.objects.create(name="城管局", code="T-CG", area_code="370103")
    handler = make_user("department", "370103")
    DepartmentMembership.objects.create(user=handler, department=department, active_from=date(2024, 1, 1))
    grid = Area.objects.filter(generation__state="active", level="grid", code__startswith=COMMUNITY_A).first()
    event = do_report_event(actor=make_user("grid_worker", COMMUNITY_A), location=grid.geom.point_on_surface,
                            description="占道", category=Category.objects.get(kind="event", code="0401"))
    dispatchers = [make_user("command", "370103"), make_user("command", "370103")]
    barrier, outcomes = threading.Barrier(2), []

    def accept(actor):
        try:
            barrier.wait(timeout=10)
            do_act(Event.objects.get(pk=event.pk), "accept", actor=actor, version=event.version)
            outcomes.append("ok")
        except VersionConflict as exc:
            outcomes.append(exc.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=accept, args=(actor,)) for actor in dispatchers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes, key=str) == [409, "ok"]
    event.refresh_from_db()
    assert event.state == "accepted" and event.version == 2
    assert EventTimeline.objects.filter(event=event, action="accept").count() == 1


@pytest.mark.transactional
@pytest.mark.django_db(transaction=True)
def test_a_report_does_not_wait_for_another_reports_commit(monkeypatch):
    """Two grid workers report at once, in two grids: while the first report's transaction is still open (its
    photos being stored), the second is numbered and written without waiting for it — the district's case-number
    counter for the day is not held until the first commits — and each gets its own number. (Two reports in one
    grid do wait: each moves the grid's KPI rollup row.)"""
    from wangge.cases import attachments

    load_test_district()
    grids = list(Area.objects.filter(generation__state="active", level="grid", code__startswith=COMMUNITY_A)[:2])
    category = Category.objects.get(kind="event", code="0401")
    first_worker, second_worker = make_user("grid_worker", COMMUNITY_A), make_user("grid_worker", COMMUNITY_A)
    first_inside, release_first, numbers = threading.Event(), threading.Event(), {}
    store_photos = attachments.store_photos

    def slow_store(event, checked, **kwargs):
        if event.reporter_id == first_worker.pk:  # the first report's upload takes until the second is done
            first_inside.set()
            release_first.wait(timeout=20)
        return store_photos(event, checked, **kwargs)

    monkeypatch.setattr(attachments, "store_photos", slow_store)

    def report(name, worker, grid, photos=()):
        try:
            numbers[name] = do_report_event(actor=worker, location=grid.geom.point_on_surface, description="占道",
                                            category=category, photos=photos).case_number
        finally:
            connection.close()

    # With a photo, the first report is written in a transaction that stays open while the photo is stored (a plain
    # report is one statement, committed at once).
    first = threading.Thread(target=report, args=("first", first_worker, grids[0], [png()]))
    first.start()
    assert first_inside.wait(timeout=20)
    second = threading.Thread(target=report, args=("second", second_worker, grids[1]))
    second.start()
    second.join(timeout=10)
    finished_while_first_open = not second.is_alive()
    release_first.set()
    first.join(timeout=30)
    second.join(timeout=30)
    assert finished_while_first_open, "the second report waited for the first one's commit"
    assert numbers["first"] != numbers["second"]
    assert Event.objects.filter(case_number__in=numbers.values()).count() == 2


@pytest.mark.transactional
@pytest.mark.django_db(transaction=True)
def test_a_case_number_relaxes_only_its_own_commit():
    """The day's counter is committed without waiting for the disk only when it is taken in a transaction of its
    own: the session's next statements, and a caller's transaction that will hold the event, commit synchronously."""
    from django.db import transaction

    def synchronous_commit():
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return cursor.fetchone()[0]

    first = next_case_number("370103", date(2026, 11, 29))
    assert synchronous_commit() == "on"
    with transaction.atomic():
        second = next_case_number("370103", date(2026, 11, 29))
        assert synchronous_commit() == "on"
    assert first.endswith("-00001") and second.endswith("-00002")
