"""Calendar edits: a year's listed days are replaced as a whole, from JSON rows or a CSV file, after validation —
a malformed calendar is refused with the field and the reason, and nothing is written."""

import csv
import io
from contextlib import nullcontext
from datetime import date
from decimal import Decimal
from pathlib import Path

from django.db import connections, transaction
from django.utils.translation import gettext as _

from wangge.accounts.roles import MANAGE_CALENDAR
from wangge.core.errors import DomainError
from wangge.core.scope import scope_codes

from . import calendar
from .models import CalendarDay

MIN_YEAR, MAX_YEAR = 2000, 2100
MAX_CSV_BYTES = 1024 * 1024
BUILTIN_DIR = Path(__file__).resolve().parent / "data"
CSV_COLUMNS = ("date", "kind", "name")


def ensure_may_manage_calendar(actor):
    if not actor.is_superuser and not scope_codes(actor, MANAGE_CALENDAR):
        raise DomainError(_("You may not edit the work calendar."), code="forbidden")


def check_year(year):
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise DomainError(_("The year must be between %(min)s and %(max)s.") % {"min": MIN_YEAR, "max": MAX_YEAR},
                          field="year")


def rows_from_csv(content):
    """The rows of a calendar CSV (columns date,kind,name; UTF-8 or GBK) as dicts, for do_replace_year."""
    if isinstance(content, bytes):
        if len(content) > MAX_CSV_BYTES:
            raise DomainError(_("The file is larger than 1 MB; a calendar is a few dozen lines."), field="file")
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                content = content.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise DomainError(_("The file is neither UTF-8 nor GBK text."), field="file")
    reader = csv.DictReader(io.StringIO(content))
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    if "date" not in header or "kind" not in header:
        raise DomainError(_("The file needs a header line with the columns date,kind,name."), field="file")
    reader.fieldnames = header
    return [{key: (value or "").strip() for key, value in row.items() if key in CSV_COLUMNS}
            for row in reader if any((value or "").strip() for value in row.values() if isinstance(value, str))]


def validate_days(year, days):
    """Checked CalendarDay rows (unsaved) for `year`, or a DomainError naming the first bad field."""
    if not isinstance(days, list):
        raise DomainError(_("Expected a list of days."), field="days")
    seen, result = {}, []
    kinds = dict(CalendarDay.Kind.choices)
    for index, row in enumerate(days):
        where = f"days[{index}]"
        if not isinstance(row, dict):
            raise DomainError(_("Each day is an object with date, kind and name."), field=where)
        raw_date = row.get("date")
        try:
            day = date.fromisoformat(str(raw_date).strip()) if raw_date not in (None, "") else None
        except ValueError:
            day = None
        if day is None:
            raise DomainError(_("%(value)r is not a date (YYYY-MM-DD).") % {"value": raw_date},
                              field=f"{where}.date")
        if day.year != year:
            raise DomainError(_("%(date)s is not in %(year)s.") % {"date": day, "year": year}, field=f"{where}.date")
        if day in seen:
            raise DomainError(_("%(date)s is listed twice (also at days[%(other)s]).") % {
                "date": day, "other": seen[day]}, field=f"{where}.date")
        seen[day] = index
        kind = str(row.get("kind") or "").strip()
        if kind not in kinds:
            raise DomainError(_("%(value)r is not a kind of day; use holiday or makeup_workday.") % {"value": kind},
                              field=f"{where}.kind")
        if kind == CalendarDay.Kind.MAKEUP_WORKDAY and day.weekday() < 5:
            raise DomainError(
                _("%(date)s is a weekday; a make-up working day must fall on a Saturday or Sunday.") % {"date": day},
                field=f"{where}.kind")
        name = str(row.get("name") or "").strip()
        if len(name) > 50:
            raise DomainError(_("The name is longer than 50 characters."), field=f"{where}.name")
        result.append(CalendarDay(date=day, kind=kind, name=name, year=year))
    return result


@transaction.atomic
def do_replace_year(year, days, *, actor):
    """Replaces every listed day of `year` with `days` ([{"date", "kind", "name"}, …]); all or nothing."""
    ensure_may_manage_calendar(actor)
    check_year(year)
    rows = validate_days(year, days)
    CalendarDay.objects.filter(year=year).delete()
    CalendarDay.objects.bulk_create(sorted(rows, key=lambda row: row.date))
    calendar.invalidate()
    transaction.on_commit(calendar.invalidate)
    return list(CalendarDay.objects.filter(year=year))


