"""The resident distribution map (一张居民分布地图): counts per grid for the choropleth, building dots as vector
tiles, and what a click on a building shows (docs/registry-map.md).

Who sees what:
- Counts per grid come from the rows a user may read persons in (VIEW_PERSON) or may count (VIEW_AGGREGATES):
  leaders hold only the latter and get the same numbers as staff for their scope, never a person.
- Counts of a sensitive tag type (PIPL Art. 28) come only from grids where the user holds VIEW_SENSITIVE; a user who
  holds it nowhere is told the metric does not exist, as for an unknown one.
- Buildings (points, numbers, household counts) are place facts: visible with VIEW_PLACE, and with VIEW_AGGREGATES
  so a leader's map has the dots and their counts too. Household numbers and members' names (masked ID numbers
  only) need VIEW_PERSON in the building's grid; everyone else sees counts per house.

Every read goes through restrict(), so the scope rule stays in core/scope.py.
"""

import hashlib

from django.contrib.gis.db.models import GeometryField
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Count, Q
from django.db.models.expressions import RawSQL
from django.http import Http404
from django.utils.translation import gettext as _

from wangge.accounts.roles import VIEW_AGGREGATES, VIEW_PERSON, VIEW_PLACE, VIEW_SENSITIVE
from wangge.core.errors import DomainError
from wangge.core.scope import EVERYWHERE, code_in_scope, scope_codes
from wangge.geo.tiles import BUFFER, EXTENT, check_tile

from .models import Building, House, Household, Person, PersonStatus, PersonTag, ResidenceType, TagType

BASE_METRICS = ("persons", "households", "flowing")
TAG_PREFIX = "tag:"
BUILDING_MINZOOM = 14  # below this a district's ~15,000 dots are noise, and the tile would be the heaviest
BUILDING_LAYER = "buildings"
# Bump when the building tile's attributes change, so browsers drop tiles cached under the old scheme.
BUILDING_SCHEME_VERSION = 1
MAX_HOUSES = 500  # a detail panel lists at most this many houses; the counts still cover them all


def _either(queryset, user, *actions):
    """Rows the user may read under any of `actions`: the union of restrict() per action."""
    combined = None
    for action in actions:
        part = queryset.restrict(user, action)
        combined = part if combined is None else combined | part
    return combined


def may_count(user) -> bool:
    return any(scope_codes(user, action) for action in (VIEW_PERSON, VIEW_AGGREGATES))


def _sees_sensitive(user) -> bool:
    return bool(scope_codes(user, VIEW_SENSITIVE))


def metric_choices(user) -> list[dict]:
    """The metrics this user may colour the map by: [{"value", "label"}], base metrics first, then tag types.
    Empty for a user who may count nothing."""
    if not may_count(user):
        return []
    choices = [{"value": "persons", "label": _("Persons")}, {"value": "households", "label": _("Households")},
               {"value": "flowing", "label": _("Flowing population")}]
    types = TagType.objects.order_by("category", "name")
    if not _sees_sensitive(user):
        types = types.filter(sensitive=False)
    choices += [{"value": f"{TAG_PREFIX}{t.slug}", "label": t.name} for t in types.only("slug", "name")]
    return choices


def _unknown(metric) -> DomainError:
    return DomainError(_("Unknown metric %(metric)s.") % {"metric": metric}, field="metric", code="not_found")


def _metric_rows(user, metric: str):
    """(label, queryset of the rows to count) for `metric`, already restricted to what the user may count."""
    if metric == "persons":
        rows = Person.objects.filter(status=PersonStatus.NORMAL)
        return _("Persons"), _either(rows, user, VIEW_PERSON, VIEW_AGGREGATES)
    if metric == "flowing":
        rows = Person.objects.filter(status=PersonStatus.NORMAL, residence_type=ResidenceType.FLOWING)
        return _("Flowing population"), _either(rows, user, VIEW_PERSON, VIEW_AGGREGATES)
    if metric == "households":
        return _("Households"), _either(Household.objects.all(), user, VIEW_PERSON, VIEW_AGGREGATES)
    if metric.startswith(TAG_PREFIX):
        slug = metric.removeprefix(TAG_PREFIX)
        tag_type = TagType.objects.filter(slug=slug).first() if slug else None
        if tag_type is None or (tag_type.sensitive and not _sees_sensitive(user)):
            # The same answer for a sensitive type as for none at all: its existence is not for everyone either.
            raise _unknown(metric)
        rows = _either(PersonTag.objects.filter(tag_type=tag_type, person__status=PersonStatus.NORMAL),
                       user, VIEW_PERSON, VIEW_AGGREGATES)
        if tag_type.sensitive:
            rows = rows & PersonTag.objects.restrict(user, VIEW_SENSITIVE)
        return tag_type.name, rows
    raise _unknown(metric)


def grid_counts(user, metric: str) -> dict:
    """{"metric", "label", "counts": {grid code: n}, "total"}: one GROUP BY grid_code over the restricted rows.
    Grids with nothing to count are absent (the map colours them as zero). 400/404 (DomainError) for a metric the
    user may not use."""
    if not isinstance(metric, str) or not metric:
        raise DomainError(_("Choose a metric: %(metrics)s or tag:<slug>.") % {"metrics": ", ".join(BASE_METRICS)},
                          field="metric")
    label, rows = _metric_rows(user, metric)
    grouped = (rows.exclude(grid_code="").order_by().values_list("grid_code").annotate(n=Count("id")))
    counts = dict(grouped)
    return {"metric": metric, "label": label, "counts": counts, "total": sum(counts.values())}


