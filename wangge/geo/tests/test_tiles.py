"""Vector tiles: what a tile holds, whose areas it holds, how it is cached, and what bad requests get."""

import datetime
import math

import mapbox_vector_tile
import pytest
from django.contrib.gis.db.models import Extent
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from wangge.core.testing import COMMUNITY_A, COMMUNITY_B, OTHER_SUBDISTRICT_COMMUNITY, make_superuser, make_user
from wangge.geo import services, tiles
from wangge.geo.models import Area

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_tile_cache():
    """Each test starts with a cold tile cache, as a freshly started worker would."""
    tiles.tile_cache.clear()
    tiles._frozen.clear()
    yield
    tiles.tile_cache.clear()
    tiles._frozen.clear()


def tile_of(lon, lat, z):
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def tile_url(level, z, x, y, generation=None):
    return f"/tiles/{level}/{z}/{x}/{y}.pbf" + (f"?generation={generation}" if generation else "")


def features(response, level):
    assert response.status_code in (200, 204), response.content[:300]
    if response.status_code == 204:
        return []
    return mapbox_vector_tile.decode(response.content).get(level, {}).get("features", [])


def vertex_count(feature):
    geometry = feature["geometry"]
    polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    return sum(len(ring) for polygon in polygons for ring in polygon)


def grid_of(community_code, generation):
    return Area.objects.filter(generation=generation, level="grid", code__startswith=community_code).order_by("code")[0]


def test_tile_holds_the_grids_it_covers_with_their_attributes(client, district):
    grid = grid_of(COMMUNITY_A, district)
    client.force_login(make_superuser())
    x, y = tile_of(grid.label_point.x, grid.label_point.y, 14)

    response = client.get(tile_url("grid", 14, x, y))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.mapbox-vector-tile"
    found = {f["properties"]["code"]: f for f in features(response, "grid")}
    assert grid.code in found
    feature = found[grid.code]
    assert feature["id"] == grid.pk
    properties = feature["properties"]
    assert {key: properties.pop(key) for key in ("label_lon", "label_lat")} == pytest.approx(
        {"label_lon": grid.label_point.x, "label_lat": grid.label_point.y}, abs=1e-6)
    assert properties == {"id": grid.pk, "code": grid.code, "name": grid.name, "level": "grid",
                          "kind": grid.kind, "parent_code": COMMUNITY_A}
    assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert all(len(f["properties"]["code"]) == 15 for f in found.values())


def test_each_level_has_its_own_layer(client, district):
    client.force_login(make_superuser())
    community = Area.objects.get(generation=district, code=COMMUNITY_A)
    x, y = tile_of(community.label_point.x, community.label_point.y, 12)
    for level, length in (("district", 6), ("subdistrict", 9), ("community", 12)):
        found = features(client.get(tile_url(level, 12, x, y)), level)
        assert found, level
        assert {len(f["properties"]["code"]) for f in found} == {length}
        assert {f["properties"]["level"] for f in found} == {level}
    district_feature = features(client.get(tile_url("district", 12, x, y)), "district")[0]
    assert "parent_code" not in district_feature["properties"]  # the district has no parent


def test_community_user_tile_holds_only_their_own_community(client, district):
    community_b = Area.objects.get(generation=district, code=COMMUNITY_B)
    x, y = tile_of(community_b.label_point.x, community_b.label_point.y, 12)
    client.force_login(make_superuser())
    everything = {f["properties"]["code"][:12] for f in features(client.get(tile_url("grid", 12, x, y)), "grid")}
    # The tile shows both communities to an administrator, so the restriction below is what removes B.
    assert {COMMUNITY_A, COMMUNITY_B} <= everything

    client.force_login(make_user("community_staff", COMMUNITY_A))
    grids = {f["properties"]["code"] for f in features(client.get(tile_url("grid", 12, x, y)), "grid")}
    communities = {f["properties"]["code"] for f in features(client.get(tile_url("community", 12, x, y)),
                                                              "community")}

    assert grids and all(code.startswith(COMMUNITY_A) for code in grids)
    assert communities == {COMMUNITY_A}


def test_tile_outside_the_users_scope_is_empty(client, district):
    other = Area.objects.get(generation=district, code=OTHER_SUBDISTRICT_COMMUNITY)
    x, y = tile_of(other.label_point.x, other.label_point.y, 16)
    client.force_login(make_user("community_staff", COMMUNITY_A))

    response = client.get(tile_url("grid", 16, x, y))

    assert response.status_code == 204
    assert response.content == b""


