"""Clocks and cards on a hand-built calendar case: a 2-working-day limit dispatched Monday 2030-06-03 09:00 with a
holiday on Tuesday 06-04 (working hours 08:30–12:00, 13:30–17:30, 7.5 h a day).

Due: Thursday 06-06 17:30. Limit: Mon 7 h + Wed 7.5 h + Thu 7.5 h = 22 h. Warning at 0.7 × 22 = 15.4 h, i.e.
Thursday 09:24; Thursday 09:00 is 15 h (on time), 10:00 is 16 h (warning). Friday 09:00 is 22.5 h (yellow card).
Red past 2 × 22 = 44 h: Tuesday 06-11 16:00 is 43 h (still yellow), Wednesday 06-12 09:00 is 45 h (red).
"""

from datetime import date, datetime

import pytest

from wangge.cases import calendar, jobs
from wangge.cases.clocks import Ruler, clock_level_of, evaluate_clocks
from wangge.cases.models import CalendarDay, Event, EventState, EventTimeline, Notification
from wangge.cases.tests.test_workflow import cast, run_to  # noqa: F401 (fixture)
from wangge.core.testing import COMMUNITY_A, COMMUNITY_B, make_user
from wangge.outbox.models import OutboxMessage
from wangge.workforce.models import GridPost

pytestmark = pytest.mark.django_db


def local(*args):
    return datetime(*args, tzinfo=calendar.zone())


START = local(2030, 6, 3, 9, 0)


@pytest.fixture
def clocked(cast):  # noqa: F811
    CalendarDay.objects.create(date=date(2030, 6, 4), kind="holiday", name="test holiday")
    calendar.invalidate()
    due = calendar.add_working_time(START, 2, "days")
    assert due == local(2030, 6, 6, 17, 30)
    event = run_to(cast, EventState.SIGNED)
    Event.objects.filter(pk=event.pk).update(dispatched_at=START, due_at=due)
    event.category.red_factor = 2
    event.category.save()
    chief = make_user("grid_chief", cast["grid_code"])
    GridPost.objects.create(kind="grid_chief", grid_code=cast["grid_code"], holder_user=chief, holder_name="网格长",
                            started_on=date(2024, 1, 1))
    people = {"chief": chief, "community": make_user("community_staff", COMMUNITY_A),
              "subdistrict": make_user("subdistrict_staff", COMMUNITY_A[:9]),
              "elsewhere": make_user("community_staff", COMMUNITY_B), "command": cast["command"],
              "handler": cast["handler"], "outsider": cast["outsider"]}
    event.refresh_from_db()
    return event, people


def recipients(event, kind):
    return set(Notification.objects.filter(event=event, kind=kind).values_list("recipient_id", flat=True))


@pytest.mark.parametrize("now, level", [
    (local(2030, 6, 3, 9, 0), "on_time"), (local(2030, 6, 6, 9, 0), "on_time"), (local(2030, 6, 6, 10, 0), "warning"),
    (local(2030, 6, 6, 17, 30), "warning"), (local(2030, 6, 7, 9, 0), "overdue"),
    (local(2030, 6, 11, 16, 0), "overdue"), (local(2030, 6, 12, 9, 0), "red")])
def test_levels_by_hand(clocked, now, level):
    event, _people = clocked
    assert clock_level_of(event, now) == level
    ruler = Ruler()
    ruler.seconds(local(2031, 1, 1))  # the table grows backwards from a later day: values stay comparable
    assert ruler.fraction(event.dispatched_at, event.due_at, now) == pytest.approx(
        calendar.elapsed_fraction(event.dispatched_at, event.due_at, now))


def test_warning_yellow_red_notify_up_the_chain_once(clocked):
    event, people = clocked
    assert evaluate_clocks(local(2030, 6, 6, 9, 0)) == {}
    assert evaluate_clocks(local(2030, 6, 6, 10, 0)) == {"warning": 1}
    assert evaluate_clocks(local(2030, 6, 6, 10, 0)) == {}  # idempotent
    event.refresh_from_db()
    assert event.clock_level == "warning" and event.carded_at == local(2030, 6, 6, 10, 0)
    ids = {name: user.pk for name, user in people.items()}
    # up the chain by level, and always the assigned department's members (not another department's)
    assert recipients(event, "warning") == {ids["chief"], ids["community"], ids["handler"]}
    assert evaluate_clocks(local(2030, 6, 7, 9, 0)) == {"overdue": 1}
    assert recipients(event, "yellow_card") == {ids["chief"], ids["community"], ids["subdistrict"], ids["handler"]}
    assert evaluate_clocks(local(2030, 6, 11, 16, 0)) == {}
    assert evaluate_clocks(local(2030, 6, 12, 9, 0)) == {"red": 1}
    assert evaluate_clocks(local(2030, 6, 13, 9, 0)) == {}
    assert recipients(event, "red_card") == {ids["chief"], ids["community"], ids["subdistrict"], ids["command"],
                                             ids["handler"]}
    assert Notification.objects.filter(event=event, kind__in=["warning", "yellow_card", "red_card"]).count() == 12
    assert OutboxMessage.objects.filter(notification__event=event,  # one each, through the capture channel
                                        notification__kind__in=["warning", "yellow_card", "red_card"]).count() == 12
    assert not Notification.objects.filter(recipient=people["elsewhere"]).exists()
    rows = list(EventTimeline.objects.filter(event=event, actor__isnull=True).values_list("action", flat=True))
    assert rows == ["clock_warning", "yellow_card", "red_card"]
    assert Notification.objects.filter(event=event, kind="red_card").first().body.startswith("Category 0101")


