"""The coverage report (不漏一楼、不漏一院; issue 3 §6): per grid, community and subdistrict, what the registry is
missing or has misplaced — each line a count and, for users who may see the records, the records themselves.

Set-based: a few GROUP BY grid_code queries over the rows the user may see (restrict()) — the person-side ones
answered from indexes alone, see person_lines() — then the grid counts are rolled up to the 12- and 9-digit
prefixes in Python (a few thousand grids at most). Leaders, who may see
aggregates but no records, get the counts only.

Lines (LINES below): places without a current grid or outside the district, courtyards straddling grids, grids with
no buildings / households / persons, households without members, persons (normal status) without a household or a
house, houses with no occupants, grids over or far under (< 50 %) their household target.
"""

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from wangge.accounts.roles import VIEW_AGGREGATES, VIEW_PERSON, VIEW_PLACE
from wangge.core.errors import DomainError
from wangge.core.scope import EVERYWHERE, any_scope_codes, code_in_scope, scope_codes
from wangge.geo import codes as area_codes
from wangge.geo.models import Area

from .models import Building, Courtyard, House, Household, Person, PersonStatus

FAR_UNDER = 0.5

# line → (label, kind of record it lists, action needed to see the records)
LINES = {
    "buildings_without_grid": (_("Buildings with no current grid"), "building", VIEW_PLACE),
    "buildings_outside_district": (_("Buildings outside the district"), "building", VIEW_PLACE),
    "courtyards_without_grid": (_("Courtyards with no current grid"), "courtyard", VIEW_PLACE),
    "courtyards_outside_district": (_("Courtyards outside the district"), "courtyard", VIEW_PLACE),
    "courtyards_straddling": (_("Courtyards straddling grids"), "courtyard", VIEW_PLACE),
    "grids_without_buildings": (_("Grids with no buildings"), "grid", VIEW_PLACE),
    "grids_without_households": (_("Grids with no households"), "grid", VIEW_PERSON),
    "grids_without_persons": (_("Grids with no persons"), "grid", VIEW_PERSON),
    "households_without_members": (_("Households without members"), "household", VIEW_PERSON),
    "persons_without_household_or_house": (_("Persons without a household or a house"), "person", VIEW_PERSON),
    "houses_without_occupants": (_("Houses with no occupants"), "house", VIEW_PERSON),
    "grids_over_target": (_("Grids over their household target"), "grid", VIEW_PERSON),
    "grids_far_under_target": (_("Grids far under their household target (< 50 %)"), "grid", VIEW_PERSON),
}
GRID_LINES = [line for line, (_label, kind, _action) in LINES.items() if kind == "grid"]


def _access(user, code, action):
    """"records" when the user may see the rows under `code`, "counts" with aggregates only, else None."""
    if code_in_scope(code, scope_codes(user, action)):
        return "records"
    if code_in_scope(code, scope_codes(user, VIEW_AGGREGATES)):
        return "counts"
    return None


def _report_codes(user):
    """Where `user` may read the report: the places, the persons, or the counts only (VIEW_AGGREGATES)."""
    return any_scope_codes(user, VIEW_PLACE, VIEW_PERSON, VIEW_AGGREGATES)


def default_area(user):
    """The area a user's report opens on: the district for district-wide users, else their first assigned area."""
    codes = _report_codes(user)
    if codes is EVERYWHERE:
        return Area.objects.current().filter(level=area_codes.DISTRICT).values_list("code", flat=True).first()
    return min(codes, key=lambda c: (len(c), c)) if codes else None


def resolve_area(user, code):
    """The current area `code` (or the user's default), checked against the user's scope: 404 outside it."""
    code = (code or "").strip() or default_area(user)
    if not code:
        raise Http404
    if not (code.isdigit() and len(code) in (6, 9, 12, 15)):
        raise DomainError(_("An area code has 6, 9, 12 or 15 digits."), field="area")
    if not code_in_scope(code, _report_codes(user)):
        raise Http404
    area = Area.objects.current().filter(code=code).values("code", "name", "level").first()
    if area is None:
        raise Http404
    return area


