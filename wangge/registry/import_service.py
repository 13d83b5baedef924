"""Importing registry files: the one write path behind `manage.py import_registry`, the API upload, the UI page and
the background job.

`do_import_registry(kind, file, *, actor, commit=False, commit_clean_rows=False, progress=None)` reads every row,
checks it (its own cells: ID and credit-code checksums, phone format, required fields, choices, dates; then against
the database and the file: referenced buildings, houses and households exist, no duplicate within the file, each
row's grid lies inside the district and inside the actor's scope, and an existing record it would update is in the
actor's scope too) and returns a report {rows, create, update, unchanged, problems: [{row, column, value, reason}]}.

- Dry run by default: nothing is written.
- commit=True writes only when no row has a problem (else ImportRejected, nothing written);
  commit_clean_rows=True writes the rows without problems and reports the others.
- Upsert: persons by the blind index of the ID number, organizations by credit code (or grid + name), buildings by
  grid + number (or grid + name + address), houses by building + unit + room, households by number, courtyards by
  grid + name; an unchanged row is not written at all, so importing the same file twice changes nothing (and adds no
  change-log entry).
- One transaction per file: a killed import leaves the database as it was.

Persons (and households with their members) take the fast path: cells are checked in plain Python with the ID
checksum and birth date done by table lookups, the numbers sealed in batches (pii.seal_many), grids found by
building or with the vectorised grid index, and the rows sent with COPY into a temporary table, from which one
INSERT … ON CONFLICT upserts them (in blind-index order), writing the change-log events from its RETURNING.
A commit of persons is streamed: every STREAM_BATCH clean rows, a writer thread places, COPYs, checks and upserts
the batch on the same connection (same transaction) while the reading thread reads and seals the next one; a
problem anywhere still rejects the whole file (the transaction is rolled back, and no further batch is written).
"""

import datetime
import gc
import queue
import re
import threading
from dataclasses import dataclass, field

import numpy as np
from django.contrib.gis.geos import GEOSException, GEOSGeometry, MultiPolygon, Point
from django.db import connection, transaction
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from wangge.accounts.roles import CHANGE_PERSON, CHANGE_PLACE
from wangge.core import pii
from wangge.core.errors import DomainError
from wangge.core.scope import EVERYWHERE, scope_codes
from wangge.geo import crs as crs_module
from wangge.geo.locator import grid_codes_at

from . import identity
from .importers import (
    COLUMNS,
    HOUSEHOLD_STATUSES,
    KEY_PLACES,
    ORGANIZATION_KINDS,
    PERSON_STATUSES,
    RESIDENCE_TYPES,
    CellError,
    Problem,
    check_kind,
    column_positions,
    header_of,
    masked_cell,
    open_table,
    parse_bool,
    parse_building_code,
    parse_choice,
    parse_date,
    parse_float,
    parse_int,
)
from .models import Building, Courtyard, House, Organization

MAX_LISTED_PROBLEMS = 1000
PROGRESS_EVERY = 50_000
STREAM_BATCH = 100_000  # clean person rows per batch written while the next batch is read (commit of persons)
ACTIONS = {"persons": CHANGE_PERSON, "households": CHANGE_PERSON, "courtyards": CHANGE_PLACE,
           "buildings": CHANGE_PLACE, "houses": CHANGE_PLACE, "organizations": CHANGE_PLACE}


class ImportRejected(DomainError):
    """A commit was asked for, and rows have problems: nothing was written. `report` lists them."""

    def __init__(self, message, *, report):
        super().__init__(message, field="file", code="invalid_rows", details=report)
        self.report = report


@dataclass
class Outcome:
    kind: str
    rows: int = 0
    problems: list = field(default_factory=list)
    create: int = 0
    update: int = 0
    unchanged: int = 0
    format: str = ""
    encoding: str = ""

    def bad_rows(self):
        return {p.row for p in self.problems}


def _report(outcome, *, committed):
    problems = sorted(outcome.problems, key=lambda p: (p.row, p.column))
    bad = len({p.row for p in problems})
    return {"kind": outcome.kind, "format": outcome.format, "encoding": outcome.encoding, "rows": outcome.rows,
            "clean_rows": outcome.rows - bad, "rows_with_problems": bad, "create": outcome.create,
            "update": outcome.update, "unchanged": outcome.unchanged, "committed": committed,
            "problem_count": len(problems), "problems": [p.as_dict() for p in problems[:MAX_LISTED_PROBLEMS]]}


def _scope_test(actor, action):
    codes = scope_codes(actor, action)
    if codes is EVERYWHERE:
        return lambda code: bool(code)
    prefixes = tuple(codes)
    return lambda code: bool(code) and code.startswith(prefixes)


def do_import_registry(kind, file, *, actor, commit=False, commit_clean_rows=False, progress=None, name=""):
    """Imports `file` (a path or a file object) of `kind`; returns the report (see the module docstring)."""
    check_kind(kind)
    action = ACTIONS[kind]
    if not scope_codes(actor, action):
        raise DomainError(_("You may not import %(kind)s.") % {"kind": kind}, code="forbidden")
    write = commit or commit_clean_rows
    table = open_table(file, name=name)
    try:
        positions = column_positions(kind, table.headers)
        importer = (PersonImporter if kind in ("persons", "households") else PLACE_IMPORTERS[kind])(
            kind, positions, actor=actor, action=action, progress=progress)
        importer.stream = kind == "persons" and write
        importer.clean_rows_only = commit_clean_rows
        importer.outcome.format, importer.outcome.encoding = table.format, table.encoding
        with transaction.atomic():
            importer.read(table.rows)
            if importer.outcome.rows == 0:
                raise DomainError(_("The file holds no rows under its header."), field="file", code="empty_file")
            importer.resolve()
            outcome = importer.outcome
            if outcome.problems and commit and not commit_clean_rows:
                bad = len(outcome.bad_rows())
                raise ImportRejected(
                    ngettext("%(n)d of %(total)d rows has a problem; nothing was written.",
                             "%(n)d of %(total)d rows have problems; nothing was written.", bad)
                    % {"n": bad, "total": outcome.rows}, report=_report(outcome, committed=False))
            if write:
                importer.write()
            else:
                importer.dry_run()
            if progress:
                progress(outcome.rows, outcome.rows, "done")
            return _report(outcome, committed=write)
    finally:
        table.close()


