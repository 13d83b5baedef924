"""Lists pushed from other systems to verify (核查; issue 5 §5, DOMAIN.md §3 claims): import, matching, claims,
verification at the door, results back in the incoming shape, and the report of overdue and unmatched rows.

    import (file or JSON rows; dry run / commit / clean rows) ──▶ each row matched:
        1. by ID number: the registry person with the same blind index, in the list's area → the person's grid
        2. by address: the normalised address of a registry building in the list's area (and its unit and room,
           when given, for the house and its household) → the building's grid, when only one grid has it
        3. else unmatched: the row stays at the list's area (`grid_code` = the area's code) for its staff to place
    grid: claim (认领) ──▶ verify at the door (a visit through services.do_record_visit) ──▶ answered
          or decline with a reason (不可认领); "not in this grid" sends the row back to the list's area
    results: the incoming columns under the incoming headers, plus claim, reason, result, note, answered time

Who: staff with MANAGE_CAMPAIGN import lists into their area; a system account (role `system`, INGEST) pushes lists
into the area it is assigned to and reads back the results of the lists it pushed itself. Rows are read through
restrict(VIEW_CAMPAIGN) by their grid; a list's own page by its area. ID and phone numbers are sealed the registry's
way (pii.ID_NUMBER / pii.PHONE: the same blind index), shown masked; a full reading needs VIEW_ANSWERS and a reason
and is audited (AnswerReveal). No number ever appears in an error message: problems show the cell masked.
"""

import re
import unicodedata
from collections import defaultdict
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Count, Q
from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from wangge.accounts.roles import (
    CLAIM_ROW,
    INGEST,
    MANAGE_CAMPAIGN,
    VIEW_ANSWERS,
    VIEW_CAMPAIGN,
    VISIT_HOUSEHOLD,
)
from wangge.core import pii
from wangge.core.errors import DomainError
from wangge.core.scope import code_in_scope, scope_codes
from wangge.registry import identity
from wangge.registry.import_service import fast_id_number
from wangge.registry.importers import masked_cell, open_table

from .models import (
    AnswerReveal,
    Campaign,
    CampaignState,
    ClaimState,
    DeclineReason,
    MatchMethod,
    PushedList,
    PushedRow,
    RowResult,
    Visit,
    VisitSource,
    VisitStatus,
)

MAX_LISTED_PROBLEMS = 1000
GRID_LENGTH = 15

# The incoming columns: our key, the header we write in templates, and the names other systems use for it.
# Headers compare without spaces and case; JSON rows use the keys (or these names).
COLUMNS = [
    ("row_id", "编号", ("编号", "序号", "行号", "记录编号", "数据编号", "id", "rowid", "row_id", "no")),
    ("name", "姓名", ("姓名", "名字", "name")),
    ("id_number", "身份证号", ("身份证号", "身份证号码", "公民身份号码", "证件号码", "id_number", "idnumber",
                           "id_card")),
    ("phone", "联系电话", ("联系电话", "电话", "手机", "手机号", "手机号码", "phone", "mobile")),
    ("address", "地址", ("地址", "现住址", "居住地址", "住址", "现居住地址", "address")),
]
KEYS = [key for key, _header, _names in COLUMNS]
HEADERS = {key: header for key, header, _names in COLUMNS}
_ALIASES = {name.lower().replace(" ", ""): key for key, _header, names in COLUMNS for name in names}

# The results' own columns, after the incoming ones: (JSON key, file header).
RESULT_COLUMNS = [("claim", "认领状态"), ("reason", "不可认领原因"), ("result", "核查结果"), ("note", "核查说明"),
                  ("answered_at", "反馈时间")]
# Files carry the Chinese terms of DOMAIN.md §3, whatever the UI language: the pushing system reads them.
CLAIM_TERMS = {ClaimState.UNCLAIMED: "未认领", ClaimState.CLAIMED: "已认领", ClaimState.DECLINED: "不可认领"}
REASON_TERMS = {DeclineReason.DUPLICATE: "数据重复", DeclineReason.ID_EXISTS: "身份证号已存在",
                DeclineReason.CANCELLED: "已注销", DeclineReason.DECEASED: "已死亡",
                DeclineReason.NOT_FOUND: "查无此人", DeclineReason.NOT_HERE: "不在本网格"}
RESULT_TERMS = {RowResult.PENDING: "待核查", RowResult.VERIFIED: "已核实", RowResult.NOT_FOUND: "未找到",
                RowResult.MOVED: "已搬离"}
# A result at the door, and the visit it is recorded as in the campaign's ledger.
VISIT_STATUS_OF = {RowResult.VERIFIED: VisitStatus.VISITED, RowResult.NOT_FOUND: VisitStatus.ABSENT,
                   RowResult.MOVED: VisitStatus.MOVED_OUT}


# ---- who may do what -----------------------------------------------------------------------------------------------

def visible_lists(user):
    """Lists whose area lies in the user's scope for VIEW_CAMPAIGN, and a system's own lists in its INGEST scope."""
    lists = PushedList.objects.restrict(user, VIEW_CAMPAIGN)
    if scope_codes(user, INGEST):
        lists = lists | PushedList.objects.restrict(user, INGEST).filter(imported_by=user)
    return lists


def visible_rows(user):
    """Rows in the user's grids (and the rows waiting at an area in their scope), masked."""
    return PushedRow.objects.restrict(user, VIEW_CAMPAIGN)


def _may_import(actor, area_code):
    """Staff managing campaigns in the area, or a system account assigned to it; 403 without either right, 404
    for an area outside the actor's scope."""
    manage, ingest = scope_codes(actor, MANAGE_CAMPAIGN), scope_codes(actor, INGEST)
    if not manage and not ingest:
        raise DomainError(_("Your role may not import lists to verify."), code="forbidden")
    if not (code_in_scope(area_code, manage) if manage else False) and not (
            code_in_scope(area_code, ingest) if ingest else False):
        raise Http404


