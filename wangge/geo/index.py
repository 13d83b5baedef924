"""The in-process lookup index for batch work: a shapely STRtree over the current generation's grids.

PostGIS stays the source of truth; this index is a read-only copy, rebuilt when the active generation changes
(checked with one cheap query per batch, so every web and worker process notices an activation).
"""

import threading

import numpy as np
import shapely

from . import codes
from .models import Area, Generation

_lock = threading.Lock()
_index = None


class GridIndex:
    def __init__(self, generation_id, area_codes, geometries):
        self.generation_id = generation_id
        # Sorted by code so that a point on a shared boundary deterministically goes to the lowest code.
        order = np.argsort(np.asarray(area_codes))
        self.codes = np.asarray(area_codes, dtype=object)[order]
        self.geometries = np.asarray(geometries, dtype=object)[order]
        shapely.prepare(self.geometries)
        self.tree = shapely.STRtree(self.geometries)

    @classmethod
    def build(cls, generation):
        rows = Area.objects.filter(generation=generation, level=codes.GRID).values_list("code", "geom")
        area_codes, geometries = [], []
        for code, geom in rows:
            area_codes.append(code)
            geometries.append(shapely.from_wkb(bytes(geom.wkb)))
        return cls(generation.pk, area_codes, geometries)

    def assign(self, lon, lat):
        """For each point (WGS84 arrays), the index into self.codes of the grid covering it, or -1."""
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        if not len(lon):
            return np.full(0, -1, dtype=np.int64)
        points = shapely.points(lon, lat)
        point_index, grid_index = self.tree.query(points, predicate="intersects")
        # A point on a shared boundary touches two grids: keep the lowest code (grids are sorted by code).
        unmatched = len(self.codes)
        result = np.full(len(lon), unmatched, dtype=np.int64)
        np.minimum.at(result, point_index, grid_index)
        result[result == unmatched] = -1
        return result

    def codes_for(self, lon, lat):
        found = self.assign(lon, lat)
        out = np.full(len(found), None, dtype=object)
        matched = found >= 0
        out[matched] = self.codes[found[matched]]
        return out


def current_index():
    """The index of the active generation, built on first use and rebuilt after an activation."""
    global _index
    active_id = Generation.objects.filter(state=Generation.State.ACTIVE).values_list("pk", flat=True).first()
    if active_id is None:
        return None
    index = _index
    if index is not None and index.generation_id == active_id:
        return index
    with _lock:
        if _index is None or _index.generation_id != active_id:
            _index = GridIndex.build(Generation.objects.get(pk=active_id))
        return _index


def forget_index():
    global _index
    _index = None
