"""Clocks and cards (issue 4 §4): warning at seven tenths of the limit (WANGGE_CLOCK_WARNING_FRACTION), a yellow
card once overdue, a red card past due + limit × (red_factor − 1); each rise writes a timeline row and notifies up
the chain. The level is only ever raised here; dispatch resets it and an approved extension recomputes it.

The limit runs from dispatch to `due_at` in working time on the work calendar (cases.calendar). Extensions move
`due_at` (the limit grows); no interval is paused, so the fraction is plain working time used / limit.

evaluate_clocks is set-based: one query reads the candidates, the fraction is computed against a per-run table of
cumulative working seconds per day (the same calendar, without a loop over days per event), and the rises are
written with one UPDATE per level, one COPY of timeline rows, one of notifications (plain tuples, no model
instances) and one INSERT … SELECT of their outbox messages (outbox.enqueue_ids).
"""

from collections import defaultdict
from datetime import UTC, datetime

from django.db import connection, transaction
from django.db.models import DateTimeField, F, Func
from django.utils import timezone
from django.utils.translation import gettext as _

from wangge.core.bulk import new_row_values
from wangge.outbox import services as outbox

from . import calendar, workflow
from .chain import GRID_CHIEF, chain_users
from .models import CLOCK_RANK, ClockLevel, Event, EventTimeline, Notification

TIMELINE_ACTION = {ClockLevel.WARNING: "clock_warning", ClockLevel.OVERDUE: "yellow_card", ClockLevel.RED: "red_card"}
NOTIFICATION_KIND = {ClockLevel.WARNING: Notification.Kind.WARNING, ClockLevel.OVERDUE: Notification.Kind.YELLOW_CARD,
                     ClockLevel.RED: Notification.Kind.RED_CARD}
# Who hears of a rise, by level (each level adds to the one below): grid → community → subdistrict → command centre.
CHAIN = {ClockLevel.WARNING: (GRID_CHIEF, "community_staff"),
         ClockLevel.OVERDUE: (GRID_CHIEF, "community_staff", "subdistrict_staff"),
         ClockLevel.RED: (GRID_CHIEF, "community_staff", "subdistrict_staff", "command")}


def level_for(fraction, red_factor, warning_at=None):
    return calendar.clock_level(fraction, red_at=float(red_factor), warning_at=warning_at)


def clock_level_of(event, now=None):
    """The level of one event's clock now (on_time when no clock runs), straight from cases.calendar."""
    if event.state not in workflow.CLOCK_STATES or event.due_at is None or event.dispatched_at is None:
        return ClockLevel.ON_TIME
    fraction = calendar.elapsed_fraction(event.dispatched_at, event.due_at, now or timezone.now())
    return level_for(fraction, event.category.red_factor)