def _locked_row(row):
    return PushedRow.objects.select_for_update().select_related("pushed_list").get(pk=row.pk)


def _row_for(actor, action, row, message):
    """The row locked, after checking the actor's right (403 without it at all, 404 outside their scope)."""
    codes = scope_codes(actor, action)
    if not codes:
        raise DomainError(message, code="forbidden")
    row = _locked_row(row)
    if not code_in_scope(row.grid_code, codes):
        raise Http404
    if row.pushed_list.purged_at is not None:
        raise DomainError(_("The list was purged with its campaign."), field="list", code="invalid_transition")
    return row


# ---- addresses -----------------------------------------------------------------------------------------------------

_SPACES = re.compile(r"[\s\u3000·,，、;；:：()（）\[\]【】\"'“”‘’]+")
_DASHES = re.compile(r"[‐‑‒–—―－~～]")
_PROVINCE = re.compile(r"^\w{2,6}?(?:省|自治区)")
_CITY = re.compile(r"^\w{2,6}?市(?=\w)")
_CN_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNIT = re.compile(r"([零一二两三四五六七八九十]{1,3})(单元|层|楼)")
_UNIT_ROOM = [re.compile(r"^(\d+)单元(?:\d+[层楼])?(\d+)$"), re.compile(r"^(\d+)-(\d+)$")]
_ROOM = re.compile(r"^(\d+)$")


def _cn_number(text):
    if text == "十":
        return 10
    if "十" in text:
        tens, _sep, ones = text.partition("十")
        return _CN_DIGITS.get(tens, 1) * 10 + _CN_DIGITS.get(ones, 0)
    return _CN_DIGITS.get(text, 0) if len(text) == 1 else int("".join(str(_CN_DIGITS[c]) for c in text))


class AddressNormaliser:
    """One normal form for addresses written by different systems, applied to both sides of the match:

    - NFKC (full-width digits, letters and dashes become ASCII: "１２号" → "12号"), lower case;
    - spaces and punctuation dropped, every dash one "-";
    - the leading province and city ("山东省", "济南市") and the names of the district, its subdistricts and
      communities ("市中区", "大观园街道", "纬一路社区") dropped, so "济南市市中区纬一路1号" and "纬一路1号" agree;
    - Chinese numerals before 单元/层/楼 as digits ("二单元" → "2单元").

    `keys(text)` gives the candidate building addresses of an address, longest first: its prefixes ending at a door
    number (…号, …号院, …号楼), each with the rest of the address (unit and room)."""

    def __init__(self, area_names=()):
        names = sorted({self._basic(name) for name in area_names if name}, key=len, reverse=True)
        # One alternation, longest first, tried at the start again and again (several names may lead).
        self.names = re.compile("^(?:" + "|".join(map(re.escape, names)) + ")") if names else None
        self.known = {}  # text → normal form: lists repeat addresses, buildings share them

    @staticmethod
    def _basic(text):
        text = unicodedata.normalize("NFKC", str(text or "")).lower()
        text = _DASHES.sub("-", _SPACES.sub("", text))
        return _CN_UNIT.sub(lambda m: f"{_cn_number(m.group(1))}{m.group(2)}", text)

    def normalise(self, text):
        known = self.known.get(text)
        if known is not None:
            return known
        raw = text
        text = self._basic(text)
        text = _PROVINCE.sub("", text, count=1)
        text = _CITY.sub("", text, count=1)
        while self.names is not None:
            found = self.names.match(text)
            if found is None or found.end() == len(text):
                break
            text = text[found.end():]
        if len(self.known) < 1_000_000:
            self.known[raw] = text
        return text

    def keys(self, text):
        text = self.normalise(text)
        ends = set()
        for position, char in enumerate(text):
            if char == "号":
                ends.add(position + 1)
                if text[position + 1:position + 2] in ("院", "楼"):
                    ends.add(position + 2)
        return [(text[:end], text[end:]) for end in sorted(ends, reverse=True)]


def unit_and_room(rest):
    """(unit, room) from the rest of an address after the building ("2单元301室", "2-301", "301"), else None."""
    rest = rest.rstrip("室户").lstrip("-")
    if not rest:
        return None
    for pattern in _UNIT_ROOM:
        found = pattern.match(rest)
        if found:
            return found.group(1), found.group(2)
    found = _ROOM.match(rest)
    return ("", found.group(1)) if found else None


def normaliser_for(area_code):
    """The normaliser of the list's district: its own name, its subdistricts' and communities' names."""
    from wangge.geo.models import Area

    names = (Area.objects.current().filter(code__startswith=area_code[:6])
             .exclude(level="grid").values_list("name", flat=True))
    return AddressNormaliser(names)


class AddressIndex:
    """The registry's building addresses in an area, normalised, for matching many rows at once (one query for the
    buildings; the houses and households of the matched buildings in two more, whatever the number of rows)."""

    def __init__(self, area_code, normaliser):
        self.normaliser = normaliser
        self.by_key = defaultdict(set)  # normalised address → {(building id, grid code)}
        with connection.cursor() as cursor:
            cursor.execute("SELECT id, address, grid_code FROM registry_building "
                           "WHERE grid_code LIKE %s AND address <> '' AND grid_code <> ''", [area_code + "%"])
            for pk, address, grid in cursor.fetchall():
                self.by_key[normaliser.normalise(address)].add((pk, grid))

    def match(self, addresses):
        """[(grid code, household id or None) or None] for each address: the building's grid when the address is
        found in exactly one grid; the household when its unit and room name a house where one household lives."""
        found, wanted = [], {}
        for address in addresses:
            hit = None
            for key, rest in self.normaliser.keys(address) if address else ():
                buildings = self.by_key.get(key)
                if not buildings:
                    continue
                grids = {grid for _pk, grid in buildings}
                if len(grids) == 1:
                    room = unit_and_room(rest) if len(buildings) == 1 else None
                    hit = (next(iter(grids)), next(iter(buildings))[0] if room else None, room)
                    if room:
                        wanted[(hit[1], *room)] = None
                break  # the longest known address decides, ambiguous or not
            found.append(hit)
        households = self._households(list(wanted)) if wanted else {}
        return [(hit[0], households.get((hit[1], *hit[2])) if hit[1] else None) if hit else None for hit in found]

    @staticmethod
    def _households(keys):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT k.building, k.unit, k.room, min(hh.id), count(hh.id) FROM registry_house h "
                "JOIN unnest(%s::bigint[], %s::text[], %s::text[]) AS k(building, unit, room) "
                "ON h.building_id = k.building AND h.unit = k.unit AND h.room = k.room "
                "JOIN registry_household hh ON hh.house_id = h.id GROUP BY k.building, k.unit, k.room",
                [[k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]])
            return {(building, unit, room): household for building, unit, room, household, count
                    in cursor.fetchall() if count == 1}


