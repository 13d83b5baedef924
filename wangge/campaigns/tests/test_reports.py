"""Daily reports (counts from the day's visits, the zero report, late, one per grid and day, corrected only before
the deadline), missing reports and their reminders, and the statistics table with a cut-off date (hand-computed),
its Excel export; on a clock the services read."""

import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.http import Http404
from django.utils import timezone

from wangge.campaigns import jobs, reports, services
from wangge.campaigns.exporters import CONTENT_TYPE, statistics_xlsx
from wangge.campaigns.models import DailyReport, MissingReportNotice
from wangge.core.errors import DomainError
from wangge.core.testing import (
    COMMUNITY_A,
    COMMUNITY_B,
    OTHER_SUBDISTRICT_COMMUNITY,
    assert_cross_scope_denied,
    assert_matches_schema,
    make_user,
)
from wangge.geo.models import Area
from wangge.registry import services as registry
from wangge.workforce.models import GridPost

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock:
    """timezone.now() for the services, auto_now_add and the job: set with at("2025-03-05 09:00") (local time)."""

    def __init__(self, monkeypatch):
        self.now = datetime(2025, 3, 5, 12, 0, tzinfo=SHANGHAI)
        monkeypatch.setattr(timezone, "now", lambda: self.now)

    def at(self, text):
        self.now = datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)
        return self.now


def local(text):
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def grid(community):
    return Area.objects.current().filter(level="grid", code__startswith=community).order_by("code").first().code


def member(**values):
    row = {"name": "张三", "returned": "no", "fever": "no", "contact": "no", "isolation": "none"}
    row.update(values)
    return row


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


@pytest.fixture
def world(district, clock):
    """A district-wide campaign from 2025-03-01 to 03-20, deadline 08:00, over grids g1 (community A), g2 (community
    A), g3 (community B, same subdistrict) and g4 (another subdistrict); households a, b in g1, f in g2, c in g3,
    d and e in g4; a fever rule without an event (flag only); a grid chief for each grid."""
    staff = make_user("subdistrict_staff", "370103")
    g1, g2 = (Area.objects.current().filter(level="grid", code__startswith=COMMUNITY_A).order_by("code")
              .values_list("code", flat=True)[:2])
    g3, g4 = grid(COMMUNITY_B), grid(OTHER_SUBDISTRICT_COMMUNITY)
    households = {name: registry.do_create_household(actor=staff, number=f"R-{name}", grid_code=code)
                  for name, code in (("a", g1), ("b", g1), ("f", g2), ("c", g3), ("d", g4), ("e", g4))}
    chiefs = {}
    for code in (g1, g2, g3, g4):
        chiefs[code] = make_user("grid_chief", code)
        GridPost.objects.create(kind="grid_chief", grid_code=code, holder_user=chiefs[code],
                                holder_name=f"网格长{code[-3:]}", started_on=date(2024, 1, 1))
    campaign = services.do_create_campaign(
        actor=staff, name="=冬季摸排", purpose="掌握返乡人员健康情况", legal_basis="《传染病防治法》",
        area_code="370103", target_codes=[COMMUNITY_A, COMMUNITY_B, OTHER_SUBDISTRICT_COMMUNITY],
        starts_on="2025-03-01", ends_on="2025-03-20", daily_deadline="08:00")
    clock.at("2025-03-01 07:00")
    campaign = services.do_start_campaign(campaign, actor=staff)
    services.do_add_flag_rule(campaign, actor=staff, code="fever", label="发热", field="fever", operator="eq",
                              value="yes")
    clock.at("2025-03-05 12:00")
    return {"campaign": campaign, "staff": staff, "g1": g1, "g2": g2, "g3": g3, "g4": g4, "h": households,
            "chiefs": chiefs, "community_a": make_user("community_staff", COMMUNITY_A),
            "workers": {code: make_user("grid_worker", code) for code in (g1, g2, g3, g4)}}


def visit(world, household, grid, at, status="visited", members=None):
    return services.do_record_visit(world["campaign"], actor=world["workers"][world[grid]],
                                    household=world["h"][household], status=status, visited_at=local(at),
                                    answers={"members": members} if status == "visited" else None)