class BaseImporter:
    stream = False
    clean_rows_only = False
    writer_problems = ()

    def __init__(self, kind, positions, *, actor, action, progress=None):
        self.kind = kind
        self.positions = positions
        self.actor = actor
        self.in_scope = _scope_test(actor, action)
        self.progress = progress
        self.outcome = Outcome(kind)
        self.headers = {c.key: c.header for c in COLUMNS[kind]}

    def problem(self, row, key, value, reason):
        # The writer thread's problems wait in their own list until it is joined: the reading thread compares the
        # length of outcome.problems before and after each row.
        target = self.writer_problems if threading.current_thread().name == _WRITER else self.outcome.problems
        target.append(Problem(row, self.headers.get(key, header_of(self.kind, key)) if key else "",
                                             masked_cell(key, value), str(reason)))

    def cells(self, values):
        positions = self.positions
        size = len(values)
        return {key: values[i] if i < size else "" for key, i in positions.items()}

    def _tick(self, number, phase):
        if self.progress and number % PROGRESS_EVERY == 0:
            self.progress(number, None, phase)


# Persons and households with members (fast path) ---------------------------------------------------------------

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_DIGITS = frozenset("0123456789")
_COPY_ESCAPE = re.compile(r"[\\\t\n\r]")


def _valid_birth_dates():
    start, today = datetime.date(1900, 1, 1), datetime.date.today()
    return frozenset((start + datetime.timedelta(days=n)).strftime("%Y%m%d") for n in range((today - start).days + 1))


_BIRTH_DATES = None


def fast_id_number(value):
    """The ID number if it is a well-formed 18-character one (checksum, birth date 1900–today), else None; the slow
    path (identity.clean_id_number) then names the reason, or upgrades a 15-digit number."""
    global _BIRTH_DATES
    if _BIRTH_DATES is None:
        _BIRTH_DATES = _valid_birth_dates()
    if len(value) != 18 or not _DIGITS.issuperset(value[:17]) or value[6:14] not in _BIRTH_DATES:
        return None
    total = sum(map(int.__mul__, map(int, value[:17]), _WEIGHTS))
    if _CHECK[total % 11] != value[17]:
        return None
    # The same address-code rule as the slow path (any year's county code: see identity.clean_id_number).
    return value if identity.known_address_code(value[:6]) else None


def _copy_text(value):
    if value is None:
        return "\\N"
    return _COPY_ESCAPE.sub(lambda m: {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}[m.group()], value)


_PERSON_TEXT = ("name", "ethnicity", "hukou_place", "relation_to_head", "work_unit", "inflow_reason", "origin",
                "residence_permit")
# The temporary table's columns, in COPY order.
_TMP_COLUMNS = [
    ("rownum", "integer"), ("name", "text"), ("id_number_enc", "text"), ("id_number_index", "text"),
    ("id_number_masked", "text"), ("gender", "text"), ("birth_date", "date"), ("phone_enc", "text"),
    ("phone_index", "text"), ("phone_masked", "text"), ("ethnicity", "text"), ("hukou_place", "text"),
    ("residence_type", "text"), ("household_status", "text"), ("relation_to_head", "text"), ("work_unit", "text"),
    ("party_member", "boolean"), ("status", "text"), ("status_date", "date"), ("inflow_date", "date"),
    ("inflow_reason", "text"), ("origin", "text"), ("residence_permit", "text"), ("household_number", "text"),
    ("building_code", "text"), ("unit", "text"), ("room", "text"), ("lon", "double precision"),
    ("lat", "double precision"), ("crs", "text"),
    # filled in by resolve()
    ("house_id", "bigint"), ("household_id", "bigint"), ("grid_code", "text"), ("existing_id", "bigint"),
]
# Model columns a file may set, by the key of the template column that sets them.
_SET_BY = {"name": ["name"], "phone": ["phone_enc", "phone_index", "phone_masked"], "ethnicity": ["ethnicity"],
           "hukou_place": ["hukou_place"], "residence_type": ["residence_type"],
           "household_status": ["household_status"], "relation_to_head": ["relation_to_head"],
           "work_unit": ["work_unit"], "party_member": ["party_member"], "status": ["status"],
           "status_date": ["status_date"], "inflow_date": ["inflow_date"], "inflow_reason": ["inflow_reason"],
           "origin": ["origin"], "residence_permit": ["residence_permit"]}
_DEFAULTS = {"ethnicity": "''", "hukou_place": "''", "residence_type": "'registered'",
             "household_status": "'together'", "relation_to_head": "''", "work_unit": "''", "party_member": "false",
             "status": "'normal'", "status_date": "NULL", "inflow_date": "NULL", "inflow_reason": "''",
             "origin": "''", "residence_permit": "''", "phone_enc": "''", "phone_index": "''", "phone_masked": "''"}


