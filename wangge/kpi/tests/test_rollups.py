"""The rollups stay right on every write path: the incremental counters (the trigger) equal a set-based rebuild
from the raw events after a mixed sequence of actions done through wangge.cases.services, bulk updates, raw SQL,
a multi-row insert and a delete; the working-time function agrees with cases.calendar; the repeat rule's edges."""

import importlib
import random
from datetime import datetime, timedelta

import pytest
from django.contrib.gis.geos import Point
from django.db import connection

from wangge.cases import calendar
from wangge.cases.clocks import evaluate_clocks
from wangge.cases.models import Event, RoutingRule
from wangge.cases.services import do_report_event
from wangge.core.errors import DomainError
from wangge.core.testing import make_superuser, make_user
from wangge.kpi import rollups, services
from wangge.kpi.models import KpiParameters, LateAcceptance, RepeatEvent, Rollup

from .conftest import SHANGHAI, act, category, report
from .scenario import build

pytestmark = pytest.mark.django_db


def test_the_latest_migration_installs_the_current_sql():
    """The trigger migrations hold frozen copies of rollups.install_sql(): a change there needs a new migration."""
    from pathlib import Path

    folder = Path(rollups.__file__).parent / "migrations"
    modules = [importlib.import_module(f"wangge.kpi.migrations.{path.stem}") for path in sorted(folder.glob("0*.py"))]
    latest = [module for module in modules if hasattr(module, "INSTALL")][-1]
    assert latest.INSTALL == rollups.install_sql()
    assert importlib.import_module("wangge.kpi.migrations.0002_rollup_triggers").UNINSTALL == rollups.UNINSTALL_SQL
    assert [Rollup._meta.db_table, LateAcceptance._meta.db_table, RepeatEvent._meta.db_table,
            KpiParameters._meta.db_table, Event._meta.db_table] == [rollups.ROLLUP, rollups.LATE, rollups.REPEAT,
                                                                    rollups.PARAMETERS, rollups.EVENTS]


def test_incremental_equals_rebuilt_after_a_mixed_sequence(cast, clock):
    events = build(cast, clock)  # report, accept, dispatch, return, handle, rework, extension, close, evaluate, void,
    assert rollups.differences() == []  # self_close, the clock job
    c, h, sup = cast["command"], cast["handler"], cast["supervision"]
    clock.at("2025-03-06 09:00")
    e6 = act(events["E6"], "accept", c)  # accepted three days late
    act(e6, "urge", c)
    act(e6, "dispatch", c, department=cast["other_department"].pk)
    act(e6, "return", cast["other_handler"], note="非本部门职责")
    clock.at("2025-03-06 10:00")
    act(e6, "dispatch", c, department=cast["department"].pk)
    act(e6, "sign", h)
    act(e6, "wait_citizen", h, note="约定上门时间")
    clock.at("2025-03-07 10:00")
    act(e6, "resume", h)
    act(e6, "request_extension", h, note="需协调", amount=1, unit="days")
    act(e6, "reject_extension", c, note="不予延期")
    clock.at("2025-03-10 10:00")
    evaluate_clocks(clock.now)
    act(events["E3"], "handle", h)
    act(events["E3"], "feedback", h)
    act(events["E3"], "verify", sup)
    act(events["E3"], "close", sup)
    act(events["E9"], "void", c, note="重复上报")
    assert rollups.differences() == []
    # A rule for the emergency path (accepted and dispatched at once by the service).
    RoutingRule.objects.create(category=category("0501"), area_code="370103", role="emergency",
                               department=cast["department"])
    clock.at("2025-03-10 11:00")
    emergency = do_report_event(actor=cast["worker"], location=cast["points"][3], description="路面塌陷",
                                category=category("0501").pk, emergency=True)
    assert emergency.state == "dispatched"
    assert rollups.differences() == []


