"""The in-process lookup index for batch work: the current generation's grids, held in memory.

PostGIS stays the source of truth; this index is a read-only copy, rebuilt when the active generation changes
(checked with one cheap query per batch, so every web and worker process notices an activation).

How a batch is answered without a per-point Python loop (docs/performance.md has the figures):
- The district's bounding box is cut into a regular raster of small cells (about a tenth of a grid across).
  A cell lying wholly in the interior of one grid ("pure") answers every point that falls in it with a single array
  read; most points land in such cells.
- For the other cells the raster holds the few grids whose boundary passes near them; each such point is tested
  against only those, with GEOS's prepared point-in-polygon on raw coordinates (no point objects are built).
- A point on a shared boundary is covered by two grids: the lowest code wins, as in the PostGIS lookup.
"""

import threading

import numpy as np
import shapely

from . import codes
from .models import Area, Generation

_lock = threading.Lock()
_index = None

# About this many cells across a typical grid: finer means more pure cells but a bigger raster to build.
_CELLS_PER_GRID = 16
_MAX_CELLS = 4_000_000
# Cells are widened by this much (degrees, ~0.1 mm) when classified, so a point that rounding puts in the
# neighbouring cell is still answered correctly.
_CELL_MARGIN = 1e-9


class GridIndex:
    def __init__(self, generation_id, area_codes, geometries, names=None):
        self.generation_id = generation_id
        # Sorted by code so that a point on a shared boundary deterministically goes to the lowest code.
        order = np.argsort(np.asarray(area_codes, dtype=str), kind="stable")
        self.codes = np.asarray(area_codes, dtype=object)[order]
        self.names = (np.asarray(names, dtype=object)[order] if names is not None
                      else np.full(len(order), "", dtype=object))
        self.geometries = np.asarray(geometries, dtype=object)[order]
        shapely.prepare(self.geometries)
        self._build_raster()

    @classmethod
    def build(cls, generation):
        rows = Area.objects.filter(generation=generation, level=codes.GRID).values_list("code", "name", "geom")
        area_codes, names, geometries = [], [], []
        for code, name, geom in rows:
            area_codes.append(code)
            names.append(name)
            geometries.append(shapely.from_wkb(bytes(geom.wkb)))
        return cls(generation.pk, area_codes, geometries, names)

    def _build_raster(self):
        count = len(self.geometries)
        if not count:
            self.bounds = np.array([0.0, 0.0, -1.0, -1.0])
            self.shape = (0, 0)
            self.pure = np.zeros(0, dtype=np.int32)
            self.candidate_start = np.zeros(1, dtype=np.int64)
            self.candidates = np.zeros(0, dtype=np.int32)
            return
        bounds = shapely.bounds(self.geometries)
        x0, y0 = bounds[:, 0].min() - _CELL_MARGIN, bounds[:, 1].min() - _CELL_MARGIN
        x1, y1 = bounds[:, 2].max() + _CELL_MARGIN, bounds[:, 3].max() + _CELL_MARGIN
        typical = np.median(np.sqrt((bounds[:, 2] - bounds[:, 0]) * (bounds[:, 3] - bounds[:, 1])))
        size = max(typical / _CELLS_PER_GRID, np.sqrt((x1 - x0) * (y1 - y0) / _MAX_CELLS), 1e-7)
        nx, ny = int(np.ceil((x1 - x0) / size)), int(np.ceil((y1 - y0) / size))
        self.bounds = np.array([x0, y0, x1, y1])
        self.shape = (ny, nx)
        self.cell_size = size
        ix, iy = np.meshgrid(np.arange(nx), np.arange(ny))
        ix, iy = ix.ravel(), iy.ravel()
        boxes = shapely.box(x0 + ix * size - _CELL_MARGIN, y0 + iy * size - _CELL_MARGIN,
                            x0 + (ix + 1) * size + _CELL_MARGIN, y0 + (iy + 1) * size + _CELL_MARGIN)
        cells = shapely.STRtree(boxes)
        # Pure cells: wholly inside one grid's interior, so no point in them can be on a boundary.
        grid_index, cell_index = cells.query(self.geometries, predicate="contains_properly")
        pure = np.full(nx * ny, -1, dtype=np.int32)
        pure[cell_index] = grid_index
        # Every other cell keeps the grids it touches, lowest code first.
        grid_index, cell_index = cells.query(self.geometries, predicate="intersects")
        keep = pure[cell_index] < 0
        grid_index, cell_index = grid_index[keep], cell_index[keep]
        order = np.lexsort((grid_index, cell_index))
        self.candidates = grid_index[order].astype(np.int32)
        self.candidate_start = np.zeros(nx * ny + 1, dtype=np.int64)
        np.cumsum(np.bincount(cell_index, minlength=nx * ny), out=self.candidate_start[1:])
        self.pure = pure

    def assign(self, lon, lat):
        """For each point (WGS84 arrays), the index into self.codes of the grid covering it, or -1."""
        lon = np.ascontiguousarray(lon, dtype=float)
        lat = np.ascontiguousarray(lat, dtype=float)
        result = np.full(len(lon), -1, dtype=np.int64)
        if not len(lon) or not len(self.geometries):
            return result
        x0, y0, x1, y1 = self.bounds
        ny, nx = self.shape
        # NaN fails both comparisons, so it never reaches the raster.
        inside = (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)
        points = np.flatnonzero(inside)
        ix = np.minimum(((lon[points] - x0) / self.cell_size).astype(np.int64), nx - 1)
        iy = np.minimum(((lat[points] - y0) / self.cell_size).astype(np.int64), ny - 1)
        cell = iy * nx + ix
        pure = self.pure[cell]
        result[points] = pure
        # The rest: test each point against its cell's candidate grids.
        mixed = pure < 0
        points, cell = points[mixed], cell[mixed]
        start = self.candidate_start[cell]
        counts = self.candidate_start[cell + 1] - start
        has = counts > 0
        points, start, counts = points[has], start[has], counts[has]
        if not len(points):
            return result
        total = int(counts.sum())
        pair_point = np.repeat(points, counts)
        # Offsets 0..count-1 within each point's run of candidates.
        run_start = np.repeat(np.cumsum(counts) - counts, counts)
        pair_grid = self.candidates[np.repeat(start, counts) + (np.arange(total) - run_start)]
        hit = shapely.intersects_xy(self.geometries[pair_grid], lon[pair_point], lat[pair_point])
        hit_point, hit_grid = pair_point[hit], pair_grid[hit]
        # Candidates are in code order within a point's run, so its first hit is the lowest code.
        first = np.ones(len(hit_point), dtype=bool)
        first[1:] = hit_point[1:] != hit_point[:-1]
        result[hit_point[first]] = hit_grid[first]
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
