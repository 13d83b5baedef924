"""Lists pushed from other systems to verify (核查), and their rows. Thin callers of campaigns/lists.py.

- lists/: the lists whose area lies in your VIEW_CAMPAIGN scope (a system account: the lists it pushed). POST imports
  one, as JSON rows (a system with its API key, or staff) or as a CSV/.xlsx file (multipart); dry run by default.
- lists/{id}/: the list with its counts (matched, claimed, answered, overdue, waiting at the area).
- lists/{id}/results.csv|xlsx|json: the results in the incoming shape (same row ids and columns), numbers masked;
  `reason=` reveals them for a role that reads answers (every row's reading audited).
- list-rows/: the rows in your grids (restrict by grid code), masked; claim, decline, place, verify, reveal.
"""

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from django.urls import re_path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from wangge.accounts.roles import CLAIM_ROW, MANAGE_CAMPAIGN, VIEW_ANSWERS, VISIT_HOUSEHOLD
from wangge.core.api import ChangeContextMixin
from wangge.core.errors import DomainError
from wangge.core.scope import scope_codes

from .. import lists
from ..models import (
    ClaimState,
    MatchMethod,
    PushedList,
    PushedRow,
    RowResult,
    VisitSource,
)
from .campaigns import FORBIDDEN, ID, NOT_FOUND, WRITE

CONTENT_TYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                 "csv": "text/csv; charset=utf-8"}


# ---- serializers ---------------------------------------------------------------------------------------------------

class ListColumnSerializer(serializers.Serializer):
    key = serializers.CharField(help_text=_("row_id, name, id_number, phone or address."))
    header = serializers.CharField(help_text=_("The incoming header (or JSON key): the results use it too."))


class PushedListSerializer(serializers.ModelSerializer):
    imported_by = serializers.CharField(source="imported_by.username", read_only=True)
    columns = serializers.SerializerMethodField()
    overdue = serializers.SerializerMethodField(help_text=_("The deadline has passed."))

    class Meta:
        model = PushedList
        fields = ["id", "name", "source", "reference", "area_code", "campaign", "deadline", "overdue", "imported_by",
                  "imported_at", "rows_total", "rows_matched", "columns", "purged_at"]
        read_only_fields = fields

    @extend_schema_field(ListColumnSerializer(many=True))
    def get_columns(self, pushed_list):
        return [{"key": key, "header": header} for key, header in pushed_list.columns]

    def get_overdue(self, pushed_list) -> bool:
        return pushed_list.deadline < timezone.now()


class ListSummarySerializer(serializers.Serializer):
    total = serializers.IntegerField()
    by_id_number = serializers.IntegerField()
    by_address = serializers.IntegerField()
    unmatched = serializers.IntegerField()
    unclaimed = serializers.IntegerField()
    claimed = serializers.IntegerField()
    declined = serializers.IntegerField()
    verified = serializers.IntegerField()
    not_found = serializers.IntegerField()
    moved = serializers.IntegerField()
    outstanding = serializers.IntegerField(help_text=_("Rows in grids still owing an answer."))
    overdue = serializers.IntegerField(help_text=_("Outstanding rows, once the deadline has passed."))
    waiting = serializers.IntegerField(help_text=_("Rows waiting at the list's area for its staff to place."))


class PushedListDetailSerializer(PushedListSerializer):
    summary = serializers.SerializerMethodField()

    class Meta(PushedListSerializer.Meta):
        fields = [*PushedListSerializer.Meta.fields, "summary"]
        read_only_fields = fields

    @extend_schema_field(ListSummarySerializer)
    def get_summary(self, pushed_list):
        return lists.summary(pushed_list)


