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

import json
from collections import defaultdict
from datetime import date, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from wangge.accounts.roles import VIEW_CAMPAIGN, VISIT_HOUSEHOLD
from wangge.core.errors import DomainError
from wangge.core.scope import EVERYWHERE, ensure_code_in_scope, scope_codes

from .models import (
    CampaignState,
    CoverageCount,
    DailyReport,
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


def _stat_rows(campaign, round_number, codes, cutoff):
    """[(grid code, visited_at, status, members, stats)] of each household's latest call in the round made on or
    before the cut-off day, inside `codes` (EVERYWHERE or prefixes)."""
    _start, end = _day_span(cutoff)
    params = [campaign.pk, round_number, end]
    scope = ""
    if codes is not EVERYWHERE:
        scope = " AND (" + " OR ".join(["grid_code LIKE %s"] * len(codes)) + ")"
        params += [code + "%" for code in codes]
    sql = (f"SELECT DISTINCT ON (household_id) grid_code, visited_at, status, members, stats "
           f"FROM {Visit._meta.db_table} WHERE campaign_id = %s AND round = %s AND visited_at < %s "
           f"AND household_id IS NOT NULL{scope} ORDER BY household_id, visited_at DESC, id DESC")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def statistics(campaign, *, user, cutoff=None, level="subdistrict", round=None):
    """The statistics table for `user` (VIEW_CAMPAIGN or VIEW_AGGREGATES scope: counts only): one row per area of
    `level` with counts inside the scope, each {"day": n, "cumulative": n} for the STAT_COLUMNS keys, and the
    totals. 400 for a malformed or future cut-off or an unknown level or round."""
    from wangge.geo.models import Area

    from .ledger import ledger_codes, resolve_round, within_scope

    cutoff = parse_cutoff(cutoff)
    if level not in STAT_LEVELS:
        raise DomainError(_("Choose a level: %(levels)s.") % {"levels": ", ".join(STAT_LEVELS)}, field="level")
    round_number = resolve_round(campaign, round)
    codes = ledger_codes(user)
    start, _end = _day_span(cutoff)
    width = STAT_LEVELS[level]

    def zeros():
        return {key: {"day": 0, "cumulative": 0} for key in STAT_COLUMNS}

    # Every area of the level with target grids in scope gets its row, zeros included.
    grids = within_scope(CoverageCount.objects.filter(campaign=campaign, round=round_number), "grid_code", codes,
                         None) if codes else CoverageCount.objects.none()
    sums = {code: zeros() for code in {grid[:width] for grid in grids.values_list("grid_code", flat=True)}}
    total = zeros()
    rows = _stat_rows(campaign, round_number, codes, cutoff) if codes and round_number else []
    for grid_code, visited_at, status, members, stats in rows:
        if status != VisitStatus.VISITED:
            continue
        # Django's connection hands jsonb over as text (its JSONField decodes it itself)
        stats = json.loads(stats) if isinstance(stats, str) else stats
        counts = {"households": 1, "persons": members, **(stats or {})}
        today = visited_at >= start
        for target in (sums.setdefault(grid_code[:width], zeros()), total):
            for key in STAT_COLUMNS:
                value = counts.get(key, 0)
                target[key]["cumulative"] += value
                if today:
                    target[key]["day"] += value
    names = dict(Area.objects.current().filter(code__in=list(sums)).values_list("code", "name"))
    return {
        "campaign": campaign.pk, "name": campaign.name, "round": round_number or None, "cutoff": cutoff,
        "level": level, "columns": [{"key": key, "label": str(label), "header": header}
                                    for key, (label, header) in STAT_COLUMNS.items()],
        "rows": [{"code": code, "name": names.get(code, ""), "counts": sums[code]} for code in sorted(sums)],
        "totals": total,
    }

