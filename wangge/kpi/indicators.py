"""The KPI indicators (DOMAIN.md §6; docs/kpis.md): what each event contributes to the counters, and the rates and
averages made of the counters. One list, read by the rollup trigger and the rebuild (as SQL, rollups.py), by the
API and the page (rates, averages, labels) and by the export (the Chinese headers).

Every counter is a per-event figure, decided from the event's own row and two stored per-event flags (kpi.models:
LateAcceptance, RepeatEvent); an event counts in the month it was reported (created_at, local time). The SQL below
reads the event as `e`, the late-acceptance flag as `{late}` and the repeat flag as `{repeat}` (both booleans).
"""

from dataclasses import dataclass

from django.utils.translation import pgettext_lazy

# Labels are in the "kpi" context: "closed" here (a count) and a state's "closed" elsewhere read differently.

HANDLED_STATES = "('handled', 'fed_back', 'verified', 'closed', 'evaluated')"
PENDING_STATES = "('dispatched', 'signed')"
CLOSED_STATES = "('closed', 'evaluated')"
OVERDUE_LEVELS = "('overdue', 'red')"

# Conditions used by several counters (SQL over `e`, with the flags as placeholders).
VALID = "e.state <> 'voided'"
ACCEPTED = f"(e.accepted_at IS NOT NULL AND {VALID})"
DISPATCHED = f"(e.dispatched_at IS NOT NULL AND {VALID})"
HANDLED = f"(e.dispatched_at IS NOT NULL AND e.handled_at IS NOT NULL AND e.state IN {HANDLED_STATES})"
OVERDUE_PENDING = f"(e.dispatched_at IS NOT NULL AND e.state IN {PENDING_STATES} AND e.clock_level IN {OVERDUE_LEVELS})"
HANDLE_DUE = f"({HANDLED} OR {OVERDUE_PENDING})"
CLOSABLE = f"({VALID} AND (e.accepted_at IS NOT NULL OR e.state IN {CLOSED_STATES}))"
RATED = f"(e.satisfaction IS NOT NULL AND {VALID})"


@dataclass(frozen=True)
class Counter:
    name: str
    label: object  # lazy gettext, English msgid
    zh: str  # the Chinese name (export headers)
    sql: str  # a condition (counted 1/0), or with sum=True an integer expression
    sum: bool = False


@dataclass(frozen=True)
class Rate:
    name: str
    label: object
    zh: str
    numerator: str
    denominator: str


@dataclass(frozen=True)
class Average:
    name: str
    label: object
    zh: str
    seconds: str  # the counter holding the summed seconds
    count: str  # the counter counting the events summed


COUNTERS = [
    Counter("reported", pgettext_lazy("kpi", "reported"), "上报数", "TRUE"),
    Counter("valid", pgettext_lazy("kpi", "valid reports"), "有效上报数", VALID),
    Counter("accepted", pgettext_lazy("kpi", "accepted"), "立案数", ACCEPTED),
    Counter("accepted_on_time", pgettext_lazy("kpi", "accepted on time"), "按时受理数",
            f"({ACCEPTED} AND NOT {{late}})"),
    Counter("accept_seconds", pgettext_lazy("kpi", "time to accept (seconds, summed)"), "受理用时合计（秒）",
            f"CASE WHEN {ACCEPTED} THEN greatest(0, floor(date_part('epoch', e.accepted_at - e.created_at))) "
            "ELSE 0 END", sum=True),
    Counter("dispatched", pgettext_lazy("kpi", "dispatched"), "派遣数", DISPATCHED),
    Counter("dispatched_accurate", pgettext_lazy("kpi", "dispatched, never returned"), "准确派遣数",
            f"({DISPATCHED} AND e.return_count = 0)"),
    Counter("handle_due", pgettext_lazy("kpi", "due for handling"), "应处置数", HANDLE_DUE),
    Counter("handled", pgettext_lazy("kpi", "handled"), "处置数", HANDLED),
    Counter("handled_on_time", pgettext_lazy("kpi", "handled on time"), "按期处置数",
            f"({HANDLED} AND e.due_at IS NOT NULL AND e.handled_at <= e.due_at)"),
    Counter("handle_seconds", pgettext_lazy("kpi", "time to handle (seconds, summed)"), "处置用时合计（秒）",
            f"CASE WHEN {HANDLED} THEN greatest(0, floor(date_part('epoch', e.handled_at - e.dispatched_at))) "
            "ELSE 0 END", sum=True),
    Counter("overdue", pgettext_lazy("kpi", "overdue"), "超期数",
            f"({HANDLE_DUE} AND (e.clock_level IN {OVERDUE_LEVELS} OR ({HANDLED} AND e.handled_at > e.due_at)))"),
    Counter("overdue_pending", pgettext_lazy("kpi", "overdue, not yet handled"), "超期待处置数", OVERDUE_PENDING),
    Counter("extended", pgettext_lazy("kpi", "extended"), "延期数", f"({DISPATCHED} AND e.extension_count > 0)"),
    Counter("closable", pgettext_lazy("kpi", "due to close"), "应结案数", CLOSABLE),
    Counter("closed", pgettext_lazy("kpi", "closed"), "结案数", f"e.state IN {CLOSED_STATES}"),
    Counter("self_closed", pgettext_lazy("kpi", "handled by the reporter"), "自行处置数",
            f"(e.state IN {CLOSED_STATES} AND e.dispatched_at IS NULL)"),
    Counter("reworked", pgettext_lazy("kpi", "reworked"), "返工数", f"({CLOSABLE} AND e.rework_count > 0)"),
    Counter("rated", pgettext_lazy("kpi", "rated"), "评价数", RATED),
    Counter("satisfied", pgettext_lazy("kpi", "satisfied (4 or 5)"), "满意数", f"({RATED} AND e.satisfaction >= 4)"),
    Counter("repeats", pgettext_lazy("kpi", "repeat events at one place"), "重复事件数", f"({VALID} AND {{repeat}})"),
]
COUNTER_NAMES = [c.name for c in COUNTERS]