class PersonImporter(BaseImporter):
    """Persons, or households with their members (kind "households": one row per member, 户号 required)."""

    def read(self, rows):
        self.rownums, self.lines, self.numbers_by_index = [], [], {}
        self.ids, self.phones, self.phone_rows = [], [], []
        self.places = []  # per clean row: (household_number, building_code, unit, room, lon, lat, crs)
        self.id_sealed, self.phone_sealed, self._sealed = ([], [], []), {}, (0, 0)
        self.house_ids, self.grids, self.coordinate_grids, self.bad = [], [], {}, set()
        self.copy_heads = []
        has = self.positions.__contains__
        # Millions of small lists stay alive until the write: the cyclic collector would rescan them all again and
        # again (a third of the reading time at 300,000 rows) and can reclaim none of them.
        collecting = gc.isenabled()
        gc.disable()
        writer = None
        if self.stream:
            self.writer_problems = []
            writer = _Writer(self)
        try:
            flushed = 0
            for number, values in rows:
                if not any(values):
                    continue
                self.outcome.rows += 1
                self._tick(self.outcome.rows, "reading")
                self._read_row(number, self.cells(values), has)
                if writer is not None and len(self.ids) - flushed >= STREAM_BATCH:
                    self._submit(writer, flushed)
                    flushed = len(self.ids)
            if writer is not None and len(self.ids) > flushed:
                self._submit(writer, flushed)
            self._seal()
        finally:
            if writer is not None:
                writer.finish()
                self.outcome.problems.extend(self.writer_problems)
                self.writer_problems = []
            if collecting:
                gc.enable()

    def _submit(self, writer, lo):
        """Streaming (a commit of persons): seals rows lo… and hands them to the writer thread, which places them,
        COPYs them and upserts them while the next batch is read. Once a row has a problem and the file is to be
        written all or nothing, no more batches are written (the transaction will be rolled back anyway)."""
        self._seal()
        hi = len(self.ids)
        self._coordinate_grids(lo, hi)
        self._copy_heads(hi)
        if (self.outcome.problems or self.writer_problems) and not self.clean_rows_only:
            return
        if self.progress and lo == 0:
            self.progress(self.outcome.rows, None, "writing")
        writer.put((lo, hi))

    def _read_row(self, number, cells, has):
        problems_before = len(self.outcome.problems)
        name = cells.get("name", "")
        if not name:
            self.problem(number, "name", "", _("A name is required."))
        elif len(name) > 50:
            self.problem(number, "name", name, _("At most 50 characters."))
        raw_id = cells.get("id_number", "")
        id_number = fast_id_number(raw_id)
        if id_number is None:
            try:
                id_number = identity.clean_id_number(raw_id)
            except DomainError as exc:
                self.problem(number, "id_number", raw_id, exc.message)
        phone = cells.get("phone", "")
        if phone:
            try:
                phone = identity.clean_phone(phone)
            except DomainError as exc:
                self.problem(number, "phone", phone, exc.message)
        values = {}
        for key, parse in (("residence_type", lambda t: parse_choice(t, RESIDENCE_TYPES, "registered")),
                           ("household_status", lambda t: parse_choice(t, HOUSEHOLD_STATUSES, "together")),
                           ("status", lambda t: parse_choice(t, PERSON_STATUSES, "normal")),
                           ("party_member", parse_bool), ("status_date", parse_date), ("inflow_date", parse_date)):
            text = cells.get(key, "")
            try:
                values[key] = parse(text)
            except CellError as exc:
                self.problem(number, key, text, exc)
        for key, limit in (("ethnicity", 20), ("hukou_place", 200), ("relation_to_head", 20), ("work_unit", 100),
                           ("inflow_reason", 100), ("origin", 100), ("residence_permit", 50)):
            text = cells.get(key, "")
            if len(text) > limit:
                self.problem(number, key, text, _("At most %(n)d characters.") % {"n": limit})
        status_date = values.get("status_date")
        if values.get("status", "normal") != "normal" and not status_date:
            self.problem(number, "status_date", "", _("A moved-out or deceased person needs the date."))
        elif status_date and status_date > datetime.date.today():
            self.problem(number, "status_date", str(status_date), _("The date cannot be in the future."))
        household_number = cells.get("household_number", "")
        if self.kind == "households" and not household_number:
            self.problem(number, "household_number", "", _("A household number is required."))
        elif len(household_number) > 30:
            self.problem(number, "household_number", household_number, _("At most 30 characters."))
        building_code, room, unit = cells.get("building_code", ""), cells.get("room", ""), cells.get("unit", "")
        if building_code:
            try:
                parse_building_code(building_code)
            except CellError as exc:
                self.problem(number, "building_code", building_code, exc)
        elif room:
            self.problem(number, "building_code", "", _("A room needs its building code."))
        lon = lat = None
        lon_text, lat_text = cells.get("lon", ""), cells.get("lat", "")
        if lon_text or lat_text:
            try:
                lon, lat = parse_float(lon_text), parse_float(lat_text)
                if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                    raise CellError(_("Coordinates are out of range."))
            except CellError as exc:
                self.problem(number, "lon" if not _is_float(lon_text) else "lat", f"{lon_text},{lat_text}", exc)
        crs = (cells.get("crs", "") or "wgs84").lower()
        if crs not in crs_module.CRS_CHOICES:
            self.problem(number, "crs", crs, _("Use wgs84, gcj02 or bd09."))
        if not (building_code or household_number or lon_text):
            self.problem(number, "building_code", "",
                         _("Give the building code, the household number or the coordinates of the residence."))
        if len(self.outcome.problems) > problems_before:
            return
        if id_number in self.numbers_by_index:
            self.problem(number, "id_number", raw_id, _("The same ID number as row %(row)d of this file.")
                         % {"row": self.numbers_by_index[id_number]})
            return
        self.numbers_by_index[id_number] = number
        self.rownums.append(number)
        self.ids.append(id_number)
        if phone:
            self.phones.append(phone)
            self.phone_rows.append(len(self.lines))
        self.places.append((household_number, building_code, unit, room, lon, lat, crs))
        line = [name]
        for key in _PERSON_TEXT[1:]:
            line.append(cells.get(key, ""))
        self.lines.append((line, values))

    def _seal(self):
        """Encrypts and indexes the ID and phone numbers of the clean rows not sealed yet, in one batch per field."""
        ids_done, phones_done = self._sealed
        for target, part in zip(self.id_sealed, pii.seal_many(self.ids[ids_done:], purpose=pii.ID_NUMBER,
                                                              mask=pii.mask_id_number), strict=True):
            target.extend(part)
        sealed = pii.seal_many(self.phones[phones_done:], purpose=pii.PHONE, mask=pii.mask_phone)
        for i, row in enumerate(self.phone_rows[phones_done:]):
            self.phone_sealed[row] = (sealed[0][i], sealed[1][i], sealed[2][i])
        self._sealed = (len(self.ids), len(self.phones))

    # Against the database ---------------------------------------------------------------------------------------

    def resolve(self):
        if self.stream:
            return  # placed, checked and written batch by batch while reading
        if self.progress:
            self.progress(self.outcome.rows, self.outcome.rows, "checking")
        self._coordinate_grids(0, len(self.places))
        with connection.cursor() as cursor:
            raw = cursor.cursor
            self._create_temp_table(raw)
            self._place(0, len(self.places), raw)
            self._copy(0, len(self.places), raw)
            self._check_existing(raw)

    def _coordinate_grids(self, lo, hi):
        """Grids of rows lo…hi placed by coordinates (no building code), in the main thread (the grid index may
        need the database)."""
        self.coordinate_grids.update(self._grids_at([i for i in range(lo, hi)
                                                     if not self.places[i][1] and self.places[i][4] is not None]))

    def _place(self, lo, hi, cursor):
        """Rows lo…hi: each clean row's house, household and grid, from its building code and room, its household
        or its coordinates; problems for unknown references, places outside the district or the actor's scope."""
        places = self.places[lo:hi]
        self.house_ids.extend([None] * (hi - len(self.house_ids)))
        self.grids.extend([""] * (hi - len(self.grids)))
        building_keys = {p[1] for p in places if p[1]}
        buildings = {}
        if building_keys:
            grids = [k[:15] for k in building_keys]
            numbers = [k[15:] for k in building_keys]
            cursor.execute("SELECT b.id, b.grid_code, b.number FROM registry_building b "
                           "JOIN unnest(%s::text[], %s::text[]) AS k(grid, num) "
                           "ON b.grid_code = k.grid AND b.number = k.num", [grids, numbers])
            buildings = {grid + number: (pk, grid) for pk, grid, number in cursor.fetchall()}
        rooms = {(p[1], p[2], p[3]) for p in places if p[3] and p[1] in buildings}
        houses = {}
        if rooms:
            cursor.execute("SELECT h.id, b.grid_code || b.number, h.unit, h.room, h.grid_code "
                           "FROM registry_house h JOIN registry_building b ON b.id = h.building_id "
                           "WHERE h.building_id = ANY(%s)",
                           [sorted({buildings[r[0]][0] for r in rooms})])
            houses = {(code, unit, room): (pk, grid) for pk, code, unit, room, grid in cursor.fetchall()}
        household_numbers = {p[0] for p in places if p[0]}
        households = {}
        if household_numbers:
            cursor.execute("SELECT id, number, grid_code, house_id FROM registry_household WHERE number = ANY(%s)",
                           [sorted(household_numbers)])
            for pk, number, grid, house_id in cursor.fetchall():
                households[number] = (pk, grid, house_id)
        coordinate_grids = {i: g for i, g in self.coordinate_grids.items() if lo <= i < hi
                            and not (self.places[i][0] and self.places[i][0] in households)}
        bad = self.bad
        for i, (household_number, code, unit, room, _lon, _lat, _crs) in enumerate(places, start=lo):
            row = self.rownums[i]
            grid = ""
            if code:
                building = buildings.get(code)
                if building is None:
                    self.problem(row, "building_code", code, _("There is no building with this code."))
                    bad.add(i)
                    continue
                grid = building[1]
                if room:
                    house = houses.get((code, unit, room))
                    if house is None:
                        self.problem(row, "room", f"{unit}-{room}" if unit else room,
                                     _("There is no such room (unit and room) in this building."))
                        bad.add(i)
                        continue
                    self.house_ids[i] = house[0]
            if household_number:
                household = households.get(household_number)
                if household is None and self.kind == "persons":
                    self.problem(row, "household_number", household_number, _("There is no household with this "
                                                                             "number."))
                    bad.add(i)
                    continue
                if household is not None and not grid:
                    grid = household[1]
            if not grid and i in coordinate_grids:
                grid = coordinate_grids[i]
                if not grid:
                    self.problem(row, "lon", "", _("This location lies outside every grid of the district."))
                    bad.add(i)
                    continue
            if not grid:
                self.problem(row, "building_code", code, _("The residence cannot be placed in a grid: give the "
                                                           "building code or the coordinates."))
                bad.add(i)
                continue
            if not self.in_scope(grid):
                self.problem(row, "building_code" if code else ("lon" if i in coordinate_grids else
                                                                "household_number"), code,
                             _("This residence lies in grid %(grid)s, outside your area.") % {"grid": grid})
                bad.add(i)
                continue
            self.grids[i] = grid
        if self.kind == "households":
            self._check_households(households, bad)

    def _check_households(self, households, bad):
        """A new household takes the house (or grid) of its first member row; a household may have one head."""
        self.new_households = {}
        heads = {}
        for i, (number, *_rest) in enumerate(self.places):
            if i in bad:
                continue
            row = self.rownums[i]
            existing = households.get(number)
            if existing is not None and not self.in_scope(existing[1]):
                self.problem(row, "household_number", number, _("This household is outside your area."))
                bad.add(i)
                continue
            if existing is None and number not in self.new_households:
                self.new_households[number] = (self.house_ids[i], self.grids[i])
            if self.lines[i][0][3] == "户主":
                if number in heads:
                    self.problem(row, "relation_to_head", "户主", _("Row %(row)d already names the head of this "
                                                                   "household.") % {"row": heads[number]})
                    bad.add(i)
                    continue
                heads[number] = row

    def _grids_at(self, indexes):
        if not indexes:
            return {}
        lon = np.array([self.places[i][4] for i in indexes], dtype=float)
        lat = np.array([self.places[i][5] for i in indexes], dtype=float)
        systems = np.array([self.places[i][6] for i in indexes])
        for system in set(systems.tolist()) - {"wgs84", "cgcs2000"}:
            chosen = systems == system
            lon[chosen], lat[chosen] = crs_module.to_wgs84(lon[chosen], lat[chosen], system)
        return dict(zip(indexes, grid_codes_at(lon, lat), strict=True))

    def _create_temp_table(self, cursor):
        columns = ", ".join(f"{name} {kind}" for name, kind in _TMP_COLUMNS)
        cursor.execute("DROP TABLE IF EXISTS registry_import_person")
        cursor.execute(f"CREATE TEMP TABLE registry_import_person ({columns}) ON COMMIT DROP")

    def _copy_heads(self, hi):
        """The COPY text of clean rows up to hi, all but the columns placement fills (house, household, grid):
        built by the reading thread while the writer thread is busy with the previous batch."""
        heads = self.copy_heads
        id_enc, id_index, id_masked = self.id_sealed
        empty_phone = ("", "", "")
        for i in range(len(heads), hi):
            line, values = self.lines[i]
            id_number = self.ids[i]
            if _COPY_ESCAPE.search("".join(line)) or _COPY_ESCAPE.search("".join(self.places[i][:4])):
                line = [_copy_text(v) for v in line]
                place = [_copy_text(v) for v in self.places[i][:4]]
            else:
                place = self.places[i][:4]
            phone = self.phone_sealed.get(i, empty_phone)
            lon, lat, crs = self.places[i][4:]
            heads.append("\t".join((
                str(self.rownums[i]), line[0], id_enc[i], id_index[i], id_masked[i],
                "male" if int(id_number[16]) % 2 else "female",
                f"{id_number[6:10]}-{id_number[10:12]}-{id_number[12:14]}", *phone, line[1], line[2],
                values["residence_type"], values["household_status"], line[3], line[4],
                "t" if values["party_member"] else "f", values["status"],
                values["status_date"].isoformat() if values["status_date"] else "\\N",
                values["inflow_date"].isoformat() if values["inflow_date"] else "\\N",
                line[5], line[6], line[7], place[0], place[1], place[2], place[3],
                "\\N" if lon is None else repr(lon), "\\N" if lat is None else repr(lat), crs)))

    def _copy(self, lo, hi, cursor):
        """Sends clean rows lo…hi to the temporary table (COPY, text format), dropped at the end of the
        transaction."""
        if len(self.copy_heads) < hi:
            self._copy_heads(hi)
        names = ", ".join(name for name, _kind in _TMP_COLUMNS[:-1])
        heads, house_ids, grids, bad = self.copy_heads, self.house_ids, self.grids, self.bad
        null = "\\N"
        buffer = []
        with cursor.copy(f"COPY registry_import_person ({names}) FROM STDIN") as copy:
            for i in range(lo, hi):
                if i in bad:
                    continue
                house = house_ids[i]
                buffer.append(f"{heads[i]}\t{null if house is None else house}\t{null}\t{grids[i]}")
                if len(buffer) >= 5000:
                    copy.write("\n".join(buffer) + "\n")
                    buffer.clear()
                    if not self.stream:
                        self._tick(i + 1, "copying")
            if buffer:
                copy.write("\n".join(buffer) + "\n")
        cursor.execute("ANALYZE registry_import_person")

    def _check_existing(self, cursor):
        """Rows that would update a person: the person's current grid must be in the actor's scope too."""
        # One probe of the unique index per row (OFFSET 0 keeps the planner from turning it into a hash join over
        # the whole, growing person table at every streamed batch).
        cursor.execute("UPDATE registry_import_person t SET existing_id = f.id FROM ("
                       "SELECT s.rownum, p.id, p.grid_code FROM registry_import_person s CROSS JOIN LATERAL ("
                       "SELECT id, grid_code FROM registry_person p WHERE p.id_number_index = s.id_number_index "
                       "AND NOT (p.id_number_index = '') OFFSET 0) p) f "
                       "WHERE t.rownum = f.rownum RETURNING t.rownum, f.grid_code")
        refused = [row for row, grid in cursor.fetchall() if not self.in_scope(grid)]
        for row in refused:
            self.problem(row, "id_number", "", _("A person with this ID number is registered outside your area; "
                                                 "you may not change them."))
        if refused:
            cursor.execute("DELETE FROM registry_import_person WHERE rownum = ANY(%s)", [refused])

    # Counting and writing -------------------------------------------------------------------------------------------

    def _assignments(self):
        """SET list and change test of the upsert: only the columns the file has."""
        columns = ["grid_code", "district_code", "house_id", "household_id"]
        for key, targets in _SET_BY.items():
            if key in self.positions:
                columns.extend(targets)
        return columns

    def _changed_condition(self, target="p", source="t"):
        checks = []
        for column in self._assignments():
            if column in ("phone_enc",):
                continue  # a new nonce each time: compared through the phone's blind index
            if column == "district_code":
                checks.append(f"{target}.district_code IS DISTINCT FROM left({source}.grid_code, 6)")
            elif column == "household_id":
                checks.append(f"{target}.household_id IS DISTINCT FROM {self._household_expr(source)}")
            else:
                checks.append(f"{target}.{column} IS DISTINCT FROM {source}.{column}")
        return " OR ".join(checks)

    def _household_expr(self, source="t"):
        return (f"(SELECT h.id FROM registry_household h WHERE h.number = {source}.household_number)")

    def dry_run(self):
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FILTER (WHERE existing_id IS NULL), "
                           "count(*) FILTER (WHERE existing_id IS NOT NULL AND "
                           f"({self._changed_condition()})), count(*) FILTER (WHERE existing_id IS NOT NULL) "
                           "FROM registry_import_person t LEFT JOIN registry_person p ON p.id = t.existing_id")
            create, update, existing = cursor.fetchone()
        self.outcome.create, self.outcome.update, self.outcome.unchanged = create, update, existing - update

    def write(self):
        if self.stream:
            return  # written batch by batch while reading
        bad_rows = sorted(self.outcome.bad_rows())
        with connection.cursor() as cursor:
            if bad_rows:
                cursor.execute("DELETE FROM registry_import_person WHERE rownum = ANY(%s)", [bad_rows])
            if self.kind == "households":
                self._write_households(cursor)
            if self.progress:
                self.progress(self.outcome.rows, self.outcome.rows, "writing")
            self._upsert(cursor)

    def _upsert(self, cursor):
        """One INSERT … ON CONFLICT of the temporary table's rows, with their change-log events; adds to the
        outcome's counts."""
        cursor.execute("SELECT count(*) FILTER (WHERE existing_id IS NULL), count(*) "
                       "FROM registry_import_person")
        create, total = cursor.fetchone()
        cursor.execute("UPDATE registry_import_person t SET household_id = h.id FROM registry_household h "
                       "WHERE h.number = t.household_number")
        assignments = self._assignments()
        model_columns = [name for name, _kind in _TMP_COLUMNS[1:23]] + ["house_id", "household_id", "grid_code"]
        select = []
        for column in model_columns:
            if column in _DEFAULTS and column not in assignments and column not in ("phone_enc", "phone_index",
                                                                                    "phone_masked"):
                select.append(f"coalesce(t.{column}, {_DEFAULTS[column]})")
            else:
                select.append(f"t.{column}")
        updates = []
        for column in assignments:
            if column == "phone_enc":
                updates.append("phone_enc = CASE WHEN p.phone_index = EXCLUDED.phone_index THEN p.phone_enc "
                               "ELSE EXCLUDED.phone_enc END")
            else:
                updates.append(f"{column} = EXCLUDED.{column}")
        changed = " OR ".join(f"p.{c} IS DISTINCT FROM EXCLUDED.{c}" for c in assignments if c != "phone_enc")
        # The change log, set-based: the row triggers (one PL/pgSQL call and subtransaction per row, ~20× the
        # cost of the insert itself) stand aside for this one statement, and the same event rows — one per
        # insert and per actual update, with the import's context — are written from its RETURNING.
        event_columns = _event_columns()
        cursor.execute("SELECT _pgh_attach_context()")
        context_id = cursor.fetchone()[0]
        cursor.execute("SELECT set_config('pgtrigger.ignore', %s, true)", ["{" + ",".join(_row_triggers()) + "}"])
        cursor.execute(
            f"WITH written AS (INSERT INTO registry_person AS p ({', '.join(model_columns)}, district_code, "
            f"created_at, updated_at) SELECT {', '.join(select)}, left(t.grid_code, 6), now(), now() "
            # In blind-index order: the unique index's pages are then filled one after another instead of
            # at random (the index is larger than shared_buffers at a million rows).
            "FROM registry_import_person t ORDER BY t.id_number_index "
            "ON CONFLICT (id_number_index) WHERE NOT (id_number_index = '') DO UPDATE SET "
            f"{', '.join(updates)}, updated_at = now() WHERE {changed} RETURNING p.*, (p.xmax = 0) AS inserted) "
            f"INSERT INTO registry_personevent ({', '.join(event_columns)}, pgh_obj_id, pgh_label, "
            f"pgh_created_at, pgh_context_id) SELECT {', '.join(event_columns)}, id, "
            "CASE WHEN inserted THEN 'insert' ELSE 'update' END, now(), %s FROM written", [context_id])
        written = cursor.rowcount
        cursor.execute("SELECT set_config('pgtrigger.ignore', '{}', true)")
        if self.kind == "households":
            cursor.execute(
                "UPDATE registry_household h SET head_id = p.id, updated_at = now() "
                "FROM registry_import_person t JOIN registry_person p ON p.id_number_index = t.id_number_index "
                "WHERE t.relation_to_head = '户主' AND h.number = t.household_number "
                "AND h.head_id IS DISTINCT FROM p.id")
        self.outcome.create += create
        self.outcome.update += written - create
        self.outcome.unchanged += total - written

    def _write_households(self, cursor):
        if not self.new_households:
            return
        numbers = list(self.new_households)
        house_ids = [self.new_households[n][0] for n in numbers]
        grids = [self.new_households[n][1] for n in numbers]
        cursor.execute(
            "INSERT INTO registry_household (number, house_id, grid_code, district_code, created_at, updated_at) "
            "SELECT n, h, g, left(g, 6), now(), now() FROM unnest(%s::text[], %s::bigint[], %s::text[]) AS x(n, h, g)"
            " ON CONFLICT (number) DO NOTHING", [numbers, house_ids, grids])