class _ListImportFields(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    source = serializers.CharField(max_length=100, help_text=_("The pushing system, e.g. 公安 or 大数据局."))
    reference = serializers.CharField(max_length=100, required=False, allow_blank=True, default="",
                                      help_text=_("The pushing system's own reference of the list."))
    area_code = serializers.CharField(max_length=15, help_text=_(
        "The area the list is verified in (6–15 digits), inside your scope."))
    deadline = serializers.CharField(help_text=_("When the results are due (ISO 8601)."))
    campaign = serializers.IntegerField(required=False, allow_null=True, default=None, help_text=_(
        "A campaign organised by the list's area or above: door visits are recorded in it."))
    commit = serializers.BooleanField(default=False, help_text=_(
        "Write when every row is clean; without it (and without commit_clean_rows), a dry run that writes nothing."))
    commit_clean_rows = serializers.BooleanField(default=False, help_text=_(
        "Write the clean rows and report the others."))


class ListImportJsonSerializer(_ListImportFields):
    rows = serializers.ListField(child=serializers.JSONField(), help_text=_(
        "Objects with the keys row_id, name, id_number, phone, address (or the Chinese headers); the results "
        "come back under the same keys."))


class ListImportFileSerializer(_ListImportFields):
    file = serializers.FileField(help_text=_(".xlsx, or CSV in UTF-8 or GBK, with the columns 编号, 姓名, 身份证号, "
                                             "联系电话, 地址."))


class ListProblemSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text=_("The row in the file (the header is row 1), or the position of the "
                                               "JSON row (from 1)."))
    column = serializers.CharField(help_text=_("The incoming header."))
    value = serializers.CharField(help_text=_("The cell, personal numbers masked."))
    reason = serializers.CharField()


class ListImportReportSerializer(serializers.Serializer):
    format = serializers.CharField()
    encoding = serializers.CharField()
    rows = serializers.IntegerField()
    clean_rows = serializers.IntegerField()
    rows_with_problems = serializers.IntegerField()
    problem_count = serializers.IntegerField()
    problems = ListProblemSerializer(many=True, help_text=_("The first 1,000 problems."))
    committed = serializers.BooleanField()
    list = serializers.IntegerField(allow_null=True, help_text=_("The list written, when committed."))
    matched_by_id_number = serializers.IntegerField()
    matched_by_address = serializers.IntegerField()
    unmatched = serializers.IntegerField(help_text=_("Rows left at the list's area for its staff."))


class PushedRowSerializer(serializers.ModelSerializer):
    list = serializers.IntegerField(source="pushed_list_id", read_only=True)
    list_name = serializers.CharField(source="pushed_list.name", read_only=True)
    deadline = serializers.DateTimeField(source="pushed_list.deadline", read_only=True)
    id_number = serializers.CharField(source="id_number_masked", read_only=True, help_text=_("Masked."))
    phone = serializers.CharField(source="phone_masked", read_only=True, help_text=_("Masked."))
    claimed_by = serializers.CharField(source="claimed_by.username", read_only=True, allow_null=True)
    decline_reason = serializers.CharField(read_only=True, help_text=_(
        "Why the row cannot be claimed (duplicate, id_exists, cancelled, deceased, not_found), or not_here when a "
        "grid sent it back; empty otherwise."))
    at_area = serializers.SerializerMethodField(help_text=_(
        "The row waits at the list's area (unmatched, or sent back) for its staff to place it in a grid."))

    class Meta:
        model = PushedRow
        fields = ["id", "list", "list_name", "deadline", "row_id", "name", "id_number", "phone", "address",
                  "grid_code", "at_area", "match", "person", "household", "claim", "decline_reason", "claimed_by",
                  "claimed_at", "result", "result_note", "answered_at"]
        read_only_fields = fields

    def get_at_area(self, row) -> bool:
        return len(row.grid_code) != lists.GRID_LENGTH


class DeclineSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=20, help_text=_(
        "duplicate (数据重复), id_exists (身份证号已存在), cancelled (已注销), deceased (已死亡), "
        "not_found (查无此人), or not_here: not in this grid (the row goes back to the list's area)."))
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class PlaceSerializer(serializers.Serializer):
    grid_code = serializers.CharField(max_length=15, help_text=_("A current grid inside the list's area."))


