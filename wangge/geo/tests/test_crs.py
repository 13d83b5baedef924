"""GCJ-02 and BD-09 conversions against published reference pairs (DOMAIN.md §9).

Reference pairs and tolerances:
- eviltransform (github.com/googollee/eviltransform, go/transform_test.go and python/test.py): three WGS84 → GCJ-02
  pairs, checked to 6 decimal places forward, and the exact inverse within 0.5 m of the WGS84 point. (Its BD-09 pairs
  in python/test.py are not used: they are about 10 m away from what its own published formulas give, so they
  were not produced by those formulas.)
- coordtransform (github.com/wandergis/coordtransform, README "result"): conversions of (116.404, 39.915), printed to
  full double precision. Its forward formulas are the ones we use, so they must agree to floating-point noise; its
  inverses are closed-form approximations (GCJ-02 → WGS84 one step, "1–2 m", within 5 m per eviltransform's test of
  the same method; BD-09 → GCJ-02 Baidu's published decrypt, within centimetres), ours are exact.
"""

import math

import numpy as np
import pytest

from wangge.core.errors import DomainError
from wangge.geo import crs


def metres_between(lon1, lat1, lon2, lat2):
    """Great-circle distance on a sphere of the WGS84 equatorial radius, as the reference tests measure it."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6378137.0 * math.asin(math.sqrt(h))


# (wgs lon, wgs lat, gcj lon, gcj lat) from eviltransform's tests.
EVILTRANSFORM_PAIRS = [
    (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),  # Shanghai
    (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),  # Shenzhen
    (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),  # Beijing
]


@pytest.mark.parametrize("wlon,wlat,glon,glat", EVILTRANSFORM_PAIRS)
def test_wgs84_to_gcj02_matches_eviltransform_to_six_decimals(wlon, wlat, glon, glat):
    lon, lat = crs.wgs84_to_gcj02(wlon, wlat)
    assert abs(lon - glon) < 5e-7 and abs(lat - glat) < 5e-7


@pytest.mark.parametrize("wlon,wlat,glon,glat", EVILTRANSFORM_PAIRS)
def test_gcj02_to_wgs84_is_within_half_a_metre_of_eviltransform(wlon, wlat, glon, glat):
    lon, lat = crs.gcj02_to_wgs84(glon, glat)
    assert metres_between(float(lon), float(lat), wlon, wlat) < 0.5


def test_forward_formulas_match_coordtransform_to_floating_point():
    assert np.allclose(crs.wgs84_to_gcj02(116.404, 39.915), (116.41024449916938, 39.91640428150164),
                       rtol=0, atol=1e-9)
    assert np.allclose(crs.gcj02_to_bd09(116.404, 39.915), (116.41036949371029, 39.92133699351021),
                       rtol=0, atol=1e-9)


def test_inverses_agree_with_coordtransforms_approximations_within_their_accuracy():
    lon, lat = crs.bd09_to_gcj02(116.404, 39.915)
    assert metres_between(float(lon), float(lat), 116.39762729119315, 39.90865673957631) < 0.5
    lon, lat = crs.gcj02_to_wgs84(116.404, 39.915)
    assert metres_between(float(lon), float(lat), 116.39775550083061, 39.91359571849836) < 5


@pytest.fixture
def points_across_china():
    rng = np.random.default_rng(2026)
    return rng.uniform(73.5, 134.5, 20_000), rng.uniform(18.5, 53.0, 20_000)


@pytest.mark.parametrize("forward,inverse", [
    (crs.wgs84_to_gcj02, crs.gcj02_to_wgs84),
    (crs.wgs84_to_bd09, crs.bd09_to_wgs84),
    (crs.gcj02_to_bd09, crs.bd09_to_gcj02),
])
def test_round_trips_return_the_starting_point(points_across_china, forward, inverse):
    lon, lat = points_across_china
    back_lon, back_lat = inverse(*forward(lon, lat))
    # 1e-8° is about a millimetre: a point exported and imported again stays in its grid.
    assert np.abs(back_lon - lon).max() < 1e-8
    assert np.abs(back_lat - lat).max() < 1e-8


def test_the_shift_in_jinan_is_between_100_and_700_metres():
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(116.9, 117.1, 500), rng.uniform(36.5, 36.8, 500)
    glon, glat = crs.wgs84_to_gcj02(lon, lat)
    shifts = [metres_between(*p) for p in zip(lon, lat, glon, glat, strict=True)]
    assert 100 < min(shifts) and max(shifts) < 700


@pytest.mark.parametrize("convert", [crs.wgs84_to_gcj02, crs.gcj02_to_wgs84, crs.wgs84_to_bd09, crs.bd09_to_wgs84,
                                     crs.gcj02_to_bd09, crs.bd09_to_gcj02])
def test_points_outside_china_are_not_shifted(convert):
    # London, Tokyo, Sydney, San Francisco.
    lon = np.array([-0.1278, 139.6917, 151.2093, -122.4194])
    lat = np.array([51.5074, 35.6895, -33.8688, 37.7749])
    out_lon, out_lat = convert(lon, lat)
    assert np.array_equal(out_lon, lon) and np.array_equal(out_lat, lat)


def test_cgcs2000_and_wgs84_are_taken_as_equal():
    for name in ("wgs84", "cgcs2000", "CGCS2000", None):
        lon, lat = crs.to_wgs84([116.99], [36.65], name)
        assert lon.tolist() == [116.99] and lat.tolist() == [36.65]


def test_to_and_from_wgs84_dispatch_by_name():
    lon, lat = crs.from_wgs84(116.99, 36.65, "gcj02")
    assert (float(lon), float(lat)) != (116.99, 36.65)
    back = crs.to_wgs84(lon, lat, "GCJ02")
    assert abs(back[0] - 116.99) < 1e-9 and abs(back[1] - 36.65) < 1e-9
    back = crs.to_wgs84(*crs.from_wgs84(116.99, 36.65, "bd09"), "bd09")
    assert abs(back[0] - 116.99) < 1e-9 and abs(back[1] - 36.65) < 1e-9


@pytest.mark.parametrize("convert", [crs.to_wgs84, crs.from_wgs84])
@pytest.mark.parametrize("name", ["utm", "epsg:3857", "gcj-02", 4326])
def test_an_unknown_crs_names_the_crs_field(convert, name):
    with pytest.raises(DomainError) as error:
        convert(116.99, 36.65, name)
    assert error.value.field == "crs"
