"""Batch point → grid assignment: many points at once against the in-process index of the current generation.

One core behind the `assign_points` command and POST /api/v1/geo/lookup/batch:

    points = parse(data)                       # JSON [{"id", "lon", "lat"}, …] or CSV with a header id,lon,lat
    result = assign_points(points, crs="gcj02", user=request.user)
    result.as_json() / result.write_csv(stream)

Bad rows (a missing id, a coordinate that is not a number or is out of range) are reported with their row number
and left out; they do not stop the batch. Only input that cannot be read at all (not JSON, not a CSV with the
required header, too many points) is refused as a whole, with a DomainError naming the input.

Rows are numbered from 1: the first object of a JSON list, the first record after a CSV header.

Scope: a scoped user only gets grids inside their scope (VIEW_AREA). A point in any other grid comes back unmatched,
exactly like a point outside the district, so the answer does not reveal which grids exist beyond the scope — the
same rule as the single lookup's empty chain and the API's 404s. Callers without a user (the command line) see all.
"""

import csv
import io
import itertools
import json
import math
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.utils.translation import gettext as _

from wangge.accounts.roles import VIEW_AREA
from wangge.core.errors import DomainError
from wangge.core.scope import EVERYWHERE, scope_codes

from . import codes
from .crs import to_wgs84
from .index import current_index

COLUMNS = ("id", "lon", "lat")
OUTPUT_COLUMNS = ("id", "lon", "lat", "grid_code", "grid_name", "community_code", "subdistrict_code")
FORMATS = ("csv", "json")


@dataclass
class Points:
    """Parsed input: the valid points as arrays, and the rows that were left out with the reason."""

    ids: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    errors: list = field(default_factory=list)
    crs: str | None = None  # named inside a JSON envelope {"crs": …, "points": […]}
    # The coordinates as written in a CSV input, echoed unchanged in CSV output (and cheaper than formatting floats).
    lon_text: np.ndarray | None = None
    lat_text: np.ndarray | None = None

    def __len__(self):
        return len(self.ids)


def max_points():
    return settings.WANGGE_BATCH_MAX_POINTS


# Parsing --------------------------------------------------------------------------------------------------------

def _decode(data, source):
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        # Spreadsheets on Chinese Windows save CSV in GBK; GB18030 is its superset.
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise DomainError(_("The input is neither UTF-8 nor GB18030 text."), field=source) from exc


def detect_format(data, filename=None):
    """"json" or "csv", from the file name when it says, else from the first character."""
    name = (filename or "").lower()
    if name.endswith(".json"):
        return "json"
    if name.endswith(".csv") or name.endswith(".txt"):
        return "csv"
    head = data[:64].lstrip()
    if isinstance(head, bytes):
        head = head.lstrip(b"\xef\xbb\xbf").lstrip()
        return "json" if head[:1] in (b"[", b"{") else "csv"
    return "json" if head.lstrip("\ufeff")[:1] in ("[", "{") else "csv"


def parse(data, *, kind=None, source="points"):
    """Points from JSON or CSV text or bytes. `source` names the input in errors ("points", "file", …)."""
    kind = kind or detect_format(data)
    text = _decode(data, source)
    if kind == "json":
        return parse_json(text, source=source)
    if kind == "csv":
        return parse_csv(text, source=source)
    raise DomainError(_("Use one of: %(choices)s.") % {"choices": ", ".join(FORMATS)}, field="format")


def _too_many(count, source):
    if count > max_points():
        raise DomainError(_("At most %(max)d points per batch; this one has %(count)d.")
                          % {"max": max_points(), "count": count}, field=source, code="too_large")


def _error(row, point_id, column, message):
    return {"row": row, "id": point_id, "field": column, "message": message}


def _coordinates(values, column, ids, strict_numbers):
    """Floats for one column, and the row errors; a row that fails gets NaN. Vectorised when every value is good."""
    errors = []
    try:
        if strict_numbers and not set(map(type, values)) <= {int, float}:
            raise ValueError
        numbers = np.fromiter(map(float, values), dtype=float, count=len(values))
    except (ValueError, TypeError):
        numbers = np.empty(len(values))
        for i, value in enumerate(values):
            try:
                if strict_numbers and type(value) not in (int, float):
                    raise TypeError
                numbers[i] = float(value)
            except (ValueError, TypeError):
                numbers[i] = math.nan
                message = (_("%(column)s is missing.") % {"column": column} if value is None or value == ""
                           else _("%(value)r is not a number.") % {"value": value})
                errors.append(_error(i + 1, ids[i], column, message))
    limit = 180.0 if column == "lon" else 90.0
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(numbers) <= limit)
    for i in np.flatnonzero(bad & ~np.isnan(numbers)).tolist():
        errors.append(_error(i + 1, ids[i], column, _("%(value)s is out of range (±%(limit)d).")
                             % {"value": values[i], "limit": limit}))
    return numbers, bad, errors


