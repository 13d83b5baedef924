"""Door-to-door screening in a real browser (Debian's Chromium, no download), in Chinese as the users see it: a grid
worker on a 375×667 phone, whose GPS (faked) stands inside their grid, opens their grid's list, calls on a household
and fills the household form — member blocks added and removed, skip logic showing and hiding questions as they are
answered, an answer the server refuses shown beside its field — with a fever answer; the flag rule (fever = yes →
category 0901) opens an event that the command centre finds in its events queue, and the coverage moves on the
campaign's ledger page, in the table and on the map — and not a single request leaves the server.

A second test checks that the page's skip logic (skiplogic.js) answers every expression as forms.py does."""

from datetime import date, timedelta
from pathlib import Path

import pytest
from django.conf import settings

from wangge.campaigns import forms, services
from wangge.cases.models import Category
from wangge.core.testing import BROWSER_WAIT_MS, COMMUNITY_A, BrowserSession, load_test_district, make_user
from wangge.geo.models import Area
from wangge.registry import services as registry

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Wangge-demo-2026"


@pytest.fixture
def cast():
    """Loaded before the browser starts: Playwright's sync API runs an event loop in this thread, and Django refuses
    database calls from a thread with a running loop."""
    generation = load_test_district()
    grid = Area.objects.filter(generation=generation, level="grid", code__startswith=COMMUNITY_A).order_by(
        "code").first()
    staff = make_user("subdistrict_staff", COMMUNITY_A[:9], password=PASSWORD)
    community = make_user("community_staff", COMMUNITY_A)
    households = [registry.do_create_household(actor=community, number=f"{grid.code}-{i:04d}", grid_code=grid.code)
                  for i in range(1, 4)]
    campaign = services.do_create_campaign(
        actor=staff, name="冬季返乡人员入户摸排", purpose="掌握辖区返乡人员健康情况，及时发现发热人员",
        legal_basis="《中华人民共和国传染病防治法》第三十一条；《个人信息保护法》第十三条", area_code=COMMUNITY_A[:9],
        target_codes=[COMMUNITY_A], starts_on=date.today(), ends_on=date.today() + timedelta(days=14))
    campaign = services.do_start_campaign(campaign, actor=staff)
    category = Category.objects.get(kind="event", code="0901")
    services.do_add_flag_rule(campaign, actor=staff, code="fever", label="发热或咳嗽", field="fever", operator="eq",
                              value="yes", category=category.pk, urgency="urgent")
    point = grid.geom.point_on_surface
    return {"grid": grid, "point": (point.x, point.y), "campaign": campaign, "households": households,
            "category": category, "worker": make_user("grid_worker", grid.code, password=PASSWORD),
            "command": make_user("command", "370103", password=PASSWORD)}


class Session(BrowserSession):
    """A user's browser session (core.testing.BrowserSession), with this test's steps."""

    password = PASSWORD

    def fits_the_screen(self):
        return self.page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def question(page, path):
    return page.locator(f'.q[data-path="{path}"]')


def choose(page, path, value):
    """Taps a choice (a radio or box drawn as a button) of the question at `path`."""
    question(page, path).locator(f'label.option:has(input[value="{value}"])').click()


def ledger_row(page, code):
    row = page.locator(f'#ledger tbody tr[data-code="{code}"]')
    return {column: row.locator(f'td[data-col="{column}"]').inner_text()
            for column in ("registered", "visited", "pending", "percent", "members", "flagged_members")}


def wait_for_choropleth(page, code):
    page.wait_for_function(
        "(code) => window.wanggeLedgerMap && wanggeLedgerMap.loaded() && window.wanggeLedgerGrids"
        " && document.getElementById('ledger-map').dataset.loaded === '1'"
        " && wanggeLedgerMap.queryRenderedFeatures({layers: ['coverage']}).some(f => f.properties.code === code)",
        arg=code)


