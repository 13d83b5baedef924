"""Import and export of areas (issue 2 §4): real files (GeoJSON written here, GeoPackage and Shapefile made by
ogr2ogr), real PostGIS, through the service, the commands and the API."""

import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
from django.contrib.gis.gdal import DataSource
from django.contrib.gis.geos import MultiPolygon, Polygon
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from pyproj import Geod

from wangge.core.errors import DomainError
from wangge.core.testing import COMMUNITY_A, COMMUNITY_B, make_superuser, make_user
from wangge.geo.crs import wgs84_to_gcj02
from wangge.geo.exporters import export_areas
from wangge.geo.import_service import ImportRejected, do_import_areas
from wangge.geo.importers import FieldMapping
from wangge.geo.models import Area, Generation
from wangge.geo.services import do_create_draft

pytestmark = pytest.mark.django_db

NEW_GRID = f"{COMMUNITY_A}901"
ROUND_TRIP_MAPPING = FieldMapping(parent="parent_code", kind="kind", dedicated_to="dedicated_to",
                                  household_target="household_target", population_target="population_target")


# Files ---------------------------------------------------------------------------------------------------------------

def square(lon, lat, size=0.001):
    return {"type": "Polygon", "coordinates": [[[lon, lat], [lon + size, lat], [lon + size, lat + size],
                                                [lon, lat + size], [lon, lat]]]}


def write_geojson(path, features, *, crs_name=None):
    """features: (properties, geometry) pairs."""
    collection = {"type": "FeatureCollection",
                  "features": [{"type": "Feature", "properties": p, "geometry": g} for p, g in features]}
    if crs_name:
        collection["crs"] = {"type": "name", "properties": {"name": crs_name}}
    path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    return path


def ogr2ogr(*args):
    subprocess.run([shutil.which("ogr2ogr"), *map(str, args)], check=True, capture_output=True)  # noqa: S603


