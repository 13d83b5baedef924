"""The coverage ledger of a screening campaign (issue 5 §4; docs/campaigns-coverage.md): per grid, community,
subdistrict or district — households registered, visited, absent, refused, moved out, with a revisit scheduled,
pending, revisits due; persons screened against persons registered; flagged persons; the coverage rate; and the
"四清" status of each area.

Read from the ledger rows the visit service keeps per grid and round (CoverageCount: one row per grid, updated with
every visit), summed by code prefix — a few thousand rows for a whole district, not hundreds of thousands of
visits. Three small per-grid counts come from partial indexes: the standing revisits that are due, the standing
calls not placed inside their grid (位置清), and the flags whose event is not yet in hand (管控清).

Who sees what: the rows inside the user's VIEW_CAMPAIGN scope, and inside their VIEW_AGGREGATES scope (leaders):
the ledger holds counts only, never a person.
"""

from django.db import connection
from django.db.models import Count, Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from wangge.accounts.roles import VIEW_AGGREGATES, VIEW_CAMPAIGN
from wangge.cases.models import Event, EventState
from wangge.core.errors import DomainError
from wangge.core.scope import EVERYWHERE, any_scope_codes, scope_sql
from wangge.geo import codes as area_codes

from .models import Campaign, CoverageCount, FlagHit, FlagRule, HouseholdScreening, Visit, VisitStatus

LEVELS = {area_codes.GRID: 15, area_codes.COMMUNITY: 12, area_codes.SUBDISTRICT: 9, area_codes.DISTRICT: 6}
# Households by their standing in the round (pending is what is left of `registered`).
STANDINGS = ("visited", "absent", "refused", "moved_out", "revisit")
COUNTS = ("registered", *STANDINGS, "pending", "revisits_due", "members", "registered_persons", "flagged_members",
          "flags_open", "outside_grid", "unlocated")
CLEAR = ("households", "persons", "location", "control")  # 人数清, 人头清, 位置清, 管控清
# The per-grid figures a choropleth may colour by: metric → (label, unit).
METRICS = {
    "coverage": (gettext_lazy("Coverage"), "percent"),
    "pending": (gettext_lazy("Households pending"), "count"),
    "visited": (gettext_lazy("Households visited"), "count"),
    "revisits_due": (gettext_lazy("Revisits due"), "count"),
    "members": (gettext_lazy("Persons screened"), "count"),
    "flagged_members": (gettext_lazy("Flagged persons"), "count"),
    "four_clear": (gettext_lazy("All four clear (四清)"), "flag"),
}


# ---- access --------------------------------------------------------------------------------------------------------

def ledger_codes(user):
    """The area codes whose ledger rows `user` may read: VIEW_CAMPAIGN or VIEW_AGGREGATES (counts only either way),
    EVERYWHERE, or an empty tuple."""
    return any_scope_codes(user, VIEW_CAMPAIGN, VIEW_AGGREGATES)


def visible_campaigns(user):
    """The campaigns whose ledger `user` may read: those touching their VIEW_CAMPAIGN or VIEW_AGGREGATES scope."""
    return (Campaign.objects.visible_to(user, VIEW_CAMPAIGN) | Campaign.objects.visible_to(user, VIEW_AGGREGATES))


def ledger_campaign(user, pk):
    """The campaign `pk` if its ledger is the user's to read, else Http404 (missing and forbidden alike)."""
    if not str(pk).isdigit():
        raise Http404
    campaign = visible_campaigns(user).filter(pk=int(pk)).first()
    if campaign is None:
        raise Http404
    return campaign


def resolve_round(campaign, value):
    """The round asked for (default: the current one): 400 for anything but one of the campaign's rounds."""
    if value in (None, ""):
        return campaign.current_round
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= campaign.current_round:
        if campaign.current_round:
            message = _("Choose a round from 1 to %(n)s.") % {"n": campaign.current_round}
        else:
            message = _("The campaign has not started: it has no rounds yet.")
        raise DomainError(message, field="round")
    return int(text)


def resolve_level(value):
    level = str(value or area_codes.GRID).strip()
    if level not in LEVELS:
        raise DomainError(_("Choose a level: %(levels)s.") % {"levels": ", ".join(LEVELS)}, field="level")
    return level