def _build(ids, lon_values, lat_values, id_errors, *, strict_numbers, crs=None):
    ids = np.asarray(ids, dtype=object) if ids else np.zeros(0, dtype=object)
    lon, bad_lon, lon_errors = _coordinates(lon_values, "lon", ids, strict_numbers)
    lat, bad_lat, lat_errors = _coordinates(lat_values, "lat", ids, strict_numbers)
    bad = bad_lon | bad_lat
    for error in id_errors:
        bad[error["row"] - 1] = True
    errors = sorted(id_errors + lon_errors + lat_errors, key=lambda e: e["row"])
    good = ~bad
    texts = {}
    if not strict_numbers:
        texts = {"lon_text": np.asarray(lon_values, dtype=object)[good],
                 "lat_text": np.asarray(lat_values, dtype=object)[good]}
    return Points(ids=ids[good], lon=lon[good], lat=lat[good], errors=errors, crs=crs, **texts)


def parse_json(text, *, source="points"):
    """A JSON list of {"id", "lon", "lat"} objects, or {"crs": …, "points": [that list]}."""
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise DomainError(_("This is not valid JSON: %(reason)s") % {"reason": exc}, field=source) from exc
    crs = None
    if isinstance(body, dict):
        crs = body.get("crs")
        if crs is not None and not isinstance(crs, str):
            raise DomainError(_("Name the coordinate system as text."), field="crs")
        body = body.get("points")
    if not isinstance(body, list):
        raise DomainError(_('Send a list of points: [{"id": …, "lon": …, "lat": …}, …].'), field=source)
    _too_many(len(body), source)
    not_objects = {i for i, row in enumerate(body) if type(row) is not dict}
    rows = body
    if not_objects:
        # Such a row has nothing else to complain about: its only error is not being an object.
        rows = [row if type(row) is dict else {"lon": 0, "lat": 0} for row in body]
    ids = [row.get("id") for row in rows]
    id_errors = []
    bad_ids = set(not_objects)
    if not set(map(type, ids)) <= {str, int}:
        bad_ids.update(i for i, value in enumerate(ids) if type(value) not in (str, int))
    for i in sorted(bad_ids):
        if i in not_objects:
            id_errors.append(_error(i + 1, None, "row", _("Each point must be an object with id, lon and lat.")))
        else:
            id_errors.append(_error(i + 1, ids[i], "id", _("Each point needs an id (text or a whole number).")))
    lon_values = [row.get("lon") for row in rows]
    lat_values = [row.get("lat") for row in rows]
    return _build(ids, lon_values, lat_values, id_errors, strict_numbers=True, crs=crs)


def _split_plain(body, width):
    """The columns of CSV text with no quoting and exactly `width` fields on every line, or None (use csv)."""
    if '"' in body:
        return None
    lines = body.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    commas = np.fromiter(map(str.count, lines, itertools.repeat(",")), dtype=np.int64, count=len(lines))
    if len(lines) and not (commas == width - 1).all():
        return None
    fields = ",".join(lines).split(",") if lines else []
    return [fields[j::width] for j in range(width)]


def parse_csv(text, *, source="file"):
    """CSV with a header naming (at least) the columns id, lon and lat, in any order; other columns are ignored."""
    header_line, _newline, body = text.partition("\n")
    try:
        header = next(csv.reader([header_line]), [])
    except csv.Error as exc:
        raise DomainError(_("The CSV header cannot be read: %(reason)s") % {"reason": exc}, field=source) from exc
    names = [name.strip().lstrip("\ufeff").lower() for name in header]
    missing = [column for column in COLUMNS if column not in names]
    if missing:
        raise DomainError(_("The CSV needs a header row with the columns id, lon and lat; missing: %(missing)s.")
                          % {"missing": ", ".join(missing)}, field=source)
    positions = [names.index(column) for column in COLUMNS]
    columns = _split_plain(body, len(names))
    id_errors = []
    if columns is None:
        try:
            records = [record for record in csv.reader(io.StringIO(body)) if record]
        except csv.Error as exc:
            raise DomainError(_("The CSV cannot be read: %(reason)s") % {"reason": exc}, field=source) from exc
        _too_many(len(records), source)
        needed = max(positions) + 1
        for i, record in enumerate(records):
            if len(record) < needed:
                id_errors.append(_error(i + 1, record[positions[0]] if len(record) > positions[0] else None,
                                        "row", _("This row has %(n)d columns; the header has %(m)d.")
                                        % {"n": len(record), "m": len(names)}))
                records[i] = [""] * needed
        ids, lon_values, lat_values = ([record[p] for record in records] for p in positions)
    else:
        _too_many(len(columns[0]), source)
        ids, lon_values, lat_values = (columns[p] for p in positions)
    short = {error["row"] for error in id_errors}
    if "" in ids:
        id_errors.extend(_error(i + 1, "", "id", _("Each point needs an id."))
                         for i, value in enumerate(ids) if value == "" and i + 1 not in short)
    if short:
        # A short row has no coordinates to complain about: its only error is its length.
        lon_values = [value if i + 1 not in short else "0" for i, value in enumerate(lon_values)]
        lat_values = [value if i + 1 not in short else "0" for i, value in enumerate(lat_values)]
    return _build(ids, lon_values, lat_values, id_errors, strict_numbers=False)


