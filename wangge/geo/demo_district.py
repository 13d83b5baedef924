"""The demo district: Shizhong District of Jinan (370103) with its real subdistrict and community codes and
synthetic, deterministic geometry — about 281 km² around 36.651°N 116.992°E, ~3,170 terminal grids, no gaps and
no overlaps at any level.

How the geometry is made (all in a local azimuthal-equidistant projection, in metres):
1. an irregular outline elongated north-south, scaled to the district's area;
2. one seed per grid on a jittered lattice inside it, the count trimmed to the target;
3. the seeds split into subdistricts, then communities, by recursive bisection with target sizes, so every
   region is compact and its grid count proportional to its real number of communities;
4. the Voronoi cells of the seeds, clipped to the outline, are the grids; each community is the union of its
   grids and each subdistrict the union of its communities, so the levels nest exactly.
"""

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Polygon

from . import codes
from .numbering import reading_order

CENTER_LON, CENTER_LAT = 116.992, 36.651
DISTRICT_AREA_M2 = 281e6
GRID_COUNT = 3170
DEDICATED_KINDS = ["学校", "医院", "产业园区", "大型企业", "商业综合体"]


@dataclass
class DemoArea:
    level: str
    code: str
    name: str
    geom: MultiPolygon  # WGS84 lon/lat
    kind: str = "basic"
    dedicated_to: str = ""
    household_target: int | None = None
    population_target: int | None = None
    children: list = field(default_factory=list)


def default_divisions_csv() -> Path:
    """The NBS 2023 code list of 370103, shipped with the package (a copy of shared/data/370103-divisions.csv)."""
    return Path(__file__).resolve().parent / "data" / "370103-divisions.csv"


