"""Reading registry import files: the templates' columns (Chinese headers), and streaming rows out of .xlsx and CSV.

- .xlsx is read with openpyxl in read-only mode, after checking the zip itself: a readable zip, no more than a few
  thousand parts, and an uncompressed size (as the zip directory declares it, and as actually inflated for the
  sheet) within WANGGE_IMPORT_MAX_BYTES × 20 — a zip bomb is refused before openpyxl sees it.
- CSV is UTF-8 (with or without BOM) or GB18030/GBK, found from the first 64 KB; a byte sequence neither can
  decode is a clear error naming the line, never a 500. UTF-16 ("Unicode text" from Excel) is refused by its BOM.

Cells are always data: a value starting with = + - @ is kept as text (openpyxl in read-only mode never evaluates
formulas; a formula cell's text comes back as written). Exports escape such cells (exporters.py).
"""

import codecs
import csv
import datetime
import io
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from wangge.core.errors import DomainError

KINDS = ("courtyards", "buildings", "houses", "households", "persons", "organizations")
FORMATS = ("xlsx", "csv")
SNIFF_BYTES = 64 * 1024
MAX_ZIP_PARTS = 5000
XLSX_EXPANSION = 20  # an .xlsx may inflate to this many times the upload limit, no more


@dataclass(frozen=True)
class Column:
    header: str  # the Chinese header of the template
    key: str
    required: bool = False
    help: str = ""
    example: str = ""


_LOCATION = [
    Column("经度", "lon", help=gettext_lazy("longitude"), example="116.9868"),
    Column("纬度", "lat", help=gettext_lazy("latitude"), example="36.6585"),
    Column("坐标系", "crs", help=gettext_lazy("wgs84 (default), gcj02 or bd09"), example="wgs84"),
]
_PLACE_IN_BUILDING = [
    Column("楼栋编码", "building_code", help=gettext_lazy("20 digits: the 15-digit grid code and the 5-digit building "
                                                      "number"), example="37010300200100100001"),
    Column("单元", "unit", example="1"),
    Column("房间号", "room", example="101"),
]
_PERSON = [
    Column("姓名", "name", required=True, example="张三"),
    Column("身份证号", "id_number", required=True, help=gettext_lazy("18 characters (old 15-digit numbers are "
                                                                  "upgraded)"), example="11010519491231002X"),
    Column("联系电话", "phone", example="13800138000"),
    Column("民族", "ethnicity", example="汉族"),
    Column("户籍地", "hukou_place", example="山东省济南市市中区"),
    Column("人口类型", "residence_type", help="户籍人口 / 流动人口 / 境外人员 / 未落户人员", example="户籍人口"),
    Column("人户状态", "household_status", help="人户同在 / 户在人不在 / 人在户不在", example="人户同在"),
    Column("户号", "household_number", example="H370103000001"),
    Column("与户主关系", "relation_to_head", help="户主 / 配偶 / 子女 / …", example="户主"),
    *_PLACE_IN_BUILDING,
    *_LOCATION,
    Column("工作单位", "work_unit", example=""),
    Column("是否党员", "party_member", help="是 / 否", example="否"),
    Column("状态", "status", help="正常 / 迁出 / 死亡", example="正常"),
    Column("状态日期", "status_date", help="YYYY-MM-DD", example=""),
    Column("流入日期", "inflow_date", help="YYYY-MM-DD", example=""),
    Column("流入原因", "inflow_reason", example=""),
    Column("来源地", "origin", example=""),
    Column("居住证号", "residence_permit", example=""),
]