def builtin_years():
    """Years shipped with the code: data/calendar-YYYY.csv, transcribed from the State Council notices."""
    return {int(path.stem.rsplit("-", 1)[1]): path for path in sorted(BUILTIN_DIR.glob("calendar-*.csv"))}


def load_builtin_calendars(using="default", **kwargs):
    """post_migrate: loads each shipped year that has no rows yet. A year an administrator has edited (or cleared
    and reloaded) is never touched again."""
    if CalendarDay._meta.db_table not in connections[using].introspection.table_names():
        return
    loaded = False
    for year, path in builtin_years().items():
        if CalendarDay.objects.using(using).filter(year=year).exists():
            continue
        rows = validate_days(year, rows_from_csv(path.read_bytes()))
        CalendarDay.objects.using(using).bulk_create(rows)
        loaded = True
    if loaded:
        calendar.invalidate()


# ---- Events: report and act (the closed loop) ------------------------------------------------------------------

class VersionConflict(DomainError):
    """Someone else acted on the event first: reload it and try again."""

    def __init__(self, message, **kwargs):
        super().__init__(message, code="conflict", field="version", **kwargs)
        self.status_code = 409


def _category(value):
    from . import categories
    from .models import Category

    if isinstance(value, Category):
        category = value
    else:
        category = categories.by_id.get().get(int(value)) if str(value).isdigit() else None
    if category is None or category.parent_id is None or not category.active:
        raise DomainError(_("Unknown category: choose an active subclass (4-digit code)."), field="category")
    return category


def _counter_sql(source):
    """Bumps the day's case-number counter of a district and returns it; `source` yields (district_code, day, 1)
    from two parameters."""
    from .models import CaseSequence

    table = CaseSequence._meta.db_table
    return (f"INSERT INTO {table} (district_code, day, last) {source} ON CONFLICT (district_code, day) "
            f"DO UPDATE SET last = EXCLUDED.last + {table}.last RETURNING last")


def _case_number_prefix(district_code, day):
    return f"{district_code}-{day:%Y%m%d}-"


def next_case_number(district_code, day):
    """`<district>-<yyyymmdd>-<sequence>` (five digits at least); the sequence per district per day, race-safe (one
    row upserted)."""
    connection = connections["default"]
    # Taken in a transaction of its own (no caller's atomic block), the number is committed without waiting for the
    # disk: the day's row stays locked for the upsert alone, not for a WAL flush, so concurrent reports do not queue
    # on it. Nothing can be lost by it: WAL is written in order, so the commit of the event that carries the number
    # makes the counter's earlier commit durable too; and if the server stops before that, no event has the number.
    source = ("VALUES (%s, %s, 1)" if connection.in_atomic_block else
              "SELECT %s, %s, 1 FROM (SELECT set_config('synchronous_commit', 'off', true)) relaxed")
    with connection.cursor() as cursor:
        cursor.execute(_counter_sql(source), [district_code, day])
        sequence = cursor.fetchone()[0]
    return f"{_case_number_prefix(district_code, day)}{sequence:05d}"


def holding_level(category, urgency, grid_code):
    """The area whose command centre first holds a new case: the grid's community, or — skip-level report (越级上报)
    by the category's rule, and always for emergencies — the district."""
    from .models import Urgency

    rank = {Urgency.NORMAL: 0, Urgency.URGENT: 1, Urgency.EMERGENCY: 2}
    if urgency == Urgency.EMERGENCY or (category.skip_level_from and
                                       rank.get(urgency, 0) >= rank.get(category.skip_level_from, 3)):
        return grid_code[:6]
    return grid_code[:12]


def _related(model, ids, actor, action, field):
    """The registry records `ids` of `model`, each visible to `actor` for `action` — else a 400 naming the field
    (an id outside one's scope answers like an unknown one)."""
    if not ids:
        return []
    try:
        wanted = {int(value) for value in ids}
    except (TypeError, ValueError) as exc:
        raise DomainError(_("Give record ids as whole numbers."), field=field) from exc
    if len(wanted) > 50:
        raise DomainError(_("At most 50 related records of a kind."), field=field)
    found = list(model.objects.restrict(actor, action).filter(pk__in=wanted))
    missing = wanted - {row.pk for row in found}
    if missing:
        raise DomainError(_("Unknown record: %(ids)s.") % {"ids": ", ".join(map(str, sorted(missing)))},
                          field=field)
    return found


