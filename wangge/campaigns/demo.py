"""The demo screening campaign: 大观园街道 screens its households with the household form, started three days ago,
with flag rules (fever or contact → an urgent 疫情防控 event) and a few hundred calls already made, so the ledger,
the map, the statistics and the worker's list show something on first opening. The demo grid worker and chief are
assigned to their grid. Deterministic; skipped when the campaign exists. Everything goes through the services."""

import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from wangge.accounts.models import User
from wangge.cases.models import Category
from wangge.registry.models import Household, Person

from . import services
from .models import Campaign, CampaignWorker

NAME = "大观园街道冬春季入户摸排"
SUBDISTRICT = "370103002"
DEMO_GRID = "370103002001001"  # the demo grid worker's grid (load_demo's DEMO_USERS)


@transaction.atomic
def load(*, seed=7, calls=300):
    """Creates and starts the demo campaign and records `calls` visits; returns the campaign, or None when it
    exists already or the demo users and households are missing."""
    if Campaign.objects.filter(name=NAME).exists():
        return None
    staff = User.objects.filter(username="daguanyuan").first()
    worker = User.objects.filter(username="gridworker").first()
    if staff is None or worker is None or not Household.objects.filter(grid_code__startswith=SUBDISTRICT).exists():
        return None
    today = timezone.localdate()
    campaign = services.do_create_campaign(
        actor=staff, name=NAME, purpose="掌握辖区居民返乡、健康和隔离情况，及时发现并处置风险人员",
        legal_basis="《中华人民共和国传染病防治法》第三十一条、第三十九条；《个人信息保护法》第十三条第一款第（四）项",
        area_code=SUBDISTRICT, target_codes=[SUBDISTRICT], starts_on=today - timedelta(days=3),
        ends_on=today + timedelta(days=11), retention_days=30)
    category = Category.objects.get(kind="event", code="0901")
    services.do_add_flag_rule(campaign, actor=staff, code="fever", label="发热或咳嗽", field="fever", operator="eq",
                              value="yes", category=category, urgency="urgent")
    services.do_add_flag_rule(campaign, actor=staff, code="contact", label="接触确诊病例", field="contact",
                              operator="eq", value="yes", category=category, urgency="urgent")
    campaign = services.do_start_campaign(campaign, actor=staff)
    for username in ("gridworker", "gridchief"):
        user = User.objects.filter(username=username).first()
        if user is not None:
            CampaignWorker.objects.get_or_create(campaign=campaign, grid_code=DEMO_GRID, user=user)
    _calls(campaign, staff, random.Random(seed), calls)
    return campaign


def _calls(campaign, staff, rng, count):
    """Calls at households of 纬一路社区 (outside the demo worker's own grid, left for them to screen) by the
    community's staff: mostly visited, some absent, refused or to call again; one member in fifty with a fever."""
    visitor = User.objects.filter(username="weiyilu").first()
    if visitor is None:
        return
    community = DEMO_GRID[:12]
    households = list(Household.objects.filter(grid_code__startswith=community).exclude(grid_code=DEMO_GRID)
                      .order_by("grid_code", "pk")[:count * 3])
    chosen = sorted(rng.sample(households, min(count, len(households))), key=lambda row: row.pk)
    names = {}
    for household_id, name in (Person.objects.filter(household__in=chosen).order_by("pk")
                               .values_list("household_id", "name")):
        names.setdefault(household_id, []).append(name)
    now = timezone.now()
    for index, household in enumerate(chosen):
        status = rng.choices(["visited", "absent", "refused", "revisit"], weights=[80, 10, 3, 7])[0]
        answers = None
        if status == "visited":
            answers = {"members": [_member(rng, name) for name in (names.get(household.pk) or ["户主"])[:6]]}
        services.do_record_visit(campaign, actor=visitor, household=household, status=status, answers=answers,
                                 visited_at=now - timedelta(minutes=10 * (count - index)),
                                 revisit_at=(now + timedelta(days=1)).isoformat() if status == "revisit" else None)


def _member(rng, name):
    returned = rng.random() < 0.12
    row = {"name": name, "returned": "yes" if returned else "no", "fever": "yes" if rng.random() < 0.02 else "no",
           "contact": "yes" if rng.random() < 0.01 else "no",
           "isolation": rng.choices(["none", "home", "central"], weights=[94, 5, 1])[0]}
    if returned:
        row.update(return_date=(timezone.localdate() - timedelta(days=rng.randint(1, 13))).isoformat(),
                   from_place=rng.choice(["北京", "上海", "广州", "青岛"]),
                   provinces_14d=[rng.choice(["p11", "p31", "p44", "p37"])], transport="G" + str(rng.randint(1, 999)))
    return row
