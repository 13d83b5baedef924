"""The closed loop in a real browser (Debian's Chromium, no download), in Chinese as the users see it: a grid worker on
a 375×667 phone, whose GPS (faked) stands inside their grid, reports an event with a photo; the command centre
accepts it and dispatches it to the routed department (preselected); the department's handler signs, handles and
feeds back on a phone, the GPS going with each action; the supervision centre verifies and closes; the case page then
shows the whole timeline and the photos, and the grid's KPIs have moved — and not a single request leaves the
server."""

import io
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from PIL import Image

from wangge.cases.models import Category, RoutingRole, RoutingRule
from wangge.core.testing import COMMUNITY_A, BrowserSession, load_test_district, make_user
from wangge.geo.models import Area
from wangge.workforce.models import Department, DepartmentMembership

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Wangge-demo-2026"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def cast(media):
    """Loaded before the browser starts: Playwright's sync API runs an event loop in this thread, and Django refuses
    database calls from a thread with a running loop."""
    generation = load_test_district()
    grid = Area.objects.filter(generation=generation, level="grid", code__startswith=COMMUNITY_A).order_by(
        "code").first()
    department = Department.objects.create(name="城管局", code="B-CG", area_code="370103")
    Department.objects.create(name="市场监管局", code="B-SC", area_code="370103")
    handler = make_user("department", "370103", password=PASSWORD)
    DepartmentMembership.objects.create(user=handler, department=department, active_from=date(2024, 1, 1))
    category = Category.objects.get(kind="event", code="0101")
    RoutingRule.objects.create(category=category, area_code="370103", role=RoutingRole.LOCALITY,
                               department=department)
    point = grid.geom.point_on_surface
    return {"grid": grid, "point": (point.x, point.y), "department": department, "category": category,
            "worker": make_user("grid_worker", grid.code, password=PASSWORD), "handler": handler,
            "command": make_user("command", "370103", password=PASSWORD),
            "supervision": make_user("supervision", "370103", password=PASSWORD)}


def photo(path):
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 60, 40)).save(buffer, "JPEG")
    path.write_bytes(buffer.getvalue())
    return str(path)


class Session(BrowserSession):
    """A user's browser session (core.testing.BrowserSession), with this test's steps."""

    password = PASSWORD

    def act(self, action, note=None, photo_path=None, gps=False):
        """Opens the action's form, fills it and sends it; waits for the page that answers."""
        page = self.page
        if page.locator(f"details.action-{action}").get_attribute("open") is None:  # a single action is open
            page.click(f"details.action-{action} > summary")
        form = page.locator(f"#form-{action}")
        if note:
            form.locator("textarea[name=note]").fill(note)
        if photo_path:
            form.locator("input[name=photos]").set_input_files(photo_path)
        if gps:
            page.wait_for_function(
                "(action) => document.querySelector(`#form-${action} input.gps-location`).value !== ''", arg=action)
        with page.expect_navigation():
            form.locator("button[type=submit]").click()
        assert page.locator("#action-error").count() == 0, page.locator("#action-error").inner_text()

    def state(self):
        return self.page.locator("#event-state").get_attribute("data-state")

    def fits_the_screen(self):
        return self.page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def kpi_row(session, grid_code):
    """The grid's row of the KPI figures for this month (zeros when it has none yet), read through the API."""
    period = timezone.localdate().strftime("%Y-%m")
    response = session.page.request.get(f"{session.base}/api/v1/kpi/?level=grid&period={period}&area={grid_code}")
    assert response.status == 200, response.text()
    rows = [row for row in response.json()["rows"] if row["code"] == grid_code]
    return rows[0] if rows else {"reported": 0, "closed": 0, "dispatched": 0, "handled": 0, "score": None}


