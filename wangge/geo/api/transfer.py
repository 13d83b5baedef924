"""Upload areas into a draft generation and download a generation's areas: thin callers of import_service and
exporters, the same core as `manage.py import_areas` and `manage.py export_areas`."""

import os
import tempfile

from django.http import FileResponse, Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from wangge.accounts.roles import VIEW_AREA
from wangge.core.api import ChangeContextMixin
from wangge.core.scope import scope_codes

from ..crs import CRS_CHOICES
from ..exporters import FORMATS, export_areas, export_filename
from ..import_service import do_import_areas
from ..importers import ALL_LEVELS, LEVEL_CHOICES, FieldMapping
from ..models import Generation

MAPPING_FIELDS = {f"{key}_field": key for key in FieldMapping.__dataclass_fields__}


# A pattern, not an enum: spectacular names enums after their field, and this one would clash with Area.level's.
@extend_schema_field({"type": "string", "pattern": f"^({'|'.join(LEVEL_CHOICES)})$", "default": ALL_LEVELS})
class LevelOrAllField(serializers.ChoiceField):
    """A level, or 'all' (each feature's level then follows from its code)."""

    def __init__(self, **kwargs):
        super().__init__(choices=LEVEL_CHOICES, default=ALL_LEVELS, **kwargs)


class ImportRequestSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=_("GeoJSON, GeoPackage, or a .zip holding a Shapefile (.shp, .shx, .dbf, "
                                             "optionally .prj and .cpg)."))
    level = LevelOrAllField(help_text=_("The level of every feature; 'all' takes each one's from its code."))
    code_field = serializers.CharField(default="code", help_text=_("The attribute holding the area code."))
    name_field = serializers.CharField(default="name", help_text=_("The attribute holding the name."))
    parent_field = serializers.CharField(required=False, allow_blank=True,
                                         help_text=_("The attribute holding the parent's code (checked)."))
    kind_field = serializers.CharField(required=False, allow_blank=True)
    dedicated_to_field = serializers.CharField(required=False, allow_blank=True)
    household_target_field = serializers.CharField(required=False, allow_blank=True)
    population_target_field = serializers.CharField(required=False, allow_blank=True)
    layer = serializers.CharField(required=False, allow_blank=True,
                                  help_text=_("The layer of a GeoPackage, or the Shapefile in a zip holding several."))
    crs = serializers.ChoiceField(choices=CRS_CHOICES, default="wgs84",
                                  help_text=_("The coordinates' system; GCJ-02 and BD-09 are converted to WGS84."))
    commit = serializers.BooleanField(default=False, help_text=_("Write; without it, a dry run that writes nothing."))
    repair = serializers.BooleanField(default=False, help_text=_("Make invalid geometries valid and report each."))


class ImportProblemSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text=_("The feature's position in the layer, counting from 0."))
    code = serializers.CharField(allow_null=True)
    field = serializers.CharField()
    reason = serializers.CharField()


class ImportRepairSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    code = serializers.CharField(allow_null=True)
    reason = serializers.CharField()


class ImportReportSerializer(serializers.Serializer):
    generation = serializers.IntegerField()
    driver = serializers.CharField()
    layer = serializers.CharField()
    srs = serializers.CharField(allow_null=True)
    level = serializers.CharField()
    crs = serializers.CharField()
    features = serializers.IntegerField()
    create = serializers.IntegerField(help_text=_("Areas created (or, in a dry run, that would be)."))
    update = serializers.IntegerField(help_text=_("Areas updated (or, in a dry run, that would be)."))
    committed = serializers.BooleanField()
    problem_count = serializers.IntegerField()
    problems = ImportProblemSerializer(many=True)
    repairs = ImportRepairSerializer(many=True)


class ExportQuerySerializer(serializers.Serializer):
    level = LevelOrAllField()
    format = serializers.ChoiceField(choices=list(FORMATS), default="geojson")


def _generation_or_404(user, pk, action_name):
    """Generations are not scoped, but only users who may see or change some area reach them at all."""
    generation = Generation.objects.filter(pk=pk).first()
    if generation is None or not scope_codes(user, action_name):
        raise Http404
    return generation


class GenerationImportView(ChangeContextMixin, APIView):
    """Import areas from a file into a draft generation: a dry run unless `commit` is true."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": ImportRequestSerializer},
        responses={200: ImportReportSerializer,
                   400: OpenApiResponse(description=_("Bad input; per-feature problems are in error.details."))},
        description=_("Creates areas with new codes and updates those whose code exists in the draft. Nothing is "
                      "written when any feature has a problem."))
    def post(self, request, pk):
        generation = _generation_or_404(request.user, pk, VIEW_AREA)
        data = ImportRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        options = data.validated_data
        mapping = FieldMapping(**{key: options[name] for name, key in MAPPING_FIELDS.items() if options.get(name)})
        report = do_import_areas(generation, options["file"], actor=request.user, mapping=mapping,
                                 level=options["level"], crs=options["crs"], commit=options["commit"],
                                 repair=options["repair"], layer=options.get("layer") or None)
        return Response(report)


class _NoFormatOverride:
    URL_FORMAT_OVERRIDE = None


class FileFormatNegotiation(DefaultContentNegotiation):
    """Here `?format=` names the export's file format, not one of DRF's renderers (which would answer 404)."""

    settings = _NoFormatOverride()


class GenerationExportView(ChangeContextMixin, APIView):
    """Download a generation's areas (those in your scope) as GeoJSON or GeoPackage."""

    content_negotiation_class = FileFormatNegotiation

    @extend_schema(
        parameters=[ExportQuerySerializer],
        responses={(200, "application/geo+json"): OpenApiTypes.BINARY,
                   (200, "application/geopackage+sqlite3"): OpenApiTypes.BINARY})
    def get(self, request, pk):
        generation = _generation_or_404(request.user, pk, VIEW_AREA)
        query = ExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        level, fmt = query.validated_data["level"], query.validated_data["format"]
        descriptor, path = tempfile.mkstemp(prefix="wangge-export-", suffix=FORMATS[fmt][0])
        os.close(descriptor)
        try:
            export_areas(generation, path, user=request.user, level=level, fmt=fmt)
            stream = open(path, "rb")  # FileResponse closes it
        finally:
            os.unlink(path)  # the open stream keeps the data readable until the response is sent
        return FileResponse(stream, as_attachment=True, content_type=FORMATS[fmt][1],
                            filename=export_filename(generation, level=level, fmt=fmt))
