"""The registry API: scoped lists and details, writes through the services, masking, audited reveal, leaders'
counts. Every endpoint is tried from another community's account."""

import json
import logging

import pytest

from wangge.core.testing import (
    COMMUNITY_A,
    COMMUNITY_B,
    assert_cross_scope_denied,
    assert_matches_schema,
    make_superuser,
    make_user,
)
from wangge.geo.models import Area
from wangge.registry import services
from wangge.registry.models import Person, PersonTag, RevealAudit, TagType

pytestmark = pytest.mark.django_db

API = "/api/v1/registry"
ID_A, PHONE_A = "360426199101010071", "13800138000"
ID_B = "120103198806018241"
USCC = "91110000101623741K"


def _grid(district, community=COMMUNITY_A):
    return Area.objects.filter(generation=district, parent__code=community).order_by("code").first()


def _point(grid):
    return json.loads(grid.label_point.geojson)


def _square(grid, size=0.0002):
    x, y = grid.label_point.x, grid.label_point.y
    ring = [[x - size, y - size], [x + size, y - size], [x + size, y + size], [x - size, y + size],
            [x - size, y - size]]
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.fixture
def staff(db):
    return make_user("community_staff", COMMUNITY_A)


@pytest.fixture
def outsider(db):
    return make_user("community_staff", COMMUNITY_B)


@pytest.fixture
def world(district, staff):
    """One of each record in community A."""
    grid = _grid(district)
    courtyard = services.do_create_courtyard(actor=staff, name="阳光小区", geom=_square(grid))
    building = services.do_create_building(actor=staff, location=grid.label_point, name="1号楼", courtyard=courtyard)
    house = services.do_create_house(building, actor=staff, unit="1", room="101")
    household = services.do_create_household(actor=staff, number="H-0001", house=house)
    person = services.do_create_person(actor=staff, name="张三", id_number=ID_A, phone=PHONE_A, house=house,
                                       household=household, residence_type="flowing")
    organization = services.do_create_organization(actor=staff, name="阳光超市", kind="shop",
                                                   location=grid.label_point, uscc=USCC, safety_phone="13900139000")
    from wangge.registry.models import PartyOrganization

    party = PartyOrganization.objects.create(name="阳光小区党支部", grid_code=grid.code, district_code="370103",
                                             served_grid_codes=[grid.code])
    care = TagType.objects.create(slug="elderly-alone", name="独居老人", category="care")
    special = TagType.objects.create(slug="community-correction", name="社区矫正人员", category="special",
                                     sensitive=True, fields=[{"name": "sentence_end", "type": "date"}])
    services.do_tag_person(person, care, actor=staff)
    tag = services.do_tag_person(person, special, actor=staff, data={"sentence_end": "2027-01-01"})
    return {"grid": grid, "courtyard": courtyard, "building": building, "house": house, "household": household,
            "person": person, "organization": organization, "party": party, "tag": tag, "special": special}


DETAILS = [("courtyards", "courtyard"), ("buildings", "building"), ("houses", "house"),
           ("households", "household"), ("persons", "person"), ("organizations", "organization"),
           ("party-organizations", "party"), ("person-tags", "tag")]


@pytest.mark.parametrize(("path", "key"), DETAILS)
def test_lists_and_details_are_scoped(client, world, staff, outsider, path, key):
    record = world[key]
    client.force_login(staff)
    listed = client.get(f"{API}/{path}/").json()["results"]
    assert record.pk in [row["id"] for row in listed]
    assert client.get(f"{API}/{path}/{record.pk}/").status_code == 200
    client.force_login(outsider)
    response = client.get(f"{API}/{path}/")
    assert response.status_code == 200 and record.pk not in [row["id"] for row in response.json()["results"]]
    assert_cross_scope_denied(client, outsider, f"{API}/{path}/{record.pk}/")


@pytest.mark.parametrize(("path", "key", "data"), [
    ("buildings", "building", {"name": "改名"}),
    ("persons", "person", {"work_unit": "某公司"}),
])
def test_updates_across_scope_are_404(client, world, outsider, path, key, data):
    assert_cross_scope_denied(client, outsider, f"{API}/{path}/{world[key].pk}/", method="patch", data=data,
                              allowed=(404,))


@pytest.mark.parametrize(("path", "field"), [("persons", "id_number"), ("persons", "phone"),
                                             ("organizations", "safety_phone")])
