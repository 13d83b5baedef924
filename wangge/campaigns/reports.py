"""Daily reports and statistics tables of a screening campaign (issue 5 §4; docs/campaigns-coverage.md).

Daily reports (日报): each target grid reports every day of the campaign. The report for day D holds the counts of
D's visits in the grid, filled from the visits themselves (nobody types them), and is due at the campaign's daily
deadline on D + 1 (08:00 the next morning, say); after that it is marked late. A day without any visit needs an
explicit zero report (零报告) — and a zero report is refused for a day that had visits. One report per grid and
day: submitting again before the deadline updates it (counts refilled from the visits made since); after the
deadline it stands as it is. After each deadline a periodic job tells the grid chief and the community staff of
every grid whose report is missing (once per campaign and day).

Statistics tables (统计表): per subdistrict (or community) with a cut-off date, the Yantai-style table of DOMAIN.md
§7 — households visited, persons screened (摸排总人数), arrivals (来返人数), contacts, abnormal health, home and
centralized isolation — each "that day" and "cumulative" up to the cut-off. A household counts once: by its latest
call in the round made on or before the cut-off day (cumulative), and in "that day" when that call was made on the
cut-off day. The counts come from Visit.stats (tagged in the form, no personal data; kept after the purge).
"""

from collections import defaultdict
from datetime import date, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from wangge.accounts.roles import VIEW_CAMPAIGN, VISIT_HOUSEHOLD
from wangge.core.errors import DomainError
from wangge.core.scope import ensure_code_in_scope, scope_codes, scope_sql

from .models import (
    CampaignState,
    CoverageCount,
    DailyReport,
    HouseholdScreening,
    MissingReportNotice,
    Visit,
    VisitMember,
    VisitStatus,
)

MAX_NOTE = 1000
REPORTING_STATES = (CampaignState.RUNNING, CampaignState.CLOSED)
# The statistics table's counts, in the table's order: key → (English label, Chinese header). `households` and
# `persons` are the visits' own counts; the others are the form's `stat` tags (household_form.py).
STAT_COLUMNS = {
    "households": (gettext_lazy("Households visited"), "摸排户数"),
    "persons": (gettext_lazy("Persons screened"), "摸排总人数"),
    "arrival": (gettext_lazy("Arrivals"), "来返人数"),
    "contact": (gettext_lazy("Contacts of confirmed cases"), "密切接触人数"),
    "abnormal": (gettext_lazy("Abnormal health"), "健康异常人数"),
    "isolation_home": (gettext_lazy("Home isolation"), "居家隔离人数"),
    "isolation_central": (gettext_lazy("Centralized isolation"), "集中隔离人数"),
}
STAT_LEVELS = {"subdistrict": 9, "community": 12}


# ---- dates ---------------------------------------------------------------------------------------------------------

def parse_day(value, field="day"):
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except (TypeError, ValueError) as exc:
        raise DomainError(_("Give a date as YYYY-MM-DD."), field=field) from exc


def _day_span(day):
    """The aware moments [start, end) of a local day."""
    start = timezone.make_aware(datetime.combine(day, datetime.min.time()))
    return start, timezone.make_aware(datetime.combine(day + timedelta(days=1), datetime.min.time()))


def report_deadline(campaign, day):
    """The report for `day` is due at the campaign's daily deadline on the next day (local time)."""
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), campaign.daily_deadline))


def _check_campaign_day(campaign, day, field="day"):
    if day < campaign.starts_on or day > campaign.ends_on:
        raise DomainError(_("%(day)s lies outside the campaign (%(start)s to %(end)s).") % {
            "day": day, "start": campaign.starts_on, "end": campaign.ends_on}, field=field)
    if day > timezone.localdate():
        raise DomainError(_("%(day)s lies in the future.") % {"day": day}, field=field)


# ---- daily reports -------------------------------------------------------------------------------------------------

