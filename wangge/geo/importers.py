"""Reading boundary files — GeoJSON, GeoPackage, Shapefile (plain or zipped) — into checked rows, for any level.

This is the file half of the one importer core (mapit's add_areas_from_file shape): `opened_source` turns a path or
an upload into something GDAL may open (size limits, safe zip extraction, format sniffing), and `read_rows` reads one
layer through GDAL with a field mapping, converts coordinates to WGS84 and checks every feature on its own (code,
name, attributes, geometry). What needs the database — parents, existing codes, the actor's scope — and every write
live in import_service.py.
"""

import re
import tempfile
import zipfile
from contextlib import contextmanager
from ctypes import c_char_p
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
from django.conf import settings
from django.contrib.gis.gdal import DataSource, Driver, GDALException
from django.contrib.gis.gdal.prototypes import ds as gdal_ds
from django.contrib.gis.geos import GEOSException, GEOSGeometry
from django.utils.translation import gettext as _

from wangge.core.errors import DomainError

from . import codes
from .crs import CRS_CHOICES, to_wgs84
from .geometry import as_multipolygon
from .models import Area

# GDAL may only use these drivers: no VRT, CSV or remote drivers that could make it read other files or the network.
ALLOWED_DRIVERS = ("GeoJSON", "GPKG", "ESRI Shapefile")
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
ALL_LEVELS = "all"
LEVEL_CHOICES = (*codes.LEVELS, ALL_LEVELS)
# Geographic systems whose longitude/latitude we store as they are (DOMAIN.md §9: CGCS2000 ≈ WGS84 within 0.1 mm).
ACCEPTED_SRIDS = (4326, 4490)
KIND_SYNONYMS = {
    "basic": Area.Kind.BASIC, "基础网格": Area.Kind.BASIC, "基础": Area.Kind.BASIC,
    "dedicated": Area.Kind.DEDICATED, "专属网格": Area.Kind.DEDICATED, "专属": Area.Kind.DEDICATED,
}
SQLITE_MAGIC = b"SQLite format 3\x00"
_SAFE_STEM = re.compile(r"[^\w.-]+")


@dataclass(frozen=True)
class FieldMapping:
    """Which attribute of the file holds each value. Code and name are required; the others are optional."""

    code: str = "code"
    name: str = "name"
    parent: str | None = None
    kind: str | None = None
    dedicated_to: str | None = None
    household_target: str | None = None
    population_target: str | None = None

    def mapped(self):
        """{value: attribute} for every value the file provides."""
        return {key: attribute for key, attribute in vars(self).items() if attribute}


@dataclass
class Problem:
    index: int
    code: str | None
    field: str
    reason: str

    def as_dict(self):
        return {"index": self.index, "code": self.code, "field": self.field, "reason": self.reason}


@dataclass
class Row:
    """One feature of the file, read and checked. `values` holds only what the mapping provides."""

    index: int
    code: str | None
    level: str | None = None
    parent_code: str | None = None
    values: dict = field(default_factory=dict)
    geom: GEOSGeometry | None = None
    repaired: str | None = None
    problems: list = field(default_factory=list)

    def problem(self, field_name, reason):
        self.problems.append(Problem(self.index, self.code, field_name, str(reason)))


@dataclass
class LayerContents:
    driver: str
    layer: str
    srs: str | None
    rows: list


# Getting a file GDAL may open -------------------------------------------------------------------------------------

def max_import_bytes():
    return settings.WANGGE_IMPORT_MAX_BYTES


def _too_big(size):
    limit = max_import_bytes()
    return DomainError(
        _("The file is too large (%(size)s MB); the limit is %(limit)s MB.")
        % {"size": f"{size / 1e6:.1f}", "limit": f"{limit / 1e6:.0f}"}, field="file", code="too_large")


