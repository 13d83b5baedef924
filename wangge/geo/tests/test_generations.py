import datetime

import pytest
import shapely
from django.contrib.gis.geos import GEOSGeometry
from django.db import connection
from django.urls import reverse
from shapely.geometry import LineString
from shapely.ops import split

from wangge.core.errors import DomainError
from wangge.core.testing import COMMUNITY_A, COMMUNITY_B, make_superuser, make_user
from wangge.geo import services
from wangge.geo.lookup import lookup_chain
from wangge.geo.models import Area, Generation

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(db):
    return make_superuser()


@pytest.fixture
def draft(district, admin):
    return services.do_create_draft(actor=admin, description="复核调整 test")


def _grids(generation, community=COMMUNITY_A):
    return list(Area.objects.filter(generation=generation, parent__code=community).order_by("code"))


def _shapely(area):
    return shapely.from_wkb(bytes(area.geom.wkb))


def _geos(geom):
    return GEOSGeometry(memoryview(shapely.to_wkb(geom)), srid=4326)


def _halves(area):
    """Two parts of the area, cut by a north-south line through its label point."""
    geom = _shapely(area)
    _minx, miny, _maxx, maxy = geom.bounds
    x = area.label_point.x
    parts = list(split(geom, LineString([(x, miny - 1), (x, maxy + 1)])).geoms)
    assert len(parts) >= 2
    return [_geos(parts[0]), _geos(shapely.union_all(parts[1:]))]


def test_a_draft_copies_the_active_generation(district, draft):
    assert draft.state == "draft" and draft.based_on == district
    assert draft.areas.count() == district.areas.count()
    copy = Area.objects.get(generation=draft, code=COMMUNITY_A)
    assert copy.parent.generation_id == draft.pk and copy.parent.code == "370103002"
    assert copy.geom.equals(Area.objects.get(generation=district, code=COMMUNITY_A).geom)


def test_the_active_generation_cannot_be_edited(district, admin):
    grid = _grids(district)[0]
    with pytest.raises(DomainError) as error:
        services.do_update_area(grid, actor=admin, name="x")
    assert error.value.field == "generation"


def test_a_clean_draft_validates_and_activates(draft, district, admin):
    report = services.do_validate_generation(draft, actor=admin)
    assert report["error_count"] == 0, report["issues"][:3]
    draft.refresh_from_db()
    assert draft.state == "validated"
    services.do_activate_generation(draft, actor=admin, effective_from=datetime.date(2025, 3, 1))
    district.refresh_from_db()
    draft.refresh_from_db()
    assert draft.state == "active" and district.state == "retired"
    assert district.effective_to == datetime.date(2025, 3, 1)


def test_validation_reports_overlap_outside_parent_and_gap_with_sizes(draft, admin):
    first, second = _grids(draft)[:2]
    # Grow the first grid by ~30 m: it overlaps its neighbours and (at the community edge) leaves the community.
    grown = _shapely(first).buffer(0.0003)
    services.do_update_area(first, actor=admin, geom=_geos(grown))
    # Shrink another community's grid: a gap opens inside that community.
    other = _grids(draft, COMMUNITY_B)[0]
    services.do_update_area(other, actor=admin, geom=_geos(_shapely(other).buffer(-0.0002)))
    report = services.do_validate_generation(draft, actor=admin)
    kinds = {(issue["kind"], issue["code"]) for issue in report["issues"]}
    assert ("overlap", min(first.code, second.code)) in kinds or any(
        kind == "overlap" and first.code in (code, issue.get("other"))
        for issue in report["issues"] for kind, code in [(issue["kind"], issue["code"])])
    assert ("gap", COMMUNITY_B) in kinds
    assert ("outside_parent", first.code) in kinds
    for issue in report["issues"]:
        assert issue["area_m2"] > 1 and len(issue["location"]) == 2
    draft.refresh_from_db()
    assert draft.state == "draft"
    with pytest.raises(DomainError) as error:
        services.do_activate_generation(draft, actor=admin)
    assert error.value.code == "not_validated"


def test_validation_reports_invalid_geometry_with_the_geos_reason(draft, admin):
    grid = _grids(draft)[0]
    with connection.cursor() as cursor:  # as a raw edit or an old import would leave it
        cursor.execute("UPDATE geo_area SET geom = ST_GeomFromText("
                       "'MULTIPOLYGON(((116.9 36.6, 117.0 36.7, 117.0 36.6, 116.9 36.7, 116.9 36.6)))', 4326) "
                       "WHERE id = %s", [grid.pk])
    report = services.do_validate_generation(draft, actor=admin)
    invalid = [i for i in report["issues"] if i["kind"] == "invalid_geometry"]
    assert invalid and invalid[0]["code"] == grid.code
    assert "Self-intersection" in invalid[0]["message"]


