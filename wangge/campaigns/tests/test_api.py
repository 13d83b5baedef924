"""The campaigns API as its users meet it: staff run a campaign through its states, a grid worker takes their list and
records visits (bad answers named by path, replays answered with the first visit, other grids' households refused),
answers are read only through an audited reveal, proposals are reviewed masked — and on every endpoint, someone
from elsewhere gets nothing, and a leader gets no personal rows."""

from datetime import date, timedelta

import pytest

from wangge.campaigns import services
from wangge.campaigns.models import AnswerReveal, Campaign, CampaignWorker, PersonProposal, Visit
from wangge.cases.models import Category
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
API = "/api/v1/campaigns/"
CAMPAIGNS = f"{API}campaigns/"
VISITS = f"{API}visits/"
PROPOSALS = f"{API}proposals/"
FORMS = f"{API}forms/"
KNOWN_ID, NEW_ID = "11010519491231002X", "370103199001011238"


def grids(community, count):
    return list(Area.objects.filter(generation__state="active", level="grid", code__startswith=community)
                .order_by("code").values_list("code", flat=True)[:count])


def member(**values):
    row = {"name": "张三", "id_number": KNOWN_ID, "returned": "no", "fever": "no", "contact": "no",
           "isolation": "none"}
    row.update(values)
    return row


@pytest.fixture
def world(district):
    staff = make_user("subdistrict_staff", COMMUNITY_A[:9])
    community = make_user("community_staff", COMMUNITY_A)
    grid, other_grid = grids(COMMUNITY_A, 2)
    households = [registry.do_create_household(actor=community, number=f"H-{i}", grid_code=grid) for i in range(2)]
    other = registry.do_create_household(actor=community, number="H-other", grid_code=other_grid)
    registry.do_create_person(actor=community, name="张三", id_number=KNOWN_ID, household=households[0],
                              grid_code=grid)
    campaign = services.do_create_campaign(
        actor=staff, name="冬季入户摸排", purpose="掌握辖区返乡人员健康情况", legal_basis="《传染病防治法》第三十一条",
        area_code=COMMUNITY_A[:9], target_codes=[COMMUNITY_A], starts_on=date.today(),
        ends_on=date.today() + timedelta(days=14), retention_days=0)
    return {"staff": staff, "community": community, "grid": grid, "other_grid": other_grid,
            "households": households, "other": other, "campaign": campaign,
            "worker": make_user("grid_worker", grid),
            "outsider": make_user("subdistrict_staff", OTHER_SUBDISTRICT_COMMUNITY[:9]),
            "outside_community": make_user("community_staff", COMMUNITY_B),
            "leader": make_user("leader", "370103")}


@pytest.fixture
def running(world):
    world["campaign"] = services.do_start_campaign(world["campaign"], actor=world["staff"])
    return world


def visit(world, household=None, actor=None, **values):
    return services.do_record_visit(world["campaign"], actor=actor or world["worker"],
                                    household=household or world["households"][0], **values)


def campaign_url(world, suffix=""):
    return f"{CAMPAIGNS}{world['campaign'].pk}/{suffix}"


# ---- campaigns -----------------------------------------------------------------------------------------------------

