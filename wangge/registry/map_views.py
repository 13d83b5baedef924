"""The resident distribution map's endpoints (docs/registry-map.md): counts per grid, building tiles, building
detail. Same answers as the area tiles: 401 without a login, 400 for bad input, 404 for what is not the user's."""

from django.http import Http404, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from wangge.core.errors import DomainError
from wangge.geo.views import TILE_MAX_AGE, _error, tile_response

from . import mapstats


def _unauthenticated() -> JsonResponse:
    return JsonResponse({"error": {"code": "not_authenticated", "message": _("Log in to see the map."),
                                   "fields": {}}}, status=401)


def _private(response, *, vary=True):
    # Registry rows change at any time: browsers keep what they got but ask again (a cheap 304 for tiles).
    response["Cache-Control"] = "private, no-cache"
    if vary:
        # Another user logging in on the same browser must not get this user's counts or buildings.
        response["Vary"] = "Cookie, Authorization"
    return response


@require_GET
def stats(request):
    """`/registry/map/stats.json?metric=persons|households|flowing|tag:<slug>`: counts per grid code in scope."""
    if not request.user.is_authenticated:
        return _unauthenticated()
    try:
        body = mapstats.grid_counts(request.user, request.GET.get("metric", ""))
    except DomainError as exc:
        return _error(exc)
    return _private(JsonResponse(body))


@require_GET
def building_tile(request, z, x, y):
    """`/registry/map/buildings/<z>/<x>/<y>.pbf`: the user's buildings as MVT from zoom 14; 204 below it or when
    none is there, 304 when If-None-Match still holds, 400 for a tile out of range."""
    if not request.user.is_authenticated:
        return _unauthenticated()
    try:
        content = mapstats.building_tile(request.user, z, x, y)
    except DomainError as exc:
        return _error(exc)
    if content is None:  # below the minimum zoom: nothing to draw, and nothing that could change
        response = HttpResponse(status=204)
        response["Cache-Control"] = f"private, max-age={TILE_MAX_AGE}"
        return response
    etag = mapstats.building_etag(request.user, z, x, y, content)
    response = tile_response(request, etag, content)
    response["ETag"] = etag
    return _private(response)


@require_GET
def building(request, pk):
    """`/registry/map/buildings/<id>.json`: the building's houses and households, masked; 404 across scope."""
    if not request.user.is_authenticated:
        return _unauthenticated()
    try:
        body = mapstats.building_detail(request.user, pk)
    except Http404:
        return JsonResponse({"error": {"code": "not_found", "message": _("Not found."), "fields": {}}}, status=404)
    return _private(JsonResponse(body))


def residents_config(user) -> dict:
    """What the map page needs for the resident layers (geo.views.map_page puts it under config["residents"])."""
    return {
        "statsUrl": reverse("registry-map:stats"),
        "buildingTiles": reverse("registry-map:building-tile", args=[0, 0, 0]).replace("/0/0/0.pbf",
                                                                                       "/{z}/{x}/{y}.pbf"),
        "buildingUrl": reverse("registry-map:building", args=[0]).replace("/0.json", "/{id}.json"),
        "buildingMinzoom": mapstats.BUILDING_MINZOOM,
        "metrics": mapstats.metric_choices(user),
        "strings": {
            "statistics": _("Resident statistics"), "none": _("No statistics"), "legend": _("Legend"),
            "zero": _("none"), "loading": _("Loading…"), "failed": _("The statistics could not be loaded."),
            "building": _("Building"), "grid": _("Grid"), "address": _("Address"), "houses": _("Houses"),
            "households": _("Households"), "members": _("Members"), "noHouses": _("No houses recorded."),
            "countsOnly": _("Counts only: names are shown to those who may see persons here."),
            "total": _("Total"), "buildingFailed": _("This building could not be loaded."),
        },
    }