COLUMNS = {
    "courtyards": [
        Column("名称", "name", required=True, example="纬一路小区"),
        Column("地址", "address", example="纬一路 1 号"),
        Column("物业", "property_manager", example=""),
        Column("边界", "boundary", required=True, help=gettext_lazy("the boundary as WKT (POLYGON or MULTIPOLYGON, "
                                                                   "longitude latitude)"),
               example="POLYGON((116.98 36.65, 116.99 36.65, 116.99 36.66, 116.98 36.66, 116.98 36.65))"),
        Column("坐标系", "crs", help=gettext_lazy("wgs84 (default), gcj02 or bd09"), example="wgs84"),
    ],
    "buildings": [
        Column("楼栋编码", "building_code", help=gettext_lazy("20 digits (grid + number); empty: the next number of "
                                                          "the grid at the location"), example=""),
        Column("名称", "name", example="1号楼"),
        Column("地址", "address", example="纬一路 1 号"),
        Column("用途", "use", example="住宅"),
        Column("层数", "floors", example="6"),
        Column("单元数", "units", example="2"),
        Column("经度", "lon", required=True, example="116.9868"),
        Column("纬度", "lat", required=True, example="36.6585"),
        Column("坐标系", "crs", help=gettext_lazy("wgs84 (default), gcj02 or bd09"), example="wgs84"),
    ],
    "houses": [
        Column("楼栋编码", "building_code", required=True, example="37010300200100100001"),
        Column("单元", "unit", example="1"),
        Column("楼层", "floor", example="1"),
        Column("房间号", "room", required=True, example="101"),
        Column("用途", "use", example="住宅"),
        Column("面积", "area_m2", help=gettext_lazy("m²"), example="86.5"),
        Column("产权人", "owner_name", example="张三"),
        Column("是否出租", "rented", help="是 / 否", example="否"),
    ],
    # One row per member; the household is created (or found) by its number, in the house of its first row.
    "households": [Column("户号", "household_number", required=True, example="H370103000001"),
                   *[c for c in _PERSON if c.key != "household_number"]],
    "persons": _PERSON,
    "organizations": [
        Column("名称", "name", required=True, example="济南某某有限公司"),
        Column("类型", "kind", required=True, help="企业 / 个体商户 / 机关 / 学校 / 医院 / 社会组织 / 其他",
               example="企业"),
        Column("统一社会信用代码", "uscc", example="91110000101623741K"),
        Column("法定代表人", "legal_representative", example="李四"),
        Column("地址", "address", example="经四路 1 号"),
        *[c if c.key == "crs" else Column(c.header, c.key, True, c.help, c.example) for c in _LOCATION],
        Column("从业人员数", "employees", example="25"),
        Column("安全负责人", "safety_contact", example="王五"),
        Column("安全负责人电话", "safety_phone", example="0531-86001234"),
        Column("重点场所类型", "key_place_kinds", help="网吧 / 危化品单位 / 建筑工地 / 消防重点单位 / 人员密集场所, "
                                                  "separated by 、", example=""),
        Column("楼栋编码", "building_code", example=""),
    ],
}

RESIDENCE_TYPES = {"户籍人口": "registered", "流动人口": "flowing", "境外人员": "foreign", "未落户人员": "unregistered"}
HOUSEHOLD_STATUSES = {"人户同在": "together", "户在人不在": "away", "人在户不在": "elsewhere"}
PERSON_STATUSES = {"正常": "normal", "迁出": "moved_out", "死亡": "deceased"}
ORGANIZATION_KINDS = {"企业": "enterprise", "个体商户": "shop", "商户": "shop", "机关": "government",
                      "政府机关": "government", "学校": "school", "医院": "hospital", "社会组织": "social",
                      "其他": "other"}
KEY_PLACES = {"网吧": "internet_cafe", "危化品单位": "hazardous_chemicals", "建筑工地": "construction_site",
              "消防重点单位": "fire_safety", "人员密集场所": "crowded_place"}
YES = {"是", "y", "yes", "true", "1"}
NO = {"否", "n", "no", "false", "0", ""}


def check_kind(kind):
    if kind not in COLUMNS:
        raise DomainError(_("Unknown kind %(kind)s; use one of %(kinds)s.") % {"kind": kind, "kinds": ", ".join(KINDS)},
                          field="kind")
    return kind


def max_import_bytes():
    return settings.WANGGE_IMPORT_MAX_BYTES


# Problems ---------------------------------------------------------------------------------------------------------

@dataclass
class Problem:
    row: int  # the line/row number in the file as a spreadsheet shows it (header = 1)
    column: str  # the Chinese header, or "" for the whole row
    value: str  # masked when the column holds personal numbers
    reason: str

    def as_dict(self):
        return {"row": self.row, "column": self.column, "value": self.value, "reason": self.reason}


def masked_cell(key, value):
    """How a cell of the uploader's own file appears in their error report: personal numbers masked."""
    text = str(value or "")
    if key in ("id_number", "phone", "safety_phone") and text:
        if len(text) > 7:
            return text[:3] + "*" * (len(text) - 7) + text[-4:]
        return "*" * len(text)
    return text[:100]


# Opening a file ---------------------------------------------------------------------------------------------------

@dataclass
class Table:
    format: str
    headers: list
    rows: object  # iterator of (row number, [cell text …])
    encoding: str = ""
    closers: list = field(default_factory=list)

    def close(self):
        for close in self.closers:
            close()


def _too_big(size):
    limit = max_import_bytes()
    return DomainError(_("The file is too large (%(size)s MB); the limit is %(limit)s MB.")
                       % {"size": f"{size / 1e6:.1f}", "limit": f"{limit / 1e6:.0f}"}, field="file", code="too_large")