def resolve_area(user, value, level=area_codes.GRID):
    """The area to read (a 6/9/12/15-digit code, or None for the whole scope): 400 for a malformed code or one finer
    than `level`, 404 for an area that neither lies in the user's scope nor contains part of it."""
    if value in (None, ""):
        return None
    code = str(value).strip()
    if area_codes.level_of(code) is None:
        raise DomainError(_("An area code has 6, 9, 12 or 15 digits."), field="area")
    if len(code) > LEVELS[level]:
        raise DomainError(_("The rows' level must not be above the area's."), field="level")
    codes = ledger_codes(user)
    if codes is not EVERYWHERE and not any(code.startswith(c) or c.startswith(code) for c in codes):
        raise Http404
    return code


def narrowed(codes, area):
    """A scope (as scope_codes answers it) narrowed to the subtree of `area`; unchanged without an area."""
    if not area:
        return codes
    if codes is EVERYWHERE:
        return (area,)
    return tuple(sorted({area if area.startswith(code) else code for code in codes
                         if code.startswith(area) or area.startswith(code)}))


# ---- the per-grid counts -------------------------------------------------------------------------------------------

def _grid_counts(campaign, round_number, codes, area, now):
    """{grid code: {count: n}} for the grids of the round in scope, every COUNTS key filled."""
    codes = narrowed(codes, area)
    rows = CoverageCount.objects.filter(campaign=campaign, round=round_number).within(codes)
    grids = {}
    for row in rows.values("grid_code", "registered", *STANDINGS, "members", "registered_persons",
                           "flagged_members").order_by():
        code = row.pop("grid_code")
        row["pending"] = max(0, row["registered"] - sum(row[name] for name in STANDINGS))
        row.update(revisits_due=0, flags_open=0, outside_grid=0, unlocated=0)
        grids[code] = row
    if not grids:
        return grids

    # Revisits due: standing revisits whose time has come (or that were given none), from the partial index.
    due = HouseholdScreening.objects.filter(campaign=campaign, round=round_number,
                                            status=VisitStatus.REVISIT).within(codes)
    due = due.filter(Q(revisit_at__isnull=True) | Q(revisit_at__lte=now))
    for code, n in due.values_list("grid_code").annotate(n=Count("*")).order_by():
        if code in grids:
            grids[code]["revisits_due"] = n

    # 位置清 and 管控清: two statements over the few rows concerned, each probing the standings' last_visit index per
    # row (a LATERAL … LIMIT 1, so PostgreSQL never hashes the round's whole standing instead).
    with connection.cursor() as cursor:
        scope, params = scope_sql(codes, "v.grid_code")
        cursor.execute(PLACE_SQL.format(scope=scope), [campaign.pk, round_number, *params])
        for code, outside, unlocated in cursor.fetchall():
            if code in grids:
                grids[code].update(outside_grid=outside, unlocated=unlocated)
        scope, params = scope_sql(codes, "s.grid_code")
        cursor.execute(FLAGS_SQL.format(scope=scope),
                       [campaign.pk, round_number, campaign.pk, EventState.REPORTED, *params])
        for code, n in cursor.fetchall():
            if code in grids:
                grids[code]["flags_open"] = n

    # 人头清: the registered persons counted when the round opened, else the registry's count now.
    uncounted = [code for code, row in grids.items() if row["registered_persons"] is None]
    if uncounted:
        from wangge.registry.models import Person, PersonStatus

        persons = Person.objects.filter(status=PersonStatus.NORMAL).within(codes)
        live = dict(persons.values_list("grid_code").annotate(n=Count("*")).order_by())
        for code in uncounted:
            grids[code]["registered_persons"] = live.get(code, 0)
    return grids


# The standing calls not placed inside their household's grid: the visits' partial index (index only), each checked
# against the standings.
PLACE_SQL = f"""
SELECT v.grid_code, count(*) FILTER (WHERE NOT v.inside_grid), count(*) FILTER (WHERE v.inside_grid IS NULL)
FROM {Visit._meta.db_table} v
CROSS JOIN LATERAL (SELECT 1 FROM {HouseholdScreening._meta.db_table} s WHERE s.last_visit_id = v.id LIMIT 1) standing
WHERE v.campaign_id = %s AND v.round = %s AND (NOT v.inside_grid OR v.inside_grid IS NULL){{scope}}
GROUP BY v.grid_code"""
# The flags of the standing calls whose rule opens an event (it has a category) and whose event is missing or waits.
FLAGS_SQL = f"""
SELECT s.grid_code, count(*)
FROM {FlagHit._meta.db_table} h
JOIN {FlagRule._meta.db_table} r ON r.id = h.rule_id
LEFT JOIN {Event._meta.db_table} e ON e.id = h.event_id
CROSS JOIN LATERAL (SELECT s.grid_code FROM {HouseholdScreening._meta.db_table} s
                    WHERE s.last_visit_id = h.visit_id AND s.campaign_id = %s AND s.round = %s LIMIT 1) s
WHERE r.campaign_id = %s AND r.category_id IS NOT NULL AND (h.event_id IS NULL OR e.state = %s){{scope}}
GROUP BY s.grid_code"""


