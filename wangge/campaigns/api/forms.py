"""XLSForm upload and XForm download (issue 5 §2) under /api/v1/campaigns/:

    POST forms/upload/                      an XLSForm (.xlsx) → a new form version (campaigns/xlsform.py)
    GET  form-versions/{id}/xform/          the version's XForm XML (as uploaded, or generated from the definition)
    GET  form-versions/{id}/xlsform/        the workbook it was uploaded as (404 for a form written as data)

Uploading takes MANAGE_CAMPAIGN (somewhere); reading takes VIEW_CAMPAIGN or MANAGE_CAMPAIGN, like the forms list.
Forms belong to nobody's area: they are shared by every campaign that uses them.
"""

from django.http import Http404, HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from wangge.accounts.roles import MANAGE_CAMPAIGN, VIEW_CAMPAIGN
from wangge.core.api import ChangeContextMixin
from wangge.core.errors import DomainError
from wangge.core.scope import scope_codes

from .. import xlsform
from ..models import FormVersion
from .serializers import FormVersionSerializer

NOT_FOUND = {404: OpenApiResponse(description="No such form version, or you may not read forms.")}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class XLSFormUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=_("The XLSForm (.xlsx): survey, choices and settings sheets."))
    code = serializers.CharField(required=False, allow_blank=True, max_length=50, help_text=_(
        "The form's code (letters, digits, - and _); default: form_id on the settings sheet. An existing code gets "
        "a new version."))
    title = serializers.CharField(required=False, allow_blank=True, max_length=200, help_text=_(
        "Default: form_title on the settings sheet."))
    title_en = serializers.CharField(required=False, allow_blank=True, max_length=200)


class UploadedFormVersionSerializer(FormVersionSerializer):
    warnings = serializers.ListField(child=serializers.CharField(), read_only=True, help_text=_(
        "pyxform's warnings about the workbook (nothing was refused for them)."))

    class Meta(FormVersionSerializer.Meta):
        fields = [*FormVersionSerializer.Meta.fields, "warnings"]
        read_only_fields = fields


class XLSFormUploadView(ChangeContextMixin, APIView):
    """Upload an XLSForm: a new version of the form it names. A workbook that cannot become a form answers 400
    with the sheet, the row and the reason (error.details: {sheet, row, reason})."""

    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": XLSFormUploadSerializer},
                   responses={201: UploadedFormVersionSerializer,
                              400: OpenApiResponse(description="A malformed XLSForm: sheet, row and reason."),
                              403: OpenApiResponse(description="Your role may not manage campaigns.")})
    def post(self, request):
        if not scope_codes(request.user, MANAGE_CAMPAIGN):
            raise DomainError(_("Your role may not manage screening campaigns."), code="forbidden")
        body = XLSFormUploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        upload = body.validated_data["file"]
        if upload.size > xlsform.MAX_BYTES:
            raise DomainError(_("The file is larger than %(mb)s MB.") % {"mb": xlsform.MAX_BYTES // (1024 * 1024)},
                              field="file")
        version = xlsform.do_upload_xlsform(
            actor=request.user, data=upload.read(), code=body.validated_data.get("code", ""),
            title=body.validated_data.get("title", ""), title_en=body.validated_data.get("title_en", ""))
        return Response(UploadedFormVersionSerializer(version).data, status=status.HTTP_201_CREATED)


def _readable_version(request, pk):
    user = request.user
    if not (scope_codes(user, VIEW_CAMPAIGN) or scope_codes(user, MANAGE_CAMPAIGN)):
        raise Http404
    version = FormVersion.objects.select_related("form").filter(pk=pk).first()
    if version is None:
        raise Http404
    return version


class XFormView(APIView):
    """The version's XForm (ODK XForms XML): itext in Chinese and English, binds for required, relevant and the
    constraints, the repeat group, meta/instanceID. Campaigns are served to ODK Collect with the household picker
    added (/openrosa/, docs/openrosa.md)."""

    @extend_schema(responses={(200, "application/xml"): OpenApiTypes.STR, **NOT_FOUND})
    def get(self, request, pk):
        version = _readable_version(request, pk)
        response = HttpResponse(xlsform.version_xform(version).encode("utf-8"),
                                content_type="application/xml; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{version.form.code}-v{version.number}.xml"'
        return response


class XLSFormDownloadView(APIView):
    """The workbook a version was uploaded as (404 when it was written as data)."""

    @extend_schema(responses={(200, XLSX): OpenApiTypes.BINARY, **NOT_FOUND})
    def get(self, request, pk):
        version = _readable_version(request, pk)
        if not version.xlsform:
            raise Http404
        response = HttpResponse(bytes(version.xlsform), content_type=XLSX)
        response["Content-Disposition"] = f'attachment; filename="{version.form.code}-v{version.number}.xlsx"'
        return response