def test_bulk_and_raw_sql_writes_keep_the_rollups(cast, clock):
    events = build(cast, clock)
    # A queryset update (many rows, one statement), a raw UPDATE, a multi-row INSERT … SELECT and a delete.
    Event.objects.filter(state="dispatched").update(clock_level="overdue")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE cases_event SET satisfaction = 1 WHERE state = 'evaluated'")
        cursor.execute("UPDATE cases_event SET accepted_at = created_at + interval '10 minutes' "
                       "WHERE accepted_at IS NOT NULL")
        cursor.execute("""
            INSERT INTO cases_event (case_number, district_code, grid_code, source, location, address, description,
                urgency, emergency, state, version, rework_count, satisfaction, dispatched_at, due_at, closed_at,
                created_at, updated_at, category_id, department_id, reporter_id, handler_id, clock_level,
                extension_count, accepted_at, handled_at, holder_code, return_count)
            SELECT 'X-' || case_number, district_code, grid_code, source, location, address, description, urgency,
                emergency, state, version, rework_count, satisfaction, dispatched_at, due_at, closed_at,
                created_at + interval '1 day', updated_at, category_id, department_id, reporter_id, handler_id,
                clock_level, extension_count, accepted_at + interval '2 days', handled_at, holder_code, return_count
            FROM cases_event""")
    assert Event.objects.count() == 20
    events["E7"].timeline.all().delete()
    events["E7"].delete()
    Event.objects.filter(case_number__startswith="X-").update(grid_code=cast["grid_b"].code)  # a reassignment
    assert rollups.differences() == []
    grid_b = Rollup.objects.get(dimension=0, grid_code=cast["grid_b"].code, month="2025-03-01")
    assert grid_b.reported == 1 + 8  # E8 and the copies of E1–E8 (those of E9 and E10 fall in April)


def test_working_seconds_agree_with_the_calendar(district):
    """kpi_working_seconds (SQL, for the trigger) and cases.calendar.working_timedelta on random spans around the
    2025 holidays (清明 4–6 April, Labour Day 1–5 May with the make-up Sunday 27 April)."""
    rng = random.Random(4)
    start = datetime(2025, 3, 28, tzinfo=SHANGHAI)
    pairs = []
    for _ in range(200):
        a = start + timedelta(minutes=rng.randrange(0, 45 * 24 * 60))
        pairs.append((a, a + timedelta(minutes=rng.choice([5, 90, 400, 1500, 4000, 12000]))))
    spans = ",".join(calendar.working_hours_text())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT kpi_working_seconds(a, b, NULL, "
            "(SELECT array_agg(extract(epoch FROM split_part(s, '-', 1)::time)::int ORDER BY n) "
            " FROM unnest(string_to_array(%s, ',')) WITH ORDINALITY t(s, n)), "
            "(SELECT array_agg(extract(epoch FROM split_part(s, '-', 2)::time)::int ORDER BY n) "
            " FROM unnest(string_to_array(%s, ',')) WITH ORDINALITY t(s, n)), 'Asia/Shanghai') "
            "FROM unnest(%s::timestamptz[], %s::timestamptz[]) AS p(a, b)",
            [spans, spans, [a for a, _b in pairs], [b for _a, b in pairs]])
        ours = [row[0] for row in cursor.fetchall()]
    for (a, b), seconds in zip(pairs, ours, strict=True):
        assert seconds == pytest.approx(calendar.working_timedelta(a, b).total_seconds()), (a, b)
    assert calendar.working_timedelta(datetime(2025, 4, 3, 16, 30, tzinfo=SHANGHAI),
                                      datetime(2025, 4, 7, 9, 0, tzinfo=SHANGHAI)) == timedelta(hours=1.5)


def test_accepted_after_a_holiday_is_on_time(cast, clock):
    """Reported Thursday 16:30 before 清明, accepted Monday 09:00: 1.5 working hours, four days of wall time."""
    clock.at("2025-04-03 16:30")
    event = report(cast, cast["points"][0])
    clock.at("2025-04-07 09:00")
    act(event, "accept", cast["command"])
    assert not LateAcceptance.objects.exists()
    row = Rollup.objects.get(dimension=0, month="2025-04-01")
    assert (row.accepted, row.accepted_on_time, row.accept_seconds) == (1, 1, 88 * 3600 + 1800)


