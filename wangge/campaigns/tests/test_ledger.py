"""The coverage ledger on a hand-computed fixture: the counts per grid, community and subdistrict, pending, revisits
due, persons screened against registered, the 四清 flags and how they clear; the choropleth's per-grid figure; who
sees which rows (leaders: counts only); and the API: schema, bad input, scope."""

from datetime import date, timedelta

import pytest
from django.http import Http404
from django.utils import timezone

from wangge.campaigns import ledger, services
from wangge.campaigns.models import CoverageCount
from wangge.cases.models import Category, Event
from wangge.cases.services import do_act
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

pytestmark = pytest.mark.django_db
KNOWN_ID = "11010519491231002X"
SUBDISTRICT = COMMUNITY_A[:9]


def grids(community, count):
    return list(Area.objects.current().filter(level="grid", code__startswith=community).order_by("code")[:count])


def inside(grid):
    return {"type": "Point", "coordinates": list(grid.geom.point_on_surface.coords)}


def member(**values):
    row = {"name": "张三", "returned": "no", "fever": "no", "contact": "no", "isolation": "none"}
    row.update(values)
    return row


@pytest.fixture
def screening(district):
    """Grids g1, g2 (community A) and g3 (community B) of one subdistrict, and the visits of the docstring table:

    grid  household  persons  calls (latest last)                         standing
    g1    a          2        absent; visited, 2 members, 1 with fever    visited (flag → event, reported)
    g1    b          1        revisit, an hour ago                        revisit (due)
    g1    c          0        revisit, in five minutes                    revisit (not due)
    g1    d          0        refused, GPS in g2                          refused (outside its grid)
    g2    e          1        visited, 1 member home-isolated, no GPS     visited (unlocated)
    g2    f          0        moved out                                   moved out
    g3    h          0        —                                           pending
    """
    staff = make_user("subdistrict_staff", SUBDISTRICT)
    community_a = make_user("community_staff", COMMUNITY_A)
    community_b = make_user("community_staff", COMMUNITY_B)
    g1, g2 = grids(COMMUNITY_A, 2)
    g3 = grids(COMMUNITY_B, 1)[0]
    households = {}
    for name, grid, actor in (("a", g1, community_a), ("b", g1, community_a), ("c", g1, community_a),
                              ("d", g1, community_a), ("e", g2, community_a), ("f", g2, community_a),
                              ("h", g3, community_b)):
        households[name] = registry.do_create_household(actor=actor, number=f"L-{name}", grid_code=grid.code)
    registry.do_create_person(actor=community_a, name="张三", id_number=KNOWN_ID, household=households["a"],
                              grid_code=g1.code)
    for name, household, grid in (("李四", "a", g1), ("王五", "b", g1), ("赵六", "e", g2)):
        registry.do_create_person(actor=community_a, name=name, household=households[household], grid_code=grid.code)
    campaign = services.do_create_campaign(
        actor=staff, name="冬季入户摸排", purpose="掌握辖区返乡人员健康情况", legal_basis="《传染病防治法》第三十一条",
        area_code=SUBDISTRICT, target_codes=[COMMUNITY_A, COMMUNITY_B], starts_on=date.today() - timedelta(days=3),
        ends_on=date.today() + timedelta(days=14))
    campaign = services.do_start_campaign(campaign, actor=staff)
    services.do_add_flag_rule(campaign, actor=staff, code="fever", label="发热", field="fever", operator="eq",
                              value="yes", category=Category.objects.get(kind="event", code="0901").pk,
                              urgency="urgent")
    w1, w2 = make_user("grid_worker", g1.code), make_user("grid_worker", g2.code)
    now = timezone.now()
    visit = services.do_record_visit
    visit(campaign, actor=w1, household=households["a"], status="absent", location=inside(g1))
    visit(campaign, actor=w1, household=households["a"], status="visited", location=inside(g1),
          answers={"members": [member(id_number=KNOWN_ID, fever="yes"), member(name="李四")]})
    visit(campaign, actor=w1, household=households["b"], status="revisit", location=inside(g1),
          visited_at=(now - timedelta(hours=2)).isoformat(), revisit_at=(now - timedelta(hours=1)).isoformat())
    visit(campaign, actor=w1, household=households["c"], status="revisit", location=inside(g1),
          revisit_at=(now + timedelta(minutes=5)).isoformat())
    visit(campaign, actor=w1, household=households["d"], status="refused", location=inside(g2))
    visit(campaign, actor=w2, household=households["e"], status="visited",
          answers={"members": [member(name="赵六", returned="yes", return_date="2026-11-20", from_place="武汉",
                                      isolation="home")]})
    visit(campaign, actor=w2, household=households["f"], status="moved_out", location=inside(g2))
    return {"campaign": campaign, "staff": staff, "community_a": community_a, "community_b": community_b,
            "g1": g1.code, "g2": g2.code, "g3": g3.code, "households": households, "w1": w1, "w2": w2}