def test_staff_run_a_campaign_through_its_states(client, world):
    client.force_login(world["staff"])
    response = client.post(CAMPAIGNS, {
        "name": "复工摸排", "purpose": "掌握复工人员健康状况", "legal_basis": "《突发事件应对法》",
        "area_code": COMMUNITY_A[:9], "target_codes": [COMMUNITY_A], "starts_on": str(date.today()),
        "ends_on": str(date.today() + timedelta(days=7)), "retention_days": 0}, content_type="application/json")
    assert response.status_code == 201, response.content
    assert_matches_schema(response, "/api/v1/campaigns/campaigns/", "post")
    body = response.json()
    assert (body["state"], body["purpose"], body["legal_basis"], body["form_code"]) == (
        "draft", "掌握复工人员健康状况", "《突发事件应对法》", "household-basic")
    url = f"{CAMPAIGNS}{body['id']}/"
    response = client.patch(url, {"name": "复工复产摸排", "retention_days": 3}, content_type="application/json")
    assert response.status_code == 200 and response.json()["name"] == "复工复产摸排"
    assert_matches_schema(response, "/api/v1/campaigns/campaigns/{id}/", "patch")
    response = client.patch(url, {"area_code": "370103"}, content_type="application/json")
    assert response.status_code == 400 and "area_code" in response.json()["error"]["fields"]
    deadline = "2099-01-01T08:00:00+08:00"
    response = client.post(f"{url}start/", {"deadline": deadline}, content_type="application/json")
    assert response.status_code == 200 and response.json()["state"] == "running"
    assert_matches_schema(response, "/api/v1/campaigns/campaigns/{id}/start/", "post")
    assert [r["number"] for r in response.json()["rounds"]] == [1]
    response = client.patch(url, {"name": "x"}, content_type="application/json")  # a running campaign stays put
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_transition"
    response = client.post(f"{url}rescreen/", {"reason": ""}, content_type="application/json")
    assert response.status_code == 400 and "reason" in response.json()["error"]["fields"]
    response = client.post(f"{url}rescreen/", {"reason": "风险地区调整", "deadline": deadline},
                           content_type="application/json")
    assert response.status_code == 200 and response.json()["current_round"] == 2
    response = client.post(f"{url}purge/")  # still running
    assert response.status_code == 400
    response = client.post(f"{url}close/")
    assert response.status_code == 200 and response.json()["state"] == "closed"
    assert response.json()["purge_due_on"] == str(date.today() + timedelta(days=3))
    response = client.post(f"{url}purge/")  # the retention period runs
    assert response.status_code == 400 and "retention" in response.json()["error"]["message"]
    detail = client.get(url)
    assert detail.status_code == 200 and detail.json()["state"] == "closed"
    assert_matches_schema(detail, "/api/v1/campaigns/campaigns/{id}/")


def test_purge_through_the_api_keeps_the_counts(client, running):
    visit(running, status="visited", answers={"members": [member()]})
    client.force_login(running["staff"])
    client.post(campaign_url(running, "close/"))
    response = client.post(campaign_url(running, "purge/"))  # retention 0 days: due today
    assert response.status_code == 200 and response.json()["state"] == "purged"
    assert not Visit.objects.exclude(answers_enc="").exists()
    rows = client.get(VISITS).json()["results"]
    assert [(row["status"], row["members"], row["has_answers"]) for row in rows] == [("visited", 1, False)]


@pytest.mark.parametrize("changes, field", [
    ({"purpose": ""}, "purpose"), ({"legal_basis": " "}, "legal_basis"),
    ({"target_codes": [OTHER_SUBDISTRICT_COMMUNITY]}, "target_codes"), ({"starts_on": "tomorrow"}, "starts_on"),
    ({"ends_on": "2000-01-01"}, "ends_on"), ({"form_version": 999999}, "form_version"),
    ({"target_kind": "everyone"}, "target_kind"), ({"retention_days": "forever"}, "retention_days"),
])
def test_bad_campaigns_are_refused_by_field(client, world, changes, field):
    client.force_login(world["staff"])
    data = {"name": "x", "purpose": "p", "legal_basis": "l", "area_code": COMMUNITY_A[:9],
            "starts_on": str(date.today()), "ends_on": str(date.today()), **changes}
    before = Campaign.objects.count()
    response = client.post(CAMPAIGNS, data, content_type="application/json")
    assert response.status_code == 400 and field in response.json()["error"]["fields"], response.content
    assert Campaign.objects.count() == before


