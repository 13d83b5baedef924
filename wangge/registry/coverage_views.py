from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from wangge.core.errors import DomainError
from wangge.geo import codes as area_codes

from . import coverage


@require_GET
@login_required
def coverage_page(request):
    """`/registry/coverage/?area=<code>[&line=<line>]`: the coverage report, drill-down by area, and the records
    of one line for users who may see them."""
    area = request.GET.get("area")
    line = request.GET.get("line")
    try:
        result = coverage.report(request.user, area)
        listing = coverage.records(request.user, result["area"]["code"], line, limit=200) if line else None
        error = None
    except DomainError as exc:
        result, listing, error = None, None, exc.message
    parents = area_codes.ancestor_codes(result["area"]["code"]) if result else []
    return render(request, "registry/coverage.html", {
        "report": result, "listing": listing, "line": line, "error": error, "parents": parents,
        "line_label": str(coverage.LINES[line][0]) if line in coverage.LINES else ""},
        status=400 if error else 200)
