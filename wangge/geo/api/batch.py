"""POST /api/v1/geo/lookup/batch: many points → grids in one request (wangge.geo.batch does the work).

The body is JSON (`[{"id", "lon", "lat"}, …]` or `{"crs": …, "points": […]}`), CSV text (`Content-Type: text/csv`,
header id,lon,lat) or a multipart upload in the field `file`. `?crs=` names the input coordinate system and
`?format=csv|json` the output (an `Accept: text/csv` header also asks for CSV). Errors always answer in JSON.
"""

from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import BaseParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from wangge.core.api import ChangeContextMixin
from wangge.core.errors import DomainError

from .. import batch
from ..crs import CRS_CHOICES

# A generous ceiling on the body, derived from the point limit: a point takes well under 256 bytes in either format.
_BYTES_PER_POINT = 256
_CHUNK = 1 << 20


class _CSVParser(BaseParser):
    """Declares text/csv bodies (for the schema); the view reads the raw body itself, with a size limit."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream.read() if stream is not None else b""


class _FormatIsNotARenderer(DefaultContentNegotiation):
    """`format` chooses the output file (csv|json), which the view writes itself; responses are JSON otherwise."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class BatchPointSerializer(serializers.Serializer):
    id = serializers.CharField(help_text=gettext_lazy("Your identifier for the point (text or a whole number)."))
    lon = serializers.FloatField(min_value=-180, max_value=180)
    lat = serializers.FloatField(min_value=-90, max_value=90)


class BatchRequestSerializer(serializers.Serializer):
    crs = serializers.ChoiceField(choices=CRS_CHOICES, required=False)
    points = BatchPointSerializer(many=True)


class BatchUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=gettext_lazy("A CSV file with the header id,lon,lat, or a JSON file."))
    crs = serializers.ChoiceField(choices=CRS_CHOICES, required=False)


class BatchResultRowSerializer(serializers.Serializer):
    id = serializers.CharField()
    lon = serializers.FloatField()
    lat = serializers.FloatField()
    grid_code = serializers.CharField(allow_null=True)
    grid_name = serializers.CharField(allow_null=True)
    community_code = serializers.CharField(allow_null=True)
    subdistrict_code = serializers.CharField(allow_null=True)


class BatchRowErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text=gettext_lazy("1 for the first point (the first record after a header)."))
    id = serializers.CharField(allow_null=True)
    field = serializers.CharField()
    message = serializers.CharField()


class BatchResultSerializer(serializers.Serializer):
    generation = serializers.IntegerField(allow_null=True)
    crs = serializers.CharField()
    count = serializers.IntegerField()
    matched = serializers.IntegerField()
    unmatched_count = serializers.IntegerField()
    error_count = serializers.IntegerField()
    results = BatchResultRowSerializer(many=True)
    unmatched = serializers.ListField(child=serializers.CharField())
    errors = BatchRowErrorSerializer(many=True)


def _read_body(request, limit):
    """The raw request body, refused past `limit` bytes before it is all in memory."""
    django_request = request._request
    length = django_request.META.get("CONTENT_LENGTH")
    if length and length.isdigit() and int(length) > limit:
        raise DomainError(_("The body is larger than %(mb)d MB.") % {"mb": limit >> 20}, field="points",
                          code="too_large")
    chunks, size = [], 0
    while chunk := django_request.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise DomainError(_("The body is larger than %(mb)d MB.") % {"mb": limit >> 20}, field="points",
                              code="too_large")
        chunks.append(chunk)
    return b"".join(chunks)


def _input(request):
    """(points, crs from the form) from whichever body the client sent."""
    limit = max(batch.max_points() * _BYTES_PER_POINT, _CHUNK)
    content_type = (request.content_type or "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        upload = request.FILES.get("file")
        if upload is None:
            raise DomainError(_("Upload the points in the field “file”."), field="file")
        if upload.size > limit:
            raise DomainError(_("The file is larger than %(mb)d MB.") % {"mb": limit >> 20}, field="file",
                              code="too_large")
        data = upload.read()
        return batch.parse(data, kind=batch.detect_format(data, upload.name), source="file"), request.data.get("crs")
    data = _read_body(request, limit)
    if not data.strip():
        raise DomainError(_("Send the points in the body, as JSON or CSV."), field="points")
    if content_type in ("text/csv", "text/plain", "application/csv"):
        kind = "csv"
    elif content_type == "application/json":
        kind = "json"
    else:
        kind = batch.detect_format(data)
    return batch.parse(data, kind=kind, source="points"), None


def _output_format(request):
    chosen = request.query_params.get("format")
    if chosen is None:
        return "csv" if "text/csv" in request.headers.get("Accept", "") else "json"
    if chosen not in batch.FORMATS:
        raise DomainError(_("Use one of: %(choices)s.") % {"choices": ", ".join(batch.FORMATS)}, field="format")
    return chosen


class BatchLookupView(ChangeContextMixin, APIView):
    """Assigns many points to grids at once with the in-process index of the current generation."""

    parser_classes = [JSONParser, _CSVParser, MultiPartParser]
    content_negotiation_class = _FormatIsNotARenderer

    @extend_schema(
        parameters=[
            OpenApiParameter("crs", str, enum=list(CRS_CHOICES),
                             description=gettext_lazy("The coordinate system of the input (default wgs84).")),
            OpenApiParameter("format", str, enum=list(batch.FORMATS),
                             description=gettext_lazy("The output: json (default) or csv.")),
        ],
        request={"application/json": BatchRequestSerializer, "text/csv": OpenApiTypes.STR,
                 "multipart/form-data": BatchUploadSerializer},
        responses={(200, "application/json"): BatchResultSerializer, (200, "text/csv"): OpenApiTypes.STR},
        description=gettext_lazy(
            "Points in grids outside your scope come back unmatched, like points outside the district. Bad rows "
            "are reported in `errors` (in CSV: at the end, with the reason in the last column) and left out."),
    )
    def post(self, request):
        output = _output_format(request)
        points, form_crs = _input(request)
        crs = request.query_params.get("crs") or form_crs
        result = batch.assign_points(points, crs=crs, user=request.user)
        if output == "json":
            return Response(result.as_json())
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="grid-assignment.csv"'
        result.write_csv(response)
        return response