def test_report_dispatch_handle_verify_close(live_server, cast, browser, tmp_path):
    base, requests = live_server.url, []
    shots = Path(settings.BASE_DIR / "var" / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)

    # The grid's KPIs for this month, as the command centre reads them before anything happens.
    command = Session(browser, base, cast["command"], requests)
    command.log_in("/cases/")
    before = kpi_row(command, cast["grid"].code)

    # A grid worker on a phone reports what they see, located by the phone's GPS.
    worker = Session(browser, base, cast["worker"], requests, phone=True, point=cast["point"])
    worker.log_in("/cases/report/")
    page = worker.page
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.wait_for_function("() => document.getElementById('report-location').value !== ''")
    assert page.locator("#gps-status").inner_text().startswith("已获取位置")
    page.select_option("#report-category", str(cast["category"].pk))
    page.fill("#report-description", "人行道上私搭乱建的彩钢棚")
    page.fill("#report-address", "纬一路 12 号门前")
    page.set_input_files("#report-photos", photo(tmp_path / "现场.jpg"))
    assert worker.fits_the_screen()
    page.screenshot(path=str(shots / "event-report-phone.png"), full_page=True)
    with page.expect_navigation():
        page.click("#report-submit")
    assert "/cases/tasks/" in page.url
    case_number = page.locator("#case-number").inner_text()
    assert page.locator(".messages").inner_text() == f"已上报，案卷号 {case_number}。"
    assert page.locator("#event-state").get_attribute("data-state") == "reported"
    assert page.locator("#routed-department").inner_text() == "城管局"
    event_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    # The header carries the inbox link (with the unread count, none yet), fetched after the page.
    page.locator("#cases-nav #inbox-link").wait_for(state="attached")
    assert worker.fits_the_screen()

    # The command centre finds it on the board, accepts it and dispatches it to the routed department.
    page = command.page
    page.reload()
    row = page.locator(f"tr.event-row[data-case='{case_number}']")
    page.screenshot(path=str(shots / "event-board.png"))
    assert row.locator(".state").inner_text() == "已上报"
    row.locator("td.case a").click()
    page.wait_for_url(f"{base}/cases/{event_id}/")
    assert page.locator("#attachments img").count() == 1
    command.act("accept")
    assert command.state() == "accepted"
    select = page.locator("#dispatch-department")
    assert select.input_value() == str(cast["department"].pk)  # the routed department, preselected
    assert select.locator("option").count() >= 2  # and the other functional departments to override it
    page.screenshot(path=str(shots / "event-detail-command.png"), full_page=True)
    command.act("dispatch")
    assert command.state() == "dispatched"
    assert page.locator("#event-department").inner_text() == "城管局"
    # On the map of open events it is a dot coloured by its state, over the grid outlines.
    page.goto(f"{base}/cases/map/")
    page.wait_for_function("() => window.wanggeEventMap && wanggeEventMap.loaded()"
                           " && wanggeEventMap.queryRenderedFeatures({layers: ['events']}).length === 1"
                           " && wanggeEventMap.queryRenderedFeatures({layers: ['grid-line']}).length > 0")
    drawn = page.evaluate("() => wanggeEventMap.queryRenderedFeatures({layers: ['events']})[0].properties")
    assert drawn["case"] == case_number and drawn["state"] == "dispatched"
    page.screenshot(path=str(shots / "event-map.png"))

    # The department's handler, on a phone with a GPS at the scene: my tasks → sign, handle (a photo), feed back.
    handler = Session(browser, base, cast["handler"], requests, phone=True, point=cast["point"])
    handler.log_in("/cases/tasks/")
    page = handler.page
    # The dispatch told them: the header counts one unread message; the inbox opens the case and marks it read.
    assert page.locator("#cases-nav #unread-count").inner_text() == "1"
    page.click("#inbox-link")
    page.wait_for_url(f"{base}/cases/inbox/")
    assert case_number in page.locator("#inbox li.unread .title").inner_text()
    with page.expect_navigation():
        page.click("#inbox li.unread button.open-case")
    assert page.url == f"{base}/cases/{event_id}/"
    page.locator("#cases-nav #inbox-link").wait_for(state="attached")
    assert page.locator("#unread-count").count() == 0
    page.goto(f"{base}/cases/tasks/")
    page.locator(f".task-card[data-case='{case_number}']").click()
    page.wait_for_url(f"{base}/cases/tasks/{event_id}/")
    assert handler.fits_the_screen()
    handler.act("sign", gps=True)
    assert handler.state() == "signed"
    handler.act("handle", note="已拆除彩钢棚，恢复通行", photo_path=photo(tmp_path / "处置后.jpg"), gps=True)
    assert handler.state() == "handled"
    page.screenshot(path=str(shots / "event-task-phone.png"), full_page=True)
    handler.act("feedback", gps=True)
    assert handler.state() == "fed_back"
    page.goto(f"{base}/cases/tasks/")
    assert page.locator(f".task-card[data-case='{case_number}']").count() == 0  # nothing left for them

    # The supervision centre verifies and closes.
    supervision = Session(browser, base, cast["supervision"], requests)
    supervision.log_in("/cases/tasks/")
    page = supervision.page
    page.locator(f".task-card[data-case='{case_number}']").click()
    handler_task = f"{base}/cases/tasks/{event_id}/"
    page.wait_for_url(handler_task)
    supervision.act("verify")
    assert supervision.state() == "verified"
    supervision.act("close")
    assert supervision.state() == "closed"

    # The case page tells the whole story: who did what, when and where, with the photos.
    page.goto(f"{base}/cases/{event_id}/")
    actions = page.locator("#timeline li").evaluate_all("items => items.map(li => li.dataset.action)")
    assert actions == ["report", "accept", "dispatch", "sign", "handle", "feedback", "verify", "close"]
    handled = page.locator("#timeline li[data-action='handle']")
    assert "已拆除彩钢棚" in handled.inner_text() and handled.locator(".where").count() == 1  # where they stood
    images = page.locator("#attachments img")
    assert images.count() == 2
    page.wait_for_function("() => [...document.querySelectorAll('#attachments img')]"
                           ".every(img => img.complete && img.naturalWidth === 64)")
    page.screenshot(path=str(shots / "event-closed.png"), full_page=True)

    # Its KPIs moved: one more report, dispatched, handled and closed, in the grid's row for the month.
    after = kpi_row(supervision, cast["grid"].code)
    assert after["reported"] == before["reported"] + 1 and after["closed"] == before["closed"] + 1
    assert after["dispatched"] == before["dispatched"] + 1 and after["handled"] == before["handled"] + 1
    assert isinstance(after["score"], int | float)
    assert page.goto(f"{base}/kpi/").status == 200  # and the KPI page opens for the supervision centre

    for session in (worker, command, handler, supervision):
        session.context.close()
    # Offline: every request went to our own server.
    assert all(url.startswith(base) or url.startswith(("data:", "blob:")) for url in requests), [
        url for url in requests if not url.startswith(base)]