def counts(row, *names):
    return tuple(row[name] for name in names)


STANDING = ("registered", "visited", "absent", "refused", "moved_out", "revisit", "pending", "revisits_due")
PERSONS = ("members", "registered_persons", "flagged_members", "flags_open", "outside_grid", "unlocated")


def test_the_ledger_per_grid_equals_the_hand_count(screening):
    result = ledger.coverage(screening["campaign"], user=screening["staff"])
    rows = {row["code"]: row for row in result["rows"]}
    g1, g2, g3 = rows[screening["g1"]], rows[screening["g2"]], rows[screening["g3"]]
    assert counts(g1, *STANDING) == (4, 1, 0, 1, 0, 2, 0, 1)
    assert counts(g1, *PERSONS) == (2, 3, 1, 1, 1, 0)
    assert g1["coverage_rate"] == 0.25
    assert g1["four_clear"] == {"households": True, "persons": False, "location": False, "control": False,
                                "all": False}
    assert counts(g2, *STANDING) == (2, 1, 0, 0, 1, 0, 0, 0)
    assert counts(g2, *PERSONS) == (1, 1, 0, 0, 0, 1)
    assert g2["four_clear"] == {"households": True, "persons": True, "location": False, "control": True,
                                "all": False}
    assert counts(g3, *STANDING) == (1, 0, 0, 0, 0, 0, 1, 0)
    assert g3["four_clear"] == {"households": False, "persons": True, "location": True, "control": True,
                                "all": False}
    assert result["totals"]["registered"] == 7 and result["totals"]["pending"] == 1
    assert result["round"] == 1 and result["level"] == "grid"


def test_rolled_up_per_community_and_subdistrict(screening):
    campaign, staff = screening["campaign"], screening["staff"]
    communities = {row["code"]: row for row in ledger.coverage(campaign, user=staff, level="community")["rows"]}
    a = communities[COMMUNITY_A]
    assert a["grids"] == 2 and a["name"] == Area.objects.current().get(code=COMMUNITY_A).name
    assert counts(a, *STANDING) == (6, 2, 0, 1, 1, 2, 0, 1)
    assert counts(a, *PERSONS) == (3, 4, 1, 1, 1, 1)
    assert a["coverage_rate"] == round(2 / 6, 4)
    assert a["four_clear"]["households"] and not a["four_clear"]["persons"]  # g1 is short of one person
    (subdistrict,) = ledger.coverage(campaign, user=staff, level="subdistrict")["rows"]
    b_grids = len(grids(COMMUNITY_B, 99))  # g3 and community B's grids without households
    assert subdistrict["code"] == SUBDISTRICT and subdistrict["grids"] == 2 + b_grids
    assert counts(subdistrict, "registered", "visited", "pending") == (7, 2, 1)
    assert subdistrict["coverage_rate"] == round(2 / 7, 4)
    assert not subdistrict["four_clear"]["households"]  # g3's household is pending
    # an area narrows the rows; the totals are the area's
    only_b = ledger.coverage(campaign, user=staff, level="grid", area=COMMUNITY_B)
    assert {row["code"] for row in only_b["rows"]} == {grid.code for grid in grids(COMMUNITY_B, 99)}
    assert only_b["totals"]["code"] == COMMUNITY_B and only_b["totals"]["pending"] == 1


