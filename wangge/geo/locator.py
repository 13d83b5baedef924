"""Point → grid code: which terminal grid a place lies in (lowest code on a shared boundary, as in geo.lookup and the
batch index) — from PostGIS (`grid_code_at`), from the batch index for arrays (`grid_codes_at`), and one point at a
time in memory (`locate_grid`: the grid lookup of a report, the hot path, ≥ 200 reports/s).

The active generation's grids are held in each process in an STR-tree (built in about a tenth of a second from the
3,170 grids of the demo district; the batch index of geo.index, with its raster, takes seconds and serves arrays of
points). A lookup costs ~0.02 ms against ~0.5 ms for the query to PostGIS, which stays the source of truth:

- the table is a reference table (wangge.core.refcache): an activation, or any edit of a generation or an area,
  clears it here at once and in the other processes within seconds;
- in those seconds another process may still hold the grids of the generation an activation just retired, so a
  caller that writes the code checks, in the statement that writes it, that the generation it came from is still
  the active one (`Location.generation_id`), and asks PostGIS when it is not;
- a point outside every grid in memory is asked of PostGIS before it is refused, so a process that loaded its grids
  before the first activation does not refuse every report.

A point on a shared boundary goes to the lowest code, as in geo.lookup and the batch index.
"""

from typing import NamedTuple

import numpy as np
import shapely
from django.db import connection

from wangge.core.refcache import ReferenceCache

from . import codes
from .index import current_index
from .models import Area, Generation


class Location(NamedTuple):
    code: str  # "" outside every grid
    generation_id: int | None  # the generation the code was found in; None when PostGIS answered at once


class GridLocator:
    def __init__(self, generation_id, area_codes, geometries):
        order = np.argsort(np.asarray(area_codes, dtype=str), kind="stable")  # the lowest code first on a boundary
        self.generation_id = generation_id
        self.codes = [area_codes[i] for i in order]
        self.geometries = np.asarray(geometries, dtype=object)[order] if len(order) else np.empty(0, dtype=object)
        self.tree = shapely.STRtree(self.geometries)

    @classmethod
    def load(cls):
        generation_id = (Generation.objects.filter(state=Generation.State.ACTIVE).values_list("pk", flat=True)
                         .first())
        rows = (Area.objects.filter(generation_id=generation_id, level=codes.GRID).values_list("code", "geom")
                if generation_id is not None else [])
        area_codes, geometries = [], []
        for code, geom in rows:
            area_codes.append(code)
            geometries.append(shapely.from_wkb(bytes(geom.wkb)))
        return cls(generation_id, area_codes, geometries)

    def code_at(self, lon, lat):
        """The code of the grid covering the point (WGS84), or ""."""
        hits = self.tree.query(shapely.Point(lon, lat), predicate="intersects")
        return self.codes[hits.min()] if len(hits) else ""


active_grids = ReferenceCache("geo:active_grids", GridLocator.load)


def grid_code_at(point) -> str:
    """The 15-digit code of the current grid covering `point` (WGS84), or "" outside every grid: from PostGIS."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.code FROM geo_area a JOIN geo_generation g ON g.id = a.generation_id "
            "WHERE g.state = 'active' AND a.level = 'grid' "
            "AND ST_Covers(a.geom, ST_SetSRID(ST_MakePoint(%s, %s), 4326)) "
            "ORDER BY a.code LIMIT 1", [point.x, point.y])
        row = cursor.fetchone()
    return row[0] if row else ""


def grid_codes_at(lon, lat) -> list[str]:
    """Vectorised: the grid code of each point (arrays of WGS84 coordinates), "" outside; via the batch index."""
    index = current_index()
    if index is None:
        return [""] * len(lon)
    found = index.codes_for(lon, lat)
    return [code or "" for code in found]


def locate_grid(point):
    """The grid covering `point` (a WGS84 GEOS point): from memory, else from PostGIS (see the module's text)."""
    locator = active_grids.get()
    code = locator.code_at(point.x, point.y)
    if code:
        return Location(code, locator.generation_id)
    return Location(grid_code_at(point), None)