# ---- reading a list ------------------------------------------------------------------------------------------------

class Problems:
    """Per-row problems: the row number, the incoming column's header, the cell (numbers masked), the reason."""

    def __init__(self, keys):
        self.keys = keys  # header → our key, to know which cells to mask
        self.items = []
        self.rows = set()

    def add(self, row, column, value, reason):
        self.items.append({"row": row, "column": column, "value": masked_cell(self.keys.get(column), value),
                           "reason": str(reason)})
        self.rows.add(row)


def _column_key(name):
    return _ALIASES.get(str(name or "").strip().lower().replace(" ", ""))


def _columns_of(headers, *, field):
    """[(key, header, position)] of the incoming columns; unknown or repeated columns refuse the list (a typo must
    not silently drop a column), as does a list without row ids or names, or with neither ID numbers nor addresses."""
    columns, seen, unknown = [], {}, []
    for position, header in enumerate(headers):
        header = str(header or "").strip()
        if not header:
            continue
        key = _column_key(header)
        if key is None:
            unknown.append(header)
        elif key in seen:
            raise DomainError(_("The columns %(first)s and %(second)s hold the same thing.")
                              % {"first": seen[key], "second": header}, field=field, code="bad_header")
        else:
            seen[key] = header
            columns.append((key, header, position))
    if unknown:
        raise DomainError(_("Unknown columns: %(columns)s. A list has the columns 编号, 姓名, 身份证号, 联系电话 and "
                            "地址 (is the CSV in UTF-8 or GBK?).") % {"columns": "、".join(unknown[:10])[:200]},
                          field=field, code="bad_header")
    missing = [HEADERS[key] for key in ("row_id", "name") if key not in seen]
    if missing:
        raise DomainError(_("Required columns are missing: %(columns)s.") % {"columns": "、".join(missing)},
                          field=field, code="bad_header")
    if "id_number" not in seen and "address" not in seen:
        raise DomainError(_("A list needs the ID number column or the address column to be matched."), field=field,
                          code="bad_header")
    return columns


class _Reader:
    """Checks every row's cells; keeps the clean rows, sealed, for matching."""

    def __init__(self, columns):
        self.columns = columns
        self.header = {key: header for key, header, _position in columns}
        self.problems = Problems({header: key for key, header, _position in columns})
        self.rows = 0
        self.clean = []  # (row number, row id, name, id number, phone, address)
        self.first_row_of = {}
        self.first_id_of = {}

    def read(self, number, cells):
        self.rows += 1
        problem = self.problems.add
        header = self.header
        before = len(self.problems.items)
        row_id, name = cells.get("row_id", ""), cells.get("name", "")
        raw_id, phone, address = cells.get("id_number", ""), cells.get("phone", ""), cells.get("address", "")
        if not row_id:
            problem(number, header["row_id"], "", _("A row id is required: the results go back under it."))
        elif len(row_id) > 64:
            problem(number, header["row_id"], row_id, _("At most %(n)d characters.") % {"n": 64})
        elif row_id in self.first_row_of:
            problem(number, header["row_id"], row_id, _("The same row id as row %(row)d.")
                    % {"row": self.first_row_of[row_id]})
        else:
            self.first_row_of[row_id] = number
        if not name:
            problem(number, header["name"], "", _("A name is required."))
        elif len(name) > 50:
            problem(number, header["name"], name, _("At most %(n)d characters.") % {"n": 50})
        id_number = ""
        if raw_id:
            id_number = fast_id_number(raw_id)
            if id_number is None:
                try:
                    id_number = identity.clean_id_number(raw_id)
                except DomainError as exc:
                    problem(number, header["id_number"], raw_id, exc.message)
                    id_number = ""
            if id_number and id_number in self.first_id_of:
                problem(number, header["id_number"], raw_id, _("The same ID number as row %(row)d.")
                        % {"row": self.first_id_of[id_number]})
            elif id_number:
                self.first_id_of[id_number] = number
        if phone:
            try:
                phone = identity.clean_phone(phone)
            except DomainError as exc:
                problem(number, header["phone"], phone, exc.message)
        if len(address) > 200:
            problem(number, header["address"], address, _("At most %(n)d characters.") % {"n": 200})
        if not raw_id and not address:
            problem(number, header.get("id_number") or header.get("address"), "",
                    _("Give the ID number or the address: a row needs one of them to be matched."))
        if len(self.problems.items) == before:
            self.clean.append((number, row_id, name, id_number, phone, address))


