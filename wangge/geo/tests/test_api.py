import pytest
from django.urls import reverse

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

pytestmark = pytest.mark.django_db


def _grid(district, community):
    return Area.objects.filter(generation=district, parent__code=community).order_by("code").first()


def test_lookup_returns_the_full_chain_for_a_point_inside_a_grid(client, district):
    grid = _grid(district, COMMUNITY_A)
    client.force_login(make_superuser())
    point = grid.label_point
    response = client.get(reverse("lookup"), {"lon": point.x, "lat": point.y})
    assert response.status_code == 200
    assert_matches_schema(response, "/api/v1/geo/lookup")
    chain = response.json()["chain"]
    assert [link["level"] for link in chain] == ["district", "subdistrict", "community", "grid"]
    assert [link["code"] for link in chain] == ["370103", "370103002", COMMUNITY_A, grid.code]
    assert chain[0]["name"] == "市中区"


def test_lookup_outside_the_district_is_an_empty_chain(client, district):
    client.force_login(make_superuser())
    response = client.get(reverse("lookup"), {"lon": 121.47, "lat": 31.23})
    assert response.status_code == 200
    assert response.json()["chain"] == []


@pytest.mark.parametrize("params,field", [
    ({"lon": "abc", "lat": 36.6}, "lon"),
    ({"lon": 116.9, "lat": 95}, "lat"),
    ({"lon": 116.9}, "lat"),
    ({"lon": 116.9, "lat": 36.6, "crs": "utm"}, "crs"),
    ({"lon": 116.9, "lat": 36.6, "at": "2024-13-45"}, "at"),
])
def test_lookup_bad_input_names_the_field(client, district, params, field):
    client.force_login(make_superuser())
    response = client.get(reverse("lookup"), params)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_lookup_hides_grids_outside_the_users_scope(client, district):
    grid_b = _grid(district, COMMUNITY_B)
    client.force_login(make_user("community_staff", COMMUNITY_A))
    response = client.get(reverse("lookup"), {"lon": grid_b.label_point.x, "lat": grid_b.label_point.y})
    codes = [link["code"] for link in response.json()["chain"]]
    # Its own ancestors (district, subdistrict) are visible; community B and its grid are not.
    assert codes == ["370103", "370103002"]


def test_area_list_is_restricted_to_the_scope_and_its_ancestors(client, district):
    client.force_login(make_user("community_staff", COMMUNITY_A))
    response = client.get(reverse("area-list"), {"page_size": 1000})
    assert_matches_schema(response, "/api/v1/geo/areas/")
    codes = {row["code"] for row in response.json()["results"]}
    assert {"370103", "370103002", COMMUNITY_A} <= codes
    assert all(c.startswith(COMMUNITY_A) or COMMUNITY_A.startswith(c) for c in codes)
    assert not any(c.startswith(COMMUNITY_B) for c in codes)


def test_area_detail_across_scope_is_404(client, district):
    outsider = make_user("community_staff", OTHER_SUBDISTRICT_COMMUNITY)
    grid = _grid(district, COMMUNITY_A)
    assert_cross_scope_denied(client, outsider, reverse("area-detail", args=[grid.pk]))
    assert_cross_scope_denied(client, outsider, reverse("area-history", args=[grid.pk]))


def test_unauthenticated_api_is_refused(client, district):
    response = client.get(reverse("area-list"))
    assert response.status_code in (401, 403)
    assert "error" in response.json()


def test_schema_is_served(client, district):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/v1/geo/lookup" in response.content


def test_area_detail_matches_the_schema_and_carries_geojson(client, district):
    grid = _grid(district, COMMUNITY_A)
    client.force_login(make_user("grid_worker", grid.code))
    response = client.get(reverse("area-detail", args=[grid.pk]))
    assert response.status_code == 200
    assert_matches_schema(response, "/api/v1/geo/areas/{id}/")
    body = response.json()
    assert body["code"] == grid.code and body["geom"]["type"] == "MultiPolygon"
    assert body["parent_code"] == COMMUNITY_A


def test_generation_detail_matches_the_schema(client, district):
    client.force_login(make_superuser())
    response = client.get(reverse("generation-detail", args=[district.pk]))
    assert_matches_schema(response, "/api/v1/geo/generations/{id}/")
    assert response.json()["state"] == "active" and response.json()["effective_from"] == "2024-01-01"