def submit(world, grid, day, actor=None, **kwargs):
    return reports.do_submit_daily_report(world["campaign"], actor=actor or world["workers"][world[grid]],
                                          grid_code=world[grid], day=day, **kwargs)


# ---- daily reports -------------------------------------------------------------------------------------------------

def test_the_report_counts_the_days_visits(world, clock):
    visit(world, "a", "g1", "2025-03-03 10:00", members=[member()])  # another day
    visit(world, "a", "g1", "2025-03-04 09:00", status="absent")
    visit(world, "a", "g1", "2025-03-04 16:00", members=[member(fever="yes"), member(name="李四")])
    visit(world, "b", "g1", "2025-03-04 17:00", status="refused")
    clock.at("2025-03-04 20:00")
    report = submit(world, "g1", "2025-03-04", note="入户 2 户")
    assert (report.zero, report.visited, report.flagged_members, report.late) == (False, 1, 1, False)
    assert report.submitted_by == world["workers"][world["g1"]] and report.note == "入户 2 户"
    with pytest.raises(DomainError) as err:  # a zero report for a day with visits
        submit(world, "g1", "2025-03-04", zero=True)
    assert err.value.field == "zero" and "3 visits" in err.value.message


def test_zero_report(world, clock):
    clock.at("2025-03-03 09:00")
    with pytest.raises(DomainError) as err:  # a day without visits is reported as an explicit zero
        submit(world, "g1", "2025-03-02")
    assert err.value.field == "zero"
    report = submit(world, "g1", "2025-03-02", zero=True, note="无入户")
    assert (report.zero, report.visited, report.late) == (True, 0, True)  # due 03-03 08:00


def test_a_report_is_corrected_until_its_deadline_then_stands(world, clock):
    visit(world, "a", "g1", "2025-03-04 10:00", members=[member()])
    clock.at("2025-03-04 18:00")
    first = submit(world, "g1", "2025-03-04")
    clock.at("2025-03-04 21:30")
    visit(world, "b", "g1", "2025-03-04 21:00", members=[member(name="王五")])
    again = submit(world, "g1", "2025-03-04", note="补报")
    assert again.pk == first.pk and again.visited == 2 and again.note == "补报"
    assert again.submitted_at == clock.now and DailyReport.objects.count() == 1
    clock.at("2025-03-05 08:00")  # the deadline itself is still in time
    assert not submit(world, "g1", "2025-03-04").late
    clock.at("2025-03-05 08:01")
    with pytest.raises(DomainError) as err:
        submit(world, "g1", "2025-03-04")
    assert err.value.code == "duplicate" and "2025-03-05 08:00" in err.value.message


def test_late_report(world, clock):
    visit(world, "f", "g2", "2025-03-03 10:00", status="absent")
    clock.at("2025-03-04 08:01")
    report = submit(world, "g2", "2025-03-03")
    assert report.late and report.visited == 0  # an absent call is a visit, not a household found


def test_report_refusals(world, clock):
    worker = world["workers"][world["g1"]]
    with pytest.raises(Http404):  # a grid outside the worker's own
        reports.do_submit_daily_report(world["campaign"], actor=worker, grid_code=world["g3"], day="2025-03-04",
                                       zero=True)
    with pytest.raises(DomainError) as err:  # a leader may not report
        reports.do_submit_daily_report(world["campaign"], actor=make_user("leader", "370103"),
                                       grid_code=world["g1"], day="2025-03-04", zero=True)
    assert err.value.status_code == 403
    cases = [({"grid_code": "37010300200100"}, "grid_code"), ({"day": "2025-3-4x"}, "day"),
             ({"day": "2025-03-06"}, "day"),  # tomorrow
             ({"day": "2025-02-28"}, "day"),  # before the campaign
             ({"zero": "yes"}, "zero"), ({"note": "x" * 1001}, "note")]
    for changes, field in cases:
        values = {"grid_code": world["g1"], "day": "2025-03-04", "zero": True, **changes}
        with pytest.raises(DomainError) as err:
            reports.do_submit_daily_report(world["campaign"], actor=worker, **values)
        assert err.value.field == field, changes
    community = make_user("community_staff", "370103")
    other_grid = Area.objects.current().filter(level="grid").exclude(
        code__startswith=COMMUNITY_A[:9]).exclude(code__startswith=OTHER_SUBDISTRICT_COMMUNITY).first().code
    with pytest.raises(DomainError) as err:  # not a target grid
        reports.do_submit_daily_report(world["campaign"], actor=community, grid_code=other_grid,
                                       day="2025-03-04", zero=True)
    assert err.value.field == "grid_code"
    assert not DailyReport.objects.exists()


