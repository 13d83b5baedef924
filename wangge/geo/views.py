from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.gis.db.models import Extent
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from wangge.accounts.roles import VIEW_AREA
from wangge.core.errors import DomainError

from . import codes, tiles
from .models import Area, Generation

# Browsers may reuse a tile of a frozen (active or retired) generation for this long without asking; after that
# they revalidate with If-None-Match and get a cheap 304.
TILE_MAX_AGE = 3600


def _error(exc: DomainError) -> JsonResponse:
    status = 404 if exc.code == "not_found" else 400
    body = {"code": exc.code, "message": exc.message, "fields": {exc.field: [exc.message]} if exc.field else {}}
    return JsonResponse({"error": body}, status=status)


def _etag_matches(request, etag: str) -> bool:
    header = request.headers.get("If-None-Match", "")
    if not header or not etag:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in candidates or etag in candidates


def tile_response(request, etag: str, content: bytes | None) -> HttpResponse:
    """304 when the client's copy is still valid, else the tile (200) or 204 for an empty one. Shared by every
    vector-tile endpoint (areas here, buildings in the registry)."""
    if _etag_matches(request, etag):
        return HttpResponse(status=304)
    if content:
        return HttpResponse(content, content_type=tiles.MEDIA_TYPE)
    return HttpResponse(status=204)


@require_GET
def tile(request, level, z, x, y):
    """`/tiles/<level>/<z>/<x>/<y>.pbf[?generation=<id>]`: one level's areas in the user's scope, as MVT.

    200 with the tile; 204 (no body) when no visible area touches it; 304 when If-None-Match still holds;
    400 for a tile outside the zoom's range or a malformed generation; 404 for an unknown level or generation;
    401 without a login.
    """
    user = request.user
    if not user.is_authenticated:
        return JsonResponse({"error": {"code": "not_authenticated", "message": _("Log in to see the map."),
                                       "fields": {}}}, status=401)
    generation_param = request.GET.get("generation")
    try:
        tiles.parse_level(level)
        tiles.check_tile(z, x, y)
        pk = tiles.generation_pk(generation_param)  # a malformed id is a 400 before any query
        revalidating = bool(request.headers.get("If-None-Match"))
        # A generation this process has already seen frozen needs no query at all (frozen ones never change).
        # Otherwise one small query when the generation has to be known before any tile is made: for the active
        # one (its id keys the tile cache) or for a revalidation that may need no tile.
        generation = tiles.frozen_generation(pk)
        if generation is None and (pk is None or revalidating):
            generation = tiles.find_generation(generation_param)
        content = None
        etag = tiles.tile_etag(user, generation, level, z, x, y) if generation is not None else ""
        still_valid = _etag_matches(request, etag)  # a frozen generation's validator: no tile needed for a 304
        if etag and not still_valid:
            content = tiles.cached_tile(user, generation, level, z, x, y)
        if content is None and not still_valid:
            # Not cached (or a draft's, never cached): the tile statement. Made for the generation found above, if
            # any, so the tile matches the id its ETag and cache entry carry even if another one was just activated.
            generation, content = tiles.render_tile(
                user, str(generation.pk) if generation is not None else generation_param, level, z, x, y)
            etag = tiles.tile_etag(user, generation, level, z, x, y, content)
        response = tile_response(request, etag, content)
    except DomainError as exc:
        return _error(exc)
    response["ETag"] = etag
    # A draft's areas still move, so its tiles are revalidated every time; a frozen generation's are kept.
    max_age = 0 if generation.is_editable else TILE_MAX_AGE
    response["Cache-Control"] = f"private, max-age={max_age}" if max_age else "private, no-cache"
    # Another user logging in on the same browser must not get this user's tiles from the browser's cache.
    response["Vary"] = "Cookie, Authorization"
    return response


def _basemap():
    """The raster base layer the settings ask for, or None: the default needs no network at all."""
    choice = settings.WANGGE_BASEMAP
    if choice == "osm":
        return {"kind": "osm", "tiles": ["https://tile.openstreetmap.org/{z}/{x}/{y}.png"], "maxzoom": 19,
                "attribution": "© OpenStreetMap contributors"}
    if choice == "tianditu" and settings.WANGGE_TIANDITU_KEY:
        def layer(name):
            return [f"https://t{n}.tianditu.gov.cn/{name}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
                    f"&LAYER={name}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}"
                    f"&TILECOL={{x}}&tk={settings.WANGGE_TIANDITU_KEY}" for n in range(8)]
        return {"kind": "tianditu", "tiles": layer("vec"), "labels": layer("cva"), "maxzoom": 18,
                "attribution": "© 天地图"}
    return None


@login_required
def map_page(request):
    """The grid map: our vector tiles per level, details of a clicked area, search, level switcher."""
    generation = Generation.objects.filter(state=Generation.State.ACTIVE).first()
    extent = None
    if generation is not None:
        # Open on the user's own grids: their scope also holds the ancestors (a whole district) for context.
        visible = Area.objects.restrict(request.user, VIEW_AREA).filter(generation=generation)
        extent = (visible.filter(level=codes.GRID).aggregate(extent=Extent("geom"))["extent"]
                  or visible.aggregate(extent=Extent("geom"))["extent"])
    config = {
        "generation": generation.pk if generation else None,
        # Relative: map.js prefixes the page's origin (MapLibre wants absolute tile URLs).
        "tiles": "/tiles/{level}/{z}/{x}/{y}.pbf" + (f"?generation={generation.pk}" if generation else ""),
        "areasUrl": reverse("area-list"),
        "areaUrl": reverse("area-detail", args=[0]).replace("/0/", "/{id}/"),
        "lookupUrl": reverse("lookup"),
        "levels": list(codes.LEVELS),
        "bounds": list(extent) if extent else None,
        "basemap": _basemap(),
        "strings": {
            "district": _("District"), "subdistrict": _("Subdistrict"), "community": _("Community"),
            "grid": _("Grid"), "basic": _("basic grid"), "dedicated": _("dedicated grid"),
            "noResults": _("Nothing found."), "searchFailed": _("The search failed."),
            "outside": _("No area of yours here."), "loading": _("Loading…"), "size": _("Size"),
            "code": _("Code"), "kind": _("Kind"), "dedicatedTo": _("Dedicated to"), "km2": _("km²"),
        },
    }
    # The resident distribution map's layers (registry/map_views.py; residents.js reads this).
    from wangge.registry.map_views import residents_config

    config["residents"] = residents_config(request.user)
    return render(request, "geo/map.html", {"config": config, "has_generation": generation is not None,
                                            "levels": [(level, config["strings"][level]) for level in codes.LEVELS]})
