"""Exports (masked, scoped, formula-escaped), templates, and the import API and page."""

import csv
import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from wangge.core.testing import COMMUNITY_A, COMMUNITY_B, assert_cross_scope_denied, make_superuser, make_user
from wangge.registry import services
from wangge.registry.exporters import safe_cell
from wangge.registry.importers import COLUMNS, KINDS
from wangge.registry.models import Person

from .test_import import VALID_IDS, csv_file, grid_point, person_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(district):
    admin = make_superuser()
    _grid, point = grid_point(COMMUNITY_A)
    building = services.do_create_building(actor=admin, location=point)
    services.do_create_person(actor=admin, name="=HYPERLINK(\"http://evil\")", id_number=VALID_IDS[0],
                              phone="13800138000", grid_code=building.grid_code, work_unit="@SUM(1)")
    _grid_b, point_b = grid_point(COMMUNITY_B)
    building_b = services.do_create_building(actor=admin, location=point_b)
    services.do_create_person(actor=admin, name="李四", id_number=VALID_IDS[1], grid_code=building_b.grid_code)
    return building


def test_safe_cell():
    assert [safe_cell(v) for v in ["=1+1", "+1", "-1", "@x", "\tx", "ok", 5, None]] == \
        ["'=1+1", "'+1", "'-1", "'@x", "'\tx", "ok", 5, ""]


def test_export_masked_scoped_and_escaped(client, people):
    staff = make_user("community_staff", COMMUNITY_A)
    client.force_login(staff)
    response = client.get("/api/v1/registry/export/persons.xlsx")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:2] == ("姓名", "身份证号") and len(rows) == 2  # the person of community B is not there
    assert rows[1][0] == "'=HYPERLINK(\"http://evil\")" and rows[1][1] == "360426********0071"
    assert rows[1][4] == "138****8000" and "'@SUM(1)" in rows[1]
    assert VALID_IDS[0].encode() not in response.content

    response = client.get("/api/v1/registry/export/persons.csv", {"area": COMMUNITY_A})
    text = response.content.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    assert len(lines) == 2 and lines[1][0].startswith("'=") and VALID_IDS[0] not in text

    leader = make_user("leader", COMMUNITY_A)  # aggregates only: no person rows
    client.force_login(leader)
    assert len(client.get("/api/v1/registry/export/persons.csv").content.decode("utf-8-sig").splitlines()) == 1
    client.force_login(staff)
    bad = client.get("/api/v1/registry/export/persons.csv", {"area": "12x"})
    assert bad.status_code == 400 and bad.json()["error"]["fields"] == {"area": [bad.json()["error"]["message"]]}


def test_export_command(people, tmp_path):
    from django.core.management import call_command

    staff = make_user("community_staff", COMMUNITY_A)
    out = tmp_path / "buildings.xlsx"
    call_command("export_registry", "buildings", str(out), "--user", staff.username)
    rows = list(openpyxl.load_workbook(out).active.iter_rows(values_only=True))
    assert rows[0][0] == "楼栋编码" and len(rows) == 2


@pytest.mark.parametrize("kind", KINDS)
def test_templates_open_with_chinese_headers(client, district, kind):
    client.force_login(make_user("community_staff", COMMUNITY_A))
    response = client.get(f"/api/v1/registry/import/templates/{kind}.xlsx")
    assert response.status_code == 200
    rows = list(openpyxl.load_workbook(io.BytesIO(response.content)).worksheets[0].iter_rows(values_only=True))
    assert list(rows[0]) == [c.header for c in COLUMNS[kind]]
    csv_response = client.get(f"/registry/import/templates/{kind}.csv")
    assert csv_response.content.decode("utf-8-sig").splitlines()[0].split(",")[0] == COLUMNS[kind][0].header


def test_import_api_dry_run_commit_and_error_file(client, people):
    staff = make_user("community_staff", COMMUNITY_A)
    client.force_login(staff)
    code = f"{people.grid_code}{people.number}"
    rows = [person_row(code, VALID_IDS[2], "王五", room=""), person_row(code, "360426199101010072", "坏号", room="")]
    response = client.post("/api/v1/registry/import/persons", {"file": csv_file(rows)})
    assert response.status_code == 200
    body = response.json()
    assert body["committed"] is False and body["problems"][0]["row"] == 3
    assert Person.objects.count() == 2

    response = client.post("/api/v1/registry/import/persons", {"file": csv_file(rows), "commit": "true"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_rows"
    assert response.json()["error"]["details"]["problems"][0]["column"] == "身份证号"

    report = client.post("/api/v1/registry/import/persons", {"file": csv_file(rows), "report": "xlsx"})
    errors = list(openpyxl.load_workbook(io.BytesIO(report.content)).active.iter_rows(values_only=True))
    assert errors[1][0] == 3 and errors[1][1] == "身份证号" and "*" in errors[1][2]

    response = client.post("/api/v1/registry/import/persons", {"file": csv_file(rows), "commit_clean_rows": "true"})
    assert response.json()["committed"] and response.json()["create"] == 1 and Person.objects.count() == 3

    corrupt = client.post("/api/v1/registry/import/persons",
                          {"file": SimpleUploadedFile("x.xlsx", b"PK\x03\x04garbage")})
    assert corrupt.status_code == 400 and corrupt.json()["error"]["code"] == "corrupt_file"


def test_import_api_scope(client, people):
    code = f"{people.grid_code}{people.number}"
    outsider = make_user("community_staff", COMMUNITY_B)
    client.force_login(outsider)
    response = client.post("/api/v1/registry/import/persons",
                           {"file": csv_file([person_row(code, VALID_IDS[2], room="")]), "commit": "true"})
    assert response.status_code == 400
    assert "outside your area" in response.json()["error"]["details"]["problems"][0]["reason"]
    volunteer = make_user("volunteer", COMMUNITY_A)
    client.force_login(volunteer)
    response = client.post("/api/v1/registry/import/persons", {"file": csv_file([person_row(code)])})
    assert response.status_code == 403
    client.logout()
    assert client.get("/api/v1/registry/export/persons.csv").status_code in (401, 403)
    assert_cross_scope_denied(client, outsider, "/registry/import/errors.xlsx")


def test_import_page_shows_the_report(client, people):
    client.force_login(make_user("community_staff", COMMUNITY_A))
    page = client.get("/registry/import/")
    for marker in ('id="import-file"', 'id="import-kind"', 'id="import-submit"', 'id="import-report"'):
        assert marker.encode() in page.content
    code = f"{people.grid_code}{people.number}"
    rows = [person_row(code, VALID_IDS[2], room=""), person_row(code, "360426199101010072", room="")]
    page = client.post("/registry/import/", {"kind": "persons", "file": csv_file(rows), "mode": "dry_run"})
    assert page.status_code == 200 and page.content.count(b'class="import-error"') == 1
    errors = client.get("/registry/import/errors.xlsx")
    assert errors.status_code == 200
    bad = client.post("/registry/import/", {"kind": "persons", "file": SimpleUploadedFile("x.csv", b"\xff\xfe\x00")})
    assert bad.status_code == 200 and b"UTF-16" in bad.content