def test_a_card_is_queued_on_every_channel_each_recipient_can_be_reached_on(clocked, settings, monkeypatch):
    from wangge.outbox import services as outbox

    monkeypatch.setenv("TEST_SMS_KEY", "test-sms-key")
    settings.OUTBOX_CHANNELS = {"capture": {"class": "wangge.outbox.channels.CaptureChannel"},
                                "sms": {"class": "wangge.outbox.channels.SmsChannel", "url": "http://127.0.0.1:9/sms",
                                        "key_env": "TEST_SMS_KEY"}}
    event, people = clocked
    outbox.do_add_address(actor=people["chief"], channel="sms", address="13812345678")
    paused = outbox.do_add_address(actor=people["community"], channel="sms", address="13900001111")
    outbox.do_update_address(paused, actor=people["community"], active=False)
    assert evaluate_clocks(local(2030, 6, 6, 10, 0)) == {"warning": 1}
    queued = set(OutboxMessage.objects.filter(notification__event=event).values_list(
        "notification__recipient_id", "recipient_id", "channel", "status"))
    chief, community, handler = (people[name].pk for name in ("chief", "community", "handler"))
    assert queued == {(chief, chief, "capture", "pending"), (chief, chief, "sms", "pending"),
                      (community, community, "capture", "pending"), (handler, handler, "capture", "pending")}


def test_level_never_lowers_and_jumps_straight_to_red(clocked):
    event, people = clocked
    assert evaluate_clocks(local(2030, 6, 12, 9, 0)) == {"red": 1}
    assert evaluate_clocks(local(2030, 6, 3, 10, 0)) == {}
    event.refresh_from_db()
    assert event.clock_level == "red"
    assert recipients(event, "red_card") == {people[name].pk for name in ("chief", "community", "subdistrict",
                                                                           "command", "handler")}
    assert not recipients(event, "warning")


def test_closed_and_undispatched_events_are_ignored(clocked, cast):  # noqa: F811
    event, _people = clocked
    Event.objects.filter(pk=event.pk).update(state=EventState.CLOSED)
    assert evaluate_clocks(local(2030, 6, 12, 9, 0)) == {}


def test_periodic_task_runs_inline(clocked):
    event, _people = clocked
    assert jobs.evaluate_clocks(timestamp=0) == {}  # today is before the 2030 dispatch
    Event.objects.filter(pk=event.pk).update(dispatched_at=local(2020, 6, 1, 9, 0), due_at=local(2020, 6, 3, 17, 30))
    assert jobs.evaluate_clocks(timestamp=0) == {"red": 1}


def test_waiting_for_the_citizen_stops_the_clock(clocked):
    from unittest import mock

    from wangge.cases.services import do_act
    from wangge.core.errors import DomainError

    event, _people = clocked
    handler = event.department.memberships.first().user

    def act_at(moment, action, **kwargs):
        event.refresh_from_db()
        with mock.patch("django.utils.timezone.now", return_value=moment):
            return do_act(event, action, actor=handler, version=event.version, **kwargs)

    due = event.due_at  # 2030-06-06 17:30, two working days after Monday 09:00 (Tuesday is a holiday)
    event = act_at(local(2030, 6, 3, 10, 0), "wait_citizen", note="约定周四上门")
    assert event.paused_at == local(2030, 6, 3, 10, 0)
    with pytest.raises(DomainError) as err:  # nothing but resume (and instruct, urge) while it waits
        act_at(local(2030, 6, 3, 11, 0), "handle")
    assert err.value.code == "invalid_transition"
    assert evaluate_clocks(now=local(2030, 6, 20, 9, 0)) == {}  # paused: no card however late
    event = act_at(local(2030, 6, 6, 10, 0), "resume")  # Thursday 10:00
    paused = calendar.working_timedelta(local(2030, 6, 3, 10, 0), local(2030, 6, 6, 10, 0))
    assert paused == 2 * calendar.working_day_length()  # Monday 10:00–17:30, Wednesday, Thursday 09:00–10:00
    assert event.paused_at is None and event.due_at == calendar.add_working_time(due, paused, calendar.HOURS)
    assert "Paused for" in event.timeline.last().note
    assert evaluate_clocks(now=local(2030, 6, 7, 9, 0)) == {}  # not yet overdue: the due moment moved
    with pytest.raises(DomainError):
        act_at(local(2030, 6, 7, 9, 0), "resume")


def test_the_clock_stops_when_the_department_feeds_back(cast):  # noqa: F811
    """The time limit is the department's: it runs from dispatch until its feedback (反馈). A case fed back on time
    and verified late is neither carded nor counted overdue against the department; a case handled but not yet fed
    back past its due moment is."""
    from wangge.kpi.models import Rollup

    fed_back = run_to(cast, EventState.FED_BACK)
    handled = run_to(cast, EventState.HANDLED)
    due = calendar.add_working_time(START, 2, "days")
    Event.objects.filter(pk__in=[fed_back.pk, handled.pk]).update(dispatched_at=START, due_at=due,
                                                                   handled_at=local(2030, 6, 5, 10, 0))
    assert evaluate_clocks(local(2030, 6, 20, 9, 0)) == {"red": 1}
    fed_back.refresh_from_db()
    handled.refresh_from_db()
    assert fed_back.clock_level == "on_time" and handled.clock_level == "red"
    department = Rollup.objects.filter(dimension=1, member_id=cast["department"].pk)
    assert sum(row.overdue for row in department) == 1
