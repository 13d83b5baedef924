"""The statistics table (campaigns/reports.py statistics()) as an Excel workbook, laid out as the subdistricts'
paper tables are: a title, the cut-off date, then per area one row of counts, each "that day" (当日) and
"cumulative" (累计), and a total row.

Headers are Chinese (the table is a Chinese government form, whatever the UI language). Every text cell goes through
registry.exporters.safe_cell and is typed as a string, so a campaign or area name starting with = + - @ stays text
and never runs as a formula. The table holds counts only.
"""

import io

from wangge.registry.exporters import safe_cell

from .reports import STAT_COLUMNS

CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LEVEL_HEADERS = {"subdistrict": "街道", "community": "社区"}


def statistics_filename(table):
    return f"campaign-{table['campaign']}-statistics-{table['cutoff'].isoformat()}.xlsx"


def statistics_xlsx(table):
    """Bytes of the .xlsx of a statistics table."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "统计表"
    width = 2 + 2 * len(STAT_COLUMNS)
    bold, centred = Font(bold=True), Alignment(horizontal="center", vertical="center", wrap_text=True)

    def put(row, column, value, *, font=None):
        cell = sheet.cell(row=row, column=column, value=safe_cell(value))
        if isinstance(cell.value, str):
            cell.data_type = "s"  # never a formula, whatever the text
        if font:
            cell.font = font
        cell.alignment = centred
        return cell

    put(1, 1, f"{table['name']} 摸排情况统计表", font=Font(bold=True, size=14))
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    round_text = f"（第{table['round']}轮）" if table["round"] else ""
    put(2, 1, f"截至 {table['cutoff'].isoformat()}{round_text}")
    sheet.merge_cells(start_row=2, start_column=1, end_row=2, end_column=width)
    put(3, 1, "区划代码", font=bold)
    put(3, 2, LEVEL_HEADERS.get(table["level"], "区域"), font=bold)
    for column in (1, 2):
        sheet.merge_cells(start_row=3, start_column=column, end_row=4, end_column=column)
    for index, (_key, (_label, header)) in enumerate(STAT_COLUMNS.items()):
        column = 3 + 2 * index
        put(3, column, header, font=bold)
        sheet.merge_cells(start_row=3, start_column=column, end_row=3, end_column=column + 1)
        put(4, column, "当日", font=bold)
        put(4, column + 1, "累计", font=bold)
    row_number = 5
    for row in [*table["rows"], {"code": "", "name": "合计", "counts": table["totals"]}]:
        put(row_number, 1, row["code"])
        put(row_number, 2, row["name"], font=bold if not row["code"] else None)
        for index, key in enumerate(STAT_COLUMNS):
            put(row_number, 3 + 2 * index, row["counts"][key]["day"])
            put(row_number, 4 + 2 * index, row["counts"][key]["cumulative"])
        row_number += 1
    sheet.column_dimensions["A"].width = 12
    sheet.column_dimensions["B"].width = 18
    for column in range(3, width + 1):
        sheet.column_dimensions[get_column_letter(column)].width = 9
    sheet.freeze_panes = "C5"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
