"""The events API beyond the loop: photos (real images only, nothing half-written), registry links (in scope,
masked), the queue's filters and tasks, the actions a user may take, categories — and scope on each."""

import io
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from wangge.cases.models import Category, Event, EventAttachment, RoutingRole, RoutingRule
from wangge.core.testing import COMMUNITY_A, COMMUNITY_B, assert_matches_schema, make_user
from wangge.geo.models import Area
from wangge.registry import services as registry
from wangge.workforce.models import Department, DepartmentMembership

pytestmark = pytest.mark.django_db
API = "/api/v1/cases/events/"
ID_NUMBER = "11010519491231002X"


def png(width=4, height=3, name="photo.png"):
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def cast(district):
    department = Department.objects.create(name="城管局", code="T-CG", area_code="370103")
    handler = make_user("department", "370103")
    DepartmentMembership.objects.create(user=handler, department=department, active_from=date(2024, 1, 1))
    category = Category.objects.get(kind="event", code="0101")
    RoutingRule.objects.create(category=category, area_code="370103", role=RoutingRole.LOCALITY,
                               department=department)
    grid = Area.objects.filter(generation__state="active", level="grid", code__startswith=COMMUNITY_A).order_by(
        "code").first()
    point = grid.geom.point_on_surface
    return {"department": department, "handler": handler, "category": category, "grid": grid.code,
            "worker": make_user("grid_worker", COMMUNITY_A), "other_worker": make_user("grid_worker", COMMUNITY_B),
            "command": make_user("command", "370103"), "supervision": make_user("supervision", "370103"),
            "location": f'{{"type": "Point", "coordinates": [{point.x}, {point.y}]}}'}


def report(client, cast, **extra):
    client.force_login(cast["worker"])
    data = {"location": cast["location"], "category": cast["category"].pk, "description": "占道经营", **extra}
    return client.post(API, data)  # multipart, as the phone page sends it


def test_report_with_photos_and_download_in_scope_only(client, cast, media):
    response = report(client, cast, photos=[png(), png(8, 6, "第二张.png")])
    assert response.status_code == 201, response.content
    assert_matches_schema(response, API, "post")
    body = response.json()
    assert [(row["width"], row["height"], row["content_type"]) for row in body["attachments"]] == [
        (4, 3, "image/png"), (8, 6, "image/png")]
    assert body["timeline"][0]["attachments"] == [row["id"] for row in body["attachments"]]
    assert body["routed_department"] == cast["department"].pk and body["routed_department_name"] == "城管局"
    stored = EventAttachment.objects.get(pk=body["attachments"][1]["id"])
    assert "第二张" not in stored.file.name  # stored under a random name; the name is kept in the row
    assert (media / stored.file.name).read_bytes().startswith(b"\x89PNG")
    url = body["attachments"][0]["url"]
    download = client.get(url)
    assert download.status_code == 200 and download["Content-Type"] == "image/png"
    assert b"".join(download.streaming_content).startswith(b"\x89PNG")
    client.force_login(cast["other_worker"])
    assert client.get(url).status_code == 404
    assert client.get(f"{API}{body['id']}/attachments/999999/").status_code in (404,)


@pytest.mark.parametrize("upload, reason", [
    (SimpleUploadedFile("x.png", b"not an image at all", content_type="image/png"), "JPEG, PNG or WebP"),
    (SimpleUploadedFile("empty.jpg", b"", content_type="image/jpeg"), "empty"),
])
def test_bad_photos_are_refused_and_nothing_is_written(client, cast, upload, reason):
    before = Event.objects.count()
    response = report(client, cast, photos=[png(), upload])
    assert response.status_code == 400
    error = response.json()["error"]
    assert "photos[1]" in error["fields"] or "photos" in error["fields"], error
    assert Event.objects.count() == before and not EventAttachment.objects.exists()


def test_oversized_and_too_many_photos(client, cast, settings):
    settings.WANGGE_ATTACHMENT_MAX_BYTES = 200
    big = report(client, cast, photos=[png(200, 200)])
    assert big.status_code == 400 and "photos[0]" in big.json()["error"]["fields"]
    settings.WANGGE_ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
    settings.WANGGE_ATTACHMENT_MAX_COUNT = 2
    many = report(client, cast, photos=[png(), png(), png()])
    assert many.status_code == 400 and "photos" in many.json()["error"]["fields"]
    assert not Event.objects.exists()