def test_empty_tile_answers_204(client, district):
    client.force_login(make_superuser())
    response = client.get(tile_url("grid", 5, 0, 0))  # the Pacific
    assert response.status_code == 204
    assert response.content == b""
    assert response["ETag"]


def test_etag_and_304(client, district):
    grid = grid_of(COMMUNITY_A, district)
    x, y = tile_of(grid.label_point.x, grid.label_point.y, 14)
    url = tile_url("grid", 14, x, y)
    client.force_login(make_superuser())

    first = client.get(url)
    etag = first["ETag"]
    assert f"g{district.pk}-" in etag
    assert first["Cache-Control"].startswith("private, max-age=")
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    stale = client.get(url, headers={"If-None-Match": '"g0-stale"'})
    assert stale.status_code == 200 and stale.content == first.content

    # Another scope is another tile: its validator differs, so a cached admin tile is never reused for it.
    client.force_login(make_user("community_staff", COMMUNITY_A))
    scoped = client.get(url, headers={"If-None-Match": etag})
    assert scoped.status_code == 200
    assert scoped["ETag"] != etag


def test_generation_parameter_selects_the_boundaries(client, district):
    admin = make_superuser()
    draft = services.do_create_draft(actor=admin, description="tile test")
    grid = grid_of(COMMUNITY_A, draft)
    services.do_update_area(grid, actor=admin, name="改名网格")
    x, y = tile_of(grid.label_point.x, grid.label_point.y, 15)
    client.force_login(admin)

    def names(response):
        return {f["properties"]["code"]: f["properties"]["name"] for f in features(response, "grid")}

    active = client.get(tile_url("grid", 15, x, y))
    drafted = client.get(tile_url("grid", 15, x, y, draft.pk))

    assert names(drafted)[grid.code] == "改名网格"
    assert names(active)[grid.code] != "改名网格"
    assert drafted["ETag"] != active["ETag"] and f"g{draft.pk}-" in drafted["ETag"]
    # A draft still changes: browsers must revalidate its tiles every time.
    assert drafted["Cache-Control"] == "private, no-cache"
    assert client.get(tile_url("grid", 15, x, y, draft.pk), headers={"If-None-Match": drafted["ETag"]}
                      ).status_code == 304
    services.do_update_area(grid, actor=admin, name="再改名")
    changed = client.get(tile_url("grid", 15, x, y, draft.pk), headers={"If-None-Match": drafted["ETag"]})
    assert changed.status_code == 200
    assert names(changed)[grid.code] == "再改名"


@pytest.mark.parametrize(("url", "status", "field"), [
    (tile_url("grid", 25, 0, 0), 400, "z"),
    (tile_url("grid", 3, 8, 0), 400, "x"),
    (tile_url("grid", 3, 0, 8), 400, "y"),
    (tile_url("grid", 0, 1, 0), 400, "x"),
    (tile_url("grid", 10, 99999999999, 0), 400, "x"),
    (tile_url("building", 3, 0, 0), 404, "level"),
    (tile_url("grid", 3, 0, 0) + "?generation=abc", 400, "generation"),
    (tile_url("grid", 3, 0, 0) + "?generation=987654", 404, "generation"),
])
def test_bad_tile_requests_say_what_is_wrong(client, district, url, status, field):
    client.force_login(make_superuser())
    response = client.get(url)
    assert response.status_code == status
    assert field in response.json()["error"]["fields"]


def test_tiles_need_a_login(client, district):
    response = client.get(tile_url("grid", 3, 6, 3))
    assert response.status_code == 401
    assert response.content.count(b"features") == 0


def test_low_zoom_tiles_carry_fewer_vertices(client, district):
    """The district outline drawn from zoom-9 tiles has fewer vertices than the same outline from zoom-13 tiles."""
    client.force_login(make_superuser())
    xmin, ymin, xmax, ymax = Area.objects.filter(generation=district, level="district").aggregate(
        e=Extent("geom"))["e"]

    def outline_vertices(z):
        x0, y0 = tile_of(xmin, ymax, z)
        x1, y1 = tile_of(xmax, ymin, z)
        total = 0
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                total += sum(vertex_count(f) for f in features(client.get(tile_url("district", z, x, y)),
                                                                 "district"))
        return total

    low, high = outline_vertices(9), outline_vertices(13)
    raw = Area.objects.get(generation=district, level="district").geom.num_points
    assert 0 < low < high
    assert low < raw / 2


