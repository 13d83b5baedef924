"""The KPI figures of one level and period, read from the rollups (never from the raw events) through the one
scoped path: `Rollup.objects.visible_to(user, VIEW_AGGREGATES, departments)` — restrict() by the user's area scope,
plus the rows of the departments the user is an active member of.

Area levels sum the area rows of a code-prefix subtree (substr(grid_code, 1, n)); a group is shown only when the
whole area lies inside the user's scope (a community worker asking for subdistricts gets none, not a partial sum).
Departments and grid workers are summed over the events inside the user's scope; a member of a department sees
all of that department's events.
"""

import re
from datetime import date

from django.db.models import F, Sum
from django.db.models.functions import Substr
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from wangge.accounts.roles import VIEW_AGGREGATES
from wangge.core.errors import DomainError
from wangge.core.scope import EVERYWHERE, code_in_scope, scope_codes
from wangge.geo import codes as area_codes

from . import scoring
from .indicators import COUNTER_NAMES, averages_of, rates_of
from .models import Dimension, KpiScheme, Rollup

AREA_LEVELS = area_codes.CODE_LENGTH  # level → code length: a level's areas are the code prefixes of that length
DEPARTMENT, WORKER = "department", "worker"
LEVELS = (*AREA_LEVELS, DEPARTMENT, WORKER)
MAX_MONTHS = 36
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_month(value, field):
    match = _MONTH.match(str(value or "").strip())
    if not match:
        raise DomainError(_("Give a month as YYYY-MM."), field=field)
    year = int(match.group(1))
    if not 2000 <= year <= 2100:
        raise DomainError(_("The year must be between 2000 and 2100."), field=field)
    return date(year, int(match.group(2)), 1)


def current_month():
    return timezone.localdate().replace(day=1)


def parse_period(period, period_to=None):
    """(first month, last month) of `period` [.. `period_to`], both YYYY-MM, whole months, at most MAX_MONTHS."""
    first = parse_month(period, "period") if period not in (None, "") else current_month()
    last = parse_month(period_to, "period_to") if period_to not in (None, "") else first
    if last < first:
        raise DomainError(_("The period cannot end before it starts."), field="period_to")
    if (last.year - first.year) * 12 + last.month - first.month >= MAX_MONTHS:
        raise DomainError(_("A period spans at most %(n)s months.") % {"n": MAX_MONTHS}, field="period_to")
    return first, last


def check_level(level):
    if level not in LEVELS:
        raise DomainError(_("Unknown level; one of: %(all)s.") % {"all": ", ".join(LEVELS)}, field="level")
    return level


def member_departments(user):
    """Ids of the departments `user` is an active member of today."""
    from wangge.workforce.models import DepartmentMembership

    return DepartmentMembership.objects.departments_of(user)


class Viewer:
    """What one user may see: area codes for kpi.view_aggregate (or EVERYWHERE) and member departments. A user
    with neither sees nothing at all (404, as for something that does not exist)."""

    def __init__(self, user):
        self.user = user
        self.codes = scope_codes(user, VIEW_AGGREGATES)
        self.departments = member_departments(user) if self.codes is not EVERYWHERE else []
        if not self.codes and not self.departments:
            raise Http404

    def covers(self, code):
        return code_in_scope(code, self.codes) if self.codes else False

    def default_level(self):
        if self.codes is EVERYWHERE:
            return area_codes.SUBDISTRICT
        if not self.codes:
            return DEPARTMENT
        broadest = area_codes.level_of(min(self.codes, key=len))
        return area_codes.CHILD_LEVEL.get(broadest, area_codes.GRID)

    def rollups(self):
        return Rollup.objects.visible_to(self.user, VIEW_AGGREGATES, self.departments)


def check_area(viewer, area, level):
    """The area filter (a code prefix) or None; 400 when malformed or finer than the level, 404 outside scope."""
    area = str(area or "").strip()
    if not area:
        return None
    if area_codes.level_of(area) is None:
        raise DomainError(_("An area code has 6, 9, 12 or 15 digits."), field="area")
    if level in AREA_LEVELS and len(area) > AREA_LEVELS[level]:
        raise DomainError(_("The area is finer than the level asked for."), field="area")
    if not viewer.covers(area) and not (level == DEPARTMENT and viewer.departments):
        raise Http404
    return area


