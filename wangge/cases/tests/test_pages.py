"""The event pages (test client): each renders for the roles that may use it and refuses the others (403 for a role
without the pages, 404 for an event out of scope), filters and paging work, forms act through the services with
the API's answers (400 with the field, 403, 404, 409 with a reload link), the inbox and the header's count."""

import io
import json
import re
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from PIL import Image

from wangge.cases import services
from wangge.cases.models import Category, Event, Notification, RoutingRole, RoutingRule
from wangge.cases.notifications import notify
from wangge.core.testing import COMMUNITY_A, COMMUNITY_B, make_user
from wangge.geo.models import Area
from wangge.registry import services as registry
from wangge.workforce.models import Department, DepartmentMembership

pytestmark = pytest.mark.django_db
ID_NUMBER = "11010519491231002X"


def png(name="scene.png"):
    buffer = io.BytesIO()
    Image.new("RGB", (6, 4), (30, 120, 200)).save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def geojson(point):
    return json.dumps({"type": "Point", "coordinates": [point.x, point.y]})


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def cast(district):
    department = Department.objects.create(name="城管局", code="T-CG", area_code="370103")
    other_department = Department.objects.create(name="市场监管局", code="T-SC", area_code="370103")
    handler = make_user("department", "370103")
    DepartmentMembership.objects.create(user=handler, department=department, active_from=date(2024, 1, 1))
    category = Category.objects.get(kind="event", code="0101")
    RoutingRule.objects.create(category=category, area_code="370103", role=RoutingRole.LOCALITY,
                               department=department)
    grids = list(Area.objects.filter(generation__state="active", level="grid", code__startswith=COMMUNITY_A)
                 .order_by("code"))
    other_grid = Area.objects.filter(generation__state="active", level="grid",
                                     code__startswith=COMMUNITY_B).order_by("code").first()
    return {"department": department, "other_department": other_department, "handler": handler,
            "category": category, "grid": grids[0], "grid2": grids[1], "other_grid": other_grid,
            "worker": make_user("grid_worker", COMMUNITY_A), "other_worker": make_user("grid_worker", COMMUNITY_B),
            "command": make_user("command", "370103"), "other_command": make_user("command", COMMUNITY_B),
            "supervision": make_user("supervision", "370103"), "leader": make_user("leader", "370103"),
            "volunteer": make_user("volunteer", COMMUNITY_A)}


def report(cast, *, grid=None, actor=None, **extra):
    grid = grid or cast["grid"]
    values = {"location": grid.geom.point_on_surface, "description": "占道经营", "category": cast["category"],
              **extra}
    return services.do_report_event(actor=actor or cast["worker"], **values)


def act(event, action, user, **extra):
    event.refresh_from_db()
    return services.do_act(event, action, actor=user, version=event.version, **extra)


def case_numbers(response):
    return re.findall(r'data-case="([^"]+)"', response.content.decode())


# ---- access ------------------------------------------------------------------------------------------------------

PAGES = ["cases:board", "cases:map", "cases:tasks"]


@pytest.mark.parametrize("name", PAGES)
def test_queue_pages_render_for_event_roles_and_refuse_others(client, cast, name):
    from django.urls import reverse

    url = reverse(name)
    assert client.get(url).status_code == 302  # to the login
    for role in ("worker", "command", "supervision", "leader", "handler"):
        client.force_login(cast[role])
        assert client.get(url).status_code == 200, role
    client.force_login(cast["volunteer"])
    assert client.get(url).status_code == 403


def test_board_shows_the_scope_only(client, cast):
    mine = report(cast)
    theirs = report(cast, grid=cast["other_grid"], actor=cast["other_worker"])
    client.force_login(cast["worker"])
    assert case_numbers(client.get("/cases/")) == [mine.case_number]
    client.force_login(cast["command"])
    assert set(case_numbers(client.get("/cases/"))) == {mine.case_number, theirs.case_number}
    client.force_login(cast["handler"])  # a department sees its own cases once dispatched
    assert case_numbers(client.get("/cases/")) == []
    act(mine, "accept", cast["command"])
    act(mine, "dispatch", cast["command"])
    assert case_numbers(client.get("/cases/")) == [mine.case_number]


