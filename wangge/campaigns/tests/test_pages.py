"""The screening pages (test client): the worker's phone pages (my campaigns and grids, a grid's households with
their standing, the visit form drawn from the form's definition and posted back with errors by path), and the staff's
pages (campaigns, the managers' actions, flag rules, the ledger and its per-grid figures, visits with their answers
read only with a reason, proposals). Each renders for the roles that may use it, answers 403 to a role without it and
404 across scope, and never shows another community's grids or households."""

import io
import json
import re
from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from wangge.campaigns import services
from wangge.campaigns.models import (
    AnswerReveal,
    Campaign,
    CampaignState,
    CoverageCount,
    FlagRule,
    HouseholdScreening,
    PersonProposal,
    Visit,
)
from wangge.cases.models import Category, Event
from wangge.core.testing import (
    COMMUNITY_A,
    COMMUNITY_B,
    OTHER_SUBDISTRICT_COMMUNITY,
    assert_cross_scope_denied,
    make_user,
)
from wangge.geo.models import Area
from wangge.registry import services as registry
from wangge.registry.models import Person

pytestmark = pytest.mark.django_db
KNOWN_ID, NEW_ID = "11010519491231002X", "370103199001011238"
SUBDISTRICT = COMMUNITY_A[:9]


def grids(community, count=1):
    return list(Area.objects.filter(generation__state="active", level="grid", code__startswith=community)
                .order_by("code").values_list("code", flat=True)[:count])


@pytest.fixture
def world(district):
    """A subdistrict's campaign over two of its communities, running, with households in three grids (two of A,
    one of B) and a worker in each of A's first grid and B's grid."""
    staff = make_user("subdistrict_staff", SUBDISTRICT)
    community = make_user("community_staff", COMMUNITY_A)
    grid, other_grid = grids(COMMUNITY_A, 2)
    far_grid = grids(COMMUNITY_B)[0]
    households = [registry.do_create_household(actor=community, number=f"H-{i}", grid_code=grid) for i in range(3)]
    other = registry.do_create_household(actor=community, number="H-other", grid_code=other_grid)
    far = registry.do_create_household(actor=make_user("community_staff", COMMUNITY_B), number="H-far",
                                       grid_code=far_grid)
    known = registry.do_create_person(actor=community, name="张三", id_number=KNOWN_ID, household=households[0],
                                      grid_code=grid)
    campaign = services.do_create_campaign(
        actor=staff, name="冬季入户摸排", purpose="掌握辖区返乡人员健康情况", legal_basis="《传染病防治法》第三十一条",
        area_code=SUBDISTRICT, target_codes=[COMMUNITY_A, COMMUNITY_B], starts_on=date.today(),
        ends_on=date.today() + timedelta(days=14), retention_days=7)
    campaign = services.do_start_campaign(campaign, actor=staff)
    return {"staff": staff, "community": community, "grid": grid, "other_grid": other_grid, "far_grid": far_grid,
            "households": households, "other": other, "far": far, "known": known, "campaign": campaign,
            "worker": make_user("grid_worker", grid), "far_worker": make_user("grid_worker", far_grid),
            "far_staff": make_user("community_staff", COMMUNITY_B), "command": make_user("command", "370103"),
            "outsider": make_user("subdistrict_staff", OTHER_SUBDISTRICT_COMMUNITY[:9]),
            "department": make_user("department", "370103"), "leader": make_user("leader", "370103"),
            "volunteer": make_user("volunteer", grid)}


def member(**values):
    row = {"name": "张三", "id_number": KNOWN_ID, "returned": "no", "fever": "no", "contact": "no",
           "isolation": "none"}
    row.update(values)
    return row


def flat(members, **top):
    """The visit form's posted fields for these members (names by path, as the page sends them)."""
    data = {"status": "visited", "instance_id": "", **top}
    for index, row in enumerate(members):
        data[f"members[{index}]._row"] = "1"
        for name, value in row.items():
            data[f"members[{index}].{name}"] = value
    return data


def visit_url(world, household=None):
    household = household or world["households"][0]
    return reverse("campaigns:visit", args=[world["campaign"].pk, household.pk])