def test_validation_reports_codes_that_break_the_rules(draft, admin):
    grid = _grids(draft)[0]
    Area.objects.filter(pk=grid.pk).update(code="370103002003099")  # a community-B code under community A
    report = services.do_validate_generation(draft, actor=admin)
    messages = [i["message"] for i in report["issues"] if i["kind"] == "code" and i["code"] == "370103002003099"]
    assert any("does not extend" in m for m in messages)


def test_historical_lookup_answers_with_the_generation_in_force(draft, district, admin):
    grid = _grids(draft)[0]
    old_code = grid.code
    west, east = services.do_split_area(grid, actor=admin, parts=_halves(grid))
    assert west.code == old_code and east.code.startswith(COMMUNITY_A) and east.code != old_code
    assert services.do_validate_generation(draft, actor=admin)["error_count"] == 0
    services.do_activate_generation(draft, actor=admin, effective_from=datetime.date(2025, 1, 1))
    point = east.label_point
    now = lookup_chain(admin, point.x, point.y)
    then = lookup_chain(admin, point.x, point.y, at=datetime.date(2024, 6, 1))
    before = lookup_chain(admin, point.x, point.y, at=datetime.date(2023, 6, 1))
    assert now["chain"][-1]["code"] == east.code and now["generation"] == draft.pk
    assert then["chain"][-1]["code"] == old_code and then["generation"] == district.pk
    assert before["chain"] == [] and before["generation"] is None


def test_historical_lookup_through_the_api(client, district, admin):
    grid = _grids(district)[0]
    client.force_login(admin)
    response = client.get(reverse("lookup"), {"lon": grid.label_point.x, "lat": grid.label_point.y,
                                              "at": "2024-06-01"})
    assert response.json()["chain"][-1]["code"] == grid.code


def test_merge_and_renumber(draft, admin):
    services.do_split_area(_grids(draft)[-1], actor=admin, parts=_halves(_grids(draft)[-1]))
    grids = _grids(draft)
    assert len(grids) >= 3
    keeper = services.do_merge_areas(grids[:2], actor=admin)
    assert keeper.code == grids[0].code
    assert not Area.objects.filter(pk=grids[1].pk).exists()
    assert services.do_validate_generation(draft, actor=admin)["error_count"] == 0
    community = Area.objects.get(generation=draft, code=COMMUNITY_A)
    renumbered = services.do_renumber_grids(community, actor=admin)
    codes = sorted(Area.objects.filter(parent=community).values_list("code", flat=True))
    assert codes == [f"{COMMUNITY_A}{n:03d}" for n in range(1, len(codes) + 1)]
    assert grids[-1].code in renumbered  # the gap the merge left is closed: the highest code moved down


def test_renumbering_follows_rows_north_to_south(draft, admin):
    community = Area.objects.get(generation=draft, code=COMMUNITY_A)
    for grid in _grids(draft):
        services.do_split_area(grid, actor=admin, parts=_halves(grid))
    services.do_renumber_grids(community, actor=admin)
    grids = list(Area.objects.filter(parent=community).order_by("code"))
    northernmost = max(grids, key=lambda g: g.label_point.y)
    # The first grid is in the northern row: within one row height of the northernmost label point.
    assert grids[0].label_point.y > northernmost.label_point.y - 0.01


