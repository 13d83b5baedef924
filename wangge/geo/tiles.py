"""Mapbox Vector Tiles of the areas, one level per tile, straight from PostGIS (docs/map.md).

Attributes: id, code, name, level, kind, parent_code (absent for the district) and label_lon/label_lat (the area's
label point, WGS84), so the map can place HTML name labels without a glyph server.

One SQL statement per tile: the rows come from `Area.objects.restrict(user, VIEW_AREA)` (so a tile never holds an
area outside the user's scope), filtered by generation, level and the tile's bounding box (GiST index on geom);
PostGIS then transforms to Web Mercator, simplifies by zoom, clips and quantises (ST_AsMVTGeom) and encodes (ST_AsMVT).

Simplification is plain Douglas-Peucker (ST_Simplify) by half a screen pixel. Measured on the demo district it halves
the bytes of low-zoom district/subdistrict tiles and costs nothing (it saves the clipper work); the topology-preserving
variant made the same tiles 2-3x slower for no visible gain, since ST_AsMVTGeom repairs what it hands out and a
polygon that collapses below a pixel is dropped anyway (docs/map.md).
"""

import hashlib
import math

from django.contrib.gis.geos import Polygon
from django.db import connection
from django.db.models import F, FloatField, Func
from django.utils.translation import gettext as _

from wangge.accounts.roles import VIEW_AREA
from wangge.core.errors import DomainError
from wangge.core.scope import EVERYWHERE, scope_codes

from . import codes
from .models import Area, Generation

MAX_ZOOM = 24
EXTENT = 4096  # tile coordinate units; MapLibre draws a tile at 512 px, so one px is 8 units
BUFFER = 64  # units of clipping margin, so outlines do not show seams at tile edges
# Half of a Web Mercator pixel (at 512 px per tile) at zoom 0, in metres. Simplifying by half a screen pixel keeps
# neighbours' shared edges visually closed while dropping the vertices nobody can see at low zoom.
_HALF_PIXEL_Z0 = 2 * math.pi * 6378137 / 512 / 2
_WORLD_HALF = math.pi * 6378137
# Bump when the attributes or the geometry treatment change, so browsers drop tiles cached under the old scheme.
SCHEME_VERSION = 1
MEDIA_TYPE = "application/vnd.mapbox-vector-tile"


def parse_level(level: str) -> str:
    if level not in codes.LEVELS:
        raise DomainError(_("Unknown level %(level)s; expected one of %(levels)s.")
                          % {"level": level, "levels": ", ".join(codes.LEVELS)}, field="level", code="not_found")
    return level


def check_tile(z: int, x: int, y: int) -> None:
    if not 0 <= z <= MAX_ZOOM:
        raise DomainError(_("Zoom %(z)d is out of range 0–%(max)d.") % {"z": z, "max": MAX_ZOOM}, field="z")
    size = 2 ** z
    for name, value in (("x", x), ("y", y)):
        if not 0 <= value < size:
            raise DomainError(_("%(name)s=%(value)d is outside 0–%(last)d at zoom %(z)d.")
                              % {"name": name, "value": value, "last": size - 1, "z": z}, field=name)


def tile_generation(generation_param: str | None) -> Generation:
    """The generation asked for (`?generation=<id>`), or the active one."""
    if generation_param in (None, ""):
        generation = Generation.objects.filter(state=Generation.State.ACTIVE).only("id", "state").first()
        if generation is None:
            raise DomainError(_("There is no active generation."), field="generation", code="not_found")
        return generation
    try:
        pk = int(generation_param)
    except ValueError as exc:
        raise DomainError(_("The generation must be a number."), field="generation") from exc
    generation = Generation.objects.filter(pk=pk).only("id", "state").first()
    if generation is None:
        raise DomainError(_("Generation %(id)d does not exist.") % {"id": pk}, field="generation", code="not_found")
    return generation


def tile_bbox(z: int, x: int, y: int) -> Polygon:
    """The tile's lon/lat box, widened by the clipping buffer, for the index filter (&&)."""
    size = 2 * _WORLD_HALF / 2 ** z
    margin = size * BUFFER / EXTENT
    xmin = -_WORLD_HALF + x * size - margin
    xmax = -_WORLD_HALF + (x + 1) * size + margin
    ymax = _WORLD_HALF - y * size + margin
    ymin = _WORLD_HALF - (y + 1) * size - margin

    def lon(mx):
        return max(-180.0, min(180.0, math.degrees(mx / 6378137)))

    def lat(my):
        my = max(-_WORLD_HALF, min(_WORLD_HALF, my))
        return math.degrees(2 * math.atan(math.exp(my / 6378137)) - math.pi / 2)

    return Polygon.from_bbox((lon(xmin), lat(ymin), lon(xmax), lat(ymax)))


def simplify_tolerance(z: int) -> float:
    """Metres (EPSG:3857) below which vertices are dropped at zoom `z`: half a screen pixel."""
    return _HALF_PIXEL_Z0 / 2 ** z


def tile_sql(user, generation: Generation, level: str, z: int, x: int, y: int) -> tuple[str, list]:
    """The one statement that makes the tile, and its parameters.

    The inner rows are the restricted queryset's own SQL, so the scope rule lives in one place (core/scope.py).
    """
    bbox = tile_bbox(z, x, y)
    bbox.srid = 4326
    rows = (Area.objects.restrict(user, VIEW_AREA)
            .filter(generation_id=generation.pk, level=level, geom__bboverlaps=bbox)
            .order_by()
            .values("id", "code", "name", "level", "kind", "geom", parent_code=F("parent__code"),
                    label_lon=Func("label_point", function="ST_X", output_field=FloatField()),
                    label_lat=Func("label_point", function="ST_Y", output_field=FloatField())))
    inner_sql, inner_params = rows.query.sql_with_params()
    sql = (
        "SELECT ST_AsMVT(t, %s, " + str(EXTENT) + ", 'geom', 'fid') FROM ("
        " SELECT s.id AS fid, s.id, s.code, s.name, s.level, s.kind, s.parent_code,"
        " round(s.label_lon::numeric, 6)::float8 AS label_lon, round(s.label_lat::numeric, 6)::float8 AS label_lat,"
        " ST_AsMVTGeom(ST_Simplify(ST_Transform(s.geom, 3857), %s),"
        " ST_TileEnvelope(%s, %s, %s), " + str(EXTENT) + ", " + str(BUFFER) + ", true) AS geom"
        " FROM (" + inner_sql + ") s"
        ") t WHERE t.geom IS NOT NULL"
    )
    return sql, [level, simplify_tolerance(z), z, x, y, *inner_params]


def render_tile(user, generation: Generation, level: str, z: int, x: int, y: int) -> bytes:
    """The tile's bytes; empty when no area of the level (in the user's scope) touches the tile."""
    sql, params = tile_sql(user, generation, level, z, x, y)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return bytes(row[0]) if row and row[0] else b""


def tile_etag(user, generation: Generation, level: str, z: int, x: int, y: int, content: bytes | None = None) -> str:
    """A validator that changes whenever the tile could: generation, scope, scheme — or, for an editable draft
    whose areas still move, the bytes themselves."""
    codes_ = scope_codes(user, VIEW_AREA)
    scope = "*" if codes_ is EVERYWHERE else ",".join(sorted(codes_))
    key = f"{SCHEME_VERSION}|{generation.pk}|{level}|{z}/{x}/{y}|{scope}"
    if generation.is_editable:
        if content is None:
            return ""
        key += "|" + hashlib.sha256(content).hexdigest()
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    return f'"g{generation.pk}-{digest}"'
