"""/api/v1/campaigns/campaigns/{id}/…: the coverage ledger, its per-grid figure for the map, daily reports and missing
reports, the statistics table and its workbook (docs/campaigns-coverage.md). Thin callers of campaigns.ledger and
campaigns.reports.

Coverage, the map figure and the statistics hold counts only: readable with VIEW_CAMPAIGN or VIEW_AGGREGATES
(leaders) in scope. Daily reports (a worker's note, who submitted) need VIEW_CAMPAIGN. A campaign the user may not
read answers 404; a grid outside their scope too.
"""

from django.http import Http404, HttpResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from wangge.accounts.roles import VIEW_CAMPAIGN
from wangge.core.api import ChangeContextMixin
from wangge.core.errors import DomainError

from .. import exporters, ledger, reports
from ..models import Campaign, DailyReport

NOT_FOUND = {404: OpenApiResponse(description="No such campaign, or outside your scope (the same answer).")}
BAD_INPUT = {400: OpenApiResponse(description="Bad input: the body names the field and the reason.")}
FORBIDDEN = {403: OpenApiResponse(description="Your role may not submit daily reports.")}
ROUND = OpenApiParameter("round", int, description="A round of the campaign (default: the current one).")
AREA = OpenApiParameter("area", str, description="An area code (6, 9, 12 or 15 digits): only the grids under it.")


# ---- serializers (the shapes of ledger.coverage, ledger.grid_figure and reports.statistics) -----------------------

class LedgerFourClearSerializer(serializers.Serializer):
    households = serializers.BooleanField(help_text="人数清: no household pending in any grid.")
    persons = serializers.BooleanField(help_text="人头清: in every grid, persons screened ≥ registered persons.")
    location = serializers.BooleanField(help_text="位置清: every household's standing call was placed inside its "
                                                  "grid by GPS.")
    control = serializers.BooleanField(help_text="管控清: every flagged person's event has been taken up.")
    all = serializers.BooleanField(help_text="All four (四清).")


class LedgerRowSerializer(serializers.Serializer):
    code = serializers.CharField(allow_null=True)
    name = serializers.CharField()
    grids = serializers.IntegerField()
    registered = serializers.IntegerField(help_text="Households registered when the round opened.")
    visited = serializers.IntegerField()
    absent = serializers.IntegerField()
    refused = serializers.IntegerField()
    moved_out = serializers.IntegerField()
    revisit = serializers.IntegerField(help_text="Households whose standing is a scheduled revisit.")
    pending = serializers.IntegerField(help_text="Households with no call yet: registered − the standings above.")
    revisits_due = serializers.IntegerField(help_text="Scheduled revisits whose time has come (or with no time).")
    members = serializers.IntegerField(help_text="Persons screened.")
    registered_persons = serializers.IntegerField()
    flagged_members = serializers.IntegerField(help_text="Flagged persons.")
    flags_open = serializers.IntegerField(help_text="Flags whose event is missing or not yet taken up.")
    outside_grid = serializers.IntegerField(help_text="Standing calls placed outside the household's grid.")
    unlocated = serializers.IntegerField(help_text="Standing calls without a GPS fix.")
    coverage_rate = serializers.FloatField(allow_null=True, help_text="visited / registered (0–1); null without "
                                                                      "households.")
    four_clear = LedgerFourClearSerializer()


class LedgerSerializer(serializers.Serializer):
    campaign = serializers.IntegerField()
    round = serializers.IntegerField(allow_null=True)
    rounds = serializers.IntegerField()
    level = serializers.CharField(help_text="grid, community, subdistrict or district")
    area = serializers.CharField(allow_null=True)
    as_of = serializers.DateTimeField()
    totals = LedgerRowSerializer()
    rows = LedgerRowSerializer(many=True)


class LedgerGridFigureSerializer(serializers.Serializer):
    metric = serializers.CharField()
    label = serializers.CharField()
    unit = serializers.CharField(help_text="percent (0–100), count, or flag (1: 四清)")
    round = serializers.IntegerField(allow_null=True)
    counts = serializers.DictField(child=serializers.FloatField(), help_text="grid code → figure; grids without a "
                                                                             "figure are absent")
    total = serializers.FloatField(allow_null=True)


class LedgerDayCumulativeSerializer(serializers.Serializer):
    day = serializers.IntegerField(help_text="On the cut-off day (当日).")
    cumulative = serializers.IntegerField(help_text="Up to the end of the cut-off day (累计).")


class LedgerStatisticsColumnSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    header = serializers.CharField(help_text="The Chinese header of the table.")


class LedgerStatisticsRowSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    counts = serializers.DictField(child=LedgerDayCumulativeSerializer())