class VerifySerializer(serializers.Serializer):
    result = serializers.ChoiceField(choices=[(value, label) for value, label in RowResult.choices
                                              if value != RowResult.PENDING])
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    household = serializers.IntegerField(required=False, allow_null=True, default=None, help_text=_(
        "The household called on; default: the row's matched household."))
    answers = serializers.JSONField(required=False, allow_null=True, default=None, help_text=_(
        "verified: the campaign form's answers for the household, {\"members\": [{…}, …], …}."))
    location = serializers.JSONField(required=False, allow_null=True, default=None,
                                     help_text=_("GeoJSON Point, WGS84: where the worker stood."))
    visited_at = serializers.CharField(required=False, allow_blank=True, default="",
                                       help_text=_("ISO 8601; default now."))
    instance_id = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class VerifyResultSerializer(serializers.Serializer):
    row = PushedRowSerializer()
    visit = serializers.IntegerField(allow_null=True, help_text=_(
        "The campaign visit recorded with the result (none when the list has no campaign or no household)."))


class RowRevealSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, help_text=_("Why you read the numbers (kept in the audit)."))


class RowRevealResultSerializer(serializers.Serializer):
    row = serializers.IntegerField()
    id_number = serializers.CharField()
    phone = serializers.CharField()


class ListResultsSerializer(serializers.Serializer):
    list = serializers.IntegerField()
    columns = serializers.ListField(child=serializers.CharField(), help_text=_(
        "The incoming keys, then claim, reason, result, note, answered_at."))
    rows = serializers.ListField(child=serializers.DictField(), help_text=_(
        "One object per row, under the columns' keys; numbers masked unless revealed."))


# ---- views ---------------------------------------------------------------------------------------------------------

class FileOrJson(DefaultContentNegotiation):
    """Files answer whatever the client accepts; JSON and errors come back as JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ListPagination(CursorPagination):
    page_size = 50
    ordering = ("-imported_at", "-id")


class RowPagination(CursorPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    ordering = ("id",)


def _file(content, fmt, filename):
    response = HttpResponse(content, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


def _int_param(params, name):
    value = params.get(name, "").strip()
    if value and not value.isdigit():
        raise DomainError(_("Give a whole number."), field=name)
    return int(value) if value else None


def _choice_param(params, name, allowed):
    value = params.get(name, "").strip()
    if value and value not in allowed:
        raise DomainError(_("Unknown value; one of: %(all)s.") % {"all": ", ".join(allowed)}, field=name)
    return value


class PushedListViewSet(ChangeContextMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                        viewsets.GenericViewSet):
    """Lists pushed from other systems to verify, by their area."""

    pagination_class = ListPagination
    lookup_value_regex = ID
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_serializer_class(self):
        return PushedListDetailSerializer if self.action == "retrieve" else PushedListSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return PushedList.objects.none()
        return lists.visible_lists(self.request.user).select_related("imported_by").distinct()

    @extend_schema(request={"application/json": ListImportJsonSerializer,
                            "multipart/form-data": ListImportFileSerializer},
                   responses={201: OpenApiResponse(ListImportReportSerializer, description=_("Committed.")),
                              200: OpenApiResponse(ListImportReportSerializer, description=_(
                                  "A dry run: every row checked and matched, nothing written.")),
                              400: OpenApiResponse(description=_(
                                  "Bad input, or a commit refused: the report is in error.details.")),
                              **FORBIDDEN, **NOT_FOUND})
    def create(self, request):
        """Imports a list: staff managing campaigns in the area, or a system account (role system) assigned to it.
        Every row is checked (row numbers and reasons in the report, numbers masked), then matched by ID number,
        then by address; unmatched rows stay at the list's area."""
        try:
            upload, body = request.FILES.get("file"), request.data
        except RequestDataTooBig as exc:  # Django's limit on bodies read into memory (DATA_UPLOAD_MAX_MEMORY_SIZE)
            raise DomainError(_("The request is too large for JSON rows; upload the list as a CSV or .xlsx file."),
                              field="rows", code="too_large") from exc
        data = (ListImportFileSerializer if upload is not None else ListImportJsonSerializer)(data=body)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        if upload is not None:
            values.pop("file")
            values.update(file=upload, file_name=upload.name)
        report = lists.do_import_list(actor=request.user, **values)
        return Response(report, status=status.HTTP_201_CREATED if report["committed"] else status.HTTP_200_OK)


