"""The registry in a real browser (Debian's Chromium, no download): a community worker logs in through the form,
imports a small persons template with one bad row and reads the error report, then opens the map, colours the grids
by persons, reads the legend, and clicks a building dot for its households."""

from pathlib import Path

import pytest
from django.conf import settings

from wangge.core.testing import BROWSER_WAIT_MS, COMMUNITY_A, load_test_district, make_user
from wangge.geo.models import Area
from wangge.registry import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Wangge-demo-2026"
VALID_ID = "360426199101010071"  # DOMAIN.md §8
_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def id_number(first17):
    """A GB 11643 ID number: 17 digits and their check character."""
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def wrong_check(number):
    """The same number with a check character that does not match."""
    return number[:17] + ("0" if number[17] != "0" else "1")


@pytest.fixture
def residents():
    """Loaded before the browser starts: Playwright's sync API runs an event loop in this thread, and Django
    refuses database calls from a thread with a running loop."""
    generation = load_test_district()
    user = make_user("community_staff", COMMUNITY_A, password=PASSWORD)
    grids = list(Area.objects.filter(generation=generation, level="grid", code__startswith=COMMUNITY_A)
                 .order_by("code"))
    grid = grids[0]
    building = services.do_create_building(actor=user, location=grid.label_point, name="1号楼")
    house = services.do_create_house(building, actor=user, unit="1", room="101")
    household = services.do_create_household(actor=user, number="H-0001", house=house)
    services.do_create_person(actor=user, name="张三", id_number=VALID_ID, house=house, household=household)
    for i in range(3):
        services.do_create_person(actor=user, name=f"李{i}", house=house, household=household)
    services.do_create_person(actor=user, name="王五", grid_code=grids[1].code)
    return {"user": user, "grid": grid, "other": grids[1], "building": building}


def log_in(page, base, user):
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def import_with_one_bad_row(page, base, data, tmp_path):
    """Persons CSV (UTF-8, the template's Chinese headers) into the building's house: one good row, one with a
    wrong ID check character. The dry run's report names the bad row and its column."""
    code = data["building"].grid_code + data["building"].number
    good, bad = id_number("37010319910101001"), wrong_check(id_number("37010319920202002"))
    upload = tmp_path / "persons.csv"
    upload.write_text("姓名,身份证号,楼栋编码,单元,房间号\n"
                      f"周八,{good},{code},1,101\n"
                      f"吴九,{bad},{code},1,101\n", encoding="utf-8")
    page.goto(f"{base}/registry/import/")
    page.select_option("#import-kind", "persons")
    page.set_input_files("#import-file", str(upload))
    page.click("#import-submit")
    errors = page.locator("#import-report .import-error")
    errors.first.wait_for()
    assert errors.count() == 1, errors.all_inner_texts()
    row, column = errors.first.locator("td").all_inner_texts()[:2]
    assert (row, column) == ("3", "身份证号")  # line 3 of the file (the header is line 1), the ID column
    return good


def see_the_choropleth(page, base, data):
    grid, other, building = data["grid"], data["other"], data["building"]
    page.goto(f"{base}/")
    page.wait_for_function(
        "() => window.wanggeMap && wanggeMap.loaded()"
        " && wanggeMap.queryRenderedFeatures({layers: ['grid-fill']}).length > 0")
    page.select_option("#metric-select", "persons")
    page.wait_for_function("() => wanggeResidents.metric === 'persons'"
                           " && !document.getElementById('choropleth-legend').hidden")

    # The grid fill colours by code from the counts: the two grids with residents take a class colour, the rest
    # the zero colour (the last value of the match).
    paint = page.evaluate("() => wanggeMap.getPaintProperty('grid-fill', 'fill-color')")
    assert paint[0] == "match" and paint[1] == ["get", "code"]
    coloured = {code: colour for codes, colour in zip(paint[2:-1:2], paint[3:-1:2], strict=True) for code in codes}
    assert set(coloured) == {grid.code, other.code}
    assert coloured[grid.code] != coloured[other.code]  # 4 persons and 1 person fall in different classes
    assert page.evaluate("() => wanggeResidents.byLevel.grid") == {grid.code: 4, other.code: 1}
    assert page.evaluate("() => wanggeResidents.byLevel.community") == {COMMUNITY_A: 5}
    # What the canvas draws for a grid is the colour its count chose.
    drawn = page.evaluate(
        "(code) => { const f = wanggeMap.queryRenderedFeatures({layers: ['grid-fill']})"
        ".find(f => f.properties.code === code); return f && f.layer.paint['fill-color']; }", grid.code)
    assert drawn is not None
    legend = page.locator("#choropleth-legend")
    assert legend.is_visible()
    assert legend.locator(".legend-class").count() == 1 + 2  # zero + one class per distinct count
    assert legend.locator(".legend-total").inner_text().endswith("5")

    shots = Path(settings.BASE_DIR / "var" / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "residents.png"))

    # High zoom: the building's dot from the building tiles; a click lists its household with masked members.
    page.evaluate("([lon, lat]) => wanggeMap.jumpTo({center: [lon, lat], zoom: 17})",
                  [building.location.x, building.location.y])
    page.wait_for_function(
        "() => wanggeMap.loaded() && wanggeMap.queryRenderedFeatures({layers: ['buildings-dots']}).length > 0")
    box = page.locator("#map").bounding_box()
    point = page.evaluate("([lon, lat]) => { const p = wanggeMap.project([lon, lat]); return [p.x, p.y]; }",
                          [building.location.x, building.location.y])
    page.mouse.click(box["x"] + point[0], box["y"] + point[1])
    details = page.locator("#building-details .household-number")
    details.wait_for()
    assert details.inner_text().startswith("H-0001")
    ids = page.locator("#building-details .person-id").all_inner_texts()
    assert "360426********0071" in ids and VALID_ID not in page.content()
    page.screenshot(path=str(shots / "residents-building.png"))


def test_import_with_an_error_report_then_see_the_resident_map(live_server, residents, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(BROWSER_WAIT_MS)
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    log_in(page, live_server.url, residents["user"])
    import_with_one_bad_row(page, live_server.url, residents, tmp_path)
    see_the_choropleth(page, live_server.url, residents)
    # Offline by default: every request went to our own server.
    assert all(url.startswith(live_server.url) or url.startswith(("data:", "blob:")) for url in requests), [
        url for url in requests if not url.startswith(live_server.url)]