def zip_of(path, members):
    """members: {name in the zip: file on disk or bytes}."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            if isinstance(content, Path):
                archive.write(content, name)
            else:
                archive.writestr(name, content)
    return path


@pytest.fixture
def admin():
    return make_superuser()


@pytest.fixture
def draft(district, admin):
    return do_create_draft(actor=admin, description="import test")


@pytest.fixture
def community_a_corner(draft):
    community = Area.objects.get(generation=draft, code=COMMUNITY_A)
    return community.label_point.x, community.label_point.y


@pytest.fixture
def grid_file(tmp_path, draft, community_a_corner):
    """A new grid in community A and a renamed existing grid of community A."""
    existing = Area.objects.filter(generation=draft, parent__code=COMMUNITY_A).order_by("code").first()
    lon, lat = community_a_corner
    return write_geojson(tmp_path / "grids.geojson", [
        ({"CODE": NEW_GRID, "NAME": "新网格", "HH": 120}, square(lon, lat)),
        ({"CODE": existing.code, "NAME": "改名的网格", "HH": None}, json.loads(existing.geom.json)),
    ]), existing


GRID_MAPPING = FieldMapping(code="CODE", name="NAME", household_target="HH")


def area_count(generation):
    return Area.objects.filter(generation=generation).count()


# Dry run and commit --------------------------------------------------------------------------------------------------

def test_dry_run_writes_nothing_and_commit_writes(draft, admin, grid_file):
    path, existing = grid_file
    before = area_count(draft)

    report = do_import_areas(draft, path, actor=admin, mapping=GRID_MAPPING, level="grid")
    assert (report["features"], report["create"], report["update"], report["committed"]) == (2, 1, 1, False)
    assert report["problems"] == []
    assert area_count(draft) == before
    assert Area.objects.get(pk=existing.pk).name == existing.name

    report = do_import_areas(draft, path, actor=admin, mapping=GRID_MAPPING, level="grid", commit=True)
    assert report["committed"] is True
    assert area_count(draft) == before + 1
    created = Area.objects.get(generation=draft, code=NEW_GRID)
    assert created.parent.code == COMMUNITY_A
    assert created.level == "grid" and created.name == "新网格" and created.household_target == 120
    assert created.area_m2 == pytest.approx(111_000 * 0.001 * 0.001 * 89_000, rel=0.05)
    assert created.district_code == "370103"
    assert Area.objects.get(pk=existing.pk).name == "改名的网格"
    draft.refresh_from_db()
    assert draft.state == Generation.State.DRAFT


def test_import_into_an_active_generation_is_refused(district, admin, grid_file):
    path, _existing = grid_file
    with pytest.raises(DomainError) as caught:
        do_import_areas(district, path, actor=admin, mapping=GRID_MAPPING, level="grid", commit=True)
    assert caught.value.field == "generation"
    assert not Area.objects.filter(generation=district, code=NEW_GRID).exists()


def test_geopackage_layer_is_chosen_by_name(tmp_path, draft, admin, grid_file):
    path, _existing = grid_file
    gpkg = tmp_path / "two-layers.gpkg"
    ogr2ogr("-f", "GPKG", "-nln", "grids", gpkg, path)
    ogr2ogr("-f", "GPKG", "-update", "-nln", "other", gpkg, path)

    with pytest.raises(DomainError) as caught:
        do_import_areas(draft, gpkg, actor=admin, mapping=GRID_MAPPING, level="grid")
    assert caught.value.field == "layer" and "grids" in caught.value.message

    report = do_import_areas(draft, gpkg, actor=admin, mapping=GRID_MAPPING, level="grid", layer="grids", commit=True)
    assert (report["driver"], report["layer"], report["srs"]) == ("GPKG", "grids", "EPSG:4326")
    assert Area.objects.get(generation=draft, code=NEW_GRID).household_target == 120


def test_shapefile_with_numeric_codes_is_imported(tmp_path, draft, admin, grid_file):
    path, existing = grid_file
    shp = tmp_path / "shape" / "grids.shp"
    shp.parent.mkdir()
    # Codes in a numeric column, as Shapefiles made in desktop GIS often have them.
    ogr2ogr("-f", "ESRI Shapefile", "-lco", "ENCODING=UTF-8", "-sql",
            "SELECT CAST(CODE AS float(24,0)) AS CODE, NAME, HH FROM grids", shp, path)
    report = do_import_areas(draft, shp, actor=admin, mapping=GRID_MAPPING, level="grid", commit=True)
    assert (report["driver"], report["create"], report["update"]) == ("ESRI Shapefile", 1, 1)
    assert Area.objects.get(generation=draft, code=NEW_GRID).name == "新网格"
    assert Area.objects.get(pk=existing.pk).name == "改名的网格"


def test_zipped_shapefile_upload_through_the_api(client, tmp_path, draft, admin, grid_file):
    path, _existing = grid_file
    shp = tmp_path / "shape" / "网格.shp"
    shp.parent.mkdir()
    ogr2ogr("-f", "ESRI Shapefile", "-lco", "ENCODING=UTF-8", shp, path)
    archive = zip_of(tmp_path / "grids.zip", {f"export/{p.name}": p for p in shp.parent.iterdir()}
                     | {"readme.txt": b"made by hand"})
    client.force_login(admin)
    url = reverse("generation-import", args=[draft.pk])
    with archive.open("rb") as upload:
        response = client.post(url, {"file": upload, "level": "grid", "code_field": "CODE", "name_field": "NAME",
                                     "commit": "true"})
    assert response.status_code == 200, response.content
    assert response.json()["committed"] is True and response.json()["create"] == 1
    assert Area.objects.get(generation=draft, code=NEW_GRID).parent.code == COMMUNITY_A


def test_api_dry_run_answers_the_report_and_writes_nothing(client, draft, admin, grid_file):
    path, _existing = grid_file
    client.force_login(admin)
    with path.open("rb") as upload:
        response = client.post(reverse("generation-import", args=[draft.pk]),
                               {"file": upload, "level": "grid", "code_field": "CODE", "name_field": "NAME"})
    assert response.status_code == 200
    assert response.json()["create"] == 1 and response.json()["committed"] is False
    assert not Area.objects.filter(generation=draft, code=NEW_GRID).exists()


# Coordinates ---------------------------------------------------------------------------------------------------------

def test_gcj02_input_lands_within_a_metre_of_the_wgs84_truth(tmp_path, draft, admin, community_a_corner):
    lon, lat = community_a_corner
    truth = np.array(square(lon, lat)["coordinates"][0])
    shifted_lon, shifted_lat = wgs84_to_gcj02(truth[:, 0], truth[:, 1])
    path = write_geojson(tmp_path / "gcj.geojson", [
        ({"code": NEW_GRID, "name": "高德坐标网格"},
         {"type": "Polygon", "coordinates": [np.column_stack([shifted_lon, shifted_lat]).tolist()]})])
    geod = Geod(ellps="WGS84")
    # The file really is shifted (GCJ-02 moves points by hundreds of metres), so reading it as WGS84 would be wrong.
    assert min(geod.inv(truth[:, 0], truth[:, 1], shifted_lon, shifted_lat)[2]) > 100

    do_import_areas(draft, path, actor=admin, level="grid", crs="gcj02", commit=True)
    stored = np.array(Area.objects.get(generation=draft, code=NEW_GRID).geom[0][0].coords)
    assert stored.shape == truth.shape
    assert max(geod.inv(truth[:, 0], truth[:, 1], stored[:, 0], stored[:, 1])[2]) < 1.0


@pytest.mark.parametrize("crs_name,reason", [
    ("urn:ogc:def:crs:EPSG::3857", "projected"),
    ("urn:ogc:def:crs:EPSG::4214", "not supported"),  # Beijing 1954: geographic, but another datum
])
def test_a_file_in_another_coordinate_system_is_refused(tmp_path, draft, admin, crs_name, reason):
    path = write_geojson(tmp_path / "other-srs.geojson",
                         [({"code": NEW_GRID, "name": "x"}, square(13_000_000, 4_390_000, 100))], crs_name=crs_name)
    with pytest.raises(DomainError) as caught:
        do_import_areas(draft, path, actor=admin, level="grid", commit=True)
    assert caught.value.field == "file" and reason in caught.value.message
    assert not Area.objects.filter(generation=draft, code=NEW_GRID).exists()


def test_unknown_crs_option_is_refused(draft, admin, grid_file):
    path, _existing = grid_file
    with pytest.raises(DomainError) as caught:
        do_import_areas(draft, path, actor=admin, mapping=GRID_MAPPING, crs="utm50", commit=True)
    assert caught.value.field == "crs"


# Bad features: reported per feature, nothing written -----------------------------------------------------------------

BOW_TIE = {"type": "Polygon", "coordinates": [[[116.99, 36.65], [117.0, 36.66], [117.0, 36.65], [116.99, 36.66],
                                               [116.99, 36.65]]]}


def _bad(properties=None, geometry="square"):
    return {"code": f"{COMMUNITY_A}902", "name": "坏网格", **(properties or {})}, geometry


BAD_FEATURES = {
    "letters in the code": (_bad({"code": "37010300200190A"}), "code", "digits only"),
    "missing code": (_bad({"code": None}), "code", "empty"),
    "code of another level": (_bad({"code": COMMUNITY_A}), "code", "grid code has 15 digits"),
    "code not extending the parent": (_bad({"parent": COMMUNITY_B}), "code", "does not extend"),
    "parent missing": (_bad({"code": "370103002099001"}), "code", "no parent area 370103002099"),
    "duplicate code": (_bad({"code": NEW_GRID}), "code", "appears again"),
    "missing name": (_bad({"name": "  "}), "name", "name is required"),
    "null geometry": (_bad(geometry=None), "geometry", "no geometry"),
    "empty geometry": (_bad(geometry={"type": "Polygon", "coordinates": []}), "geometry", "no geometry"),
    "point geometry": (_bad(geometry={"type": "Point", "coordinates": [117.0, 36.65]}), "geometry", "not Point"),
    "line geometry": (_bad(geometry={"type": "LineString", "coordinates": [[117.0, 36.65], [117.1, 36.7]]}),
                      "geometry", "not LineString"),
    "self-intersecting polygon": (_bad(geometry=BOW_TIE), "geometry", "Self-intersection"),
    "longitude out of range": (_bad(geometry=square(190.0, 36.65)), "geometry", "out of range"),
    "unknown kind": (_bad({"kind": "secret"}), "kind", "Unknown kind"),
    "negative household target": (_bad({"households": -3}), "household_target", "whole number"),
}


@pytest.mark.parametrize("case", list(BAD_FEATURES))
def test_each_bad_feature_is_reported_and_nothing_is_written(tmp_path, draft, admin, community_a_corner, case):
    (properties, geometry), field, reason = BAD_FEATURES[case]
    lon, lat = community_a_corner
    geometry = square(lon + 0.002, lat) if geometry == "square" else geometry
    good = ({"code": NEW_GRID, "name": "好网格", "parent": COMMUNITY_A, "kind": "基础网格", "households": 10},
            square(lon, lat))
    path = write_geojson(tmp_path / "bad.geojson", [good, (properties, geometry)])
    before = area_count(draft)
    mapping = FieldMapping(parent="parent", kind="kind", household_target="households")

    with pytest.raises(ImportRejected) as caught:
        do_import_areas(draft, path, actor=admin, mapping=mapping, level="grid", commit=True)

    problems = caught.value.report["problems"]
    assert [(p["index"], p["field"]) for p in problems] == [(1, field)], problems
    assert problems[0]["code"] == (properties["code"] or None)
    assert reason.lower() in problems[0]["reason"].lower()
    assert caught.value.field == "file" and caught.value.details["committed"] is False
    assert area_count(draft) == before  # the good feature was not written either
    assert not Area.objects.filter(generation=draft, code=NEW_GRID).exists()


def test_repair_makes_invalid_geometry_valid_and_reports_it(tmp_path, draft, admin):
    path = write_geojson(tmp_path / "bow-tie.geojson", [({"code": NEW_GRID, "name": "蝴蝶结"}, BOW_TIE)])
    report = do_import_areas(draft, path, actor=admin, level="grid", repair=True, commit=True)
    assert report["problems"] == []
    assert [(r["index"], r["code"]) for r in report["repairs"]] == [(0, NEW_GRID)]
    assert "Self-intersection" in report["repairs"][0]["reason"]
    area = Area.objects.get(generation=draft, code=NEW_GRID)
    assert area.geom.valid and len(area.geom) == 2  # the bow tie became its two triangles


def test_a_file_may_carry_its_own_parents_at_a_higher_level(tmp_path, draft, admin, community_a_corner):
    lon, lat = community_a_corner
    community = "370103002090"
    path = write_geojson(tmp_path / "two-levels.geojson", [
        ({"code": f"{community}001", "name": "新社区第1网格"}, square(lon, lat, 0.001)),  # the child comes first
        ({"code": community, "name": "新社区"}, square(lon, lat, 0.002)),
    ])
    report = do_import_areas(draft, path, actor=admin, commit=True)
    assert (report["create"], report["level"]) == (2, "all")
    grid = Area.objects.get(generation=draft, code=f"{community}001")
    assert (grid.level, grid.parent.code, grid.parent.parent.code) == ("grid", community, "370103002")


# Malformed and huge files ------------------------------------------------------------------------------------------

def _not_gis(tmp_path):
    path = tmp_path / "notes.geojson"
    path.write_text("这不是地图文件, just some notes\n")
    return path


def _truncated(tmp_path):
    path = write_geojson(tmp_path / "cut.geojson", [({"code": NEW_GRID, "name": "x"}, square(117.0, 36.65))])
    path.write_text(path.read_text()[:-40])
    return path


def _zip_without_shapefile(tmp_path):
    return zip_of(tmp_path / "docs.zip", {"a.txt": b"hello", "b.dbf": b"\x03"})


def _empty(tmp_path):
    path = tmp_path / "empty.geojson"
    path.write_bytes(b"")
    return path


def _zip_with_path_traversal(tmp_path):
    return zip_of(tmp_path / "evil.zip", {"../../evil.shp": b"x", "../../evil.shx": b"x", "../../evil.dbf": b"x"})


MALFORMED = {
    "not a GIS file": (_not_gis, "not a readable"),
    "truncated JSON": (_truncated, "not a readable"),
    "zip without a shapefile": (_zip_without_shapefile, "no Shapefile"),
    "empty file": (_empty, "empty"),
    "zip with path traversal": (_zip_with_path_traversal, "unsafe path"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_files_give_a_clear_error(tmp_path, draft, admin, case):
    make, reason = MALFORMED[case]
    path = make(tmp_path)
    before = area_count(draft)
    with pytest.raises(DomainError) as caught:
        do_import_areas(draft, path, actor=admin, commit=True)
    assert caught.value.field == "file"
    assert reason.lower() in caught.value.message.lower()
    assert area_count(draft) == before
    assert not (tmp_path.parent / "evil.shp").exists()


def test_a_file_over_the_size_limit_is_refused(settings, draft, admin, grid_file):
    path, _existing = grid_file
    settings.WANGGE_IMPORT_MAX_BYTES = path.stat().st_size - 1
    with pytest.raises(DomainError) as caught:
        do_import_areas(draft, path, actor=admin, mapping=GRID_MAPPING, commit=True)
    assert caught.value.field == "file" and "too large" in caught.value.message
    assert not Area.objects.filter(generation=draft, code=NEW_GRID).exists()


def test_api_upload_of_a_non_gis_file_is_a_400_naming_the_file(client, tmp_path, draft, admin):
    client.force_login(admin)
    upload = io.BytesIO(b"%PDF-1.4 not a map")
    upload.name = "report.pdf"
    response = client.post(reverse("generation-import", args=[draft.pk]), {"file": upload, "commit": "true"})
    assert response.status_code == 400
    assert "file" in response.json()["error"]["fields"]


def test_api_upload_with_bad_features_is_a_400_listing_them(client, tmp_path, draft, admin):
    path = write_geojson(tmp_path / "bad.geojson", [({"code": NEW_GRID, "name": "x"}, None)])
    client.force_login(admin)
    with path.open("rb") as upload:
        response = client.post(reverse("generation-import", args=[draft.pk]), {"file": upload, "commit": "true"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["details"]["problems"] == [
        {"index": 0, "code": NEW_GRID, "field": "geometry", "reason": "The feature has no geometry (it is null or "
                                                                      "empty)."}]
    assert not Area.objects.filter(generation=draft, code=NEW_GRID).exists()


def test_api_missing_mapping_attribute_names_the_mapping_field(client, draft, admin, grid_file):
    path, _existing = grid_file
    client.force_login(admin)
    with path.open("rb") as upload:
        response = client.post(reverse("generation-import", args=[draft.pk]), {"file": upload, "name_field": "NOPE",
                                                                              "code_field": "CODE"})
    assert response.status_code == 400
    assert "name_field" in response.json()["error"]["fields"]


# Scope ---------------------------------------------------------------------------------------------------------------

def test_a_community_user_cannot_import_into_another_community(tmp_path, client, draft, community_a_corner):
    lon, lat = community_a_corner
    user = make_user("community_staff", COMMUNITY_A)
    grid_b = Area.objects.filter(generation=draft, parent__code=COMMUNITY_B).order_by("code").first()
    path = write_geojson(tmp_path / "mixed.geojson", [
        ({"code": NEW_GRID, "name": "本社区网格"}, square(lon, lat)),
        ({"code": grid_b.code, "name": "改别人的网格"}, square(lon + 0.002, lat)),
    ])
    with pytest.raises(ImportRejected) as caught:
        do_import_areas(draft, path, actor=user, level="grid", commit=True)
    report = caught.value.report
    assert [(p["index"], p["code"]) for p in report["problems"]] == [(1, grid_b.code)]
    assert "outside your scope" in report["problems"][0]["reason"]
    # The counts do not reveal that the other community's grid exists.
    assert (report["create"], report["update"]) == (1, 0)
    assert not Area.objects.filter(generation=draft, code=NEW_GRID).exists()
    assert Area.objects.get(pk=grid_b.pk).name == grid_b.name

    client.force_login(user)
    with path.open("rb") as upload:
        response = client.post(reverse("generation-import", args=[draft.pk]), {"file": upload, "commit": "true"})
    assert response.status_code == 400
    assert not Area.objects.filter(generation=draft, code=NEW_GRID).exists()
    assert Area.objects.get(pk=grid_b.pk).geom == grid_b.geom

    # Its own community alone is fine: the refusal above was about the other community's feature.
    own = write_geojson(tmp_path / "own.geojson", [({"code": NEW_GRID, "name": "本社区网格"}, square(lon, lat))])
    assert do_import_areas(draft, own, actor=user, level="grid", commit=True)["create"] == 1


def test_a_user_without_change_rights_cannot_import(draft, grid_file):
    path, _existing = grid_file
    with pytest.raises(DomainError) as caught:
        do_import_areas(draft, path, actor=make_user("grid_worker", f"{COMMUNITY_A}001"), mapping=GRID_MAPPING,
                        commit=True)
    assert caught.value.code == "forbidden"
    assert not Area.objects.filter(generation=draft, code=NEW_GRID).exists()


# Export --------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["geojson", "gpkg"])
def test_export_round_trip_gives_the_same_geometries(tmp_path, district, admin, fmt):
    output = tmp_path / f"export.{fmt}"
    exported = export_areas(district, output, fmt=fmt)
    assert exported == area_count(district)

    empty_draft = Generation.objects.create(description="round trip")  # a draft holding nothing yet
    report = do_import_areas(empty_draft, output, actor=admin, mapping=ROUND_TRIP_MAPPING, commit=True)
    assert (report["create"], report["update"]) == (exported, 0)

    # Vertex for vertex (ST_OrderingEquals), not merely the same point set: exports keep full precision.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FILTER (WHERE n.id IS NULL),
                   count(*) FILTER (WHERE NOT ST_OrderingEquals(o.geom, n.geom) OR o.name <> n.name
                                    OR o.kind <> n.kind OR o.parent_id IS NULL <> (n.parent_id IS NULL)
                                    OR o.household_target IS DISTINCT FROM n.household_target)
            FROM geo_area o LEFT JOIN geo_area n ON n.code = o.code AND n.generation_id = %s
            WHERE o.generation_id = %s
            """, [empty_draft.pk, district.pk])
        missing, different = cursor.fetchone()
    assert (missing, different) == (0, 0)