_WRITER = "registry-import-writer"


class _Writer:
    """The thread that places, COPYs and upserts batches of an importer's rows while the main thread reads the next
    ones. It uses the main thread's database connection (same transaction), which the main thread leaves alone
    until finish(); at most one batch waits in the queue."""

    def __init__(self, importer):
        self.importer = importer
        self.error = None
        self.queue = queue.Queue(maxsize=1)
        connection.ensure_connection()
        self.cursor = connection.connection.cursor()
        # Each batch's statements cost enough to trigger JIT compilation, which they never earn back (rest of this
        # transaction only).
        self.cursor.execute("SELECT set_config('jit', 'off', true)")
        importer._create_temp_table(self.cursor)
        self.language = translation.get_language()
        self.thread = threading.Thread(target=self._run, name=_WRITER, daemon=True)
        self.thread.start()

    def put(self, batch):
        if self.error is not None:
            raise self.error
        self.queue.put(batch)

    def _run(self):
        importer, cursor = self.importer, self.cursor
        translation.activate(self.language)  # problems are worded in the importing user's language
        while (batch := self.queue.get()) is not None:
            if self.error is not None:
                continue
            try:
                lo, hi = batch
                cursor.execute("TRUNCATE registry_import_person")
                importer._place(lo, hi, cursor)
                importer._copy(lo, hi, cursor)
                importer._check_existing(cursor)
                importer._upsert(cursor)
            except BaseException as exc:  # re-raised in the main thread
                self.error = exc

    def finish(self):
        self.queue.put(None)
        self.thread.join()
        self.cursor.close()
        if self.error is not None:
            raise self.error


