"""Deterministic historical events for the demo district (issue 4 §6): the dashboard and the KPI page need a year of
cases behind them. Same seed, same district and same end moment (the load's, by default) → the same events.

~48,000 events over the last 12 months (this month included, up to the load), spread over the grids (some busier
than others), the categories (市容环境 most), the sources (grid workers most) and the departments that own them, and
walked through the closed loop on the work calendar with realistic odds that vary per community (the command centre's
acceptance) and per department (handling): about 3 % voided, 10 % accepted later than two working hours, 6 %
returned, 5 % extended, 10 % handled late, 5 % reworked, a third of self-handling cases closed by the grid worker,
most evaluated 4 or 5. One event in seven is reported at a hotspot (a market, a bin corner, a building site: one in
every fifth grid or so, each with its usual category), so repeat events at one place happen. The most recent events
are still open, in whatever state the loop had reached at the moment of the load.

Everything is generated with numpy, month by month, and written with COPY (events, then their timelines) in one
transaction, with the tables' change-log triggers off inside it (as wangge/registry/demo_population.py does: 400,000
"insert" history rows would bury the real history) — which also switches off the KPI rollup trigger, so the rollups
are rebuilt set-based at the end (wangge.kpi.rollups.rebuild). The demo actors are users named demo-…; the loader skips
when events of theirs exist.

`generate()` is shared with bench/kpi_page.py, which writes five million of these into a throwaway database.
"""

import datetime
import itertools
import logging
import time
from dataclasses import dataclass

import numpy as np
import shapely
from django.db import connection, transaction
from django.utils import timezone

log = logging.getLogger(__name__)

DEFAULT_SEED = 370103
DEFAULT_COUNT = 48_000
MONTHS = 12
USER_PREFIX = "demo-"
COMMAND, SUPERVISION = "demo-command", "demo-supervision"
HOTSPOT_GRIDS = 0.2  # the share of grids with a hotspot
HOTSPOT_SHARE = 0.15  # the share of events reported at a hotspot
SOURCES = (["grid_worker", "hotline", "citizen", "video", "inspection"], [0.70, 0.14, 0.07, 0.05, 0.04])
URGENCIES = (["normal", "urgent", "emergency"], [0.90, 0.08, 0.02])
# Category class → the demo department that owns it (codes of wangge/workforce/demo.py).
OWNERS = {("event", "01"): "CGJ", ("event", "02"): "CGJ", ("event", "03"): "ZJJ", ("event", "04"): "CGJ",
          ("event", "05"): "YJGL", ("event", "06"): "CGJ", ("event", "07"): "SFJ", ("event", "08"): "XFJY",
          ("event", "09"): "WJJ", ("part", "01"): "GDJ", ("part", "02"): "JTJ", ("part", "03"): "CGJ",
          ("part", "04"): "CGJ", ("part", "05"): "ZJJ", ("part", "06"): "CGJ"}
CLASS_WEIGHT = {("event", "01"): 8, ("event", "04"): 5, ("event", "02"): 3, ("event", "03"): 2, ("part", "01"): 3,
                ("part", "03"): 2, ("event", "07"): 2, ("event", "08"): 1.5}
