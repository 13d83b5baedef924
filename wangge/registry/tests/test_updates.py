import pytest
from django.urls import reverse

from wangge.core.testing import COMMUNITY_A, COMMUNITY_B, make_user
from wangge.geo.models import Area
from wangge.registry import services

pytestmark = pytest.mark.django_db


def _grid(district, community):
    return Area.objects.filter(generation=district, parent__code=community).order_by("code").first()


@pytest.fixture
def staff(db):
    return make_user("subdistrict_staff", "370103002")  # both communities A and B


@pytest.fixture
def records(district, staff):
    grid = _grid(district, COMMUNITY_A)
    building = services.do_create_building(actor=staff, location=grid.label_point)
    house = services.do_create_house(building, actor=staff, unit="1", room="101")
    household = services.do_create_household(actor=staff, number="H-9", house=house)
    head = services.do_create_person(actor=staff, name="户主", house=house, household=household)
    organization = services.do_create_organization(actor=staff, name="某商店", kind="shop",
                                                   location=grid.label_point, uscc="91350100M000100Y43")
    return building, house, household, head, organization


def test_a_household_moving_to_another_house_takes_its_resident_members(district, staff, records):
    _building, _house, household, head, _org = records
    other_building = services.do_create_building(actor=staff, location=_grid(district, COMMUNITY_B).label_point)
    other_house = services.do_create_house(other_building, actor=staff, room="202")
    household = services.do_update_household(household, actor=staff, house=other_house, head=head)
    head.refresh_from_db()
    assert household.grid_code == other_house.grid_code and household.head == head
    assert head.house == other_house and head.grid_code == other_house.grid_code


def test_the_head_must_be_a_member(district, staff, records):
    _building, house, household, _head, _org = records
    stranger = services.do_create_person(actor=staff, name="路人", house=house)
    with pytest.raises(Exception) as error:
        services.do_update_household(household, actor=staff, head=stranger)
    assert getattr(error.value, "field", None) == "head"


def test_updates_through_the_api_with_scope(client, district, staff, records):
    _building, house, household, _head, organization = records
    outsider = make_user("community_staff", COMMUNITY_B)
    client.force_login(outsider)
    for name, pk in (("house", house.pk), ("household", household.pk), ("organization", organization.pk)):
        response = client.patch(reverse(f"{name}-detail", args=[pk]), {}, content_type="application/json")
        assert response.status_code == 404, name
    client.force_login(make_user("community_staff", COMMUNITY_A))
    assert client.patch(reverse("house-detail", args=[house.pk]), {"rented": True},
                        content_type="application/json").json()["rented"] is True
    response = client.patch(reverse("organization-detail", args=[organization.pk]), {"uscc": "91110000101623741X"},
                            content_type="application/json")
    assert response.status_code == 400 and "uscc" in response.json()["error"]["fields"]
    response = client.patch(reverse("organization-detail", args=[organization.pk]),
                            {"location": {"type": "Point", "coordinates": list(
                                _grid(district, COMMUNITY_B).label_point.coords)}},
                            content_type="application/json")
    assert response.status_code == 404  # moving it into community B, outside this user's scope
    organization.refresh_from_db()
    assert organization.grid_code.startswith(COMMUNITY_A)
    response = client.patch(reverse("household-detail", args=[household.pk]), {"number": "H-10"},
                            content_type="application/json")
    assert response.status_code == 200 and response.json()["number"] == "H-10"