def test_campaign_reads_and_scope(client, world):
    client.force_login(world["worker"])
    response = client.get(CAMPAIGNS)
    assert response.status_code == 200 and [row["id"] for row in response.json()["results"]] == [
        world["campaign"].pk]
    assert_matches_schema(response, "/api/v1/campaigns/campaigns/")
    assert client.get(f"{CAMPAIGNS}?state=nonsense").status_code == 400
    assert client.get(f"{CAMPAIGNS}?state=running").json()["results"] == []
    # a grid worker sees the campaign but may not run it
    assert client.post(campaign_url(world, "start/")).status_code == 403
    assert client.patch(campaign_url(world), {"name": "x"}, content_type="application/json").status_code == 403
    # another subdistrict: nothing, whatever the verb
    outsider = world["outsider"]
    client.force_login(outsider)
    assert client.get(CAMPAIGNS).json()["results"] == []
    # creating in someone else's area
    response = client.post(CAMPAIGNS, {"name": "x", "purpose": "p", "legal_basis": "l", "area_code": COMMUNITY_A[:9],
                                       "starts_on": str(date.today()), "ends_on": str(date.today())},
                           content_type="application/json")
    assert response.status_code == 404
    for suffix in ("", "workers/", "flag-rules/", "households/"):
        assert_cross_scope_denied(client, outsider, campaign_url(world, suffix))
    for suffix in ("start/", "close/", "rescreen/", "purge/", "workers/", "flag-rules/"):
        assert_cross_scope_denied(client, outsider, campaign_url(world, suffix), method="post", data={})
    assert_cross_scope_denied(client, outsider, campaign_url(world), method="patch", data={"name": "x"})
    assert Campaign.objects.get(pk=world["campaign"].pk).state == "draft"


def test_workers_are_listed_and_assigned(client, running):
    client.force_login(running["staff"])
    url = campaign_url(running, "workers/")
    volunteer = make_user("volunteer", running["other_grid"])
    response = client.post(url, {"grid_code": running["other_grid"], "user": volunteer.pk, "role": "volunteer"},
                           content_type="application/json")
    assert response.status_code == 201, response.content
    assert_matches_schema(response, "/api/v1/campaigns/campaigns/{id}/workers/", "post")
    for data, field in (({"grid_code": grids(COMMUNITY_B, 1)[0], "user": volunteer.pk}, "grid_code"),
                        ({"grid_code": running["grid"], "user": 999999}, "user"),
                        ({"grid_code": running["grid"], "user": volunteer.pk, "role": "boss"}, "role")):
        response = client.post(url, data, content_type="application/json")
        assert response.status_code == 400 and field in response.json()["error"]["fields"]
    response = client.get(url)
    assert_matches_schema(response, "/api/v1/campaigns/campaigns/{id}/workers/")
    assert (running["other_grid"], volunteer.pk, "volunteer") in [
        (row["grid_code"], row["user"], row["role"]) for row in response.json()]
    # a grid worker sees their own grid's assignments only; posting is for managers
    client.force_login(running["worker"])
    assert {row["grid_code"] for row in client.get(url).json()} <= {running["grid"]}
    response = client.post(url, {"grid_code": running["grid"], "user": running["worker"].pk},
                           content_type="application/json")
    assert response.status_code == 403
    assert CampaignWorker.objects.filter(campaign=running["campaign"], user=volunteer).count() == 1


def test_flag_rules_are_listed_and_added(client, running):
    client.force_login(running["staff"])
    url = campaign_url(running, "flag-rules/")
    category = Category.objects.get(kind="event", code="0901")
    response = client.post(url, {"code": "fever", "label": "发热", "field": "fever", "operator": "eq",
                                 "value": "yes", "category": category.pk, "urgency": "urgent"},
                           content_type="application/json")
    assert response.status_code == 201, response.content
    assert_matches_schema(response, "/api/v1/campaigns/campaigns/{id}/flag-rules/", "post")
    for data, field in (({"code": "x", "label": "x", "field": "colour", "operator": "eq", "value": 1}, "field"),
                        ({"code": "y", "label": "y", "field": "fever", "operator": "like", "value": 1}, "operator"),
                        ({"code": "fever", "label": "x", "field": "fever", "operator": "eq", "value": 1}, "code")):
        response = client.post(url, data, content_type="application/json")
        assert response.status_code == 400 and field in response.json()["error"]["fields"], response.content
    client.force_login(running["worker"])
    response = client.get(url)
    assert [row["code"] for row in response.json()] == ["fever"]
    assert_matches_schema(response, "/api/v1/campaigns/campaigns/{id}/flag-rules/")
    assert client.post(url, {"code": "z", "label": "z", "field": "fever", "operator": "eq", "value": "yes"},
                       content_type="application/json").status_code == 403


