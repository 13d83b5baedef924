"""GCJ-02 (国测局) and BD-09 (Baidu) conversions, both ways, vectorised (DOMAIN.md §9).

PROJ knows neither. GCJ-02 shifts WGS84 points inside China by 100–700 m with a published obfuscation formula
(ellipsoid a = 6378245.0, ee = 0.00669342162296594323); BD-09 shifts GCJ-02 again. The forward directions are
exact formulas; the inverses are solved iteratively to well under a millimetre (a round trip returns the point it
started from, so a point exported in GCJ-02 or BD-09 and imported again lands in the same grid). Points outside
China are not shifted, as the services themselves do.
"""

import numpy as np

from wangge.core.errors import DomainError

A = 6378245.0
EE = 0.00669342162296594323
X_PI = np.pi * 3000.0 / 180.0
CRS_CHOICES = ("wgs84", "cgcs2000", "gcj02", "bd09")
_SAME_AS_WGS84 = ("wgs84", "cgcs2000", "epsg:4326", "epsg:4490")
# The inverses stop once no point moves by more than this (1e-10° is about 0.01 mm).
_CONVERGED = 1e-10
_MAX_ITERATIONS = 10


def _outside_china(lon, lat):
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _gcj02_offsets(x, y):
    """The published polynomial-plus-sines offsets (in metres on the Krasovsky ellipsoid) at x = lon - 105,
    y = lat - 35. The sin(6πx) + sin(2πx) term is common to both and computed once."""
    x_pi, y_pi = x * np.pi, y * np.pi
    common = 20.0 * np.sin(6.0 * x_pi) + 20.0 * np.sin(2.0 * x_pi)
    xy, root = x * y, np.sqrt(np.abs(x))
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * xy + 0.2 * root
    dlat += (common + 20.0 * np.sin(y_pi) + 40.0 * np.sin(y_pi / 3.0)
             + 160.0 * np.sin(y_pi / 12.0) + 320.0 * np.sin(y_pi / 30.0)) * (2.0 / 3.0)
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * xy + 0.1 * root
    dlon += (common + 20.0 * np.sin(x_pi) + 40.0 * np.sin(x_pi / 3.0)
             + 150.0 * np.sin(x_pi / 12.0) + 300.0 * np.sin(x_pi / 30.0)) * (2.0 / 3.0)
    return dlon, dlat


def _as_arrays(lon, lat):
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def wgs84_to_gcj02(lon, lat):
    lon, lat = _as_arrays(lon, lat)
    dlon, dlat = _gcj02_offsets(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * np.pi
    magic = 1 - EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((A * (1 - EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (A / sqrtmagic * np.cos(radlat) * np.pi)
    outside = _outside_china(lon, lat)
    return np.where(outside, lon, lon + dlon), np.where(outside, lat, lat + dlat)


def _invert(forward, lon, lat, start):
    """Solves forward(w) = (lon, lat) by fixed-point iteration from `start`. The shifts change by well under 1 %
    per degree, so each step gains about two orders of magnitude: four or five steps reach _CONVERGED."""
    wlon, wlat = start
    for _ in range(_MAX_ITERATIONS):
        flon, flat = forward(wlon, wlat)
        elon, elat = flon - lon, flat - lat
        wlon, wlat = wlon - elon, wlat - elat
        if not elon.size or max(np.nanmax(np.abs(elon)), np.nanmax(np.abs(elat))) < _CONVERGED:
            break
    return wlon, wlat


def gcj02_to_wgs84(lon, lat):
    lon, lat = _as_arrays(lon, lat)
    return _invert(wgs84_to_gcj02, lon, lat, (lon.copy(), lat.copy()))


def gcj02_to_bd09(lon, lat):
    lon, lat = _as_arrays(lon, lat)
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * X_PI)
    outside = _outside_china(lon, lat)
    return np.where(outside, lon, z * np.cos(theta) + 0.0065), np.where(outside, lat, z * np.sin(theta) + 0.006)


def _bd09_to_gcj02_published(lon, lat):
    """Baidu's published closed-form inverse: an approximation, off by up to about 0.2 m."""
    x, y = lon - 0.0065, lat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def bd09_to_gcj02(lon, lat):
    """The exact inverse of gcj02_to_bd09: the published approximation, refined until the round trip closes."""
    lon, lat = _as_arrays(lon, lat)
    glon, glat = _invert(gcj02_to_bd09, lon, lat, _bd09_to_gcj02_published(lon, lat))
    outside = _outside_china(lon, lat)
    return np.where(outside, lon, glon), np.where(outside, lat, glat)


def wgs84_to_bd09(lon, lat):
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon, lat):
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def _unknown(crs):
    return DomainError(f"Unknown coordinate system {crs!r}; use one of {', '.join(CRS_CHOICES)}.", field="crs")


def to_wgs84(lon, lat, crs):
    """Coordinates in `crs` → WGS84. CGCS2000 is treated as WGS84 (they differ by under 0.1 mm)."""
    name = (crs or "wgs84").lower() if isinstance(crs, str) or crs is None else crs
    if name in _SAME_AS_WGS84:
        return _as_arrays(lon, lat)
    if name == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if name == "bd09":
        return bd09_to_wgs84(lon, lat)
    raise _unknown(crs)


def from_wgs84(lon, lat, crs):
    name = (crs or "wgs84").lower() if isinstance(crs, str) or crs is None else crs
    if name in _SAME_AS_WGS84:
        return _as_arrays(lon, lat)
    if name == "gcj02":
        return wgs84_to_gcj02(lon, lat)
    if name == "bd09":
        return wgs84_to_bd09(lon, lat)
    raise _unknown(crs)
