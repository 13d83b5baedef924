"""`GET /api/v1/registry/coverage/?area=<code>`: the coverage report of an area (wangge/registry/coverage.py), and
`GET /api/v1/registry/coverage/records/?area=<code>&line=<line>`: the records behind one of its lines."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from wangge.core.errors import DomainError

from .. import coverage


class LineSerializer(serializers.Serializer):
    line = serializers.ChoiceField(choices=list(coverage.LINES))
    label = serializers.CharField()
    count = serializers.IntegerField()
    records = serializers.BooleanField(help_text="Whether the caller may list the records of this line.")


class AreaRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    level = serializers.CharField()


class ChildSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    lines = LineSerializer(many=True)


class GridFindingSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    household_target = serializers.IntegerField(allow_null=True)
    households = serializers.IntegerField(allow_null=True)
    lines = serializers.DictField(child=serializers.IntegerField(), help_text="line → count in this grid")


class CoverageSerializer(serializers.Serializer):
    area = AreaRefSerializer()
    totals = LineSerializer(many=True)
    children = ChildSerializer(many=True)
    grids = GridFindingSerializer(many=True)


class RecordSerializer(serializers.Serializer):
    id = serializers.CharField()
    label = serializers.CharField()
    grid_code = serializers.CharField()


class RecordPageSerializer(serializers.Serializer):
    line = serializers.CharField()
    count = serializers.IntegerField()
    results = RecordSerializer(many=True)


AREA = OpenApiParameter("area", str, description="Area code (6, 9, 12 or 15 digits); default: the caller's area.")


def _int(request, name, default):
    raw = request.query_params.get(name, default)
    try:
        return int(raw)
    except (TypeError, ValueError) as exc:
        raise DomainError(_("Must be a whole number."), field=name) from exc


class CoverageView(APIView):
    """What the registry misses in an area: counts per line, per child area and per grid (不漏一楼、不漏一院).
    Users who may see the records get `records: true` lines; leaders (aggregates only) get the counts."""

    @extend_schema(parameters=[AREA], responses={200: CoverageSerializer})
    def get(self, request):
        return Response(coverage.report(request.user, request.query_params.get("area")))


class CoverageRecordsView(APIView):
    """The records behind one coverage line (masked); 404 for callers who may only see counts."""

    @extend_schema(parameters=[AREA, OpenApiParameter("line", str, required=True, enum=list(coverage.LINES)),
                               OpenApiParameter("limit", int), OpenApiParameter("offset", int)],
                   responses={200: RecordPageSerializer})
    def get(self, request):
        result = coverage.records(request.user, request.query_params.get("area"), request.query_params.get("line"),
                                  limit=_int(request, "limit", 100), offset=_int(request, "offset", 0))
        for row in result["results"]:
            row["id"] = str(row["id"])
        return Response(result)
