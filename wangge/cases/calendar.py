"""Working-time arithmetic on the work calendar (DOMAIN.md §4).

A working day is Monday–Friday unless the calendar lists it as a public holiday, and a Saturday or Sunday the
calendar lists as a make-up working day (调休上班). Working time runs only inside the working-hour spans of a
working day (settings.WANGGE_WORKING_HOURS, local time in settings.TIME_ZONE — Asia/Shanghai has no daylight saving).

- A limit in working hours ends when that much time inside the spans has passed after the start.
- A limit of N working days ends at the close of the Nth working day after the start day.
- Elapsed fractions leave out paused intervals (an approved extension, waiting for the citizen).

Each year's listed days are read once into memory (one query a year) and the cache is cleared on every calendar
edit: at once in this process, and in other processes (the job worker) within CALENDAR_RECHECK_SECONDS through a
version stamp in the shared Django cache (wangge.core.refcache).
"""

from datetime import datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from wangge.core.refcache import ReferenceCache

HOURS, DAYS = "hours", "days"
UNITS = (HOURS, DAYS)
HOLIDAY, MAKEUP_WORKDAY = "holiday", "makeup_workday"
DEFAULT_WORKING_HOURS = ("08:30-12:00", "13:30-17:30")
DEFAULT_WARNING_FRACTION = 0.7
CALENDAR_RECHECK_SECONDS = 10
MAX_SPAN_DAYS = 366 * 30  # no limit reaches further; guards the day walk against absurd amounts


# ---- Working hours ---------------------------------------------------------------------------------------------

def parse_working_hours(spec):
    """["08:30-12:00", "13:30-17:30"] → ((time(8, 30), time(12, 0)), (time(13, 30), time(17, 30))).

    Spans must be well-formed, each start before its end, in order and not overlapping; ValueError otherwise."""
    spans = []
    for raw in spec:
        try:
            start_text, end_text = str(raw).strip().split("-")
            start, end = time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip())
        except ValueError as exc:
            raise ValueError(f"working-hour span {raw!r} is not HH:MM-HH:MM") from exc
        if start >= end:
            raise ValueError(f"working-hour span {raw!r} ends before it starts")
        if spans and start < spans[-1][1]:
            raise ValueError(f"working-hour span {raw!r} overlaps or precedes the span before it")
        spans.append((start, end))
    if not spans:
        raise ValueError("no working-hour spans")
    return tuple(spans)


@lru_cache(maxsize=8)
def _spans_of(spec):
    try:
        return parse_working_hours(spec)
    except ValueError as exc:
        raise ImproperlyConfigured(f"WANGGE_WORKING_HOURS: {exc}") from exc


def working_spans():
    return _spans_of(tuple(getattr(settings, "WANGGE_WORKING_HOURS", DEFAULT_WORKING_HOURS)))


def working_hours_text():
    return [f"{start:%H:%M}-{end:%H:%M}" for start, end in working_spans()]


def _seconds(t):
    return t.hour * 3600 + t.minute * 60 + t.second


def working_day_length():
    """The working time of one full working day (7.5 hours by default)."""
    return timedelta(seconds=sum(_seconds(end) - _seconds(start) for start, end in working_spans()))


@lru_cache(maxsize=1)
def _zone(name):
    return ZoneInfo(name)


def zone():
    return _zone(settings.TIME_ZONE)


# ---- The calendar cache ----------------------------------------------------------------------------------------

# {year: {date: kind}}, each year read once when first asked for.
_listed_by_year = ReferenceCache("cases:calendar", dict, CALENDAR_RECHECK_SECONDS)


def listed_days(year):
    """{date: kind} of the days `year` lists (holidays and make-up working days); {} for a year not loaded."""
    years = _listed_by_year.get()
    days = years.get(year)
    if days is None:
        from .models import CalendarDay

        days = dict(CalendarDay.objects.filter(year=year).values_list("date", "kind"))
        years[year] = days
    return days


def clear_cache():
    """Forgets the cached years in this process only (tests use it after a rolled-back edit)."""
    _listed_by_year.clear_here()


def invalidate():
    """After a calendar edit: forget the cached years here, and tell other processes through the shared cache."""
    _listed_by_year.invalidate()


def on_calendar_change(**kwargs):
    _listed_by_year.on_change(**kwargs)


# ---- Days --------------------------------------------------------------------------------------------------------

def is_working_day(day):
    """Monday–Friday unless listed as a holiday; Saturday or Sunday only when listed as a make-up working day."""
    if isinstance(day, datetime):
        day = day.astimezone(zone()).date() if day.tzinfo else day.date()
    kind = listed_days(day.year).get(day)
    if kind == HOLIDAY:
        return False
    if kind == MAKEUP_WORKDAY:
        return True
    return day.weekday() < 5


def _windows(day):
    """The working spans of `day` as aware datetimes; empty for a day off."""
    if not is_working_day(day):
        return ()
    tz = zone()
    return tuple((datetime.combine(day, start, tzinfo=tz), datetime.combine(day, end, tzinfo=tz))
                 for start, end in working_spans())


def close_of(day):
    """The end of the last working span of `day`."""
    return datetime.combine(day, working_spans()[-1][1], tzinfo=zone())


def _local(moment, name="start"):
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")
    return moment.astimezone(zone())


