"""Exporting the areas of any generation, at one level or all, as GeoJSON or GeoPackage.

GeoJSON is written here, feature by feature, with every coordinate at full precision so an export imports back
to the same geometry. GeoPackage is made from that GeoJSON by GDAL's ogr2ogr (a subprocess with an argument
list, no shell). A user's export holds only what they may view (Area.objects.restrict(user, VIEW_AREA)).
"""

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from django.db.models.functions import Length
from django.utils.translation import gettext as _

from wangge.accounts.roles import VIEW_AREA
from wangge.core.errors import DomainError

from . import codes
from .importers import ALL_LEVELS, LEVEL_CHOICES
from .models import Area

EXPORT_FIELDS = ("code", "name", "level", "parent_code", "kind", "dedicated_to", "household_target",
                 "population_target", "area_m2")
FORMATS = {
    "geojson": (".geojson", "application/geo+json"),
    "gpkg": (".gpkg", "application/geopackage+sqlite3"),
}
GEOPACKAGE_LAYER = "areas"


class ExportFailed(RuntimeError):
    """ogr2ogr could not write the GeoPackage: a fault of the machine, not of the request."""


def export_queryset(generation, *, user=None, level=ALL_LEVELS):
    """The areas to export, district first then by code; only the user's scope when a user is given."""
    if level not in LEVEL_CHOICES:
        raise DomainError(_("Unknown level %(level)r; use one of %(choices)s.")
                          % {"level": level, "choices": ", ".join(LEVEL_CHOICES)}, field="level")
    queryset = Area.objects.filter(generation=generation)
    if user is not None:
        queryset = queryset.restrict(user, VIEW_AREA)
    if level != ALL_LEVELS:
        queryset = queryset.filter(level=level)
    return queryset.order_by(Length("code"), "code")


def write_geojson(queryset, stream):
    """Writes a FeatureCollection of `queryset` to the text stream; returns the number of features."""
    columns = [("parent__code" if name == "parent_code" else name) for name in EXPORT_FIELDS]
    stream.write('{"type": "FeatureCollection", "features": [\n')
    count = 0
    for values in queryset.values_list(*columns, "geom").iterator(chunk_size=500):
        *attributes, geom = values
        feature = {
            "type": "Feature",
            "properties": dict(zip(EXPORT_FIELDS, attributes, strict=True)),
            # json writes floats by repr, the shortest text that reads back to the same double.
            "geometry": {"type": "MultiPolygon", "coordinates": geom.coords},
        }
        stream.write((",\n" if count else "") + json.dumps(feature, ensure_ascii=False))
        count += 1
    stream.write("\n]}\n")
    return count


def export_areas(generation, output, *, user=None, level=ALL_LEVELS, fmt="geojson"):
    """Writes the export to the path `output`; returns the number of areas written."""
    if fmt not in FORMATS:
        raise DomainError(_("Unknown format %(format)r; use geojson or gpkg.") % {"format": fmt}, field="format")
    queryset = export_queryset(generation, user=user, level=level)
    output = Path(output)
    if fmt == "geojson":
        with output.open("w", encoding="utf-8") as stream:
            return write_geojson(queryset, stream)
    with tempfile.TemporaryDirectory(prefix="wangge-export-") as workdir:
        source = Path(workdir) / "areas.geojson"
        with source.open("w", encoding="utf-8") as stream:
            count = write_geojson(queryset, stream)
        target = Path(workdir) / "areas.gpkg"
        ogr2ogr = shutil.which("ogr2ogr")
        if ogr2ogr is None:
            raise ExportFailed("ogr2ogr is not installed (Debian package gdal-bin); GeoPackage export needs it.")
        result = subprocess.run(  # noqa: S603 — a fixed program and an argument list, no shell
            [ogr2ogr, "-f", "GPKG", "-nln", GEOPACKAGE_LAYER, "-a_srs", "EPSG:4326", str(target), str(source)],
            capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ExportFailed(f"ogr2ogr failed ({result.returncode}): {result.stderr.strip()[:500]}")
        shutil.move(target, output)
    return count


def export_filename(generation, *, level, fmt):
    suffix = FORMATS[fmt][0]
    level_part = level if level in codes.LEVELS else "all-levels"
    return f"generation-{generation.pk}-{level_part}{suffix}"