def _cell_text(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _read_json(rows):
    """A list of JSON objects; their keys name the columns (the first row's keys, in order, are the list's
    columns; the row number of a problem is the row's position, from 1)."""
    if not isinstance(rows, list) or not rows:
        raise DomainError(_("Send the rows as a non-empty list of objects."), field="rows")
    keys = []
    for row in rows:
        if isinstance(row, dict):
            keys.extend(key for key in row if key not in keys)
    columns = _columns_of(keys, field="rows")
    reader = _Reader(columns)
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            reader.rows += 1
            reader.problems.add(number, "", "", _("A row is an object of columns and values."))
            continue
        reader.read(number, {key: _cell_text(row.get(header)) for key, header, _position in columns})
    return reader, "json", ""


def _read_file(file, name):
    table = open_table(file, name=name)
    try:
        columns = _columns_of(table.headers, field="file")
        reader = _Reader(columns)
        for number, values in table.rows:
            if not any(values):
                continue
            size = len(values)
            reader.read(number, {key: values[position] if position < size else ""
                                 for key, _header, position in columns})
        return reader, table.format, table.encoding
    finally:
        table.close()


# ---- importing -----------------------------------------------------------------------------------------------------

class ListRejected(DomainError):
    """A commit was asked for and rows have problems (or no row is clean): nothing was written; `report` lists
    the problems with their row numbers."""

    def __init__(self, message, *, report, field="rows"):
        super().__init__(message, field=field, code="invalid_rows", details=report)
        self.report = report


def _deadline(value):
    if value in (None, ""):
        raise DomainError(_("Give the date and time the results are due."), field="deadline")
    moment = value if isinstance(value, datetime) else parse_datetime(str(value))
    if moment is None:
        raise DomainError(_("Give the deadline as an ISO 8601 date and time."), field="deadline")
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    if moment <= timezone.now():
        raise DomainError(_("The deadline lies in the past."), field="deadline")
    return moment


def _list_area(value):
    from wangge.geo.models import Area

    code = str(value or "").strip()
    if not code.isdigit() or len(code) not in (6, 9, 12, 15):
        raise DomainError(_("An area code has 6, 9, 12 or 15 digits."), field="area_code")
    if not Area.objects.current().filter(code=code).exists():
        raise DomainError(_("%(code)s is not a current area.") % {"code": code}, field="area_code")
    return code


def _campaign(value, area_code):
    if value in (None, ""):
        return None
    campaign = value if isinstance(value, Campaign) else (
        Campaign.objects.filter(pk=value).first() if str(value).isdigit() else None)
    if campaign is None or not area_code.startswith(campaign.area_code):
        raise DomainError(_("Choose a campaign organised by the list's area or an area above it."),
                          field="campaign")
    if campaign.state not in (CampaignState.DRAFT, CampaignState.RUNNING):
        raise DomainError(_("The campaign is %(state)s.") % {"state": campaign.get_state_display()},
                          field="campaign")
    return campaign


def _report(reader, fmt, encoding, *, committed, counts=None, pushed_list=None):
    problems = sorted(reader.problems.items, key=lambda p: (p["row"], p["column"]))
    counts = counts or {}
    return {"format": fmt, "encoding": encoding, "rows": reader.rows, "clean_rows": len(reader.clean),
            "rows_with_problems": len(reader.problems.rows), "problem_count": len(problems),
            "problems": problems[:MAX_LISTED_PROBLEMS], "committed": committed,
            "list": pushed_list.pk if pushed_list else None,
            "matched_by_id_number": counts.get(MatchMethod.ID_NUMBER, 0),
            "matched_by_address": counts.get(MatchMethod.ADDRESS, 0), "unmatched": counts.get(MatchMethod.NONE, 0)}


def do_import_list(*, actor, name, source, area_code, deadline, rows=None, file=None, file_name="", reference="",
                   campaign=None, commit=False, commit_clean_rows=False):
    """Reads, checks and matches a pushed list (JSON `rows`, or a CSV/.xlsx `file`); returns the report.

    Dry run by default: every row checked and matched, nothing written. commit=True writes only when no row has a
    problem (else ListRejected, nothing written); commit_clean_rows=True writes the clean rows and reports the
    others. One transaction: a failure leaves nothing behind."""
    area_code = _list_area(area_code)
    _may_import(actor, area_code)
    values = {"name": name, "source": source}
    for field, value in values.items():
        if not str(value or "").strip():
            raise DomainError(_("Required."), field=field)
        if len(str(value).strip()) > (200 if field == "name" else 100):
            raise DomainError(_("Too long."), field=field)
    if len(str(reference or "")) > 100:
        raise DomainError(_("Too long."), field="reference")
    deadline = _deadline(deadline)
    campaign = _campaign(campaign, area_code)
    if (rows is None) == (file is None):
        raise DomainError(_("Send either the rows (JSON) or a file."), field="rows" if file is None else "file")
    reader, fmt, encoding = _read_json(rows) if file is None else _read_file(file, file_name)
    source_field = "rows" if file is None else "file"
    if reader.rows == 0:
        raise DomainError(_("The list holds no rows under its header."), field=source_field, code="empty_file")
    write = commit or commit_clean_rows
    if reader.problems.rows and commit and not commit_clean_rows:
        bad = len(reader.problems.rows)
        raise ListRejected(ngettext("%(n)d of %(total)d rows has a problem; nothing was written.",
                                    "%(n)d of %(total)d rows have problems; nothing was written.", bad)
                           % {"n": bad, "total": reader.rows},
                           report=_report(reader, fmt, encoding, committed=False), field=source_field)
    if write and not reader.clean:
        raise ListRejected(_("No row is clean; nothing was written."),
                           report=_report(reader, fmt, encoding, committed=False), field=source_field)
    with transaction.atomic():
        _stage(reader.clean, area_code)
        if not write:
            counts = _match_counts(area_code)
            return _report(reader, fmt, encoding, committed=False, counts=counts)
        pushed_list = PushedList.objects.create(
            campaign=campaign, name=str(name).strip(), source=str(source).strip(),
            reference=str(reference or "").strip(), area_code=area_code, deadline=deadline, imported_by=actor,
            columns=[[key, header] for key, header, _position in reader.columns])
        counts = _write_rows(pushed_list, area_code)
        pushed_list.rows_total = sum(counts.values())
        pushed_list.rows_matched = pushed_list.rows_total - counts.get(MatchMethod.NONE, 0)
        pushed_list.save(update_fields=["rows_total", "rows_matched"])
        _tell_grids(pushed_list)
        return _report(reader, fmt, encoding, committed=True, counts=counts, pushed_list=pushed_list)


_STAGE = "campaigns_list_stage"


def _stage(clean, area_code):
    """The clean rows, sealed, with their address matches, COPYed into a temporary table (dropped at commit)."""
    ids = [row[3] for row in clean if row[3]]
    phones = [row[4] for row in clean if row[4]]
    id_sealed = pii.seal_many(ids, purpose=pii.ID_NUMBER, mask=pii.mask_id_number)
    phone_sealed = pii.seal_many(phones, purpose=pii.PHONE, mask=pii.mask_phone)
    # Addresses are matched for every row that has one: an ID match, found in SQL below, takes precedence.
    addressed = [i for i, row in enumerate(clean) if row[5]]
    places = {}
    if addressed:
        index = AddressIndex(area_code, normaliser_for(area_code))
        places = dict(zip(addressed, index.match([clean[i][5] for i in addressed]), strict=True))
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor
        cursor.execute(f"DROP TABLE IF EXISTS {_STAGE}")
        cursor.execute(f"CREATE TEMP TABLE {_STAGE} (rownum integer, row_id text, name text, id_enc text, "
                       "id_index text, id_masked text, phone_enc text, phone_masked text, address text, "
                       "address_grid text, address_household bigint) ON COMMIT DROP")
        i_id = i_phone = 0
        with cursor.copy(f"COPY {_STAGE} FROM STDIN") as copy:
            for i, (number, row_id, name, id_number, phone, address) in enumerate(clean):
                if id_number:
                    sealed_id = (id_sealed[0][i_id], id_sealed[1][i_id], id_sealed[2][i_id])
                    i_id += 1
                else:
                    sealed_id = ("", "", "")
                if phone:
                    sealed_phone = (phone_sealed[0][i_phone], phone_sealed[2][i_phone])
                    i_phone += 1
                else:
                    sealed_phone = ("", "")
                place = places.get(i)
                copy.write_row((number, row_id, name, *sealed_id, *sealed_phone, address,
                                place[0] if place else "", place[1] if place else None))
        cursor.execute(f"ANALYZE {_STAGE}")


# The staged rows with their person (by blind index, in the list's area) and the match that places them.
_MATCHED = f"""
    SELECT s.*, p.id AS person_id, p.grid_code AS person_grid, p.household_id AS person_household,
           CASE WHEN p.id IS NOT NULL THEN 'id_number' WHEN s.address_grid <> '' THEN 'address' ELSE 'none' END
               AS match
    FROM {_STAGE} s
    LEFT JOIN registry_person p ON s.id_index <> '' AND p.id_number_index = s.id_index
        AND NOT (p.id_number_index = '') AND p.status <> 'merged' AND p.grid_code LIKE %(area)s
"""


def _match_counts(area_code):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT match, count(*) FROM ({_MATCHED}) m GROUP BY match", {"area": area_code + "%"})
        return dict(cursor.fetchall())


def _write_rows(pushed_list, area_code):
    """One INSERT … SELECT of every staged row into the list, placed by its match; {match: rows}."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {PushedRow._meta.db_table} (pushed_list_id, row_id, name, id_number_enc, id_number_index, "
            "id_number_masked, phone_enc, phone_masked, address, person_id, household_id, grid_code, match, claim, "
            "decline_reason, result, result_note) "
            "SELECT %(list)s, row_id, name, id_enc, id_index, id_masked, phone_enc, phone_masked, address, person_id, "
            "CASE match WHEN 'id_number' THEN person_household WHEN 'address' THEN address_household END, "
            "CASE match WHEN 'id_number' THEN person_grid WHEN 'address' THEN address_grid ELSE %(code)s END, "
            f"match, %(unclaimed)s, '', %(pending)s, '' FROM ({_MATCHED}) m ORDER BY rownum "
            "RETURNING match",
            {"list": pushed_list.pk, "code": area_code, "area": area_code + "%",
             "unclaimed": ClaimState.UNCLAIMED, "pending": RowResult.PENDING})
        counts = defaultdict(int)
        for (match,) in cursor.fetchall():
            counts[match] += 1
    return dict(counts)


# ---- telling people ------------------------------------------------------------------------------------------------

def _notify_counts(per_code, roles, title):
    """One notification per user in the chain of the codes (grids) with rows: `title(rows)`, the rows of all the
    user's codes. Users with the same count share one notify() call (one insert), so a list over 3,000 grids costs a
    few dozen calls, not one per user."""
    from wangge.cases.chain import chain_users
    from wangge.cases.models import Notification
    from wangge.cases.notifications import notify

    if not per_code:
        return 0
    rows_of = defaultdict(int)
    for code, users in chain_users(list(per_code), roles).items():
        for user in users:
            rows_of[user] += per_code[code]
    by_count = defaultdict(list)
    for user, rows in rows_of.items():
        by_count[rows].append(user)
    return sum(len(notify(users, Notification.Kind.OTHER, None, title(rows))) for rows, users in by_count.items())


def _roles_with(action):
    from wangge.accounts.models import Role

    return list(Role.objects.filter(actions__contains=[action]).values_list("slug", flat=True))


def _grid_roles():
    """A grid's chain for its rows: its chief (by post) and everyone who claims rows there or above."""
    from wangge.cases.chain import GRID_CHIEF

    return [GRID_CHIEF, *_roles_with(CLAIM_ROW)]


def _tell_grids(pushed_list):
    """On import: each grid's chief and workers hear how many rows wait for their claim; the list's area staff how
    many rows could not be matched."""
    per_grid = dict(PushedRow.objects.filter(pushed_list=pushed_list).exclude(match=MatchMethod.NONE)
                    .values_list("grid_code").annotate(n=Count("pk")).order_by())
    deadline = timezone.localtime(pushed_list.deadline).strftime("%Y-%m-%d %H:%M")
    _notify_counts(per_grid, _grid_roles(), lambda rows: ngettext(
        "List to verify «%(list)s»: %(n)d row to claim in your grids, results due %(due)s",
        "List to verify «%(list)s»: %(n)d rows to claim in your grids, results due %(due)s", rows)
        % {"list": pushed_list.name, "n": rows, "due": deadline})
    unmatched = pushed_list.rows_total - pushed_list.rows_matched
    if unmatched:
        _notify_area(pushed_list, ngettext(
            "List to verify «%(list)s»: %(n)d row was not matched to a grid; place it by hand",
            "List to verify «%(list)s»: %(n)d rows were not matched to a grid; place them by hand", unmatched)
            % {"list": pushed_list.name, "n": unmatched})


def report_overdue_and_unmatched(now=None):
    """The periodic report up the chain (jobs.report_pushed_lists): for every list past its deadline, each grid's
    chief, workers and community staff hear of the rows still unanswered there; for every list with rows waiting at
    its area (unmatched, or sent back as not in the grid), the area's staff and the importer hear how many.
    Returns {"overdue_rows", "unplaced_rows", "notifications"}."""
    now = now or timezone.now()
    live = PushedList.objects.filter(purged_at__isnull=True)
    overdue = defaultdict(lambda: defaultdict(int))  # list → grid → rows
    for list_id, grid, rows in (PushedRow.objects.filter(pushed_list__in=live.filter(deadline__lt=now))
                                .filter(_outstanding_q()).values_list("pushed_list_id", "grid_code")
                                .annotate(n=Count("pk")).order_by()):
        overdue[list_id][grid] = rows
    unplaced = dict(PushedRow.objects.filter(pushed_list__in=live).filter(_waiting_q())
                    .values_list("pushed_list_id").annotate(n=Count("pk")).order_by())
    lists = {item.pk: item for item in PushedList.objects.filter(pk__in=[*overdue, *unplaced])}
    sent = 0
    for list_id, per_grid in overdue.items():
        item = lists[list_id]
        due = timezone.localtime(item.deadline).strftime("%Y-%m-%d %H:%M")
        sent += _notify_counts(dict(per_grid), _grid_roles(), lambda rows, item=item, due=due: ngettext(
            "Overdue: list to verify «%(list)s» was due %(due)s; %(n)d row unanswered in your grids",
            "Overdue: list to verify «%(list)s» was due %(due)s; %(n)d rows unanswered in your grids", rows)
            % {"list": item.name, "due": due, "n": rows})
        total = sum(per_grid.values())
        sent += _notify_area(item, ngettext(
            "Overdue: list to verify «%(list)s» was due %(due)s; %(n)d row unanswered (grids: %(grids)d)",
            "Overdue: list to verify «%(list)s» was due %(due)s; %(n)d rows unanswered (grids: %(grids)d)", total)
            % {"list": item.name, "due": due, "n": total, "grids": len(per_grid)})
    for list_id, rows in unplaced.items():
        item = lists[list_id]
        sent += _notify_area(item, ngettext(
            "List to verify «%(list)s»: %(n)d row waits to be placed in a grid",
            "List to verify «%(list)s»: %(n)d rows wait to be placed in a grid", rows)
            % {"list": item.name, "n": rows})
    return {"overdue_rows": sum(sum(g.values()) for g in overdue.values()), "unplaced_rows": sum(unplaced.values()),
            "notifications": sent}


def _notify_area(pushed_list, title):
    """The staff who manage lists at the list's area or above, and the importer (a person, not a system)."""
    from wangge.cases.chain import chain_users
    from wangge.cases.models import Notification
    from wangge.cases.notifications import notify

    users = set(chain_users([pushed_list.area_code], _roles_with(MANAGE_CAMPAIGN))[pushed_list.area_code])
    if pushed_list.imported_by.has_action(VIEW_CAMPAIGN):
        users.add(pushed_list.imported_by_id)
    return len(notify(users, Notification.Kind.OTHER, None, title))


def _outstanding_q():
    """Rows a grid still owes an answer: placed in a grid, not declined, no result yet."""
    return Q(grid_code__regex=r"^\d{15}$") & ~Q(claim=ClaimState.DECLINED) & Q(result=RowResult.PENDING)


def _waiting_q():
    """Rows waiting at the list's area for its staff: unmatched, or sent back as not in the grid."""
    return ~Q(grid_code__regex=r"^\d{15}$") & Q(claim=ClaimState.UNCLAIMED)


def summary(pushed_list, now=None):
    """Counts of a list's rows: by match, claim and result; overdue (past the deadline, unanswered) and waiting at
    the area."""
    now = now or timezone.now()
    rows = PushedRow.objects.filter(pushed_list=pushed_list)
    counts = rows.aggregate(
        total=Count("pk"), by_id_number=Count("pk", filter=Q(match=MatchMethod.ID_NUMBER)),
        by_address=Count("pk", filter=Q(match=MatchMethod.ADDRESS)),
        unmatched=Count("pk", filter=Q(match=MatchMethod.NONE)),
        unclaimed=Count("pk", filter=Q(claim=ClaimState.UNCLAIMED)),
        claimed=Count("pk", filter=Q(claim=ClaimState.CLAIMED)),
        declined=Count("pk", filter=Q(claim=ClaimState.DECLINED)),
        verified=Count("pk", filter=Q(result=RowResult.VERIFIED)),
        not_found=Count("pk", filter=Q(result=RowResult.NOT_FOUND)),
        moved=Count("pk", filter=Q(result=RowResult.MOVED)),
        outstanding=Count("pk", filter=_outstanding_q()), waiting=Count("pk", filter=_waiting_q()))
    counts["overdue"] = counts["outstanding"] if pushed_list.deadline < now else 0
    return counts


# ---- claims --------------------------------------------------------------------------------------------------------

def _expect_grid(row):
    if len(row.grid_code) != GRID_LENGTH:
        raise DomainError(_("The row waits at the list's area: the staff place it in a grid first."),
                          field="grid_code", code="invalid_transition")


@transaction.atomic
def do_claim_row(row, *, actor):
    """未认领 → 已认领: the grid takes the row on, to verify at the door by the deadline."""
    row = _row_for(actor, CLAIM_ROW, row, _("Your role may not claim rows of pushed lists."))
    _expect_grid(row)
    if row.claim != ClaimState.UNCLAIMED:
        raise DomainError(_("The row is already %(state)s.") % {"state": row.get_claim_display()}, field="claim",
                          code="invalid_transition")
    row.claim, row.claimed_by, row.claimed_at = ClaimState.CLAIMED, actor, timezone.now()
    row.decline_reason = ""
    row.save(update_fields=["claim", "claimed_by", "claimed_at", "decline_reason"])
    return row


@transaction.atomic
def do_decline_row(row, *, actor, reason, note=""):
    """不可认领, with one of the reasons of DOMAIN.md §3 (an answer the pushing system gets back). "Not in this grid"
    is no answer: the row goes back, unclaimed, to the list's area for its staff to place again."""
    if reason not in DeclineReason.values:
        raise DomainError(_("Unknown reason; one of: %(all)s.") % {"all": ", ".join(DeclineReason.values)},
                          field="reason")
    note = str(note or "").strip()
    if len(note) > 500:
        raise DomainError(_("At most %(n)d characters.") % {"n": 500}, field="note")
    row = _row_for(actor, CLAIM_ROW, row, _("Your role may not claim rows of pushed lists."))
    if row.claim == ClaimState.DECLINED or row.result != RowResult.PENDING:
        raise DomainError(_("The row is already answered."), field="claim", code="invalid_transition")
    grid = row.grid_code
    if reason == DeclineReason.NOT_HERE:
        if len(row.grid_code) != GRID_LENGTH:
            raise DomainError(_("The row is not in a grid yet."), field="reason")
        row.grid_code, row.claim, row.claimed_by, row.claimed_at = (row.pushed_list.area_code, ClaimState.UNCLAIMED,
                                                                    None, None)
        row.household = None
    else:
        row.claim, row.answered_at = ClaimState.DECLINED, timezone.now()
        if row.claimed_by_id is None:
            row.claimed_by, row.claimed_at = actor, row.answered_at
    row.decline_reason, row.result_note = reason, note
    row.save()
    if reason == DeclineReason.NOT_HERE:
        _notify_area(row.pushed_list, _("List to verify «%(list)s»: grid %(grid)s sent back a row as not theirs")
                     % {"list": row.pushed_list.name, "grid": grid})
    return row


@transaction.atomic
def do_place_row(row, *, actor, grid_code):
    """The list's staff place a row waiting at the area (unmatched, or sent back) in one of the area's grids; the
    grid hears of it."""
    from wangge.geo.models import Area

    codes = scope_codes(actor, MANAGE_CAMPAIGN)
    if not codes:
        raise DomainError(_("Your role may not manage pushed lists."), code="forbidden")
    row = _locked_row(row)
    if not code_in_scope(row.pushed_list.area_code, codes):
        raise Http404
    if row.pushed_list.purged_at is not None:
        raise DomainError(_("The list was purged with its campaign."), field="list", code="invalid_transition")
    if row.claim != ClaimState.UNCLAIMED or len(row.grid_code) == GRID_LENGTH:
        raise DomainError(_("Only a row waiting at the list's area is placed."), field="grid_code",
                          code="invalid_transition")
    grid_code = str(grid_code or "").strip()
    if (len(grid_code) != GRID_LENGTH or not grid_code.startswith(row.pushed_list.area_code)
            or not Area.objects.current().filter(code=grid_code, level="grid").exists()):
        raise DomainError(_("Choose a current grid inside the list's area."), field="grid_code")
    row.grid_code, row.decline_reason = grid_code, ""
    row.save(update_fields=["grid_code", "decline_reason"])
    _notify_counts({grid_code: 1}, _grid_roles(), lambda rows: _(
        "List to verify «%(list)s»: a row was placed in %(grid)s to claim") % {"list": row.pushed_list.name,
                                                                             "grid": grid_code})
    return row


# ---- verification at the door --------------------------------------------------------------------------------------

@transaction.atomic
def do_verify_row(row, *, actor, result, note="", household=None, answers=None, location=None, visited_at=None,
                  instance_id="", source=VisitSource.PAGE):
    """The result of the door visit for a claimed row: verified, not found or moved. When the list belongs to a
    campaign and the household is known (given, or the row's matched one), the call is recorded as a visit of the
    campaign through services.do_record_visit (the form's answers with it, the ledger moved) and linked to the row;
    otherwise the result stands on the row alone. Calling again replaces the result (a later visit knows more)."""
    from wangge.registry.models import Household

    from .services import do_record_visit

    if result not in VISIT_STATUS_OF:
        raise DomainError(_("Unknown result; one of: %(all)s.") % {"all": ", ".join(map(str, VISIT_STATUS_OF))},
                          field="result")
    note = str(note or "").strip()
    if len(note) > 500:
        raise DomainError(_("At most %(n)d characters.") % {"n": 500}, field="note")
    row = _row_for(actor, VISIT_HOUSEHOLD, row, _("Your role may not record visits."))
    if row.claim != ClaimState.CLAIMED:
        raise DomainError(_("Claim the row before answering it."), field="claim", code="invalid_transition")
    if household not in (None, ""):
        household = household if isinstance(household, Household) else (
            Household.objects.filter(pk=household).first() if str(household).isdigit() else None)
        if household is None:
            raise DomainError(_("Unknown household."), field="household")
    else:
        household = row.household
    visit = None
    campaign = row.pushed_list.campaign
    if campaign is not None and household is not None:
        visit = do_record_visit(campaign, actor=actor, household=household, status=VISIT_STATUS_OF[result],
                                answers=answers, location=location, visited_at=visited_at, instance_id=instance_id,
                                source=source)
        if visit.pushed_row_id not in (None, row.pk):
            raise DomainError(_("This form instance answered another row."), field="instance_id")
        Visit.objects.filter(pk=visit.pk).update(pushed_row=row)
        visit.pushed_row = row
    elif answers:
        raise DomainError(_("Answers go with a visit of the list's campaign to a known household."),
                          field="answers")
    row.result, row.result_note = result, note
    row.answered_at = visit.visited_at if visit is not None else timezone.now()
    if household is not None and row.household_id != household.pk:
        row.household = household
    row.save(update_fields=["result", "result_note", "answered_at", "household"])
    return row, visit


# ---- reading personal numbers --------------------------------------------------------------------------------------

@transaction.atomic
def do_reveal_row(row, *, actor, reason, request_id=""):
    """A row's full ID and phone numbers, for a role that reads screening answers in the row's grid or area; each
    reading audited (AnswerReveal: who, which row, why, when, which request)."""
    codes = scope_codes(actor, VIEW_ANSWERS)
    if not codes:
        raise DomainError(_("Your role may not read personal numbers of pushed lists."), code="forbidden")
    if not code_in_scope(row.grid_code, codes):
        raise Http404
    reason = str(reason or "").strip()
    if not reason:
        raise DomainError(_("Give the reason for reading the numbers."), field="reason")
    if not (row.id_number_enc or row.phone_enc):
        raise DomainError(_("This row holds no numbers (none were given, or they were purged)."), field="row")
    AnswerReveal.objects.create(user=actor, pushed_row=row, reason=reason[:200], request_id=str(request_id)[:64])
    return {"id_number": pii.decrypt(row.id_number_enc, purpose=pii.ID_NUMBER) if row.id_number_enc else "",
            "phone": pii.decrypt(row.phone_enc, purpose=pii.PHONE) if row.phone_enc else ""}


# ---- results -------------------------------------------------------------------------------------------------------

def list_for_results(user, pk):
    """The list whose results `user` may take: a list in their VIEW_CAMPAIGN scope, or one a system pushed."""
    try:
        return visible_lists(user).distinct().get(pk=pk)
    except (PushedList.DoesNotExist, ValueError) as exc:
        raise Http404 from exc


def result_rows(pushed_list, *, actor, reveal_reason="", request_id="", files=True):
    """(headers, rows) in the incoming shape: the incoming columns under the incoming headers (or JSON keys), then
    the results. ID and phone numbers masked; full, with `reveal_reason`, for a role that reads answers in the
    list's area (each row's reading audited)."""
    reveal = bool(str(reveal_reason or "").strip())
    if reveal:
        codes = scope_codes(actor, VIEW_ANSWERS)
        if not codes:
            raise DomainError(_("Your role may not read personal numbers of pushed lists."), code="forbidden")
        if not code_in_scope(pushed_list.area_code, codes):
            raise Http404
    columns = pushed_list.columns or [[key, HEADERS[key]] for key in KEYS]
    headers = [header for _key, header in columns] + [
        header if files else key for key, header in RESULT_COLUMNS]
    fields = {"row_id": "row_id", "name": "name", "id_number": "id_number_masked", "phone": "phone_masked",
              "address": "address"}
    wanted = [fields[key] for key, _header in columns]
    extra = ["pk", "claim", "decline_reason", "result", "result_note", "answered_at"]
    if reveal:
        extra += ["id_number_enc", "phone_enc"]
    records = list(PushedRow.objects.filter(pushed_list=pushed_list).order_by("pk")
                   .values(*dict.fromkeys(wanted + extra)))
    if reveal:
        AnswerReveal.objects.bulk_create(
            [AnswerReveal(user=actor, pushed_row_id=record["pk"], reason=str(reveal_reason).strip()[:200],
                          request_id=str(request_id)[:64]) for record in records], batch_size=5000)
    out = []
    for record in records:
        if reveal:
            record["id_number_masked"] = (pii.decrypt(record["id_number_enc"], purpose=pii.ID_NUMBER)
                                          if record["id_number_enc"] else "")
            record["phone_masked"] = pii.decrypt(record["phone_enc"], purpose=pii.PHONE) if record["phone_enc"] else ""
        answered = record["answered_at"]
        answered = timezone.localtime(answered).isoformat(timespec="seconds") if answered else ""
        if files:
            tail = [CLAIM_TERMS[record["claim"]], REASON_TERMS.get(record["decline_reason"], ""),
                    RESULT_TERMS[record["result"]], record["result_note"], answered]
        else:
            tail = [record["claim"], record["decline_reason"], record["result"], record["result_note"], answered]
        out.append([record[field] for field in wanted] + tail)
    return headers, out


def export_results(pushed_list, fmt, *, actor, reveal_reason="", request_id=""):
    """Bytes of the results as CSV (UTF-8 with BOM) or .xlsx, cells escaped against formulas."""
    from wangge.registry.exporters import write_table

    headers, rows = result_rows(pushed_list, actor=actor, reveal_reason=reveal_reason, request_id=request_id)
    return write_table(headers, rows, fmt, sheet="results")


def template(fmt):
    """The list template: our headers and one example row."""
    from wangge.registry.exporters import write_table

    example = ["GA-2026-000001", "张三", "11010519491231002X", "13800138000", "济南市市中区纬一路1号2单元301室"]
    return write_table([HEADERS[key] for key in KEYS], [example], fmt, sheet="list")
