"""The demo campaign loads through the services, once."""

import pytest

from wangge.campaigns import demo
from wangge.campaigns.models import CampaignState, CampaignWorker, CoverageCount, Visit
from wangge.core.testing import make_user
from wangge.geo.models import Area
from wangge.registry import services as registry

pytestmark = pytest.mark.django_db


def test_the_demo_campaign_runs_with_calls_made(district):
    make_user("subdistrict_staff", demo.SUBDISTRICT, username="daguanyuan")
    staff = make_user("community_staff", demo.DEMO_GRID[:12], username="weiyilu")
    make_user("grid_worker", demo.DEMO_GRID, username="gridworker")
    grids = list(Area.objects.filter(generation__state="active", level="grid", code__startswith=demo.DEMO_GRID[:12])
                 .order_by("code").values_list("code", flat=True)[:3])
    for index, grid in enumerate(grids * 4):
        household = registry.do_create_household(actor=staff, number=f"D-{index}", grid_code=grid)
        registry.do_create_person(actor=staff, name=f"居民{index}", household=household, grid_code=grid)
    campaign = demo.load(calls=3)
    assert campaign.state == CampaignState.RUNNING and campaign.flag_rules.count() == 2
    assert CampaignWorker.objects.filter(campaign=campaign, grid_code=demo.DEMO_GRID, user__username="gridworker")
    calls = Visit.objects.filter(campaign=campaign)
    assert calls.count() == 3 and not calls.filter(grid_code=demo.DEMO_GRID).exists()
    ledger = CoverageCount.objects.filter(campaign=campaign)
    assert sum(row.visited + row.absent + row.refused + row.revisit for row in ledger) == len(
        set(calls.values_list("household_id", flat=True)))
    assert demo.load() is None  # once