def test_repeat_edges(cast, clock):
    """Same category within 50 m and 90 days of an earlier report: a repeat; 60 m away, 91 days later, another
    category or a voided repeat: not counted."""
    grid = cast["grid_a"].geom
    p = max(cast["points"], key=lambda point: grid.boundary.distance(point))  # room for 60 m either way
    assert grid.boundary.distance(p) > 0.0009
    metres = 1 / (111320 * 0.8030)  # degrees of longitude per metre at 36.6° N (cos 36.6° ≈ 0.803)
    clock.at("2025-03-03 09:00")
    first = report(cast, p)
    clock.at("2025-03-04 09:00")
    near = report(cast, Point(p.x + 45 * metres, p.y, srid=4326))
    far = report(cast, Point(p.x - 60 * metres, p.y, srid=4326))
    other = report(cast, p, "0103")
    clock.at("2025-06-01 12:00")  # 90 days after `first` is 1 June 09:00, after `near` 2 June 09:00
    late = report(cast, p)
    clock.at("2025-06-02 10:00")
    voided = report(cast, p)
    act(voided, "void", cast["command"], note="重复上报")
    flagged = {r.event_id: r.earlier_id for r in RepeatEvent.objects.all()}
    assert flagged == {near.pk: first.pk, late.pk: near.pk, voided.pk: late.pk}
    assert far.pk not in flagged and other.pk not in flagged
    assert 44 < RepeatEvent.objects.get(event=near).distance_m < 46
    assert Rollup.objects.get(dimension=0, month="2025-03-01").repeats == 1
    assert Rollup.objects.get(dimension=0, month="2025-06-01").repeats == 1  # the voided one counts in no rate
    # Moving the first report away un-flags `near`; moving it back flags it again (the neighbours are re-decided).
    Event.objects.filter(pk=first.pk).update(location=Point(p.x, p.y + 0.01, srid=4326))
    assert near.pk not in set(RepeatEvent.objects.values_list("event_id", flat=True))
    assert Rollup.objects.get(dimension=0, month="2025-03-01").repeats == 0
    Event.objects.filter(pk=first.pk).update(location=p)
    assert Rollup.objects.get(dimension=0, month="2025-03-01").repeats == 1
    assert rollups.differences() == []


def test_changing_the_parameters_rebuilds(cast, clock):
    build(cast, clock)
    admin = make_superuser()
    with pytest.raises(DomainError) as refused:
        services.do_update_parameters(actor=make_user("leader", "370103"), accept_limit_hours=4)
    assert refused.value.status_code == 403
    with pytest.raises(DomainError) as bad:
        services.do_update_parameters(actor=admin, accept_limit_hours="x")
    assert bad.value.field == "accept_limit_hours"
    services.do_update_parameters(actor=admin, accept_limit_hours=4, repeat_radius_m=10)
    assert not LateAcceptance.objects.exists()  # E2's 3.5 working hours are within 4
    row = Rollup.objects.get(dimension=0, month="2025-03-01", grid_code=cast["grid_a"].code)
    assert (row.accepted_on_time, row.repeats) == (3, 0)  # E7 lies 18 m from E1: no longer a repeat
    assert rollups.differences() == []


def test_settings_drive_the_working_hours(settings, district):
    settings.WANGGE_WORKING_HOURS = ["09:00-12:00", "13:00-18:00"]
    assert services.sync_parameters() is True
    assert KpiParameters.objects.get().working_hours == "09:00-12:00,13:00-18:00"
    assert services.sync_parameters() is False


def test_a_backdated_report_makes_a_later_one_a_repeat(cast, clock):
    """A report entered after the fact (its report moment earlier than a report already held near it, as from an
    import) turns the later one into a repeat: the insert looks for later neighbours and decides them again."""
    grid = cast["grid_a"].geom
    p = max(cast["points"], key=lambda point: grid.boundary.distance(point))
    clock.at("2025-03-04 09:00")
    later = report(cast, p)
    assert not RepeatEvent.objects.exists()
    clock.at("2025-03-03 09:00")
    earlier = report(cast, p)
    assert {r.event_id: r.earlier_id for r in RepeatEvent.objects.all()} == {later.pk: earlier.pk}
    assert Rollup.objects.get(dimension=0, month="2025-03-01").repeats == 1
    assert rollups.differences() == []