# ---- the worker's list ---------------------------------------------------------------------------------------------

def test_a_worker_gets_their_grids_households_with_standings(client, running):
    visit(running, status="absent")
    client.force_login(running["worker"])
    url = campaign_url(running, "households/")
    response = client.get(url)
    assert response.status_code == 200
    assert_matches_schema(response, "/api/v1/campaigns/campaigns/{id}/households/")
    assert [(row["number"], row["status"]) for row in response.json()] == [("H-0", "absent"), ("H-1", "pending")]
    assert "张三" not in response.content.decode()
    assert [row["number"] for row in client.get(f"{url}?grid={running['grid']}").json()] == ["H-0", "H-1"]
    assert client.get(f"{url}?grid={running['other_grid']}").status_code == 404  # not theirs
    assert client.get(f"{url}?grid=37010300").status_code == 400
    client.force_login(running["community"])  # staff: the whole community
    assert [row["number"] for row in client.get(url).json()] == ["H-0", "H-1", "H-other"]


# ---- visits --------------------------------------------------------------------------------------------------------

def post_visit(client, world, **values):
    data = {"campaign": world["campaign"].pk, "household": world["households"][0].pk, "status": "visited",
            "answers": {"members": [member()]}, **values}
    return client.post(VISITS, data, content_type="application/json")


def test_a_worker_records_a_visit(client, running):
    client.force_login(running["worker"])
    response = post_visit(client, running, instance_id="uuid:1", location={"type": "Point", "coordinates": [1, 1]})
    assert response.status_code == 201, response.content
    assert_matches_schema(response, "/api/v1/campaigns/visits/", "post")
    body = response.json()
    assert (body["status"], body["members"], body["source"], body["inside_grid"], body["has_answers"]) == (
        "visited", 1, "api", False, True)
    assert "answers" not in body and "张三" not in response.content.decode()
    # the phone retries: the same instance answers the first visit, nothing new written
    again = post_visit(client, running, instance_id="uuid:1", status="absent", answers=None)
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert_matches_schema(again, "/api/v1/campaigns/visits/", "post")
    assert Visit.objects.count() == 1
    households = client.get(campaign_url(running, "households/")).json()
    assert households[0]["status"] == "visited" and households[0]["last_visit_id"] == body["id"]


def test_a_visit_through_the_api_raises_the_campaigns_flags(client, running):
    category = Category.objects.get(kind="event", code="0901")
    services.do_add_flag_rule(running["campaign"], actor=running["staff"], code="fever", label="发热",
                              field="fever", operator="eq", value="yes", category=category.pk, urgency="urgent")
    services.do_add_flag_rule(running["campaign"], actor=running["staff"], code="contact", label="密接",
                              field="contact", operator="eq", value="yes")
    rule = services.do_add_flag_rule(running["campaign"], actor=running["staff"], code="home", label="居家",
                                     field="isolation", operator="eq", value="home")
    rule.active = False  # a rule switched off raises nothing
    rule.save()
    client.force_login(running["worker"])
    response = post_visit(client, running, answers={"members": [
        member(isolation="home"), member(name="王五", id_number=NEW_ID, fever="yes", contact="yes")]})
    assert response.status_code == 201, response.content
    assert response.json()["flags"] == ["contact", "fever"]
    visit = Visit.objects.get()
    hits = {hit.rule.code: hit for hit in visit.flag_hits.select_related("rule", "event")}
    assert set(hits) == {"contact", "fever"} and hits["contact"].event is None  # a flag without a category
    event = hits["fever"].event
    assert (event.category, event.urgency, event.grid_code) == (category, "urgent", running["grid"])
    assert "王五" not in event.description