@contextmanager
def opened_source(source, *, layer=None):
    """A local path GDAL can open, from a path on disk or an uploaded file (Django UploadedFile).

    Uploads are copied into a private temporary directory under a name that says their format, found from their
    content rather than the client's file name. A zip must hold a Shapefile; only its .shp/.shx/.dbf/.prj/.cpg
    members are extracted, by base name, so no member can land outside the directory.
    """
    with tempfile.TemporaryDirectory(prefix="wangge-import-") as workdir:
        workdir = Path(workdir)
        if isinstance(source, str | Path):
            path = Path(source)
            if not path.is_file():
                raise DomainError(_("There is no file at %(path)s.") % {"path": path}, field="file")
            size = path.stat().st_size
        else:
            size = source.size
            path = None
        if size == 0:
            raise DomainError(_("The file is empty."), field="file", code="empty_file")
        if size > max_import_bytes():
            raise _too_big(size)
        if path is None:
            path = _save_upload(source, workdir)
        if zipfile.is_zipfile(path):
            path = _extract_shapefile(path, workdir / "unzipped", layer=layer)
        yield path


def _save_upload(upload, workdir):
    upload.seek(0)
    head = upload.read(len(SQLITE_MAGIC))
    upload.seek(0)
    if head.startswith(b"PK\x03\x04"):
        suffix = ".zip"
    elif head == SQLITE_MAGIC:
        suffix = ".gpkg"
    else:
        suffix = ".geojson"
    path = workdir / f"upload{suffix}"
    with path.open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return path


def _extract_shapefile(zip_path, target, *, layer=None):
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DomainError(_("The zip file cannot be read."), field="file") from exc
    with archive:
        members = {}
        for info in archive.infolist():
            if info.is_dir():
                continue
            parts = PurePosixPath(info.filename.replace("\\", "/")).parts
            if info.filename.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                raise DomainError(_("The zip file holds an unsafe path %(name)s.") % {"name": info.filename},
                                  field="file")
            base = PurePosixPath(parts[-1]) if parts else None
            if base is None or base.name.startswith(".") or base.suffix.lower() not in SHAPEFILE_PARTS:
                continue  # readme files, __MACOSX metadata, …
            members.setdefault(base.stem, {})[base.suffix.lower()] = info
        stems = sorted(stem for stem, parts in members.items() if ".shp" in parts)
        if not stems:
            raise DomainError(_("The zip file holds no Shapefile (.shp with its .shx and .dbf)."), field="file")
        if layer:
            if layer not in stems:
                raise DomainError(_("The zip file has no Shapefile named %(layer)s; it has: %(names)s.")
                                  % {"layer": layer, "names": ", ".join(stems)}, field="layer")
            stem = layer
        elif len(stems) > 1:
            raise DomainError(_("The zip file holds several Shapefiles (%(names)s); choose one as the layer.")
                              % {"names": ", ".join(stems)}, field="layer")
        else:
            stem = stems[0]
        chosen = members[stem]
        missing = [suffix for suffix in (".shx", ".dbf") if suffix not in chosen]
        if missing:
            raise DomainError(_("The Shapefile %(name)s in the zip file lacks its %(parts)s.")
                              % {"name": stem, "parts": ", ".join(missing)}, field="file")
        if sum(info.file_size for info in chosen.values()) > max_import_bytes():
            raise _too_big(sum(info.file_size for info in chosen.values()))
        target.mkdir()
        safe_stem = _SAFE_STEM.sub("_", stem) or "layer"
        budget = max_import_bytes()
        for suffix, info in chosen.items():
            # The sizes in a zip's directory can lie (zip bombs): count what is really written.
            with archive.open(info) as member, (target / f"{safe_stem}{suffix}").open("wb") as out:
                while chunk := member.read(1 << 20):
                    budget -= len(chunk)
                    if budget < 0:
                        raise _too_big(max_import_bytes() + 1)
                    out.write(chunk)
        return target / f"{safe_stem}.shp"


def open_datasource(path):
    """A GDAL DataSource restricted to the allowed drivers, or a DomainError naming the file."""
    Driver.ensure_registered()
    allowed = (c_char_p * (len(ALLOWED_DRIVERS) + 1))(*(name.encode() for name in ALLOWED_DRIVERS), None)
    try:
        pointer = gdal_ds.open_ds(str(path).encode(), gdal_ds.GDAL_OF_READONLY | gdal_ds.GDAL_OF_VECTOR, allowed,
                                  None, None)
        return DataSource(pointer, Driver(gdal_ds.get_dataset_driver(pointer)).ptr)
    except GDALException as exc:
        raise DomainError(_("This is not a readable GeoJSON, GeoPackage or Shapefile (a Shapefile is uploaded as a "
                            ".zip holding its .shp, .shx and .dbf)."), field="file", code="unreadable_file") from exc