class LedgerStatisticsSerializer(serializers.Serializer):
    campaign = serializers.IntegerField()
    name = serializers.CharField()
    round = serializers.IntegerField(allow_null=True)
    cutoff = serializers.DateField()
    level = serializers.CharField(help_text="subdistrict or community")
    columns = LedgerStatisticsColumnSerializer(many=True)
    rows = LedgerStatisticsRowSerializer(many=True)
    totals = serializers.DictField(child=LedgerDayCumulativeSerializer())


class DailyReportSerializer(serializers.ModelSerializer):
    deadline = serializers.SerializerMethodField()

    class Meta:
        model = DailyReport
        fields = ["id", "grid_code", "day", "zero", "visited", "flagged_members", "note", "submitted_by",
                  "submitted_at", "late", "deadline"]
        read_only_fields = fields

    def get_deadline(self, report) -> str:
        return timezone.localtime(reports.report_deadline(report.campaign, report.day)).isoformat()


class DailyReportWriteSerializer(serializers.Serializer):
    grid_code = serializers.CharField(max_length=15)
    day = serializers.CharField(help_text="YYYY-MM-DD")
    zero = serializers.BooleanField(default=False, help_text="An explicit zero report: only for a day without "
                                                             "visits.")
    note = serializers.CharField(required=False, allow_blank=True, default="")


class LedgerMissingGridSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class LedgerMissingReportsSerializer(serializers.Serializer):
    day = serializers.DateField()
    deadline = serializers.DateTimeField()
    overdue = serializers.BooleanField()
    count = serializers.IntegerField()
    grids = LedgerMissingGridSerializer(many=True)


# ---- views ---------------------------------------------------------------------------------------------------------

def _report_campaign(user, pk):
    """The campaign for its daily reports: VIEW_CAMPAIGN (workers, staff), else 404."""
    campaign = Campaign.objects.visible_to(user, VIEW_CAMPAIGN).filter(pk=pk).first()
    if campaign is None:
        raise Http404
    return campaign


class CoverageView(APIView):
    """The coverage ledger: per grid, community, subdistrict or district, the households' standings, pending,
    revisits due, persons screened, flagged persons, the coverage rate and the 四清; with the totals."""

    @extend_schema(parameters=[OpenApiParameter("level", str, enum=list(ledger.LEVELS)), AREA, ROUND],
                   responses={200: LedgerSerializer, **BAD_INPUT, **NOT_FOUND})
    def get(self, request, pk):
        campaign = ledger.ledger_campaign(request.user, pk)
        query = request.query_params
        return Response(ledger.coverage(campaign, user=request.user, round=query.get("round"),
                                        level=query.get("level") or "grid", area=query.get("area")))


class CoverageGridsView(APIView):
    """One figure per grid for the map's choropleth (the resident map's shape: counts per grid code and a total)."""

    @extend_schema(parameters=[OpenApiParameter("metric", str, enum=list(ledger.METRICS)), AREA, ROUND],
                   responses={200: LedgerGridFigureSerializer, **BAD_INPUT, **NOT_FOUND})
    def get(self, request, pk):
        campaign = ledger.ledger_campaign(request.user, pk)
        query = request.query_params
        response = Response(ledger.grid_figure(campaign, user=request.user, metric=query.get("metric") or "coverage",
                                               round=query.get("round"), area=query.get("area")))
        response["Cache-Control"] = "private, no-cache"
        return response


class DailyReportPagination(CursorPagination):
    page_size = 100
    ordering = ("-day", "grid_code", "-id")


class DailyReportsView(ChangeContextMixin, ListAPIView):
    """GET: the daily reports in your scope, newest day first (filters: day, grid = a code prefix, late, zero).
    POST: submit your grid's report for a day — counts filled from the day's visits; `zero` only for a day without
    visits; again before the deadline (08:00 on the next day, say) updates it (200), after it: 400."""

    serializer_class = DailyReportSerializer
    pagination_class = DailyReportPagination
    queryset = DailyReport.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return DailyReport.objects.none()
        campaign = _report_campaign(self.request.user, self.kwargs["pk"])
        rows = reports.visible_reports(self.request.user, campaign).select_related("campaign")
        query = self.request.query_params
        if query.get("day"):
            rows = rows.filter(day=reports.parse_day(query["day"]))
        if query.get("grid"):
            rows = rows.filter(grid_code__startswith=query["grid"].strip())
        for flag in ("late", "zero"):
            if query.get(flag):
                if query[flag] not in ("true", "false"):
                    raise DomainError(_("true or false."), field=flag)
                rows = rows.filter(**{flag: query[flag] == "true"})
        return rows

    @extend_schema(parameters=[OpenApiParameter("day", str, description="YYYY-MM-DD"),
                               OpenApiParameter("grid", str, description="A grid code or a prefix of one."),
                               OpenApiParameter("late", bool), OpenApiParameter("zero", bool)],
                   responses={200: DailyReportSerializer(many=True), **BAD_INPUT, **NOT_FOUND})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=DailyReportWriteSerializer,
                   responses={201: DailyReportSerializer, 200: DailyReportSerializer, **BAD_INPUT, **FORBIDDEN,
                              **NOT_FOUND})
    def post(self, request, pk):
        campaign = _report_campaign(request.user, pk)
        data = DailyReportWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        existed = DailyReport.objects.filter(campaign=campaign, grid_code=values["grid_code"],
                                             day=reports.parse_day(values["day"])).exists()
        report = reports.do_submit_daily_report(campaign, actor=request.user, **values)
        return Response(DailyReportSerializer(report).data,
                        status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED)


