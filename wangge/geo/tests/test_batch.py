import csv
import datetime
import io
import json

import numpy as np
import pytest
import shapely
from django.contrib.gis.geos import GEOSGeometry, Point
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from shapely.geometry import LineString
from shapely.ops import split

from wangge.core.errors import DomainError
from wangge.core.testing import COMMUNITY_A, COMMUNITY_B, make_superuser, make_user
from wangge.geo import batch, services
from wangge.geo.crs import from_wgs84
from wangge.geo.index import current_index
from wangge.geo.models import Area

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(db):
    return make_superuser()


def _grid(generation, community=COMMUNITY_A, position=0):
    return Area.objects.filter(generation=generation, parent__code=community).order_by("code")[position]


def _postgis_codes(generation, lon, lat):
    """The lowest code of the grids covering each point, from PostGIS: the same predicate as the single lookup's
    Area.objects.filter(generation=…, level="grid", geom__covers=point), for thousands of points in one query."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT (SELECT a.code FROM geo_area a
                    WHERE a.generation_id = %s AND a.level = 'grid' AND ST_Covers(a.geom, p.g)
                    ORDER BY a.code LIMIT 1)
            FROM (SELECT i, ST_SetSRID(ST_MakePoint(x, y), 4326) AS g
                  FROM unnest(%s::float8[], %s::float8[]) WITH ORDINALITY AS t(x, y, i)) p
            ORDER BY p.i
            """, [generation.pk, list(map(float, lon)), list(map(float, lat))])
        return [row[0] for row in cursor.fetchall()]