def grid_url(world, grid=None):
    return reverse("campaigns:grid", args=[world["campaign"].pk, grid or world["grid"]])


def households_on(response):
    return re.findall(r'data-household="(\d+)" data-status="([a-z_]+)"', response.content.decode())


# ---- scope, page by page ---------------------------------------------------------------------------------------

def test_every_page_across_scope(client, world):
    """Another subdistrict's staff find none of the campaign's pages; B's staff, who share the campaign, find none
    of A's grids, households, visits or proposals."""
    campaign = world["campaign"]
    visit = services.do_record_visit(campaign, actor=world["worker"], household=world["households"][0],
                                     status="visited", answers={"members": [member(name="王五", id_number=NEW_ID)]})
    proposal = PersonProposal.objects.get()
    for name in ("detail", "ledger", "ledger-grids", "visits", "proposals"):
        assert_cross_scope_denied(client, world["outsider"], reverse(f"campaigns:{name}", args=[campaign.pk]))
    assert_cross_scope_denied(client, world["outsider"], reverse("campaigns:visit-detail", args=[visit.pk]))
    for name in ("act", "flag-rule-add"):
        assert_cross_scope_denied(client, world["outsider"], reverse(f"campaigns:{name}", args=[campaign.pk]),
                                  method="post", data={})
    far = world["far_staff"]
    assert_cross_scope_denied(client, far, grid_url(world))
    assert_cross_scope_denied(client, far, visit_url(world))
    assert_cross_scope_denied(client, far, visit_url(world), method="post", data={})
    assert_cross_scope_denied(client, far, reverse("campaigns:visit-detail", args=[visit.pk]))
    assert_cross_scope_denied(client, far, reverse("campaigns:visit-detail", args=[visit.pk]), method="post",
                              data={})
    assert_cross_scope_denied(client, far, reverse("campaigns:proposal-review", args=[proposal.pk]),
                              method="post", data={})
    assert Visit.objects.count() == 1 and not AnswerReveal.objects.exists()


# ---- the header link and my campaigns -----------------------------------------------------------------------------

def test_the_header_link_by_permission(client, world):
    client.force_login(world["worker"])
    assert 'id="campaigns-link"' in client.get(reverse("campaigns:nav")).content.decode()
    client.force_login(world["department"])
    assert client.get(reverse("campaigns:nav")).content == b""
    client.logout()
    assert client.get(reverse("campaigns:nav")).content == b""


def test_my_campaigns_list_my_grids_only(client, world):
    campaign = world["campaign"]
    client.force_login(world["worker"])
    page = client.get(reverse("campaigns:index")).content.decode()
    assert f'data-campaign="{campaign.pk}"' in page and "掌握辖区返乡人员健康情况" in page  # purpose on the card
    assert re.findall(r'data-grid="(\d+)"', page) == [world["grid"]]
    client.force_login(world["far_worker"])
    assert re.findall(r'data-grid="(\d+)"', client.get(reverse("campaigns:index")).content.decode()) == [
        world["far_grid"]]
    # community staff covering for their workers: every grid of their community, not B's
    client.force_login(world["community"])
    listed = re.findall(r'data-grid="(\d+)"', client.get(reverse("campaigns:index")).content.decode())
    assert world["grid"] in listed and world["other_grid"] in listed and world["far_grid"] not in listed
    # a campaign of another subdistrict is nobody's here
    client.force_login(world["outsider"])
    assert f'data-campaign="{campaign.pk}"' not in client.get(reverse("campaigns:index")).content.decode()
    client.force_login(world["department"])
    assert client.get(reverse("campaigns:index")).status_code == 403


