"""The KPI API and page: the contract, the OpenAPI schema, bad input (400 naming the field), scope (every endpoint
denies other areas with 404; department members see their departments), the Excel export opened with openpyxl."""

import io
from datetime import date

import pytest
from openpyxl import load_workbook

from wangge.core.testing import (
    COMMUNITY_A,
    COMMUNITY_B,
    assert_cross_scope_denied,
    assert_matches_schema,
    make_user,
)
from wangge.workforce.models import DepartmentMembership

from .scenario import build

pytestmark = pytest.mark.django_db

MARCH = "level=grid&period=2025-03"
ENDPOINTS = ["/api/v1/kpi/", "/api/v1/kpi/red-black/", "/api/v1/kpi/export.xlsx", "/kpi/"]


@pytest.fixture
def events(cast, clock):
    return build(cast, clock)


def get(client, user, url):
    client.force_login(user)
    return client.get(url)


def test_figures_follow_the_contract_and_the_schema(client, events, cast):
    leader = make_user("leader", "370103")
    response = get(client, leader, f"/api/v1/kpi/?{MARCH}")
    assert response.status_code == 200
    assert_matches_schema(response, "/api/v1/kpi/")
    body = response.json()
    assert (body["level"], body["period"], body["period_to"], body["area"]) == ("grid", "2025-03", "2025-03", None)
    assert body["scheme"]["total"] == 100
    first = body["rows"][0]
    assert first["rank"] == 1 and {"code", "name", "score", "reported", "on_time_rate", "avg_handle_hours",
                                   "voided"} <= set(first)
    grid = next(row for row in body["rows"] if row["code"] == cast["grid_a"].code)
    assert grid["reported"] == 8 and grid["score"] == 61.67 and grid["satisfaction_rate"] == pytest.approx(2 / 3)
    response = get(client, leader, "/api/v1/kpi/?level=department&period=2025-03&period_to=2025-04")
    assert_matches_schema(response, "/api/v1/kpi/")
    assert {row["code"] for row in response.json()["rows"]} == {"K-CG", "K-ZJ"}


def test_red_black_follows_the_schema(client, events):
    response = get(client, make_user("leader", "370103"), f"/api/v1/kpi/red-black/?{MARCH}")
    assert response.status_code == 200
    assert_matches_schema(response, "/api/v1/kpi/red-black/")
    body = response.json()
    assert [row["score"] for row in body["red"]] == [61.67] and body["black"] == [] and body["min_reports"] == 5


@pytest.mark.parametrize("query, field", [
    ("level=street&period=2025-03", "level"),
    ("period=2025-03", "level"),
    ("level=grid&period=2025-3", "period"),
    ("level=grid&period=2025-13", "period"),
    ("level=grid&period=march", "period"),
    ("level=grid&period=2025-03&period_to=2025-02", "period_to"),
    ("level=grid&period=2025-03&period_to=2025/04", "period_to"),
    ("level=grid&period=2020-01&period_to=2025-01", "period_to"),
    ("level=grid&period=2025-03&area=37010", "area"),
    ("level=community&period=2025-03&area=370103002001001", "area"),
    ("level=grid&period=2025-03&scheme=x", "scheme"),
    ("level=grid&period=2025-03&scheme=99999", "scheme"),
])
@pytest.mark.parametrize("endpoint", ENDPOINTS[:3])
def test_bad_input_names_the_field(client, district, endpoint, query, field):
    response = get(client, make_user("leader", "370103"), f"{endpoint}?{query}")
    assert response.status_code == 400, response.content[:200]
    assert field in response.json()["error"]["fields"]


def test_the_page_names_the_error(client, district):
    response = get(client, make_user("leader", "370103"), "/kpi/?level=grid&period=2025-03&period_to=2025-01")
    assert response.status_code == 400 and b"cannot end before it starts" in response.content


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_every_endpoint_denies_other_areas(client, events, endpoint):
    outsider = make_user("community_staff", COMMUNITY_B)
    assert_cross_scope_denied(client, outsider, f"{endpoint}?{MARCH}&area={COMMUNITY_A}")
    assert_cross_scope_denied(client, outsider, f"{endpoint}?level=district&period=2025-03&area=370103")
    # No aggregate scope and no department: nothing at all.
    assert_cross_scope_denied(client, make_user("grid_worker", COMMUNITY_A), f"{endpoint}?{MARCH}")
    assert_cross_scope_denied(client, make_user("volunteer", COMMUNITY_A), f"{endpoint}?{MARCH}")