def test_the_four_clear_flags_clear_as_the_work_is_done(screening):
    campaign, households = screening["campaign"], screening["households"]
    g1 = screening["g1"]

    def grid_row():
        return next(row for row in ledger.coverage(campaign, user=screening["staff"])["rows"] if row["code"] == g1)

    # 管控清: the command centre takes up the fever event
    event = Event.objects.get(grid_code=g1)
    do_act(event, "accept", actor=make_user("command", "370103"), version=event.version)
    assert grid_row()["four_clear"]["control"] and grid_row()["flags_open"] == 0
    # 位置清: household d called on again from inside its grid
    services.do_record_visit(campaign, actor=screening["w1"], household=households["d"], status="refused",
                             location=inside(Area.objects.current().get(code=g1)))
    assert grid_row()["outside_grid"] == 0 and grid_row()["four_clear"]["location"]
    # 人头清: b's member screened (the ledger had 2 of 3 registered persons)
    services.do_record_visit(campaign, actor=screening["w1"], household=households["b"], status="visited",
                             location=inside(Area.objects.current().get(code=g1)),
                             answers={"members": [member(name="王五")]})
    row = grid_row()
    assert counts(row, "members", "registered_persons", "revisit", "revisits_due") == (3, 3, 1, 0)
    assert row["four_clear"] == {"households": True, "persons": True, "location": True, "control": True,
                                 "all": True}


def test_registered_persons_counted_when_the_round_opened(screening):
    campaign, g1 = screening["campaign"], screening["g1"]
    services.count_registered_persons(campaign, 1)
    assert CoverageCount.objects.get(campaign=campaign, round=1, grid_code=g1).registered_persons == 3
    # a person registered afterwards does not move the round's figure
    registry.do_create_person(actor=screening["community_a"], name="新人", household=screening["households"]["c"],
                              grid_code=g1)
    row = next(r for r in ledger.coverage(campaign, user=screening["staff"])["rows"] if r["code"] == g1)
    assert row["registered_persons"] == 3


def test_rounds(screening):
    campaign = services.do_rescreen(screening["campaign"], actor=screening["staff"], reason="风险地区调整",
                                    deadline=timezone.now() + timedelta(hours=10))
    fresh = ledger.coverage(campaign, user=screening["staff"], level="district")
    assert fresh["round"] == 2 and fresh["totals"]["visited"] == 0 and fresh["totals"]["pending"] == 7
    first = ledger.coverage(campaign, user=screening["staff"], level="district", round="1")
    assert first["totals"]["visited"] == 2 and first["rows"][0]["code"] == "370103"
    for bad in ("0", "3", "x", "-1"):
        with pytest.raises(DomainError) as err:
            ledger.coverage(campaign, user=screening["staff"], round=bad)
        assert err.value.field == "round"


def test_scope_of_the_rows(screening):
    campaign = screening["campaign"]
    # a community's staff: their grids only, even at the subdistrict level
    rows = ledger.coverage(campaign, user=screening["community_b"])["rows"]
    assert screening["g3"] in {row["code"] for row in rows}
    assert all(row["code"].startswith(COMMUNITY_B) for row in rows)
    (row,) = ledger.coverage(campaign, user=screening["community_b"], level="subdistrict")["rows"]
    assert row["grids"] == len(rows) and row["registered"] == 1
    # a grid worker (VIEW_CAMPAIGN in a grid): that grid
    assert [r["code"] for r in ledger.coverage(campaign, user=screening["w2"])["rows"]] == [screening["g2"]]
    # a leader (VIEW_AGGREGATES only) sees the counts of the subdistrict
    leader = make_user("leader", SUBDISTRICT)
    assert ledger.ledger_campaign(leader, campaign.pk) == campaign
    assert ledger.coverage(campaign, user=leader, level="district")["totals"]["registered"] == 7
    # another subdistrict's staff: no such campaign; an area outside one's scope: 404
    with pytest.raises(Http404):
        ledger.ledger_campaign(make_user("community_staff", OTHER_SUBDISTRICT_COMMUNITY), campaign.pk)
    with pytest.raises(Http404):
        ledger.coverage(campaign, user=screening["community_b"], area=COMMUNITY_A)
    with pytest.raises(Http404):  # a department handler may see no campaign
        ledger.ledger_campaign(make_user("department", "370103"), campaign.pk)


