"""A worker's household list: the grids they are assigned to (or, for staff, their scope), each household's standing
in the current round, its address; nobody else's households, no person's name."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from wangge.campaigns import services
from wangge.campaigns.worklists import PENDING, worker_areas, worker_households
from wangge.core.testing import COMMUNITY_A, COMMUNITY_B, make_user
from wangge.geo.models import Area
from wangge.registry import services as registry

pytestmark = pytest.mark.django_db


def grids(community, count):
    return list(Area.objects.filter(generation__state="active", level="grid", code__startswith=community)
                .order_by("code").values_list("code", flat=True)[:count])


@pytest.fixture
def world(district):
    staff = make_user("subdistrict_staff", COMMUNITY_A[:9])
    community = make_user("community_staff", COMMUNITY_A)
    grid, other_grid = grids(COMMUNITY_A, 2)
    point = Area.objects.get(generation__state="active", code=grid).geom.point_on_surface
    building = registry.do_create_building(actor=community, location={"type": "Point",
                                                                      "coordinates": [point.x, point.y]},
                                           name="3号楼", address="纬一路12号")
    upper = registry.do_create_house(building, actor=community, unit="1", floor=3, room="302")
    lower = registry.do_create_house(building, actor=community, unit="1", floor=1, room="101")
    households = [registry.do_create_household(actor=community, number="H-upper", house=upper),
                  registry.do_create_household(actor=community, number="H-lower", house=lower),
                  registry.do_create_household(actor=community, number="H-loose", grid_code=grid)]
    registry.do_create_household(actor=community, number="H-other", grid_code=other_grid)
    registry.do_create_person(actor=community, name="张三", household=households[0], grid_code=grid)
    far_grid = grids(COMMUNITY_B, 1)[0]
    registry.do_create_household(actor=make_user("community_staff", COMMUNITY_B), number="H-far", grid_code=far_grid)
    campaign = services.do_create_campaign(
        actor=staff, name="冬季入户摸排", purpose="掌握辖区返乡人员健康情况", legal_basis="《传染病防治法》第三十一条",
        area_code=COMMUNITY_A[:9], target_codes=[COMMUNITY_A], starts_on=date.today(),
        ends_on=date.today() + timedelta(days=14))
    return {"staff": staff, "community": community, "grid": grid, "other_grid": other_grid, "building": building,
            "households": households, "campaign": campaign, "worker": make_user("grid_worker", grid)}


def numbers(rows):
    return [row["number"] for row in rows]


def test_a_worker_sees_their_grid_in_address_order_with_standings(world):
    campaign = services.do_start_campaign(world["campaign"], actor=world["staff"])
    upper, lower, _loose = world["households"]
    services.do_record_visit(campaign, actor=world["worker"], household=upper, status="absent")
    later = timezone.now() + timedelta(minutes=5)  # services refuse revisits > 10 min ahead (reported)
    services.do_record_visit(campaign, actor=world["worker"], household=lower, status="revisit",
                             revisit_at=later.isoformat())
    rows = worker_households(campaign, world["worker"])
    assert numbers(rows) == ["H-lower", "H-upper", "H-loose"]  # building, unit, floor, room; no house last
    lower_row, upper_row, loose_row = rows
    assert (lower_row["status"], lower_row["revisit_at"]) == ("revisit", later)
    assert (lower_row["building_name"], lower_row["address"], lower_row["unit"], lower_row["floor"],
            lower_row["room"]) == ("3号楼", "纬一路12号", "1", 1, "101")
    assert lower_row["building_number"] == world["building"].number and lower_row["grid_code"] == world["grid"]
    assert upper_row["status"] == "absent" and upper_row["last_visited_at"] is not None
    assert loose_row["status"] == PENDING and loose_row["building_id"] is None and loose_row["members"] == 0
    assert "张三" not in str(rows)


def test_staff_see_their_scope_and_an_assigned_worker_their_grids(world):
    campaign = world["campaign"]
    # community staff covering: every target household of the community, both grids
    assert sorted(numbers(worker_households(campaign, world["community"]))) == [
        "H-loose", "H-lower", "H-other", "H-upper"]
    assert numbers(worker_households(campaign, world["community"], grid_code=world["other_grid"])) == ["H-other"]
    # assigned to one grid for this campaign: that grid only
    services.do_assign_worker(campaign, actor=world["staff"], grid_code=world["other_grid"], user=world["community"])
    assert worker_areas(campaign, world["community"]) == [world["other_grid"]]
    assert numbers(worker_households(campaign, world["community"])) == ["H-other"]
    # a draft: everything pending (round 0)
    assert {row["status"] for row in worker_households(campaign, world["worker"])} == {PENDING}


def test_nobody_elses_households(world):
    campaign = world["campaign"]
    assert worker_households(campaign, world["worker"], grid_code=world["other_grid"]) == []
    assert worker_households(campaign, world["worker"], grid_code="370103002") == []  # not a grid
    assert worker_households(campaign, make_user("grid_worker", grids(COMMUNITY_B, 1)[0])) == []  # not a target
    assert worker_households(campaign, make_user("leader", COMMUNITY_A[:6])) == []  # leaders: no rows
    assert worker_households(campaign, make_user("command", COMMUNITY_A[:6])) == []  # no VISIT_HOUSEHOLD


def test_two_queries_whatever_the_grid_size(world):
    for index in range(30):
        registry.do_create_household(actor=world["community"], number=f"H-more-{index}", grid_code=world["grid"])
    campaign = services.do_start_campaign(world["campaign"], actor=world["staff"])
    world["worker"].scope_codes("campaigns.visit")  # the user's scope, cached for the request as in a view
    with CaptureQueriesContext(connection) as queries:
        rows = worker_households(campaign, world["worker"])
    assert len(rows) == 33 and len(queries) == 3  # the assignments, the households, the standings
