"""Two people acting on the same step at once, each on their own database connection: exactly one succeeds, the other
gets the conflict (409) and the event holds one timeline row for the step."""

import threading
from datetime import date

import pytest
from django.db import connection

from wangge.cases.models import Category, Event, EventTimeline
from wangge.cases.services import VersionConflict, do_act, do_report_event
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