def _choose_layer(datasource, layer):
    names = [datasource[i].name for i in range(len(datasource))]
    if not names:
        raise DomainError(_("The file holds no layer."), field="file")
    # A GeoJSON file or a Shapefile is one layer whatever it is called; a GeoPackage's layers are chosen by name.
    if layer and (len(names) > 1 or str(datasource.driver) == "GPKG"):
        if layer not in names:
            raise DomainError(_("The file has no layer %(layer)s; it has: %(names)s.")
                              % {"layer": layer, "names": ", ".join(names)}, field="layer")
        return datasource[layer]
    if len(names) > 1:
        raise DomainError(_("The file holds several layers (%(names)s); choose one.") % {"names": ", ".join(names)},
                          field="layer")
    return datasource[0]


def describe_srs(srs):
    """The layer's coordinate system as EPSG:n (or its name), after checking we can take its coordinates."""
    if srs is None:
        return None
    srid = srs.srid
    if srid is None:
        try:
            srs.identify_epsg()
            srid = srs.srid
        except GDALException:
            srid = None
    label = f"EPSG:{srid}" if srid else (srs.name or _("an unnamed coordinate system"))
    if srs.projected:
        raise DomainError(
            _("The file's coordinates are projected (%(srs)s %(name)s). Only longitude/latitude in WGS84 (EPSG:4326) "
              "or CGCS2000 (EPSG:4490), possibly GCJ-02-shifted, can be imported: reproject the file first, for "
              "example with ogr2ogr -t_srs EPSG:4490.") % {"srs": label, "name": srs.name or ""},
            field="file", code="unsupported_srs")
    if srid not in ACCEPTED_SRIDS:
        raise DomainError(
            _("The file's coordinate system %(srs)s (%(name)s) is not supported; use WGS84 (EPSG:4326) or CGCS2000 "
              "(EPSG:4490).") % {"srs": label, "name": srs.name or ""}, field="file", code="unsupported_srs")
    return label


# Reading features ---------------------------------------------------------------------------------------------------

def check_options(*, level, crs):
    if level not in LEVEL_CHOICES:
        raise DomainError(_("Unknown level %(level)r; use one of %(choices)s.")
                          % {"level": level, "choices": ", ".join(LEVEL_CHOICES)}, field="level")
    if (crs or "").lower() not in CRS_CHOICES:
        raise DomainError(_("Unknown coordinate system %(crs)r; use one of %(choices)s.")
                          % {"crs": crs, "choices": ", ".join(CRS_CHOICES)}, field="crs")


def read_rows(path, *, mapping: FieldMapping, level=ALL_LEVELS, crs="wgs84", layer=None, repair=False):
    """Every feature of one layer as a checked Row. File-level faults raise DomainError; feature faults are
    recorded on the row, so the caller can report them all at once."""
    check_options(level=level, crs=crs)
    crs = crs.lower()
    datasource = open_datasource(path)
    source_layer = _choose_layer(datasource, layer)
    srs_label = describe_srs(source_layer.srs)
    available = list(source_layer.fields)
    for key, attribute in mapping.mapped().items():
        if attribute not in available:
            raise DomainError(
                _("The layer has no attribute %(attribute)s (mapped to the %(key)s); it has: %(names)s.")
                % {"attribute": attribute, "key": key, "names": ", ".join(available) or "-"},
                field=f"{key}_field")
    rows = []
    seen = {}
    try:
        for index, feature in enumerate(source_layer):
            row = _read_feature(index, feature, mapping, level=level, crs=crs, repair=repair)
            if row.code:
                if row.code in seen:
                    row.problem("code", _("The code %(code)s appears again; it was first used by feature %(first)d.")
                                % {"code": row.code, "first": seen[row.code]})
                else:
                    seen[row.code] = index
            rows.append(row)
    except GDALException as exc:
        raise DomainError(_("The file is damaged: GDAL stopped reading it at feature %(n)d.") % {"n": len(rows)},
                          field="file", code="unreadable_file") from exc
    return LayerContents(driver=str(datasource.driver), layer=source_layer.name, srs=srs_label, rows=rows)


def _text(value):
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Shapefiles often keep codes in numeric (Real) columns
    return str(value).strip()