def _timeline_point(location):
    from wangge.registry.services import _point

    if location in (None, "", {}):
        return None
    try:
        return _point(location)
    except DomainError as exc:
        raise DomainError(exc.message, field="location") from exc


def do_report_event(*, actor, location, description, category, address="", source="grid_worker",
                    urgency="normal", emergency=False, photos=(), related_persons=(), related_buildings=(),
                    related_organizations=()):
    """Reports an event (上报): finds its grid from the location, checks the reporter's scope, numbers the case,
    routes it by the ownership table and sets the level that holds it. An emergency skips the queue: it is accepted
    and dispatched at once to the category's emergency responders, and the grid's chain hears of it."""
    from django.utils import timezone

    from wangge.accounts.roles import REPORT_EVENT, VIEW_PERSON, VIEW_PLACE
    from wangge.geo.locator import active_grids, grid_code_at, locate_grid
    from wangge.registry.models import Building, Organization, Person

    from . import attachments, routing
    from .models import Event, EventSource, EventState, EventTimeline, Urgency

    if not actor.is_superuser and not scope_codes(actor, REPORT_EVENT):
        raise DomainError(_("Your role may not report events."), code="forbidden")
    point = _timeline_point(location)
    if point is None:
        raise DomainError(_("Give the event's location."), field="location")
    located = locate_grid(point)
    grid_code = _grid_to_report_in(actor, located.code)
    category = _category(category)
    if source not in EventSource.values:
        raise DomainError(_("Unknown source."), field="source")
    if urgency not in Urgency.values:
        raise DomainError(_("Unknown urgency."), field="urgency")
    if not str(description or "").strip():
        raise DomainError(_("Describe the event."), field="description")
    if emergency:
        urgency = Urgency.EMERGENCY
    emergency = urgency == Urgency.EMERGENCY
    persons = _related(Person, related_persons, actor, VIEW_PERSON, "related_persons")
    buildings = _related(Building, related_buildings, actor, VIEW_PLACE, "related_buildings")
    organizations = _related(Organization, related_organizations, actor, VIEW_PLACE, "related_organizations")
    checked = attachments.check_photos(photos)

    # A plain report is one statement — its case number, the event, its first timeline row and the triggers'
    # writes — atomic by itself, run without a transaction block (no BEGIN and COMMIT round trips). The day's
    # counter row is locked from the numbering to the commit, which is this one statement's. Any other report is
    # written in a transaction that may last (photos stored, notifications sent): its number is taken before, in a
    # transaction of its own, or reports would queue behind its commit. A report that fails after numbering leaves
    # a gap in the day's numbers, as a database sequence would.
    plain = not (checked or persons or buildings or organizations or emergency)
    day = timezone.localdate()
    case_number = None if plain else next_case_number(grid_code[:6], day)

    def new_event(grid_code, case_number):
        event = Event(
            case_number=case_number, district_code=grid_code[:6], grid_code=grid_code,
            source=source, reporter=actor, location=point, address=address, description=description.strip(),
            category=category, urgency=urgency, emergency=emergency, state=EventState.REPORTED,
            holder_code=holding_level(category, urgency, grid_code),
            routed_department=routing.route(category, grid_code, emergency=emergency))
        return event, EventTimeline(event=event, actor=actor, action="report", from_state="",
                                    to_state=EventState.REPORTED, note="", location=point)

    with nullcontext() if plain else transaction.atomic():
        event, entry = new_event(grid_code, case_number)
        if not _insert_with_first_entry(event, entry, located.generation_id, numbered_on=day):
            # This process held the grids of a generation that another one has just retired (geo.locator): the
            # report is placed again by PostGIS, checked again, and written with the grid found there.
            active_grids.clear_here()
            district = grid_code[:6]
            grid_code = _grid_to_report_in(actor, grid_code_at(point))
            if case_number is not None and grid_code[:6] != district:
                case_number = next_case_number(grid_code[:6], day)
            event, entry = new_event(grid_code, case_number)
            _insert_with_first_entry(event, entry, numbered_on=day)
        photos = attachments.store_photos(event, checked, actor=actor, timeline=entry)
        if persons:
            event.related_persons.set(persons)
        if buildings:
            event.related_buildings.set(buildings)
        if organizations:
            event.related_organizations.set(organizations)
        timeline = [entry, *(_emergency_dispatch(event) if emergency else [])]
        # The caller gets the event with what was just written in hand, as prefetch_related would have loaded it, so
        # answering the report needs no re-read (reporting is the hot path: ≥ 200 events/s).
        for row in timeline:
            row._prefetched_objects_cache = {"attachments": _known(row.attachments, photos if row is entry else [])}
        event._prefetched_objects_cache = {"timeline": _known(event.timeline, timeline),
                                           "attachments": _known(event.attachments, photos)}
        event.has_links = bool(persons or buildings or organizations)
        return event


