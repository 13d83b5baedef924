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

from django.contrib.gis.db.models import GeometryField
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import BigIntegerField, F, FloatField, Func
from django.db.models.expressions import RawSQL
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


def generation_pk(generation_param: str | None) -> int | None:
    """The id `?generation=<id>` names, or None for the active generation; 400 when malformed."""
    if generation_param in (None, ""):
        return None
    try:
        pk = int(generation_param)
    except ValueError as exc:
        raise DomainError(_("The generation must be a number."), field="generation") from exc
    if not 0 < pk < 2 ** 63:
        raise DomainError(_("Generation %(id)d does not exist.") % {"id": pk}, field="generation", code="not_found")
    return pk


def _missing(generation_param) -> DomainError:
    if generation_param in (None, ""):
        return DomainError(_("There is no active generation."), field="generation", code="not_found")
    return DomainError(_("Generation %(id)s does not exist.") % {"id": generation_param}, field="generation",
                       code="not_found")


def find_generation(generation_param: str | None) -> Generation:
    """One query, for a revalidation (If-None-Match) that may need no tile at all."""
    pk = generation_pk(generation_param)
    chosen = Generation.objects.filter(**({"state": Generation.State.ACTIVE} if pk is None else {"pk": pk}))
    generation = chosen.only("id", "state").order_by("-id").first()
    if generation is None:
        raise _missing(generation_param)
    return generation


def simplify_tolerance(z: int) -> float:
    """Metres (EPSG:3857) below which vertices are dropped at zoom `z`: half a screen pixel."""
    return _HALF_PIXEL_Z0 / 2 ** z


# The statement for a (scope, level) pair, compiled once per process: building the querysets costs about as much
# as running the query for a small tile. Everything that varies per request (tile, generation) is a parameter of
# the outer statement, which the inner rows read as correlated columns (g.id, tile.bbox), so the compiled text
# never changes. The statement starts with SELECT on purpose: the change log (pghistory) prefixes its context to
# any other statement, a CTE included, which costs a round trip's worth of work for nothing on a read.
_compiled: dict[tuple, tuple[str, tuple]] = {}
_COMPILED_MAX = 512


def _compile(user, level: str) -> tuple[str, tuple]:
    envelope = RawSQL("tile.bbox", (), output_field=GeometryField(srid=4326))
    generation = RawSQL("g.id", (), output_field=BigIntegerField())
    def rows(areas):
        return (areas.filter(generation_id=generation, level=level, geom__bboverlaps=envelope)
                .order_by()
                .values("id", "code", "name", "level", "kind", "geom", parent_code=F("parent__code"),
                        label_lon=Func("label_point", function="ST_X", output_field=FloatField()),
                        label_lat=Func("label_point", function="ST_Y", output_field=FloatField())))

    try:
        rows_sql, rows_params = rows(Area.objects.restrict(user, VIEW_AREA)).query.sql_with_params()
    except EmptyResultSet:
        # restrict() answered none(): the user may see no area at all. Same columns, no rows; the generation is
        # still looked up, so an unknown one is still a 404.
        rows_sql, rows_params = rows(Area.objects.extra(where=["FALSE"])).query.sql_with_params()
    sql = (
        "SELECT g.id, g.state, (SELECT ST_AsMVT(t, %s, " + str(EXTENT) + ", 'geom', 'fid') FROM ("
        "  SELECT s.id AS fid, s.id, s.code, s.name, s.level, s.kind, s.parent_code,"
        "  round(s.label_lon::numeric, 6)::float8 AS label_lon, round(s.label_lat::numeric, 6)::float8 AS label_lat,"
        "  ST_AsMVTGeom(ST_Simplify(ST_Transform(s.geom, 3857), %s), tile.envelope, "
        + str(EXTENT) + ", " + str(BUFFER) + ", true) AS geom"
        "  FROM (" + rows_sql + ") s"
        # No "WHERE geom IS NOT NULL": ST_AsMVT skips the areas that collapse or fall outside (tested), and the
        # filter made the planner compute ST_AsMVTGeom twice per row.
        " ) t)"
        " FROM (SELECT id, state FROM geo_generation"
        "  WHERE CASE WHEN %s::bigint IS NULL THEN state = 'active' ELSE id = %s::bigint END"
        "  ORDER BY id DESC LIMIT 1) g,"
        " (SELECT envelope, ST_Transform(ST_TileEnvelope(%s, %s, %s, margin => %s), 4326) AS bbox"
        "  FROM ST_TileEnvelope(%s, %s, %s) AS envelope) tile"
    )
    return sql, tuple(rows_params)


def tile_sql(user, generation_param: str | None, level: str, z: int, x: int, y: int) -> tuple[str, list]:
    """The one statement that finds the generation and makes its tile: (generation id, state, tile bytes).

    The area rows are the restricted queryset's own SQL, so the scope rule lives in one place (core/scope.py); the
    compiled text is reused for users with the same scope codes, which is all restrict() depends on. The generation
    is looked up inside the same statement (one round trip, one snapshot) rather than by a query of its own: on a
    small tile a round trip costs as much as the tile.
    """
    pk = generation_pk(generation_param)
    codes_ = scope_codes(user, VIEW_AREA)
    key = ("*" if codes_ is EVERYWHERE else codes_, level)
    if key not in _compiled:
        if len(_compiled) >= _COMPILED_MAX:
            _compiled.clear()
        _compiled[key] = _compile(user, level)
    sql, rows_params = _compiled[key]
    return sql, [level, simplify_tolerance(z), *rows_params, pk, pk, z, x, y, BUFFER / EXTENT, z, x, y]


def render_tile(user, generation_param: str | None, level: str, z: int, x: int, y: int
                ) -> tuple[Generation, bytes]:
    """The generation and the tile's bytes (empty when no area of the level in the user's scope touches it)."""
    sql, params = tile_sql(user, generation_param, level, z, x, y)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        raise _missing(generation_param)
    return Generation(pk=row[0], state=row[1]), bytes(row[2]) if row[2] else b""


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