def test_an_action_carries_location_and_photos(client, cast):
    event_id = report(client, cast).json()["id"]
    client.force_login(cast["command"])
    response = client.post(f"{API}{event_id}/act/", {
        "action": "accept", "version": 1, "location": cast["location"], "photos": [png()]})
    assert response.status_code == 200, response.content
    entry = response.json()["timeline"][-1]
    assert entry["action"] == "accept" and entry["location"]["type"] == "Point" and len(entry["attachments"]) == 1
    bad = client.post(f"{API}{event_id}/act/", {"action": "dispatch", "version": 2,
                                                "location": '{"type": "Point", "coordinates": [1000, 1]}'})
    assert bad.status_code == 400 and "location" in bad.json()["error"]["fields"]
    assert Event.objects.get(pk=event_id).state == "accepted"


def test_related_records_in_scope_masked(client, cast):
    staff = make_user("community_staff", COMMUNITY_A)
    person = registry.do_create_person(actor=staff, name="张三", id_number=ID_NUMBER, grid_code=cast["grid"])
    other_grid = Area.objects.filter(generation__state="active", level="grid",
                                     code__startswith=COMMUNITY_B).order_by("code").first()
    stranger = registry.do_create_person(actor=make_user("community_staff", COMMUNITY_B), name="李四",
                                         grid_code=other_grid.code)
    refused = report(client, cast, related_persons=[person.pk, stranger.pk])
    assert refused.status_code == 400 and "related_persons" in refused.json()["error"]["fields"]
    assert str(stranger.pk) in refused.json()["error"]["fields"]["related_persons"][0]
    response = report(client, cast, related_persons=[person.pk])
    assert response.status_code == 201, response.content
    linked = response.json()["related_persons"]
    assert linked[0]["id"] == person.pk and "张三" in linked[0]["label"] and ID_NUMBER not in str(linked)
    event_id = response.json()["id"]
    client.force_login(cast["command"])  # the command centre reads persons: masked
    detail = client.get(f"{API}{event_id}/").json()
    assert detail["related_persons"][0]["id"] == person.pk and ID_NUMBER not in str(detail)
    client.post(f"{API}{event_id}/act/", {"action": "accept", "version": 1}, content_type="application/json")
    client.post(f"{API}{event_id}/act/", {"action": "dispatch", "version": 2}, content_type="application/json")
    client.force_login(cast["handler"])  # a department handler may not read persons: the link is left out
    detail = client.get(f"{API}{event_id}/")
    assert detail.status_code == 200 and detail.json()["related_persons"] == []


def test_queue_filters_tasks_and_actions(client, cast):
    first = report(client, cast).json()
    second = report(client, cast, urgency="urgent").json()
    client.force_login(cast["command"])
    listing = client.get(API, {"urgency": "urgent"})
    assert [row["id"] for row in listing.json()["results"]] == [second["id"]]
    assert client.get(API, {"area": COMMUNITY_B}).json()["results"] == []
    assert len(client.get(API, {"area": COMMUNITY_A, "open": "true"}).json()["results"]) == 2
    for name, value in (("state", "nonsense"), ("area", "12"), ("emergency", "maybe"), ("category", "x")):
        bad = client.get(API, {name: value})
        assert bad.status_code == 400 and name in bad.json()["error"]["fields"], name
    detail = client.get(f"{API}{first['id']}/").json()
    assert set(detail["actions"]) == {"accept", "void", "urge", "escalate"}
    tasks = client.get(API, {"tasks": "1"}).json()["results"]
    assert {row["id"] for row in tasks} == {first["id"], second["id"]}
    client.post(f"{API}{first['id']}/act/", {"action": "accept", "version": 1}, content_type="application/json")
    client.post(f"{API}{first['id']}/act/", {"action": "dispatch", "version": 2}, content_type="application/json")
    assert {row["id"] for row in client.get(API, {"tasks": "1"}).json()["results"]} == {second["id"]}
    client.force_login(cast["handler"])
    handler_tasks = client.get(API, {"tasks": "1"}).json()["results"]
    assert [row["id"] for row in handler_tasks] == [first["id"]]
    assert client.get(f"{API}{first['id']}/").json()["actions"] == [
        "sign", "return", "request_extension", "wait_citizen"]
    client.force_login(cast["worker"])
    assert client.get(API, {"tasks": "1"}).json()["results"] == []
    assert client.get(f"{API}{first['id']}/").json()["actions"] == []