def test_map_page_has_no_remote_sources_by_default(client, district):
    client.force_login(make_user("community_staff", COMMUNITY_A))
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "/tiles/{level}/{z}/{x}/{y}.pbf" in page
    assert "https://" not in page and "http://" not in page and "glyphs" not in page


@override_settings(WANGGE_BASEMAP="tianditu", WANGGE_TIANDITU_KEY="k3y")
def test_map_page_offers_tianditu_with_the_key(client, district):
    client.force_login(make_user("community_staff", COMMUNITY_A))
    page = client.get("/").content.decode()
    assert "tianditu.gov.cn/vec_w/wmts" in page and "tianditu.gov.cn/cva_w/wmts" in page
    assert "tk=k3y" in page


@override_settings(WANGGE_BASEMAP="osm")
def test_map_page_offers_osm(client, district):
    client.force_login(make_user("community_staff", COMMUNITY_A))
    assert "tile.openstreetmap.org" in client.get("/").content.decode()


def test_map_page_needs_a_login(client, district):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_user_without_any_area_gets_empty_tiles(client, district):
    grid = grid_of(COMMUNITY_A, district)
    x, y = tile_of(grid.label_point.x, grid.label_point.y, 14)
    client.force_login(make_user("system", COMMUNITY_A))  # an integration's role: ingest only, no map
    assert client.get(tile_url("grid", 14, x, y)).status_code == 204
    assert client.get(tile_url("grid", 14, x, y, 987654)).status_code == 404


# --- the server-side tile cache (frozen generations only) ---

def tile_statements(queries):
    return [q["sql"] for q in queries.captured_queries if "ST_AsMVT" in q["sql"]]


def test_cached_tile_is_byte_identical_to_a_fresh_one_and_skips_the_tile_statement(client, district):
    grid = grid_of(COMMUNITY_A, district)
    x, y = tile_of(grid.label_point.x, grid.label_point.y, 14)
    client.force_login(make_superuser())
    for url in (tile_url("grid", 14, x, y), tile_url("grid", 14, x, y, district.pk)):
        tiles.tile_cache.clear()
        with override_settings(WANGGE_TILE_CACHE_BYTES=0):
            fresh = client.get(url)  # the cache off: made by the statement, kept nowhere
            assert len(tiles.tile_cache) == 0
        cold = client.get(url)
        assert len(tiles.tile_cache) == 1
        with CaptureQueriesContext(connection) as queries:
            warm = client.get(url)
        assert tile_statements(queries) == []
        assert tiles.tile_cache.hits == 1
        assert warm.status_code == cold.status_code == fresh.status_code == 200
        assert warm.content == cold.content == fresh.content
        for header in ("ETag", "Cache-Control", "Content-Type", "Vary"):
            assert warm[header] == cold[header] == fresh[header]


def test_empty_tiles_are_cached_too(client, district):
    client.force_login(make_superuser())
    assert client.get(tile_url("grid", 5, 0, 0, district.pk)).status_code == 204
    with CaptureQueriesContext(connection) as queries:
        again = client.get(tile_url("grid", 5, 0, 0, district.pk))
    assert again.status_code == 204 and again.content == b""
    assert tile_statements(queries) == []


def test_a_warm_cache_never_hands_a_tile_to_another_scope(client, district):
    community_b = Area.objects.get(generation=district, code=COMMUNITY_B)
    other = Area.objects.get(generation=district, code=OTHER_SUBDISTRICT_COMMUNITY)
    x, y = tile_of(community_b.label_point.x, community_b.label_point.y, 12)
    ox, oy = tile_of(other.label_point.x, other.label_point.y, 16)
    for generation in (None, district.pk):  # the active one by default, and by its id as the map page asks
        tiles.tile_cache.clear()
        url, outside = tile_url("grid", 12, x, y, generation), tile_url("grid", 16, ox, oy, generation)
        client.force_login(make_superuser())
        everything = {f["properties"]["code"][:12] for f in features(client.get(url), "grid")}
        assert {COMMUNITY_A, COMMUNITY_B} <= everything
        assert features(client.get(outside), "grid")  # the admin's tile out there is cached, and not empty

        for community in (COMMUNITY_A, COMMUNITY_B):
            client.force_login(make_user("community_staff", community))
            for _ in range(2):  # cold for this scope, then warm
                grids = {f["properties"]["code"] for f in features(client.get(url), "grid")}
                assert grids and all(code.startswith(community) for code in grids), (community, grids)
                assert client.get(outside).status_code == 204
        client.force_login(make_user("system", COMMUNITY_A))
        assert client.get(url).status_code == 204
        # admin, worker A, worker B: two tiles each, every scope its own entry; the no-map user one tile
        assert len(tiles.tile_cache) == 7