def test_export_of_a_scoped_user_holds_only_their_scope(client, district):
    user = make_user("community_staff", COMMUNITY_A)
    client.force_login(user)
    response = client.get(reverse("generation-export", args=[district.pk]), {"level": "all"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/geo+json"
    features = json.loads(b"".join(response.streaming_content))["features"]
    exported = {f["properties"]["code"] for f in features}
    own_grids = set(Area.objects.filter(generation=district, parent__code=COMMUNITY_A).values_list("code", flat=True))
    assert own_grids and own_grids <= exported
    assert exported - own_grids == {"370103", "370103002", COMMUNITY_A}  # its own chain, nothing of community B
    assert not any(code.startswith(COMMUNITY_B) for code in exported)


def test_geopackage_export_through_the_api_opens_in_gdal(client, tmp_path, district, admin):
    client.force_login(admin)
    response = client.get(reverse("generation-export", args=[district.pk]), {"level": "community", "format": "gpkg"})
    assert response.status_code == 200
    assert f"generation-{district.pk}-community.gpkg" in response["Content-Disposition"]
    path = tmp_path / "download.gpkg"
    path.write_bytes(b"".join(response.streaming_content))
    layer = DataSource(str(path))["areas"]
    assert len(layer) == Area.objects.filter(generation=district, level="community").count()
    assert {"code", "name", "level", "parent_code", "kind", "dedicated_to", "household_target", "population_target",
            "area_m2"} <= set(layer.fields)
    first = next(iter(layer))
    assert first.get("level") == "community" and first.get("parent_code") == first.get("code")[:9]


def test_export_bad_query_and_unknown_generation(client, district, admin):
    client.force_login(admin)
    response = client.get(reverse("generation-export", args=[district.pk]), {"format": "shp"})
    assert response.status_code == 400 and "format" in response.json()["error"]["fields"]
    assert client.get(reverse("generation-export", args=[999_999])).status_code == 404


# Commands ------------------------------------------------------------------------------------------------------------

def test_import_command_dry_run_then_commit(draft, admin, grid_file):
    path, _existing = grid_file
    out = io.StringIO()
    args = [str(path), "--generation", str(draft.pk), "--user", admin.username, "--level", "grid",
            "--code-field", "CODE", "--name-field", "NAME", "--household-target-field", "HH"]
    call_command("import_areas", *args, stdout=out)
    assert "would create 1" in out.getvalue() and "Nothing was written" in out.getvalue()
    assert not Area.objects.filter(generation=draft, code=NEW_GRID).exists()

    call_command("import_areas", *args, "--commit", stdout=io.StringIO())
    assert Area.objects.get(generation=draft, code=NEW_GRID).household_target == 120


def test_import_command_errors_are_clear(tmp_path, draft, admin):
    path = write_geojson(tmp_path / "bad.geojson", [({"code": "123", "name": "x"}, square(117.0, 36.65))])
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing was written"):
        call_command("import_areas", str(path), "--generation", str(draft.pk), "--user", admin.username,
                     "--commit", stderr=err, stdout=io.StringIO())
    assert "feature 0 (123) code" in err.getvalue()
    with pytest.raises(CommandError, match="file: The file is empty"):
        call_command("import_areas", str(_empty(tmp_path)), "--generation", str(draft.pk), "--user", admin.username)


def test_export_command_writes_a_geopackage(tmp_path, district):
    output = tmp_path / "grids.gpkg"
    out = io.StringIO()
    call_command("export_areas", str(output), "--generation", "active", "--level", "grid", stdout=out)
    assert len(DataSource(str(output))["areas"]) == Area.objects.filter(generation=district, level="grid").count()


def test_geometries_stay_multipolygons_after_import(tmp_path, draft, admin, community_a_corner):
    lon, lat = community_a_corner
    polygon = Polygon.from_bbox((lon, lat, lon + 0.001, lat + 0.001))
    path = write_geojson(tmp_path / "single.geojson", [({"code": NEW_GRID, "name": "x"}, json.loads(polygon.json))])
    do_import_areas(draft, path, actor=admin, level="grid", commit=True)
    assert isinstance(Area.objects.get(generation=draft, code=NEW_GRID).geom, MultiPolygon)