def test_a_worker_screens_a_household_and_the_command_centre_sees_the_flag_and_the_coverage(
        live_server, cast, browser):
    base, requests = live_server.url, []
    shots = Path(settings.BASE_DIR / "var" / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    campaign, grid = cast["campaign"], cast["grid"].code
    first = cast["households"][0]
    ledger_url = f"/campaigns/{campaign.pk}/ledger/"

    # The command centre's ledger before anything happens: the community's grids, nobody visited yet.
    command = Session(browser, base, cast["command"], requests)
    command.log_in(ledger_url)
    page = command.page
    assert page.locator("#campaign-legal-basis").inner_text().startswith("《中华人民共和国传染病防治法》")
    before = ledger_row(page, grid)
    assert (before["registered"], before["visited"], before["pending"]) == ("3", "0", "3")
    wait_for_choropleth(page, grid)
    assert page.evaluate(f"() => wanggeLedgerGrids['{grid}'].class") == "c0"

    # The grid worker on a phone: the header's 摸排 link → my campaigns → my grid's households.
    worker = Session(browser, base, cast["worker"], requests, phone=True, point=cast["point"])
    worker.log_in("/cases/tasks/")
    page = worker.page
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.locator("#campaigns-link").click()
    page.wait_for_url(f"{base}/campaigns/")
    card = page.locator(f'#my-campaigns li[data-campaign="{campaign.pk}"]')
    assert "掌握辖区返乡人员健康情况" in card.inner_text()
    card.locator(f'a[data-grid="{grid}"]').click()
    page.wait_for_url(f"{base}/campaigns/{campaign.pk}/grids/{grid}/")
    standings = page.locator("#households li").evaluate_all("items => items.map(li => li.dataset.status)")
    assert standings == ["pending", "pending", "pending"]
    assert worker.fits_the_screen()
    page.screenshot(path=str(shots / "screening-grid-phone.png"), full_page=True)

    # The first household: the form of the campaign, located by the phone's GPS.
    page.locator(f"#household-{first.pk} a").click()
    page.wait_for_url(f"{base}/campaigns/{campaign.pk}/households/{first.pk}/visit/")
    page.wait_for_function("() => document.getElementById('visit-location').value !== ''")
    assert page.locator("#gps-status").evaluate("el => el.classList.contains('ok')")
    page.locator('label.option:has(input[name=status][value="visited"])').click()
    assert page.locator("#answers").is_visible() and page.locator("#revisit").is_hidden()

    # Member 1 came back from elsewhere: the return questions appear (skip logic), and go again on "no".
    page.fill('input[name="members[0].name"]', "张三")
    assert question(page, "members[0].return_date").is_hidden()
    choose(page, "members[0].returned", "yes")
    assert question(page, "members[0].return_date").is_visible()
    assert question(page, "members[0].from_place").is_visible()
    choose(page, "members[0].returned", "no")
    assert question(page, "members[0].return_date").is_hidden()
    choose(page, "members[0].returned", "yes")
    page.fill('input[name="members[0].return_date"]', date.today().isoformat())
    page.fill('input[name="members[0].from_place"]', "湖北省武汉市")
    choose(page, "members[0].provinces_14d", "p42")
    choose(page, "members[0].fever", "yes")
    choose(page, "members[0].contact", "no")
    choose(page, "members[0].isolation", "home")

    # Two more members added, the last one removed again: two blocks, numbered 1 and 2.
    page.click(".add-member")
    page.click(".add-member")
    assert page.locator(".repeat-block").count() == 3
    page.locator('.repeat-block[data-index="2"] .remove-member').click()
    titles = page.locator(".repeat-block .member-title").all_inner_texts()
    assert [title.rsplit(" ", 1)[-1] for title in titles] == ["1", "2"]
    page.fill('input[name="members[1].name"]', "李四")
    choose(page, "members[1].returned", "no")
    choose(page, "members[1].contact", "no")
    choose(page, "members[1].isolation", "none")
    assert worker.fits_the_screen()
    page.screenshot(path=str(shots / "screening-visit-phone.png"), full_page=True)

    # The phone would not send a form with a required answer missing; sent anyway, the server says where.
    page.evaluate("() => { document.getElementById('visit-form').noValidate = true; }")
    with page.expect_navigation():
        page.click("#visit-submit")
    error = page.locator('.q[data-path="members[1].fever"] .field-error')
    assert error.count() == 1 and page.locator("#page-error").get_attribute("data-status") == "400"
    assert page.locator('input[name="members[0].name"]').input_value() == "张三"  # nothing typed is lost
    assert question(page, "members[0].return_date").is_visible()
    page.screenshot(path=str(shots / "screening-visit-error-phone.png"), full_page=True)
    choose(page, "members[1].fever", "no")
    with page.expect_navigation():
        page.click("#visit-submit")

    # Back on the list: the household is visited, one flagged person.
    assert page.url == f"{base}/campaigns/{campaign.pk}/grids/{grid}/#household-{first.pk}"
    row = page.locator(f"#household-{first.pk}")
    assert row.get_attribute("data-status") == "visited"
    assert first.number in page.locator(".messages").inner_text()
    assert page.locator("#grid-progress").get_attribute("data-done") == "1"
    assert worker.fits_the_screen()
    page.screenshot(path=str(shots / "screening-grid-after-phone.png"), full_page=True)

    # The command centre's events queue has the flagged event: urgent, category 0901, no name in it.
    page = command.page
    page.goto(f"{base}/cases/")
    rows = page.locator("tr.event-row")
    assert rows.count() == 1
    assert rows.first.locator(".badge.urgency-urgent").count() == 1
    assert grid in rows.first.inner_text() and cast["category"].name in rows.first.inner_text()
    page.screenshot(path=str(shots / "screening-event-board.png"))
    rows.first.locator("td.case a").click()
    page.wait_for_url(f"{base}/cases/*/")
    description = page.locator("#event-description").inner_text()
    assert "发热或咳嗽" in description and first.number in description and "张三" not in description

    # And the coverage has moved on the ledger page: in the table and on the map.
    page.goto(f"{base}{ledger_url}")
    after = ledger_row(page, grid)
    assert after.pop("members").startswith("2 /")  # persons screened / registered
    assert after == {"registered": "3", "visited": "1", "pending": "2", "percent": "33.3%", "flagged_members": "1"}
    wait_for_choropleth(page, grid)
    assert page.evaluate(f"() => wanggeLedgerGrids['{grid}'].class") == "c1"
    page.screenshot(path=str(shots / "screening-ledger.png"), full_page=True)
    page.goto(f"{base}/campaigns/{campaign.pk}/")
    assert page.locator('#flag-rules tr[data-rule="fever"]').count() == 1
    page.screenshot(path=str(shots / "screening-campaign.png"), full_page=True)

    outside = [url for url in requests if not url.startswith((base, "data:", "blob:"))]
    assert outside == []


# ---- the skip logic of the page against forms.py's ----------------------------------------------------------------

EXPRESSIONS = [
    "${a} = 'yes'", "${a} != 'yes'", "${n} > 17", "${n} >= 18 and ${a} = 'yes'", "${n} < 18 or ${a} = 'no'",
    "not(${a} = 'yes')", "selected(${many}, 'p42')", "selected(${many}, 'p11')", "count-selected(${many}) >= 2",
    "string-length(${t}) > 3", "${d} = '1.50'", "${d} = 1.5", "${n} = 18", "${n} = '18'", "${zero}", "${empty}",
    "${t}", "true()", "false() or ${a} = 'yes'", "(${n} > 10) and (not(${a} = 'no'))", "${missing} = ''",
    "${missing} < 3", "${t} > 1", "${n} != 018", "string-length(${zero})", "count-selected(${empty})",
]
VALUES = {"a": "yes", "n": 18, "many": ["p42", "p37"], "t": "湖北武汉", "d": "1.50", "zero": 0, "empty": []}


def python_answers():
    def lookup(name):
        return VALUES.get(name)

    results = []
    for text in EXPRESSIONS:
        results.append(bool(forms.evaluate(forms.parse_expression(text), lookup)))
    return results


def test_the_page_reads_skip_logic_as_the_server_does(live_server, browser):
    expected = python_answers()
    page = browser.new_page()
    page.set_default_timeout(BROWSER_WAIT_MS)
    page.goto(f"{live_server.url}/accounts/login/")
    page.add_script_tag(url=f"{live_server.url}/static/campaigns/skiplogic.js")
    answers = page.evaluate("""([expressions, values]) => {
        const logic = window.wanggeSkipLogic;
        const lookup = (name) => {
          if (!(name in values)) return null;
          const value = values[name];
          return typeof value === 'number' ? new logic.Num(String(value)) : value;
        };
        return expressions.map((text) => logic.truthy(logic.evaluate(logic.parse(text), lookup)));
    }""", [EXPRESSIONS, VALUES])
    assert dict(zip(EXPRESSIONS, answers, strict=True)) == dict(zip(EXPRESSIONS, expected, strict=True))
    # What forms.py refuses to read, the page refuses too (and then shows the question, as the server keeps it).
    for text in ("${a} ==", "foo(${a})", "${a} = 'x' and", "selected(${a})"):
        with pytest.raises(ValueError):
            forms.parse_expression(text)
        assert page.evaluate("(text) => { try { wanggeSkipLogic.parse(text); return false; }"
                             " catch (e) { return true; } }", text)
        assert page.evaluate("(text) => wanggeSkipLogic.shown(text, () => null)", text)