def test_board_filters(client, cast):
    plain = report(cast)
    urgent = report(cast, grid=cast["grid2"], urgency="urgent", source="hotline",
                    category=Category.objects.get(kind="event", code="0102"))
    other = report(cast, grid=cast["other_grid"], actor=cast["other_worker"])
    act(plain, "accept", cast["command"])
    Event.objects.filter(pk=other.pk).update(clock_level="overdue")
    client.force_login(cast["command"])

    def found(**params):
        response = client.get("/cases/", params)
        assert response.status_code == 200, response.content[:500]
        return set(case_numbers(response))

    assert found(state="accepted") == {plain.case_number}
    assert found(state="reported") == {urgent.case_number, other.case_number}
    assert found(urgency="urgent") == {urgent.case_number}
    assert found(source="hotline") == {urgent.case_number}
    assert found(category=str(cast["category"].pk)) == {plain.case_number, other.case_number}
    assert found(category=str(cast["category"].parent_id)) == {plain.case_number, urgent.case_number,
                                                                other.case_number}
    assert found(area=COMMUNITY_B) == {other.case_number}
    assert found(area=cast["grid2"].code) == {urgent.case_number}
    assert found(clock_level="overdue") == {other.case_number}
    assert found(q=urgent.case_number[-5:]) == {urgent.case_number}
    assert found(emergency="false") == {plain.case_number, urgent.case_number, other.case_number}
    assert found(emergency="true") == set()
    # The filter form keeps what was chosen.
    page = client.get("/cases/", {"state": "accepted", "area": COMMUNITY_A}).content.decode()
    assert '<option value="accepted" selected>' in page and f'value="{COMMUNITY_A}"' in page
    # A malformed filter says which and why, and lists nothing.
    bad = client.get("/cases/", {"area": "12"})
    assert bad.status_code == 400 and case_numbers(bad) == [] and "6, 9, 12 or 15" in bad.content.decode()


def test_emergencies_are_pinned_until_closed_and_pages(client, cast, monkeypatch):
    from wangge.cases import views

    emergency = report(cast, emergency=True)  # dispatched at once to the routed department
    assert emergency.state == "dispatched"
    later = [report(cast) for _ in range(3)]
    client.force_login(cast["command"])
    first_page = client.get("/cases/")
    rows = case_numbers(first_page)
    assert rows[0] == emergency.case_number and set(rows[1:]) == {e.case_number for e in later}
    assert 'class="event-row pinned"' in first_page.content.decode()

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    page1, page2 = case_numbers(client.get("/cases/")), case_numbers(client.get("/cases/", {"page": 2}))
    assert page1[0] == emergency.case_number and len(page1) == 2 and len(page2) == 2
    assert set(page1) | set(page2) == {emergency.case_number, *(e.case_number for e in later)}
    assert "page=2" in client.get("/cases/", {"state": "reported"}).content.decode()

    for action, user, extra in [("sign", cast["handler"], {}), ("handle", cast["handler"], {}),
                                ("feedback", cast["handler"], {}), ("verify", cast["supervision"], {}),
                                ("close", cast["supervision"], {})]:
        act(emergency, action, user, **extra)
    monkeypatch.setattr(views, "PAGE_SIZE", 30)
    assert case_numbers(client.get("/cases/"))[0] != emergency.case_number


def test_map_holds_open_events_in_scope(client, cast):
    mine = report(cast, urgency="urgent")
    report(cast, grid=cast["other_grid"], actor=cast["other_worker"])
    closed = report(cast)
    act(closed, "void", cast["command"], note="重复")
    client.force_login(cast["worker"])
    response = client.get("/cases/map/")
    assert response.status_code == 200
    config = json.loads(re.search(r'<script id="event-map-config" type="application/json">(.*?)</script>',
                                  response.content.decode(), re.S).group(1))
    features = config["events"]["features"]
    assert [f["properties"]["case"] for f in features] == [mine.case_number]
    assert features[0]["properties"]["urgency"] == "urgent" and features[0]["properties"]["state"] == "reported"
    assert config["tiles"].startswith("/tiles/{level}/") and config["bounds"]
    board = client.get("/cases/", {"urgency": "urgent"}).content.decode()
    assert 'id="map-link" href="/cases/map/?urgency=urgent"' in board
    filtered = client.get("/cases/map/", {"urgency": "normal"}).content.decode()
    assert '"features": []' in filtered  # the queue's filters apply to the map
    assert "vendor/maplibre-gl.js" in response.content.decode() and "https://" not in config["tiles"]