def _unclear(row):
    """The 四清 of one grid as a tuple of 0/1 in CLEAR's order: 1 where the grid is not clear."""
    return (int(row["pending"] > 0), int(row["members"] < row["registered_persons"]),
            int(row["outside_grid"] > 0 or row["unlocated"] > 0), int(row["flags_open"] > 0))


def _sum(rows):
    """(counts in COUNTS' order, grids, grids not clear per CLEAR) of per-grid (counts, unclear) pairs."""
    rows = list(rows)
    if len(rows) == 1:  # a grid's own row
        return rows[0][0], 1, rows[0][1]
    if not rows:
        return [0] * len(COUNTS), 0, [0] * len(CLEAR)
    counts = [sum(values) for values in zip(*(counts for counts, _flags in rows), strict=True)]
    unclear = [sum(values) for values in zip(*(flags for _counts, flags in rows), strict=True)]
    return counts, len(rows), unclear


def _row(code, name, counts, grids, unclear):
    """The output row: counts, the coverage rate (households visited / registered, None without households) and the
    四清 — an area is clear on a count when every one of its grids is."""
    row = {"code": code, "name": name, "grids": grids, **dict(zip(COUNTS, counts, strict=True))}
    four = {key: not n for key, n in zip(CLEAR, unclear, strict=True)}
    four["all"] = all(four.values())
    row["coverage_rate"] = round(row["visited"] / row["registered"], 4) if row["registered"] else None
    row["four_clear"] = four
    return row


def coverage(campaign, *, user, round=None, level=area_codes.GRID, area=None, now=None):
    """The coverage ledger of `campaign` for `user`: one row per area of `level` (under `area` when given) with
    grids in the user's scope, and the totals. 400 (DomainError) for an unknown level or round or a malformed area,
    404 for an area outside the user's scope. Callers check the campaign first (ledger_campaign)."""
    level = resolve_level(level)
    area = resolve_area(user, area, level)
    round_number = resolve_round(campaign, round)
    codes = ledger_codes(user)
    now = now or timezone.now()
    grids = _grid_counts(campaign, round_number, codes, area, now) if codes else {}
    width = LEVELS[level]
    per_area = {}
    for code in sorted(grids):
        row = grids[code]
        per_area.setdefault(code[:width], []).append((tuple(row[name] for name in COUNTS), _unclear(row)))
    from wangge.geo.models import Area

    # the level's areas under `area` (a few thousand grids at most), not an IN list of thousands of codes
    areas = Area.objects.current().filter(Q(level=level) | Q(code=area or ""))
    if area:
        areas = areas.filter(code__startswith=area)
    names = dict(areas.values_list("code", "name"))
    return {
        "campaign": campaign.pk, "round": round_number or None, "rounds": campaign.current_round,
        "level": level, "area": area, "as_of": now,
        "totals": _row(area, names.get(area, "") if area else "",
                       *_sum(pair for pairs in per_area.values() for pair in pairs)),
        "rows": [_row(code, names.get(code, ""), *_sum(pairs)) for code, pairs in per_area.items()],
    }


def grid_figure(campaign, *, user, metric="coverage", round=None, area=None, now=None):
    """One figure per grid for a choropleth, shaped as the resident map's counts (registry/mapstats.grid_counts):
    {"metric", "label", "unit", "round", "counts": {grid code: value}, "total"}. Units: "percent" (0–100, one
    decimal; grids without households are absent), "count", or "flag" (1 when the grid is 四清, else 0)."""
    if metric not in METRICS:
        raise DomainError(_("Choose a metric: %(metrics)s.") % {"metrics": ", ".join(METRICS)}, field="metric")
    ledger = coverage(campaign, user=user, round=round, level=area_codes.GRID, area=area, now=now)
    label, unit = METRICS[metric]
    counts = {}
    for row in ledger["rows"]:
        counts[row["code"]] = _figure(row, metric)
    counts = {code: value for code, value in counts.items() if value is not None}
    return {"metric": metric, "label": str(label), "unit": unit, "round": ledger["round"], "counts": counts,
            "total": _figure(ledger["totals"], metric)}


def _figure(row, metric):
    if metric == "coverage":
        return None if row["coverage_rate"] is None else round(row["coverage_rate"] * 100, 1)
    if metric == "four_clear":
        return int(row["four_clear"]["all"])
    return row[metric]