def test_categories(client, cast):
    client.force_login(cast["worker"])
    response = client.get("/api/v1/cases/categories/")
    assert response.status_code == 200
    assert_matches_schema(response, "/api/v1/cases/categories/")
    rows = response.json()
    subclass = next(row for row in rows if row["code"] == "0101" and row["kind"] == "event")
    assert subclass["parent"] is not None
    client.logout()
    assert client.get("/api/v1/cases/categories/").status_code in (401, 403)


def test_category_filters_take_a_class_and_a_kind(client, cast):
    report(client, cast)
    client.force_login(cast["command"])
    klass = Category.objects.get(kind="event", code="01")
    assert len(client.get(API, {"category": klass.pk}).json()["results"]) == 1  # the class holds 0101
    assert len(client.get(API, {"category": "01", "kind": "event"}).json()["results"]) == 1
    assert client.get(API, {"category": "01", "kind": "part"}).json()["results"] == []
    bad = client.get(API, {"kind": "thing"})
    assert bad.status_code == 400 and "kind" in bad.json()["error"]["fields"]
    detail = client.get(f"{API}{client.get(API).json()['results'][0]['id']}/").json()
    assert detail["timeline"][0]["actor_name"] == str(cast["worker"])


def test_answers_are_what_drf_would_render_and_a_report_answers_as_its_detail(client, cast):
    """The event endpoints read their JSON straight from the rows (the hot path) and a report answers from what was
    just written, without a re-read: the 201 body is the detail a GET then returns, and every rendering equals DRF's
    own rendering of the declared fields — with a photo, a link, an emergency, dispatched and handled events."""
    from rest_framework.serializers import ModelSerializer
    from rest_framework.test import APIRequestFactory

    from wangge.cases.api.events import EventDetailSerializer, EventListSerializer, EventViewSet

    person = registry.do_create_person(actor=make_user("community_staff", COMMUNITY_A), name="张三",
                                       id_number=ID_NUMBER, grid_code=cast["grid"])
    RoutingRule.objects.create(category=cast["category"], area_code="370103", role=RoutingRole.EMERGENCY,
                               department=cast["department"])
    reports = [report(client, cast, photos=[png()], related_persons=[person.pk]),
               report(client, cast, urgency="emergency"), report(client, cast, address="纬二路 2 号")]
    for response in reports:
        assert response.status_code == 201, response.content
        assert client.get(f"{API}{response.json()['id']}/").json() == response.json()
    plain = reports[2].json()
    client.force_login(cast["command"])
    client.post(f"{API}{plain['id']}/act/", {"action": "accept", "version": 1}, content_type="application/json")
    client.post(f"{API}{plain['id']}/act/", {"action": "dispatch", "version": 2}, content_type="application/json")
    client.force_login(cast["handler"])
    for action, version in (("sign", 3), ("handle", 4)):
        answer = client.post(f"{API}{plain['id']}/act/", {"action": action, "version": version, "note": "已清理"},
                             content_type="application/json")
        assert answer.status_code == 200, answer.content

    request = APIRequestFactory().get(API)
    request.user = cast["command"]
    view = EventViewSet(request=request, action="retrieve", format_kwarg=None)
    events = list(view.get_queryset().order_by("pk"))
    assert {event.state for event in events} >= {"reported", "dispatched", "handled"}
    for event in events:
        for serializer_class in (EventListSerializer, EventDetailSerializer):
            serializer = serializer_class(event, context={"request": request})
            assert serializer.data == ModelSerializer.to_representation(serializer, event), serializer_class