def _grid_to_report_in(actor, grid_code):
    from wangge.accounts.roles import REPORT_EVENT
    from wangge.core.scope import ensure_code_in_scope

    if not grid_code:
        raise DomainError(_("This location lies outside every grid of the district."), field="location")
    ensure_code_in_scope(actor, REPORT_EVENT, grid_code)
    return grid_code


def _insert_with_first_entry(event, entry, generation_id=None, numbered_on=None):
    """Writes a new event and its first timeline row in one statement. Reporting is the hot path (≥ 200 events/s)
    and the ORM's create() compiles each INSERT anew — most of a millisecond a report, twice. The statement is
    built from the models' concrete fields, so a field added later is written too; should anyone connect save
    signals to these models, the ORM writes them instead, so the receivers run.

    An event without a case number is numbered by the same statement, on the day `numbered_on`. With
    `generation_id` (the generation the grid code was found in, in memory) the statement writes nothing unless that
    generation is still the active one; the answer says whether it wrote."""
    from django.db.models.signals import post_save, pre_save

    from wangge.geo.models import Generation

    from .models import Event, EventTimeline

    if any(signal.has_listeners(model) for signal in (pre_save, post_save) for model in (Event, EventTimeline)):
        with transaction.atomic():  # two statements: a plain report's caller holds no transaction
            if generation_id is not None and not Generation.objects.filter(
                    pk=generation_id, state=Generation.State.ACTIVE).exists():
                return False
            if event.case_number is None:
                event.case_number = next_case_number(event.district_code, numbered_on)
            event.save(force_insert=True)
            entry.event = event
            entry.save(force_insert=True)
        return True
    connection = connections["default"]
    ops = connection.ops
    numbering, numbering_values, computed = "", [], {}
    if event.case_number is None:
        # The day's counter bumped by this statement (n), the number formatted as next_case_number formats it.
        numbering = f"n AS ({_counter_sql('VALUES (%s, %s, 1)')}), "
        numbering_values = [event.district_code, numbered_on]
        computed["case_number"] = ("(SELECT %s || lpad(last::text, greatest(5, length(last::text)), '0') FROM n)",
                                   _case_number_prefix(event.district_code, numbered_on))

    def columns_and_values(row, fields, computed=None):
        values, placeholders = [], []
        for field in fields:
            if computed and field.name in computed:
                placeholder, value = computed[field.name]
            else:
                value = field.get_db_prep_save(field.pre_save(row, True), connection)
                placeholder = (field.get_placeholder(value, None, connection) if hasattr(field, "get_placeholder")
                               else "%s")
            values.append(value)
            placeholders.append(placeholder)
        return ", ".join(ops.quote_name(field.column) for field in fields), ", ".join(placeholders), values

    event_fields = [field for field in Event._meta.concrete_fields if not field.primary_key]
    entry_fields = [field for field in EventTimeline._meta.concrete_fields
                    if not field.primary_key and field.name != "event"]
    event_columns, event_placeholders, event_values = columns_and_values(event, event_fields, computed)
    entry_columns, entry_placeholders, entry_values = columns_and_values(entry, entry_fields)
    condition, condition_values = "", []
    if generation_id is not None:
        condition = (f" WHERE EXISTS (SELECT 1 FROM {ops.quote_name(Generation._meta.db_table)} "
                     f"WHERE id = %s AND state = %s)")
        condition_values = [generation_id, Generation.State.ACTIVE.value]
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH {numbering}e AS (INSERT INTO {ops.quote_name(Event._meta.db_table)} ({event_columns}) "
            f"SELECT {event_placeholders}{condition} RETURNING id, case_number) "
            f"INSERT INTO {ops.quote_name(EventTimeline._meta.db_table)} (event_id, {entry_columns}) "
            f"SELECT e.id, {entry_placeholders} FROM e RETURNING event_id, id, (SELECT case_number FROM e)",
            [*numbering_values, *event_values, *condition_values, *entry_values])
        written = cursor.fetchone()
    if written is None:
        return False
    event.pk, entry.pk, event.case_number = written
    entry.event = event
    for row in (event, entry):
        row._state.adding, row._state.db = False, "default"
    return True