def test_reveal_across_scope_is_404_and_not_audited(client, world, outsider, path, field):
    record = world["person" if path == "persons" else "organization"]
    assert_cross_scope_denied(client, outsider, f"{API}/{path}/{record.pk}/reveal/", method="post",
                              data={"field": field, "reason": "check"}, allowed=(404,))
    assert not RevealAudit.objects.exists()


def test_creating_into_another_community_is_404(client, district, world, outsider):
    grid = world["grid"]
    attempts = [
        ("courtyards", {"name": "x", "geom": _square(grid)}),
        ("buildings", {"location": _point(grid)}),
        ("organizations", {"name": "x", "kind": "shop", "location": _point(grid)}),
        ("households", {"number": "H-X", "grid_code": grid.code}),
        ("persons", {"name": "李四", "grid_code": grid.code}),
    ]
    for path, data in attempts:
        assert_cross_scope_denied(client, outsider, f"{API}/{path}/", method="post", data=data, allowed=(404,))
    assert not Person.objects.filter(name="李四").exists()


def test_a_reference_to_another_communitys_record_reads_like_an_unknown_one(client, world, outsider):
    client.force_login(outsider)
    foreign = client.post(f"{API}/houses/", {"building": world["building"].pk, "room": "9"},
                          content_type="application/json")
    unknown = client.post(f"{API}/houses/", {"building": 999999, "room": "9"}, content_type="application/json")
    assert foreign.status_code == unknown.status_code == 400
    assert foreign.json() == unknown.json() and "building" in foreign.json()["error"]["fields"]
    tag = client.post(f"{API}/person-tags/", {"person": world["person"].pk, "tag": "elderly-alone"},
                      content_type="application/json")
    assert tag.status_code == 400 and "person" in tag.json()["error"]["fields"]


def test_staff_create_and_update_through_the_services(client, world, staff):
    client.force_login(staff)
    grid = world["grid"]
    building = client.post(f"{API}/buildings/", {"location": _point(grid), "name": "2号楼"},
                           content_type="application/json")
    assert building.status_code == 201, building.content
    body = building.json()
    assert body["grid_code"] == grid.code and body["number"] == "00002"
    assert body["location"]["type"] == "Point"
    assert_matches_schema(building, "/api/v1/registry/buildings/", "post")
    house = client.post(f"{API}/houses/", {"building": body["id"], "unit": "2", "room": "201"},
                        content_type="application/json")
    assert house.status_code == 201 and house.json()["grid_code"] == grid.code
    person = client.post(f"{API}/persons/", {"name": "李四", "id_number": ID_B, "phone": "+86 139 0000 0000",
                                             "house": house.json()["id"]}, content_type="application/json")
    assert person.status_code == 201, person.content
    data = person.json()
    assert data["id_number"] == "120103********8241" and data["phone"] == "139****0000"
    assert data["gender"] == "female" and data["birth_date"] == "1988-06-01" and data["grid_code"] == grid.code
    assert_matches_schema(person, "/api/v1/registry/persons/", "post")
    patched = client.patch(f"{API}/persons/{data['id']}/", {"work_unit": "某公司", "party_member": True},
                           content_type="application/json")
    assert patched.status_code == 200 and patched.json()["work_unit"] == "某公司"
    organization = client.post(f"{API}/organizations/", {"name": "网吧", "kind": "shop", "location": _point(grid),
                                                         "key_place_kinds": ["internet_cafe"]},
                               content_type="application/json")
    assert organization.status_code == 201
    assert client.get(f"{API}/organizations/?key_place=internet_cafe").json()["results"][0]["name"] == "网吧"


