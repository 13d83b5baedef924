"""Calendar edits: a year's listed days are replaced as a whole, from JSON rows or a CSV file, after validation —
a malformed calendar is refused with the field and the reason, and nothing is written."""

import csv
import io
from datetime import date
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