@pytest.mark.parametrize("values, field", [
    ({"household": "H-0"}, "household"),
    ({"status": "maybe"}, "status"),
    ({"campaign": 999999}, "campaign"),
    ({"answers": {"members": [member(fever="maybe")]}}, "members[0].fever"),
    ({"answers": {"members": [member(returned="yes")]}}, "members[0].return_date"),
    ({"answers": {"members": [], "colour": "red"}}, "colour"),
    ({"answers": "fever"}, "answers"),
    ({"status": "absent"}, "answers"),
    ({"visited_at": "2999-01-01T00:00:00Z"}, "visited_at"),
    ({"location": {"type": "Point"}}, "location"),
])
def test_bad_visits_are_refused_by_field_and_write_nothing(client, running, values, field):
    client.force_login(running["worker"])
    response = post_visit(client, running, **values)
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"], response.json()
    assert KNOWN_ID not in response.content.decode() and "张三" not in response.content.decode()
    assert not Visit.objects.exists() and not PersonProposal.objects.exists()


def test_every_broken_answer_is_named(client, running):
    client.force_login(running["worker"])
    response = post_visit(client, running, answers={"members": [member(fever="maybe"), member(contact=None)]})
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"members[0].fever", "members[1].contact"}


def test_visits_refused_for_a_closed_campaign_and_other_grids(client, running):
    client.force_login(running["worker"])
    response = post_visit(client, running, household=running["other"].pk)  # a target, but not their grid
    assert response.status_code == 404
    outside = registry.do_create_household(actor=running["outside_community"], number="H-far",
                                           grid_code=grids(COMMUNITY_B, 1)[0])
    response = post_visit(client, running, household=outside.pk)  # not a target, and not their grid either
    assert response.status_code == 404
    unknown = post_visit(client, running, household=outside.pk + 100000)  # answers as one outside their grids
    assert unknown.status_code == 404 and unknown.json() == response.json()
    services.do_close_campaign(running["campaign"], actor=running["staff"])
    response = post_visit(client, running)
    assert response.status_code == 400 and "campaign" in response.json()["error"]["fields"]
    assert not Visit.objects.exists()
    client.force_login(running["leader"])  # no right to visit at all
    assert post_visit(client, running).status_code == 403


def test_visits_are_listed_in_scope_without_answers(client, running):
    category = Category.objects.get(kind="event", code="0901")
    services.do_add_flag_rule(running["campaign"], actor=running["staff"], code="fever", label="发热",
                              field="fever", operator="eq", value="yes", category=category.pk)
    flagged = visit(running, status="visited", answers={"members": [member(fever="yes"), member(
        name="王五", id_number=NEW_ID)]})
    visit(running, household=running["other"], actor=make_user("grid_worker", running["other_grid"]),
          status="refused")
    client.force_login(running["community"])
    response = client.get(VISITS)
    assert response.status_code == 200
    assert_matches_schema(response, "/api/v1/campaigns/visits/")
    text = response.content.decode()
    assert "王五" not in text and NEW_ID not in text and KNOWN_ID not in text and "answers_enc" not in text
    assert len(response.json()["results"]) == 2
    rows = client.get(f"{VISITS}?flagged=true").json()["results"]
    assert [(row["id"], row["flags"], row["members"]) for row in rows] == [(flagged.pk, ["fever"], 2)]
    assert [row["status"] for row in client.get(f"{VISITS}?status=refused").json()["results"]] == ["refused"]
    assert len(client.get(f"{VISITS}?grid={running['grid']}&campaign={running['campaign'].pk}&round=1")
               .json()["results"]) == 1
    for bad in ("status=maybe", "grid=12", "round=first", "flagged=perhaps"):
        response = client.get(f"{VISITS}?{bad}")
        assert response.status_code == 400 and bad.split("=")[0] in response.json()["error"]["fields"]
    detail = client.get(f"{VISITS}{flagged.pk}/")
    assert detail.status_code == 200 and "王五" not in detail.content.decode()
    assert_matches_schema(detail, "/api/v1/campaigns/visits/{id}/")
    # the worker of the other grid sees only that grid's visit
    client.force_login(make_user("grid_worker", running["other_grid"]))
    assert [row["status"] for row in client.get(VISITS).json()["results"]] == ["refused"]
    assert_cross_scope_denied(client, running["outside_community"], f"{VISITS}{flagged.pk}/")
    assert_cross_scope_denied(client, running["outsider"], f"{VISITS}{flagged.pk}/reveal/", method="post",
                              data={"reason": "看看"})