def test_bad_input_is_a_400_naming_the_field_and_never_echoing_the_number(client, world, staff):
    client.force_login(staff)
    cases = [
        ({"name": "王五", "id_number": "360426199101010072", "grid_code": world["grid"].code}, "id_number"),
        ({"name": "王五", "id_number": "11010519491231002x", "grid_code": world["grid"].code}, "id_number"),
        ({"name": "王五", "id_number": ID_A, "grid_code": world["grid"].code}, "id_number"),  # duplicate
        ({"name": "王五", "phone": "12345678901", "grid_code": world["grid"].code}, "phone"),
        ({"name": "王五", "house": 999999}, "house"),
        ({"name": "王五", "grid_code": "370103"}, "grid_code"),
    ]
    for data, field in cases:
        response = client.post(f"{API}/persons/", data, content_type="application/json")
        assert response.status_code == 400, (field, response.content)
        assert field in response.json()["error"]["fields"]
        for secret in ("360426199101010072", "11010519491231002x", ID_A, "12345678901"):
            assert secret not in response.content.decode()
    outside = client.post(f"{API}/buildings/", {"location": {"type": "Point", "coordinates": [121.47, 31.23]}},
                          content_type="application/json")
    assert outside.status_code == 400 and "location" in outside.json()["error"]["fields"]
    assert client.post(f"{API}/organizations/", {"name": "x", "kind": "shop", "location": _point(world["grid"]),
                                                  "uscc": "91110000101623741J"},
                       content_type="application/json").json()["error"]["fields"].keys() == {"uscc"}
    assert not Person.objects.filter(name="王五").exists()


def test_filters(client, world, staff):
    client.force_login(staff)
    person = world["person"]

    def ids(query):
        response = client.get(f"{API}/persons/?{query}")
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids(f"area={COMMUNITY_A}") == [person.pk]
    assert ids(f"area={world['grid'].code}&residence_type=flowing&name=张") == [person.pk]
    assert ids("residence_type=registered") == []
    assert ids(f"id_number={ID_A}") == [person.pk] and ids(f"id_number={ID_B}") == []
    assert ids("phone=138 0013 8000") == [person.pk]
    assert ids("tag=community-correction") == [person.pk] and ids(f"building={world['building'].pk}") == [person.pk]
    assert ids(f"household={world['household'].pk}") == [person.pk]
    bad = client.get(f"{API}/persons/?id_number=123")
    assert bad.status_code == 400 and "id_number" in bad.json()["error"]["fields"]
    assert client.get(f"{API}/organizations/?uscc={USCC}").json()["results"][0]["id"] == world["organization"].pk
    assert client.get(f"{API}/organizations/?kind=school").json()["results"] == []


def test_search_by_number_in_the_body(client, world, staff, outsider):
    client.force_login(staff)
    found = client.post(f"{API}/persons/search/", {"id_number": ID_A}, content_type="application/json")
    assert found.status_code == 200 and [p["id"] for p in found.json()["results"]] == [world["person"].pk]
    assert_matches_schema(found, "/api/v1/registry/persons/search/", "post")
    client.force_login(outsider)
    assert client.post(f"{API}/persons/search/", {"id_number": ID_A},
                       content_type="application/json").json()["results"] == []


def test_household_lists_its_members_masked(client, world, staff):
    client.force_login(staff)
    response = client.get(f"{API}/households/{world['household'].pk}/")
    members = response.json()["members"]
    assert [m["id_number"] for m in members] == ["360426********0071"]
    assert_matches_schema(response, "/api/v1/registry/households/{id}/")


def test_sensitive_tags_are_hidden_from_a_grid_worker(client, world):
    worker = make_user("grid_worker", world["grid"].code)
    client.force_login(worker)
    person = client.get(f"{API}/persons/{world['person'].pk}/").json()
    assert [t["slug"] for t in person["tags"]] == ["elderly-alone"]
    assert client.get(f"{API}/persons/?tag=community-correction").json()["results"] == []
    tags = client.get(f"{API}/person-tags/").json()["results"]
    assert [t["tag"] for t in tags] == ["elderly-alone"]
    assert client.get(f"{API}/person-tags/{world['tag'].pk}/").status_code == 404
    tagging = client.post(f"{API}/person-tags/", {"person": world["person"].pk, "tag": "community-correction",
                                                  "data": {"sentence_end": "2028-01-01"}},
                          content_type="application/json")
    assert tagging.status_code == 404
    assert PersonTag.objects.get(pk=world["tag"].pk).data == {"sentence_end": "2027-01-01"}


def test_tag_values_are_checked_against_the_type(client, world, staff):
    client.force_login(staff)
    response = client.post(f"{API}/person-tags/", {"person": world["person"].pk, "tag": "community-correction",
                                                   "data": {"sentence_end": "soon"}}, content_type="application/json")
    assert response.status_code == 400 and "data.sentence_end" in response.json()["error"]["fields"]