def resolve_scheme(scheme_id=None):
    """The scheme with id `scheme_id` (a KpiScheme is returned as it is), the default one when none is given."""
    if isinstance(scheme_id, KpiScheme):
        return scheme_id
    if scheme_id in (None, ""):
        return scoring.default_scheme()
    if not str(scheme_id).isdigit():
        raise DomainError(_("Unknown scheme."), field="scheme")
    scheme = KpiScheme.objects.prefetch_related("weights").filter(pk=int(scheme_id)).first()
    if scheme is None:
        raise DomainError(_("Unknown scheme."), field="scheme")
    return scheme


def _sums(queryset, level):
    sums = {name: Sum(name) for name in COUNTER_NAMES}
    if level in AREA_LEVELS:
        grouped = queryset.filter(dimension=Dimension.AREA).annotate(key=Substr("grid_code", 1, AREA_LEVELS[level]))
    else:
        dimension = Dimension.DEPARTMENT if level == DEPARTMENT else Dimension.WORKER
        grouped = queryset.filter(dimension=dimension).annotate(key=F("member_id"))
    return grouped.values("key").annotate(**sums).order_by()


def _names(level, keys, area=None):
    if level in AREA_LEVELS:
        from wangge.geo.models import Area

        areas = Area.objects.current().filter(level=level)  # a level's names at once: cheaper than 3,000 codes IN
        if area:
            areas = areas.filter(code__startswith=area)
        wanted = set(keys)
        return {code: (code, name) for code, name in areas.values_list("code", "name") if code in wanted}
    if level == DEPARTMENT:
        from wangge.workforce.models import Department

        return {pk: (code, name) for pk, code, name in Department.objects.filter(pk__in=keys)
                .values_list("pk", "code", "name")}
    from wangge.accounts.models import User

    return {pk: (str(pk), display or username) for pk, display, username in User.objects.filter(pk__in=keys)
            .values_list("pk", "display_name", "username")}


def figures(user, level, period=None, period_to=None, area=None, scheme=None, viewer=None):
    """{level, period, period_to, area, scheme, rows}: one row per area / department / grid worker with every
    count, rate (0–1, None without a denominator), average (hours), score and rank, best first. `viewer`: the
    caller's Viewer(user) when it already has one (its member departments are a query)."""
    level = check_level(level)
    first, last = parse_period(period, period_to)
    viewer = viewer if viewer is not None else Viewer(user)
    area = check_area(viewer, area, level)
    scheme = resolve_scheme(scheme)
    queryset = viewer.rollups().filter(month__gte=first, month__lte=last)
    if area:
        queryset = queryset.filter(grid_code__startswith=area)
    sums = list(_sums(queryset, level))
    if level in AREA_LEVELS and viewer.codes is not EVERYWHERE:
        sums = [row for row in sums if viewer.covers(row["key"])]  # whole areas only, never a partial sum
    names = _names(level, [row["key"] for row in sums], area)
    terms = scoring.terms(scheme)
    rows = []
    for row in sums:
        key = row.pop("key")
        counts = {name: int(row[name] or 0) for name in COUNTER_NAMES}
        code, name = names.get(key, (str(key), ""))
        rates = rates_of(counts)
        rows.append({"code": code, "id": None if level in AREA_LEVELS else key, "name": name,
                     **counts, "voided": counts["reported"] - counts["valid"], **rates, **averages_of(counts),
                     "score": scoring.score(rates, terms), "rank": None})
    scoring.rank(rows)
    return {"level": level, "period": f"{first:%Y-%m}", "period_to": f"{last:%Y-%m}", "area": area,
            "scheme": {"id": scheme.pk, "name": scheme.name, "total": float(scheme.total)} if scheme else None,
            "rows": rows}


def red_black(user, level, period=None, period_to=None, area=None, scheme=None):
    """The figures' red list (best five) and black list (worst five) of rows with enough valid reports."""
    scheme = resolve_scheme(scheme)
    result = figures(user, level, period, period_to, area, scheme)
    min_reports = scoring.min_reports(scheme)
    red, black = scoring.red_black(result.pop("rows"), min_reports)
    return {**result, "min_reports": min_reports, "red": red, "black": black}
