"""The events API: report, list and detail in scope (and a department's events), act with version, the errors."""

from datetime import date

import pytest

from wangge.cases.models import Category
from wangge.core.testing import (
    COMMUNITY_A,
    COMMUNITY_B,
    assert_cross_scope_denied,
    assert_matches_schema,
    make_user,
)
from wangge.geo.models import Area
from wangge.workforce.models import Department, DepartmentMembership

pytestmark = pytest.mark.django_db
API = "/api/v1/cases/events/"


@pytest.fixture
def cast(district):
    department = Department.objects.create(name="城管局", code="T-CG", area_code="370103")
    handler = make_user("department", "370103")
    DepartmentMembership.objects.create(user=handler, department=department, active_from=date(2024, 1, 1))
    grid = Area.objects.filter(generation__state="active", level="grid", code__startswith=COMMUNITY_A).first()
    point = grid.geom.point_on_surface
    return {"department": department, "handler": handler, "worker": make_user("grid_worker", COMMUNITY_A),
            "other_worker": make_user("grid_worker", COMMUNITY_B), "command": make_user("command", "370103"),
            "supervision": make_user("supervision", "370103"), "grid": grid.code,
            "location": {"type": "Point", "coordinates": [point.x, point.y]}}


def post(client, user, url, data):
    client.force_login(user)
    return client.post(url, data, content_type="application/json")


def report(client, cast, code="0101"):
    category = Category.objects.get(kind="event", code=code)
    response = post(client, cast["worker"], API, {"location": cast["location"], "category": category.pk,
                                                  "description": "路边违建", "address": "纬一路 1 号"})
    assert response.status_code == 201, response.content
    return response


def act(client, user, event_id, action, version, **extra):
    return post(client, user, f"{API}{event_id}/act/", {"action": action, "version": version, **extra})


def test_report_and_detail(client, cast):
    response = report(client, cast)
    assert_matches_schema(response, "/api/v1/cases/events/", "post")
    body = response.json()
    assert body["grid_code"] == cast["grid"] and body["state"] == "reported" and body["version"] == 1
    assert body["timeline"][0]["action"] == "report"
    detail = client.get(f"{API}{body['id']}/")
    assert detail.status_code == 200
    assert_matches_schema(detail, "/api/v1/cases/events/{id}/")
    listing = client.get(API)
    assert listing.status_code == 200 and [row["id"] for row in listing.json()["results"]] == [body["id"]]
    assert_matches_schema(listing, "/api/v1/cases/events/")


def test_report_errors(client, cast):
    category = Category.objects.get(kind="event", code="0101")
    outside = post(client, cast["worker"], API, {"location": {"type": "Point", "coordinates": [100, 20]},
                                                 "category": category.pk, "description": "x"})
    assert outside.status_code == 400 and "location" in outside.json()["error"]["fields"]
    unknown = post(client, cast["worker"], API, {"location": cast["location"], "category": 999999,
                                                 "description": "x"})
    assert unknown.status_code == 400 and "category" in unknown.json()["error"]["fields"]
    other = post(client, cast["other_worker"], API, {"location": cast["location"], "category": category.pk,
                                                     "description": "x"})
    assert other.status_code == 404
    forbidden = post(client, cast["handler"], API, {"location": cast["location"], "category": category.pk,
                                                    "description": "x"})
    assert forbidden.status_code == 403


def test_loop_through_the_api(client, cast):
    event = report(client, cast).json()
    steps = [("command", "accept", {}), ("command", "dispatch", {"department": cast["department"].pk}),
             ("handler", "sign", {}), ("handler", "handle", {"note": "已拆除"}), ("handler", "feedback", {}),
             ("supervision", "verify", {}), ("supervision", "close", {}),
             ("supervision", "evaluate", {"satisfaction": 4})]
    for who, action, extra in steps:
        response = act(client, cast[who], event["id"], action, event["version"], **extra)
        assert response.status_code == 200, (action, response.content)
        event = response.json()
    assert_matches_schema(response, "/api/v1/cases/events/{id}/act/", "post")
    assert event["state"] == "evaluated" and len(event["timeline"]) == 9 and event["due_at"]


def test_department_sees_its_events_only_once_dispatched(client, cast):
    event = report(client, cast).json()
    client.force_login(cast["handler"])
    assert client.get(f"{API}{event['id']}/").status_code == 404
    event = act(client, cast["command"], event["id"], "accept", 1).json()
    event = act(client, cast["command"], event["id"], "dispatch", 2, department=cast["department"].pk).json()
    client.force_login(cast["handler"])
    assert client.get(f"{API}{event['id']}/").status_code == 200
    assert [row["id"] for row in client.get(API).json()["results"]] == [event["id"]]


def test_forbidden_and_invalid_and_stale(client, cast):
    event = report(client, cast).json()
    wrong_state = act(client, cast["command"], event["id"], "close", 1)
    assert wrong_state.status_code == 400 and wrong_state.json()["error"]["code"] == "invalid_transition"
    wrong_role = act(client, cast["supervision"], event["id"], "accept", 1)
    assert wrong_role.status_code == 403
    unknown = act(client, cast["command"], event["id"], "fly", 1)
    assert unknown.status_code == 400
    assert act(client, cast["command"], event["id"], "accept", 1).status_code == 200
    stale = act(client, cast["command"], event["id"], "void", 1, note="重复")
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "conflict"
    assert "reload" in stale.json()["error"]["message"]


def test_scope_denied(client, cast):
    event = report(client, cast).json()
    assert_cross_scope_denied(client, cast["other_worker"], f"{API}{event['id']}/")
    assert_cross_scope_denied(client, make_user("command", COMMUNITY_B), f"{API}{event['id']}/act/",
                              method="post", data={"action": "accept", "version": 1})
    client.force_login(cast["other_worker"])
    assert client.get(API).json()["results"] == []
    client.logout()
    assert client.get(API).status_code in (401, 403)
