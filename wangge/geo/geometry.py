"""Checks and conversions for boundary geometry entering the system, from any source (API, importer, service)."""

import json

from django.contrib.gis.gdal import GDALException
from django.contrib.gis.geos import GEOSException, GEOSGeometry, MultiPolygon, Polygon
from django.utils.translation import gettext as _

from wangge.core.errors import DomainError


def as_multipolygon(value, *, field="geom", repair=False) -> tuple[MultiPolygon, str | None]:
    """A valid WGS84 MultiPolygon from GEOS geometry, WKT or GeoJSON text, or a DomainError naming `field`.

    With `repair`, an invalid geometry is made valid (ST_MakeValid semantics) and the second value says what
    was wrong; without it the caller gets GEOS's reason.
    """
    try:
        if isinstance(value, GEOSGeometry):
            geom = value
        elif isinstance(value, dict):
            geom = GEOSGeometry(json.dumps(value))  # GeoJSON as parsed from a request body
        elif isinstance(value, str):
            geom = GEOSGeometry(value)
        else:
            raise TypeError(type(value).__name__)
    except (GEOSException, ValueError, TypeError, GDALException) as exc:
        raise DomainError(_("Not a readable geometry."), field=field) from exc
    if geom.srid is None:
        geom.srid = 4326
    if geom.srid not in (4326, 4490):
        raise DomainError(
            _("Geometry must be in WGS84 (EPSG:4326) or CGCS2000 (EPSG:4490), not EPSG:%(srid)s.")
            % {"srid": geom.srid}, field=field)
    geom.srid = 4326  # CGCS2000 differs from WGS84 by under 0.1 mm (DOMAIN.md §9)
    if geom.empty:
        raise DomainError(_("The geometry is empty."), field=field)
    if not isinstance(geom, Polygon | MultiPolygon):
        raise DomainError(_("A boundary must be a Polygon or MultiPolygon, not %(type)s.") % {"type": geom.geom_type},
                          field=field)
    minx, miny, maxx, maxy = geom.extent
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise DomainError(_("Coordinates are out of range: longitude must lie in [-180, 180] and latitude in "
                            "[-90, 90]."), field=field)
    repaired = None
    if not geom.valid:
        reason = geom.valid_reason
        if not repair:
            raise DomainError(_("Invalid geometry: %(reason)s") % {"reason": reason}, field=field,
                              code="invalid_geometry")
        geom = geom.make_valid()
        polygons = _polygons_of(geom)
        if not polygons:
            raise DomainError(_("Invalid geometry that cannot be repaired: %(reason)s") % {"reason": reason},
                              field=field, code="invalid_geometry")
        geom = MultiPolygon(polygons, srid=4326)
        repaired = reason
    if isinstance(geom, Polygon):
        geom = MultiPolygon(geom, srid=4326)
    return geom, repaired


def _polygons_of(geom):
    if isinstance(geom, Polygon):
        return [geom] if not geom.empty else []
    if isinstance(geom, MultiPolygon):
        return list(geom)
    if geom.geom_type == "GeometryCollection":
        return [part for g in geom for part in _polygons_of(g)]
    return []


def geodesic_area_m2(geom) -> float:
    """Area on the WGS84 spheroid, in m² (what PostGIS's geography ST_Area returns)."""
    import shapely
    from pyproj import Geod

    area, _perimeter = Geod(ellps="WGS84").geometry_area_perimeter(shapely.from_wkb(bytes(geom.wkb)))
    return abs(area)