def _event_columns():
    """The tracked columns of the person change-log table (pghistory's event model), without its own pgh_ ones."""
    from django.apps import apps

    event = apps.get_model("registry", "PersonEvent")
    return [f.column for f in event._meta.concrete_fields if not f.column.startswith("pgh_")]


def _row_triggers():
    from .models import Person

    return [t.get_pgid(Person) for t in Person._meta.triggers if str(t.operation) in ("INSERT", "UPDATE")]


def _is_float(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


# Places and organizations (row by row, through the ORM) ---------------------------------------------------------

class PlaceImporter(BaseImporter):
    """Reads rows into (row number, values) pairs, checks them, then upserts each through the ORM."""

    model = None

    def read(self, rows):
        self.clean = []
        for number, values in rows:
            if not any(values):
                continue
            self.outcome.rows += 1
            self._tick(self.outcome.rows, "reading")
            cells = self.cells(values)
            before = len(self.outcome.problems)
            parsed = self.parse(number, cells)
            if len(self.outcome.problems) == before and parsed is not None:
                self.clean.append((number, parsed))

    def parse(self, number, cells):
        raise NotImplementedError

    def _location(self, number, cells):
        lon_text, lat_text = cells.get("lon", ""), cells.get("lat", "")
        try:
            lon, lat = parse_float(lon_text), parse_float(lat_text)
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise CellError(_("Coordinates are out of range."))
            system = (cells.get("crs") or "wgs84").lower()
            if system not in crs_module.CRS_CHOICES:
                self.problem(number, "crs", system, _("Use wgs84, gcj02 or bd09."))
                return None
            x, y = crs_module.to_wgs84(np.array([lon]), np.array([lat]), system)
            return Point(float(x[0]), float(y[0]), srid=4326)
        except CellError as exc:
            self.problem(number, "lon", f"{lon_text},{lat_text}", exc)
            return None

    def _grid_of(self, number, point, key="lon"):
        grid = grid_codes_at(np.array([point.x]), np.array([point.y]))[0]
        if not grid:
            self.problem(number, key, "", _("This location lies outside every grid of the district."))
            return None
        if not self.in_scope(grid):
            self.problem(number, key, "", _("This location lies in grid %(grid)s, outside your area.")
                         % {"grid": grid})
            return None
        return grid

    def _text(self, number, cells, key, limit, required=False):
        text = cells.get(key, "")
        if required and not text:
            self.problem(number, key, "", _("Required."))
        elif len(text) > limit:
            self.problem(number, key, text, _("At most %(n)d characters.") % {"n": limit})
        return text

    def _parsed(self, number, cells, key, parse):
        text = cells.get(key, "")
        try:
            return parse(text)
        except CellError as exc:
            self.problem(number, key, text, exc)
            return None

    def _building(self, number, code, key="building_code"):
        try:
            grid, num = parse_building_code(code)
        except CellError as exc:
            self.problem(number, key, code, exc)
            return None
        building = Building.objects.filter(grid_code=grid, number=num).first()
        if building is None:
            self.problem(number, key, code, _("There is no building with this code."))
            return None
        return building

    def resolve(self):
        self.pending = []
        seen = {}
        for number, values in self.clean:
            before = len(self.outcome.problems)
            values = self.check(number, values)
            if values is None or len(self.outcome.problems) > before:
                continue
            key = values.pop("_key")
            if key in seen:
                self.problem(number, values.pop("_key_column", ""), "", _("The same record as row %(row)d of this "
                                                                           "file.") % {"row": seen[key]})
                continue
            values.pop("_key_column", None)
            seen[key] = number
            existing = self.find(values)
            if existing is not None and not self.in_scope(existing.grid_code):
                self.problem(number, "", "", _("This record exists outside your area; you may not change it."))
                continue
            self.pending.append((number, values, existing))

    def check(self, number, values):
        return values

    def _changes(self, existing, values):
        return {k: v for k, v in values.items() if getattr(existing, k) != v}

    def dry_run(self):
        for _number, values, existing in self.pending:
            if existing is None:
                self.outcome.create += 1
            elif self._changes(existing, values):
                self.outcome.update += 1
            else:
                self.outcome.unchanged += 1

    def write(self):
        for _number, values, existing in self.pending:
            if existing is None:
                record = self.model(**values)
                record.district_code = record.grid_code[:6]
                self.before_create(record)
                record.save()
                self.outcome.create += 1
            else:
                self._update(existing, values)

    def _update(self, existing, values):
        """Writes what changed, and nothing when nothing did: a re-imported file leaves rows (and the change log)
        as they were."""
        changes = self._changes(existing, values)
        if not changes:
            self.outcome.unchanged += 1
            return
        for key, value in changes.items():
            setattr(existing, key, value)
        existing.district_code = existing.grid_code[:6]
        existing.save()
        self.outcome.update += 1

    def before_create(self, record):
        pass


class CourtyardImporter(PlaceImporter):
    model = Courtyard

    def parse(self, number, cells):
        values = {"name": self._text(number, cells, "name", 100, required=True),
                  "address": self._text(number, cells, "address", 200),
                  "property_manager": self._text(number, cells, "property_manager", 100)}
        text = cells.get("boundary", "")
        try:
            geom = GEOSGeometry(text, srid=4326)
            if geom.geom_type == "Polygon":
                geom = MultiPolygon(geom, srid=4326)
            if geom.geom_type != "MultiPolygon" or geom.empty or not geom.valid:
                raise ValueError
        except (GEOSException, ValueError, TypeError):
            self.problem(number, "boundary", text[:60], _("Give a valid POLYGON or MULTIPOLYGON in WKT."))
            return None
        system = (cells.get("crs") or "wgs84").lower()
        if system not in crs_module.CRS_CHOICES:
            self.problem(number, "crs", system, _("Use wgs84, gcj02 or bd09."))
            return None
        if system not in ("wgs84", "cgcs2000"):
            from wangge.geo.importers import shift_to_wgs84

            geom = shift_to_wgs84(geom, system)
        grid = self._grid_of(number, geom.point_on_surface, key="boundary")
        values.update(geom=geom, grid_code=grid or "", _key=(grid, values["name"]), _key_column="name")
        return values

    def find(self, values):
        return Courtyard.objects.filter(grid_code=values["grid_code"], name=values["name"]).first()

    def _changes(self, existing, values):
        changes = {k: v for k, v in values.items() if k != "geom" and getattr(existing, k) != v}
        if not existing.geom.equals_exact(values["geom"], 1e-9):
            changes["geom"] = values["geom"]
        return changes


class BuildingImporter(PlaceImporter):
    model = Building

    def parse(self, number, cells):
        values = {"name": self._text(number, cells, "name", 100), "address": self._text(number, cells, "address", 200),
                  "use": self._text(number, cells, "use", 30),
                  "floors": self._parsed(number, cells, "floors", lambda t: parse_int(t, low=1, high=300)),
                  "units": self._parsed(number, cells, "units", lambda t: parse_int(t, low=1, high=99))}
        code = cells.get("building_code", "")
        if code:
            try:
                values["_code"] = parse_building_code(code)
            except CellError as exc:
                self.problem(number, "building_code", code, exc)
        point = self._location(number, cells)
        if point is None:
            return None
        grid = self._grid_of(number, point)
        if grid is None:
            return None
        if "_code" in values and values["_code"][0] != grid:
            self.problem(number, "building_code", code, _("The location lies in grid %(grid)s, not in the grid of "
                                                          "this code.") % {"grid": grid})
        values.update(location=point, grid_code=grid)
        return values

    def check(self, number, values):
        code = values.pop("_code", None)
        if code:
            values["number"] = code[1]
            values.update(_key=code, _key_column="building_code")
        else:
            values["_key"] = (values["grid_code"], values["name"], values["address"])
            values["_key_column"] = "name"
        return values

    def find(self, values):
        if "number" in values:
            return Building.objects.filter(grid_code=values["grid_code"], number=values["number"]).first()
        return Building.objects.filter(grid_code=values["grid_code"], name=values["name"],
                                       address=values["address"]).first()

    def _changes(self, existing, values):
        changes = {k: v for k, v in values.items() if k != "location" and getattr(existing, k) != v}
        if not existing.location.equals_exact(values["location"], 1e-9):
            changes["location"] = values["location"]
        return changes

    def before_create(self, record):
        if not record.number:
            from .services import _next_building_number

            record.number = _next_building_number(record.grid_code)


class HouseImporter(PlaceImporter):
    model = House

    def parse(self, number, cells):
        values = {"unit": self._text(number, cells, "unit", 10), "room": self._text(number, cells, "room", 20, True),
                  "use": self._text(number, cells, "use", 30),
                  "owner_name": self._text(number, cells, "owner_name", 100),
                  "floor": self._parsed(number, cells, "floor", lambda t: parse_int(t, low=-10, high=300)),
                  "rented": self._parsed(number, cells, "rented", parse_bool)}
        text = cells.get("area_m2", "")
        if text:
            try:
                from decimal import Decimal, InvalidOperation

                area = Decimal(text).quantize(Decimal("0.01"))
                if not 0 < area < 1_000_000:
                    raise InvalidOperation
                values["area_m2"] = area
            except (ArithmeticError, ValueError):
                self.problem(number, "area_m2", text, _("Give the area in m², e.g. 86.5."))
        else:
            values["area_m2"] = None
        values["_code"] = cells.get("building_code", "")
        return values

    def check(self, number, values):
        code = values.pop("_code")
        building = self._building(number, code)
        if building is None:
            return None
        if not self.in_scope(building.grid_code):
            self.problem(number, "building_code", code, _("This building is outside your area."))
            return None
        values.update(building=building, grid_code=building.grid_code, _key=(code, values["unit"], values["room"]),
                      _key_column="room")
        return values

    def find(self, values):
        return House.objects.filter(building=values["building"], unit=values["unit"], room=values["room"]).first()


class OrganizationImporter(PlaceImporter):
    model = Organization

    def parse(self, number, cells):
        values = {"name": self._text(number, cells, "name", 200, required=True),
                  "legal_representative": self._text(number, cells, "legal_representative", 50),
                  "address": self._text(number, cells, "address", 200),
                  "safety_contact": self._text(number, cells, "safety_contact", 50),
                  "employees": self._parsed(number, cells, "employees", parse_int),
                  "kind": self._parsed(number, cells, "kind", lambda t: parse_choice(t, ORGANIZATION_KINDS))}
        text = cells.get("uscc", "")
        values["uscc"] = None
        if text:
            try:
                values["uscc"] = identity.clean_uscc(text)
            except DomainError as exc:
                self.problem(number, "uscc", text, exc.message)
        phone = cells.get("safety_phone", "")
        values["_phone"] = ""
        if phone:
            try:
                values["_phone"] = identity.clean_phone(phone, field="safety_phone")
            except DomainError as exc:
                self.problem(number, "safety_phone", phone, exc.message)
        kinds = [k.strip() for k in re.split(r"[、,，;；]", cells.get("key_place_kinds", "")) if k.strip()]
        try:
            values["key_place_kinds"] = [parse_choice(k, KEY_PLACES) for k in kinds]
        except CellError as exc:
            self.problem(number, "key_place_kinds", cells.get("key_place_kinds", ""), exc)
        values["_building"] = cells.get("building_code", "")
        point = self._location(number, cells)
        if point is None:
            return None
        grid = self._grid_of(number, point)
        values.update(location=point, grid_code=grid or "")
        return values

    def check(self, number, values):
        code = values.pop("_building")
        values["building"] = None
        if code:
            values["building"] = self._building(number, code)
            if values["building"] is None:
                return None
        if values["uscc"]:
            values.update(_key=values["uscc"], _key_column="uscc")
        else:
            values.update(_key=(values["grid_code"], values["name"]), _key_column="name")
        return values

    def find(self, values):
        if values["uscc"]:
            return Organization.objects.filter(uscc=values["uscc"]).first()
        return Organization.objects.filter(grid_code=values["grid_code"], name=values["name"],
                                           uscc__isnull=True).first()

    def _changes(self, existing, values):
        phone = values["_phone"]
        changes = {k: v for k, v in values.items() if not k.startswith("_") and k != "location"
                   and getattr(existing, k) != v}
        if not existing.location.equals_exact(values["location"], 1e-9):
            changes["location"] = values["location"]
        if existing.safety_phone_masked != (pii.mask_phone(phone) if phone else "") or (
                phone and pii.decrypt(existing.safety_phone_enc, purpose="organization.safety_phone") != phone):
            changes["safety_phone_enc"] = pii.encrypt(phone, purpose="organization.safety_phone") if phone else ""
            changes["safety_phone_masked"] = pii.mask_phone(phone) if phone else ""
        return changes

    def write(self):
        for _number, values, existing in self.pending:
            if existing is None:
                phone = values.pop("_phone")
                record = Organization(**values)
                record.safety_phone_enc = pii.encrypt(phone, purpose="organization.safety_phone") if phone else ""
                record.safety_phone_masked = pii.mask_phone(phone) if phone else ""
                record.district_code = record.grid_code[:6]
                record.save()
                self.outcome.create += 1
                continue
            self._update(existing, values)


PLACE_IMPORTERS = {"courtyards": CourtyardImporter, "buildings": BuildingImporter, "houses": HouseImporter,
                   "organizations": OrganizationImporter}