# Assignment -----------------------------------------------------------------------------------------------------

def _grids_in_scope(index, user):
    """A mask over index.codes of the grids `user` may see, or None for all of them."""
    if user is None:
        return None
    scope = scope_codes(user, VIEW_AREA)
    if scope is EVERYWHERE:
        return None
    grid_codes = index.codes.astype(str)
    allowed = np.zeros(len(grid_codes), dtype=bool)
    for prefix in scope:
        allowed |= np.char.startswith(grid_codes, prefix)
    return allowed


def assign_arrays(lon, lat, *, crs="wgs84", user=None):
    """The hot path: coordinate arrays in `crs` → (index, positions into index.codes, -1 where unmatched).

    `user` restricts the answer to their scope; None (the command line) sees every grid.
    """
    wlon, wlat = to_wgs84(lon, lat, crs)
    index = current_index()
    if index is None:
        return None, np.full(len(wlon), -1, dtype=np.int64)
    found = index.assign(wlon, wlat)
    allowed = _grids_in_scope(index, user)
    if allowed is not None:
        found[(found >= 0) & ~allowed[np.maximum(found, 0)]] = -1
    return index, found


def _csv_column(values):
    """Text for one CSV column: None as empty, and quoted (as csv does) only when a value needs it."""
    texts = ["" if value is None else value if type(value) is str else str(value) for value in values]
    joined = "".join(texts)
    if any(special in joined for special in (",", '"', "\n", "\r")):
        texts = [f'"{text.replace(chr(34), chr(34) * 2)}"' if any(c in text for c in ',"\n\r') else text
                 for text in texts]
    return texts


def _grid_table(index):
    """Per grid of the index: code, name, community and subdistrict code, each with a trailing None so that
    position -1 (unmatched) reads None. The derived codes are prefixes of the grid code."""
    if index is None:
        return {column: np.array([None], dtype=object) for column in OUTPUT_COLUMNS[3:]}
    community = [code[: codes.CODE_LENGTH[codes.COMMUNITY]] for code in index.codes]
    subdistrict = [code[: codes.CODE_LENGTH[codes.SUBDISTRICT]] for code in index.codes]
    columns = zip(OUTPUT_COLUMNS[3:], (index.codes, index.names, community, subdistrict), strict=True)
    return {column: np.append(np.asarray(values, dtype=object), None) for column, values in columns}


@dataclass
class Assignment:
    points: Points
    crs: str
    generation_id: int | None
    found: np.ndarray  # position in the index's grid table, -1 when unmatched
    table: dict  # from _grid_table

    @property
    def grid_codes(self):
        return self.table["grid_code"][self.found]

    @property
    def matched(self):
        return int((self.found >= 0).sum())

    @property
    def unmatched_ids(self):
        return self.points.ids[self.found < 0].tolist()

    def columns(self):
        """The output columns as lists, in OUTPUT_COLUMNS order."""
        return [self.points.ids.tolist(), self.points.lon.tolist(), self.points.lat.tolist(),
                *(self.table[column][self.found].tolist() for column in OUTPUT_COLUMNS[3:])]

    def summary(self):
        return {"generation": self.generation_id, "crs": self.crs, "count": len(self.points),
                "matched": self.matched, "unmatched_count": len(self.points) - self.matched,
                "error_count": len(self.points.errors)}

    def as_json(self):
        rows = [dict(zip(OUTPUT_COLUMNS, values, strict=True)) for values in zip(*self.columns(), strict=True)]
        return {**self.summary(), "results": rows, "unmatched": self.unmatched_ids, "errors": self.points.errors}

    def write_csv(self, stream):
        """Every valid point in input order, unmatched ones with empty grid columns; then every bad row with its
        reason in the last column, so one file carries the whole answer."""
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow((*OUTPUT_COLUMNS, "error"))
        ids, lon, lat, *grid_columns = self.columns()
        points = self.points
        lon = points.lon_text.tolist() if points.lon_text is not None else list(map(repr, lon))
        lat = points.lat_text.tolist() if points.lat_text is not None else list(map(repr, lat))
        fields = [_csv_column(ids), lon, lat, *map(_csv_column, grid_columns), itertools.repeat("")]
        # Joined in C rather than through csv.writer: about three times faster for a million rows.
        lines = map(",".join, zip(*fields, strict=False))
        for chunk in iter(lambda: list(itertools.islice(lines, 65536)), []):
            stream.write("\n".join(chunk) + "\n")
        blank = ("",) * (len(OUTPUT_COLUMNS) - 1)
        writer.writerows((error["id"], *blank, _("row %(row)d, %(field)s: %(message)s") % error)
                         for error in self.points.errors)


def assign_points(points, *, crs=None, user=None):
    """Assigns parsed points; `crs` (when given) wins over one named in the input, the default is WGS84."""
    crs = crs or points.crs or "wgs84"
    crs = crs.lower() if isinstance(crs, str) else crs
    index, found = assign_arrays(points.lon, points.lat, crs=crs, user=user)
    return Assignment(points=points, crs=crs, generation_id=index.generation_id if index else None, found=found,
                      table=_grid_table(index))