def test_a_grid_lists_its_households_with_their_standing(client, world):
    a, b, c = world["households"]
    services.do_record_visit(world["campaign"], actor=world["worker"], household=b, status="absent")
    client.force_login(world["worker"])
    response = client.get(grid_url(world))
    assert response.status_code == 200
    assert households_on(response) == [(str(a.pk), "pending"), (str(b.pk), "absent"), (str(c.pk), "pending")]
    assert "《传染病防治法》第三十一条" in response.content.decode()  # the legal basis on every page
    assert households_on(client.get(grid_url(world) + "?show=absent")) == [(str(b.pk), "absent")]
    # another grid, another community, nonsense: 404; a role that visits nobody: 403
    for grid in (world["other_grid"], world["far_grid"], "123"):
        assert client.get(grid_url(world, grid)).status_code == 404
    client.force_login(world["far_worker"])
    assert client.get(grid_url(world)).status_code == 404
    client.force_login(world["department"])
    assert client.get(grid_url(world)).status_code == 403
    client.force_login(world["volunteer"])  # a volunteer in the grid: the same list
    assert len(households_on(client.get(grid_url(world)))) == 3


# ---- the visit form ---------------------------------------------------------------------------------------------

def test_the_household_form_renders_with_its_member_group_and_skip_logic(client, world):
    client.force_login(world["worker"])
    response = client.get(visit_url(world))
    page = response.content.decode()
    assert response.status_code == 200
    assert "掌握辖区返乡人员健康情况" in page and "《传染病防治法》第三十一条" in page
    for value in ("visited", "absent", "refused", "moved_out", "revisit"):
        assert f'name="status" value="{value}"' in page
    assert 'name="members[0].name"' in page and 'name="members[0].fever"' in page
    assert 'data-path="members[0].return_date"' in page and "data-relevant=\"${returned} = &#x27;yes&#x27;\"" in page
    assert '<template class="repeat-template" data-group="members">' in page and 'name="members[__i__].fever"' in page
    assert page.count('name="members[0].provinces_14d"') == 34  # every province a box
    assert 'id="visit-location"' in page and 'name="instance_id" value="page:' in page


ALL_TYPES = {"fields": [
    {"name": "note", "type": "text", "label": {"zh": "备注", "en": "Note"}, "required": True,
     "constraint": {"max_length": 20}},
    {"name": "rooms", "type": "integer", "label": {"zh": "房间数", "en": "Rooms"}, "constraint": {"min": 0, "max": 9}},
    {"name": "area", "type": "decimal", "label": {"zh": "面积", "en": "Area"}},
    {"name": "since", "type": "date", "label": {"zh": "入住日期", "en": "Since"}},
    {"name": "kind", "type": "select_one", "label": {"zh": "类型", "en": "Kind"},
     "choices": [{"value": "own", "label": {"zh": "自有", "en": "Owned"}},
                 {"value": "rent", "label": {"zh": "租住", "en": "Rented"}}]},
    {"name": "pets", "type": "select_multiple", "label": {"zh": "宠物", "en": "Pets"}, "relevant": "${kind} = 'own'",
     "choices": [{"value": "cat", "label": {"zh": "猫", "en": "Cat"}},
                 {"value": "dog", "label": {"zh": "狗", "en": "Dog"}}]},
    {"name": "heating", "type": "yes_no", "label": {"zh": "集中供暖", "en": "Central heating"}},
    {"name": "door", "type": "geopoint", "label": {"zh": "门口位置", "en": "Door"}},
    {"name": "photo", "type": "photo", "label": {"zh": "门牌照片", "en": "Door plate"}},
    {"name": "people", "type": "repeat", "label": {"zh": "成员", "en": "People"}, "required": True, "children": [
        {"name": "name", "type": "text", "label": {"zh": "姓名", "en": "Name"}, "required": True, "role": "name"},
        {"name": "age", "type": "integer", "label": {"zh": "年龄", "en": "Age"}},
        {"name": "school", "type": "text", "label": {"zh": "学校", "en": "School"},
         "relevant": "${age} < 18 and ${kind} != 'rent'"},
    ]},
]}


@pytest.fixture
def every_type(world):
    version = services.do_add_form_version(actor=world["staff"], code="every-type", title="每种题型",
                                           definition=ALL_TYPES)
    campaign = services.do_create_campaign(
        actor=world["staff"], name="题型测试", purpose="测试", legal_basis="测试", area_code=SUBDISTRICT,
        target_codes=[COMMUNITY_A], starts_on=date.today(), ends_on=date.today(), form_version=version.pk)
    return services.do_start_campaign(campaign, actor=world["staff"])


