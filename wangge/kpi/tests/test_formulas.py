"""Every formula on the hand-computed scenario (scenario.py): the counters, rates, averages, score and rank of every
level, the month the events count in (Asia/Shanghai), a range of months, the flags."""

import pytest

from wangge.core.testing import COMMUNITY_A, COMMUNITY_B, make_superuser
from wangge.kpi import figures
from wangge.kpi.models import LateAcceptance, RepeatEvent

from .scenario import build

pytestmark = pytest.mark.django_db

ZERO = {name: 0 for name in ["reported", "valid", "accepted", "accepted_on_time", "accept_seconds", "dispatched",
                             "dispatched_accurate", "handle_due", "handled", "handled_on_time", "handle_seconds",
                             "overdue", "overdue_pending", "extended", "closable", "closed", "self_closed", "reworked",
                             "rated", "satisfied", "repeats"]}
# Grid G of community A in March, event by event (see scenario.py):
#   E1: reported valid accepted on-time(1800 s) dispatched accurate due handled on-time(3600 s) closable closed rated
#       satisfied
#   E2: reported valid accepted late(18000 s) dispatched (returned) due handled late(84600 s) overdue extended
#       closable closed reworked rated (3: not satisfied)
#   E3: reported valid accepted on-time(600 s) dispatched accurate due overdue overdue-pending closable
#   E4: reported (voided);  E5: reported valid closable closed self-closed rated satisfied;  E6: reported valid
#   E7: reported valid repeat;  E9: reported valid
GRID_MARCH = {**ZERO, "reported": 8, "valid": 7, "accepted": 3, "accepted_on_time": 2, "accept_seconds": 20400,
              "dispatched": 3, "dispatched_accurate": 2, "handle_due": 3, "handled": 2, "handled_on_time": 1,
              "handle_seconds": 88200, "overdue": 2, "overdue_pending": 1, "extended": 1, "closable": 4, "closed": 3,
              "self_closed": 1, "reworked": 1, "rated": 3, "satisfied": 2, "repeats": 1}
GRID_RATES = {"accept_on_time_rate": 2 / 3, "dispatch_accuracy_rate": 2 / 3, "handling_rate": 2 / 3,
              "on_time_rate": 1 / 3, "closure_rate": 3 / 4, "rework_rate": 1 / 4, "extension_rate": 1 / 3,
              "overdue_rate": 2 / 3, "overdue_pending_rate": 1 / 3, "satisfaction_rate": 2 / 3, "repeat_rate": 1 / 7}
# 日常处置率 2/3 × 30 + 按期处置率 1/3 × 20 + (1 − 1/4) × 20 + (1 − 1/3) × 20 + (1 − 1/3) × 10 = 61.67
GRID_SCORE = 61.67
# E8 in community B: accepted on time (600 s), dispatched to D2, nothing due yet.
B_MARCH = {**ZERO, "reported": 1, "valid": 1, "accepted": 1, "accepted_on_time": 1, "accept_seconds": 600,
           "dispatched": 1, "dispatched_accurate": 1, "closable": 1}
# Only 返工率 (0/1 → 1 − 0) and 延期率 (0/1 → 1 − 0) have denominators: 30 of 30 points, scaled to 100.
B_SCORE = 100.0


def both(a, b):
    return {name: a[name] + b[name] for name in ZERO}


@pytest.fixture
def events(cast, clock):
    return build(cast, clock)


@pytest.fixture
def root(district):
    return make_superuser()


def rows_of(user, level, **kwargs):
    return {row["code"]: row for row in figures.figures(user, level, **kwargs)["rows"]}


def counts(row):
    return {name: row[name] for name in ZERO}


def test_the_flags(events):
    late = LateAcceptance.objects.get()
    assert late.event_id == events["E2"].pk and late.working_hours == pytest.approx(3.5)
    repeats = {r.event_id: (r.earlier_id, r.distance_m) for r in RepeatEvent.objects.all()}
    assert set(repeats) == {events["E7"].pk, events["E10"].pk}
    assert repeats[events["E7"].pk][0] == events["E1"].pk and 15 < repeats[events["E7"].pk][1] < 21
    assert repeats[events["E10"].pk] == (events["E9"].pk, 0)


