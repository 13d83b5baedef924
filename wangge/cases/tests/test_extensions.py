"""Extensions (延期): the handler's department asks, the command centre approves (due_at moves) or rejects."""

from datetime import timedelta

import pytest
from django.utils import timezone

from wangge.cases import calendar, workflow
from wangge.cases.models import EventState, EventTimeline, Notification
from wangge.cases.tests.test_workflow import act, cast, run_to  # noqa: F401 (fixture)
from wangge.core.errors import DomainError

pytestmark = pytest.mark.django_db


def test_request_and_approve_moves_due(cast):  # noqa: F811
    event = run_to(cast, EventState.SIGNED)
    due = event.due_at
    event = act(event, "request_extension", cast["handler"], note="需协调产权单位", amount=2, unit="days")
    assert event.extension_due_at == calendar.add_working_time(due, 2, "days") and event.due_at == due
    assert event.state == EventState.SIGNED
    assert Notification.objects.filter(recipient=cast["command"], event=event, kind="extension").exists()
    with pytest.raises(DomainError) as err:  # one pending request at a time
        act(event, "request_extension", cast["handler"], note="again", amount=1)
    assert err.value.field == "action"
    event = act(event, "approve_extension", cast["command"])
    assert event.due_at == calendar.add_working_time(due, 2, "days")
    assert event.extension_due_at is None and event.extension_count == 1 and event.clock_level == "on_time"
    assert Notification.objects.filter(recipient=cast["handler"], event=event, kind="extension").exists()
    actions = list(EventTimeline.objects.filter(event=event).values_list("action", flat=True))
    assert actions[-2:] == ["request_extension", "approve_extension"]


def test_reject_needs_reason_and_keeps_due(cast):  # noqa: F811
    event = run_to(cast, EventState.DISPATCHED)
    due = event.due_at
    event = act(event, "request_extension", cast["handler"], note="雨天", new_due=due + timedelta(days=3))
    with pytest.raises(DomainError) as err:
        act(event, "reject_extension", cast["command"])
    assert err.value.field == "note"
    event = act(event, "reject_extension", cast["command"], note="不予延期")
    assert event.due_at == due and event.extension_due_at is None and event.extension_count == 0
    with pytest.raises(DomainError) as err:  # nothing pending any more
        act(event, "approve_extension", cast["command"])
    assert err.value.field == "action" and err.value.status_code == 400


def test_bad_extension_dates(cast):  # noqa: F811
    event = run_to(cast, EventState.SIGNED)
    for kwargs in ({"new_due": timezone.now() - timedelta(days=1)}, {"new_due": event.due_at},
                   {"new_due": "not a date"}, {}):
        with pytest.raises(DomainError) as err:
            act(event, "request_extension", cast["handler"], note="x", **kwargs)
        assert err.value.field == "new_due" and err.value.status_code == 400, kwargs
    for kwargs in ({"amount": -1}, {"amount": 0}, {"amount": "1.5", "unit": "days"}):
        with pytest.raises(DomainError) as err:
            act(event, "request_extension", cast["handler"], note="x", **kwargs)
        assert err.value.field == "amount", kwargs
    with pytest.raises(DomainError) as err:
        act(event, "request_extension", cast["handler"], amount=1)
    assert err.value.field == "note"
    event.refresh_from_db()
    assert event.extension_due_at is None


def test_forbidden_actors(cast):  # noqa: F811
    event = run_to(cast, EventState.SIGNED)
    for who in ("command", "outsider", "worker", "supervision"):
        with pytest.raises(DomainError) as err:
            act(event, "request_extension", cast[who], note="x", amount=1)
        assert err.value.status_code == 403, who
    event = act(event, "request_extension", cast["handler"], note="x", amount=1)
    for who in ("handler", "worker", "supervision"):
        with pytest.raises(DomainError) as err:
            act(event, "approve_extension", cast[who])
        assert err.value.status_code == 403, who
        with pytest.raises(DomainError) as err:
            act(event, "reject_extension", cast[who], note="no")
        assert err.value.status_code == 403, who


def test_extension_in_the_diagram_and_api(cast, client):  # noqa: F811
    diagram = workflow.mermaid()
    assert "signed --> signed: request_extension" in diagram and "approve_extension" in diagram
    assert "urge" not in diagram
    event = run_to(cast, EventState.SIGNED)
    client.force_login(cast["handler"])
    response = client.post(f"/api/v1/cases/events/{event.pk}/act/", {
        "action": "request_extension", "version": event.version, "note": "x",
        "new_due": (timezone.now() - timedelta(hours=1)).isoformat()}, content_type="application/json")
    assert response.status_code == 400 and "new_due" in response.json()["error"]["fields"]
