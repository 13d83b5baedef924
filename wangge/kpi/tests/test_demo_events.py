"""The demo events (wangge/cases/demo_events.py) on the small test district: deterministic, a closed loop that makes
sense, rates in a realistic range, idempotent, numbered without collisions, and the rollups rebuilt."""

import datetime

import pytest
from django.db.models import Count, F

from wangge.cases import demo_events
from wangge.cases.models import CaseSequence, Event, EventTimeline
from wangge.core.testing import make_superuser
from wangge.kpi import figures, rollups
from wangge.workforce import demo as workforce_demo

pytestmark = pytest.mark.django_db
END = datetime.datetime(2025, 12, 10, 15, 0, tzinfo=datetime.UTC)


@pytest.fixture
def loaded(district):
    workforce_demo.load(volunteers=0)
    return demo_events.load(count=3000, end=END)


def test_a_year_of_events(loaded):
    assert loaded["events"] == Event.objects.count() and 2900 <= loaded["events"] <= 3100
    assert loaded["timeline"] == EventTimeline.objects.count() > 3 * loaded["events"]
    first = Event.objects.order_by("created_at").first().created_at
    assert datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC) - datetime.timedelta(hours=8) <= first
    assert Event.objects.order_by("-created_at").first().created_at < END
    states = dict(Event.objects.values_list("state").annotate(n=Count("id")))
    assert {"voided", "evaluated", "closed", "signed", "reported"} <= set(states), states
    assert states["evaluated"] > loaded["events"] / 2
    # Every event lies in the grid its code names.
    from wangge.geo.models import Area

    sample = Event.objects.order_by("pk")[:: 97]
    for event in sample:
        assert Area.objects.current().get(code=event.grid_code).geom.covers(event.location)


def test_the_loop_makes_sense(loaded):
    events = Event.objects.all()
    assert not events.filter(state__in=["dispatched", "signed", "handled"], department__isnull=True).exists()
    assert not events.filter(handled_at__lt=F("dispatched_at")).exists()
    assert not events.filter(accepted_at__lt=F("created_at")).exists()
    assert not events.filter(due_at__lt=F("dispatched_at")).exists()
    assert not events.filter(state="evaluated", satisfaction__isnull=True).exists()
    assert events.filter(return_count=1).exists() and events.filter(rework_count=1).exists()
    assert events.filter(extension_count=1).exists() and events.filter(clock_level="red").exists()
    numbers = list(events.values_list("case_number", flat=True))
    assert len(numbers) == len(set(numbers))
    last = CaseSequence.objects.order_by("-day").first()
    assert events.filter(case_number=f"{last.district_code}-{last.day:%Y%m%d}-{last.last:05d}").exists()


def test_realistic_rates_and_rebuilt_rollups(loaded):
    assert rollups.differences() == []
    root = make_superuser()
    district = figures.figures(root, "district", period="2025-01", period_to="2025-12")["rows"][0]
    assert 0.85 < district["accept_on_time_rate"] < 0.97
    assert 0.9 < district["dispatch_accuracy_rate"] < 0.97
    assert 0.8 < district["on_time_rate"] < 0.95
    assert 0.02 < district["rework_rate"] < 0.08 and 0.02 < district["extension_rate"] < 0.08
    assert 0.75 < district["satisfaction_rate"] < 0.95
    assert district["repeats"] > 0 and 80 < district["score"] < 99
    communities = figures.figures(root, "community", period="2025-01", period_to="2025-12")["rows"]
    assert len({row["score"] for row in communities}) > 20  # the rankings have something to rank


def test_deterministic_and_idempotent(district):
    workforce_demo.load(volunteers=0)
    first = demo_events.load(count=500, end=END)
    rows = list(Event.objects.order_by("case_number").values_list("case_number", "grid_code", "state", "created_at",
                                                                  "satisfaction"))
    assert demo_events.load(count=500, end=END) == {"skipped": True}
    EventTimeline.objects.all().delete()
    Event.objects.all().delete()
    CaseSequence.objects.all().delete()
    again = demo_events.load(count=500, end=END)
    assert again["events"] == first["events"]
    assert rows == list(Event.objects.order_by("case_number").values_list(
        "case_number", "grid_code", "state", "created_at", "satisfaction"))