def _known(manager, rows):
    """The related manager's queryset with its rows already in hand, as prefetch_related leaves it."""
    queryset = manager.get_queryset()
    queryset._result_cache, queryset._prefetch_done = list(rows), True
    return queryset


def _emergency_dispatch(event):
    """应急问题处置: accepted and dispatched at once (by the system) to the routed emergency responders; the grid's
    chain — grid chief, community, subdistrict, leaders, command centre — is notified now. Without a responder in
    the ownership table the case waits, at the top of the district command centre's board. Returns the timeline
    rows it wrote."""
    from django.utils import timezone

    from . import calendar
    from .chain import GRID_CHIEF, LEADER_POSTS, chain_users
    from .models import EventState, EventTimeline, Notification
    from .notifications import notify

    now = timezone.now()
    department = event.routed_department
    chain = chain_users([event.grid_code], [GRID_CHIEF, LEADER_POSTS, "community_staff", "subdistrict_staff",
                                            "command", "leader"])[event.grid_code]
    title = _("%(case)s: emergency reported (%(category)s)") % {
        "case": event.case_number, "category": event.category.name}
    if department is not None:
        event.accepted_at = event.dispatched_at = now
        event.department = department
        amount, unit = event.category.limit_for(event.urgency)
        event.due_at = calendar.add_working_time(now, amount, unit)
        event.state = EventState.DISPATCHED
        event.version += 1
        event.save()
        note = _("Emergency: accepted and dispatched at once to %(department)s.") % {"department": department.name}
        entries = EventTimeline.objects.bulk_create([
            EventTimeline(event=event, action="accept", from_state=EventState.REPORTED,
                          to_state=EventState.ACCEPTED, note=note),
            EventTimeline(event=event, action="dispatch", from_state=EventState.ACCEPTED,
                          to_state=EventState.DISPATCHED, note=note)])
        notify(_department_users(department), Notification.Kind.EMERGENCY, event, title)
    else:
        entries = []
    notify(chain, Notification.Kind.EMERGENCY, event, title)
    return entries


def _department_users(department):
    """The active members of `department` (ids)."""
    from django.utils import timezone

    from wangge.workforce.models import DepartmentMembership

    if department is None:
        return []
    return list(DepartmentMembership.objects.active_on(timezone.localdate()).filter(department=department)
                .values_list("user_id", flat=True))


def _is_member(user, department):
    from django.utils import timezone

    from wangge.workforce.models import DepartmentMembership

    if department is None:
        return False
    return DepartmentMembership.objects.active_on(timezone.localdate()).filter(
        user=user, department=department).exists()


def _extension_due(event, now, new_due, amount, unit):
    """The due moment an extension asks for: `new_due`, or `amount` working hours/days after the current due; it
    must lie in the future and later than the current due moment."""
    from datetime import datetime

    from django.utils.dateparse import parse_datetime

    from . import calendar

    if new_due not in (None, ""):
        moment = new_due if isinstance(new_due, datetime) else parse_datetime(str(new_due))
        if moment is None:
            raise DomainError(_("Give the new due moment as an ISO 8601 date and time."), field="new_due")
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=calendar.zone())
    elif amount not in (None, ""):
        unit = unit or calendar.DAYS
        if unit not in calendar.UNITS:
            raise DomainError(_("The unit is hours or days."), field="unit")
        try:
            value = Decimal(str(amount))
            if unit == calendar.DAYS and value != int(value):
                raise ValueError("whole days")
            if value <= 0 or value > 3650:
                raise ValueError("range")
            moment = calendar.add_working_time(event.due_at or now, int(value) if unit == calendar.DAYS else value,
                                               unit)
        except (ValueError, ArithmeticError) as exc:
            raise DomainError(_("The extension is a positive number of working hours, or whole working days."),
                              field="amount") from exc
    else:
        raise DomainError(_("Give the new due moment, or an amount of working time to add."), field="new_due")
    if moment <= now:
        raise DomainError(_("The new due moment lies in the past."), field="new_due")
    if event.due_at is not None and moment <= event.due_at:
        raise DomainError(_("The new due moment must be later than the current one."), field="new_due")
    return moment


def holder_code(event):
    """The area whose command centre holds the case (events from before holding levels: the grid's community)."""
    return event.holder_code or event.grid_code[:12]


