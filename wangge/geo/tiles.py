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

Tiles of frozen generations (active, retired) are kept in a bounded in-process cache per (generation, tile, scope),
so a tile already made for the same scope is answered without running the tile statement (TileCache below).
"""

import hashlib
import math
import os
import threading
from collections import OrderedDict

from django.conf import settings
from django.contrib.gis.db.models import GeometryField
from django.core.exceptions import EmptyResultSet
from django.core.signals import setting_changed
from django.db import connection
from django.db.models import BigIntegerField, F, FloatField, Func
from django.db.models.expressions import RawSQL
from django.db.models.signals import post_delete
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
    """One query, for a revalidation (If-None-Match) that may need no tile at all, or for the id of the active
    generation, which the tile cache's key needs."""
    pk = generation_pk(generation_param)
    chosen = Generation.objects.filter(**({"state": Generation.State.ACTIVE} if pk is None else {"pk": pk}))
    generation = chosen.only("id", "state").order_by("-id").first()
    if generation is None:
        raise _missing(generation_param)
    _remember(generation)
    return generation


# Generations seen frozen (active or retired) by this process: a frozen generation never becomes editable again and
# its areas never change, so once seen frozen, its id alone answers "is this tile still valid?" without a query.
# (Only a deletion ends that; see _forget_generation.)
_frozen: dict[int, Generation] = {}
_FROZEN_MAX = 1024


def _remember(generation: Generation) -> None:
    if not generation.is_editable and generation.pk not in _frozen:
        if len(_frozen) >= _FROZEN_MAX:
            _frozen.clear()
        _frozen[generation.pk] = Generation(pk=generation.pk, state=generation.state)


def frozen_generation(pk: int | None) -> Generation | None:
    """The generation `pk` if this process has already seen it frozen, else None (None for the active one: which
    generation is active can change, so that always takes a query)."""
    return _frozen.get(pk) if pk is not None else None


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
    """The generation and the tile's bytes (empty when no area of the level in the user's scope touches it), made
    by the tile statement; a frozen generation's tile is then kept in the tile cache for the user's scope."""
    sql, params = tile_sql(user, generation_param, level, z, x, y)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        raise _missing(generation_param)
    # State and bytes come from one statement, hence one snapshot: a tile stored as frozen was made from a frozen
    # generation's areas, never from a draft's.
    generation = Generation(pk=row[0], state=row[1])
    content = bytes(row[2]) if row[2] else b""
    if not generation.is_editable:
        _remember(generation)
        tile_cache.put((generation.pk, level, z, x, y, scope_key(user)), content)
    return generation, content


def cached_tile(user, generation: Generation, level: str, z: int, x: int, y: int) -> bytes | None:
    """The tile's bytes from the tile cache (b"" for a cached empty tile), or None when it has to be made.
    Never answers for an editable generation."""
    if generation.is_editable:
        return None
    return tile_cache.get((generation.pk, level, z, x, y, scope_key(user)))


def scope_key(user) -> str:
    """What a tile's content depends on besides generation and address: the user's scope codes for viewing areas
    (restrict() reads nothing else). Shared by the ETag and the tile cache's key, so both tell scopes apart alike.
    Codes are digits, so "*" (everywhere) and "" (nothing) cannot collide with a list of codes."""
    codes_ = scope_codes(user, VIEW_AREA)
    return "*" if codes_ is EVERYWHERE else ",".join(sorted(codes_))


def tile_etag(user, generation: Generation, level: str, z: int, x: int, y: int, content: bytes | None = None) -> str:
    """A validator that changes whenever the tile could: generation, scope, scheme — or, for an editable draft
    whose areas still move, the bytes themselves."""
    key = f"{SCHEME_VERSION}|{generation.pk}|{level}|{z}/{x}/{y}|{scope_key(user)}"
    if generation.is_editable:
        if content is None:
            return ""
        key += "|" + hashlib.sha256(content).hexdigest()
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    return f'"g{generation.pk}-{digest}"'


class TileCache:
    """A least-recently-used map of rendered tiles with a byte budget, for frozen generations only.

    Key: (generation id, level, z, x, y, scope key) — everything a tile's bytes depend on (plus SCHEME_VERSION,
    which cannot change while a process runs). No expiry is needed: a frozen generation's areas never change, and
    activating a new generation retires the old one, whose tiles stay valid for it (`?generation=<old id>`); the
    new one's tiles are keyed by its own id. Deleting a generation (only drafts, through the services; the admin can
    delete any) drops its entries in this process.

    Why in-process and not Django's cache framework: the only shared caches that run here without an extra service
    are the database cache (a round trip per hit, as costly as most tiles' own statement) and the file cache
    (a file read and an unpickle per hit); LocMemCache is in-process too but bounds entries, not bytes, and pickles
    every value. Each gunicorn worker therefore keeps its own copy, filled by the requests it serves; the budget
    (WANGGE_TILE_CACHE_BYTES, default 64 MB, 0 turns the cache off) is per worker.
    """

    ENTRY_OVERHEAD = 200  # bytes an entry costs beyond its tile and scope string: key tuple, ints, dict slot

    def __init__(self):
        self._entries: OrderedDict[tuple, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()  # gunicorn's sync workers are single-threaded; gthread or runserver are not
        self.hits = self.misses = 0

    @property
    def budget(self) -> int:
        value = getattr(settings, "WANGGE_TILE_CACHE_BYTES", None)
        if value is None:
            value = os.environ.get("WANGGE_TILE_CACHE_BYTES", DEFAULT_TILE_CACHE_BYTES)
        return max(0, int(value))

    @property
    def size(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def _cost(self, key: tuple, content: bytes) -> int:
        return len(content) + len(key[-1]) + self.ENTRY_OVERHEAD

    def get(self, key: tuple) -> bytes | None:
        with self._lock:
            content = self._entries.get(key)
            if content is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return content

    def put(self, key: tuple, content: bytes) -> None:
        budget = self.budget
        cost = self._cost(key, content)
        if cost > budget:  # also: a budget of 0 keeps nothing
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= self._cost(key, old)
            self._entries[key] = content
            self._bytes += cost
            while self._bytes > budget:
                evicted_key, evicted = self._entries.popitem(last=False)
                self._bytes -= self._cost(evicted_key, evicted)

    def forget_generation(self, pk: int) -> None:
        with self._lock:
            for key in [key for key in self._entries if key[0] == pk]:
                self._bytes -= self._cost(key, self._entries.pop(key))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
            self.hits = self.misses = 0


DEFAULT_TILE_CACHE_BYTES = 64 * 2 ** 20
tile_cache = TileCache()


def _forget_generation(sender, instance, **kwargs):
    _frozen.pop(instance.pk, None)
    tile_cache.forget_generation(instance.pk)


def _budget_changed(setting, **kwargs):
    if setting == "WANGGE_TILE_CACHE_BYTES":
        tile_cache.clear()


post_delete.connect(_forget_generation, sender=Generation, dispatch_uid="wangge.geo.tiles.forget_generation")
setting_changed.connect(_budget_changed, dispatch_uid="wangge.geo.tiles.budget_changed")
