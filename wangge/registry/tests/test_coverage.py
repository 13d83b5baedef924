"""The coverage report: each line appears when its condition is built with the services; scope and leaders."""

import pytest
from django.contrib.gis.geos import Point, Polygon
from django.test import Client

from wangge.core.testing import (
    COMMUNITY_A,
    COMMUNITY_B,
    OTHER_SUBDISTRICT_COMMUNITY,
    assert_cross_scope_denied,
    assert_matches_schema,
    make_superuser,
    make_user,
)
from wangge.geo.models import Area
from wangge.registry import coverage, services
from wangge.registry.models import Building

URL = "/api/v1/registry/coverage/"
RECORDS = "/api/v1/registry/coverage/records/"


def _grids(prefix):
    return list(Area.objects.current().filter(level="grid", code__startswith=prefix).order_by("code"))


def _square(x, y, half=0.0003):
    return Polygon(((x - half, y - half), (x + half, y - half), (x + half, y + half), (x - half, y + half),
                    (x - half, y - half)), srid=4326)


def _neighbours(grids):
    for a in grids:
        for b in grids:
            if a.code < b.code and a.geom.touches(b.geom) and a.geom.intersection(b.geom).length > 0:
                return a, b
    raise AssertionError("no adjacent grids")


@pytest.fixture
def scene(district):
    """Community A: grid g1 fully registered; g2 with the imperfect records; other grids empty."""
    admin = make_superuser()
    g1, g2 = _neighbours(_grids(COMMUNITY_A))
    p1 = g1.label_point
    building = services.do_create_building(actor=admin, location=Point(p1.x, p1.y, srid=4326), floors=2, units=1)
    house = services.do_create_house(building, actor=admin, room="101")
    household = services.do_create_household(actor=admin, number="T-1", house=house)
    services.do_create_person(actor=admin, name="张三", id_number="360426199101010071", house=house,
                              household=household)
    empty_house = services.do_create_house(building, actor=admin, room="102")
    empty_household = services.do_create_household(actor=admin, number="T-2", grid_code=g2.code)
    loner = services.do_create_person(actor=admin, name="李四", grid_code=g2.code)
    # A courtyard over the boundary of g1 and g2.
    shared = g1.geom.intersection(g2.geom)
    middle = shared.point_on_surface if shared.dims == 0 else shared.interpolate_normalized(0.5) \
        if hasattr(shared, "interpolate_normalized") else shared.centroid
    straddling = services.do_create_courtyard(actor=admin, name="跨界小区", geom=_square(middle.x, middle.y))
    # Surveyed before a boundary change: a building left with no grid, and one outside the district.
    stray = services.do_create_building(actor=admin, location=Point(p1.x, p1.y, srid=4326))
    Building.objects.filter(pk=stray.pk).update(grid_code="370103002001999")
    outside = services.do_create_building(actor=admin, location=Point(p1.x, p1.y, srid=4326))
    Building.objects.filter(pk=outside.pk).update(grid_code="", district_code="", location=Point(116.0, 36.0,
                                                                                                  srid=4326))
    # g1 over its target: two households against a target of one.
    Area.objects.current().filter(code=g1.code).update(household_target=1)
    second = services.do_create_household(actor=admin, number="T-3", house=house)
    services.do_create_person(actor=admin, name="王五", house=house, household=second)
    return {"admin": admin, "g1": g1, "g2": g2, "empty_house": empty_house, "empty_household": empty_household,
            "loner": loner, "straddling": straddling, "stray": stray, "outside": outside}


def _totals(result):
    return {item["line"]: item["count"] for item in result["totals"]}


def _grid_lines(result, code):
    return next((g["lines"] for g in result["grids"] if g["code"] == code), {})


def test_each_line_appears_with_its_condition(scene):
    admin, g1, g2 = scene["admin"], scene["g1"], scene["g2"]
    community = coverage.report(admin, COMMUNITY_A)
    totals = _totals(community)
    assert totals["households_without_members"] == 1
    assert totals["persons_without_household_or_house"] == 1
    assert totals["houses_without_occupants"] == 1
    assert totals["courtyards_straddling"] == 1
    assert totals["buildings_without_grid"] == 1
    g1_lines = _grid_lines(community, g1.code)
    assert g1_lines["grids_over_target"] == 1 and g1_lines["houses_without_occupants"] == 1
    assert not {"grids_without_buildings", "grids_without_households", "grids_without_persons"} & set(g1_lines)
    g2_lines = _grid_lines(community, g2.code)
    assert g2_lines["grids_without_buildings"] == 1 and g2_lines["households_without_members"] == 1
    assert g2_lines["persons_without_household_or_house"] == 1 and "grids_without_persons" not in g2_lines
    others = [g.code for g in _grids(COMMUNITY_A) if g.code not in (g1.code, g2.code)]
    for code in others:
        assert {"grids_without_buildings", "grids_without_households", "grids_without_persons",
                "grids_far_under_target"} <= set(_grid_lines(community, code))
    # The whole district: the building outside it shows there, with the rest rolled up per subdistrict.
    district = coverage.report(admin, "370103")
    assert _totals(district)["buildings_outside_district"] == 1
    row = next(c for c in district["children"] if c["code"] == COMMUNITY_A[:9])
    assert {i["line"]: i["count"] for i in row["lines"]}["houses_without_occupants"] == 1