def _read_feature(index, feature, mapping, *, level, crs, repair):
    try:
        attributes = {key: feature.get(attribute) for key, attribute in mapping.mapped().items()}
    except UnicodeDecodeError:
        row = Row(index=index, code=None)
        row.problem("file", _("The attributes cannot be decoded; for a Shapefile add a .cpg file naming the encoding "
                              "(for example GBK or UTF-8)."))
        return row
    code = _text(attributes.get("code"))
    row = Row(index=index, code=code or None)
    _check_code(row, code, _text(attributes.get("parent")) or None, level)
    _check_values(row, attributes)
    _read_geometry(row, feature, crs=crs, repair=repair)
    return row


def _check_code(row, code, declared_parent, level):
    row_level = codes.level_of(code) if level == ALL_LEVELS else level
    if row_level is None:
        row.problem("code", _("The code %(code)r is not a 6, 9, 12 or 15 digit area code.") % {"code": code}
                    if code else _("The code is empty."))
        return
    problems = codes.code_errors(code, row_level, declared_parent)
    if not problems and declared_parent and row_level != codes.DISTRICT and declared_parent != codes.parent_code(code):
        problems.append(_("The parent code %(parent)s is not the code one level above %(code)s.")
                        % {"parent": declared_parent, "code": code})
    for reason in problems:
        row.problem("code", reason)
    if not problems:
        row.level = row_level
        row.parent_code = codes.parent_code(code)


def _check_values(row, attributes):
    name = _text(attributes.get("name"))
    if not name:
        row.problem("name", _("A name is required."))
    elif len(name) > 100:
        row.problem("name", _("The name is longer than 100 characters."))
    row.values["name"] = name
    if "kind" in attributes:
        kind = _text(attributes["kind"])
        if kind:
            if kind.lower() not in KIND_SYNONYMS:
                row.problem("kind", _("Unknown kind %(kind)r; use basic (基础网格) or dedicated (专属网格).")
                            % {"kind": kind})
            else:
                row.values["kind"] = KIND_SYNONYMS[kind.lower()]
        else:
            row.values["kind"] = Area.Kind.BASIC
    if "dedicated_to" in attributes:
        dedicated_to = _text(attributes["dedicated_to"])
        if len(dedicated_to) > 100:
            row.problem("dedicated_to", _("The text is longer than 100 characters."))
        row.values["dedicated_to"] = dedicated_to
    for key in ("household_target", "population_target"):
        if key in attributes:
            value = _text(attributes[key])
            if not value:
                row.values[key] = None
            elif value.isdigit() and int(value) < 2**31:
                row.values[key] = int(value)
            else:
                row.problem(key, _("%(value)r is not a whole number ≥ 0.") % {"value": value})


def _read_geometry(row, feature, *, crs, repair):
    try:
        ogr_geometry = feature.geom
    except GDALException:
        row.problem("geometry", _("The feature has no geometry (it is null or empty)."))
        return
    try:
        if ogr_geometry.empty:
            row.problem("geometry", _("The geometry is empty."))
            return
        ogr_geometry.set_3d(False)  # heights play no part in a boundary
        geometry = GEOSGeometry(ogr_geometry.wkb)
    except (GDALException, GEOSException, ValueError):
        row.problem("geometry", _("The geometry of type %(type)s cannot be read.") % {"type": ogr_geometry.geom_name})
        return
    if crs not in ("wgs84", "cgcs2000"):
        geometry = shift_to_wgs84(geometry, crs)
    try:
        row.geom, row.repaired = as_multipolygon(geometry, field="geometry", repair=repair)
    except DomainError as exc:
        row.problem("geometry", exc.message)


def shift_to_wgs84(geometry, crs):
    """Every vertex of `geometry` from GCJ-02 (or BD-09) to WGS84, vectorised; the shape keeps its structure."""
    import shapely

    def convert(xy):
        lon, lat = to_wgs84(xy[:, 0], xy[:, 1], crs)
        return np.column_stack([lon, lat])

    with np.errstate(all="ignore"):  # out-of-range input is reported by the range check that follows
        shifted = shapely.transform(shapely.from_wkb(bytes(geometry.wkb)), convert)
    return GEOSGeometry(memoryview(shapely.to_wkb(shifted)))