def day_counts(campaign, grid_code, day):
    """{"calls", "visited", "flagged_members"} of `day`'s visits in the grid: every call; the households found
    (each once); the flagged members of each household's latest call of the day."""
    start, end = _day_span(day)
    # every round named, so the (campaign, round, grid_code) index finds the grid's visits
    visits = Visit.objects.filter(campaign=campaign, round__in=range(1, campaign.current_round + 1),
                                  grid_code=grid_code, visited_at__gte=start, visited_at__lt=end)
    latest, calls = {}, 0
    for visit_id, household, status in visits.order_by("visited_at", "id").values_list("id", "household_id",
                                                                                       "status"):
        latest[household or f"visit {visit_id}"] = (visit_id, status)  # a pushed row's call has no household
        calls += 1
    found = [visit_id for visit_id, status in latest.values() if status == VisitStatus.VISITED]
    flagged = VisitMember.objects.filter(visit_id__in=found, flagged=True).count() if found else 0
    return {"calls": calls, "visited": len(found), "flagged_members": flagged}


def _grid(campaign, grid_code, actor):
    grid_code = str(grid_code or "").strip()
    if len(grid_code) != 15 or not grid_code.isdigit():
        raise DomainError(_("A grid code has 15 digits."), field="grid_code")
    ensure_code_in_scope(actor, VISIT_HOUSEHOLD, grid_code)  # 404 outside the actor's grids
    if not any(grid_code.startswith(code) for code in campaign.target_codes):
        raise DomainError(_("Not a grid of the campaign's targets."), field="grid_code")
    return grid_code


@transaction.atomic
def do_submit_daily_report(campaign, *, actor, grid_code, day, zero=False, note=""):
    """The grid's report for `day`, its counts filled from the day's visits. A zero report only for a day without
    visits, and a day without visits only as a zero report (400 either way). Again before the deadline: the report
    is updated; after it: 400. Late when submitted after the deadline (report_deadline)."""
    if not scope_codes(actor, VISIT_HOUSEHOLD):
        raise DomainError(_("Your role may not submit daily reports."), code="forbidden")
    grid_code = _grid(campaign, grid_code, actor)
    if campaign.state not in REPORTING_STATES:
        raise DomainError(_("The campaign is %(state)s: it takes no reports.") % {
            "state": campaign.get_state_display()}, field="campaign", code="invalid_transition")
    day = parse_day(day)
    _check_campaign_day(campaign, day)
    if not isinstance(zero, bool):
        raise DomainError(_("true or false."), field="zero")
    note = str(note or "").strip()
    if len(note) > MAX_NOTE:
        raise DomainError(_("At most %(n)s characters.") % {"n": MAX_NOTE}, field="note")
    with connection.cursor() as cursor:  # two submissions of one grid's day at once: the second waits here
        cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [campaign.pk, f"report:{grid_code}:{day}"])
    counts = day_counts(campaign, grid_code, day)
    if zero and counts["calls"]:
        raise DomainError(_("%(n)s visits were recorded that day: a zero report is for a day without any.") % {
            "n": counts["calls"]}, field="zero")
    if not zero and not counts["calls"]:
        raise DomainError(_("No visit was recorded that day: submit an explicit zero report."), field="zero")
    now, deadline = timezone.now(), report_deadline(campaign, day)
    report = DailyReport.objects.select_for_update().filter(campaign=campaign, grid_code=grid_code, day=day).first()
    if report is not None and now > deadline:
        raise DomainError(_("This day's report was submitted already; it could be corrected until %(deadline)s.")
                          % {"deadline": timezone.localtime(deadline).strftime("%Y-%m-%d %H:%M")},
                          field="day", code="duplicate")
    if report is None:
        report = DailyReport(campaign=campaign, grid_code=grid_code, day=day)
    report.zero, report.visited, report.flagged_members = zero, counts["visited"], counts["flagged_members"]
    report.note, report.submitted_by, report.late = note, actor, now > deadline
    report.submitted_at = now
    report.save()
    return report


def visible_reports(user, campaign):
    return DailyReport.objects.restrict(user, VIEW_CAMPAIGN).filter(campaign=campaign)


def expected_grids(campaign):
    """The grids that owe a daily report: the current round's target grids with registered households."""
    return CoverageCount.objects.filter(campaign=campaign, round=campaign.current_round, registered__gt=0)


def missing_reports(campaign, day, *, user=None):
    """The grids (codes, sorted) whose report for `day` is missing, inside `user`'s VIEW_CAMPAIGN scope when given.
    400 for a day outside the campaign or in the future."""
    day = parse_day(day)
    _check_campaign_day(campaign, day)
    return _missing(campaign, day, user)


