"""`GET /api/v1/kpi/`, `/api/v1/kpi/red-black/`, `/api/v1/kpi/export.xlsx`: thin callers of kpi.figures, which
reads the rollups through the one scoped path (404 for a user with no aggregate scope and no department)."""

from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import exporters, figures, scoring
from . import serializers as s

PARAMETERS = [
    OpenApiParameter("level", str, required=True, enum=list(figures.LEVELS)),
    OpenApiParameter("period", str, description=str(_("The month, YYYY-MM (default: this month)."))),
    OpenApiParameter("period_to", str, description=str(_("The last month of a range, YYYY-MM (whole months)."))),
    OpenApiParameter("area", str, description=str(_("An area code prefix (6, 9, 12 or 15 digits) inside your "
                                                    "scope: only events there."))),
    OpenApiParameter("scheme", int, description=str(_("A KPI scheme id (default: the default scheme)."))),
]
ERRORS = {400: OpenApiResponse(description="Bad input: the field is named."),
          404: OpenApiResponse(description="No KPI scope, or an area outside it (the same answer).")}


def _arguments(request):
    query = request.query_params
    return {"level": query.get("level"), "period": query.get("period"), "period_to": query.get("period_to"),
            "area": query.get("area"), "scheme": query.get("scheme")}


class KpiView(APIView):
    """KPI figures per grid, community, subdistrict, district, department or grid worker for a month or a range of
    whole months: every count, rate (0–1, null without a denominator), average, the weighted score and the rank."""

    @extend_schema(parameters=PARAMETERS, responses={200: s.KpiFiguresSerializer, **ERRORS})
    def get(self, request):
        return Response(figures.figures(request.user, **_arguments(request)))


class RedBlackView(APIView):
    """The monthly red and black lists (红黑榜): the best and the worst five by score."""

    @extend_schema(parameters=PARAMETERS, responses={200: s.KpiRedBlackSerializer, **ERRORS})
    def get(self, request):
        return Response(figures.red_black(request.user, **_arguments(request)))


class AnyAccept(DefaultContentNegotiation):
    """The workbook answers whatever the client accepts; errors still come back as JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ExportView(APIView):
    """The figures as an Excel workbook: the table (Chinese headers), the red and black lists, the definitions."""

    content_negotiation_class = AnyAccept

    @extend_schema(parameters=PARAMETERS, responses={(200, exporters.CONTENT_TYPE): OpenApiTypes.BINARY, **ERRORS})
    def get(self, request):
        arguments = _arguments(request)
        scheme = figures.resolve_scheme(arguments.pop("scheme"))
        result = figures.figures(request.user, scheme=scheme, **arguments)
        content = exporters.workbook(result, scoring.min_reports(scheme))
        response = HttpResponse(content, content_type=exporters.CONTENT_TYPE)
        name = f"kpi-{result['level']}-{result['period']}"
        if result["period_to"] != result["period"]:
            name += f"-{result['period_to']}"
        response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
        response["X-Content-Type-Options"] = "nosniff"
        return response