def _holds(event, codes):
    """Whether scope `codes` (a list, or EVERYWHERE) covers the level holding the case."""
    from wangge.core.scope import EVERYWHERE

    if codes is EVERYWHERE:
        return True
    held = holder_code(event)
    return any(held.startswith(code) for code in codes)


def _check_actor(event, transition, actor):
    """403 with the reason when `actor` may not perform `transition` on `event`; 404 outside their scope."""
    from django.http import Http404

    from wangge.core.scope import code_in_scope

    from . import workflow

    permission = workflow.PERMISSION[transition.who]
    codes = scope_codes(actor, permission)
    if not codes:
        raise DomainError(_("Your role may not %(action)s events.") % {"action": transition.action},
                          code="forbidden")
    if transition.who == workflow.DEPARTMENT:
        if not actor.is_superuser and not _is_member(actor, event.department):
            raise DomainError(_("Only members of the assigned department may %(action)s this event.") % {
                "action": transition.action}, code="forbidden")
        return
    if not code_in_scope(event.grid_code, codes):
        raise Http404
    if transition.who == workflow.COMMAND and not _holds(event, codes):
        raise DomainError(_("The case is held by the command centre of %(area)s; only it (or one above) may "
                            "%(action)s it.") % {"area": holder_code(event), "action": transition.action},
                          code="forbidden")
    if transition.who == workflow.SUPERVISION and event.handler_id and event.handler_id == actor.pk:
        raise DomainError(_("The verifier must not be the handler of the event."), code="forbidden")
    if transition.action == "self_close":
        if event.reporter_id != actor.pk:
            raise DomainError(_("Only the reporter may handle and close their own event."), code="forbidden")
        if not event.category.self_handling:
            raise DomainError(_("This category does not allow self-handling (自行处置)."), code="forbidden")


