"""Which terminal grid a place lies in: the grid of the active generation covering the point (lowest code on a
shared boundary, as in geo.lookup and the batch index)."""

from django.db import connection

from wangge.geo.index import current_index


def grid_code_at(point) -> str:
    """The 15-digit code of the current grid covering `point` (WGS84), or "" outside every grid."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.code FROM geo_area a JOIN geo_generation g ON g.id = a.generation_id "
            "WHERE g.state = 'active' AND a.level = 'grid' "
            "AND ST_Covers(a.geom, ST_SetSRID(ST_MakePoint(%s, %s), 4326)) "
            "ORDER BY a.code LIMIT 1", [point.x, point.y])
        row = cursor.fetchone()
    return row[0] if row else ""


def grid_codes_at(lon, lat) -> list[str]:
    """Vectorised: the grid code of each point (arrays of WGS84 coordinates), "" outside; via the in-process index."""
    index = current_index()
    if index is None:
        return [""] * len(lon)
    found = index.codes_for(lon, lat)
    return [code or "" for code in found]