def read_divisions(path: Path):
    """(district row, [subdistrict rows], {subdistrict code: [community rows]}) from the NBS code list."""
    with open(path, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    district = next(r for r in rows if r["level"] == "district")
    subdistricts = [r for r in rows if r["level"] == "subdistrict"]
    communities = {s["code"]: [r for r in rows if r["level"] == "community" and r["parent_code"] == s["code"]]
                   for s in subdistricts}
    return district, subdistricts, communities


def short_community_name(name: str) -> str:
    for suffix in ("村民委员会", "居民委员会", "居委会", "委员会"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _outline(rng) -> Polygon:
    angles = np.linspace(0, 2 * math.pi, 361)[:-1]
    radius = np.ones_like(angles)
    for k in range(2, 7):
        radius += rng.uniform(0.02, 0.07) * np.cos(k * angles + rng.uniform(0, 2 * math.pi))
    xs, ys = 0.72 * radius * np.cos(angles), 1.38 * radius * np.sin(angles)
    shape = Polygon(np.column_stack([xs, ys]))
    scale = math.sqrt(DISTRICT_AREA_M2 / shape.area)
    return shapely.affinity.scale(shape, scale, scale, origin=(0, 0))


def _seeds(outline: Polygon, count: int, rng) -> np.ndarray:
    spacing = math.sqrt(outline.area / count)
    minx, miny, maxx, maxy = outline.bounds
    for _ in range(40):
        gx, gy = np.meshgrid(np.arange(minx, maxx, spacing), np.arange(miny, maxy, spacing))
        lattice = np.column_stack([gx.ravel(), gy.ravel()]) + spacing / 2
        jittered = lattice + rng.uniform(-0.3, 0.3, lattice.shape) * spacing
        inside = jittered[shapely.contains_xy(outline, jittered[:, 0], jittered[:, 1])]
        if len(inside) >= count:
            keep = np.sort(rng.choice(len(inside), size=count, replace=False))
            return inside[keep]
        spacing *= 0.99
    raise RuntimeError("could not place the grid seeds")


def _largest_remainder(total: int, weights: list[float]) -> list[int]:
    raw = [total * w / sum(weights) for w in weights]
    sizes = [math.floor(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: raw[i] - sizes[i], reverse=True)[: total - sum(sizes)]:
        sizes[i] += 1
    return sizes


def _bisect(points: np.ndarray, indexes: np.ndarray, targets: list[tuple[str, int]], out: dict):
    """Assign `indexes` (rows of `points`) to the target keys, each getting its size, in compact regions."""
    if len(targets) == 1:
        out[targets[0][0]] = indexes
        return
    half = len(targets) // 2
    left_size = sum(size for _, size in targets[:half])
    subset = points[indexes]
    width, height = np.ptp(subset[:, 0]), np.ptp(subset[:, 1])
    # Earlier codes go north (urban subdistricts come first in the code list) or west.
    key = -subset[:, 1] if height >= width else subset[:, 0]
    order = indexes[np.argsort(key, kind="stable")]
    _bisect(points, order[:left_size], targets[:half], out)
    _bisect(points, order[left_size:], targets[half:], out)


def build(seed: int = 370103, divisions_csv: Path | None = None, grid_count: int = GRID_COUNT) -> DemoArea:
    """The demo district as a tree of DemoArea, identical for the same seed and code list."""
    rng = np.random.default_rng(seed)
    district_row, subdistrict_rows, community_rows = read_divisions(divisions_csv or default_divisions_csv())

    outline = _outline(rng)
    seeds = _seeds(outline, grid_count, rng)
    cells = shapely.voronoi_polygons(
        shapely.MultiPoint(seeds), extend_to=outline.buffer(1000).envelope, ordered=True
    )
    cells = shapely.intersection(np.asarray(cells.geoms), outline)

    subdistrict_sizes = _largest_remainder(grid_count, [len(community_rows[s["code"]]) for s in subdistrict_rows])
    by_subdistrict = {}
    _bisect(seeds, np.arange(len(seeds)),
            [(s["code"], n) for s, n in zip(subdistrict_rows, subdistrict_sizes, strict=True)], by_subdistrict)

    to_wgs84 = Transformer.from_crs(
        f"+proj=aeqd +lat_0={CENTER_LAT} +lon_0={CENTER_LON} +datum=WGS84 +units=m", "EPSG:4326", always_xy=True
    )

    def wgs84(geom) -> MultiPolygon:
        geom = shapely.transform(geom, lambda xy: np.column_stack(to_wgs84.transform(xy[:, 0], xy[:, 1])))
        return geom if isinstance(geom, MultiPolygon) else MultiPolygon([geom])

    district = DemoArea(codes.DISTRICT, district_row["code"], district_row["name"], wgs84(outline))
    for subdistrict_row in subdistrict_rows:
        members = by_subdistrict[subdistrict_row["code"]]
        communities = community_rows[subdistrict_row["code"]]
        # Villages hold fewer, larger grids than urban communities; jitter keeps counts from looking machine-made.
        weights = [rng.uniform(0.7, 1.3) for _ in communities]
        sizes = _largest_remainder(len(members), weights)
        by_community = {}
        _bisect(seeds, members, [(c["code"], n) for c, n in zip(communities, sizes, strict=True)], by_community)

        subdistrict_geoms = []
        subdistrict = DemoArea(codes.SUBDISTRICT, subdistrict_row["code"], subdistrict_row["name"], None)
        for community_row in communities:
            grid_indexes = by_community[community_row["code"]]
            community_geom = shapely.union_all(cells[grid_indexes])
            subdistrict_geoms.append(community_geom)
            community = DemoArea(codes.COMMUNITY, community_row["code"], community_row["name"],
                                 wgs84(community_geom))
            short = short_community_name(community_row["name"])
            order = reading_order([tuple(seeds[i]) for i in grid_indexes])
            for sequence, position in enumerate(order, start=1):
                cell = cells[grid_indexes[position]]
                households = int(rng.integers(300, 501))
                dedicated = rng.random() < 0.03
                community.children.append(DemoArea(
                    codes.GRID, f"{community_row['code']}{sequence:03d}", f"{short}第{sequence}网格", wgs84(cell),
                    kind="dedicated" if dedicated else "basic",
                    dedicated_to=str(rng.choice(DEDICATED_KINDS)) if dedicated else "",
                    household_target=households, population_target=int(households * rng.uniform(2.4, 2.9)),
                ))
            subdistrict.children.append(community)
        subdistrict.geom = wgs84(shapely.union_all(subdistrict_geoms))
        district.children.append(subdistrict)
    return district


def load(*, actor, seed: int = 370103, divisions_csv: Path | None = None, effective_from="2024-01-01",
         grid_count: int = GRID_COUNT):
    """Writes the demo district as a new generation, validates and activates it. Returns the generation."""
    import datetime

    from django.contrib.gis.geos import GEOSGeometry
    from django.db import transaction

    from . import services
    from .models import Area

    tree = build(seed=seed, divisions_csv=divisions_csv, grid_count=grid_count)
    with transaction.atomic():
        generation = services.do_create_draft(actor=actor, description=f"Demo district 370103 (seed {seed})",
                                              based_on=None)

        def insert(nodes, parents):
            rows = [
                Area(generation=generation, level=node.level, code=node.code, name=node.name,
                     parent=parents.get(node.code[: codes.CODE_LENGTH.get(codes.PARENT_LEVEL.get(node.level), 0)]),
                     kind=node.kind, dedicated_to=node.dedicated_to, household_target=node.household_target,
                     population_target=node.population_target, district_code=node.code[:6],
                     geom=GEOSGeometry(memoryview(node.geom.wkb), srid=4326))
                for node in nodes
            ]
            return {area.code: area for area in Area.objects.bulk_create(rows, batch_size=500)}

        level = [tree]
        parents = {}
        while level:
            parents = insert(level, parents)
            level = [child for node in level for child in node.children]
        services.refresh_derived(list(Area.objects.filter(generation=generation).values_list("pk", flat=True)))
    report = services.do_validate_generation(generation, actor=actor)
    if report["error_count"]:
        raise RuntimeError(f"the demo district failed validation: {report['issues'][:5]}")
    services.do_activate_generation(generation, actor=actor,
                                    effective_from=datetime.date.fromisoformat(effective_from))
    generation.refresh_from_db()
    return generation