def test_answers_are_revealed_with_a_reason_audited(client, running):
    answered = visit(running, status="visited", answers={"members": [member(fever="yes")]})
    url = f"{VISITS}{answered.pk}/reveal/"
    client.force_login(running["worker"])  # records visits, does not read them back
    assert client.post(url, {"reason": "核实"}, content_type="application/json").status_code == 403
    client.force_login(running["outside_community"])
    assert client.post(url, {"reason": "核实"}, content_type="application/json").status_code == 404
    client.force_login(running["community"])
    response = client.post(url, {"reason": ""}, content_type="application/json")
    assert response.status_code == 400 and "reason" in response.json()["error"]["fields"]
    assert not AnswerReveal.objects.exists()
    response = client.post(url, {"reason": "核实发热人员"}, content_type="application/json",
                           HTTP_X_REQUEST_ID="req-42")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert_matches_schema(response, "/api/v1/campaigns/visits/{id}/reveal/", "post")
    answers = response.json()["answers"]
    assert answers["members"][0]["fever"] == "yes" and answers["members"][0]["id_number"] == KNOWN_ID
    audit = AnswerReveal.objects.get()
    assert (audit.user, audit.visit_id, audit.reason, audit.request_id) == (
        running["community"], answered.pk, "核实发热人员", "req-42")
    absent = visit(running, household=running["households"][1], status="absent")
    response = client.post(f"{VISITS}{absent.pk}/reveal/", {"reason": "核实"}, content_type="application/json")
    assert response.status_code == 400 and AnswerReveal.objects.count() == 1


# ---- proposals -----------------------------------------------------------------------------------------------------

def test_proposals_are_masked_and_reviewed_in_scope(client, running):
    visit(running, status="visited", answers={"members": [member(name="王五", id_number=NEW_ID, phone="13912345678"),
                                                          member(name="赵六", id_number="120103198806018241")]})
    first, second = PersonProposal.objects.order_by("pk")
    client.force_login(running["community"])
    response = client.get(PROPOSALS)
    assert response.status_code == 200
    assert_matches_schema(response, "/api/v1/campaigns/proposals/")
    text = response.content.decode()
    assert NEW_ID not in text and "13912345678" not in text
    row = next(row for row in response.json()["results"] if row["id"] == first.pk)
    assert (row["name"], row["id_number"], row["phone"], row["state"]) == (
        "王五", "370103********1238", "139****5678", "pending")
    assert client.get(f"{PROPOSALS}?state=bogus").status_code == 400
    assert len(client.get(f"{PROPOSALS}?campaign={running['campaign'].pk}&state=pending").json()["results"]) == 2
    url = f"{PROPOSALS}{first.pk}/review/"
    assert_cross_scope_denied(client, running["outside_community"], f"{PROPOSALS}{first.pk}/")
    assert_cross_scope_denied(client, running["outside_community"], url, method="post", data={"decision": "accept"})
    client.force_login(make_user("volunteer", running["grid"]))  # may visit, may not change the registry
    assert client.post(url, {"decision": "accept"}, content_type="application/json").status_code == 403
    client.force_login(running["community"])
    response = client.post(f"{PROPOSALS}{second.pk}/review/", {"decision": "reject"},
                           content_type="application/json")
    assert response.status_code == 400 and "note" in response.json()["error"]["fields"]
    response = client.post(url, {"decision": "accept"}, content_type="application/json")
    assert response.status_code == 200 and response.json()["state"] == "accepted"
    assert_matches_schema(response, "/api/v1/campaigns/proposals/{id}/review/", "post")
    assert registry.find_person_by_id_number(NEW_ID).pk == response.json()["person"]
    response = client.post(url, {"decision": "accept"}, content_type="application/json")
    assert response.status_code == 400  # reviewed once


