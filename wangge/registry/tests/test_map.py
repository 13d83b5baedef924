"""The resident distribution map's endpoints: counts per grid, building tiles and building detail, each scoped,
with leaders seeing counts only and sensitive tag counts only for those who may see sensitive tags."""

import datetime
import math

import mapbox_vector_tile
import pytest

from wangge.core.testing import COMMUNITY_A, COMMUNITY_B, assert_cross_scope_denied, make_superuser, make_user
from wangge.geo.models import Area
from wangge.registry import services
from wangge.registry.models import TagType

pytestmark = pytest.mark.django_db

VALID_ID = "360426199101010071"  # DOMAIN.md §8
STATS = "/registry/map/stats.json"


def _grid(district, community, n=0):
    return Area.objects.filter(generation=district, parent__code=community).order_by("code")[n]


def tile_of(lon, lat, z):
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def building_tile_url(building, z=16):
    x, y = tile_of(building.location.x, building.location.y, z)
    return f"/registry/map/buildings/{z}/{x}/{y}.pbf"


def tile_features(response):
    assert response.status_code in (200, 204), response.content[:300]
    if response.status_code == 204:
        return []
    return mapbox_vector_tile.decode(response.content).get("buildings", {}).get("features", [])


@pytest.fixture
def registry(district):
    """Records made with the services in two grids of community A and one of community B."""
    actor = make_user("subdistrict_staff", "370103002")  # both communities, sensitive tags allowed
    a1, a2, b1 = _grid(district, COMMUNITY_A, 0), _grid(district, COMMUNITY_A, 1), _grid(district, COMMUNITY_B, 0)
    building = services.do_create_building(actor=actor, location=a1.label_point, name="1号楼")
    house = services.do_create_house(building, actor=actor, unit="1", room="101")
    empty_house = services.do_create_house(building, actor=actor, unit="1", room="102")
    household = services.do_create_household(actor=actor, number="H-A1-1", house=house)
    head = services.do_create_person(actor=actor, name="张三", id_number=VALID_ID, house=house, household=household,
                                     relation_to_head="户主")
    flowing = services.do_create_person(actor=actor, name="李四", house=house, household=household,
                                        residence_type="flowing", relation_to_head="租户")
    # Deceased persons are no longer residents: not counted.
    services.do_create_person(actor=actor, name="王五", house=house, household=household, status="deceased",
                              status_date=datetime.date(2024, 5, 1))
    services.do_create_person(actor=actor, name="赵六", grid_code=a2.code)
    services.do_create_household(actor=actor, number="H-A2-1", grid_code=a2.code)
    b_building = services.do_create_building(actor=actor, location=b1.label_point, name="B楼")
    b_house = services.do_create_house(b_building, actor=actor, room="201")
    b_household = services.do_create_household(actor=actor, number="H-B1-1", house=b_house)
    b_people = [services.do_create_person(actor=actor, name=f"孙{i}", house=b_house, household=b_household,
                                          residence_type="flowing") for i in range(2)]
    elderly = TagType.objects.create(slug="elderly", name="空巢老人", category="care")
    correction = TagType.objects.create(slug="correction", name="社区矫正人员", category="special", sensitive=True)
    services.do_tag_person(head, elderly, actor=actor)
    services.do_tag_person(b_people[0], elderly, actor=actor)
    services.do_tag_person(flowing, correction, actor=actor)
    return {"a1": a1.code, "a2": a2.code, "b1": b1.code, "building": building, "b_building": b_building,
            "house": house, "empty_house": empty_house, "household": household, "head": head}


def stats(client, user, metric):
    client.force_login(user)
    return client.get(STATS, {"metric": metric})


@pytest.mark.parametrize("metric, expected", [
    ("persons", {"a1": 2, "a2": 1, "b1": 2}),
    ("households", {"a1": 1, "a2": 1, "b1": 1}),
    ("flowing", {"a1": 1, "b1": 2}),
    ("tag:elderly", {"a1": 1, "b1": 1}),
    ("tag:correction", {"a1": 1}),
])
def test_counts_per_grid_equal_the_records_made(client, registry, metric, expected):
    response = stats(client, make_superuser(), metric)
    assert response.status_code == 200
    body = response.json()
    assert body["metric"] == metric
    assert body["counts"] == {registry[key]: n for key, n in expected.items()}
    assert body["total"] == sum(expected.values())
    assert response["Cache-Control"] == "private, no-cache"


def test_a_community_user_counts_only_their_own_grids(client, registry):
    body = stats(client, make_user("community_staff", COMMUNITY_A), "persons").json()
    assert body["counts"] == {registry["a1"]: 2, registry["a2"]: 1}
    body = stats(client, make_user("grid_worker", registry["b1"]), "flowing").json()
    assert body["counts"] == {registry["b1"]: 2}


def test_a_leader_gets_counts_but_no_sensitive_tag_and_no_person(client, registry):
    leader = make_user("leader", COMMUNITY_A)
    assert stats(client, leader, "persons").json()["counts"] == {registry["a1"]: 2, registry["a2"]: 1}
    assert stats(client, leader, "tag:elderly").json()["counts"] == {registry["a1"]: 1}
    refused = stats(client, leader, "tag:correction")
    assert refused.status_code == 404 and "metric" in refused.json()["error"]["fields"]
    # Answered like a slug that does not exist: the sensitive type's existence is not revealed either.
    assert refused.json()["error"]["code"] == stats(client, leader, "tag:nothing").json()["error"]["code"]

    response = client.get(f"/registry/map/buildings/{registry['building'].pk}.json")
    assert response.status_code == 200
    body = response.json()
    assert body["persons_visible"] is False
    assert (body["houses_count"], body["households"], body["members"]) == (2, 1, 2)
    assert [(h["room"], h["households"], h["members"]) for h in body["houses"]] == [("101", 1, 2), ("102", 0, 0)]
    text = response.content.decode()
    assert "张三" not in text and "H-A1-1" not in text and "360426" not in text
    assert all("household_list" not in h for h in body["houses"])