@transaction.atomic
def do_act(event, action, *, actor, version, note="", department=None, satisfaction=None, new_due=None,
           amount=None, unit=None, location=None, photos=()):
    """The one place an event changes state. Locks the row, checks the version (409 if stale), the state (400),
    the actor (403, or 404 outside their scope), applies the action and writes a timeline row (with where the actor
    stood and their photos, if given).

    dispatch takes the routed department unless `department` overrides it. request_extension takes either `new_due`
    (an aware datetime) or `amount` + `unit` (working hours or days added to the current due moment)."""
    from django.utils import timezone

    from wangge.workforce.models import Department, DepartmentKind

    from . import attachments, calendar, workflow
    from .clocks import clock_level_of
    from .models import ClockLevel, Event, EventTimeline, Notification, Urgency
    from .notifications import notify

    transition = workflow.TRANSITIONS.get(action)
    if transition is None:
        raise DomainError(_("Unknown action %(action)r; one of: %(all)s.") % {
            "action": action, "all": ", ".join(workflow.ACTIONS)}, field="action")
    event = Event.objects.select_for_update().select_related("category").get(pk=event.pk)
    if version is None or int(version) != event.version:
        raise VersionConflict(_("The event has changed since you loaded it (version %(yours)s, now %(now)s); "
                                "reload it and try again.") % {"yours": version, "now": event.version})
    if event.state not in transition.sources:
        raise DomainError(_("Cannot %(action)s an event that is %(state)s.") % {
            "action": action, "state": event.get_state_display()}, field="action", code="invalid_transition")
    _check_actor(event, transition, actor)
    if (event.paused_at is None) == (action == "resume") or (
            event.paused_at is not None and action not in workflow.WHILE_PAUSED):
        raise DomainError(_("The case waits for the citizen: resume its clock first.") if event.paused_at else
                          _("The clock is not paused."), field="action", code="invalid_transition")
    note = str(note or "").strip()
    if transition.needs_note and not note:
        raise DomainError(_("Give a reason to %(action)s.") % {"action": action}, field="note")
    point = _timeline_point(location)
    checked = attachments.check_photos(photos)

    now = timezone.now()
    before = event.state
    if action == "accept":
        event.accepted_at = now
    elif action == "dispatch":
        if department in (None, ""):
            target = event.routed_department
            if target is None:
                raise DomainError(_("The ownership table names no department for this case: choose one."),
                                  field="department")
        else:
            target = department if isinstance(department, Department) else (
                Department.objects.filter(pk=department).first() if str(department).isdigit() else None)
        if target is None or target.kind != DepartmentKind.FUNCTIONAL or target.closed_on is not None:
            raise DomainError(_("Choose an open functional department to dispatch to."), field="department")
        if not event.grid_code.startswith(target.area_code):
            raise DomainError(_("The department does not serve the event's area."), field="department")
        if event.routed_department_id and target.pk != event.routed_department_id:
            override = _("Routed to %(routed)s; dispatched to %(chosen)s instead.") % {
                "routed": event.routed_department.name, "chosen": target.name}
            note = f"{override} {note}".strip()
        event.department = target
        notify(_department_users(target), Notification.Kind.ASSIGNED, event,
               _("%(case)s: assigned to %(department)s") % {"case": event.case_number, "department": target.name})
        event.dispatcher = actor
        event.dispatched_at = now
        amount, unit = event.category.limit_for(event.urgency)
        event.due_at = calendar.add_working_time(now, amount, unit)
        event.clock_level, event.carded_at = ClockLevel.ON_TIME, None
        event.extension_due_at, event.extension_requested_by = None, None
    elif action == "request_extension":
        if event.extension_due_at is not None:
            raise DomainError(_("An extension request is already pending."), field="action",
                              code="invalid_transition")
        event.extension_due_at = _extension_due(event, now, new_due, amount, unit)
        event.extension_requested_by = actor
        note = _("%(note)s (until %(due)s)") % {
            "note": note, "due": event.extension_due_at.astimezone(calendar.zone()).strftime("%Y-%m-%d %H:%M")}
        notify([event.dispatcher_id], Notification.Kind.EXTENSION, event,
               _("%(case)s: extension requested") % {"case": event.case_number})
    elif action in ("approve_extension", "reject_extension"):
        if event.extension_due_at is None:
            raise DomainError(_("There is no pending extension request."), field="action",
                              code="invalid_transition")
        requester = event.extension_requested_by_id
        if action == "approve_extension":
            if event.extension_due_at <= event.due_at:
                raise DomainError(_("The requested due moment is no longer later than the current one."),
                                  field="new_due")
            event.due_at = event.extension_due_at
            event.extension_count += 1
            event.clock_level = clock_level_of(event, now)
        event.extension_due_at, event.extension_requested_by = None, None
        notify([requester], Notification.Kind.EXTENSION, event,
                            _("%(case)s: extension %(what)s") % {
                                "case": event.case_number,
                                "what": _("approved") if action == "approve_extension" else _("rejected")})
    elif action == "return":
        event.department = None
        event.return_count += 1
        notify([event.dispatcher_id], Notification.Kind.RETURNED, event,
               _("%(case)s: returned by the department") % {"case": event.case_number}, note)
    elif action == "handle":
        event.handler = actor
        event.handled_at = now
    elif action == "escalate":
        held = holder_code(event)
        if len(held) <= 6:
            raise DomainError(_("The case is already held by the district command centre."), field="action",
                              code="invalid_transition")
        event.holder_code = held[:{12: 9, 9: 6}.get(len(held), 6)]
        note = _("%(note)s (to %(area)s)") % {"note": note, "area": event.holder_code}
        notify(_command_users(event.holder_code), Notification.Kind.ESCALATED, event,
               _("%(case)s: escalated to your command centre") % {"case": event.case_number}, note)
    elif action == "wait_citizen":
        event.paused_at = now
    elif action == "resume":
        paused = calendar.working_timedelta(event.paused_at, now)
        if event.due_at is not None and paused.total_seconds() > 0:
            event.due_at = calendar.add_working_time(event.due_at, paused, calendar.HOURS)
        moved = _("Paused for %(hours)s working hours; due moved on by as much.") % {
            "hours": f"{paused.total_seconds() / 3600:.1f}"}
        note = f"{note} ({moved})" if note else moved
        event.paused_at = None
    elif action == "supervise":
        notify([event.dispatcher_id, *_department_users(event.department)], Notification.Kind.SUPERVISION, event,
               _("%(case)s: supervision notice (督办)") % {"case": event.case_number}, note)
    elif action == "instruct":
        notify([event.dispatcher_id, event.handler_id, *_department_users(event.department)],
               Notification.Kind.INSTRUCTION, event,
               _("%(case)s: leader's instruction") % {"case": event.case_number}, note)
    elif action == "verify":
        event.verifier = actor
    elif action == "rework":
        event.rework_count += 1
        event.handler = None
    elif action == "close":
        event.closed_at = now
    elif action == "self_close":
        event.handler = actor
        event.handled_at = event.closed_at = now
    elif action == "evaluate":
        if satisfaction is None or not str(satisfaction).isdigit() or not 1 <= int(satisfaction) <= 5:
            raise DomainError(_("Satisfaction is a whole number from 1 to 5."), field="satisfaction")
        event.satisfaction = int(satisfaction)
    elif action == "urge":
        if event.urgency == Urgency.EMERGENCY:
            raise DomainError(_("The event is already an emergency."), field="action", code="invalid_transition")
        event.urgency = Urgency.URGENT
        if event.dispatched_at:
            amount, unit = event.category.limit_for(event.urgency)
            event.due_at = min(event.due_at, calendar.add_working_time(event.dispatched_at, amount, unit))
    if transition.target is not None:
        event.state = transition.target
    event.version += 1
    event.save()
    entry = EventTimeline.objects.create(event=event, actor=actor, action=action, from_state=before,
                                         to_state=event.state, note=note, location=point)
    attachments.store_photos(event, checked, actor=actor, timeline=entry)
    return event


