"""The in-memory grid lookup of reports (geo.locator): the same answer as PostGIS, and never a retired generation's."""

import datetime

import numpy as np
import pytest
import shapely
from django.contrib.gis.geos import GEOSGeometry, Point
from shapely.geometry import LineString
from shapely.ops import split

from wangge.cases import services as cases
from wangge.cases.models import Category, Event
from wangge.core.testing import COMMUNITY_A, make_superuser, make_user
from wangge.geo import services
from wangge.geo.locator import GridLocator, active_grids, grid_code_at, locate_grid
from wangge.geo.models import Area

pytestmark = pytest.mark.django_db


def _points(generation):
    """Random points over the district and beyond it, every grid's corners, and the middles of its edges (on a
    shared boundary two grids cover the point)."""
    grids = Area.objects.filter(generation=generation, level="grid")
    geometries = [shapely.from_wkb(bytes(grid.geom.wkb)) for grid in grids]
    x0, y0, x1, y1 = shapely.total_bounds(geometries)
    rng = np.random.default_rng(5)
    points = list(zip(rng.uniform(x0 - 0.01, x1 + 0.01, 300), rng.uniform(y0 - 0.01, y1 + 0.01, 300), strict=True))
    for geometry in geometries[:40]:
        ring = np.asarray(shapely.get_exterior_ring(shapely.get_geometry(geometry, 0)).coords)
        points += [tuple(corner) for corner in ring[:-1:3]]
        points += [tuple(middle) for middle in ((ring[:-1:5] + ring[1::5]) / 2)]
    return points


def test_it_answers_as_postgis_inside_outside_and_on_shared_boundaries(district):
    locator = GridLocator.load()
    assert locator.generation_id == district.pk
    points = _points(district)
    answers = [(locator.code_at(x, y), grid_code_at(Point(x, y, srid=4326))) for x, y in points]
    assert [ours for ours, _ in answers] == [theirs for _, theirs in answers]
    assert sum(1 for ours, _ in answers if ours) > 200 and sum(1 for ours, _ in answers if not ours) > 20


def test_a_point_outside_the_grids_in_memory_is_asked_of_postgis(district, monkeypatch):
    grid = Area.objects.filter(generation=district, level="grid").first()
    point = grid.geom.point_on_surface
    # As a process that loaded its grids before the first activation.
    monkeypatch.setattr(active_grids, "get", lambda: GridLocator(None, [], []))
    assert locate_grid(point) == (grid.code, None)


def _split_a_grid_and_activate(district):
    """A new generation in which a grid of COMMUNITY_A is cut in two; returns the part with a new code."""
    admin = make_superuser()
    draft = services.do_create_draft(actor=admin, description="split")
    grid = Area.objects.filter(generation=draft, parent__code=COMMUNITY_A, level="grid").order_by("code").first()
    geometry = shapely.from_wkb(bytes(grid.geom.wkb))
    x = grid.label_point.x
    _minx, miny, _maxx, maxy = geometry.bounds
    halves = list(split(geometry, LineString([(x, miny - 1), (x, maxy + 1)])).geoms)
    parts = [GEOSGeometry(memoryview(shapely.to_wkb(halves[0])), srid=4326),
             GEOSGeometry(memoryview(shapely.to_wkb(shapely.union_all(halves[1:]))), srid=4326)]
    _kept, new_part = services.do_split_area(grid, actor=admin, parts=parts)
    assert services.do_validate_generation(draft, actor=admin)["error_count"] == 0
    services.do_activate_generation(draft, actor=admin, effective_from=datetime.date(2025, 6, 1))
    return grid.code, new_part


def test_an_activation_in_this_process_clears_the_grids_at_once(district):
    assert active_grids.get().generation_id == district.pk
    old_code, new_part = _split_a_grid_and_activate(district)
    point = new_part.geom.point_on_surface
    assert locate_grid(point) == (new_part.code, new_part.generation_id)
    assert new_part.code != old_code


def test_a_report_placed_by_a_retired_generation_is_placed_again_by_postgis(district, monkeypatch):
    """Another process activated a new generation moments ago; this one still holds the old grids in memory."""
    stale = active_grids.get()
    old_code, new_part = _split_a_grid_and_activate(district)
    monkeypatch.setattr(active_grids, "get", lambda: stale)
    point = new_part.geom.point_on_surface
    assert locate_grid(point).code == old_code  # what this process believes

    worker = make_user("grid_worker", COMMUNITY_A)
    category = Category.objects.filter(parent__isnull=False, active=True).first()
    event = cases.do_report_event(actor=worker, location={"type": "Point", "coordinates": [point.x, point.y]},
                                  description="井盖缺失", category=category.pk)
    stored = Event.objects.get(pk=event.pk)
    assert stored.grid_code == event.grid_code == new_part.code
    assert stored.timeline.get().action == "report"
    assert Event.objects.count() == 1