def test_missing_reports_and_the_reminder(world, clock):
    """Grids with households owe a report: g1 reported, g2, g3 and g4 did not (the other target grids have no
    households). At 08:30 on 03-05 the job tells each missing grid's chief and its community's staff, once."""
    visit(world, "a", "g1", "2025-03-04 10:00", members=[member()])
    clock.at("2025-03-04 19:00")
    submit(world, "g1", "2025-03-04")
    assert reports.missing_reports(world["campaign"], "2025-03-04") == sorted([world["g2"], world["g3"],
                                                                                world["g4"]])
    assert reports.missing_reports(world["campaign"], "2025-03-04", user=world["community_a"]) == [world["g2"]]
    with pytest.raises(DomainError) as err:
        reports.missing_reports(world["campaign"], "2025-03-05")  # tomorrow
    assert err.value.field == "day"

    clock.at("2025-03-05 07:59")  # before the deadline: the day due is 03-03, when nobody reported
    handled = reports.notify_missing_reports()
    assert handled == {world["campaign"].pk: 4}
    assert MissingReportNotice.objects.get(day=date(2025, 3, 3)).grids == 4
    clock.at("2025-03-05 08:30")  # the periodic job, as the worker runs it
    assert jobs.daily_report_deadline(timestamp=0) == {str(world["campaign"].pk): 3}
    assert jobs.daily_report_deadline(timestamp=0) == {}  # once per day
    notice = MissingReportNotice.objects.get(day=date(2025, 3, 4))
    assert (notice.grids, notice.recipients) == (3, 3 + 1)  # three chiefs, community A's staff
    g2_chief = world["chiefs"][world["g2"]].notifications.filter(title__contains="2025-03-04").get()
    assert world["g2"] in g2_chief.body and world["g3"] not in g2_chief.body
    assert not world["chiefs"][world["g1"]].notifications.filter(title__contains="2025-03-04").exists()
    staff = world["community_a"].notifications.filter(title__contains="2025-03-04").get()
    assert world["g2"] in staff.body and world["g1"] not in staff.body


# ---- statistics ----------------------------------------------------------------------------------------------------

@pytest.fixture
def stats_world(world):
    """g1 (subdistrict S): a on 03-03 (2 members: an arrival home-isolated, a contact), a again on 03-04 (an arrival,
    no contact), b on 03-04 (fever, centrally isolated); g3 (S): c absent on 03-04; g4 (subdistrict T): e on 03-02
    (home-isolated), d on 03-05 (an arrival)."""
    arrival = {"returned": "yes", "return_date": "2025-03-01", "from_place": "武汉"}
    visit(world, "a", "g1", "2025-03-03 10:00", members=[member(**arrival, isolation="home"),
                                                        member(name="李四", contact="yes")])
    visit(world, "a", "g1", "2025-03-04 10:00", members=[member(**arrival), member(name="李四")])
    visit(world, "b", "g1", "2025-03-04 11:00", members=[member(name="王五", fever="yes", isolation="central")])
    visit(world, "c", "g3", "2025-03-04 12:00", status="absent")
    visit(world, "e", "g4", "2025-03-02 12:00", members=[member(name="赵六", isolation="home")])
    visit(world, "d", "g4", "2025-03-05 09:00", members=[member(name="钱七", **arrival)])
    return world


def table(result):
    return {row["code"]: {key: (value["day"], value["cumulative"]) for key, value in row["counts"].items()}
            for row in result["rows"]} | {"total": {key: (value["day"], value["cumulative"])
                                                    for key, value in result["totals"].items()}}


KEYS = ("households", "persons", "arrival", "contact", "abnormal", "isolation_home", "isolation_central")