def _boundary_points(generation, limit=400):
    """Grid vertices (shared by two to four grids, exactly representable) and midpoints of grid edges."""
    rng = np.random.default_rng(11)
    geoms = [shapely.from_wkb(bytes(g.wkb)) for g in
             Area.objects.filter(generation=generation, level="grid").values_list("geom", flat=True)]
    coords = shapely.get_coordinates(shapely.boundary(np.array(geoms)))
    vertices = coords[rng.choice(len(coords), limit, replace=False)]
    rings = [shapely.get_coordinates(shapely.boundary(g)) for g in rng.choice(np.array(geoms), limit // 2)]
    midpoints = np.array([(ring[k] + ring[k + 1]) / 2 for ring in rings for k in (0, len(ring) // 2)])
    return np.vstack([vertices, midpoints])


def test_the_index_agrees_with_postgis_in_and_around_the_district(district):
    index = current_index()
    x0, y0, x1, y1 = shapely.total_bounds(index.geometries)
    rng = np.random.default_rng(2026)
    # Random points over the bounding box widened by a tenth each side, so plenty fall outside the district.
    dx, dy = (x1 - x0) / 10, (y1 - y0) / 10
    random = np.column_stack([rng.uniform(x0 - dx, x1 + dx, 3000), rng.uniform(y0 - dy, y1 + dy, 3000)])
    points = np.vstack([random, _boundary_points(district)])
    ours = index.codes_for(points[:, 0], points[:, 1]).tolist()
    theirs = _postgis_codes(district, points[:, 0], points[:, 1])
    disagreements = [(tuple(p), a, b) for p, a, b in zip(points, ours, theirs, strict=True) if a != b]
    assert disagreements == []
    assert 0 < ours.count(None) < len(ours) // 2  # both inside and outside were exercised
    # Shared vertices were among them, and there the lowest code won.
    vertex = _boundary_points(district)[0]
    covering = list(Area.objects.filter(generation=district, level="grid", geom__covers=Point(*vertex, srid=4326))
                    .order_by("code").values_list("code", flat=True))
    assert len(covering) >= 2
    assert index.codes_for([vertex[0]], [vertex[1]]).tolist() == [covering[0]]


def test_unmatched_points_and_bad_rows_are_reported(district):
    grid = _grid(district)
    text = (f"id,lon,lat\nin,{grid.label_point.x},{grid.label_point.y}\nshanghai,121.47,31.23\n"
            "word,abc,36.6\nfar,116.9,95\n,116.9,36.6\nshort,116.9\n")
    points = batch.parse_csv(text)
    result = batch.assign_points(points)
    assert result.as_json()["results"][0]["grid_code"] == grid.code
    assert result.unmatched_ids == ["shanghai"]
    errors = {(e["row"], e["field"]) for e in points.errors}
    assert errors == {(3, "lon"), (4, "lat"), (5, "id"), (6, "row")}
    assert result.summary() | {"generation": None} == {
        "generation": None, "crs": "wgs84", "count": 2, "matched": 1, "unmatched_count": 1, "error_count": 4}


def test_json_rows_must_be_objects_with_numbers(district):
    points = batch.parse_json(json.dumps([
        {"id": 1, "lon": 116.99, "lat": 36.65}, {"id": "b", "lon": "116.99", "lat": 36.65}, [1, 2],
        {"id": None, "lon": 116.99, "lat": 36.65}, {"id": "e", "lon": True, "lat": 36.65}, {"id": "f", "lat": 36.6},
    ]))
    assert points.ids.tolist() == [1]
    assert [(e["row"], e["field"]) for e in points.errors] == [(2, "lon"), (3, "row"), (4, "id"), (5, "lon"),
                                                              (6, "lon")]


@pytest.mark.parametrize("data,kind", [
    ("not json", "json"), ('{"points": 5}', "json"), ("lon,lat\n1,2\n", "csv"), ("", "csv"),
    (b"\xff\xfe\x00\xd8", "csv"),
])
def test_unreadable_input_is_refused_as_a_whole(data, kind):
    with pytest.raises(DomainError) as error:
        batch.parse(data, kind=kind, source="file")
    assert error.value.field == "file"


def test_quoted_csv_and_gbk_text_are_read(district):
    grid = _grid(district)
    # Columns in another order, an extra one, a quoted id with a comma; saved by a spreadsheet in GBK.
    text = f'"lat","id","lon","name"\n{grid.label_point.y},"网格员, 一号",{grid.label_point.x},"x"\n'
    result = batch.assign_points(batch.parse(text.encode("gb18030")))
    assert result.as_json()["results"][0]["id"] == "网格员, 一号"
    assert result.grid_codes.tolist() == [grid.code]
    out = io.StringIO()
    result.write_csv(out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[1][:4] == ["网格员, 一号", str(grid.label_point.x), str(grid.label_point.y), grid.code]


def test_gcj02_input_is_converted_before_assignment(district):
    index = current_index()
    # A label point whose GCJ-02 coordinates, read as WGS84, would fall in another grid: the conversion matters.
    for grid in Area.objects.filter(generation=district, level="grid").order_by("code"):
        glon, glat = (float(v) for v in from_wgs84(grid.label_point.x, grid.label_point.y, "gcj02"))
        if index.codes_for([glon], [glat]).tolist() != [grid.code]:
            break
    points = batch.parse_json(json.dumps([{"id": "p", "lon": glon, "lat": glat}]))
    assert batch.assign_points(points, crs="gcj02").grid_codes.tolist() == [grid.code]
    assert batch.assign_points(points).grid_codes.tolist() != [grid.code]
    envelope = batch.parse_json(json.dumps({"crs": "gcj02", "points": [{"id": "p", "lon": glon, "lat": glat}]}))
    assert batch.assign_points(envelope).grid_codes.tolist() == [grid.code]


def test_the_index_follows_a_newly_activated_generation(district, admin):
    grid = _grid(district)
    before = current_index()
    draft = services.do_create_draft(actor=admin, description="split for the batch index")
    area = Area.objects.get(generation=draft, code=grid.code)
    geom = shapely.from_wkb(bytes(area.geom.wkb))
    _minx, miny, _maxx, maxy = geom.bounds
    x = area.label_point.x
    parts = list(split(geom, LineString([(x, miny - 1), (x, maxy + 1)])).geoms)
    halves = [GEOSGeometry(memoryview(shapely.to_wkb(p)), srid=4326) for p in (parts[0], shapely.union_all(parts[1:]))]
    _kept, new = services.do_split_area(area, actor=admin, parts=halves)
    assert services.do_validate_generation(draft, actor=admin)["error_count"] == 0
    point = new.label_point
    assert batch.assign_arrays([point.x], [point.y])[1].tolist() != [-1]
    assert before.codes_for([point.x], [point.y]).tolist() == [grid.code]

    services.do_activate_generation(draft, actor=admin, effective_from=datetime.date(2025, 1, 1))

    index, found = batch.assign_arrays([point.x], [point.y])
    assert index is not before and index.generation_id == draft.pk
    assert index.codes[found].tolist() == [new.code] != [grid.code]


def test_a_scoped_user_gets_only_grids_in_scope(district):
    grid_a, grid_b = _grid(district, COMMUNITY_A), _grid(district, COMMUNITY_B)
    lon, lat = [grid_a.label_point.x, grid_b.label_point.x], [grid_a.label_point.y, grid_b.label_point.y]
    staff = make_user("community_staff", COMMUNITY_A)
    index, found = batch.assign_arrays(lon, lat, user=staff)
    assert found[0] >= 0 and index.codes[found[0]] == grid_a.code
    assert found[1] == -1  # community B's grid is not revealed: unmatched, like a point outside
    assert (batch.assign_arrays(lon, lat, user=make_user(role=None))[1] == -1).all()
    assert (batch.assign_arrays(lon, lat, user=make_superuser())[1] >= 0).all()


# API ------------------------------------------------------------------------------------------------------------

URL = "/api/v1/geo/lookup/batch"


def test_the_url_is_the_named_route():
    assert reverse("lookup-batch") == URL


def test_api_json_in_json_out(client, district):
    grid = _grid(district)
    client.force_login(make_superuser())
    body = [{"id": "a", "lon": grid.label_point.x, "lat": grid.label_point.y}, {"id": 7, "lon": 121.47, "lat": 31.2}]
    response = client.post(URL, body, content_type="application/json")
    assert response.status_code == 200
    data = response.json()
    assert data["results"][0] == {"id": "a", "lon": grid.label_point.x, "lat": grid.label_point.y,
                                  "grid_code": grid.code, "grid_name": grid.name, "community_code": COMMUNITY_A,
                                  "subdistrict_code": COMMUNITY_A[:9]}
    assert data["unmatched"] == [7] and data["matched"] == 1 and data["generation"] == district.pk


def test_api_csv_body_and_csv_output(client, district):
    grid = _grid(district)
    client.force_login(make_superuser())
    glon, glat = (float(v) for v in from_wgs84(grid.label_point.x, grid.label_point.y, "gcj02"))
    body = f"id,lon,lat\na,{glon},{glat}\nb,x,1\n"
    response = client.post(f"{URL}?crs=gcj02&format=csv", body, content_type="text/csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0] == "id,lon,lat,grid_code,grid_name,community_code,subdistrict_code,error"
    assert lines[1].split(",")[3] == grid.code
    assert lines[2].startswith("b,") and "row 2, lon" in lines[2]


def test_api_csv_upload_with_accept_header(client, district):
    grid = _grid(district)
    client.force_login(make_superuser())
    upload = io.BytesIO(f"id,lon,lat\na,{grid.label_point.x},{grid.label_point.y}\n".encode())
    upload.name = "points.csv"
    response = client.post(URL, {"file": upload}, HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert response.content.decode().splitlines()[1].split(",")[3] == grid.code


def test_api_scoped_user_sees_other_communities_points_unmatched(client, district):
    grid_a, grid_b = _grid(district, COMMUNITY_A), _grid(district, COMMUNITY_B)
    client.force_login(make_user("community_staff", COMMUNITY_A))
    body = [{"id": "a", "lon": grid_a.label_point.x, "lat": grid_a.label_point.y},
            {"id": "b", "lon": grid_b.label_point.x, "lat": grid_b.label_point.y}]
    data = client.post(URL, body, content_type="application/json").json()
    assert [row["grid_code"] for row in data["results"]] == [grid_a.code, None]
    assert data["unmatched"] == ["b"]
    assert COMMUNITY_B not in json.dumps(data)


def test_api_requires_authentication(client, district):
    assert client.post(URL, [], content_type="application/json").status_code in (401, 403)


@pytest.mark.parametrize("query,body,content_type,field", [
    ("?crs=utm", "[]", "application/json", "crs"),
    ("?format=xlsx", "[]", "application/json", "format"),
    ("", "{not json", "application/json", "points"),
    ("", '{"points": "none"}', "application/json", "points"),
    ("", "lon,lat\n1,2\n", "text/csv", "points"),
    ("", "", "application/json", "points"),
    ("", '{"crs": "utm", "points": []}', "application/json", "crs"),
])
def test_api_bad_input_names_the_field(client, district, query, body, content_type, field):
    client.force_login(make_superuser())
    response = client.post(URL + query, body, content_type=content_type)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_api_upload_without_file_names_the_file_field(client, district):
    client.force_login(make_superuser())
    response = client.post(URL, {"crs": "wgs84"})
    assert response.status_code == 400 and "file" in response.json()["error"]["fields"]


def test_api_refuses_more_points_than_the_limit(client, district, settings):
    settings.WANGGE_BATCH_MAX_POINTS = 2
    client.force_login(make_superuser())
    body = [{"id": i, "lon": 116.99, "lat": 36.65} for i in range(3)]
    response = client.post(URL, body, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "too_large"
    assert "points" in response.json()["error"]["fields"]
    assert client.post(URL, body[:2], content_type="application/json").status_code == 200


# Command --------------------------------------------------------------------------------------------------------

def test_the_command_writes_csv_and_json(district, tmp_path):
    grid = _grid(district)
    source = tmp_path / "in.csv"
    source.write_text(f"id,lon,lat\na,{grid.label_point.x},{grid.label_point.y}\nb,121.47,31.23\nc,abc,1\n")
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command("assign_points", str(source), stdout=stdout, stderr=stderr)
    lines = stdout.getvalue().splitlines()
    assert lines[1].split(",")[:4] == ["a", str(grid.label_point.x), str(grid.label_point.y), grid.code]
    assert lines[2] == "b,121.47,31.23,,,,,"
    assert "row 3 (lon)" in stderr.getvalue() and "1 matched, 1 unmatched, 1 bad rows" in stderr.getvalue()

    target = tmp_path / "out.json"
    call_command("assign_points", str(source), "-o", str(target), stderr=io.StringIO())
    data = json.loads(target.read_text())
    assert data["results"][0]["grid_code"] == grid.code and data["unmatched"] == ["b"]


def test_the_command_reads_gcj02_json(district, tmp_path):
    grid = _grid(district)
    glon, glat = (float(v) for v in from_wgs84(grid.label_point.x, grid.label_point.y, "gcj02"))
    source = tmp_path / "in.json"
    source.write_text(json.dumps([{"id": "a", "lon": glon, "lat": glat}]))
    stdout = io.StringIO()
    call_command("assign_points", str(source), "--crs", "gcj02", "--format", "json", stdout=stdout,
                 stderr=io.StringIO())
    assert json.loads(stdout.getvalue())["results"][0]["grid_code"] == grid.code


def test_the_command_explains_a_malformed_file(district, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("x,y\n1,2\n")
    with pytest.raises(CommandError, match="id, lon and lat"):
        call_command("assign_points", str(source), stdout=io.StringIO(), stderr=io.StringIO())