# ---- one event ---------------------------------------------------------------------------------------------------

def test_detail_shows_timeline_photos_related_masked_and_the_allowed_forms(client, cast):
    person = registry.do_create_person(actor=cast["worker"], name="张三", id_number=ID_NUMBER,
                                       grid_code=cast["grid"].code)
    event = report(cast, photos=[png()], related_persons=[person.pk])
    url = f"/cases/{event.pk}/"

    client.force_login(cast["worker"])
    page = client.get(url).content.decode()
    assert event.case_number in page and "占道经营" in page
    attachment = event.attachments.get()
    assert f'/api/v1/cases/events/{event.pk}/attachments/{attachment.pk}/' in page
    assert "张三" in page and "110105********002X" in page and ID_NUMBER not in page
    assert 'id="no-actions"' in page  # the reporter has nothing to do on a reported case
    assert client.get(f"/api/v1/cases/events/{event.pk}/attachments/{attachment.pk}/").status_code == 200

    client.force_login(cast["command"])
    page = client.get(url).content.decode()
    for action in ("accept", "void", "escalate"):
        assert f'id="form-{action}"' in page, action
    assert 'id="form-dispatch"' not in page and 'id="form-sign"' not in page
    act(event, "accept", cast["command"])
    page = client.get(url).content.decode()
    assert 'id="form-dispatch"' in page
    # The routed department is preselected; the other functional departments are the override list.
    assert re.search(rf'<option value="{cast["department"].pk}" selected>', page)
    assert f'<option value="{cast["other_department"].pk}">' in page
    assert 'data-action="accept"' in page  # the timeline names the accept

    client.force_login(cast["leader"])
    page = client.get(url).content.decode()
    assert 'id="form-instruct"' in page and 'id="form-dispatch"' not in page


def test_detail_and_task_are_404_out_of_scope(client, cast):
    event = report(cast)
    for user in (cast["other_worker"], cast["other_command"], cast["handler"]):
        client.force_login(user)
        for url in (f"/cases/{event.pk}/", f"/cases/tasks/{event.pk}/"):
            assert client.get(url).status_code == 404, (user, url)
        response = client.post(f"/cases/{event.pk}/act/", {"action": "accept", "version": 1})
        assert response.status_code == 404
    client.force_login(cast["volunteer"])
    assert client.get(f"/cases/{event.pk}/").status_code == 404
    event.refresh_from_db()
    assert event.state == "reported"


def test_the_loop_through_the_forms(client, cast, media):
    event = report(cast)
    url, act_url = f"/cases/{event.pk}/", f"/cases/{event.pk}/act/"

    def post(user, action, **data):
        client.force_login(user)
        event.refresh_from_db()
        return client.post(act_url, {"action": action, "version": event.version, **data})

    assert post(cast["command"], "accept").status_code == 302
    response = post(cast["command"], "dispatch", department=cast["department"].pk)
    assert response.status_code == 302 and response["Location"] == url
    event.refresh_from_db()
    assert event.state == "dispatched" and event.department == cast["department"]
    point = cast["grid"].geom.point_on_surface
    response = post(cast["handler"], "sign", view="task", location=geojson(point), photos=[png("到场.png")])
    assert response.status_code == 302 and response["Location"] == f"/cases/tasks/{event.pk}/"
    entry = event.timeline.get(action="sign")
    assert entry.location is not None and entry.attachments.count() == 1
    for action in ("handle", "feedback"):
        assert post(cast["handler"], action, note="已处理").status_code == 302
    for action in ("verify", "close"):
        assert post(cast["supervision"], action).status_code == 302
    assert post(cast["supervision"], "evaluate", satisfaction=4).status_code == 302
    event.refresh_from_db()
    assert event.state == "evaluated" and event.satisfaction == 4
    client.force_login(cast["supervision"])
    page = client.get(url).content.decode()
    assert "已处理" in page and 'class="where"' in page


