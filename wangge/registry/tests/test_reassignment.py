"""Activation of a new generation moves registry records to the grid that now covers them, and reports it."""

import datetime

import shapely
from django.contrib.gis.geos import GEOSGeometry, Point
from shapely.geometry import LineString
from shapely.ops import split

from wangge.core.testing import COMMUNITY_A, make_superuser
from wangge.geo import services as geo
from wangge.geo.models import Area
from wangge.registry import services
from wangge.registry.models import Building, House, Household, Person


def _halves(area):
    geom = shapely.from_wkb(bytes(area.geom.wkb))
    _minx, miny, _maxx, maxy = geom.bounds
    x = area.label_point.x
    parts = list(split(geom, LineString([(x, miny - 1), (x, maxy + 1)])).geoms)
    west = [p for p in parts if p.centroid.x < x]
    east = [p for p in parts if p.centroid.x >= x]
    return [GEOSGeometry(memoryview(shapely.union_all(side).wkb), srid=4326) for side in (west, east)]


def test_records_follow_a_split_grid(district):
    admin = make_superuser()
    grid = Area.objects.current().filter(level="grid", code__startswith=COMMUNITY_A).order_by("code").first()
    x, y = grid.label_point.x, grid.label_point.y
    minx, _miny, maxx, _maxy = grid.geom.extent
    west_point = Point(x - (x - minx) * 0.2, y, srid=4326)
    east_point = Point(x + (maxx - x) * 0.2, y, srid=4326)
    buildings = []
    for point in (west_point, east_point):
        if grid.geom.covers(point):
            buildings.append(services.do_create_building(actor=admin, location=point))
    east_building = next(b for b in buildings if b.location.x > x)
    house = services.do_create_house(east_building, actor=admin, room="101")
    household = services.do_create_household(actor=admin, number="R-1", house=house)
    person = services.do_create_person(actor=admin, name="赵六", house=house, household=household)

    draft = geo.do_create_draft(actor=admin, description="split")
    kept, new = geo.do_split_area(draft.areas.get(code=grid.code), actor=admin, parts=_halves(grid))
    assert geo.do_validate_generation(draft, actor=admin)["error_count"] == 0
    report = geo.do_activate_generation(draft, actor=admin, effective_from=datetime.date(2025, 6, 1))

    moved = report["reassigned"]["reassign_after_activation"]
    assert moved["building"]["pairs"] == {f"{grid.code}→{new.code}": 1}
    assert moved["house"]["moved"] == 1 and moved["household"]["moved"] == 1 and moved["person"]["moved"] == 1
    for record in (east_building, house, household, person):
        record.refresh_from_db()
        assert record.grid_code == new.code and record.district_code == new.code[:6]
    west = [b for b in buildings if b.location.x < x]
    for building in west:
        building.refresh_from_db()
        assert building.grid_code == kept.code
    assert Building.objects.filter(grid_code=new.code).count() == 1
    assert House.objects.filter(grid_code=new.code).count() == 1
    assert Household.objects.filter(grid_code=new.code).count() == 1
    assert Person.objects.filter(grid_code=new.code).count() == 1
