"""Registry import and export over the API: templates, uploads (dry run by default) and exports of filtered lists.
Thin callers of import_service and exporters, the same core as the commands and the UI page."""

from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from wangge.core.api import ChangeContextMixin
from wangge.core.errors import DomainError

from ..exporters import CONTENT_TYPES, EXPORT_KINDS, error_report, export, template
from ..import_service import ImportRejected, do_import_registry
from ..importers import KINDS


class AnyFormat(DefaultContentNegotiation):
    """Files answer whatever the client accepts; errors still come back as JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _file(content, fmt, filename):
    response = HttpResponse(content, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


class TemplateView(APIView):
    permission_classes = [IsAuthenticated]
    content_negotiation_class = AnyFormat

    @extend_schema(summary="Import template", responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
                   description=str(_("The import template of a kind (courtyards, buildings, houses, households, "
                                     "persons, organizations) with its Chinese headers and an example row.")))
    def get(self, request, kind, fmt):
        return _file(template(kind, fmt), fmt, f"{kind}-template.{fmt}")


class RegistryImportRequestSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=_(".xlsx, or CSV in UTF-8 or GBK, with the template's headers."))
    commit = serializers.BooleanField(default=False, help_text=_("Write when every row is clean; without it, a dry "
                                                                 "run that writes nothing."))
    commit_clean_rows = serializers.BooleanField(default=False, help_text=_("Write the clean rows and report the "
                                                                            "others."))
    report = serializers.ChoiceField(choices=["json", "xlsx", "csv"], default="json",
                                     help_text=_("json: the report; xlsx/csv: the per-row error report as a file."))


class RegistryImportProblemSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text=_("The row in the file (the header is row 1)."))
    column = serializers.CharField()
    value = serializers.CharField(help_text=_("The cell, personal numbers masked."))
    reason = serializers.CharField()


class RegistryImportReportSerializer(serializers.Serializer):
    kind = serializers.CharField()
    format = serializers.CharField()
    encoding = serializers.CharField()
    rows = serializers.IntegerField()
    clean_rows = serializers.IntegerField()
    rows_with_problems = serializers.IntegerField()
    create = serializers.IntegerField()
    update = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    committed = serializers.BooleanField()
    problem_count = serializers.IntegerField()
    problems = RegistryImportProblemSerializer(many=True, help_text=_("The first 1,000 problems."))


class ImportView(ChangeContextMixin, APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(summary="Import a registry file", request={"multipart/form-data": RegistryImportRequestSerializer},
                   responses={200: RegistryImportReportSerializer, 400: OpenApiResponse(description=str(_(
                       "The file cannot be read, or a commit was refused: the report is in error.details."))),
                              403: OpenApiResponse(description=str(_("No permission to import this kind.")))})
    def post(self, request, kind):
        if kind not in KINDS:
            raise DomainError(_("Unknown kind."), field="kind")
        params = RegistryImportRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        options = params.validated_data
        upload = options["file"]
        try:
            report = do_import_registry(kind, upload, actor=request.user, commit=options["commit"],
                                        commit_clean_rows=options["commit_clean_rows"], name=upload.name)
        except ImportRejected as exc:
            if options["report"] != "json":
                return _file(error_report(exc.report, options["report"]), options["report"], f"{kind}-errors."
                             f"{options['report']}")
            raise
        if options["report"] != "json":
            return _file(error_report(report, options["report"]), options["report"], f"{kind}-errors."
                         f"{options['report']}")
        return Response(report)


class ExportView(APIView):
    permission_classes = [IsAuthenticated]
    content_negotiation_class = AnyFormat

    @extend_schema(summary="Export a filtered list", responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
                   parameters=[OpenApiParameter("area", str, description=str(_("An area code (6–15 digits): rows "
                                                                                "under it."))),
                               OpenApiParameter("name", str, description=str(_("Names starting with this.")))],
                   description=str(_("Persons, households, buildings or organizations the user may see, personal "
                                     "numbers masked; cells starting with = + - @ are escaped.")))
    def get(self, request, kind, fmt):
        if kind not in EXPORT_KINDS:
            raise DomainError(_("Exports are for persons, households, buildings and organizations."), field="kind")
        content, _count = export(kind, request.user, fmt, area=request.query_params.get("area") or None,
                                 name=request.query_params.get("name") or None)
        return _file(content, fmt, f"{kind}.{fmt}")