# ---- Arithmetic --------------------------------------------------------------------------------------------------

def _amount_delta(amount):
    if isinstance(amount, timedelta):
        return amount
    if isinstance(amount, bool) or not isinstance(amount, int | float | Decimal):
        raise ValueError("amount must be a number")
    return timedelta(hours=float(amount))


def add_working_time(start, amount, unit=HOURS):
    """The due moment of a limit of `amount` working hours (or a timedelta of working time) or `amount` whole
    working days counted from `start` (an aware datetime). The result is in local time."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}")
    local = _local(start)
    if unit == DAYS:
        if isinstance(amount, bool) or int(amount) != amount or amount < 0:
            raise ValueError("a limit in working days must be a whole number, 0 or more")
        count, day = int(amount), local.date()
        if count == 0:
            return local
        if count > MAX_SPAN_DAYS:
            raise ValueError("the limit is too long")
        while count:
            day += timedelta(days=1)
            if is_working_day(day):
                count -= 1
        return close_of(day)

    remaining = _amount_delta(amount)
    if remaining < timedelta(0):
        raise ValueError("amount must be 0 or more")
    if remaining == timedelta(0):
        return local
    day = local.date()
    for _ in range(MAX_SPAN_DAYS):
        for window_start, window_end in _windows(day):
            window_start = max(window_start, local)
            if window_start >= window_end:
                continue
            if remaining <= window_end - window_start:
                return window_start + remaining
            remaining -= window_end - window_start
        day += timedelta(days=1)
    raise ValueError("the limit is too long")


def working_timedelta(a, b):
    """Working time between two aware datetimes (negative when b is before a)."""
    a, b = _local(a, "a"), _local(b, "b")
    if b < a:
        return -working_timedelta(b, a)
    first, last = a.date(), b.date()
    total = timedelta(0)
    for day in (first, last) if first != last else (first,):
        for window_start, window_end in _windows(day):
            lo, hi = max(window_start, a), min(window_end, b)
            if hi > lo:
                total += hi - lo
    # Whole days in between: a count of working days, no datetimes built.
    full_days, day = 0, first + timedelta(days=1)
    while day < last:
        full_days += is_working_day(day)
        day += timedelta(days=1)
    return total + full_days * working_day_length()


def working_time_between(a, b, unit=HOURS):
    """Working time from `a` to `b` in hours, or in working days (a working day's worth of working time = 1)."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}")
    delta = working_timedelta(a, b)
    if unit == DAYS:
        return delta / working_day_length()
    return delta / timedelta(hours=1)


def _merged(intervals, lower, upper):
    """Paused intervals clipped to [lower, upper], sorted and merged; an open interval (end None) runs to upper."""
    clipped = []
    for begin, end in intervals:
        begin, end = max(_local(begin, "pause start"), lower), min(_local(end, "pause end") if end else upper, upper)
        if end > begin:
            clipped.append((begin, end))
    clipped.sort()
    merged = []
    for begin, end in clipped:
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    return merged


def elapsed_fraction(start, due, now, paused_intervals=()):
    """How much of the limit from `start` to `due` has been used by `now`, in working time, leaving out the
    paused intervals [(begin, end), …] (end None: still paused). 0 at the start, 1 at the due moment, more once
    overdue. A limit with no working time in it counts as used up once `now` reaches `due`."""
    start, due, now = _local(start), _local(due, "due"), _local(now, "now")
    total = working_timedelta(start, due)
    if total <= timedelta(0):
        return 1.0 if now >= due else 0.0
    if now <= start:
        return 0.0
    elapsed = working_timedelta(start, now)
    for begin, end in _merged(paused_intervals, start, now):
        elapsed -= working_timedelta(begin, end)
    return max(elapsed, timedelta(0)) / total


# ---- Warning and cards -------------------------------------------------------------------------------------------

ON_TIME, WARNING, OVERDUE, RED = "on_time", "warning", "overdue", "red"


def warning_fraction():
    return float(getattr(settings, "WANGGE_CLOCK_WARNING_FRACTION", DEFAULT_WARNING_FRACTION))


def clock_level(fraction, *, warning_at=None, red_at=None):
    """on_time below the warning threshold (70 % by default); warning from it up to the limit; overdue past the
    limit (a yellow card); red past `red_at` (the red-card limit as a fraction of the limit, e.g. 2.0)."""
    warning_at = warning_fraction() if warning_at is None else warning_at
    if red_at is not None and fraction > red_at:
        return RED
    if fraction > 1:
        return OVERDUE
    if fraction >= warning_at:
        return WARNING
    return ON_TIME


def warning_moment(start, due, *, warning_at=None):
    """When the warning fires if the clock is not paused: `warning_at` of the working time from start to due."""
    warning_at = warning_fraction() if warning_at is None else warning_at
    return add_working_time(start, working_timedelta(start, due) * warning_at)


def missing_years(a, b):
    """The years from a to b (dates or datetimes) that have no calendar loaded: clocks in them follow the weekly
    rule only."""
    first = a.astimezone(zone()).year if isinstance(a, datetime) else a.year
    last = b.astimezone(zone()).year if isinstance(b, datetime) else b.year
    return [year for year in range(first, last + 1) if not listed_days(year)]