def test_form_errors_answer_like_the_api(client, cast):
    event = report(cast)
    act_url = f"/cases/{event.pk}/act/"
    client.force_login(cast["command"])
    missing_reason = client.post(act_url, {"action": "void", "version": 1})
    assert missing_reason.status_code == 400
    page = missing_reason.content.decode()
    assert 'id="action-error"' in page and "note" in page and 'id="form-void"' in page
    stale = client.post(act_url, {"action": "accept", "version": 7})
    assert stale.status_code == 409 and 'id="reload-link"' in stale.content.decode()
    bad_version = client.post(act_url, {"action": "accept", "version": "x"})
    assert bad_version.status_code == 400
    client.force_login(cast["supervision"])
    assert client.post(act_url, {"action": "accept", "version": 1}).status_code == 403
    event.refresh_from_db()
    assert event.state == "reported" and event.version == 1
    # A redirect elsewhere than this site is not followed.
    client.force_login(cast["command"])
    response = client.post(act_url, {"action": "accept", "version": 1, "next": "https://example.com/"})
    assert response.status_code == 302 and response["Location"] == f"/cases/{event.pk}/"


def test_task_page_is_a_phone_page_with_big_buttons(client, cast):
    event = report(cast)
    act(event, "accept", cast["command"])
    act(event, "dispatch", cast["command"])
    client.force_login(cast["handler"])
    page = client.get(f"/cases/tasks/{event.pk}/").content.decode()
    assert 'name="viewport"' in page and 'id="form-sign"' in page and 'id="form-return"' in page
    assert 'capture="environment"' in page and 'class="gps-location"' in page and "cases/act.js" in page
    assert '<textarea name="note" rows="3" maxlength="2000" required>' in page  # return needs a reason


def test_my_tasks_are_what_i_can_act_on_now(client, cast):
    event = report(cast)
    client.force_login(cast["command"])
    assert case_numbers(client.get("/cases/tasks/")) == [event.case_number]
    client.force_login(cast["worker"])
    page = client.get("/cases/tasks/")
    assert case_numbers(page) == []  # nothing to do for the reporter: the command centre accepts it
    assert re.findall(r'data-report="([^"]+)"', page.content.decode()) == [event.case_number]  # but they follow it
    act(event, "accept", cast["command"])
    act(event, "dispatch", cast["command"])
    client.force_login(cast["handler"])
    assert case_numbers(client.get("/cases/tasks/")) == [event.case_number]
    client.force_login(cast["command"])
    assert case_numbers(client.get("/cases/tasks/")) == []


# ---- report ------------------------------------------------------------------------------------------------------

def test_report_page_is_for_reporters(client, cast):
    client.force_login(cast["worker"])
    page = client.get("/cases/report/").content.decode()
    assert '<optgroup label="' in page and f'<option value="{cast["category"].pk}">' in page
    assert 'accept="image/*" capture="environment"' in page and "cases/report.js" in page
    # Classes are headings, not choices: events are reported against subclasses only.
    assert f'<option value="{cast["category"].parent_id}">' not in page
    for role in ("handler", "volunteer", "leader"):
        client.force_login(cast[role])
        assert client.get("/cases/report/").status_code == 403, role


def test_report_with_gps_and_a_photo(client, cast, media):
    client.force_login(cast["worker"])
    point = cast["grid"].geom.point_on_surface
    response = client.post("/cases/report/", {
        "category": cast["category"].pk, "description": "井盖缺失", "address": "纬一路 8 号",
        "urgency": "urgent", "location": geojson(point), "photos": [png()]})
    assert response.status_code == 302, response.content[:1000]
    event = Event.objects.get(description="井盖缺失")
    assert response["Location"] == f"/cases/tasks/{event.pk}/"
    assert event.grid_code == cast["grid"].code and event.urgency == "urgent" and event.attachments.count() == 1
    assert event.routed_department == cast["department"]
    page = client.get(response["Location"]).content.decode()
    assert event.case_number in page  # the message names the case number


def test_report_errors_keep_the_form(client, cast):
    client.force_login(cast["worker"])
    data = {"category": cast["category"].pk, "description": "路灯不亮", "address": "纬一路"}
    missing = client.post("/cases/report/", data)
    assert missing.status_code == 400 and "location" in missing.content.decode()
    assert "路灯不亮" in missing.content.decode()  # what was typed stays
    outside = client.post("/cases/report/", {**data, "location": geojson(cast["other_grid"].geom.point_on_surface)})
    assert outside.status_code == 404
    not_an_image = client.post("/cases/report/", {
        **data, "location": geojson(cast["grid"].geom.point_on_surface),
        "photos": [SimpleUploadedFile("x.png", b"not an image", content_type="image/png")]})
    assert not_an_image.status_code == 400 and "photos" in not_an_image.content.decode()
    assert not Event.objects.filter(description="路灯不亮").exists()