class Ruler:
    """Working seconds from a reference day to any moment, from a table of cumulative working seconds per day built
    once per run with calendar.is_working_day and calendar.working_spans: W(b) − W(a) = working time from a to b."""

    def __init__(self):
        self.zone = calendar.zone()
        self.spans = [(s.hour * 3600 + s.minute * 60 + s.second, e.hour * 3600 + e.minute * 60 + e.second)
                      for s, e in calendar.working_spans()]
        self.first = None
        self.cumulative = []  # cumulative[i]: working seconds before day first + i
        self.working = []

    def _cover(self, ordinal):
        """Extends the table to hold `ordinal`. Values stay relative to the first day ever covered (days before it
        get negative values), so seconds() already handed out remain comparable."""
        day_length = sum(e - s for s, e in self.spans)
        if self.first is None:
            self.first, self.cumulative, self.working = ordinal, [0], []
        if ordinal < self.first:
            new_first = min(ordinal, self.first - 366)
            working = [calendar.is_working_day(datetime.fromordinal(o).date()) for o in range(new_first, self.first)]
            cumulative, running = [], self.cumulative[0]
            for works in reversed(working):
                running -= day_length if works else 0
                cumulative.append(running)
            self.cumulative = cumulative[::-1] + self.cumulative
            self.working = working + self.working
            self.first = new_first
        while ordinal >= self.first + len(self.working):
            day = datetime.fromordinal(self.first + len(self.working)).date()
            works = calendar.is_working_day(day)
            self.working.append(works)
            self.cumulative.append(self.cumulative[-1] + (day_length if works else 0))

    def seconds(self, moment):
        local = moment.astimezone(self.zone)
        ordinal = local.toordinal()
        if self.first is None or not self.first <= ordinal < self.first + len(self.working):
            self._cover(ordinal)
        index = ordinal - self.first
        total = self.cumulative[index]
        if self.working[index]:
            into = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
            for start, end in self.spans:
                if into > start:
                    total += min(into, end) - start
        return total

    def fraction(self, start, due, now, now_seconds=None):
        """calendar.elapsed_fraction(start, due, now) without pauses."""
        s, d = self.seconds(start), self.seconds(due)
        n = self.seconds(now) if now_seconds is None else now_seconds
        total = d - s
        if total <= 0:
            return 1.0 if now >= due else 0.0
        if now <= start:
            return 0.0
        return max(n - s, 0) / total


def _recipients(events):
    """{event id: {user ids}} for each (event id, grid code, level, department id) in `events`: up the chain of the
    grid by level (cases.chain), and the members of the assigned department, whose clock it is."""
    from wangge.workforce.models import DepartmentMembership

    by_grid = {}
    for level in {level for _id, _grid, level, _department in events}:
        grids = {grid for _id, grid, lvl, _department in events if lvl == level}
        for grid, users in chain_users(grids, list(CHAIN[level])).items():
            by_grid[grid, level] = users
    members = defaultdict(set)
    departments = {department for *_rest, department in events if department}
    for department, user_id in (DepartmentMembership.objects.active_on(timezone.localdate())
                                .filter(department_id__in=departments, user__is_active=True)
                                .values_list("department_id", "user_id")):
        members[department].add(user_id)
    return {event_id: by_grid[grid, level] | members[department] for event_id, grid, level, department in events}


class Messages:
    """A rise's title and body (gettext once per run, in the active language, not twice per rise)."""

    def __init__(self):
        self.zone = calendar.zone()
        self.titles = {ClockLevel.WARNING: _("%(case)s: time limit nearly used (warning)"),
                       ClockLevel.OVERDUE: _("%(case)s: overdue (yellow card)"),
                       ClockLevel.RED: _("%(case)s: far past the limit (red card)")}
        self.body = _("Category %(category)s, due %(due)s.")

    def __call__(self, level, case_number, category, due):
        due_text = due.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")
        return (self.titles[level] % {"case": case_number},
                self.body % {"category": category, "due": due_text})


def _message(level, case_number, category, due):
    return Messages()(level, case_number, category, due)


def _utc_wall_time(field):
    return Func(F(field), template="(%(expressions)s AT TIME ZONE 'UTC')", output_field=DateTimeField())