# ---- forms ---------------------------------------------------------------------------------------------------------

def test_forms_and_their_versions_read_only(client, world):
    client.force_login(world["worker"])
    response = client.get(FORMS)
    assert response.status_code == 200
    assert_matches_schema(response, "/api/v1/campaigns/forms/")
    form = next(row for row in response.json()["results"] if row["code"] == "household-basic")
    response = client.get(f"{FORMS}{form['id']}/versions/")
    assert_matches_schema(response, "/api/v1/campaigns/forms/{id}/versions/")
    version = response.json()[0]
    assert version["id"] == form["latest_version"] == world["campaign"].form_version_id
    assert version["definition"]["fields"][0]["name"] == "members"
    assert client.post(FORMS, {}, content_type="application/json").status_code == 405


# ---- leaders -------------------------------------------------------------------------------------------------------

def test_leaders_get_no_personal_rows_anywhere(client, running):
    answered = visit(running, status="visited", answers={"members": [member(name="王五", id_number=NEW_ID)]})
    proposal = PersonProposal.objects.get()
    client.force_login(running["leader"])
    for url in (CAMPAIGNS, VISITS, PROPOSALS, FORMS):
        response = client.get(url)
        assert response.status_code == 200 and response.json()["results"] == [], url
    for url in (campaign_url(running), campaign_url(running, "households/"), campaign_url(running, "workers/"),
                f"{VISITS}{answered.pk}/", f"{PROPOSALS}{proposal.pk}/"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"{VISITS}{answered.pk}/reveal/", {"reason": "看看"},
                       content_type="application/json").status_code == 403
    assert not AnswerReveal.objects.exists()


# ---- the scheduled purge and the admin -----------------------------------------------------------------------------

def test_the_daily_purge_job_purges_what_is_due(running):
    from wangge.campaigns import jobs

    visit(running, status="visited", answers={"members": [member()]})
    assert jobs.purge_due(timestamp=0) == {"purged": 0}  # still running
    services.do_close_campaign(running["campaign"], actor=running["staff"])  # retention 0 days: due today
    assert jobs.purge_due(timestamp=0) == {"purged": 1}
    assert Campaign.objects.get(pk=running["campaign"].pk).state == "purged"
    assert not Visit.objects.exclude(answers_enc="").exists()


def test_the_admin_shows_without_answers_and_edits_only_form_titles(client, running):
    from wangge.campaigns.models import Form
    from wangge.core.testing import make_superuser

    answered = visit(running, status="visited", answers={"members": [member(name="王五", id_number=NEW_ID)]})
    client.force_login(make_superuser())
    page = client.get(f"/admin/campaigns/visit/{answered.pk}/change/")
    assert page.status_code == 200 and answered.answers_enc[:20] not in page.content.decode()
    assert "王五" not in page.content.decode()
    assert client.get("/admin/campaigns/campaign/add/").status_code == 403
    form = Form.objects.get(code="household-basic")
    response = client.post(f"/admin/campaigns/form/{form.pk}/change/", {"title": "家庭情况摸排表",
                                                                         "title_en": "Household form"})
    assert response.status_code == 302
    form.refresh_from_db()
    assert (form.code, form.title) == ("household-basic", "家庭情况摸排表")
