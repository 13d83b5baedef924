"""The KPI table as an Excel workbook (openpyxl): a sheet of every row with Chinese headers (rates as percentages),
the red and black lists, and a sheet naming the scheme and the definitions. Every text cell goes through the
registry's safe_cell (a leading = + - @ is escaped with an apostrophe) and is written as a string, never a formula.
"""

import io

from .figures import AREA_LEVELS
from .indicators import AVERAGES, COUNTERS, RATES
from .scoring import red_black

CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LEVEL_ZH = {"district": "区县", "subdistrict": "街道", "community": "社区", "grid": "网格", "department": "部门",
            "worker": "网格员"}
COUNTS = [c for c in COUNTERS if not c.sum]


def _headers(level):
    first = "编码" if level in AREA_LEVELS else ("部门编码" if level == "department" else "用户编号")
    return (["排名", first, LEVEL_ZH[level], "得分"] + [r.zh for r in RATES] + [a.zh for a in AVERAGES]
            + [c.zh for c in COUNTS] + ["作废数"])


def _values(row):
    return ([row["rank"], row["code"], row["name"], row["score"]] + [row[r.name] for r in RATES]
            + [row[a.name] for a in AVERAGES] + [row[c.name] for c in COUNTS] + [row["voided"]])


def _append(sheet, values, *, bold=False, percent_columns=()):
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    from wangge.registry.exporters import safe_cell

    cells = []
    for index, value in enumerate(values):
        cell = WriteOnlyCell(sheet, value=safe_cell(value) if value is not None else None)
        if isinstance(cell.value, str):
            cell.data_type = "s"  # never a formula, whatever the text
        if bold:
            cell.font = Font(bold=True)
        elif index in percent_columns and isinstance(value, float):
            cell.number_format = "0.0%"
        cells.append(cell)
    sheet.append(cells)


def workbook(result, min_reports):
    """Bytes of the .xlsx for figures.figures()' result."""
    from openpyxl import Workbook

    level = result["level"]
    book = Workbook(write_only=True)
    headers = _headers(level)
    percent = set(range(4, 4 + len(RATES)))
    period = result["period"] if result["period"] == result["period_to"] else (
        f"{result['period']}至{result['period_to']}")
    table = book.create_sheet("考核结果")
    _append(table, headers, bold=True)
    for row in result["rows"]:
        _append(table, _values(row), percent_columns=percent)
    red, black = red_black(result["rows"], min_reports)
    lists = book.create_sheet("红黑榜")
    for title, rows in (("红榜（前5名）", red), ("黑榜（后5名）", black)):
        _append(lists, [title], bold=True)
        _append(lists, headers, bold=True)
        for row in rows:
            _append(lists, _values(row), percent_columns=percent)
        _append(lists, [])
    notes = book.create_sheet("说明")
    scheme = result.get("scheme")
    for line in [["层级", LEVEL_ZH[level]], ["期间", period], ["区域", result.get("area") or "全部（本人范围内）"],
                 ["考核方案", scheme["name"] if scheme else "无"],
                 ["红黑榜条件", f"有效上报数不少于{min_reports}件"],
                 ["口径", "事件按上报时间（北京时间）所在月份统计；比率分母为零时留空；详见 docs/kpis.md。"]]:
        _append(notes, line)
    _append(notes, [])
    _append(notes, ["指标", "分子", "分母"], bold=True)
    zh = {c.name: c.zh for c in COUNTERS}
    for rate in RATES:
        _append(notes, [rate.zh, zh[rate.numerator], zh[rate.denominator]])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
