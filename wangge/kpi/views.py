"""The KPI page (`/kpi/`): a level and period picker, the ranked table, the red and black lists and the export link
— the same figures as the API (kpi.figures, from the rollups, through the one scoped path)."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from wangge.core.errors import DomainError
from wangge.geo import codes as area_codes

from . import figures, scoring
from .indicators import AVERAGES, RATES
from .models import KpiScheme

PAGE_ROWS = 200  # the page shows the best 200; the export and the API have every row
LEVEL_LABELS = {**area_codes.LEVEL_LABELS, figures.DEPARTMENT: _("department"), figures.WORKER: _("grid worker")}


def _percent(value):
    return "—" if value is None else f"{value * 100:.1f}%"


def _number(value):
    return "—" if value is None else f"{value:g}"


def _cells(row):
    return {"rank": row["rank"] or "—", "code": row["code"], "name": row["name"] or row["code"],
            "score": _number(row["score"]), "rates": [_percent(row[rate.name]) for rate in RATES],
            "averages": [_number(row[average.name]) for average in AVERAGES], "reported": row["reported"],
            "valid": row["valid"]}


@require_GET
@login_required
def kpi_page(request):
    viewer = figures.Viewer(request.user)  # 404 for a user with no KPI scope at all
    query = request.GET
    level = query.get("level") or viewer.default_level()
    arguments = {"level": level, "period": query.get("period") or f"{figures.current_month():%Y-%m}",
                 "period_to": query.get("period_to") or "", "area": query.get("area") or "",
                 "scheme": query.get("scheme") or ""}
    context = {"levels": [(key, LEVEL_LABELS[key]) for key in figures.LEVELS], "arguments": arguments,
               "schemes": list(KpiScheme.objects.values("id", "name")), "rates": RATES, "averages": AVERAGES,
               "error": None, "result": None}
    try:
        scheme = figures.resolve_scheme(arguments["scheme"])
        result = figures.figures(request.user, scheme=scheme, viewer=viewer,
                                 **{k: v for k, v in arguments.items() if k != "scheme"})
    except DomainError as exc:
        context["error"] = exc.message
        return render(request, "kpi/kpi.html", context, status=400)
    min_reports = scoring.min_reports(scheme)
    red, black = scoring.red_black(result["rows"], min_reports)
    export_query = urlencode({k: v for k, v in arguments.items() if v})
    context.update({
        "result": result, "scheme": scheme, "min_reports": min_reports, "level_label": LEVEL_LABELS[level],
        "rows": [_cells(row) for row in result["rows"][:PAGE_ROWS]], "total_rows": len(result["rows"]),
        "page_rows": PAGE_ROWS, "red": [_cells(row) for row in red], "black": [_cells(row) for row in black],
        "export_url": f"{reverse('kpi-export')}?{export_query}"})
    return render(request, "kpi/kpi.html", context)
