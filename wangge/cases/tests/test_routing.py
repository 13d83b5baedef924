"""Routing by the ownership table (属主/属地), the command centre's override, the emergency path, skip-level reports
(越级上报), escalation and leaders' instructions (批示)."""

from datetime import date

import pytest
from django.http import Http404

from wangge.cases import routing
from wangge.cases.models import Category, EventState, Notification, Ownership, RoutingRole, RoutingRule, Urgency
from wangge.cases.services import available_actions, do_act, do_report_event
from wangge.core.errors import DomainError
from wangge.core.testing import COMMUNITY_A, make_user
from wangge.geo.models import Area
from wangge.workforce.models import Department, DepartmentMembership, GridPost, PostKind

pytestmark = pytest.mark.django_db
SUBDISTRICT_A = COMMUNITY_A[:9]


@pytest.fixture
def cast(district):
    def department(code, name, area="370103"):
        return Department.objects.create(name=name, code=code, area_code=area)

    departments = {"urban": department("T-CG", "城管局"), "water": department("T-SW", "水务局"),
                   "street": department("T-JD", "大观园街道综合执法", SUBDISTRICT_A),
                   "fire": department("T-YJ", "应急管理局")}
    handlers = {}
    for key, row in departments.items():
        handlers[key] = make_user("department", "370103")
        DepartmentMembership.objects.create(user=handlers[key], department=row, active_from=date(2024, 1, 1))
    grid = Area.objects.filter(generation__state="active", level="grid", code__startswith=COMMUNITY_A).order_by(
        "code").first()
    return {"departments": departments, "handlers": handlers, "grid_code": grid.code,
            "point": grid.geom.point_on_surface, "worker": make_user("grid_worker", COMMUNITY_A),
            "command": make_user("command", "370103"), "community_command": make_user("command", COMMUNITY_A),
            "subdistrict_command": make_user("command", SUBDISTRICT_A)}


def subclass(kind, code):
    return Category.objects.get(kind=kind, code=code)


def rule(category, area, role, department):
    return RoutingRule.objects.create(category=category, area_code=area, role=role, department=department)


def report(cast, category, **kwargs):
    return do_report_event(actor=cast["worker"], location=cast["point"], description="井盖破损",
                           category=category.pk, **kwargs)


def act(event, action, actor, **kwargs):
    event.refresh_from_db()
    return do_act(event, action, actor=actor, version=event.version, **kwargs)


def test_owner_first_and_locality_first(cast):
    deps = cast["departments"]
    part = subclass("part", "0101")  # a 部件: owner first
    event_kind = subclass("event", "0101")  # a 事件: locality first
    assert part.ownership == Ownership.OWNER_FIRST and event_kind.ownership == Ownership.LOCALITY_FIRST
    for category in (part, event_kind):
        rule(category, "370103", RoutingRole.OWNER, deps["water"])
        rule(category, SUBDISTRICT_A, RoutingRole.LOCALITY, deps["street"])
    assert routing.route(part, cast["grid_code"]) == deps["water"]
    assert routing.route(event_kind, cast["grid_code"]) == deps["street"]
    # elsewhere in the district no locality rule applies: the owner is next
    assert routing.route(event_kind, "370103001001001") == deps["water"]


def test_most_specific_area_then_subclass_over_class(cast):
    deps = cast["departments"]
    category = subclass("event", "0101")
    rule(category.parent, "370103", RoutingRole.LOCALITY, deps["urban"])
    assert routing.route(category, cast["grid_code"]) == deps["urban"]  # the class's rule covers its subclasses
    rule(category, "370103", RoutingRole.LOCALITY, deps["water"])
    assert routing.route(category, cast["grid_code"]) == deps["water"]  # a subclass rule beats a class rule
    rule(category.parent, SUBDISTRICT_A, RoutingRole.LOCALITY, deps["street"])
    assert routing.route(category, cast["grid_code"]) == deps["street"]  # a smaller area beats both


def test_closed_or_inactive_rules_are_skipped(cast):
    deps = cast["departments"]
    category = subclass("event", "0101")
    first = rule(category, SUBDISTRICT_A, RoutingRole.LOCALITY, deps["street"])
    rule(category, "370103", RoutingRole.LOCALITY, deps["urban"])
    first.active = False
    first.save()
    assert routing.route(category, cast["grid_code"]) == deps["urban"]
    deps["urban"].closed_on = date(2020, 1, 1)
    deps["urban"].save()
    assert routing.route(category, cast["grid_code"]) is None


