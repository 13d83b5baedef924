"""The demo work team: every grid staffed (no coverage gaps), ~1,000 volunteers, idempotent."""

import io

import pytest
from django.core.management import call_command

from wangge.core.testing import make_superuser
from wangge.workforce import coverage
from wangge.workforce.models import Department, DepartmentKind, GridPost, VolunteerAssignment

pytestmark = pytest.mark.django_db


def test_load_demo_workforce_covers_every_grid_and_is_idempotent(district):
    out = io.StringIO()
    call_command("load_demo_workforce", stdout=out)
    assert Department.objects.count() >= 30
    assert Department.objects.filter(kind=DepartmentKind.COMMAND).count() == 1
    assert Department.objects.filter(kind=DepartmentKind.SUPERVISION).count() == 1
    assert VolunteerAssignment.objects.count() == 1000
    report = coverage.report(make_superuser(), district.areas.get(level="district").code)
    assert report["gaps"] == [] and report["totals"]["grids"] == report["totals"]["covered"] > 0
    counts = (Department.objects.count(), GridPost.objects.count(), VolunteerAssignment.objects.count())
    call_command("load_demo_workforce", stdout=io.StringIO())
    assert (Department.objects.count(), GridPost.objects.count(), VolunteerAssignment.objects.count()) == counts