def test_a_sensitive_tag_needs_view_sensitive(client, registry):
    worker = make_user("grid_worker", registry["a1"])  # persons yes, sensitive tags no
    assert stats(client, worker, "tag:correction").status_code == 404
    assert stats(client, worker, "tag:elderly").json()["counts"] == {registry["a1"]: 1}
    client.force_login(worker)
    page = client.get("/")
    metrics = [m["value"] for m in page.context["config"]["residents"]["metrics"]]
    assert "tag:elderly" in metrics and "tag:correction" not in metrics
    # Sensitive counts come only from grids where the user may see sensitive tags.
    staff_b = make_user("community_staff", COMMUNITY_B)
    assert stats(client, staff_b, "tag:correction").json()["counts"] == {}


@pytest.mark.parametrize("params, status", [
    ({}, 400), ({"metric": ""}, 400), ({"metric": "income"}, 404), ({"metric": "tag:"}, 404),
    ({"metric": "tag:" + "x" * 300}, 404),
])
def test_bad_metrics_say_what_is_wrong(client, district, params, status):
    client.force_login(make_superuser())
    response = client.get(STATS, params)
    assert response.status_code == status
    assert "metric" in response.json()["error"]["fields"]


def test_users_who_may_count_nothing_get_no_counts_and_no_selector(client, registry):
    department = make_user("department", COMMUNITY_A)
    assert stats(client, department, "persons").json()["counts"] == {}
    assert client.get("/").context["config"]["residents"]["metrics"] == []


def test_the_map_endpoints_need_a_login(client, registry):
    for url in (STATS + "?metric=persons", building_tile_url(registry["building"]),
                f"/registry/map/buildings/{registry['building'].pk}.json"):
        assert client.get(url).status_code == 401


def test_building_tile_holds_the_buildings_with_their_attributes(client, registry):
    building = registry["building"]
    client.force_login(make_user("community_staff", COMMUNITY_A))
    response = client.get(building_tile_url(building))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.mapbox-vector-tile"
    found = {f["properties"]["id"]: f for f in tile_features(response)}
    feature = found[building.pk]
    assert feature["id"] == building.pk and feature["geometry"]["type"] == "Point"
    assert feature["properties"] == {"id": building.pk, "number": building.number, "name": "1号楼",
                                     "grid_code": registry["a1"], "households": 1}
    assert registry["b_building"].pk not in found

    etag = response["ETag"]
    assert etag and response["Cache-Control"] == "private, no-cache"
    assert client.get(building_tile_url(building), HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_a_building_tile_of_another_community_is_empty_for_them(client, registry):
    client.force_login(make_user("community_staff", COMMUNITY_B))
    assert tile_features(client.get(building_tile_url(registry["building"]))) == []
    client.force_login(make_user("volunteer", COMMUNITY_A))  # no place or count permission at all
    assert client.get(building_tile_url(registry["building"])).status_code == 204


def test_low_zoom_building_tiles_are_empty(client, registry):
    client.force_login(make_superuser())
    response = client.get(building_tile_url(registry["building"], z=13))
    assert response.status_code == 204 and response.content == b""


@pytest.mark.parametrize("z, x, y, field", [(25, 0, 0, "z"), (14, 2 ** 14, 0, "x"), (14, 0, 2 ** 14, "y"),
                                            (3, 99999999999, 0, "x")])
def test_bad_building_tiles_say_what_is_wrong(client, district, z, x, y, field):
    client.force_login(make_superuser())
    response = client.get(f"/registry/map/buildings/{z}/{x}/{y}.pbf")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_building_detail_lists_households_with_masked_members(client, registry):
    client.force_login(make_user("grid_worker", registry["a1"]))
    response = client.get(f"/registry/map/buildings/{registry['building'].pk}.json")
    assert response.status_code == 200
    body = response.json()
    assert body["persons_visible"] is True and body["grid_code"] == registry["a1"]
    first, second = body["houses"]
    assert (first["room"], second["room"], second["household_list"]) == ("101", "102", [])
    [household] = first["household_list"]
    assert (household["number"], household["members"]) == ("H-A1-1", 2)
    assert household["people"] == [
        {"name": "张三", "id_number_masked": "360426********0071", "relation_to_head": "户主"},
        {"name": "李四", "id_number_masked": "", "relation_to_head": "租户"},
    ]
    assert VALID_ID not in response.content.decode()


def test_building_detail_across_scope_is_404(client, registry):
    url = f"/registry/map/buildings/{registry['building'].pk}.json"
    assert_cross_scope_denied(client, make_user("community_staff", COMMUNITY_B), url)
    assert_cross_scope_denied(client, make_user("leader", COMMUNITY_B), url)
    assert_cross_scope_denied(client, make_user("volunteer", COMMUNITY_A), url)
    client.force_login(make_superuser())
    assert client.get("/registry/map/buildings/987654321.json").status_code == 404