def _command_users(area_code):
    """Users holding the command role assigned exactly at `area_code` (that level's command centre)."""
    from wangge.accounts.models import AreaAssignment

    return list(AreaAssignment.objects.filter(area_code=area_code, role__slug="command", user__is_active=True)
                .values_list("user_id", flat=True))


def available_actions(event, user):
    """The actions `user` may perform on `event` now — the same checks as do_act, without acting (for the pages
    and the API's `actions`)."""
    from django.http import Http404

    from . import workflow
    from .models import Urgency

    allowed = []
    for transition in workflow.TRANSITIONS.values():
        if event.state not in transition.sources:
            continue
        action = transition.action
        pending = event.extension_due_at is not None
        if (action == "request_extension" and pending) or (
                action in ("approve_extension", "reject_extension") and not pending):
            continue
        if action == "escalate" and len(holder_code(event)) <= 6:
            continue
        if action == "urge" and event.urgency == Urgency.EMERGENCY:
            continue
        if (event.paused_at is None and action == "resume") or (
                event.paused_at is not None and action not in workflow.WHILE_PAUSED):
            continue
        try:
            _check_actor(event, transition, user)
        except (DomainError, Http404):
            continue
        allowed.append(action)
    return allowed


def tasks_for(user, queryset):
    """The events of `queryset` that `user` can act on now: cases waiting for their command centre, their
    department, their supervision centre, or (self-handling) themselves — a filter, checked again by do_act."""
    from django.db.models import Q
    from django.utils import timezone

    from wangge.accounts.roles import DISPATCH_EVENT, HANDLE_EVENT, REPORT_EVENT, VERIFY_EVENT
    from wangge.core.scope import EVERYWHERE

    from .models import Event, EventState

    def in_scope(action):
        codes = scope_codes(user, action)
        if codes is EVERYWHERE:
            return Q()
        if not codes:
            return None
        return Event.scope_q(codes, action)

    wanted = Q(pk__in=[])
    command = in_scope(DISPATCH_EVENT)
    if command is not None:
        codes = scope_codes(user, DISPATCH_EVENT)
        held = Q() if codes is EVERYWHERE else Q(pk__in=[])
        if codes is not EVERYWHERE:
            for code in codes:  # the holding level lies inside the user's area
                held |= Q(holder_code__startswith=code)
                held |= Q(holder_code="", grid_code__startswith=code) if len(code) <= 12 else Q(pk__in=[])
        wanted |= command & held & (Q(state__in=[EventState.REPORTED, EventState.ACCEPTED])
                                    | Q(extension_due_at__isnull=False))
    if in_scope(HANDLE_EVENT) is not None:
        today = timezone.localdate()
        member = (Q(department__memberships__user=user, department__memberships__active_from__lte=today)
                  & (Q(department__memberships__active_to__isnull=True)
                     | Q(department__memberships__active_to__gt=today)))
        wanted |= member & Q(state__in=[EventState.DISPATCHED, EventState.SIGNED, EventState.HANDLED])
    supervision = in_scope(VERIFY_EVENT)
    if supervision is not None:
        wanted |= supervision & Q(state__in=[EventState.FED_BACK, EventState.VERIFIED]) & ~Q(handler=user)
    if in_scope(REPORT_EVENT) is not None:
        wanted |= Q(reporter=user, state=EventState.REPORTED, category__self_handling=True)
    return queryset.filter(pk__in=Event.objects.filter(wanted).values("pk"))