def _rows(model, user, area_code, action, access):
    """The model's rows under `area_code` the user may count: restrict() for record access, the area for leaders."""
    rows = model.objects.restrict(user, action) if access == "records" else model.objects.all()
    return rows.filter(grid_code__startswith=area_code)


def _unplaced(model, user, area_code, action):
    """Rows with no grid code at all belong to no area: district-wide users see them in the district's report."""
    if len(area_code) != 6:
        return model.objects.none()
    codes = any_scope_codes(user, action, VIEW_AGGREGATES)
    wide = codes is EVERYWHERE or any(len(code) <= 6 and area_code.startswith(code) for code in codes)
    return model.objects.filter(grid_code="") if wide else model.objects.none()


def _district():
    return Area.objects.current().filter(level=area_codes.DISTRICT)


def building_lines(buildings, current):
    """Building counts per grid, and {line: {grid code or "": n}} of the buildings with no current grid or outside
    the district, for a Building queryset. Only the buildings without a current grid are tested against the
    district's outline (a current grid lies inside it: validation sees to that)."""
    per_grid, no_grid, outside = {}, {}, {}
    stray = set()
    for row in buildings.values("grid_code").annotate(n=Count("id")).order_by():
        if row["grid_code"] in current:
            per_grid[row["grid_code"]] = row["n"]
        else:
            stray.add(row["grid_code"])
    if stray:
        counted = (buildings.filter(grid_code__in=stray)
                   .annotate(inside=Exists(_district().filter(geom__covers=OuterRef("location"))))
                   .values("grid_code", "inside").annotate(n=Count("id")).order_by())
        for row in counted:
            target = no_grid if row["inside"] else outside
            target[row["grid_code"]] = target.get(row["grid_code"], 0) + row["n"]
    return per_grid, {"buildings_without_grid": no_grid, "buildings_outside_district": outside}


def courtyard_lines(courtyards, current):
    grids = Area.objects.current().filter(level=area_codes.GRID)
    counted = (courtyards.annotate(
        inside=Exists(_district().filter(geom__covers=OuterRef("geom"))),
        within_grid=Exists(grids.filter(code=OuterRef("grid_code"), geom__covers=OuterRef("geom"))))
        .values("grid_code", "inside", "within_grid").annotate(n=Count("id")).order_by())
    lines = {"courtyards_without_grid": {}, "courtyards_outside_district": {}, "courtyards_straddling": {}}
    for row in counted:
        code, n = row["grid_code"], row["n"]
        if not row["inside"]:
            line = "courtyards_outside_district"
        elif code not in current:
            line = "courtyards_without_grid"
        elif not row["within_grid"]:
            line = "courtyards_straddling"
        else:
            continue
        lines[line][code] = lines[line].get(code, 0) + n
    return lines


def _per_grid(rows, **counts):
    """{grid code: row} of `counts` (name → aggregate) per grid over `rows`."""
    counts = counts or {"n": Count("*")}
    return {row.pop("grid_code"): row for row in rows.values("grid_code").annotate(**counts).order_by()}


def person_lines(households, persons, houses):
    """Households and normal-status persons per grid, and {line: {grid code: n}} of the person-side lines, for
    the restrict()-ed querysets of each kind.

    Four aggregates, each of them a query PostgreSQL answers from an index alone (registry_person is ~1 GB of
    sealed, wide rows; its indexes on household / house / grid are a few tens of MB): households per grid from the
    grid index; households without members and houses without occupants as NOT EXISTS anti-joins on the person
    indexes on household_id and (house_id) WHERE status = 'normal' — a parallel hash or merge anti-join over the
    district, a nested loop of index probes over a community; normal-status persons per grid, with those missing a
    household or a house, from the index on grid_code INCLUDE (household_id, house_id) WHERE status = 'normal'."""
    households_per_grid = {grid: row["n"] for grid, row in _per_grid(households).items()}
    empty = {grid: row["n"] for grid, row in _per_grid(households.filter(_empty_household())).items()}
    # The FILTER names only columns of the covering index (the rows are all of normal status already), so that
    # the count stays index-only; _homeless() is the same condition on any row.
    counted = _per_grid(persons.filter(status=PersonStatus.NORMAL), n=Count("*"),
                        homeless=Count("grid_code", filter=Q(household__isnull=True) | Q(house__isnull=True)))
    persons_per_grid = {grid: row["n"] for grid, row in counted.items()}
    homeless = {grid: row["homeless"] for grid, row in counted.items() if row["homeless"]}
    vacant = {grid: row["n"] for grid, row in _per_grid(houses.filter(_vacant())).items()}
    return households_per_grid, persons_per_grid, {"households_without_members": empty,
                                                   "persons_without_household_or_house": homeless,
                                                   "houses_without_occupants": vacant}