def test_tag_types_are_read_by_staff_and_written_by_admins_only(client, world, staff):
    client.force_login(staff)
    assert {t["slug"] for t in client.get(f"{API}/tag-types/").json()} >= {"elderly-alone"}
    new = {"slug": "veteran", "name": "退役军人", "category": "care", "fields": [{"name": "branch", "type": "text"}]}
    assert client.post(f"{API}/tag-types/", new, content_type="application/json").status_code == 403
    client.force_login(make_superuser())
    assert client.post(f"{API}/tag-types/", new, content_type="application/json").status_code == 201
    bad = client.post(f"{API}/tag-types/", {**new, "slug": "bad", "fields": [{"name": "a", "type": "colour"}]},
                      content_type="application/json")
    assert bad.status_code == 400 and "fields" in bad.json()["error"]["fields"]


def test_a_leader_gets_counts_but_no_persons(client, world):
    leader = make_user("leader", COMMUNITY_A[:9])
    client.force_login(leader)
    for path in ("persons", "households", "houses", "person-tags", "tag-types"):
        assert client.get(f"{API}/{path}/").status_code == 404, path
    assert client.get(f"{API}/persons/{world['person'].pk}/").status_code == 404
    response = client.get(f"{API}/stats/?area={COMMUNITY_A}&by=grid")
    assert response.status_code == 200
    assert_matches_schema(response, "/api/v1/registry/stats/")
    row = next(r for r in response.json()["results"] if r["code"] == world["grid"].code)
    assert row["persons"] == 1 and row["flowing"] == 1 and row["households"] == 1 and row["buildings"] == 1
    assert row["organizations"] == 1 and row["tags"] == {"elderly-alone": 1, "community-correction": 1}
    assert "张三" not in response.content.decode()
    by_subdistrict = client.get(f"{API}/stats/?by=subdistrict").json()["results"]
    assert [r["code"] for r in by_subdistrict] == [COMMUNITY_A[:9]]


def test_counts_stay_inside_the_scope(client, world, outsider):
    client.force_login(outsider)
    rows = client.get(f"{API}/stats/?by=grid").json()["results"]
    assert world["grid"].code not in [r["code"] for r in rows]
    assert client.get(f"{API}/stats/?area={COMMUNITY_A}").json()["results"] == []
    volunteer = make_user("volunteer", COMMUNITY_A)
    client.force_login(volunteer)
    assert client.get(f"{API}/stats/").status_code == 404
    assert client.get(f"{API}/stats/?area=abc").status_code == 400


def test_list_schema_and_cursor_pages(client, world, staff):
    for n in range(3):
        services.do_create_person(actor=staff, name=f"赵{n}", grid_code=world["grid"].code)
    client.force_login(staff)
    first = client.get(f"{API}/persons/?page_size=2")
    assert_matches_schema(first, "/api/v1/registry/persons/")
    assert len(first.json()["results"]) == 2 and first.json()["next"]
    second = client.get(first.json()["next"]).json()
    assert len(second["results"]) == 2
    assert_matches_schema(client.get(f"{API}/persons/{world['person'].pk}/"), "/api/v1/registry/persons/{id}/")
    assert_matches_schema(client.get(f"{API}/buildings/"), "/api/v1/registry/buildings/")
    assert_matches_schema(client.get(f"{API}/organizations/{world['organization'].pk}/"),
                          "/api/v1/registry/organizations/{id}/")


def test_no_personal_number_reaches_the_logs(client, world, staff, caplog):
    client.force_login(staff)
    with caplog.at_level(logging.DEBUG):
        client.post(f"{API}/persons/", {"name": "重复", "id_number": ID_A, "grid_code": world["grid"].code},
                    content_type="application/json")
        client.post(f"{API}/persons/", {"name": "坏号", "id_number": "360426199101010072", "phone": "12345678901",
                                        "grid_code": world["grid"].code}, content_type="application/json")
        client.get(f"{API}/persons/?id_number={ID_A}")
        client.post(f"{API}/persons/search/", {"phone": PHONE_A}, content_type="application/json")
        client.post(f"{API}/persons/{world['person'].pk}/reveal/", {"field": "id_number", "reason": "核实"},
                    content_type="application/json")
        client.post(f"{API}/persons/", {"name": "新人", "id_number": ID_B, "phone": "13700137000",
                                        "grid_code": world["grid"].code}, content_type="application/json")
    logged = caplog.text + " ".join(str(r.args) for r in caplog.records)
    for secret in (ID_A, PHONE_A, ID_B, "13700137000", "360426199101010072", "12345678901"):
        assert secret not in logged