def png(name="plate.png"):
    buffer = io.BytesIO()
    Image.new("RGB", (6, 4), (30, 120, 200)).save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def test_every_field_type_renders(client, world, every_type):
    client.force_login(world["worker"])
    url = reverse("campaigns:visit", args=[every_type.pk, world["households"][0].pk])
    page = client.get(url).content.decode()
    expected = {
        "note": 'type="text" name="note"', "rooms": 'type="number" step="1" inputmode="numeric" name="rooms"',
        "area": 'type="number" step="any" inputmode="decimal" name="area"', "since": 'type="date" name="since"',
        "kind": 'type="radio" name="kind" value="rent"', "pets": 'type="checkbox" name="pets" value="dog"',
        "heating": 'type="radio" name="heating" value="yes"', "door": 'type="text" name="door"',
        "photo": 'type="file" name="photo"', "people": 'name="people[0].name"',
    }
    for name, snippet in expected.items():
        assert snippet in page, name
        assert f'data-name="{name}"' in page, name
    assert 'class="secondary use-position"' in page  # the geopoint's "use my position"
    assert re.search(r'data-name="note" data-path="note" data-type="text" data-required="1"', page)
    assert 'data-path="people[0].school"' in page
    assert "data-relevant=\"${age} &lt; 18 and ${kind} != &#x27;rent&#x27;\"" in page
    assert 'max="9"' in page and 'maxlength="20"' in page