def _vacant():
    return ~Exists(Person.objects.filter(house=OuterRef("pk"), status=PersonStatus.NORMAL))


def _empty_household():
    return ~Exists(Person.objects.filter(household=OuterRef("pk")))


def _homeless():
    return Q(status=PersonStatus.NORMAL) & (Q(household__isnull=True) | Q(house__isnull=True))


def report(user, area_code=None):
    """The coverage report of one area for `user`: totals, the next level's rows, and the grids with a finding."""
    area = resolve_area(user, area_code)
    code = area["code"]
    place_access = _access(user, code, VIEW_PLACE)
    person_access = _access(user, code, VIEW_PERSON)
    grids = {c: (name, target) for c, name, target in Area.objects.current()
             .filter(level=area_codes.GRID, code__startswith=code).values_list("code", "name", "household_target")}
    lines = {line: {} for line in LINES}
    buildings_per_grid = {}
    if place_access:
        buildings = _rows(Building, user, code, VIEW_PLACE, place_access) | _unplaced(Building, user, code,
                                                                                     VIEW_PLACE)
        buildings_per_grid, found = building_lines(buildings, grids)
        lines.update(found)
        courtyards = _rows(Courtyard, user, code, VIEW_PLACE, place_access) | _unplaced(Courtyard, user, code,
                                                                                        VIEW_PLACE)
        lines.update(courtyard_lines(courtyards, grids))
    households_per_grid, persons_per_grid = {}, {}
    if person_access:
        households_per_grid, persons_per_grid, found = person_lines(
            _rows(Household, user, code, VIEW_PERSON, person_access),
            _rows(Person, user, code, VIEW_PERSON, person_access),
            _rows(House, user, code, VIEW_PERSON, person_access))
        lines.update(found)
    for grid, (_name, target) in grids.items():
        if place_access and not buildings_per_grid.get(grid):
            lines["grids_without_buildings"][grid] = 1
        if person_access:
            households = households_per_grid.get(grid, 0)
            if not households:
                lines["grids_without_households"][grid] = 1
            if not persons_per_grid.get(grid):
                lines["grids_without_persons"][grid] = 1
            if target and households > target:
                lines["grids_over_target"][grid] = 1
            elif target and households < FAR_UNDER * target:
                lines["grids_far_under_target"][grid] = 1
    return _shape(area, lines, grids, households_per_grid, place_access, person_access)


def _names(prefix_codes):
    return dict(Area.objects.current().filter(code__in=prefix_codes).values_list("code", "name"))


def _shape(area, lines, grids, households, place_access, person_access):
    code = area["code"]
    child_length = {6: 9, 9: 12, 12: 15}.get(len(code))
    visible = {line for line, (_l, _k, action) in LINES.items()
               if (place_access if action == VIEW_PLACE else person_access)}
    links = {line for line in visible
             if (place_access if LINES[line][2] == VIEW_PLACE else person_access) == "records"}

    def line_entries(counts_of):
        return [{"line": line, "label": str(LINES[line][0]), "count": counts_of(line),
                 "records": line in links} for line in LINES if line in visible]

    totals = line_entries(lambda line: sum(lines[line].values()))
    children = []
    if child_length:
        child_codes = sorted({c[:child_length] for c in grids})
        names = _names(child_codes)
        for child in child_codes:
            children.append({"code": child, "name": names.get(child, ""), "lines": line_entries(
                lambda line, child=child: sum(n for c, n in lines[line].items() if c.startswith(child)))})
    flagged = []
    for grid in sorted(grids):
        found = {line: lines[line][grid] for line in visible if lines[line].get(grid)}
        if found:
            flagged.append({"code": grid, "name": grids[grid][0], "household_target": grids[grid][1],
                            "households": households.get(grid, 0) if person_access else None, "lines": found})
    return {"area": {"code": code, "name": area["name"], "level": area["level"]}, "totals": totals,
            "children": children, "grids": flagged}