def test_statistics_with_a_cutoff(stats_world):
    world = stats_world
    s, t = COMMUNITY_A[:9], OTHER_SUBDISTRICT_COMMUNITY[:9]
    result = reports.statistics(world["campaign"], user=world["staff"], cutoff="2025-03-04")
    assert result["cutoff"] == date(2025, 3, 4) and [c["key"] for c in result["columns"]] == list(KEYS)
    got = table(result)
    assert [got[s][key] for key in KEYS] == [(2, 2), (3, 3), (1, 1), (0, 0), (1, 1), (0, 0), (1, 1)]
    assert [got[t][key] for key in KEYS] == [(0, 1), (0, 1), (0, 0), (0, 0), (0, 0), (0, 1), (0, 0)]
    assert [got["total"][key] for key in KEYS] == [(2, 3), (3, 4), (1, 1), (0, 0), (1, 1), (0, 1), (1, 1)]
    # as of 03-03: household a's first call stands
    got = table(reports.statistics(world["campaign"], user=world["staff"], cutoff="2025-03-03"))
    assert [got[s][key] for key in KEYS] == [(1, 1), (2, 2), (1, 1), (1, 1), (0, 0), (1, 1), (0, 0)]
    # today (03-05, the default: from the ledger rows and today's calls): d's arrival counts in T
    got = table(reports.statistics(world["campaign"], user=world["staff"]))
    assert [got[s][key] for key in KEYS] == [(0, 2), (0, 3), (0, 1), (0, 0), (0, 1), (0, 0), (0, 1)]
    assert [got[t][key] for key in KEYS] == [(1, 2), (1, 2), (1, 1), (0, 0), (0, 0), (0, 1), (0, 0)]
    assert [got["total"][key] for key in KEYS] == [(1, 4), (1, 5), (1, 2), (0, 0), (0, 1), (0, 1), (0, 1)]
    # per community, and a community's staff sees their community's part only
    got = table(reports.statistics(world["campaign"], user=world["community_a"], cutoff="2025-03-04",
                                   level="community"))
    assert set(got) == {COMMUNITY_A, "total"} and got["total"]["persons"] == (3, 3)


def test_statistics_bad_input(stats_world):
    for cutoff in ("2025-03-06", "03/04/2025", "2025-02-30"):
        with pytest.raises(DomainError) as err:
            reports.statistics(stats_world["campaign"], user=stats_world["staff"], cutoff=cutoff)
        assert err.value.field == "cutoff"
    with pytest.raises(DomainError) as err:
        reports.statistics(stats_world["campaign"], user=stats_world["staff"], level="grid")
    assert err.value.field == "level"


def test_statistics_workbook(stats_world):
    from openpyxl import load_workbook

    result = reports.statistics(stats_world["campaign"], user=stats_world["staff"], cutoff="2025-03-04")
    sheet = load_workbook(io.BytesIO(statistics_xlsx(result))).active
    assert sheet["A1"].value == "'=冬季摸排 摸排情况统计表" and sheet["A1"].data_type == "s"  # never a formula
    assert "2025-03-04" in sheet["A2"].value
    assert [sheet.cell(row=3, column=c).value for c in (1, 2, 3, 5, 7)] == ["区划代码", "街道", "摸排户数",
                                                                           "摸排总人数", "来返人数"]
    assert [sheet.cell(row=4, column=c).value for c in (3, 4)] == ["当日", "累计"]
    rows = {sheet.cell(row=r, column=1).value or sheet.cell(row=r, column=2).value: r
            for r in range(5, sheet.max_row + 1)}
    s = rows[COMMUNITY_A[:9]]
    assert [sheet.cell(row=s, column=c).value for c in range(3, 9)] == [2, 2, 3, 3, 1, 1]
    assert sheet.cell(row=rows["合计"], column=6).value == 4  # persons screened, cumulative


def test_leaders_and_other_subdistricts(stats_world):
    leader = make_user("leader", OTHER_SUBDISTRICT_COMMUNITY[:9])
    got = table(reports.statistics(stats_world["campaign"], user=leader, cutoff="2025-03-04"))
    assert set(got) == {OTHER_SUBDISTRICT_COMMUNITY[:9], "total"} and got["total"]["persons"] == (0, 1)


# ---- the API -------------------------------------------------------------------------------------------------------

def api(world, tail):
    return f"/api/v1/campaigns/campaigns/{world['campaign'].pk}/{tail}"


SCHEMA = "/api/v1/campaigns/campaigns/{id}/"


