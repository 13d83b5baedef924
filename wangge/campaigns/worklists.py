"""A worker's list of households to visit in a campaign's current round (the phone pages, the API's
`campaigns/{id}/households/` and the OpenRosa manifest all read it from here).

Which households: those of the campaign's target areas in the grids the user is assigned to for this campaign
(CampaignWorker: grid workers, volunteers); a user with no assignment in the campaign (community or subdistrict
staff covering for a worker) gets every target household in their VISIT_HOUSEHOLD scope. Either way only grids
where the user may record a visit (VISIT_HOUSEHOLD scope) are listed, so every row can be visited.

Two indexed queries whatever the size: the households with their house and building (one join), and the round's
standings (HouseholdScreening) of those grids. No names or numbers of persons: an address and a standing.
"""

from django.db.models import Q

from wangge.accounts.roles import VISIT_HOUSEHOLD
from wangge.core.scope import EVERYWHERE, code_in_scope, scope_codes

from .models import CampaignWorker, HouseholdScreening

PENDING = "pending"  # the standing of a household nobody has called on yet in the round


def _overlap(codes, targets):
    """The area prefixes lying inside both sets of prefixes (each pair: the longer code, when one contains the
    other)."""
    found = set()
    for code in codes:
        for target in targets:
            if code.startswith(target):
                found.add(code)
            elif target.startswith(code):
                found.add(target)
    return sorted(c for c in found if not any(c != other and c.startswith(other) for other in found))


def in_areas(areas):
    """grid_code inside any of `areas`: equality for a grid, a prefix for a wider area."""
    query = Q(pk__in=[])
    for code in areas:
        query |= Q(grid_code=code) if len(code) == 15 else Q(grid_code__startswith=code)
    return query


def household_count(areas):
    """How many households lie in `areas` (one indexed count; the API refuses an over-long list with it)."""
    from wangge.registry.models import Household

    return Household.objects.filter(in_areas(areas)).count() if areas else 0


def worker_areas(campaign, user):
    """The area codes (prefixes: grids, or wider for staff) whose target households `user` is to visit in
    `campaign`; empty when none (no VISIT_HOUSEHOLD anywhere, or nothing of the targets in reach)."""
    return worker_areas_of([campaign], user)[campaign.pk]


def worker_areas_of(campaigns, user):
    """worker_areas of several campaigns at once, {campaign id: area codes}: one query for the user's assignments
    in all of them, however many there are (the OpenRosa form list)."""
    scope = scope_codes(user, VISIT_HOUSEHOLD)
    if not scope:
        return {campaign.pk: [] for campaign in campaigns}
    assigned = {}
    for campaign_id, grid_code in (CampaignWorker.objects.filter(campaign__in=[campaign.pk for campaign in campaigns],
                                                                 user=user)
                                   .values_list("campaign_id", "grid_code")):
        assigned.setdefault(campaign_id, set()).add(grid_code)
    areas = {}
    for campaign in campaigns:
        targets = list(campaign.target_codes)
        grids = sorted(assigned.get(campaign.pk, ()))
        if grids:
            areas[campaign.pk] = _overlap([code for code in grids if code_in_scope(code, scope)], targets)
        else:
            areas[campaign.pk] = targets if scope is EVERYWHERE else _overlap(list(scope), targets)
    return areas


def worker_households(campaign, user, grid_code=None):
    """The households `user` is to visit in `campaign`'s current round, optionally only those of one grid
    (`grid_code`; a grid outside the user's areas gives an empty list).

    Returns a list of dicts, ordered by grid, building number, unit, floor, room and household number:

        {
            "id": 812,                          # registry Household pk (what do_record_visit takes)
            "number": "370103002001007-0042",   # the household number
            "grid_code": "370103002001007",
            "building_id": 77 or None,          # the house's building (None: household without a house)
            "building_number": "00003" or "",   # 5-digit number in the grid
            "building_name": "3号楼" or "",
            "address": "纬一路12号" or "",       # the building's address
            "unit": "1" or "", "floor": 3 or None, "room": "302" or "",
            "status": "pending" | "visited" | "absent" | "refused" | "moved_out" | "revisit",
            "revisit_at": datetime or None,     # when a revisit was scheduled for
            "last_visit_id": 5531 or None,      # the visit that set the standing
            "last_visited_at": datetime or None,
            "members": 3,                       # persons screened at the last visit (0 while pending)
            "flagged_members": 0,               # of whom flagged by the campaign's rules
        }

    "pending" means nobody has called in this round (a draft campaign, round 0: everything is pending). No
    person's name or number is in it: workers see the household's address and standing only.
    """
    from wangge.registry.models import Household

    areas = worker_areas(campaign, user)
    if grid_code is not None:
        grid_code = str(grid_code)
        areas = [grid_code] if len(grid_code) == 15 and code_in_scope(grid_code, areas) else []
    if not areas:
        return []
    rows = list(
        Household.objects.filter(in_areas(areas))
        .order_by("grid_code", "house__building__number", "house__unit", "house__floor", "house__room", "number")
        .values("id", "number", "grid_code", "house__building_id", "house__building__number",
                "house__building__name", "house__building__address", "house__unit", "house__floor", "house__room"))
    if not rows:
        return []
    standings = {
        row["household_id"]: row
        for row in HouseholdScreening.objects.filter(in_areas(areas), campaign=campaign,
                                                     round=campaign.current_round)
        .values("household_id", "status", "revisit_at", "last_visit_id", "last_visit__visited_at", "members",
                "flagged_members")
    }
    result = []
    for row in rows:
        standing = standings.get(row["id"])
        result.append({
            "id": row["id"],
            "number": row["number"],
            "grid_code": row["grid_code"],
            "building_id": row["house__building_id"],
            "building_number": row["house__building__number"] or "",
            "building_name": row["house__building__name"] or "",
            "address": row["house__building__address"] or "",
            "unit": row["house__unit"] or "",
            "floor": row["house__floor"],
            "room": row["house__room"] or "",
            "status": standing["status"] if standing else PENDING,
            "revisit_at": standing["revisit_at"] if standing else None,
            "last_visit_id": standing["last_visit_id"] if standing else None,
            "last_visited_at": standing["last_visit__visited_at"] if standing else None,
            "members": standing["members"] if standing else 0,
            "flagged_members": standing["flagged_members"] if standing else 0,
        })
    return result