def test_the_records_behind_the_lines(scene):
    admin = scene["admin"]
    expect = {"households_without_members": scene["empty_household"].pk,
              "persons_without_household_or_house": scene["loner"].pk,
              "houses_without_occupants": scene["empty_house"].pk,
              "courtyards_straddling": scene["straddling"].pk,
              "buildings_without_grid": scene["stray"].pk}
    for line, pk in expect.items():
        result = coverage.records(admin, COMMUNITY_A, line)
        assert [r["id"] for r in result["results"]] == [pk], line
    outside = coverage.records(admin, "370103", "buildings_outside_district")
    assert [r["id"] for r in outside["results"]] == [scene["outside"].pk]
    over = coverage.records(admin, COMMUNITY_A, "grids_over_target")
    assert [r["id"] for r in over["results"]] == [scene["g1"].code]


def test_api_answers_in_its_schema_and_refuses_bad_input(scene):
    client = Client()
    client.force_login(make_user("community_staff", COMMUNITY_A))
    response = client.get(URL)
    assert response.status_code == 200
    assert response.json()["area"]["code"] == COMMUNITY_A
    assert_matches_schema(response, URL)
    assert all(item["records"] for item in response.json()["totals"])
    response = client.get(RECORDS, {"line": "persons_without_household_or_house"})
    assert response.status_code == 200 and response.json()["count"] == 1
    assert_matches_schema(response, RECORDS)
    assert client.get(URL, {"area": "37010300200"}).status_code == 400
    assert client.get(RECORDS, {"line": "nonsense"}).status_code == 400
    assert client.get(RECORDS, {"line": "houses_without_occupants", "limit": "x"}).status_code == 400


def test_a_community_user_sees_only_their_community(scene):
    client = Client()
    user = make_user("community_staff", COMMUNITY_B)
    client.force_login(user)
    own = client.get(URL).json()
    assert own["area"]["code"] == COMMUNITY_B
    assert all(g["code"].startswith(COMMUNITY_B) for g in own["grids"])
    totals = _totals(own)
    assert totals["households_without_members"] == 0 and totals["courtyards_straddling"] == 0
    assert_cross_scope_denied(client, user, f"{URL}?area={COMMUNITY_A}")
    assert_cross_scope_denied(client, user, f"{URL}?area=370103")
    assert_cross_scope_denied(client, user, f"{RECORDS}?area={COMMUNITY_A}&line=houses_without_occupants")


def test_a_leader_gets_counts_and_no_records(scene):
    client = Client()
    leader = make_user("leader", "370103")
    client.force_login(leader)
    response = client.get(URL, {"area": COMMUNITY_A})
    assert response.status_code == 200
    body = response.json()
    assert _totals(body)["households_without_members"] == 1
    assert not any(item["records"] for item in body["totals"])
    assert client.get(RECORDS, {"area": COMMUNITY_A, "line": "households_without_members"}).status_code == 404
    page = client.get("/registry/coverage/", {"area": COMMUNITY_A})
    assert page.status_code == 200 and b"line=" not in page.content


def test_records_in_one_scope_and_counts_in_another(scene):
    """A user who keeps the registry of one community and leads another: the report opens on the first of the two,
    shows records in the one and counts only in the other, and nothing outside both."""
    from wangge.accounts.models import AreaAssignment, Role

    client = Client()
    user = make_user("community_staff", COMMUNITY_B)
    AreaAssignment.objects.create(user=user, area_code=COMMUNITY_A, role=Role.objects.get(slug="leader"))
    client.force_login(user)
    assert client.get(URL).json()["area"]["code"] == min(COMMUNITY_A, COMMUNITY_B)
    own = client.get(URL, {"area": COMMUNITY_B}).json()
    assert all(item["records"] for item in own["totals"])
    led = client.get(URL, {"area": COMMUNITY_A}).json()
    assert _totals(led)["households_without_members"] == 1 and not any(item["records"] for item in led["totals"])
    for area in ("370103", COMMUNITY_A[:9], OTHER_SUBDISTRICT_COMMUNITY):
        assert_cross_scope_denied(client, user, f"{URL}?area={area}")


def test_a_district_leader_counts_what_has_no_grid(scene):
    """Rows with no grid code belong to the district: its leader (counts only) sees them counted there."""
    client = Client()
    client.force_login(make_user("leader", "370103"))
    body = client.get(URL).json()
    assert body["area"]["code"] == "370103"
    assert _totals(body)["buildings_outside_district"] == 1 and not any(item["records"] for item in body["totals"])


def test_nobody_outside_and_anonymous(scene):
    client = Client()
    assert client.get(URL).status_code in (401, 403)
    volunteer = make_user("volunteer", COMMUNITY_A)
    client.force_login(volunteer)
    assert client.get(URL).status_code == 404


def test_the_page_lists_lines_and_records(scene):
    client = Client()
    client.force_login(make_user("community_staff", COMMUNITY_A))
    page = client.get("/registry/coverage/")
    assert page.status_code == 200
    assert b"Households without members" in page.content
    listing = client.get("/registry/coverage/", {"line": "persons_without_household_or_house"})
    assert "李四".encode() in listing.content
    assert client.get("/registry/coverage/", {"area": "12"}).status_code == 400