def evaluate_clocks(now=None):
    """Raises the clock level of every open event whose clock has moved up; returns {level: count of rises}.
    Idempotent: a second run at the same moment changes and notifies nothing."""
    now = now or timezone.now()
    ruler = Ruler()
    now_seconds = ruler.seconds(now)
    # The two moments are read as UTC wall times (timestamp without time zone) and made aware here: Django's loader
    # for timestamptz runs in Python, ~5 µs a value, which was half the cost of reading 100,000 open clocks.
    rows = (Event.objects.filter(state__in=workflow.CLOCK_STATES, due_at__isnull=False, dispatched_at__isnull=False,
                                 paused_at__isnull=True)
            .exclude(clock_level=ClockLevel.RED)
            .annotate(start_utc=_utc_wall_time("dispatched_at"), due_utc=_utc_wall_time("due_at"))
            .values_list("id", "start_utc", "due_utc", "clock_level", "category__red_factor").iterator(5000))
    risen, warning_at = {}, calendar.warning_fraction()
    for event_id, start, due, level, red_factor in rows:
        start, due = start.replace(tzinfo=UTC), due.replace(tzinfo=UTC)
        new = level_for(ruler.fraction(start, due, now, now_seconds), red_factor, warning_at)
        if CLOCK_RANK[new] > CLOCK_RANK[level]:
            risen[event_id] = (new, due)
    if not risen:
        return {}
    counts = defaultdict(int)
    message = Messages()
    with transaction.atomic():
        # Re-read the risen rows under lock (skipping those someone is acting on: the next run sees them) and keep
        # those still open, on the same due moment and still below the new level.
        locked = (Event.objects.select_for_update(skip_locked=True, of=("self",))
                  .filter(pk__in=list(risen), paused_at__isnull=True)
                  .annotate(due_utc=_utc_wall_time("due_at"))
                  .values_list("id", "state", "due_utc", "clock_level", "grid_code", "case_number", "category__code",
                               "category__name", "department_id"))
        by_level, timeline, changes = defaultdict(list), [], []
        for event_id, state, due, level, grid, case_number, code, name, department in locked:
            due = due.replace(tzinfo=UTC)
            new, seen_due = risen[event_id]
            if state not in workflow.CLOCK_STATES or due != seen_due or CLOCK_RANK[new] <= CLOCK_RANK[level]:
                continue
            by_level[new].append(event_id)
            title, body = message(new, case_number, f"{code} {name}", due)
            timeline.append((event_id, TIMELINE_ACTION[new], state, state, title))
            changes.append((event_id, grid, new, title, body, department))
        for level, ids in by_level.items():
            Event.objects.filter(pk__in=ids).update(clock_level=level, carded_at=now)
            counts[level] = len(ids)
        _copy_new_rows(EventTimeline, ("event", "action", "from_state", "to_state", "note"), timeline)
        recipients = _recipients([(event_id, grid, level, department)
                                  for event_id, grid, level, _t, _b, department in changes])
        notes = [(user_id, event_id, NOTIFICATION_KIND[level], title, body)
                 for event_id, _grid, level, title, body, _d in changes for user_id in sorted(recipients[event_id])]
        ids = _copy_new_rows(Notification, ("recipient", "event", "kind", "title", "body"), notes, with_ids=True)
        outbox.enqueue_ids(ids, [note[0] for note in notes])
    return dict(counts)


def _copy_new_rows(model, names, rows, *, with_ids=False):
    """Writes new rows of `model` with COPY, inside the caller's transaction: each row a tuple of values for the
    fields `names`, in that order. Returns the new ids (with_ids: drawn from the table's sequence first) or None.

    What bulk_create would write, without model instances and its value-by-value preparation in Python (most of a
    run with tens of thousands of rises, bench/clock_job.py). Every other concrete field gets what a new instance
    holds: auto_now and auto_now_add fields one timestamp, the rest their default. For plain columns only: the values
    in `rows` are written as they are (ids, strings, aware datetimes), not converted."""
    if not rows:
        return [] if with_ids else None
    meta = model._meta
    given = [meta.get_field(name) for name in names]
    fixed = new_row_values(model, names)
    fields = [*given, *fixed]
    tail = tuple(fixed.values())
    if with_ids:
        fields.insert(0, meta.pk)
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    ids = None
    with connection.cursor() as cursor:
        raw = cursor.cursor
        if with_ids:
            raw.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                        [meta.db_table, meta.pk.column, len(rows)])
            ids = [pk for (pk,) in raw.fetchall()]
        with raw.copy(f"COPY {meta.db_table} ({columns}) FROM STDIN") as copy:
            if with_ids:
                for pk, row in zip(ids, rows, strict=True):
                    copy.write_row((pk, *row, *tail))
            else:
                for row in rows:
                    copy.write_row((*row, *tail))
    return ids