RATES = [
    Rate("accept_on_time_rate", pgettext_lazy("kpi", "accepted on time"), "按时受理率", "accepted_on_time",
         "accepted"),
    Rate("dispatch_accuracy_rate", pgettext_lazy("kpi", "accurate dispatch"), "准确派遣率", "dispatched_accurate",
         "dispatched"),
    Rate("handling_rate", pgettext_lazy("kpi", "daily handling"), "日常处置率", "handled", "handle_due"),
    Rate("on_time_rate", pgettext_lazy("kpi", "handled on time"), "按期处置率", "handled_on_time", "handle_due"),
    Rate("closure_rate", pgettext_lazy("kpi", "closure"), "结案率", "closed", "closable"),
    Rate("rework_rate", pgettext_lazy("kpi", "rework"), "返工率", "reworked", "closable"),
    Rate("extension_rate", pgettext_lazy("kpi", "extension"), "延期率", "extended", "dispatched"),
    Rate("overdue_rate", pgettext_lazy("kpi", "overdue"), "超期率", "overdue", "handle_due"),
    Rate("overdue_pending_rate", pgettext_lazy("kpi", "overdue, not yet handled"), "超期待处置率", "overdue_pending",
         "handle_due"),
    Rate("satisfaction_rate", pgettext_lazy("kpi", "satisfaction"), "满意率", "satisfied", "rated"),
    Rate("repeat_rate", pgettext_lazy("kpi", "repeat events"), "重复事件率", "repeats", "valid"),
]
RATE_NAMES = [r.name for r in RATES]
RATE_BY_NAME = {r.name: r for r in RATES}

AVERAGES = [
    Average("avg_accept_hours", pgettext_lazy("kpi", "average time to accept (hours)"), "平均受理用时（小时）",
            "accept_seconds", "accepted"),
    Average("avg_handle_hours", pgettext_lazy("kpi", "average time to handle (hours)"), "平均处置用时（小时）",
            "handle_seconds", "handled"),
]


def rates_of(counts):
    """{rate: value in 0–1, or None when its denominator is 0} for one row of counters."""
    result = {}
    for rate in RATES:
        denominator = counts.get(rate.denominator) or 0
        result[rate.name] = (counts.get(rate.numerator) or 0) / denominator if denominator else None
    return result


def averages_of(counts):
    """{average: hours, or None when nothing was counted}."""
    result = {}
    for average in AVERAGES:
        count = counts.get(average.count) or 0
        result[average.name] = round((counts.get(average.seconds) or 0) / count / 3600, 2) if count else None
    return result


def counter_sql(counter, late, repeat):
    """The SQL integer one event contributes to `counter`, with the flags given as SQL booleans."""
    expression = counter.sql.replace("{late}", f"({late})").replace("{repeat}", f"({repeat})")
    if counter.sum:
        return f"({expression})::bigint"
    return f"(CASE WHEN {expression} THEN 1 ELSE 0 END)"
