"""Templates, error reports and exports as .xlsx or CSV.

Every cell written goes through `safe_cell`: a text starting with = + - @ (or a tab or carriage return, which some
spreadsheet programs skip before looking for a formula) gets a leading apostrophe, so it stays text when opened and
never runs as a formula (CSV/formula injection). Exports show the masked personal numbers only; they read through
`restrict()`, so nobody exports rows outside their scope.
"""

import csv
import io

from django.utils.translation import gettext as _

from wangge.accounts.roles import VIEW_PERSON, VIEW_PLACE
from wangge.core.errors import DomainError

from .importers import COLUMNS, FORMATS, check_kind
from .models import Building, Household, Organization, Person

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CONTENT_TYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                 "csv": "text/csv; charset=utf-8"}


def safe_cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int | float):
        return value
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def check_format(fmt):
    if fmt not in FORMATS:
        raise DomainError(_("Use xlsx or csv."), field="format")
    return fmt


def write_table(headers, rows, fmt, *, sheet="Sheet1", notes=None):
    """Bytes of an .xlsx (one sheet, bold header, optional second sheet of notes) or a UTF-8 CSV with BOM (so Excel
    opens the Chinese headers correctly)."""
    check_format(fmt)
    if fmt == "csv":
        buffer = io.StringIO()
        buffer.write("\ufeff")
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow([safe_cell(h) for h in headers])
        for row in rows:
            writer.writerow([safe_cell(v) for v in row])
        return buffer.getvalue().encode("utf-8")
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(sheet)
    bold = Font(bold=True)
    header_cells = []
    for header in headers:
        cell = WriteOnlyCell(worksheet, value=safe_cell(header))
        cell.font = bold
        header_cells.append(cell)
    worksheet.append(header_cells)
    for row in rows:
        cells = []
        for value in row:
            cell = WriteOnlyCell(worksheet, value=safe_cell(value))
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, whatever the text
            cells.append(cell)
        worksheet.append(cells)
    if notes:
        info = workbook.create_sheet(_("Notes"))
        for line in notes:
            info.append([safe_cell(v) for v in line])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def template(kind, fmt):
    """The import template of `kind`: the Chinese headers, one example row; the .xlsx has a notes sheet."""
    check_kind(kind)
    columns = COLUMNS[kind]
    notes = [[_("Column"), _("Required"), _("Notes")]] + [
        [c.header, "是" if c.required else "", str(c.help)] for c in columns]
    example = [c.example for c in columns]
    return write_table([c.header for c in columns], [example], fmt, sheet=kind, notes=notes)


def error_report(report, fmt="xlsx"):
    """The per-row problems of an import report, for the uploader to fix their file."""
    headers = [_("Row"), _("Column"), _("Value"), _("Reason")]
    rows = [[p["row"], p["column"], p["value"], p["reason"]] for p in report.get("problems", [])]
    return write_table(headers, rows, fmt, sheet="errors")


# Exports -----------------------------------------------------------------------------------------------------------

EXPORT_KINDS = {
    "persons": (Person, VIEW_PERSON, [
        ("姓名", "name"), ("身份证号", "id_number_masked"), ("性别", "gender"), ("出生日期", "birth_date"),
        ("联系电话", "phone_masked"), ("民族", "ethnicity"), ("户籍地", "hukou_place"),
        ("人口类型", "residence_type"), ("人户状态", "household_status"), ("户号", "household__number"),
        ("与户主关系", "relation_to_head"), ("网格编码", "grid_code"), ("楼栋编码", "_building_code"),
        ("单元", "house__unit"), ("房间号", "house__room"), ("工作单位", "work_unit"), ("是否党员", "party_member"),
        ("状态", "status"), ("状态日期", "status_date")]),
    "households": (Household, VIEW_PERSON, [
        ("户号", "number"), ("网格编码", "grid_code"), ("楼栋编码", "_building_code"), ("单元", "house__unit"),
        ("房间号", "house__room"), ("户主", "head__name"), ("户主身份证号", "head__id_number_masked")]),
    "buildings": (Building, VIEW_PLACE, [
        ("楼栋编码", "_code"), ("网格编码", "grid_code"), ("楼栋号", "number"), ("名称", "name"), ("地址", "address"),
        ("用途", "use"), ("层数", "floors"), ("单元数", "units"), ("经度", "_lon"), ("纬度", "_lat")]),
    "organizations": (Organization, VIEW_PLACE, [
        ("名称", "name"), ("类型", "kind"), ("统一社会信用代码", "uscc"), ("法定代表人", "legal_representative"),
        ("地址", "address"), ("网格编码", "grid_code"), ("从业人员数", "employees"), ("安全负责人", "safety_contact"),
        ("安全负责人电话", "safety_phone_masked"), ("经度", "_lon"), ("纬度", "_lat")]),
}


def export_queryset(kind, user, *, area=None, name=None):
    """The rows of `kind` the user may see, optionally within an area code prefix and by name prefix."""
    if kind not in EXPORT_KINDS:
        raise DomainError(_("Exports are for %(kinds)s.") % {"kinds": ", ".join(EXPORT_KINDS)}, field="kind")
    model, action, _columns = EXPORT_KINDS[kind]
    queryset = model.objects.restrict(user, action)
    if area:
        if not (area.isdigit() and len(area) in (6, 9, 12, 15)):
            raise DomainError(_("An area code has 6, 9, 12 or 15 digits."), field="area")
        queryset = queryset.filter(grid_code__startswith=area)
    if name and hasattr(model, "name"):
        queryset = queryset.filter(name__startswith=name)
    return queryset.order_by("pk")


def _rows(kind, queryset):
    _model, _action, columns = EXPORT_KINDS[kind]
    plain = [field for _h, field in columns if not field.startswith("_")]
    if kind in ("persons", "households"):
        plain += ["house__building__grid_code", "house__building__number"]
    if kind == "buildings":
        plain += ["location"]
    if kind == "organizations":
        plain += ["location"]
    for record in queryset.values(*plain).iterator(chunk_size=2000):
        row = []
        for _header, field in columns:
            if field == "_building_code":
                grid, number = record["house__building__grid_code"], record["house__building__number"]
                row.append(f"{grid}{number}" if grid else "")
            elif field == "_code":
                row.append(f"{record['grid_code']}{record['number']}")
            elif field == "_lon":
                row.append(round(record["location"].x, 7))
            elif field == "_lat":
                row.append(round(record["location"].y, 7))
            else:
                value = record[field]
                row.append(value.isoformat() if hasattr(value, "isoformat") else value)
        yield row


def export(kind, user, fmt, *, area=None, name=None):
    """(bytes, row count) of the export."""
    check_format(fmt)
    queryset = export_queryset(kind, user, area=area, name=name)
    headers = [h for h, _f in EXPORT_KINDS[kind][2]]
    rows = list(_rows(kind, queryset))
    return write_table(headers, rows, fmt, sheet=kind), len(rows)