class MissingReportsView(APIView):
    """The grids in your scope (with registered households) whose report for `day` is missing."""

    @extend_schema(parameters=[OpenApiParameter("day", str, required=True, description="YYYY-MM-DD")],
                   responses={200: LedgerMissingReportsSerializer, **BAD_INPUT, **NOT_FOUND})
    def get(self, request, pk):
        from wangge.geo.models import Area

        campaign = _report_campaign(request.user, pk)
        if not request.query_params.get("day"):
            raise DomainError(_("Give a date as YYYY-MM-DD."), field="day")
        day = reports.parse_day(request.query_params["day"])
        grids = reports.missing_reports(campaign, day, user=request.user)
        names = dict(Area.objects.current().filter(code__in=grids).values_list("code", "name"))
        deadline = reports.report_deadline(campaign, day)
        return Response({"day": day, "deadline": deadline, "overdue": timezone.now() > deadline,
                         "count": len(grids), "grids": [{"code": code, "name": names.get(code, "")}
                                                        for code in grids]})


STATISTICS_PARAMETERS = [
    OpenApiParameter("cutoff", str, description="The cut-off date, YYYY-MM-DD (default: today; not in the future)."),
    OpenApiParameter("level", str, enum=list(reports.STAT_LEVELS)), ROUND]


def _statistics(request, pk):
    campaign = ledger.ledger_campaign(request.user, pk)
    query = request.query_params
    return reports.statistics(campaign, user=request.user, cutoff=query.get("cutoff"),
                              level=query.get("level") or "subdistrict", round=query.get("round"))


class StatisticsView(APIView):
    """The statistics table per subdistrict (or community) with a cut-off date: households visited, persons
    screened, arrivals, contacts, abnormal health, home and centralized isolation — that day and cumulative."""

    @extend_schema(parameters=STATISTICS_PARAMETERS,
                   responses={200: LedgerStatisticsSerializer, **BAD_INPUT, **NOT_FOUND})
    def get(self, request, pk):
        return Response(_statistics(request, pk))


class AnyAccept(DefaultContentNegotiation):
    """The workbook answers whatever the client accepts; errors still come back as JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class StatisticsWorkbookView(APIView):
    """The statistics table as an Excel workbook (Chinese headers, as the paper table)."""

    content_negotiation_class = AnyAccept

    @extend_schema(parameters=STATISTICS_PARAMETERS,
                   responses={(200, exporters.CONTENT_TYPE): OpenApiTypes.BINARY, **BAD_INPUT, **NOT_FOUND})
    def get(self, request, pk):
        table = _statistics(request, pk)
        response = HttpResponse(exporters.statistics_xlsx(table), content_type=exporters.CONTENT_TYPE)
        response["Content-Disposition"] = f'attachment; filename="{exporters.statistics_filename(table)}"'
        response["X-Content-Type-Options"] = "nosniff"
        return response


urlpatterns = [
    path("campaigns/<int:pk>/coverage/", CoverageView.as_view(), name="campaign-coverage"),
    path("campaigns/<int:pk>/coverage/grids/", CoverageGridsView.as_view(), name="campaign-coverage-grids"),
    path("campaigns/<int:pk>/daily-reports/", DailyReportsView.as_view(), name="campaign-daily-reports"),
    path("campaigns/<int:pk>/daily-reports/missing/", MissingReportsView.as_view(),
         name="campaign-daily-reports-missing"),
    path("campaigns/<int:pk>/statistics/", StatisticsView.as_view(), name="campaign-statistics"),
    path("campaigns/<int:pk>/statistics.xlsx", StatisticsWorkbookView.as_view(), name="campaign-statistics-xlsx"),
]