def open_table(source, *, name=""):
    """A Table from a path or a file object (an upload). The format comes from the content: a zip is .xlsx,
    anything else is CSV."""
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            raise DomainError(_("There is no file at %(path)s.") % {"path": path}, field="file")
        handle = path.open("rb")
        size = path.stat().st_size
    else:
        handle = source
        if hasattr(handle, "size") and handle.size is not None:
            size = handle.size
        else:
            handle.seek(0, io.SEEK_END)
            size = handle.tell()
        handle.seek(0)
    try:
        if size == 0:
            raise DomainError(_("The file is empty."), field="file", code="empty_file")
        if size > max_import_bytes():
            raise _too_big(size)
        head = handle.read(8)
        handle.seek(0)
        if head.startswith(b"PK"):
            table = _open_xlsx(handle)
        elif head.startswith(b"\xd0\xcf\x11\xe0"):
            raise DomainError(_("This is an old Excel (.xls) file; save it as .xlsx or CSV."), field="file",
                              code="bad_format")
        elif str(name).lower().endswith(".xlsx"):
            raise DomainError(_("This .xlsx file is damaged: it is not a zip archive."), field="file",
                              code="corrupt_file")
        else:
            table = _open_csv(handle)
    except BaseException:
        if isinstance(source, str | Path):
            handle.close()
        raise
    if isinstance(source, str | Path):
        table.closers.append(handle.close)
    return table


def _open_xlsx(handle):
    import openpyxl

    try:
        archive = zipfile.ZipFile(handle)
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise DomainError(_("This .xlsx file is damaged and cannot be read."), field="file",
                          code="corrupt_file") from exc
    if len(infos) > MAX_ZIP_PARTS:
        raise DomainError(_("This .xlsx file has too many parts to be a spreadsheet."), field="file",
                          code="corrupt_file")
    declared = sum(info.file_size for info in infos)
    ceiling = max_import_bytes() * XLSX_EXPANSION
    if declared > ceiling or any(info.compress_size and info.file_size / info.compress_size > 1000 for info in infos
                                 if info.file_size > 10_000_000):
        raise DomainError(_("This .xlsx file expands to %(size)s MB; it looks like a zip bomb and is refused.")
                          % {"size": f"{declared / 1e6:.0f}"}, field="file", code="too_large")
    names = {info.filename for info in infos}
    if "[Content_Types].xml" not in names or not any(n.startswith("xl/worksheets/") for n in names):
        raise DomainError(_("This zip is not an Excel workbook (.xlsx)."), field="file", code="corrupt_file")
    # The directory can lie about sizes: inflate each part once, counting, and stop past the ceiling.
    total = 0
    try:
        for info in infos:
            with archive.open(info) as part:
                while chunk := part.read(1 << 20):
                    total += len(chunk)
                    if total > ceiling:
                        raise DomainError(_("This .xlsx file expands beyond %(size)s MB; it looks like a zip bomb "
                                            "and is refused.") % {"size": f"{ceiling / 1e6:.0f}"}, field="file",
                                          code="too_large")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, RuntimeError, ValueError) as exc:
        raise DomainError(_("This .xlsx file is damaged and cannot be read."), field="file",
                          code="corrupt_file") from exc
    handle.seek(0)
    try:
        workbook = openpyxl.load_workbook(handle, read_only=True, data_only=False)
        sheet = workbook.worksheets[0]
        iterator = sheet.iter_rows(values_only=True)
        header_row = next(iterator, None)
    except DomainError:
        raise
    except Exception as exc:  # openpyxl raises many kinds (KeyError, XML errors …) for a damaged workbook
        raise DomainError(_("This .xlsx file is damaged and cannot be read."), field="file",
                          code="corrupt_file") from exc
    headers = [_cell_text(value) for value in (header_row or ())]

    def rows():
        try:
            for number, values in enumerate(iterator, start=2):
                yield number, [_cell_text(value) for value in values]
        except DomainError:
            raise
        except Exception as exc:
            raise DomainError(_("This .xlsx file is damaged and cannot be read."), field="file",
                              code="corrupt_file") from exc

    return Table("xlsx", headers, rows(), closers=[workbook.close])