class ListResultsView(ChangeContextMixin, APIView):
    content_negotiation_class = FileOrJson

    @extend_schema(summary="Results of a pushed list",
                   responses={(200, "application/json"): ListResultsSerializer,
                              (200, "application/octet-stream"): OpenApiTypes.BINARY, **FORBIDDEN, **NOT_FOUND},
                   parameters=[OpenApiParameter("reason", str, description=_(
                       "Reveal the full ID and phone numbers, for this reason (a role that reads answers in the "
                       "list's area; every row's reading audited)."))])
    def get(self, request, pk, fmt):
        """The results in the incoming list's shape: its row ids and columns under its own headers (or keys), then
        claim, reason, result, note and answered time. For the staff of the list's area and the system that pushed
        it."""
        pushed_list = lists.list_for_results(request.user, pk)
        reason = request.query_params.get("reason", "")
        request_id = getattr(request, "request_id", "")
        if fmt == "json":
            headers, rows = lists.result_rows(pushed_list, actor=request.user, reveal_reason=reason,
                                              request_id=request_id, files=False)
            response = Response({"list": pushed_list.pk, "columns": headers,
                                 "rows": [dict(zip(headers, row, strict=True)) for row in rows]})
            response["Cache-Control"] = "no-store"
            return response
        content = lists.export_results(pushed_list, fmt, actor=request.user, reveal_reason=reason,
                                       request_id=request_id)
        return _file(content, fmt, f"list-{pushed_list.pk}-results.{fmt}")


class ListTemplateView(APIView):
    content_negotiation_class = FileOrJson

    @extend_schema(summary="Pushed list template", responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request, fmt):
        """The list template: the headers a list is imported with, and an example row."""
        return _file(lists.template(fmt), fmt, f"list-template.{fmt}")


ROW_FILTERS = [
    OpenApiParameter("list", int),
    OpenApiParameter("claim", str, enum=ClaimState.values),
    OpenApiParameter("result", str, enum=RowResult.values),
    OpenApiParameter("match", str, enum=MatchMethod.values),
    OpenApiParameter("grid", str, description=_("An area code: the rows in its subtree.")),
    OpenApiParameter("at_area", bool, description=_("Only the rows waiting at a list's area.")),
]