def test_report_routes_and_dispatch_uses_or_overrides_the_route(cast):
    deps = cast["departments"]
    category = subclass("event", "0101")
    rule(category, "370103", RoutingRole.LOCALITY, deps["urban"])
    event = report(cast, category)
    assert event.routed_department == deps["urban"] and event.holder_code == COMMUNITY_A
    event = act(event, "accept", cast["command"])
    event = act(event, "dispatch", cast["command"])  # no department given: the routed one
    assert event.department == deps["urban"] and event.state == EventState.DISPATCHED
    assert Notification.objects.filter(recipient=cast["handlers"]["urban"], event=event,
                                       kind=Notification.Kind.ASSIGNED).exists()
    event = act(event, "return", cast["handlers"]["urban"], note="不属本部门")
    assert event.return_count == 1 and event.state == EventState.ACCEPTED
    assert Notification.objects.filter(recipient=cast["command"], event=event,
                                       kind=Notification.Kind.RETURNED, body="不属本部门").exists()
    event = act(event, "dispatch", cast["command"], department=deps["water"].pk)  # the command centre overrides
    assert event.department == deps["water"]
    assert "城管局" in event.timeline.last().note and "水务局" in event.timeline.last().note


def test_dispatch_without_route_or_department_is_refused(cast):
    event = act(report(cast, subclass("event", "0102")), "accept", cast["command"])
    with pytest.raises(DomainError) as err:
        act(event, "dispatch", cast["command"])
    assert err.value.field == "department"


def test_emergency_is_dispatched_at_once_and_the_chain_hears(cast):
    deps = cast["departments"]
    category = subclass("event", "0101")
    rule(category, "370103", RoutingRole.LOCALITY, deps["urban"])
    rule(category, "370103", RoutingRole.EMERGENCY, deps["fire"])
    chief = make_user("grid_worker", cast["grid_code"])
    GridPost.objects.create(kind=PostKind.GRID_CHIEF, grid_code=cast["grid_code"], holder_user=chief,
                            holder_name="网格长", started_on=date(2024, 1, 1))
    leader = make_user("leader", "370103")
    community = make_user("community_staff", COMMUNITY_A)
    elsewhere = make_user("community_staff", "370103002003")
    event = report(cast, category, emergency=True)
    assert event.urgency == Urgency.EMERGENCY and event.state == EventState.DISPATCHED
    assert event.department == deps["fire"] and event.due_at is not None and event.accepted_at is not None
    assert event.holder_code == "370103"
    assert [row.action for row in event.timeline.all()] == ["report", "accept", "dispatch"]
    told = set(Notification.objects.filter(event=event, kind=Notification.Kind.EMERGENCY)
               .values_list("recipient_id", flat=True))
    assert {chief.pk, leader.pk, community.pk, cast["command"].pk, cast["handlers"]["fire"].pk} <= told
    assert elsewhere.pk not in told and cast["handlers"]["urban"].pk not in told


def test_emergency_without_responder_waits_at_the_district(cast):
    event = report(cast, subclass("event", "0102"), urgency="emergency")
    assert event.emergency and event.state == EventState.REPORTED and event.holder_code == "370103"
    assert Notification.objects.filter(event=event, recipient=cast["command"]).exists()
    with pytest.raises(DomainError) as err:  # the community's command centre does not hold it
        act(event, "accept", cast["community_command"])
    assert err.value.status_code == 403


def test_skip_level_report_by_category_and_urgency(cast):
    category = subclass("event", "0101")
    category.skip_level_from = Urgency.URGENT
    category.save()
    assert report(cast, category).holder_code == COMMUNITY_A
    assert report(cast, category, urgency="urgent").holder_code == "370103"


def test_escalation_moves_the_case_up_one_level_at_a_time(cast):
    event = report(cast, subclass("event", "0101"))
    assert "escalate" in available_actions(event, cast["community_command"])
    with pytest.raises(DomainError) as err:
        act(event, "escalate", cast["community_command"])
    assert err.value.field == "note"
    event = act(event, "escalate", cast["community_command"], note="社区无力处置")
    assert event.holder_code == SUBDISTRICT_A and event.state == EventState.REPORTED
    assert Notification.objects.filter(event=event, recipient=cast["subdistrict_command"],
                                       kind=Notification.Kind.ESCALATED).exists()
    assert available_actions(event, cast["community_command"]) == []
    with pytest.raises(DomainError) as err:
        act(event, "accept", cast["community_command"])
    assert err.value.status_code == 403
    event = act(event, "escalate", cast["subdistrict_command"], note="需区级协调")
    assert event.holder_code == "370103"
    assert "escalate" not in available_actions(event, cast["command"])
    with pytest.raises(DomainError) as err:
        act(event, "escalate", cast["command"], note="x")
    assert err.value.code == "invalid_transition"
    assert act(event, "accept", cast["command"]).state == EventState.ACCEPTED