def _missing(campaign, day, user=None):
    grids = expected_grids(campaign)
    if user is not None:
        grids = grids.restrict(user, VIEW_CAMPAIGN)
    submitted = DailyReport.objects.filter(campaign=campaign, day=day).values("grid_code")
    return sorted(grids.exclude(grid_code__in=submitted).values_list("grid_code", flat=True))


def _due_day(campaign, now):
    """The latest day whose report has fallen due by `now` (None before the first one)."""
    local = timezone.localtime(now)
    day = local.date() - timedelta(days=1)
    if local.time() < campaign.daily_deadline:
        day -= timedelta(days=1)
    first = max(campaign.starts_on, timezone.localtime(campaign.started_at).date() if campaign.started_at
                else campaign.starts_on)
    day = min(day, campaign.ends_on)
    return day if day >= first else None


def notify_missing_reports(now=None):
    """The periodic job's work: for each running campaign, the latest day whose deadline has passed, once — every
    grid still missing its report is told through its grid chief and its community's staff (one notification per
    person, naming their grids). Returns {campaign id: grids missing} of the campaigns handled this time."""
    from django.db import IntegrityError

    from wangge.cases.chain import GRID_CHIEF, chain_users
    from wangge.cases.models import Notification
    from wangge.cases.notifications import notify

    from .models import Campaign

    now = now or timezone.now()
    handled = {}
    for campaign in Campaign.objects.filter(state=CampaignState.RUNNING).order_by("pk"):
        day = _due_day(campaign, now)
        if day is None or MissingReportNotice.objects.filter(campaign=campaign, day=day).exists():
            continue
        try:
            with transaction.atomic():
                notice = MissingReportNotice.objects.create(campaign=campaign, day=day)
                grids = _missing(campaign, day)
                chain = chain_users(grids, [GRID_CHIEF, "community_staff"]) if grids else {}
                by_user = defaultdict(list)
                for grid in grids:
                    for user_id in chain[grid]:
                        by_user[user_id].append(grid)
                by_grids = defaultdict(list)
                for user_id, codes in by_user.items():
                    by_grids[tuple(codes)].append(user_id)
                for codes, users in by_grids.items():
                    title = _("Daily report missing: %(campaign)s, %(day)s") % {"campaign": campaign.name,
                                                                                 "day": day.isoformat()}
                    body = _("No report for %(day)s from grid(s) %(grids)s; it was due %(deadline)s.") % {
                        "day": day.isoformat(), "grids": ", ".join(codes),
                        "deadline": timezone.localtime(report_deadline(campaign, day)).strftime("%Y-%m-%d %H:%M")}
                    notify(users, Notification.Kind.OTHER, None, title, body)
                notice.grids, notice.recipients = len(grids), len(by_user)
                notice.save(update_fields=["grids", "recipients"])
        except IntegrityError:  # another run of the job got there first
            continue
        handled[campaign.pk] = len(grids)
    return handled


# ---- statistics tables ---------------------------------------------------------------------------------------------

def parse_cutoff(value):
    """The cut-off day (default today): 400 when malformed or in the future."""
    if value in (None, ""):
        return timezone.localdate()
    cutoff = parse_day(value, "cutoff")
    if cutoff > timezone.localdate():
        raise DomainError(_("The cut-off date lies in the future."), field="cutoff")
    return cutoff


FORM_STATS = [key for key in STAT_COLUMNS if key not in ("households", "persons")]


def _sums_select(width):
    """The SELECT list summing visits (aliased v) per area of `width` digits: households, persons, each form count."""
    return (f"left(v.grid_code, {int(width)}), count(*), coalesce(sum(v.members), 0), "
            + ", ".join("coalesce(sum((v.stats ->> %s)::int), 0)" for _key in FORM_STATS))


# The cut-off day's calls that are their household's standing (the visits' time index, a probe per call).
DAY_SQL = f"""
SELECT {{select}}
FROM {Visit._meta.db_table} v
CROSS JOIN LATERAL (SELECT 1 FROM {HouseholdScreening._meta.db_table} s WHERE s.last_visit_id = v.id LIMIT 1) standing
WHERE v.campaign_id = %s AND v.round = %s AND v.visited_at >= %s AND v.visited_at < %s AND v.status = %s{{scope}}
GROUP BY 1"""
# Each household's latest recorded call made by the end of the cut-off day, for a cut-off in the past.
AS_OF_SQL = f"""
SELECT {{select}}, v.visited_at >= %s
FROM (SELECT DISTINCT ON (household_id) grid_code, visited_at, status, members, stats
      FROM {Visit._meta.db_table} WHERE campaign_id = %s AND round = %s AND visited_at < %s
      AND household_id IS NOT NULL{{scope}} ORDER BY household_id, id DESC) v
WHERE v.status = %s
GROUP BY 1, {len(FORM_STATS) + 4}"""