def test_grid_level(events, cast, root):
    rows = rows_of(root, "grid", period="2025-03")
    grid_a, grid_b = cast["grid_a"].code, cast["grid_b"].code
    assert set(rows) == {grid_a, grid_b}
    a = rows[grid_a]
    assert counts(a) == GRID_MARCH and a["voided"] == 1 and a["name"] == cast["grid_a"].name and a["id"] is None
    for name, value in GRID_RATES.items():
        assert a[name] == pytest.approx(value), name
    assert a["avg_accept_hours"] == round(20400 / 3 / 3600, 2) and a["avg_handle_hours"] == 12.25
    assert a["score"] == GRID_SCORE
    b = rows[grid_b]
    assert counts(b) == B_MARCH
    assert b["handling_rate"] is None and b["on_time_rate"] is None and b["satisfaction_rate"] is None
    assert b["accept_on_time_rate"] == 1 and b["closure_rate"] == 0 and b["avg_handle_hours"] is None
    assert b["score"] == B_SCORE
    assert (b["rank"], a["rank"]) == (1, 2)


def test_area_levels_sum_the_subtree(events, root):
    assert counts(rows_of(root, "community", period="2025-03")[COMMUNITY_A]) == GRID_MARCH
    assert counts(rows_of(root, "community", period="2025-03")[COMMUNITY_B]) == B_MARCH
    total = both(GRID_MARCH, B_MARCH)
    assert counts(rows_of(root, "subdistrict", period="2025-03")[COMMUNITY_A[:9]]) == total
    district = rows_of(root, "district", period="2025-03")["370103"]
    assert counts(district) == total and district["rank"] == 1
    assert district["handling_rate"] == pytest.approx(2 / 3) and district["closure_rate"] == pytest.approx(3 / 5)


def test_department_level(events, cast, root):
    rows = rows_of(root, "department", period="2025-03")
    d = rows["K-CG"]
    # E1, E2, E3 are assigned to D now (E2 came back to it after the return).
    assert counts(d) == {**ZERO, "reported": 3, "valid": 3, "accepted": 3, "accepted_on_time": 2,
                         "accept_seconds": 20400, "dispatched": 3, "dispatched_accurate": 2, "handle_due": 3,
                         "handled": 2, "handled_on_time": 1, "handle_seconds": 88200, "overdue": 2,
                         "overdue_pending": 1, "extended": 1, "closable": 3, "closed": 2, "reworked": 1, "rated": 2,
                         "satisfied": 1}
    assert d["id"] == cast["department"].pk and d["name"] == "城管局"
    assert counts(rows["K-ZJ"]) == B_MARCH


def test_worker_level(events, cast, root):
    rows = rows_of(root, "worker", period="2025-03")
    w = rows[str(cast["worker"].pk)]
    assert counts(w) == GRID_MARCH and w["name"] == "网格员甲" and w["id"] == cast["worker"].pk
    assert counts(rows[str(cast["other_worker"].pk)]) == B_MARCH


def test_month_boundary_in_local_time_and_ranges(events, cast, root):
    """E9 (23:30 on 31 March, local) counts in March; E10 (00:30 on 1 April, local; still March in UTC) in April."""
    april = rows_of(root, "grid", period="2025-04")
    assert set(april) == {cast["grid_a"].code}
    assert counts(april[cast["grid_a"].code]) == {**ZERO, "reported": 1, "valid": 1, "repeats": 1}
    both_months = rows_of(root, "grid", period="2025-03", period_to="2025-04")[cast["grid_a"].code]
    assert both_months["reported"] == 9 and both_months["repeats"] == 2 and both_months["repeat_rate"] == 2 / 8
    assert rows_of(root, "grid", period="2025-02") == {}


def test_area_filter(events, cast, root):
    rows = rows_of(root, "grid", period="2025-03", area=COMMUNITY_B)
    assert set(rows) == {cast["grid_b"].code}
    departments = rows_of(root, "department", period="2025-03", area=COMMUNITY_A)
    assert set(departments) == {"K-CG"}


def test_red_black_lists(events, root):
    result = figures.red_black(root, "grid", period="2025-03")
    assert result["min_reports"] == 5
    assert [row["score"] for row in result["red"]] == [GRID_SCORE] and result["black"] == []  # B has 1 valid report
    from wangge.kpi.models import KpiScheme

    KpiScheme.objects.update(min_reports=1)
    result = figures.red_black(root, "grid", period="2025-03")
    assert [row["score"] for row in result["red"]] == [B_SCORE, GRID_SCORE] and result["black"] == []