def test_a_community_sees_its_own_areas_only(client, events, cast):
    staff = make_user("community_staff", COMMUNITY_B)
    rows = get(client, staff, f"/api/v1/kpi/?{MARCH}").json()["rows"]
    assert [row["code"] for row in rows] == [cast["grid_b"].code]
    assert [row["code"] for row in get(client, staff, "/api/v1/kpi/?level=community&period=2025-03")
            .json()["rows"]] == [COMMUNITY_B]
    # A subdistrict is wider than their scope: no partial sum of it.
    assert get(client, staff, "/api/v1/kpi/?level=subdistrict&period=2025-03").json()["rows"] == []
    departments = get(client, staff, "/api/v1/kpi/?level=department&period=2025-03").json()["rows"]
    assert [(row["code"], row["reported"]) for row in departments] == [("K-ZJ", 1)]  # their area's events only
    workers = get(client, staff, "/api/v1/kpi/?level=worker&period=2025-03").json()["rows"]
    assert [row["id"] for row in workers] == [cast["other_worker"].pk]


def test_department_members_see_their_departments(client, events, cast):
    handler = cast["handler"]  # role "department": no aggregate scope, a member of K-CG
    rows = get(client, handler, "/api/v1/kpi/?level=department&period=2025-03").json()["rows"]
    assert [(row["code"], row["reported"]) for row in rows] == [("K-CG", 3)]
    assert get(client, handler, f"/api/v1/kpi/?{MARCH}").json()["rows"] == []
    assert get(client, handler, f"/api/v1/kpi/?level=department&period=2025-03&area={COMMUNITY_B}").json()[
        "rows"] == []
    DepartmentMembership.objects.filter(user=handler).update(active_to=date(2025, 1, 1))
    assert get(client, handler, "/api/v1/kpi/?level=department&period=2025-03").status_code == 404


def test_the_export_opens_in_openpyxl(client, events, cast):
    response = get(client, make_user("leader", "370103"), "/api/v1/kpi/export.xlsx?level=department&period=2025-03")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert 'filename="kpi-department-2025-03.xlsx"' in response["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["考核结果", "红黑榜", "说明"]
    sheet = book["考核结果"]
    headers = [cell.value for cell in sheet[1]]
    assert headers[:4] == ["排名", "部门编码", "部门", "得分"] and "按期处置率" in headers and "满意率" in headers
    rows = {row[1]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert set(rows) == {"K-CG", "K-ZJ"}
    assert rows["K-ZJ"][2] == "'=住建局"  # a name like a formula stays text
    name_cell = next(row[2] for row in sheet.iter_rows(min_row=2) if row[1].value == "K-ZJ")
    assert name_cell.data_type == "s"
    on_time = headers.index("按期处置率")
    assert rows["K-CG"][on_time] == pytest.approx(1 / 3) and rows["K-ZJ"][on_time] is None


def test_the_page_shows_the_table_lists_and_export(client, events, cast):
    leader = make_user("leader", "370103")
    response = get(client, leader, "/kpi/?level=grid&period=2025-03")
    assert response.status_code == 200
    page = response.content.decode()
    assert cast["grid_a"].name in page and "61.67" in page and "66.7%" in page
    assert "/api/v1/kpi/export.xlsx?level=grid&amp;period=2025-03" in page
    assert "Red list" in page and "Black list" in page
    default = get(client, make_user("community_staff", COMMUNITY_A), "/kpi/")
    assert default.status_code == 200 and 'value="grid" selected' in default.content.decode()


def test_the_page_is_chinese_by_default(client, events, settings):
    from django.utils import translation

    settings.LANGUAGE_CODE = "zh-hans"
    with translation.override("zh-hans"):
        page = get(client, make_user("leader", "370103"), "/kpi/?level=grid&period=2025-03").content.decode()
    assert "红榜" in page and "黑榜" in page and "导出" in page
