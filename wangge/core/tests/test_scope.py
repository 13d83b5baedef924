import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.gis.geos import MultiPolygon
from django.http import Http404
from django.urls import reverse

from wangge.accounts.models import AreaAssignment, Role
from wangge.accounts.roles import CHANGE_AREA, VIEW_AREA, VIEW_HISTORY
from wangge.core.testing import (
    COMMUNITY_A,
    COMMUNITY_B,
    OTHER_SUBDISTRICT_COMMUNITY,
    assert_cross_scope_denied,
    make_superuser,
    make_user,
)
from wangge.geo.models import Area
from wangge.geo.services import do_create_area, do_create_draft, do_update_area

pytestmark = pytest.mark.django_db


def _grid_codes(user, action, generation):
    return set(Area.objects.restrict(user, action).filter(generation=generation, level="grid")
               .values_list("code", flat=True))


def test_two_assignments_see_the_union_of_their_areas(district):
    user = make_user("grid_worker", COMMUNITY_A)
    AreaAssignment.objects.create(user=user, area_code=OTHER_SUBDISTRICT_COMMUNITY,
                                  role=Role.objects.get(slug="grid_worker"))
    codes = _grid_codes(user, VIEW_AREA, district)
    in_a = {c for c in codes if c.startswith(COMMUNITY_A)}
    in_other = {c for c in codes if c.startswith(OTHER_SUBDISTRICT_COMMUNITY)}
    assert in_a and in_other and codes == in_a | in_other
    assert in_a == set(Area.objects.filter(generation=district, level="grid", code__startswith=COMMUNITY_A)
                       .values_list("code", flat=True))
    assert not any(c.startswith(COMMUNITY_B) for c in codes)


def test_a_role_without_the_action_sees_nothing(district):
    worker = make_user("grid_worker", COMMUNITY_A)  # may view, not change, not read history
    assert _grid_codes(worker, VIEW_AREA, district)
    assert not Area.objects.restrict(worker, CHANGE_AREA).exists()
    assert not Area.objects.restrict(worker, VIEW_HISTORY).exists()


def test_an_action_counts_only_where_the_role_holding_it_is_assigned(district):
    user = make_user("grid_worker", COMMUNITY_A)
    AreaAssignment.objects.create(user=user, area_code=COMMUNITY_B, role=Role.objects.get(slug="community_staff"))
    changeable = _grid_codes(user, CHANGE_AREA, district)
    assert changeable and all(c.startswith(COMMUNITY_B) for c in changeable)


def test_a_superuser_sees_everything(district):
    root = make_superuser()
    assert Area.objects.restrict(root, CHANGE_AREA).count() == Area.objects.count()


def test_inactive_and_anonymous_users_see_nothing(district):
    gone = make_user("community_staff", COMMUNITY_A, is_active=False)
    assert not Area.objects.restrict(gone, VIEW_AREA).exists()
    assert not Area.objects.restrict(AnonymousUser(), VIEW_AREA).exists()
    former_root = make_superuser()
    former_root.is_active = False
    assert not Area.objects.restrict(former_root, VIEW_AREA).exists()


def test_a_leader_sees_areas_but_cannot_read_their_history(client, district):
    leader = make_user("leader", COMMUNITY_A)
    grid = Area.objects.filter(generation=district, code__startswith=COMMUNITY_A, level="grid").first()
    assert Area.objects.restrict(leader, VIEW_AREA).filter(pk=grid.pk).exists()
    assert not Area.objects.restrict(leader, VIEW_HISTORY).exists()
    for url in (reverse("history-api", args=["geo", "area", grid.pk]),
                reverse("core:history", args=["geo", "area", grid.pk]),
                reverse("area-history", args=[grid.pk])):
        assert_cross_scope_denied(client, leader, url)


@pytest.fixture
def draft(district):
    return do_create_draft(actor=make_superuser(), description="scope test")


def _geom_of(generation, community):
    grid = Area.objects.filter(generation=generation, parent__code=community).first()
    return MultiPolygon(*grid.geom).geojson


def test_a_community_user_creates_areas_in_its_community_only(draft):
    staff = make_user("community_staff", COMMUNITY_A)
    created = do_create_area(draft, actor=staff, code=COMMUNITY_A + "901", name="New grid",
                             geom=_geom_of(draft, COMMUNITY_A))
    assert created.parent.code == COMMUNITY_A
    with pytest.raises(Http404):
        do_create_area(draft, actor=staff, code=COMMUNITY_B + "901", name="Sneaked in",
                       geom=_geom_of(draft, COMMUNITY_B))
    assert not Area.objects.filter(generation=draft, code=COMMUNITY_B + "901").exists()


def test_a_community_user_cannot_change_an_area_of_another_community(draft):
    staff = make_user("community_staff", COMMUNITY_A)
    grid_b = Area.objects.filter(generation=draft, parent__code=COMMUNITY_B).first()
    with pytest.raises(Http404):
        do_update_area(grid_b, actor=staff, name="Taken over")
    with pytest.raises(Http404):
        do_update_area(grid_b, actor=staff, geom=_geom_of(draft, COMMUNITY_A))
    grid_b.refresh_from_db()
    assert grid_b.name != "Taken over"


def test_the_api_refuses_writes_across_scope(client, draft):
    staff = make_user("community_staff", COMMUNITY_A)
    grid_b = Area.objects.filter(generation=draft, parent__code=COMMUNITY_B).first()
    assert_cross_scope_denied(client, staff, reverse("area-detail", args=[grid_b.pk]), method="patch",
                              data={"name": "Taken over"})
    assert_cross_scope_denied(
        client, staff, reverse("generation-create-area", args=[draft.pk]), method="post",
        data={"code": COMMUNITY_B + "902", "name": "Sneaked in", "geom": _geom_of(draft, COMMUNITY_B)})
    # The same request inside its own community goes through: the refusal above is the scope, not the input.
    response = client.post(reverse("generation-create-area", args=[draft.pk]),
                           {"code": COMMUNITY_A + "902", "name": "Own grid", "geom": _geom_of(draft, COMMUNITY_A)},
                           content_type="application/json")
    assert response.status_code == 201, response.content
    assert not Area.objects.filter(generation=draft, code=COMMUNITY_B + "902").exists()
    grid_b.refresh_from_db()
    assert grid_b.name != "Taken over"