def test_daily_reports_api(client, world, clock):
    visit(world, "a", "g1", "2025-03-04 10:00", members=[member()])
    clock.at("2025-03-04 19:00")
    worker = world["workers"][world["g1"]]
    client.force_login(worker)
    body = {"grid_code": world["g1"], "day": "2025-03-04", "note": "正常"}
    response = client.post(api(world, "daily-reports/"), body, content_type="application/json")
    assert response.status_code == 201, response.content
    assert_matches_schema(response, SCHEMA + "daily-reports/", "post")
    assert response.json()["visited"] == 1 and response.json()["deadline"].startswith("2025-03-05T08:00")
    response = client.post(api(world, "daily-reports/"), body, content_type="application/json")
    assert response.status_code == 200  # corrected before the deadline
    for changes, field in (({"zero": True}, "zero"), ({"day": "2025-13-01"}, "day"), ({"day": "2025-03-06"}, "day"),
                           ({"grid_code": ""}, "grid_code")):
        response = client.post(api(world, "daily-reports/"), {**body, **changes}, content_type="application/json")
        assert response.status_code == 400 and field in response.json()["error"]["fields"], (changes, response.content)
    # another grid, another campaign's scope, a leader: 404 (a leader may read the counts, not the reports)
    assert_cross_scope_denied(client, worker, api(world, "daily-reports/"), method="post",
                              data={**body, "grid_code": world["g3"], "zero": True}, allowed=(404,))
    assert_cross_scope_denied(client, make_user("leader", "370103"), api(world, "daily-reports/"), method="post",
                              data=body, allowed=(404,))
    # the list: the community's staff see their grids' reports
    client.force_login(world["community_a"])
    response = client.get(api(world, "daily-reports/"), {"day": "2025-03-04"})
    assert response.status_code == 200
    assert_matches_schema(response, SCHEMA + "daily-reports/")
    assert [row["grid_code"] for row in response.json()["results"]] == [world["g1"]]
    assert client.get(api(world, "daily-reports/"), {"late": "maybe"}).status_code == 400
    client.force_login(make_user("community_staff", COMMUNITY_B))
    assert client.get(api(world, "daily-reports/")).json()["results"] == []
    assert_cross_scope_denied(client, make_user("leader", "370103"), api(world, "daily-reports/"))


def test_missing_reports_api(client, world, clock):
    client.force_login(world["community_a"])
    response = client.get(api(world, "daily-reports/missing/"), {"day": "2025-03-04"})
    assert response.status_code == 200
    assert_matches_schema(response, SCHEMA + "daily-reports/missing/")
    body = response.json()
    assert [grid["code"] for grid in body["grids"]] == sorted([world["g1"], world["g2"]])
    assert body["overdue"] is True and body["count"] == 2
    for query in ({}, {"day": "4.3.2025"}, {"day": "2025-03-06"}, {"day": "2025-02-01"}):
        response = client.get(api(world, "daily-reports/missing/"), query)
        assert response.status_code == 400 and "day" in response.json()["error"]["fields"], query
    assert_cross_scope_denied(client, make_user("community_staff", "370104"),
                              api(world, "daily-reports/missing/") + "?day=2025-03-04")


def test_statistics_api(client, stats_world):
    world = stats_world
    client.force_login(make_user("leader", "370103"))
    response = client.get(api(world, "statistics/"), {"cutoff": "2025-03-04"})
    assert response.status_code == 200
    assert_matches_schema(response, SCHEMA + "statistics/")
    assert response.json()["totals"]["persons"] == {"day": 3, "cumulative": 4}
    for query in ({"cutoff": "2025-03-06"}, {"cutoff": "yesterday"}, {"level": "grid"}, {"round": "2"}):
        response = client.get(api(world, "statistics/"), query)
        assert response.status_code == 400, query
    response = client.get(api(world, "statistics.xlsx"), {"cutoff": "2025-03-04"})
    assert response.status_code == 200 and response["Content-Type"] == CONTENT_TYPE
    assert "statistics-2025-03-04.xlsx" in response["Content-Disposition"]
    assert client.get(api(world, "statistics.xlsx"), {"cutoff": "2025-03-09"}).status_code == 400
    stranger = make_user("department", "370103")
    assert_cross_scope_denied(client, stranger, api(world, "statistics/"))
    assert_cross_scope_denied(client, stranger, api(world, "statistics.xlsx"))
