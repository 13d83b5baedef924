"""The KPI tests' cast: two departments with a handler each, the command and supervision centres, a grid worker in
each of two communities, points inside a grid of community A at least 80 m apart, and a clock the services read."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone

from wangge.cases.models import Category
from wangge.cases.services import do_act, do_report_event
from wangge.core.testing import COMMUNITY_A, COMMUNITY_B, make_user
from wangge.geo.models import Area
from wangge.workforce.models import Department, DepartmentMembership

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock:
    """timezone.now() for the services, the models' auto_now_add and the clock job: set with at("2025-03-03 09:00")
    (local time)."""

    def __init__(self, monkeypatch):
        self.now = datetime(2025, 3, 3, 9, 0, tzinfo=SHANGHAI)
        monkeypatch.setattr(timezone, "now", lambda: self.now)

    def at(self, text):
        self.now = datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)
        return self.now


def grid_of(community):
    return Area.objects.current().filter(level="grid", code__startswith=community).order_by("code").first()


def points_in(grid, count, step=0.0012):
    """`count` points inside `grid` on a lattice `step` degrees apart (about 110 m by 130 m)."""
    xmin, ymin, xmax, ymax = grid.geom.extent
    found = []
    y = ymin + step / 2
    while y < ymax and len(found) < count:
        x = xmin + step / 2
        while x < xmax and len(found) < count:
            point = Point(x, y, srid=4326)
            if grid.geom.buffer(-step / 4).contains(point):
                found.append(point)
            x += step
        y += step
    assert len(found) == count, f"grid {grid.code} holds only {len(found)} lattice points"
    return found


def category(code):
    return Category.objects.get(kind="event", code=code)


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


@pytest.fixture
def cast(district):
    department = Department.objects.create(name="城管局", code="K-CG", area_code="370103")
    other = Department.objects.create(name="=住建局", code="K-ZJ", area_code="370103")  # a name like a formula
    handler = make_user("department", "370103")
    other_handler = make_user("department", "370103")
    DepartmentMembership.objects.create(user=handler, department=department, active_from=date(2024, 1, 1))
    DepartmentMembership.objects.create(user=other_handler, department=other, active_from=date(2024, 1, 1))
    grid_a, grid_b = grid_of(COMMUNITY_A), grid_of(COMMUNITY_B)
    return {
        "department": department, "other_department": other, "handler": handler, "other_handler": other_handler,
        "worker": make_user("grid_worker", grid_a.code, display_name="网格员甲"),
        "other_worker": make_user("grid_worker", grid_b.code, display_name="网格员乙"),
        "command": make_user("command", "370103"), "supervision": make_user("supervision", "370103"),
        "grid_a": grid_a, "grid_b": grid_b, "points": points_in(grid_a, 6), "point_b": points_in(grid_b, 1)[0],
    }


def report(cast, point, code="0101", worker="worker"):
    return do_report_event(actor=cast[worker], location=point, description="测试事件", category=category(code).pk)


def act(event, action, actor, **kwargs):
    event.refresh_from_db()
    return do_act(event, action, actor=actor, version=event.version, **kwargs)
