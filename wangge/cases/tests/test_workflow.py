"""The closed loop through services.do_act: every action, every forbidden transition, the verifier rule, stale
versions, self-handling."""

from datetime import date

import pytest
from django.http import Http404

from wangge.cases import workflow
from wangge.cases.models import Category, Event, EventState
from wangge.cases.services import VersionConflict, do_act, do_report_event
from wangge.core.errors import DomainError
from wangge.core.testing import COMMUNITY_A, COMMUNITY_B, make_user
from wangge.geo.models import Area
from wangge.workforce.models import Department, DepartmentKind, DepartmentMembership

pytestmark = pytest.mark.django_db


def grid_point(community):
    grid = Area.objects.filter(generation__state="active", level="grid", code__startswith=community).order_by(
        "code").first()
    return grid.code, grid.geom.point_on_surface


@pytest.fixture
def cast(district):
    department = Department.objects.create(name="城管局", code="T-CG", area_code="370103")
    other_department = Department.objects.create(name="住建局", code="T-ZJ", area_code="370103")
    handler = make_user("department", "370103")
    outsider = make_user("department", "370103")
    DepartmentMembership.objects.create(user=handler, department=department, active_from=date(2024, 1, 1))
    DepartmentMembership.objects.create(user=outsider, department=other_department, active_from=date(2024, 1, 1))
    grid_code, point = grid_point(COMMUNITY_A)
    return {
        "department": department, "handler": handler, "outsider": outsider,
        "worker": make_user("grid_worker", COMMUNITY_A), "other_worker": make_user("grid_worker", COMMUNITY_B),
        "command": make_user("command", "370103"), "supervision": make_user("supervision", "370103"),
        "grid_code": grid_code, "point": point,
    }


def category(code="0101"):
    return Category.objects.get(kind="event", code=code)


def report(cast, code="0101", **kwargs):
    return do_report_event(actor=cast["worker"], location=cast["point"], description="违建一处",
                           category=category(code).pk, **kwargs)


def act(event, action, actor, **kwargs):
    event.refresh_from_db()
    return do_act(event, action, actor=actor, version=event.version, **kwargs)


def run_to(cast, state):
    event = report(cast)
    steps = [("accept", "command", {}), ("dispatch", "command", {"department": cast["department"].pk}),
             ("sign", "handler", {}), ("handle", "handler", {}), ("feedback", "handler", {}),
             ("verify", "supervision", {}), ("close", "supervision", {}),
             ("evaluate", "supervision", {"satisfaction": 5})]
    for action, who, kwargs in steps:
        if event.state == state:
            break
        event = act(event, action, cast[who], **kwargs)
    assert event.state == state
    return event


def test_categories_seeded():
    sub = Category.objects.get(kind="event", code="0101")
    assert sub.name == "私搭乱建" and sub.parent.name == "市容环境" and sub.limit_for("normal") == (4, "hours")
    assert sub.ownership == "locality_first"
    assert Category.objects.get(kind="part", code="01").ownership == "owner_first"
    names = set(Category.objects.filter(parent__isnull=True).values_list("name", flat=True))
    assert {"市容环境", "宣传广告", "施工管理", "街面秩序", "突发事件", "其他", "矛盾纠纷", "安全隐患", "疫情防控",
            "公用设施", "道路交通", "园林绿化", "房屋土地", "其他设施"} <= names


def test_report_numbers_and_places(cast):
    first, second = report(cast), report(cast)
    assert first.grid_code == cast["grid_code"] and first.state == EventState.REPORTED and first.version == 1
    prefix = first.case_number.rsplit("-", 1)[0]
    assert prefix.startswith("370103-") and len(prefix) == 15
    assert int(second.case_number.rsplit("-", 1)[1]) == int(first.case_number.rsplit("-", 1)[1]) + 1
    assert [row.action for row in first.timeline.all()] == ["report"]


def test_plain_and_emergency_reports_share_the_days_numbers(cast):
    """A plain report is numbered by the statement that writes it, an emergency before its transaction: one counter
    for the day, and past 99999 the number grows a digit rather than wrap."""
    from django.utils import timezone

    from wangge.cases.models import CaseSequence

    plain = report(cast)
    emergency = report(cast, urgency="emergency")
    day = timezone.localdate()
    prefix = f"370103-{day:%Y%m%d}-"
    assert emergency.case_number == f"{prefix}{int(plain.case_number.rsplit('-', 1)[1]) + 1:05d}"
    CaseSequence.objects.filter(district_code="370103", day=day).update(last=99999)
    assert report(cast).case_number == f"{prefix}100000"
    assert report(cast, urgency="emergency").case_number == f"{prefix}100001"


def test_report_refusals(cast):
    with pytest.raises(DomainError) as outside:
        do_report_event(actor=cast["worker"], location={"type": "Point", "coordinates": [0, 0]},
                        description="x", category=category().pk)
    assert outside.value.field == "location"
    with pytest.raises(DomainError) as unknown:
        report_kwargs = {"actor": cast["worker"], "location": cast["point"], "description": "x"}
        do_report_event(category=999999, **report_kwargs)
    assert unknown.value.field == "category"
    with pytest.raises(DomainError):  # a class, not a subclass
        do_report_event(category=Category.objects.get(kind="event", code="01").pk, **report_kwargs)
    with pytest.raises(Http404):
        do_report_event(actor=cast["other_worker"], location=cast["point"], description="x", category=category().pk)
    with pytest.raises(DomainError) as forbidden:
        do_report_event(actor=cast["handler"], location=cast["point"], description="x", category=category().pk)
    assert forbidden.value.status_code == 403