def test_leader_instruction(cast):
    deps = cast["departments"]
    category = subclass("event", "0101")
    rule(category, "370103", RoutingRole.LOCALITY, deps["urban"])
    event = act(act(report(cast, category), "accept", cast["command"]), "dispatch", cast["command"])
    leader = make_user("leader", "370103")
    assert available_actions(event, leader) == ["instruct"]
    with pytest.raises(DomainError) as err:
        act(event, "instruct", leader)
    assert err.value.field == "note"
    version = event.version
    event = act(event, "instruct", leader, note="请务必今日处置完毕")
    assert event.state == EventState.DISPATCHED and event.version == version + 1
    assert event.timeline.last().action == "instruct"
    told = set(Notification.objects.filter(event=event, kind=Notification.Kind.INSTRUCTION)
               .values_list("recipient_id", flat=True))
    assert told == {cast["command"].pk, cast["handlers"]["urban"].pk}
    with pytest.raises(DomainError) as err:  # others may not instruct
        act(event, "instruct", cast["worker"], note="x")
    assert err.value.status_code == 403
    with pytest.raises(Http404):  # a leader of another subdistrict does not see it
        act(event, "instruct", make_user("leader", "370103001"), note="x")


def test_demo_ownership_table_routes_every_subclass(district):
    from wangge.cases import demo_routing

    for code in ("CGJ", "GS", "XFJY"):
        Department.objects.create(name=code, code=code, area_code="370103")
    make_user("department", "370103", username=demo_routing.DEMO_HANDLER)
    first = demo_routing.load()
    assert first["rules"] > 0 and first["memberships"] == 2
    assert demo_routing.load() == {"offices": 0, "rules": 0, "memberships": 0}  # idempotent
    grid = Area.objects.filter(generation__state="active", level="grid", code__startswith=SUBDISTRICT_A).first()
    office = Department.objects.get(code=demo_routing.office_code(SUBDISTRICT_A))
    assert routing.route(subclass("event", "0101"), grid.code) == office  # 事件: locality first
    assert routing.route(subclass("part", "0101"), grid.code).code == "GS"  # 部件: owner first
    assert routing.route(subclass("event", "0502"), grid.code, emergency=True).code == "XFJY"


def test_supervision_notice(cast):
    deps = cast["departments"]
    category = subclass("event", "0101")
    rule(category, "370103", RoutingRole.LOCALITY, deps["urban"])
    event = report(cast, category)
    supervision = make_user("supervision", "370103")
    assert "supervise" not in available_actions(event, supervision)  # no clock runs yet
    event = act(act(event, "accept", cast["command"]), "dispatch", cast["command"])
    assert "supervise" in available_actions(event, supervision)
    event = act(event, "supervise", supervision, note="群众反映强烈，请加快处置")
    assert event.state == EventState.DISPATCHED and event.timeline.last().action == "supervise"
    told = set(Notification.objects.filter(event=event, kind=Notification.Kind.SUPERVISION)
               .values_list("recipient_id", flat=True))
    assert told == {cast["command"].pk, cast["handlers"]["urban"].pk}


def test_a_grid_chief_by_role_hears_of_an_emergency_too(cast):
    chief = make_user("grid_chief", cast["grid_code"])  # the role, without a post
    event = report(cast, subclass("event", "0102"), emergency=True)
    assert Notification.objects.filter(event=event, recipient=chief, kind=Notification.Kind.EMERGENCY).exists()


def test_an_edit_to_the_table_routes_the_next_report_at_once(cast):
    """The routing table and the categories are held in memory: an admin's edit (a save, a delete, a department
    closed, a category's rule changed) must route the very next report by the new table."""
    deps = cast["departments"]
    manhole = subclass("part", "0101")
    rule(manhole, "370103", RoutingRole.OWNER, deps["water"])
    assert report(cast, manhole).routed_department == deps["water"]
    closer = rule(manhole, SUBDISTRICT_A, RoutingRole.OWNER, deps["street"])
    assert report(cast, manhole).routed_department == deps["street"]
    deps["street"].closed_on = date(2020, 1, 1)
    deps["street"].save()
    assert report(cast, manhole).routed_department == deps["water"]
    closer.delete()
    rule(manhole, "370103", RoutingRole.LOCALITY, deps["urban"])
    manhole.ownership = Ownership.LOCALITY_FIRST
    manhole.save()
    assert report(cast, manhole).routed_department == deps["urban"]
    manhole.active = False
    manhole.save()
    with pytest.raises(DomainError) as refused:
        report(cast, manhole)
    assert refused.value.field == "category"