# ---- inbox and header --------------------------------------------------------------------------------------------

def test_header_links_by_permission_and_the_unread_count(client, cast):
    assert client.get("/cases/header/").content == b""
    event = report(cast)
    notify([cast["worker"], cast["worker"].pk], Notification.Kind.OTHER, event, "一条消息")
    notify([cast["worker"]], Notification.Kind.OTHER, event, "第二条")
    client.force_login(cast["worker"])
    page = client.get("/cases/header/").content.decode()
    assert 'href="/cases/report/"' in page and 'href="/cases/"' in page
    assert re.search(r'id="unread-count"[^>]*>2</span>', page)
    client.force_login(cast["handler"])
    page = client.get("/cases/header/").content.decode()
    assert 'href="/cases/report/"' not in page and 'id="unread-count"' not in page
    client.force_login(cast["volunteer"])
    page = client.get("/cases/header/").content.decode()
    assert 'href="/cases/"' not in page and 'href="/cases/inbox/"' in page
    assert 'href="/kpi/"' not in page  # no aggregates for a volunteer; a leader reads the KPIs
    client.force_login(make_user("leader", "370103"))
    assert 'href="/kpi/"' in client.get("/cases/header/").content.decode()
    # Every page of the site asks for it.
    assert 'hx-get="/cases/header/"' in client.get("/cases/inbox/").content.decode()


def test_inbox_lists_my_notifications_and_marks_them_read(client, cast):
    event = report(cast)
    mine = notify([cast["worker"]], Notification.Kind.OTHER, event, "给我的")
    notify([cast["worker"]], Notification.Kind.OTHER, event, "第二条")
    theirs = notify([cast["command"]], Notification.Kind.OTHER, event, "给别人的")
    client.force_login(cast["worker"])
    page = client.get("/cases/inbox/").content.decode()
    assert "给我的" in page and "给别人的" not in page
    assert client.post(f"/cases/inbox/{theirs[0].pk}/read/").status_code == 404
    response = client.post(f"/cases/inbox/{mine[0].pk}/read/", {"open": "1"})
    assert response.status_code == 302 and response["Location"] == f"/cases/{event.pk}/"
    mine[0].refresh_from_db()
    assert mine[0].read_at is not None
    assert client.post("/cases/inbox/read-all/").status_code == 302
    assert not Notification.objects.filter(recipient=cast["worker"], read_at__isnull=True).exists()
    assert Notification.objects.get(pk=theirs[0].pk).read_at is None


def test_pages_speak_chinese_by_default(client, cast, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    event = report(cast)
    client.force_login(cast["command"])
    with translation.override("zh-hans"):
        board = client.get("/cases/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
        detail = client.get(f"/cases/{event.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
        header = client.get("/cases/header/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "事件队列" in board and "受理" in detail and "上报事件" in header


def test_extension_and_escalation_forms(client, cast):
    event = report(cast)
    act_url = f"/cases/{event.pk}/act/"

    def post(user, action, **data):
        client.force_login(user)
        event.refresh_from_db()
        return client.post(act_url, {"action": action, "version": event.version, **data})

    assert post(cast["command"], "escalate").status_code == 400  # a reason is required
    assert post(cast["command"], "escalate", note="跨社区").status_code == 302
    event.refresh_from_db()
    assert event.holder_code == COMMUNITY_A[:9]
    assert post(cast["command"], "accept").status_code == 302
    assert post(cast["command"], "dispatch").status_code == 302  # no department chosen: the routed one
    event.refresh_from_db()
    assert event.department == cast["department"]

    client.force_login(cast["handler"])
    page = client.get(f"/cases/tasks/{event.pk}/").content.decode()
    assert 'id="form-request_extension"' in page and 'name="amount"' in page
    assert post(cast["handler"], "request_extension", amount="2", unit="days", note="材料未到").status_code == 302
    event.refresh_from_db()
    assert event.extension_due_at is not None
    client.force_login(cast["command"])
    page = client.get(f"/cases/{event.pk}/").content.decode()
    assert 'id="form-approve_extension"' in page and 'id="form-reject_extension"' in page
    due = event.extension_due_at
    assert post(cast["command"], "approve_extension").status_code == 302
    event.refresh_from_db()
    assert event.due_at == due and event.extension_due_at is None