def test_report_without_gps_by_a_tap_on_the_map(live_server, cast, browser):
    """No GPS permission: the page says so, opens the grid map, and a tap sets the location."""
    base, requests = live_server.url, []
    worker = Session(browser, base, cast["worker"], requests, phone=True)  # no geolocation permission
    worker.log_in("/cases/report/")
    page = worker.page
    page.locator("#pick-map").wait_for(state="visible")
    assert page.locator("#gps-status").inner_text().startswith("无法获取 GPS 位置")
    page.wait_for_function("() => window.wanggeReportMap && wanggeReportMap.loaded()"
                           " && wanggeReportMap.queryRenderedFeatures({layers: ['grid-line']}).length > 0")
    page.locator("#pick-map").scroll_into_view_if_needed()
    box = page.locator("#pick-map").bounding_box()
    x, y = page.evaluate("(p) => { const q = wanggeReportMap.project(p); return [q.x, q.y]; }", list(cast["point"]))
    assert 0 < x < box["width"] and 0 < y < box["height"]
    page.touchscreen.tap(box["x"] + x, box["y"] + y)  # a finger on a phone
    page.wait_for_function("() => document.getElementById('gps-status').textContent.startsWith('已在地图上选定位置')")
    lon, lat = page.evaluate("() => JSON.parse(document.getElementById('report-location').value).coordinates")
    assert abs(lon - cast["point"][0]) < 1e-4 and abs(lat - cast["point"][1]) < 1e-4
    page.select_option("#report-category", str(cast["category"].pk))
    page.fill("#report-description", "路灯不亮")
    assert worker.fits_the_screen()
    with page.expect_navigation():
        page.click("#report-submit")
    assert "/cases/tasks/" in page.url and page.locator("#event-state").get_attribute("data-state") == "reported"
    worker.context.close()
    assert all(url.startswith(base) or url.startswith(("data:", "blob:")) for url in requests)
