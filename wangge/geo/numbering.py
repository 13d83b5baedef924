"""Grid sequence numbering inside a community: west→east within a row, rows north→south (DOMAIN.md §2)."""

import itertools
from statistics import median


def reading_order(points, band_height=None):
    """Indexes of `points` [(x, y), …] in reading order: north to south by rows, west to east inside a row.

    Points whose y lies within one band height of the row's first (northernmost) point share a row. The band
    height defaults to the median spacing implied by the points themselves.
    """
    if not points:
        return []
    if band_height is None:
        ys = sorted(y for _, y in points)
        gaps = [b - a for a, b in itertools.pairwise(ys) if b - a > 0]
        spread = ys[-1] - ys[0]
        band_height = max(median(gaps) * 2 if gaps else 0, spread / max(len(points) ** 0.5, 1) * 0.6)
    remaining = sorted(range(len(points)), key=lambda i: -points[i][1])
    order = []
    while remaining:
        top = points[remaining[0]][1]
        row = [i for i in remaining if top - points[i][1] <= band_height]
        row_set = set(row)
        remaining = [i for i in remaining if i not in row_set]
        order.extend(sorted(row, key=lambda i: points[i][0]))
    return order
