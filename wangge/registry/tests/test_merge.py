import datetime

import pytest
from django.urls import reverse

from wangge.core.history import history_of
from wangge.core.testing import COMMUNITY_A, COMMUNITY_B, make_user
from wangge.geo.models import Area
from wangge.registry import services
from wangge.registry.models import Person, PersonTag, TagType

pytestmark = pytest.mark.django_db

VALID_ID = "360426199101010071"


@pytest.fixture
def staff(db):
    return make_user("community_staff", COMMUNITY_A)


@pytest.fixture
def grid(district):
    return Area.objects.filter(generation=district, parent__code=COMMUNITY_A).order_by("code").first()


@pytest.fixture
def twins(grid, staff):
    """The same resident registered twice: once from a door-to-door visit (no ID), once from an import (ID)."""
    household = services.do_create_household(actor=staff, number="H-1", grid_code=grid.code)
    with_id = services.do_create_person(actor=staff, name="王芳", id_number=VALID_ID, household=household)
    without_id = services.do_create_person(actor=staff, name="王芳", birth_date=datetime.date(1991, 1, 1),
                                           phone="13800138000", household=household)
    return with_id, without_id


def test_probable_duplicates_are_listed_and_not_people_with_two_different_ids(grid, staff, twins):
    groups = services.duplicate_candidates(staff, COMMUNITY_A)
    assert [[p.pk for p in group] for group in groups] == [sorted(p.pk for p in twins)]
    other = services.do_create_person(actor=staff, name="王芳", id_number="11010519491231002X",
                                      grid_code=grid.code)
    assert other.pk not in {p.pk for group in services.duplicate_candidates(staff, COMMUNITY_A) for p in group}


def test_a_merge_keeps_one_record_and_the_history_of_both(grid, staff, twins):
    keep, duplicate = twins
    tag_type = TagType.objects.create(slug="alone", name="独居老人", category="care")
    services.do_tag_person(duplicate, tag_type, actor=staff)
    merged = services.do_merge_persons(keep, duplicate, actor=staff)
    duplicate.refresh_from_db()
    assert merged.phone_masked == "138****8000"  # filled from the duplicate
    assert duplicate.status == "merged" and duplicate.merged_into == merged
    assert PersonTag.objects.get(tag_type=tag_type).person == merged
    assert history_of(duplicate) and history_of(merged)  # both records' change logs are still there
    assert services.duplicate_candidates(staff, COMMUNITY_A) == []


def test_merging_through_the_api_and_scope(client, grid, staff, twins):
    keep, duplicate = twins
    outsider = make_user("community_staff", COMMUNITY_B)
    client.force_login(outsider)
    assert client.post(reverse("person-merge", args=[keep.pk]), {"duplicate": duplicate.pk},
                       content_type="application/json").status_code == 404
    client.force_login(staff)
    response = client.get(reverse("person-duplicates"), {"area": COMMUNITY_A})
    assert [len(group) for group in response.json()["results"]] == [2]
    response = client.post(reverse("person-merge", args=[keep.pk]), {"duplicate": duplicate.pk},
                           content_type="application/json")
    assert response.status_code == 200, response.content
    listed = client.get(reverse("person-list"), {"area": COMMUNITY_A}).json()["results"]
    assert duplicate.pk not in {row["id"] for row in listed}
    again = client.post(reverse("person-merge", args=[keep.pk]), {"duplicate": duplicate.pk},
                        content_type="application/json")
    assert again.status_code == 400


def test_two_different_id_numbers_are_never_merged(grid, staff):
    first = services.do_create_person(actor=staff, name="李雷", id_number=VALID_ID, grid_code=grid.code)
    second = services.do_create_person(actor=staff, name="李雷", id_number="11010519491231002X",
                                       grid_code=grid.code)
    with pytest.raises(Exception) as error:
        services.do_merge_persons(first, second, actor=staff)
    assert getattr(error.value, "field", None) == "duplicate"
    assert Person.objects.get(pk=second.pk).status == "normal"