def test_draft_tiles_are_never_cached(client, district):
    admin = make_superuser()
    draft = services.do_create_draft(actor=admin, description="cache test")
    grid = grid_of(COMMUNITY_A, draft)
    x, y = tile_of(grid.label_point.x, grid.label_point.y, 15)
    url = tile_url("grid", 15, x, y, draft.pk)
    client.force_login(admin)

    def names(response):
        return {f["properties"]["code"]: f["properties"]["name"] for f in features(response, "grid")}

    assert names(client.get(url))[grid.code] == grid.name
    assert names(client.get(url))[grid.code] == grid.name
    assert len(tiles.tile_cache) == 0 and tiles.frozen_generation(draft.pk) is None
    services.do_update_area(grid, actor=admin, name="草稿改名")
    assert names(client.get(url))[grid.code] == "草稿改名"
    services.do_update_area(grid, actor=admin, name="草稿再改名")
    assert names(client.get(url))[grid.code] == "草稿再改名"
    assert len(tiles.tile_cache) == 0


def test_activating_a_generation_needs_no_invalidation(client, district):
    admin = make_superuser()
    grid = grid_of(COMMUNITY_A, district)
    x, y = tile_of(grid.label_point.x, grid.label_point.y, 15)
    client.force_login(admin)

    def names(response):
        return {f["properties"]["code"]: f["properties"]["name"] for f in features(response, "grid")}

    before = client.get(tile_url("grid", 15, x, y))  # the active generation's tile, now cached
    assert names(before)[grid.code] == grid.name
    draft = services.do_create_draft(actor=admin, description="next")
    services.do_update_area(grid_of(COMMUNITY_A, draft), actor=admin, name="新一代")
    assert services.do_validate_generation(draft, actor=admin)["error_count"] == 0
    services.do_activate_generation(draft, actor=admin, effective_from=datetime.date(2030, 1, 1))

    after = client.get(tile_url("grid", 15, x, y))
    assert names(after)[grid.code] == "新一代"
    assert f"g{draft.pk}-" in after["ETag"]
    # The retired generation's tile is still its tile, answered from the cache.
    with CaptureQueriesContext(connection) as queries:
        retired = client.get(tile_url("grid", 15, x, y, district.pk))
    assert tile_statements(queries) == []
    assert retired.content == before.content and retired["ETag"] == before["ETag"]
    # Deleting a generation (the admin could) drops its tiles: its id is a 404 again, not a cached tile.
    retired_pk = district.pk
    district.delete()
    assert client.get(tile_url("grid", 15, x, y, retired_pk)).status_code == 404


def test_revalidating_a_known_frozen_tile_runs_no_geo_query(client, district):
    grid = grid_of(COMMUNITY_A, district)
    x, y = tile_of(grid.label_point.x, grid.label_point.y, 14)
    url = tile_url("grid", 14, x, y, district.pk)
    client.force_login(make_superuser())
    etag = client.get(url)["ETag"]
    with CaptureQueriesContext(connection) as queries:
        again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again["ETag"] == etag
    assert not [q for q in queries.captured_queries if "geo_" in q["sql"]]


def test_tile_cache_keeps_to_its_byte_budget():
    cache = tiles.TileCache()
    cost = 1000 + len("*") + tiles.TileCache.ENTRY_OVERHEAD
    with override_settings(WANGGE_TILE_CACHE_BYTES=3 * cost):
        for n in range(3):
            cache.put((1, "grid", 14, n, 0, "*"), bytes(1000))
        assert len(cache) == 3 and cache.size == 3 * cost
        assert cache.get((1, "grid", 14, 0, 0, "*")) is not None  # now the most recently used
        cache.put((1, "grid", 14, 3, 0, "*"), bytes(1000))
        assert len(cache) == 3 and cache.size <= 3 * cost
        assert cache.get((1, "grid", 14, 1, 0, "*")) is None  # the least recently used went
        assert cache.get((1, "grid", 14, 0, 0, "*")) is not None
        cache.put((1, "grid", 14, 9, 0, "*"), bytes(4 * cost))  # larger than the whole budget: not kept
        assert cache.get((1, "grid", 14, 9, 0, "*")) is None
        cache.forget_generation(1)
        assert len(cache) == 0 and cache.size == 0
    with override_settings(WANGGE_TILE_CACHE_BYTES=0):
        cache.put((1, "grid", 14, 0, 0, "*"), b"x")
        assert len(cache) == 0