@pytest.mark.parametrize("kwargs, field", [
    ({"level": "street"}, "level"), ({"area": "37010"}, "area"), ({"area": "3701030020x1"}, "area"),
    ({"area": COMMUNITY_A, "level": "subdistrict"}, "level"),
])
def test_bad_input(screening, kwargs, field):
    with pytest.raises(DomainError) as err:
        ledger.coverage(screening["campaign"], user=screening["staff"], **kwargs)
    assert err.value.field == field


def test_the_choropleth_figure(screening):
    campaign, staff = screening["campaign"], screening["staff"]
    figure = ledger.grid_figure(campaign, user=staff)
    assert figure["unit"] == "percent" and figure["metric"] == "coverage"
    # grids without households have no rate: the map leaves them uncoloured
    assert figure["counts"] == {screening["g1"]: 25.0, screening["g2"]: 50.0, screening["g3"]: 0.0}
    assert figure["total"] == round(200 / 7, 1)
    pending = ledger.grid_figure(campaign, user=staff, metric="pending")
    assert {code: n for code, n in pending["counts"].items() if n} == {screening["g3"]: 1}
    assert len(pending["counts"]) == 2 + len(grids(COMMUNITY_B, 99)) and pending["total"] == 1
    assert ledger.grid_figure(campaign, user=staff, metric="four_clear")["counts"][screening["g3"]] == 0
    with pytest.raises(DomainError) as err:
        ledger.grid_figure(campaign, user=staff, metric="persons")
    assert err.value.field == "metric"


# ---- the API -------------------------------------------------------------------------------------------------------

def url(campaign, tail="coverage/"):
    return f"/api/v1/campaigns/campaigns/{campaign.pk}/{tail}"


def test_coverage_api(client, screening):
    campaign, staff = screening["campaign"], screening["staff"]
    client.force_login(staff)
    response = client.get(url(campaign), {"level": "community"})
    assert response.status_code == 200, response.content
    assert_matches_schema(response, "/api/v1/campaigns/campaigns/{id}/coverage/")
    body = response.json()
    assert [row["code"] for row in body["rows"]] == [COMMUNITY_A, COMMUNITY_B]
    assert body["rows"][0]["pending"] == 0 and body["totals"]["pending"] == 1
    assert body["rows"][0]["four_clear"]["households"] is True
    for query, field in (({"level": "street"}, "level"), ({"area": "12"}, "area"), ({"round": "9"}, "round"),
                         ({"round": "x"}, "round"), ({"area": COMMUNITY_A, "level": "district"}, "level")):
        response = client.get(url(campaign), query)
        assert response.status_code == 400 and field in response.json()["error"]["fields"], (query, response.content)
    # a leader reads the counts
    client.force_login(make_user("leader", "370103"))
    assert client.get(url(campaign), {"level": "district"}).json()["totals"]["registered"] == 7
    # outside the scope: the same 404 as for no campaign at all
    stranger = make_user("community_staff", OTHER_SUBDISTRICT_COMMUNITY)
    assert_cross_scope_denied(client, stranger, url(campaign))
    assert_cross_scope_denied(client, screening["community_b"], url(campaign) + f"?area={COMMUNITY_A}")
    assert_cross_scope_denied(client, staff, f"/api/v1/campaigns/campaigns/{campaign.pk + 999}/coverage/")
    client.logout()
    assert client.get(url(campaign)).status_code in (401, 403)


def test_choropleth_api(client, screening):
    campaign = screening["campaign"]
    client.force_login(screening["community_a"])
    response = client.get(url(campaign, "coverage/grids/"), {"metric": "coverage"})
    assert response.status_code == 200
    assert_matches_schema(response, "/api/v1/campaigns/campaigns/{id}/coverage/grids/")
    assert response.json()["counts"] == {screening["g1"]: 25.0, screening["g2"]: 50.0}  # community A's grids only
    assert response["Cache-Control"] == "private, no-cache"
    response = client.get(url(campaign, "coverage/grids/"), {"metric": "nonsense"})
    assert response.status_code == 400 and "metric" in response.json()["error"]["fields"]
    assert_cross_scope_denied(client, make_user("grid_worker", OTHER_SUBDISTRICT_COMMUNITY),
                              url(campaign, "coverage/grids/"))