# Building dots ------------------------------------------------------------------------------------------------

def visible_buildings(user):
    return _either(Building.objects.all(), user, VIEW_PLACE, VIEW_AGGREGATES)


def building_tile(user, z: int, x: int, y: int) -> bytes | None:
    """The MVT of the user's buildings in tile z/x/y (layer "buildings": id, number, name, grid_code, households),
    b"" when none is there, None below BUILDING_MINZOOM (nothing is drawn there). 400 for a tile out of range.

    One statement: the restricted queryset's own SQL filtered by the tile's bounding box (GiST on location), each
    building's household count as a correlated count (index on house.building_id, household.house_id), then
    ST_AsMVTGeom/ST_AsMVT as for the area tiles.
    """
    check_tile(z, x, y)
    if z < BUILDING_MINZOOM:
        return None
    bbox = RawSQL("ST_Transform(ST_TileEnvelope(%s, %s, %s, margin => %s), 4326)", (z, x, y, BUFFER / EXTENT),
                  output_field=GeometryField(srid=4326))
    rows = visible_buildings(user).filter(location__bboverlaps=bbox).order_by()
    try:
        rows_sql, rows_params = rows.values("id", "number", "name", "grid_code", "location").query.sql_with_params()
    except EmptyResultSet:  # restrict() answered none(): no building at all for this user
        return b""
    sql = (
        "SELECT ST_AsMVT(t, %s, " + str(EXTENT) + ", 'geom', 'fid') FROM ("
        " SELECT b.id AS fid, b.id, b.number, b.name, b.grid_code,"
        "  (SELECT count(*) FROM registry_household h JOIN registry_house o ON o.id = h.house_id"
        "   WHERE o.building_id = b.id)::int AS households,"
        "  ST_AsMVTGeom(ST_Transform(b.location, 3857), ST_TileEnvelope(%s, %s, %s), "
        + str(EXTENT) + ", " + str(BUFFER) + ", true) AS geom"
        " FROM (" + rows_sql + ") b) t"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [BUILDING_LAYER, z, x, y, *rows_params])
        row = cursor.fetchone()
    return bytes(row[0]) if row and row[0] else b""


def building_etag(user, z: int, x: int, y: int, content: bytes) -> str:
    """Buildings change at any time, so the validator is the bytes themselves (plus scope and scheme, so another
    scope's identical-looking tile never validates): a 304 saves the transfer, not the statement."""
    codes = {action: scope_codes(user, action) for action in (VIEW_PLACE, VIEW_AGGREGATES)}
    scope = "|".join("*" if c is EVERYWHERE else ",".join(sorted(c)) for c in codes.values())
    key = f"{BUILDING_SCHEME_VERSION}|{z}/{x}/{y}|{scope}|{hashlib.sha256(content).hexdigest()}"
    return f'"b-{hashlib.sha256(key.encode()).hexdigest()[:24]}"'


def building_detail(user, building_id: int) -> dict:
    """What a click on a building shows. Http404 (through get_for) when the building is not the user's.

    With VIEW_PERSON in the building's grid: each house's households with number, member count and members (name,
    masked ID number, relation to the head). Otherwise counts per house only — no household number, no name."""
    building = visible_buildings(user).filter(pk=building_id).first()
    if building is None:  # missing and out of scope answer alike
        raise Http404
    persons_visible = code_in_scope(building.grid_code, scope_codes(user, VIEW_PERSON))
    members = Q(members__status=PersonStatus.NORMAL)
    houses = list(House.objects.filter(building=building).order_by("unit", "floor", "room", "id")
                  .annotate(n_households=Count("households", distinct=True),
                            n_members=Count("households__members", distinct=True,
                                            filter=Q(households__members__status=PersonStatus.NORMAL))))
    by_house: dict[int, list] = {}
    if persons_visible:
        households = (Household.objects.restrict(user, VIEW_PERSON).filter(house__building=building)
                      .annotate(n_members=Count("members", filter=members)).order_by("number"))
        household_ids = []
        for household in households:
            household_ids.append(household.pk)
            by_house.setdefault(household.house_id, []).append(
                {"id": household.pk, "number": household.number, "members": household.n_members, "people": []})
        people = (Person.objects.restrict(user, VIEW_PERSON)
                  .filter(household_id__in=household_ids, status=PersonStatus.NORMAL)
                  .order_by("household_id", "id").values("household_id", "name", "id_number_masked",
                                                         "relation_to_head"))
        index = {h["id"]: h for rows in by_house.values() for h in rows}
        for person in people:
            index[person.pop("household_id")]["people"].append(person)
    house_rows = []
    for house in houses[:MAX_HOUSES]:
        row = {"id": house.pk, "unit": house.unit, "floor": house.floor, "room": house.room,
               "households": house.n_households, "members": house.n_members}
        if persons_visible:
            row["household_list"] = by_house.get(house.pk, [])
        house_rows.append(row)
    return {
        "id": building.pk, "number": building.number, "name": building.name, "address": building.address,
        "grid_code": building.grid_code, "use": building.use, "floors": building.floors, "units": building.units,
        "houses_count": len(houses), "households": sum(h.n_households for h in houses),
        "members": sum(h.n_members for h in houses), "persons_visible": persons_visible,
        "houses": house_rows, "truncated": len(houses) > MAX_HOUSES,
    }
