"""The map in a real browser (Debian's Chromium, no download): log in through the form, see grids drawn from our
tiles, click one and read its chain, search by code — all without a single request leaving the server."""

from pathlib import Path

import pytest
from django.conf import settings

from wangge.core.testing import BROWSER_WAIT_MS, COMMUNITY_A, load_test_district, make_user
from wangge.geo.models import Area

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Wangge-demo-2026"
PANEL_WIDTH = 360  # the side panel covers the map's right edge on a wide screen


@pytest.fixture
def community_worker():
    """The data the test needs, loaded before the browser starts: Playwright's sync API runs an event loop in this
    thread, and Django refuses database calls from a thread with a running loop."""
    generation = load_test_district()
    user = make_user("community_staff", COMMUNITY_A, password=PASSWORD)
    grids = list(Area.objects.filter(generation=generation, level="grid", code__startswith=COMMUNITY_A)
                 .order_by("code"))
    assert len(grids) >= 2
    return user, grids


def test_log_in_see_grids_click_one_and_search(live_server, community_worker, browser):
    user, grids = community_worker

    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(BROWSER_WAIT_MS)
    requests, tile_statuses = [], []
    page.on("request", lambda request: requests.append(request.url))
    page.on("response", lambda response: "/tiles/" in response.url and tile_statuses.append(response.status))

    page.goto(f"{live_server.url}/")  # the map needs a login: the form comes first
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    page.wait_for_function(
        "() => window.wanggeMap && wanggeMap.loaded()"
        " && wanggeMap.queryRenderedFeatures({layers: ['grid-fill']}).length > 0")
    rendered = page.evaluate(
        "() => wanggeMap.queryRenderedFeatures({layers: ['grid-fill']}).map(f => f.properties.code)")
    # A community worker's map holds their own community's grids and nobody else's.
    assert set(rendered) <= {grid.code for grid in grids}

    box = page.locator("#map").bounding_box()
    points = page.evaluate(
        "(points) => points.map(([lon, lat]) => { const p = wanggeMap.project([lon, lat]); return [p.x, p.y]; })",
        [[grid.label_point.x, grid.label_point.y] for grid in grids])
    target, (x, y) = next((grid, (px, py)) for grid, (px, py) in zip(grids, points, strict=True)
                          if 20 < px < box["width"] - PANEL_WIDTH and 20 < py < box["height"] - 20)
    page.wait_for_function(
        "([x, y]) => wanggeMap.queryRenderedFeatures([x, y], {layers: ['grid-fill']}).length > 0", arg=[x, y])
    page.mouse.click(box["x"] + x, box["y"] + y)

    current = page.locator("#details-chain li.current code")
    current.wait_for()
    assert current.inner_text() == target.code
    chain = page.locator("#details-chain li code").all_inner_texts()
    assert chain == [target.code[:n] for n in (6, 9, 12, 15)]
    assert page.locator("#details-title").inner_text() == target.name
    Path(settings.BASE_DIR / "var" / "screenshots").mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(settings.BASE_DIR / "var" / "screenshots" / "map.png"))

    other = next(grid for grid in grids if grid != target)
    page.fill("#search-q", other.code)
    page.press("#search-q", "Enter")
    page.locator(f"#search-results button[data-id='{other.pk}']").click()
    page.wait_for_function(
        "(code) => document.querySelector('#details-chain li.current code')?.textContent === code", arg=other.code)

    assert tile_statuses and all(status in (200, 204, 304) for status in tile_statuses)
    # Offline by default: every request went to our own server.
    assert all(url.startswith(live_server.url) or url.startswith(("data:", "blob:")) for url in requests), [
        url for url in requests if not url.startswith(live_server.url)]
