"""Point → area chain (district → grid), from PostGIS, for the current or a past generation."""

import datetime

from django.contrib.gis.geos import Point

from wangge.accounts.roles import VIEW_AREA

from . import codes
from .crs import to_wgs84
from .models import Area, Generation


def generation_at(date: datetime.date | None):
    """The generation in force on `date` (today's active one when no date is given), or None."""
    generations = Generation.objects.filter(state__in=[Generation.State.ACTIVE, Generation.State.RETIRED])
    if date is None:
        return generations.filter(state=Generation.State.ACTIVE).first()
    return (generations.filter(effective_from__lte=date)
            .exclude(effective_to__lte=date).order_by("-effective_from").first())


def lookup_chain(user, lon, lat, crs="wgs84", at=None):
    """The areas covering the point, district first, that the user may see; an empty chain outside them."""
    wlon, wlat = (float(v) for v in to_wgs84(lon, lat, crs))
    point = Point(wlon, wlat, srid=4326)
    areas = Area.objects.restrict(user, VIEW_AREA).filter(geom__covers=point)
    if at is None:
        # The hot path: the active generation is found inside the same query, one round trip in all.
        areas = areas.filter(generation__state=Generation.State.ACTIVE)
        generation_id = None
    else:
        generation = generation_at(at)
        generation_id = generation.pk if generation else None
        areas = areas.filter(generation_id=generation_id)
    chain = []
    if at is None or generation_id is not None:
        rows = areas.order_by("code").values("id", "level", "code", "name", "generation_id")
        seen_levels = set()
        for row in rows:
            generation_id = row.pop("generation_id")
            # On a shared boundary two siblings cover the point: the lowest code wins, as in the batch index.
            if row["level"] not in seen_levels:
                seen_levels.add(row["level"])
                chain.append(row)
        chain.sort(key=lambda row: codes.LEVELS.index(row["level"]))
    if at is None and generation_id is None:
        # Outside every visible area: still say which generation answered (rare, so a second query is fine).
        generation_id = Generation.objects.filter(state=Generation.State.ACTIVE).values_list("pk", flat=True).first()
    return {"lon": lon, "lat": lat, "crs": crs, "wgs84": [round(wlon, 8), round(wlat, 8)],
            "generation": generation_id, "chain": chain}