STREETS = ["经一路", "经二路", "经四路", "经七路", "纬一路", "纬二路", "纬六路", "英雄山路", "舜耕路", "舜玉路",
           "二环南路", "郎茂山路", "七里山路", "六里山路", "王官庄路", "建设路", "玉函路", "泺源大街", "顺河街"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红梅建国志文斌海燕鹏飞宇晨"
SATISFACTION_ON_TIME = [0.02, 0.03, 0.08, 0.30, 0.57]
SATISFACTION_LATE = [0.08, 0.10, 0.20, 0.32, 0.30]
NAT = np.nan


# ---- Working time, vectorised ---------------------------------------------------------------------------------------

class WorkTable:
    """cases.calendar's working time over a range of days as arrays: W(t) = working seconds from the first day to
    the UTC epoch second t, its inverse, and the close of the Nth working day after a moment. The zone must keep
    one UTC offset over the range (Asia/Shanghai has no daylight saving)."""

    def __init__(self, first_day, last_day):
        from wangge.cases import calendar

        zone = calendar.zone()
        offsets = {datetime.datetime.combine(first_day + datetime.timedelta(days=d), datetime.time(12), zone)
                   .utcoffset() for d in range(0, (last_day - first_day).days + 1, 30)}
        if len(offsets) != 1:
            raise ValueError("the demo events need a time zone with one UTC offset")
        self.offset = offsets.pop().total_seconds()
        self.spans = [(s.hour * 3600 + s.minute * 60, e.hour * 3600 + e.minute * 60)
                      for s, e in calendar.working_spans()]
        self.day_length = sum(e - s for s, e in self.spans)
        days = (last_day - first_day).days + 1
        self.working = np.array([calendar.is_working_day(first_day + datetime.timedelta(days=d)) for d in range(days)])
        self.cumulative = np.concatenate([[0], np.cumsum(self.working * self.day_length)]).astype(np.float64)
        self.working_days = np.concatenate([[0], np.cumsum(self.working)])
        epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
        self.start = (datetime.datetime.combine(first_day, datetime.time(), datetime.UTC) - epoch).total_seconds()
        self.days = days

    def _day(self, t):
        local = np.asarray(t, dtype=np.float64) + self.offset - self.start
        day = np.floor(local / 86400).astype(np.int64)
        if day.size and (day.min() < 0 or day.max() >= self.days):
            raise ValueError("a moment outside the work table")
        return day, local - day * 86400

    def seconds(self, t):
        day, into = self._day(t)
        within = np.zeros_like(into)
        for s, e in self.spans:
            within += np.clip(into - s, 0, e - s)
        return self.cumulative[day] + within * self.working[day]

    def moment(self, w):
        w = np.asarray(w, dtype=np.float64)
        day = np.searchsorted(self.cumulative, w, side="right") - 1
        remaining = w - self.cumulative[day]
        into = np.full_like(w, float(self.spans[-1][1]))
        placed = np.zeros(w.shape, dtype=bool)
        for s, e in self.spans:
            here = ~placed & (remaining <= e - s)
            into = np.where(here, s + remaining, into)
            placed |= here
            remaining = np.where(placed, remaining, remaining - (e - s))
        return self.start + day * 86400 + into - self.offset

    def close_after(self, t, n):
        """The close of the nth working day after the local day of t (cases.calendar.add_working_time in days)."""
        day, _into = self._day(t)
        target = self.working_days[day + 1] + np.asarray(n)
        last = np.searchsorted(self.working_days, target, side="left") - 1
        return self.start + last * 86400 + self.spans[-1][1] - self.offset


# ---- Inputs ------------------------------------------------------------------------------------------------------

@dataclass
class Place:
    codes: list
    polygons: list
    weights: np.ndarray
    hotspots: np.ndarray  # (hotspots, 2): lon, lat
    hotspot_grid: np.ndarray  # the grid (index) of each hotspot


def _random_points(rng, polygon, count):
    """`count` points inside `polygon` (rejection sampling in its bbox, vectorised)."""
    xmin, ymin, xmax, ymax = polygon.bounds
    shapely.prepare(polygon)
    found = np.empty((0, 2))
    while len(found) < count:
        want = max(16, int((count - len(found)) * 2.5))
        xy = np.column_stack([rng.uniform(xmin, xmax, want), rng.uniform(ymin, ymax, want)])
        found = np.vstack([found, xy[shapely.contains_xy(polygon, xy[:, 0], xy[:, 1])]])
    return found[:count]


def grids(rng, district):
    from wangge.geo.models import Area

    rows = list(Area.objects.current().filter(level="grid", code__startswith=district).order_by("code")
                .values_list("code", "geom"))
    if not rows:
        raise ValueError("No active district: load the demo district first.")
    polygons = [shapely.from_wkb(bytes(geom.wkb)) for _code, geom in rows]
    weights = rng.lognormal(0, 0.6, len(rows))
    hot = np.sort(rng.choice(len(rows), max(1, int(len(rows) * HOTSPOT_GRIDS)), replace=False,
                             p=weights / weights.sum()))
    hotspots = np.vstack([_random_points(rng, polygons[g], 1) for g in hot])
    return Place([code for code, _geom in rows], polygons, weights, hotspots, hot)


@dataclass
class Categories:
    ids: np.ndarray
    weights: np.ndarray
    owners: list  # department code per category
    hours: np.ndarray  # (categories, 3): the limit per urgency, in working hours (NaN for a limit in days)
    days: np.ndarray  # (categories, 3): the limit in working days (0 for a limit in hours)
    red: np.ndarray
    self_handling: np.ndarray
    names: list


def categories():
    from .models import Category, LimitUnit

    rows = list(Category.objects.filter(parent__isnull=False, active=True).order_by("kind", "code"))
    if not rows:
        raise ValueError("No categories: run migrate first.")
    hours, days = np.zeros((len(rows), 3)), np.zeros((len(rows), 3), dtype=np.int64)
    for i, c in enumerate(rows):
        limits = [float(c.limit_normal), float(c.limit_urgent), float(c.limit_emergency)]
        if c.limit_unit == LimitUnit.HOURS:
            hours[i] = limits
        else:
            hours[i], days[i] = np.nan, [int(v) for v in limits]
    return Categories(
        ids=np.array([c.pk for c in rows]), names=[c.name for c in rows],
        weights=np.array([CLASS_WEIGHT.get((c.kind, c.code[:2]), 1.0) for c in rows]),
        owners=[OWNERS.get((c.kind, c.code[:2]), "CGJ") for c in rows], hours=hours, days=days,
        red=np.array([float(c.red_factor) for c in rows]), self_handling=np.array([c.self_handling for c in rows]))


@dataclass
class Actors:
    worker_of_grid: np.ndarray  # user id per grid (index of Place.codes)
    command: int
    supervision: int
    departments: list  # functional department ids
    department_codes: list
    handler_of: dict  # department id → handler user id


def _name(rng):
    return SURNAMES[rng.integers(len(SURNAMES))] + "".join(GIVEN[rng.integers(len(GIVEN))]
                                                            for _ in range(int(rng.integers(1, 3))))


def actors(rng, place, district):
    """The demo actors (created when missing): a grid worker per grid (named as the grid's full-time post when there
    is one), a handler per functional department (an active member), the command and supervision centres."""
    from django.contrib.auth.hashers import make_password

    from wangge.accounts.models import AreaAssignment, Role, User
    from wangge.workforce.models import Department, DepartmentKind, DepartmentMembership, GridPost, PostKind

    departments = list(Department.objects.filter(kind=DepartmentKind.FUNCTIONAL, closed_on__isnull=True,
                                                 area_code=district).order_by("code").values_list("pk", "code", "name"))
    if not departments:
        raise ValueError("No functional departments: load the demo work team first (load_demo_workforce).")
    names = {}
    for code, name in (GridPost.objects.filter(kind=PostKind.FULL_TIME, grid_code__in=place.codes)
                       .order_by("grid_code", "pk").values_list("grid_code", "holder_name")):
        names.setdefault(code, name)
    wanted = {f"{USER_PREFIX}gw-{code}": (names.get(code) or _name(rng), "grid_worker", code) for code in place.codes}
    wanted.update({f"{USER_PREFIX}h-{code}": (f"{name}办理人", "department", district)
                   for _pk, code, name in departments})
    wanted[COMMAND] = ("区指挥中心（演示）", "command", district)
    wanted[SUPERVISION] = ("区监督中心（演示）", "supervision", district)
    have = set(User.objects.filter(username__in=list(wanted)).values_list("username", flat=True))
    unusable = make_password(None)
    User.objects.bulk_create([User(username=u, display_name=d, password=unusable)
                              for u, (d, _r, _a) in wanted.items() if u not in have], batch_size=5000)
    users = dict(User.objects.filter(username__in=list(wanted)).values_list("username", "pk"))
    roles = dict(Role.objects.values_list("slug", "pk"))
    assigned = set(AreaAssignment.objects.filter(user_id__in=list(users.values())).values_list("user_id", flat=True))
    AreaAssignment.objects.bulk_create([
        AreaAssignment(user_id=users[u], area_code=area, role_id=roles[role])
        for u, (_d, role, area) in wanted.items() if users[u] not in assigned], batch_size=5000)
    handler_of = {pk: users[f"{USER_PREFIX}h-{code}"] for pk, code, _name in departments}
    members = set(DepartmentMembership.objects.filter(user_id__in=list(handler_of.values()))
                  .values_list("user_id", flat=True))
    DepartmentMembership.objects.bulk_create([
        DepartmentMembership(user_id=user, department_id=department, active_from=datetime.date(2020, 1, 1))
        for department, user in handler_of.items() if user not in members])
    return Actors(worker_of_grid=np.array([users[f"{USER_PREFIX}gw-{code}"] for code in place.codes]),
                  command=users[COMMAND], supervision=users[SUPERVISION],
                  departments=[pk for pk, _c, _n in departments],
                  department_codes=[code for _pk, code, _n in departments], handler_of=handler_of)


# ---- The generator ---------------------------------------------------------------------------------------------------

def _epoch(moment):
    return moment.timestamp()


def month_starts(end, months=MONTHS):
    """The first days of the `months` months up to `end`'s month (local dates), oldest first."""
    first = end.date().replace(day=1)
    starts = []
    for back in range(months - 1, -1, -1):
        year, month = divmod(first.year * 12 + first.month - 1 - back, 12)
        starts.append(datetime.date(year, month + 1, 1))
    return starts


def _exp_hours(rng, mean, size):
    return rng.exponential(mean * 3600, size)


def generate(*, place, cats, people, end, count, seed, months=MONTHS):
    """Yields one dict of numpy columns per month (oldest first), about `count` events in all, reported between
    the first day of the month `months − 1` before `end`'s and `end`; the loop is cut at `end`."""
    starts = month_starts(end, months)
    table = WorkTable(starts[0] - datetime.timedelta(days=5), end.date() + datetime.timedelta(days=400))
    zone_offset = table.offset
    end_s = _epoch(end)
    n_grids, n_departments = len(place.codes), len(people.departments)
    base = np.random.default_rng(seed)
    community_of = np.unique([code[:12] for code in place.codes], return_inverse=True)[1]
    community_quality = base.uniform(0.55, 1.0, community_of.max() + 1)
    department_quality = base.uniform(0.55, 1.0, n_departments)
    owner_index = np.array([people.department_codes.index(code) if code in people.department_codes else 0
                            for code in cats.owners])
    grid_p = place.weights / place.weights.sum()
    category_p = cats.weights / cats.weights.sum()
    hotspot_category = base.choice(len(cats.ids), len(place.hotspots), p=category_p)
    days_in = [((starts[i + 1] if i + 1 < len(starts) else end.date() + datetime.timedelta(days=1)) - start).days
               for i, start in enumerate(starts)]
    total_days = sum(days_in)
    for index, start in enumerate(starts):
        rng = np.random.default_rng([seed, index])
        day_dates = [start + datetime.timedelta(days=d) for d in range(days_in[index])]
        day_weight = np.array([0.45 if d.weekday() >= 5 else 1.0 for d in day_dates])
        n = round(count * days_in[index] / total_days)
        if n == 0:
            continue
        day = rng.choice(len(day_dates), n, p=day_weight / day_weight.sum())
        office = rng.random(n) < 0.75
        second = np.where(office, rng.uniform(8 * 3600, 18 * 3600, n), rng.uniform(0, 86400, n))
        day_epoch = np.array([_epoch(datetime.datetime.combine(d, datetime.time(), datetime.UTC)) for d in day_dates])
        created = np.sort(day_epoch[day] + second - zone_offset)
        created = created[created < end_s - 60]
        n = len(created)
        if n == 0:
            continue
        grid = rng.choice(n_grids, n, p=grid_p)
        category = rng.choice(len(cats.ids), n, p=category_p)
        # Hotspots: the grid is the hotspot's, the category mostly the hotspot's own (~25 m around it).
        hot = rng.random(n) < HOTSPOT_SHARE
        spot_index = rng.integers(len(place.hotspots), size=n)
        grid = np.where(hot, place.hotspot_grid[spot_index], grid)
        category = np.where(hot & (rng.random(n) < 0.85), hotspot_category[spot_index], category)
        urgency = rng.choice(3, n, p=URGENCIES[1])
        source = rng.choice(len(SOURCES[0]), n, p=SOURCES[1])
        by_worker = source == 0
        q_accept = community_quality[community_of[grid]]

        # Where: at the hotspot (kept inside its grid) or anywhere in the grid.
        xy = np.empty((n, 2))
        spot = place.hotspots[spot_index]
        jitter = spot + rng.normal(0, 0.00012, (n, 2))
        for g in np.unique(grid):
            mine = np.flatnonzero(grid == g)
            cold = mine[~hot[mine]]
            if len(cold):
                xy[cold] = _random_points(rng, place.polygons[g], len(cold))
            warm = mine[hot[mine]]
            if len(warm):
                inside = shapely.contains_xy(place.polygons[g], jitter[warm, 0], jitter[warm, 1])
                xy[warm] = np.where(inside[:, None], jitter[warm], spot[warm])

        # The loop, in working seconds (W) on the calendar.
        w_created = table.seconds(created)
        voided = rng.random(n) < 0.03
        self_closed = ~voided & by_worker & cats.self_handling[category] & (rng.random(n) < 0.35) & (urgency < 2)
        emergency = ~voided & ~self_closed & (urgency == 2)
        normal = ~voided & ~self_closed & ~emergency
        late_accept = rng.random(n) < 0.03 + 0.18 * (1 - q_accept)
        accept_delay = np.where(late_accept, rng.uniform(2.05 * 3600, 12 * 3600, n),
                                np.minimum(_exp_hours(rng, 0.45, n), 1.95 * 3600))
        accepted = np.where(emergency, created, table.moment(w_created + accept_delay))
        void_at = table.moment(w_created + _exp_hours(rng, 0.5, n))
        returned = normal & (rng.random(n) < 0.06)
        wrong = rng.integers(n_departments, size=n)
        w_accepted = table.seconds(accepted)
        first_dispatch = table.moment(w_accepted + _exp_hours(rng, 0.3, n))
        return_at = table.moment(table.seconds(first_dispatch) + _exp_hours(rng, 1.0, n))
        dispatch_from = np.where(returned, table.seconds(return_at), w_accepted)
        dispatched = np.where(emergency, created, table.moment(dispatch_from + _exp_hours(rng, 0.3, n)))
        department = owner_index[category].copy()
        moved = rng.random(n) < 0.1
        department[moved] = rng.integers(n_departments, size=int(moved.sum()))
        wrong = np.where(wrong == department, (wrong + 1) % n_departments, wrong)
        hours = cats.hours[category, urgency]
        in_days = np.isnan(hours)
        w_dispatched = table.seconds(dispatched)
        due = np.where(in_days, table.close_after(dispatched, np.where(in_days, cats.days[category, urgency], 0)),
                       table.moment(w_dispatched + np.nan_to_num(hours) * 3600))
        extended = (normal | emergency) & (rng.random(n) < 0.05)
        due_extended = np.where(in_days, table.close_after(due, 1),
                                table.moment(table.seconds(due) + np.nan_to_num(hours) * 3600))
        limit = table.seconds(due) - w_dispatched
        q_handle = department_quality[department]
        fraction = np.exp(rng.normal(np.log(0.42) + 0.9 * (1 - q_handle), 0.55, n))
        final_due = np.where(extended, due_extended, due)
        w_final_due = table.seconds(final_due)
        w_handled = w_dispatched + fraction * limit
        w_handled = np.where(extended, w_dispatched + fraction * (w_final_due - w_dispatched), w_handled)
        signed = table.moment(w_dispatched + np.minimum(_exp_hours(rng, 0.2, n), 0.3 * (w_handled - w_dispatched)))
        request_at = table.moment((table.seconds(signed) + w_handled) / 2)
        reworked = rng.random(n) < 0.05
        first_handled = table.moment(w_dispatched + 0.6 * (w_handled - w_dispatched))
        handled = table.moment(w_handled)
        fed_back = handled + rng.uniform(300, 1800, n)
        first_feedback = first_handled + 600
        rework_at = table.moment(table.seconds(first_feedback) + _exp_hours(rng, 0.5, n))
        resigned = rework_at + 600
        # The supervision centre verifies within a tenth of the limit (the clock runs until it does).
        verified = table.moment(table.seconds(fed_back) + rng.uniform(0.02, 0.1, n) * (w_final_due - w_dispatched))
        closed = verified + rng.uniform(300, 3600, n)
        evaluated = closed + rng.uniform(0.3, 3.0, n) * 86400
        is_evaluated = rng.random(n) < 0.85
        self_closed_at = created + rng.uniform(600, 3 * 3600, n)
        late = handled > final_due
        satisfaction = 1 + np.where(late, rng.choice(5, n, p=SATISFACTION_LATE),
                                    rng.choice(5, n, p=SATISFACTION_ON_TIME))

        yield {
            "created": created, "grid": grid, "category": category, "urgency": urgency, "source": source, "xy": xy,
            "voided": voided, "void_at": void_at, "self_closed": self_closed, "self_closed_at": self_closed_at,
            "emergency": emergency, "accepted": accepted, "returned": returned, "first_dispatch": first_dispatch,
            "return_at": return_at, "wrong": wrong, "dispatched": dispatched, "department": department,
            "due": due, "extended": extended, "request_at": request_at, "final_due": final_due, "signed": signed,
            "reworked": reworked, "first_handled": first_handled, "first_feedback": first_feedback,
            "rework_at": rework_at, "resigned": resigned, "handled": handled, "fed_back": fed_back,
            "verified": verified, "closed": closed, "evaluated": evaluated, "is_evaluated": is_evaluated,
            "satisfaction": satisfaction, "w_dispatched": w_dispatched, "w_final_due": w_final_due,
            "table": table, "end": end_s}


# ---- From generated columns to rows ----------------------------------------------------------------------------

STATES = ["reported", "accepted", "dispatched", "signed", "handled", "fed_back", "verified", "closed", "evaluated"]


def steps(g):
    """The moments each event reached each step (NaN: never), and its state at the end."""
    n = len(g["created"])
    end = g["end"]
    loop = ~g["voided"] & ~g["self_closed"]
    at = {name: np.full(n, NAT) for name in STATES}
    at["reported"] = g["created"]
    for name, moments in (("accepted", g["accepted"]), ("dispatched", g["dispatched"]), ("signed", g["signed"]),
                          ("handled", g["handled"]), ("fed_back", g["fed_back"]), ("verified", g["verified"]),
                          ("closed", g["closed"])):
        at[name] = np.where(loop, moments, NAT)
    at["evaluated"] = np.where(loop & g["is_evaluated"], g["evaluated"], NAT)
    at["closed"] = np.where(g["self_closed"], g["self_closed_at"], at["closed"])
    at["evaluated"] = np.where(g["self_closed"] & g["is_evaluated"], g["self_closed_at"] + 86400, at["evaluated"])
    for name in STATES:
        at[name] = np.where(at[name] <= end, at[name], NAT)
    # A step is reached only when every step before it was (a later moment never comes before an earlier one).
    for earlier, later in itertools.pairwise(STATES):
        if later == "closed":
            at[later] = np.where(np.isnan(at[earlier]) & ~g["self_closed"], NAT, at[later])
        else:
            at[later] = np.where(np.isnan(at[earlier]), NAT, at[later])
    state = np.full(n, "reported", dtype=object)
    for name in STATES[1:]:
        state = np.where(~np.isnan(at[name]), name, state)
    voided_now = g["voided"] & (g["void_at"] <= end)
    state = np.where(voided_now, "voided", state)
    return at, state, voided_now


def clock_levels(g, at, state, red):
    """The level the clock job would have raised each event to by the end (or by its verification)."""
    table = g["table"]
    stop = np.where(np.isnan(at["verified"]), g["end"], at["verified"])
    running = ~np.isnan(at["dispatched"])
    used = table.seconds(np.where(running, stop, g["created"])) - g["w_dispatched"]
    limit = np.maximum(g["w_final_due"] - g["w_dispatched"], 1)
    fraction = np.where(running, used / limit, 0)
    level = np.where(fraction > red, "red", np.where(fraction > 1, "overdue",
                                                     np.where(fraction >= 0.7, "warning", "on_time")))
    reached = np.where(level == "red", red, np.where(level == "overdue", 1.0, 0.7))
    carded = table.moment(g["w_dispatched"] + reached * limit)
    return np.where(running, level, "on_time"), np.where(running & (level != "on_time"), carded, NAT)


def _iso(values):
    """UTC epoch seconds → COPY text (\\N for NaN)."""
    values = np.asarray(values, dtype=np.float64)
    missing = np.isnan(values)
    stamps = np.where(missing, 0, np.round(values * 1e6)).astype(np.int64).astype("datetime64[us]")
    text = np.datetime_as_string(stamps, unit="us").astype(object)
    text = text + "+00"
    text[missing] = "\\N"
    return text


def _ints(values, missing=None):
    text = np.asarray(values).astype(np.int64).astype(str).astype(object)
    if missing is not None:
        text[missing] = "\\N"
    return text


EVENT_COLUMNS = ["id", "case_number", "district_code", "grid_code", "source", "location", "address", "description",
                 "urgency", "emergency", "state", "version", "rework_count", "satisfaction", "dispatched_at", "due_at",
                 "closed_at", "created_at", "updated_at", "category_id", "department_id", "dispatcher_id",
                 "handler_id", "reporter_id", "verifier_id", "carded_at", "clock_level", "extension_count",
                 "extension_due_at", "extension_requested_by_id", "accepted_at", "handled_at", "holder_code",
                 "return_count", "routed_department_id", "paused_at"]


def event_rows(g, ids, numbers, place, cats, people):
    """The COPY text of the events of one generated month (columns EVENT_COLUMNS), and the steps for the timeline."""
    at, state, voided_now = steps(g)
    n = len(ids)
    level, carded = clock_levels(g, at, state, cats.red[g["category"]])
    code = np.array(place.codes, dtype=object)[g["grid"]]
    dispatched = ~np.isnan(at["dispatched"])
    handled = ~np.isnan(at["handled"])
    closed = ~np.isnan(at["closed"])
    department_id = np.array(people.departments)[g["department"]]
    handler = np.array([people.handler_of[d] for d in people.departments])[g["department"]]
    worker = people.worker_of_grid[g["grid"]]
    reporter = np.where(g["source"] == 0, worker, people.command)
    urgency = np.array(URGENCIES[0], dtype=object)[g["urgency"]]
    extended_now = g["extended"] & dispatched & (g["request_at"] + 3600 <= g["end"])
    due = np.where(extended_now, g["final_due"], g["due"])
    reworked_now = g["reworked"] & handled
    # Actions done: report, accept, (dispatch, return), dispatch, sign, (ext. request + approval), (handle, feedback,
    # rework, sign), handle, feedback, verify, close, evaluate; voided: report, void; self-closed: report, close, eval.
    loop_steps = sum((~np.isnan(at[name])).astype(int) for name in STATES[1:])
    version = 1 + loop_steps + 2 * (g["returned"] & dispatched) + 2 * extended_now + 4 * reworked_now
    version = np.where(voided_now, 2, version)
    x, y = g["xy"][:, 0], g["xy"][:, 1]
    streets = np.array(STREETS, dtype=object)[(np.floor(x * 1e4) + np.floor(y * 1e4)).astype(np.int64) % len(STREETS)]
    numbers_text = (np.floor(x * 1e5).astype(np.int64) % 180 + 1).astype(str).astype(object)
    address = streets + numbers_text + "号附近"
    description = np.array(cats.names, dtype=object)[g["category"]] + "：" + address
    location = np.array([f"SRID=4326;POINT({a:.7f} {b:.7f})" for a, b in zip(x, y, strict=True)], dtype=object)
    emergency = g["urgency"] == 2
    holder = np.array([c[:6] if e else c[:12] for c, e in zip(code, emergency, strict=True)], dtype=object)
    last = np.nanmax(np.column_stack([at[name] for name in STATES] + [np.where(voided_now, g["void_at"], NAT)]),
                     axis=1)
    columns = {
        "id": _ints(ids), "case_number": numbers, "district_code": np.array([c[:6] for c in code], dtype=object),
        "grid_code": code, "source": np.array(SOURCES[0], dtype=object)[g["source"]], "location": location,
        "address": address, "description": description, "urgency": urgency,
        "emergency": np.where(emergency, "t", "f").astype(object), "state": state.astype(object),
        "version": _ints(version), "rework_count": _ints(reworked_now.astype(int)),
        "satisfaction": _ints(g["satisfaction"], missing=np.isnan(at["evaluated"])),
        "dispatched_at": _iso(at["dispatched"]), "due_at": _iso(np.where(dispatched, due, NAT)),
        "closed_at": _iso(at["closed"]), "created_at": _iso(g["created"]), "updated_at": _iso(last),
        "category_id": _ints(cats.ids[g["category"]]),
        "department_id": _ints(department_id, missing=~dispatched),
        "dispatcher_id": _ints(np.full(n, people.command), missing=~dispatched | emergency),
        "handler_id": _ints(np.where(g["self_closed"], worker, handler), missing=~handled & ~g["self_closed"]
                            | (g["self_closed"] & ~closed)),
        "reporter_id": _ints(reporter),
        "verifier_id": _ints(np.full(n, people.supervision), missing=np.isnan(at["verified"])),
        "carded_at": _iso(carded), "clock_level": level.astype(object),
        "extension_count": _ints(extended_now.astype(int)), "extension_due_at": np.full(n, "\\N", dtype=object),
        "extension_requested_by_id": np.full(n, "\\N", dtype=object), "accepted_at": _iso(at["accepted"]),
        "handled_at": _iso(np.where(g["self_closed"], at["closed"], at["handled"])), "holder_code": holder,
        "return_count": _ints((g["returned"] & dispatched).astype(int)),
        "routed_department_id": _ints(np.array(people.departments)[g["department"]]),
        "paused_at": np.full(n, "\\N", dtype=object),
    }
    text = "".join("\t".join(row) + "\n" for row in zip(*(columns[c] for c in EVENT_COLUMNS), strict=True))
    return text, at, state, voided_now, extended_now, reworked_now


def timeline_rows(ids, g, at, voided_now, extended_now, reworked_now, people):
    """COPY text of the timeline (event_id, actor_id, at, action, from_state, to_state, note) of one month."""
    lines = []
    command, supervision = str(people.command), str(people.supervision)
    handlers = np.array([people.handler_of[d] for d in people.departments])[g["department"]].astype(str)
    workers = people.worker_of_grid[g["grid"]].astype(str)
    stamps = {name: _iso(value) for name, value in
              [*((s, at[s]) for s in STATES), ("void_at", g["void_at"]), ("first_dispatch", g["first_dispatch"]),
               ("return_at", g["return_at"]), ("request_at", g["request_at"]), ("first_handled", g["first_handled"]),
               ("first_feedback", g["first_feedback"]), ("rework_at", g["rework_at"]), ("resigned", g["resigned"])]}
    grid_worker = g["source"] == 0
    for i, event in enumerate(ids.tolist()):
        e = str(event)
        reporter = workers[i] if grid_worker[i] else command
        rows = [(reporter, stamps["reported"][i], "report", "", "reported", "")]
        if voided_now[i]:
            rows.append((command, stamps["void_at"][i], "void", "reported", "voided", "重复上报或不属受理范围"))
        elif g["self_closed"][i]:
            if not np.isnan(at["closed"][i]):
                rows.append((workers[i], stamps["closed"][i], "self_close", "reported", "closed", ""))
            if not np.isnan(at["evaluated"][i]):
                rows.append((supervision, stamps["evaluated"][i], "evaluate", "closed", "evaluated", ""))
        else:
            emergency = g["urgency"][i] == 2
            actor = "\\N" if emergency else command
            h = handlers[i]
            if not np.isnan(at["accepted"][i]):
                rows.append((actor, stamps["accepted"][i], "accept", "reported", "accepted", ""))
            if not np.isnan(at["dispatched"][i]):
                if g["returned"][i]:
                    rows.append((command, stamps["first_dispatch"][i], "dispatch", "accepted", "dispatched", ""))
                    rows.append((str(people.handler_of[people.departments[g["wrong"][i]]]), stamps["return_at"][i],
                                 "return", "dispatched", "accepted", "不属本部门职责"))
                rows.append((actor, stamps["dispatched"][i], "dispatch", "accepted", "dispatched", ""))
            if not np.isnan(at["signed"][i]):
                rows.append((h, stamps["signed"][i], "sign", "dispatched", "signed", ""))
            if extended_now[i]:
                rows.append((h, stamps["request_at"][i], "request_extension", "signed", "signed", "需协调相关单位"))
                rows.append((command, stamps["request_at"][i], "approve_extension", "signed", "signed", ""))
            if reworked_now[i]:
                rows.append((h, stamps["first_handled"][i], "handle", "signed", "handled", ""))
                rows.append((h, stamps["first_feedback"][i], "feedback", "handled", "fed_back", ""))
                rows.append((supervision, stamps["rework_at"][i], "rework", "fed_back", "dispatched", "整改不到位"))
                rows.append((h, stamps["resigned"][i], "sign", "dispatched", "signed", ""))
            for name, actor_id, before in (("handled", h, "signed"), ("fed_back", h, "handled"),
                                           ("verified", supervision, "fed_back"), ("closed", supervision, "verified"),
                                           ("evaluated", supervision, "closed")):
                if not np.isnan(at[name][i]):
                    action = {"handled": "handle", "fed_back": "feedback", "verified": "verify", "closed": "close",
                              "evaluated": "evaluate"}[name]
                    rows.append((actor_id, stamps[name][i], action, before, name, ""))
        lines.extend(f"{e}\t{actor}\t{moment}\t{action}\t{before}\t{after}\t{note}\n"
                     for actor, moment, action, before, after, note in rows)
    return "".join(lines), len(lines)


# ---- Loading ------------------------------------------------------------------------------------------------------

def already_loaded():
    from .models import Event

    return Event.objects.filter(reporter__username__startswith=USER_PREFIX).exists()


def _reserve_ids(cursor, table, count):
    cursor.execute(f"SELECT pg_get_serial_sequence('{table}', 'id')")
    sequence = cursor.fetchone()[0]
    cursor.execute("SELECT nextval(%s)", [sequence])
    first = cursor.fetchone()[0]
    if count > 1:
        cursor.execute("SELECT setval(%s, %s)", [sequence, first + count - 1])
    return np.arange(first, first + count, dtype=np.int64)


def _case_numbers(cursor, district, created, offset):
    """`<district>-<yyyymmdd>-<sequence>` per local day, after the numbers already handed out that day; the day's
    CaseSequence moves on past them, so the next reported event does not collide."""
    from .models import CaseSequence

    local_days = np.floor((created + offset) / 86400).astype(np.int64)
    days = [datetime.date(1970, 1, 1) + datetime.timedelta(days=int(d)) for d in np.unique(local_days)]
    table = CaseSequence._meta.db_table
    cursor.execute(f"SELECT day, last FROM {table} WHERE district_code = %s AND day = ANY(%s)", [district, days])
    used = dict(cursor.fetchall())
    numbers = np.empty(len(created), dtype=object)
    updates = []
    for d in np.unique(local_days):
        day = datetime.date(1970, 1, 1) + datetime.timedelta(days=int(d))
        mine = np.flatnonzero(local_days == d)
        first = used.get(day, 0) + 1
        numbers[mine] = [f"{district}-{day:%Y%m%d}-{first + k:05d}" for k in range(len(mine))]
        updates.append((district, day, first + len(mine) - 1))
    cursor.executemany(
        f"INSERT INTO {table} (district_code, day, last) VALUES (%s, %s, %s) "
        f"ON CONFLICT (district_code, day) DO UPDATE SET last = greatest({table}.last, EXCLUDED.last)", updates)
    return numbers


def write(cursor, *, place, cats, people, end, count, seed, district, timeline=True, progress=None):
    """Generates and COPYs the events (and their timelines) month by month; returns (events, timeline rows)."""
    from .models import Event, EventTimeline

    say = progress or (lambda message: None)
    events_written = timeline_written = 0
    for g in generate(place=place, cats=cats, people=people, end=end, count=count, seed=seed):
        n = len(g["created"])
        ids = _reserve_ids(cursor, Event._meta.db_table, n)
        numbers = _case_numbers(cursor, district, g["created"], g["table"].offset)
        text, at, _state, voided_now, extended_now, reworked_now = event_rows(g, ids, numbers, place, cats, people)
        with cursor.copy(f"COPY {Event._meta.db_table} ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:
            copy.write(text)
        events_written += n
        if timeline:
            lines, rows = timeline_rows(ids, g, at, voided_now, extended_now, reworked_now, people)
            with cursor.copy(f"COPY {EventTimeline._meta.db_table} (event_id, actor_id, at, action, from_state, "
                             "to_state, note) FROM STDIN") as copy:
                copy.write(lines)
            timeline_written += rows
        say(f"{events_written} events")
    return events_written, timeline_written


def load(*, seed=DEFAULT_SEED, count=DEFAULT_COUNT, end=None, progress=None):
    """Loads the demo events and rebuilds the KPI rollups; returns counts and seconds. Skips ({"skipped": True})
    when demo events exist."""
    from wangge.geo.models import Area
    from wangge.kpi import rollups

    from .models import Event, EventTimeline

    if already_loaded():
        return {"skipped": True}
    started = time.perf_counter()
    district = Area.objects.current().filter(level="district").values_list("code", flat=True).first()
    if district is None:
        raise ValueError("No active district: load the demo district first.")
    end = (end or timezone.now()).replace(microsecond=0)
    rng = np.random.default_rng([seed, 99])
    place = grids(rng, district)
    cats = categories()
    with transaction.atomic(), connection.cursor() as wrapper:
        cursor = wrapper.cursor
        # The change-log (and KPI) triggers are off inside this transaction only; ALTER TABLE also locks the tables,
        # so a second loader waits here and then skips. Foreign keys are checked at once (ALTER TABLE refuses while
        # deferred checks are pending).
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for model in (Event, EventTimeline):
            cursor.execute(f"ALTER TABLE {model._meta.db_table} DISABLE TRIGGER USER")
        if already_loaded():
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            return {"skipped": True}
        people = actors(rng, place, district)
        events, timeline = write(cursor, place=place, cats=cats, people=people, end=end, count=count, seed=seed,
                                 district=district, progress=progress)
        for model in (Event, EventTimeline):
            cursor.execute(f"ALTER TABLE {model._meta.db_table} ENABLE TRIGGER USER")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        loaded = time.perf_counter() - started
        rollups.rebuild()
    return {"events": events, "timeline": timeline, "load_s": round(loaded, 1),
            "total_s": round(time.perf_counter() - started, 1)}