def test_every_field_type_posts_back(client, world, every_type, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(world["worker"])
    household = world["households"][0]
    url = reverse("campaigns:visit", args=[every_type.pk, household.pk])
    data = {"status": "visited", "note": "二楼", "rooms": "3", "area": "75.5", "since": "2020-05-01", "kind": "own",
            "pets": ["cat", "dog"], "heating": "yes", "door": "36.65 116.99", "photo": png(),
            "people[0]._row": "1", "people[0].name": "李四", "people[0].age": "12", "people[0].school": "纬一路小学",
            "people[3]._row": "1", "people[3].name": "王五", "people[3].age": "40"}
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    visit = Visit.objects.get(campaign=every_type)
    answers = services.do_reveal_answers(visit, actor=world["community"], reason="核对")
    photo = answers.pop("photo")
    assert answers == {"note": "二楼", "rooms": 3, "area": "75.5", "since": "2020-05-01", "kind": "own",
                       "pets": ["cat", "dog"], "heating": "yes", "door": [36.65, 116.99],
                       "people": [{"name": "李四", "age": 12, "school": "纬一路小学"}, {"name": "王五", "age": 40}]}
    assert photo.startswith(f"campaigns/{every_type.pk}/") and (tmp_path / photo).exists()
    # a photo that is no image: 400 on its path, no visit, nothing stored
    stored = set(tmp_path.rglob("*"))
    bad = SimpleUploadedFile("x.png", b"not an image", content_type="image/png")
    response = client.post(reverse("campaigns:visit", args=[every_type.pk, world["households"][1].pk]),
                           {**{k: v for k, v in data.items() if k != "photo"}, "photo": bad})
    assert response.status_code == 400 and 'data-error-for="photo"' in response.content.decode()
    assert Visit.objects.filter(campaign=every_type).count() == 1 and set(tmp_path.rglob("*")) == stored


def test_a_visit_is_saved_and_the_list_shows_the_new_standing(client, world):
    client.force_login(world["worker"])
    household = world["households"][0]
    point = Area.objects.get(generation__state="active", code=world["grid"]).geom.point_on_surface
    data = flat([member(), member(name="王五", id_number=NEW_ID, returned="yes", return_date="2026-11-20",
                                  from_place="武汉", provinces_14d=["p42", "p11"])],
                location=json.dumps({"type": "Point", "coordinates": [point.x, point.y]}), instance_id="page:abc")
    response = client.post(visit_url(world), data)
    assert response.status_code == 302
    assert response["Location"] == grid_url(world) + f"#household-{household.pk}"
    visit = Visit.objects.get()
    assert (visit.status, visit.members, visit.inside_grid, visit.source) == ("visited", 2, True, "page")
    assert PersonProposal.objects.get().name == "王五"
    page = client.get(response["Location"])
    assert (str(household.pk), "visited") in households_on(page)
    assert f"Household {household.number}: visited." in page.content.decode()
    # a double tap sends the same instance again: still one visit
    assert client.post(visit_url(world), data).status_code == 302 and Visit.objects.count() == 1


def test_errors_come_back_beside_their_fields_and_nothing_is_written(client, world):
    client.force_login(world["worker"])
    second = member(name="王五", id_number="")
    del second["fever"]
    response = client.post(visit_url(world), flat([member(), second, member(name="赵六", id_number="123")]))
    page = response.content.decode()
    assert response.status_code == 400
    assert 'data-error-for="members[1].fever"' in page and 'data-error-for="members[2].id_number"' in page
    assert 'data-error-for="members[0].fever"' not in page
    assert 'name="members[1].name" id="f-members[1].name" value="王五"' in page  # what was typed stays
    assert not Visit.objects.exists() and not HouseholdScreening.objects.exists()
    ledger = CoverageCount.objects.get(campaign=world["campaign"], grid_code=world["grid"])
    assert ledger.visited == 0
    # no result chosen, or a location that is no point
    response = client.post(visit_url(world), {"status": ""})
    assert response.status_code == 400 and 'data-error-for="status"' in response.content.decode()
    response = client.post(visit_url(world), {"status": "absent", "location": "{nonsense"})
    assert response.status_code == 400 and 'data-error-for="location"' in response.content.decode()
    assert not Visit.objects.exists()


def test_other_results_send_no_answers(client, world):
    client.force_login(world["worker"])
    a, b, _c = world["households"]
    # a form filled in before the worker chose "absent": the answers are not sent with it
    assert client.post(visit_url(world, a), {**flat([member()]), "status": "absent"}).status_code == 302
    assert client.post(visit_url(world, b), {"status": "refused"}).status_code == 302
    assert dict(Visit.objects.values_list("household_id", "status")) == {a.pk: "absent", b.pk: "refused"}
    assert not Visit.objects.exclude(answers_enc="").exists()


def test_a_revisit_is_scheduled(client, world):
    client.force_login(world["worker"])
    response = client.post(visit_url(world), {"status": "revisit", "revisit_at": ""})
    assert response.status_code == 400 and 'data-error-for="revisit_at"' in response.content.decode()
    later = (timezone.localtime() + timedelta(hours=20)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(visit_url(world), {"status": "revisit", "revisit_at": later})
    assert response.status_code == 302, response.content.decode()[:1500]
    assert HouseholdScreening.objects.get().revisit_at is not None


def test_visits_outside_the_workers_grids_or_campaign(client, world):
    client.force_login(world["worker"])
    for household in (world["other"], world["far"]):
        assert client.get(visit_url(world, household)).status_code == 404
        assert client.post(visit_url(world, household), {"status": "absent"}).status_code == 404
    assert client.get(reverse("campaigns:visit", args=[world["campaign"].pk, 999999])).status_code == 404
    client.force_login(world["department"])
    assert client.get(visit_url(world)).status_code == 403
    client.force_login(world["outsider"])
    assert client.get(visit_url(world)).status_code in (403, 404)
    assert not Visit.objects.exists()
    # a closed campaign takes no visits: the page says so, a post answers 400 on the campaign
    services.do_close_campaign(world["campaign"], actor=world["staff"])
    client.force_login(world["worker"])
    page = client.get(visit_url(world)).content.decode()
    assert 'id="not-running"' in page and 'id="visit-form"' not in page
    response = client.post(visit_url(world), {"status": "absent"})
    assert response.status_code == 400 and 'data-path="campaign"' in response.content.decode()


# ---- campaigns (staff) ------------------------------------------------------------------------------------------

def test_campaign_pages_by_role(client, world):
    campaign = world["campaign"]
    url = reverse("campaigns:detail", args=[campaign.pk])
    for role in ("staff", "community", "command", "worker", "far_staff"):
        client.force_login(world[role])
        response = client.get(url)
        assert response.status_code == 200, role
        assert "掌握辖区返乡人员健康情况" in response.content.decode()
    client.force_login(world["staff"])
    page = client.get(url).content.decode()
    assert 'id="form-rescreen"' in page and 'id="form-close"' in page and 'id="form-flag-rule"' in page
    client.force_login(world["community"])  # sees it, may not manage it
    assert 'id="campaign-actions"' not in client.get(url).content.decode()
    client.force_login(world["outsider"])
    assert client.get(url).status_code == 404
    for role in ("department", "leader"):
        client.force_login(world[role])
        assert client.get(url).status_code == 403, role
    client.force_login(world["staff"])
    listing = client.get(reverse("campaigns:index")).content.decode()
    assert f'<tr data-campaign="{campaign.pk}">' in listing
    client.force_login(world["leader"])  # leaders: the campaign's ledger (counts), not the campaign
    listing = client.get(reverse("campaigns:index")).content.decode()
    assert f'<tr data-campaign="{campaign.pk}">' in listing
    assert reverse("campaigns:ledger", args=[campaign.pk]) in listing
    client.force_login(world["outsider"])
    assert f'<tr data-campaign="{campaign.pk}">' not in client.get(reverse("campaigns:index")).content.decode()


def test_managers_act_on_the_campaign(client, world):
    campaign = world["campaign"]
    act = reverse("campaigns:act", args=[campaign.pk])
    client.force_login(world["community"])
    assert client.post(act, {"action": "close"}).status_code == 403
    client.force_login(world["far_staff"])
    assert client.post(act, {"action": "close"}).status_code == 403
    client.force_login(world["outsider"])
    assert client.post(act, {"action": "close"}).status_code == 404
    client.force_login(world["staff"])
    response = client.post(act, {"action": "rescreen", "reason": ""})
    assert response.status_code == 400 and 'data-path="reason"' in response.content.decode()
    response = client.post(act, {"action": "explode"})
    assert response.status_code == 400 and 'data-path="action"' in response.content.decode()
    later = (timezone.localtime() + timedelta(hours=10)).strftime("%Y-%m-%dT%H:%M")
    assert client.post(act, {"action": "rescreen", "reason": "风险地区调整", "deadline": later}).status_code == 302
    campaign.refresh_from_db()
    assert campaign.current_round == 2
    page = client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert 'data-round="2"' in page and "风险地区调整" in page
    assert client.post(act, {"action": "close"}).status_code == 302
    response = client.post(act, {"action": "purge"})  # the retention period is not over
    assert response.status_code == 400
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.CLOSED


def test_a_draft_is_created_and_started_from_the_pages(client, world):
    client.force_login(world["worker"])
    assert client.get(reverse("campaigns:create")).status_code == 403
    client.force_login(world["staff"])
    assert client.get(reverse("campaigns:create")).status_code == 200
    values = {"name": "夜间复核", "purpose": "复核返乡人员", "legal_basis": "《突发事件应对法》",
              "area_code": SUBDISTRICT, "target_codes": OTHER_SUBDISTRICT_COMMUNITY,
              "starts_on": date.today().isoformat(), "ends_on": date.today().isoformat(),
              "daily_deadline": "08:00", "retention_days": "7",
              "form_version": str(world["campaign"].form_version_id)}
    response = client.post(reverse("campaigns:create"), values)
    assert response.status_code == 400 and 'data-error-for="target_codes"' in response.content.decode()
    response = client.post(reverse("campaigns:create"), {**values, "target_codes": COMMUNITY_A})
    campaign = Campaign.objects.get(name="夜间复核")
    assert response["Location"] == reverse("campaigns:detail", args=[campaign.pk])
    assert campaign.state == CampaignState.DRAFT and campaign.target_codes == [COMMUNITY_A]
    assert client.post(reverse("campaigns:act", args=[campaign.pk]), {"action": "start"}).status_code == 302
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.RUNNING


def test_flag_rules_from_the_page(client, world):
    campaign = world["campaign"]
    url = reverse("campaigns:flag-rule-add", args=[campaign.pk])
    category = Category.objects.get(kind="event", code="0901")
    rule = {"code": "fever", "label": "发热", "field": "fever", "operator": "eq", "value": "yes",
            "category": str(category.pk), "urgency": "urgent"}
    client.force_login(world["community"])
    assert client.post(url, rule).status_code == 403
    client.force_login(world["staff"])
    response = client.post(url, {**rule, "field": "colour"})
    assert response.status_code == 400 and 'data-path="field"' in response.content.decode()
    assert client.post(url, {**rule, "value": ""}).status_code == 400
    assert client.post(url, rule).status_code == 302
    client.post(url, {**rule, "code": "far", "label": "远方", "field": "provinces_14d", "operator": "selected",
                      "value": "p42, p11", "category": ""})
    assert FlagRule.objects.get(code="far").value == ["p42", "p11"]
    assert 'data-rule="fever"' in client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()


# ---- the ledger -------------------------------------------------------------------------------------------------

def ledger_rows(response):
    page = response.content.decode()
    rows = {}
    for code, cells in re.findall(r'<tr data-code="(\d+)">(.*?)</tr>', page, re.S):
        rows[code] = dict(re.findall(r'data-col="(\w+)"[^>]*>([^<]*)<', cells))
    return rows


def test_the_ledger_drills_down_and_keeps_to_the_scope(client, world):
    campaign = world["campaign"]
    services.do_record_visit(campaign, actor=world["worker"], household=world["households"][0], status="visited",
                             answers={"members": [member()]})
    services.do_record_visit(campaign, actor=world["worker"], household=world["households"][1], status="absent")
    url = reverse("campaigns:ledger", args=[campaign.pk])
    client.force_login(world["staff"])
    response = client.get(url)
    assert response.status_code == 200
    rows = ledger_rows(response)
    assert set(rows) == {COMMUNITY_A, COMMUNITY_B}  # the subdistrict, by community
    assert (rows[COMMUNITY_A]["registered"], rows[COMMUNITY_A]["visited"], rows[COMMUNITY_A]["absent"],
            rows[COMMUNITY_A]["pending"]) == ("4", "1", "1", "2")
    rows = ledger_rows(client.get(url + f"?area={COMMUNITY_A}"))  # a community, by grid
    assert rows[world["grid"]]["visited"] == "1" and rows[world["grid"]]["percent"] == "33.3%"
    assert world["far_grid"] not in rows
    # B's staff see B only, and nothing of A even when they ask for it
    client.force_login(world["far_staff"])
    rows = ledger_rows(client.get(url))
    assert world["far_grid"] in rows and world["grid"] not in rows
    assert client.get(url + f"?area={COMMUNITY_A}").status_code == 404
    assert client.get(url + "?area=12").status_code == 400
    assert client.get(url + "?round=7").status_code == 400
    # leaders read the counts (the ledger, not the campaign's page); others not at all
    client.force_login(world["leader"])
    assert ledger_rows(client.get(url))[COMMUNITY_A]["visited"] == "1"
    client.force_login(world["department"])
    assert client.get(url).status_code == 403
    client.force_login(world["outsider"])
    assert client.get(url).status_code == 404


def test_the_per_grid_figures_for_the_map(client, world):
    campaign = world["campaign"]
    services.do_record_visit(campaign, actor=world["worker"], household=world["households"][0], status="visited",
                             answers={"members": [member()]})
    url = reverse("campaigns:ledger-grids", args=[campaign.pk])
    client.force_login(world["community"])
    body = client.get(url).json()
    assert body["round"] == 1 and set(body["grids"]) == {world["grid"], world["other_grid"]}
    assert body["grids"][world["grid"]] == {"registered": 3, "visited": 1, "pending": 2, "percent": 33.3,
                                            "class": "c1"}
    assert body["grids"][world["other_grid"]]["class"] == "c0"
    assert client.get(url + "?round=x").status_code == 400
    client.force_login(world["far_staff"])
    shown = set(client.get(url).json()["grids"])
    assert world["far_grid"] in shown and all(code.startswith(COMMUNITY_B) for code in shown)
    client.force_login(world["outsider"])
    assert client.get(url).status_code == 404


# ---- visits and answers -----------------------------------------------------------------------------------------

def test_visits_list_without_answers_and_answers_only_with_a_reason(client, world):
    campaign = world["campaign"]
    visit = services.do_record_visit(campaign, actor=world["worker"], household=world["households"][0],
                                     status="visited",
                                     answers={"members": [member(name="王五", id_number=NEW_ID, fever="yes")]})
    far = services.do_record_visit(campaign, actor=world["far_worker"], household=world["far"], status="absent")
    client.force_login(world["community"])
    listing = client.get(reverse("campaigns:visits", args=[campaign.pk])).content.decode()
    assert f'data-visit="{visit.pk}"' in listing and f'data-visit="{far.pk}"' not in listing
    assert "王五" not in listing
    url = reverse("campaigns:visit-detail", args=[visit.pk])
    page = client.get(url).content.decode()
    assert 'id="answers-masked"' in page and "王五" not in page and NEW_ID not in page
    response = client.post(url, {"reason": " "})
    assert response.status_code == 400 and not AnswerReveal.objects.exists()
    response = client.post(url, {"reason": "核实发热人员"})
    page = response.content.decode()
    assert response.status_code == 200 and "王五" in page and NEW_ID in page
    assert response["Cache-Control"] == "no-store"
    reveal = AnswerReveal.objects.get()
    assert (reveal.user, reveal.visit, reveal.reason) == (world["community"], visit, "核实发热人员")
    # the grid worker records but does not read back; B's staff do not find A's visit at all
    client.force_login(world["worker"])
    assert 'id="reveal-form"' not in client.get(url).content.decode()
    assert client.post(url, {"reason": "看看"}).status_code == 403
    client.force_login(world["far_staff"])
    assert client.get(url).status_code == 404 and client.post(url, {"reason": "看看"}).status_code == 404
    client.force_login(world["department"])
    assert client.get(url).status_code == 403
    assert AnswerReveal.objects.count() == 1


def test_proposals_are_reviewed_masked(client, world):
    campaign = world["campaign"]
    services.do_record_visit(campaign, actor=world["worker"], household=world["households"][0], status="visited",
                             answers={"members": [member(name="王五", id_number=NEW_ID, phone="13912345678")]})
    proposal = PersonProposal.objects.get()
    url = reverse("campaigns:proposals", args=[campaign.pk])
    client.force_login(world["community"])
    page = client.get(url).content.decode()
    assert f'data-proposal="{proposal.pk}"' in page and NEW_ID not in page and "13912345678" not in page
    assert proposal.id_number_masked in page
    review = reverse("campaigns:proposal-review", args=[proposal.pk])
    client.force_login(world["far_staff"])
    assert f'data-proposal="{proposal.pk}"' not in client.get(url).content.decode()
    assert client.post(review, {"decision": "accept"}).status_code == 404
    client.force_login(world["leader"])
    assert client.get(url).status_code == 403
    client.force_login(world["community"])
    assert client.post(review, {"decision": "reject", "note": ""}).status_code == 400
    assert client.post(review, {"decision": "accept"}).status_code == 302
    proposal.refresh_from_db()
    assert proposal.state == "accepted" and Person.objects.get(pk=proposal.person_id).name == "王五"
    assert client.post(review, {"decision": "accept"}).status_code == 400  # already reviewed


def test_a_flagged_visit_shows_its_event(client, world):
    campaign = world["campaign"]
    category = Category.objects.get(kind="event", code="0901")
    services.do_add_flag_rule(campaign, actor=world["staff"], code="fever", label="发热", field="fever",
                              operator="eq", value="yes", category=category.pk, urgency="urgent")
    client.force_login(world["worker"])
    assert client.post(visit_url(world), flat([member(fever="yes")])).status_code == 302
    event = Event.objects.get(category=category)
    visit = Visit.objects.get()
    client.force_login(world["community"])
    page = client.get(reverse("campaigns:visit-detail", args=[visit.pk])).content.decode()
    assert 'data-flag="fever"' in page and reverse("cases:detail", args=[event.pk]) in page
    listing = client.get(reverse("campaigns:visits", args=[campaign.pk]) + "?flagged=1").content.decode()
    assert f'data-visit="{visit.pk}"' in listing