def _zeros():
    return {key: {"day": 0, "cumulative": 0} for key in STAT_COLUMNS}


def _stat_sums(campaign, round_number, codes, cutoff, width):
    """{area code: {key: {"day", "cumulative"}}} of the round's visits inside `codes`, as of the end of `cutoff`.

    Each household counts by its standing as of then: its latest recorded call made by the end of the cut-off day
    (the ledger's standing). While no call of the round was made after that day — a cut-off of today — the
    cumulative counts are the ledger rows' (CoverageCount: visited, members, stats) and only the day's calls are
    read; for an earlier cut-off, the round's visits up to it are read (DISTINCT ON the household)."""
    start, end = _day_span(cutoff)
    sums = defaultdict(_zeros)

    def add(area, values, part):
        for key, value in zip(STAT_COLUMNS, values, strict=True):
            sums[area][key][part] += value

    later = Visit.objects.filter(campaign=campaign, round=round_number, visited_at__gte=end).exists()
    with connection.cursor() as cursor:
        if not later:
            rows = CoverageCount.objects.filter(campaign=campaign, round=round_number).within(codes)
            for grid, visited, members, stats in rows.values_list("grid_code", "visited", "members", "stats"):
                add(grid[:width], [visited, members, *((stats or {}).get(key, 0) for key in FORM_STATS)],
                    "cumulative")
            scope, scope_params = scope_sql(codes, "v.grid_code")
            cursor.execute(DAY_SQL.format(select=_sums_select(width), scope=scope),
                           [*FORM_STATS, campaign.pk, round_number, start, end, VisitStatus.VISITED, *scope_params])
            for area, *values in cursor.fetchall():
                add(area, values, "day")
        else:
            scope, scope_params = scope_sql(codes, "grid_code")
            cursor.execute(AS_OF_SQL.format(select=_sums_select(width), scope=scope),
                           [*FORM_STATS, start, campaign.pk, round_number, end, *scope_params, VisitStatus.VISITED])
            for area, *values, on_day in cursor.fetchall():
                add(area, values, "cumulative")
                if on_day:
                    add(area, values, "day")
    return sums


def statistics(campaign, *, user, cutoff=None, level="subdistrict", round=None):
    """The statistics table for `user` (VIEW_CAMPAIGN or VIEW_AGGREGATES scope: counts only): one row per area of
    `level` with counts inside the scope, each {"day": n, "cumulative": n} for the STAT_COLUMNS keys, and the
    totals. 400 for a malformed or future cut-off or an unknown level or round."""
    from wangge.geo.models import Area

    from .ledger import ledger_codes, resolve_round

    cutoff = parse_cutoff(cutoff)
    if level not in STAT_LEVELS:
        raise DomainError(_("Choose a level: %(levels)s.") % {"levels": ", ".join(STAT_LEVELS)}, field="level")
    round_number = resolve_round(campaign, round)
    codes = ledger_codes(user)
    width = STAT_LEVELS[level]
    sums = _stat_sums(campaign, round_number, codes, cutoff, width) if codes and round_number else {}
    # Every area of the level with target grids in scope gets its row, zeros included.
    grids = CoverageCount.objects.filter(campaign=campaign, round=round_number).within(codes)
    for area in {grid[:width] for grid in grids.values_list("grid_code", flat=True)}:
        sums.setdefault(area, _zeros())
    total = {key: {part: sum(row[key][part] for row in sums.values()) for part in ("day", "cumulative")}
             for key in STAT_COLUMNS}
    names = dict(Area.objects.current().filter(level=level, code__in=list(sums)).values_list("code", "name"))
    return {
        "campaign": campaign.pk, "name": campaign.name, "round": round_number or None, "cutoff": cutoff,
        "level": level, "columns": [{"key": key, "label": str(label), "header": header}
                                    for key, (label, header) in STAT_COLUMNS.items()],
        "rows": [{"code": code, "name": names.get(code, ""), "counts": sums[code]} for code in sorted(sums)],
        "totals": total,
    }