def _cell_text(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat()
    if isinstance(value, datetime.date | Decimal | int | float):
        return str(value)
    return str(value).strip()


def sniff_encoding(sample: bytes):
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DomainError(_("This CSV file is in UTF-16; save it as CSV UTF-8 (or GBK) and upload again."),
                          field="file", code="bad_encoding")
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("gb18030")().decode(sample, final=False)
        return "gb18030"
    except UnicodeDecodeError as exc:
        raise DomainError(_("This CSV file is neither UTF-8 nor GBK/GB18030; save it as CSV UTF-8 and upload "
                            "again."), field="file", code="bad_encoding") from exc


def _open_csv(handle):
    sample = handle.read(SNIFF_BYTES)
    handle.seek(0)
    encoding = sniff_encoding(sample)
    line = 0

    def lines():
        """Decoded physical lines, so a decoding error names its line exactly."""
        nonlocal line
        decode = codecs.getdecoder(encoding)  # utf-8-sig drops a BOM at the start of the first line only
        for line, raw in enumerate(handle, start=1):
            try:
                yield decode(raw)[0]
            except UnicodeDecodeError as exc:
                raise _encoding_error(encoding, line) from exc

    reader = csv.reader(lines())
    try:
        headers = [cell.strip() for cell in next(reader, [])]
    except csv.Error as exc:
        raise DomainError(_("Line 1 of this CSV file cannot be read: %(reason)s") % {"reason": exc}, field="file",
                          code="bad_format") from exc

    def rows():
        try:
            for number, cells in enumerate(reader, start=2):
                yield number, [cell.strip() for cell in cells]
        except csv.Error as exc:
            raise DomainError(_("Line %(line)d of this CSV file cannot be read: %(reason)s")
                              % {"line": line, "reason": exc}, field="file", code="bad_format") from exc

    return Table("csv", headers, rows(), encoding=encoding.replace("-sig", ""))


def _encoding_error(encoding, line):
    name = "UTF-8" if encoding.startswith("utf-8") else "GB18030/GBK"
    return DomainError(_("Row %(line)d of this CSV file is not valid %(encoding)s: the file mixes encodings or is "
                         "in another one; save it as CSV UTF-8 and upload again.")
                       % {"line": line, "encoding": name}, field="file", code="bad_encoding")


def column_positions(kind, headers):
    """{key: index of its column}; unknown headers are refused (a typo must not silently drop a column), as is a
    missing required column."""
    columns = COLUMNS[kind]
    by_header = {c.header: c for c in columns}
    positions = {}
    unknown = []
    for index, header in enumerate(headers):
        if not header:
            continue
        column = by_header.get(header)
        if column is None:
            unknown.append(header)
        elif column.key in positions:
            raise DomainError(_("The column %(column)s appears twice.") % {"column": header}, field="file",
                              code="bad_header")
        else:
            positions[column.key] = index
    if unknown:
        raise DomainError(_("Unknown columns: %(columns)s. Use the %(kind)s template's headers (is the CSV in UTF-8 "
                            "or GBK?).") % {"columns": "、".join(unknown[:10])[:200], "kind": kind}, field="file",
                          code="bad_header")
    missing = [c.header for c in columns if c.required and c.key not in positions]
    if missing:
        raise DomainError(_("Required columns are missing: %(columns)s.") % {"columns": "、".join(missing)},
                          field="file", code="bad_header")
    return positions


def header_of(kind, key):
    for column in COLUMNS[kind]:
        if column.key == key:
            return column.header
    return key


# Cell values -------------------------------------------------------------------------------------------------------

class CellError(ValueError):
    pass


def parse_bool(text):
    value = text.strip().lower()
    if value in YES:
        return True
    if value in NO:
        return False
    raise CellError(_("Use 是 or 否."))


def parse_date(text):
    if not text:
        return None
    try:
        return datetime.date.fromisoformat(text.replace("/", "-")[:10])
    except ValueError as exc:
        raise CellError(_("Use a date in the form YYYY-MM-DD.")) from exc


def parse_int(text, *, low=0, high=2**31 - 1):
    if not text:
        return None
    try:
        value = int(text)
    except ValueError as exc:
        raise CellError(_("Must be a whole number.")) from exc
    if not low <= value <= high:
        raise CellError(_("Must be between %(low)d and %(high)d.") % {"low": low, "high": high})
    return value


def parse_choice(text, choices, default=None):
    if not text:
        if default is None:
            raise CellError(_("Required."))
        return default
    if text in choices:
        return choices[text]
    if text in choices.values():
        return text
    raise CellError(_("Choose one of: %(choices)s.") % {"choices": " / ".join(choices)})


def parse_building_code(text):
    """(grid code, building number) from the 20-digit building code."""
    if len(text) != 20 or not text.isdigit() or text.endswith("00000"):
        raise CellError(_("A building code has 20 digits: the 15-digit grid code and the 5-digit number."))
    return text[:15], text[15:]


def parse_float(text):
    try:
        return float(text)
    except ValueError as exc:
        raise CellError(_("Must be a number.")) from exc