def test_a_community_user_cannot_manage_generations_or_edit_another_community(client, district, draft):
    worker = make_user("community_staff", COMMUNITY_A)
    client.force_login(worker)
    response = client.post(reverse("generation-list"), {}, content_type="application/json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    other = _grids(draft, COMMUNITY_B)[0]
    response = client.patch(reverse("area-detail", args=[other.pk]), {"name": "x"}, content_type="application/json")
    assert response.status_code == 404
    own = _grids(draft, COMMUNITY_A)[0]
    response = client.patch(reverse("area-detail", args=[own.pk]), {"name": "纬一路社区新网格"},
                            content_type="application/json")
    assert response.status_code == 200 and response.json()["name"] == "纬一路社区新网格"


def test_bad_geometry_through_the_api_is_a_400_naming_geom(client, draft, admin):
    grid = _grids(draft)[0]
    client.force_login(admin)
    for geom in [{"type": "Point", "coordinates": [116.9, 36.6]},
                 {"type": "Polygon", "coordinates": [[[116.9, 36.6], [117.0, 36.7], [117.0, 36.6],
                                                      [116.9, 36.7], [116.9, 36.6]]]},
                 {"type": "Polygon", "coordinates": [[[200, 36.6], [201, 36.7], [201, 36.6], [200, 36.6]]]},
                 {"type": "Polygon", "coordinates": []},
                 {"type": "Polygon", "crs": {"type": "name", "properties": {"name": "EPSG:3857"}},
                  "coordinates": [[[13e6, 4.3e6], [13.1e6, 4.3e6], [13.1e6, 4.4e6], [13e6, 4.3e6]]]},
                 "not a geometry", 42]:
        response = client.patch(reverse("area-detail", args=[grid.pk]), {"geom": geom},
                                content_type="application/json")
        assert response.status_code == 400, geom
        assert "geom" in response.json()["error"]["fields"]
    assert Area.objects.get(pk=grid.pk).geom.equals(grid.geom)


def test_activation_through_the_api_refuses_an_unvalidated_draft(client, draft, admin):
    client.force_login(admin)
    response = client.post(reverse("generation-activate", args=[draft.pk]), {}, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "not_validated"
    response = client.post(reverse("generation-validate", args=[draft.pk]))
    assert response.status_code == 200 and response.json()["state"] == "validated"
    response = client.post(reverse("generation-activate", args=[draft.pk]), {"effective_from": "2025-02-01"},
                           content_type="application/json")
    assert response.status_code == 200 and response.json()["state"] == "active"
    assert Generation.objects.filter(state="active").get().pk == draft.pk


def test_activating_twice_is_refused_and_changes_nothing(client, draft, admin):
    services.do_validate_generation(draft, actor=admin)
    client.force_login(admin)
    url = reverse("generation-activate", args=[draft.pk])
    first = client.post(url, {"effective_from": "2025-02-01"}, content_type="application/json")
    replay = client.post(url, {"effective_from": "2025-03-01"}, content_type="application/json")
    assert first.status_code == 200 and replay.status_code == 400
    draft.refresh_from_db()
    assert draft.state == "active" and draft.effective_from == datetime.date(2025, 2, 1)


def test_a_new_generation_cannot_come_into_force_before_the_current_one(draft, district, admin):
    services.do_validate_generation(draft, actor=admin)
    with pytest.raises(DomainError) as error:
        services.do_activate_generation(draft, actor=admin, effective_from=datetime.date(2023, 12, 31))
    assert error.value.field == "effective_from"
    district.refresh_from_db()
    assert district.state == "active" and district.effective_to is None


def test_an_edit_after_validation_sends_the_draft_back_to_draft(draft, admin):
    services.do_validate_generation(draft, actor=admin)
    services.do_update_area(_grids(draft)[0], actor=admin, name="改名")
    draft.refresh_from_db()
    assert draft.state == "draft"
    with pytest.raises(DomainError):
        services.do_activate_generation(draft, actor=admin)


def test_a_boundary_redrawn_through_the_api_is_stored_with_its_geodesic_area(client, draft, admin):
    grid = _grids(draft)[0]
    smaller = _shapely(grid).buffer(-0.0001)
    client.force_login(admin)
    response = client.patch(reverse("area-detail", args=[grid.pk]), {"geom": shapely.geometry.mapping(smaller)},
                            content_type="application/json")
    assert response.status_code == 200, response.content
    grid.refresh_from_db()
    assert grid.geom.equals_exact(_geos(shapely.MultiPolygon([smaller])), 1e-9)
    assert grid.area_m2 < Area.objects.get(generation__state="active", code=grid.code).area_m2


def test_a_boundary_in_web_mercator_is_refused_naming_the_srid(client, draft, admin):
    grid = _grids(draft)[0]
    client.force_login(admin)
    geom = {"type": "Polygon", "crs": {"type": "name", "properties": {"name": "EPSG:3857"}},
            "coordinates": [[[13e6, 4.3e6], [13.1e6, 4.3e6], [13.1e6, 4.4e6], [13e6, 4.3e6]]]}
    response = client.patch(reverse("area-detail", args=[grid.pk]), {"geom": geom}, content_type="application/json")
    assert response.status_code == 400
    assert "3857" in response.json()["error"]["fields"]["geom"][0]


def test_an_area_created_through_the_api_is_checked_by_validation(client, draft, admin):
    grid = _grids(draft)[0]
    inside = _shapely(grid).centroid.buffer(0.0005)  # ~50 m disc inside an existing grid: an overlap
    code = f"{COMMUNITY_A}{990}"
    client.force_login(admin)
    response = client.post(reverse("generation-create-area", args=[draft.pk]),
                           {"code": code, "name": "新网格", "geom": shapely.geometry.mapping(inside)},
                           content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["parent_code"] == COMMUNITY_A and response.json()["area_m2"] > 1000
    report = services.do_validate_generation(draft, actor=admin)
    assert any(i["kind"] == "overlap" and code in (i["code"], i.get("other")) for i in report["issues"])
    duplicate = client.post(reverse("generation-create-area", args=[draft.pk]),
                            {"code": code, "name": "again", "geom": shapely.geometry.mapping(inside)},
                            content_type="application/json")
    assert duplicate.status_code == 400 and "code" in duplicate.json()["error"]["fields"]