class PushedRowViewSet(ChangeContextMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                       viewsets.GenericViewSet):
    """Rows of pushed lists in your grids (numbers masked): claim (认领) or decline with a reason, verify at the door.
    Rows waiting at a list's area are the staff's, to place in a grid."""

    serializer_class = PushedRowSerializer
    pagination_class = RowPagination
    lookup_value_regex = ID

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return PushedRow.objects.none()
        queryset = lists.visible_rows(self.request.user).select_related("pushed_list", "claimed_by")
        if self.action != "list":
            return queryset
        params = self.request.query_params
        pushed_list = _int_param(params, "list")
        if pushed_list is not None:
            queryset = queryset.filter(pushed_list_id=pushed_list)
        for name, choices in (("claim", ClaimState.values), ("result", RowResult.values),
                              ("match", MatchMethod.values)):
            wanted = _choice_param(params, name, choices)
            if wanted:
                queryset = queryset.filter(**{name: wanted})
        grid = params.get("grid", "").strip()
        if grid:
            if not (grid.isdigit() and len(grid) in (6, 9, 12, 15)):
                raise DomainError(_("Give an area code of 6, 9, 12 or 15 digits."), field="grid")
            queryset = queryset.filter(grid_code__startswith=grid)
        at_area = _choice_param(params, "at_area", ("true", "false", "1", "0"))
        if at_area:
            waiting = queryset.filter(grid_code__regex=r"^\d{15}$")
            queryset = queryset.exclude(pk__in=waiting.values("pk")) if at_area in ("true", "1") else waiting
        return queryset

    @extend_schema(parameters=ROW_FILTERS)
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def _row(self, pk, action, message):
        """The row, for a user whose role allows `action` (403 without it) in the row's grid or area (404 outside:
        the same answer as a row that does not exist). The service checks again inside its transaction."""
        if not scope_codes(self.request.user, action):
            raise DomainError(message, code="forbidden")
        return PushedRow.objects.get_for(self.request.user, action, pk=pk)

    def _answer(self, row):
        row = PushedRow.objects.select_related("pushed_list", "claimed_by").get(pk=row.pk)
        return Response(PushedRowSerializer(row).data)

    @extend_schema(request=None, responses={200: PushedRowSerializer, **WRITE})
    @action(detail=True, methods=["post"])
    def claim(self, request, pk=None):
        """认领: your grid takes the row on (CLAIM_ROW in the row's grid)."""
        row = self._row(pk, CLAIM_ROW, _("Your role may not claim rows of pushed lists."))
        return self._answer(lists.do_claim_row(row, actor=request.user))

    @extend_schema(request=DeclineSerializer, responses={200: PushedRowSerializer, **WRITE})
    @action(detail=True, methods=["post"])
    def decline(self, request, pk=None):
        """不可认领, with a reason (an answer the pushing system gets back); not_here sends the row back to the
        list's area."""
        data = DeclineSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = self._row(pk, CLAIM_ROW, _("Your role may not claim rows of pushed lists."))
        return self._answer(lists.do_decline_row(row, actor=request.user, **data.validated_data))

    @extend_schema(request=PlaceSerializer, responses={200: PushedRowSerializer, **WRITE})
    @action(detail=True, methods=["post"])
    def place(self, request, pk=None):
        """The list's staff place a row waiting at the area in one of its grids (MANAGE_CAMPAIGN)."""
        data = PlaceSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = self._row(pk, MANAGE_CAMPAIGN, _("Your role may not manage pushed lists."))
        return self._answer(lists.do_place_row(row, actor=request.user, **data.validated_data))

    @extend_schema(request=VerifySerializer, responses={200: VerifyResultSerializer, **WRITE})
    @action(detail=True, methods=["post"])
    def verify(self, request, pk=None):
        """The result at the door of a claimed row (VISIT_HOUSEHOLD in its grid), recorded as a visit of the list's
        campaign to the household when there is one (the form's answers checked as for any visit)."""
        data = VerifySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = self._row(pk, VISIT_HOUSEHOLD, _("Your role may not record visits."))
        row, visit = lists.do_verify_row(row, actor=request.user, source=VisitSource.API, **data.validated_data)
        row = PushedRow.objects.select_related("pushed_list", "claimed_by").get(pk=row.pk)
        return Response({"row": PushedRowSerializer(row).data, "visit": visit.pk if visit else None})

    @extend_schema(request=RowRevealSerializer, responses={200: RowRevealResultSerializer, **WRITE},
                   description=_("The row's full ID and phone numbers. Needs VIEW_ANSWERS in the row's grid and a "
                                 "reason; every reading is audited."))
    @action(detail=True, methods=["post"])
    def reveal(self, request, pk=None):
        data = RowRevealSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = self._row(pk, VIEW_ANSWERS, _("Your role may not read personal numbers of pushed lists."))
        numbers = lists.do_reveal_row(row, actor=request.user, reason=data.validated_data["reason"],
                                      request_id=getattr(request, "request_id", ""))
        response = Response({"row": row.pk, **numbers})
        response["Cache-Control"] = "no-store"
        return response


urlpatterns = [
    re_path(r"^lists/(?P<pk>\d+)/results\.(?P<fmt>csv|xlsx|json)$", ListResultsView.as_view(),
            name="pushed-list-results"),
    re_path(r"^lists/template\.(?P<fmt>csv|xlsx)$", ListTemplateView.as_view(), name="pushed-list-template"),
]