def test_full_loop_with_timeline_and_due(cast):
    event = run_to(cast, EventState.EVALUATED)
    assert event.due_at is not None and event.dispatched_at is not None and event.due_at > event.dispatched_at
    assert event.handler == cast["handler"] and event.verifier == cast["supervision"] and event.satisfaction == 5
    rows = list(event.timeline.values_list("action", "from_state", "to_state"))
    assert [r[0] for r in rows] == ["report", "accept", "dispatch", "sign", "handle", "feedback", "verify", "close",
                                    "evaluate"]
    assert rows[2][1:] == ("accepted", "dispatched") and event.version == 9


def test_void_needs_reason(cast):
    event = report(cast)
    with pytest.raises(DomainError) as err:
        act(event, "void", cast["command"])
    assert err.value.field == "note"
    event = act(event, "void", cast["command"], note="重复上报")
    assert event.state == EventState.VOIDED
    with pytest.raises(DomainError) as err:
        act(event, "accept", cast["command"])
    assert err.value.code == "invalid_transition"


@pytest.mark.parametrize("state", [EventState.REPORTED, EventState.ACCEPTED, EventState.DISPATCHED,
                                   EventState.SIGNED, EventState.HANDLED, EventState.FED_BACK, EventState.VERIFIED,
                                   EventState.CLOSED, EventState.EVALUATED])
def test_every_forbidden_transition(cast, state):
    event = run_to(cast, state)
    for name, transition in workflow.TRANSITIONS.items():
        if state in transition.sources:
            continue
        with pytest.raises(DomainError) as err:
            act(event, name, cast["command"], note="x", department=cast["department"].pk, satisfaction=3)
        assert err.value.code == "invalid_transition" and err.value.status_code == 400, name
    event.refresh_from_db()
    assert event.state == state


def test_wrong_actors(cast):
    event = report(cast)
    for who in ("worker", "handler", "supervision"):
        with pytest.raises(DomainError) as err:
            act(event, "accept", cast[who])
        assert err.value.status_code == 403
    event = run_to(cast, EventState.DISPATCHED)
    with pytest.raises(DomainError) as err:  # a handler of another department
        act(event, "sign", cast["outsider"])
    assert err.value.status_code == 403 and "department" in err.value.message
    with pytest.raises(DomainError):
        act(event, "sign", cast["command"])
    other_command = make_user("command", COMMUNITY_B)
    accepted = report(cast)
    with pytest.raises(Http404):
        act(accepted, "accept", other_command)


def test_dispatch_needs_a_functional_department(cast):
    event = act(report(cast), "accept", cast["command"])
    centre = Department.objects.create(name="指挥中心", code="T-ZH", area_code="370103", kind=DepartmentKind.COMMAND)
    for department in (None, 999999, centre.pk):
        with pytest.raises(DomainError) as err:
            act(event, "dispatch", cast["command"], department=department)
        assert err.value.field == "department"


def test_return_goes_back_to_dispatcher(cast):
    event = run_to(cast, EventState.SIGNED)
    with pytest.raises(DomainError):
        act(event, "return", cast["handler"])
    event = act(event, "return", cast["handler"], note="不属本部门职责")
    assert event.state == EventState.ACCEPTED and event.department is None and event.dispatcher == cast["command"]
    assert event.timeline.last().note == "不属本部门职责"


def test_rework_and_verifier_is_never_handler(cast):
    event = run_to(cast, EventState.FED_BACK)
    event = act(event, "rework", cast["supervision"], note="未清理干净")
    assert event.state == EventState.DISPATCHED and event.rework_count == 1
    for step in ("sign", "handle", "feedback"):
        event = act(event, step, cast["handler"])
    # a user who both handles for the department and verifies may not verify their own handling
    cast["handler"].assignments.create(area_code="370103", role=cast["supervision"].assignments.first().role)
    cast["handler"]._scope_cache = {}
    with pytest.raises(DomainError) as err:
        act(event, "verify", cast["handler"])
    assert err.value.status_code == 403 and "verifier" in err.value.message
    event = act(event, "verify", cast["supervision"])
    assert event.verifier != event.handler


def test_stale_version_conflicts(cast):
    event = report(cast)
    version = event.version
    do_act(event, "accept", actor=cast["command"], version=version)
    with pytest.raises(VersionConflict) as err:
        do_act(event, "void", actor=cast["command"], version=version, note="x")
    assert err.value.status_code == 409
    assert Event.objects.get(pk=event.pk).state == EventState.ACCEPTED


def test_urge_shortens_the_limit(cast):
    event = run_to(cast, EventState.DISPATCHED)
    due = event.due_at
    event = act(event, "urge", cast["command"])
    assert event.urgency == "urgent" and event.state == EventState.DISPATCHED and event.due_at < due


def test_self_close(cast):
    allowed = report(cast, code="0102")  # 暴露垃圾 allows self-handling
    event = act(allowed, "self_close", cast["worker"], note="已清理")
    assert event.state == EventState.CLOSED and event.handler == cast["worker"]
    with pytest.raises(DomainError) as err:
        act(report(cast), "self_close", cast["worker"])  # 私搭乱建 does not
    assert err.value.status_code == 403
    colleague = make_user("grid_worker", COMMUNITY_A)
    with pytest.raises(DomainError):
        act(report(cast, code="0102"), "self_close", colleague)