# The records behind a line -------------------------------------------------------------------------------------

def records(user, area_code, line, *, limit=100, offset=0):
    """The records of one line under the area, for users who may see them (404 for counts-only users)."""
    if line not in LINES:
        raise DomainError(_("Unknown coverage line."), field="line")
    area = resolve_area(user, area_code)
    code = area["code"]
    _label, kind, action = LINES[line]
    if _access(user, code, action) != "records":
        raise Http404
    limit = max(1, min(int(limit), 1000))
    offset = max(0, int(offset))
    if kind == "grid":
        report_lines = {row["code"]: row for row in report(user, code)["grids"] if line in row["lines"]}
        codes = sorted(report_lines)
        return {"line": line, "count": len(codes), "results": [
            {"id": c, "label": f"{c} {report_lines[c]['name']}", "grid_code": c,
             "households": report_lines[c]["households"], "household_target": report_lines[c]["household_target"]}
            for c in codes[offset:offset + limit]]}
    model = {"building": Building, "courtyard": Courtyard, "household": Household, "person": Person,
             "house": House}[kind]
    rows = model.objects.restrict(user, action).filter(grid_code__startswith=code) | _unplaced(model, user, code,
                                                                                             action)
    current = Area.objects.current().filter(level=area_codes.GRID)
    in_grid = Exists(current.filter(code=OuterRef("grid_code")))
    district = _district()
    if line == "buildings_without_grid":
        rows = rows.filter(~in_grid, Exists(district.filter(geom__covers=OuterRef("location"))))
    elif line == "buildings_outside_district":
        rows = rows.filter(~Exists(district.filter(geom__covers=OuterRef("location"))))
    elif line == "courtyards_outside_district":
        rows = rows.filter(~Exists(district.filter(geom__covers=OuterRef("geom"))))
    elif line == "courtyards_without_grid":
        rows = rows.filter(~in_grid, Exists(district.filter(geom__covers=OuterRef("geom"))))
    elif line == "courtyards_straddling":
        rows = rows.filter(in_grid, ~Exists(current.filter(code=OuterRef("grid_code"), geom__covers=OuterRef("geom"))),
                           Exists(district.filter(geom__covers=OuterRef("geom"))))
    elif line == "households_without_members":
        rows = rows.filter(_empty_household())
    elif line == "persons_without_household_or_house":
        rows = rows.filter(_homeless())
    elif line == "houses_without_occupants":
        rows = rows.filter(_vacant())
    rows = rows.order_by("grid_code", "id")
    count = rows.count()
    return {"line": line, "count": count,
            "results": [{"id": r.pk, "label": _record_label(r), "grid_code": r.grid_code}
                        for r in _with_relations(rows, kind)[offset:offset + limit]]}


def _with_relations(rows, kind):
    if kind == "house":
        return rows.select_related("building")
    return rows


def _record_label(record):
    if isinstance(record, Person):
        return f"{record.name} {record.id_number_masked}".strip()
    if isinstance(record, House):
        return f"{record.building.grid_code}-{record.building.number} {record.unit}-{record.room}"
    return str(record)


def household_counter(generation):
    """For generation validation (geo.validation.HOUSEHOLD_COUNTERS): households per grid of `generation`, each
    household counted where its house's building lies in that generation (lowest code on a shared boundary)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH per_building AS (
                SELECT ho.building_id, count(*) AS n FROM registry_household h
                JOIN registry_house ho ON ho.id = h.house_id GROUP BY ho.building_id
            )
            SELECT g.code, sum(pb.n)::int FROM per_building pb
            JOIN registry_building b ON b.id = pb.building_id
            CROSS JOIN LATERAL (SELECT a.code FROM geo_area a WHERE a.generation_id = %s AND a.level = 'grid'
                                AND ST_Covers(a.geom, b.location) ORDER BY a.code LIMIT 1) g
            GROUP BY g.code
            """, [generation.pk])
        return dict(cursor.fetchall())

