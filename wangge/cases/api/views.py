from django.db.models import Count, Q
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from wangge.core.api import ChangeContextMixin
from wangge.core.errors import DomainError

from .. import calendar, services
from ..models import CalendarDay
from . import serializers as s

FORBIDDEN = {403: OpenApiResponse(description="Not an administrator of the calendar (MANAGE_CALENDAR).")}
INVALID = {400: OpenApiResponse(description="A malformed calendar: the field at fault and the reason.")}


def _year_body(year):
    days = list(CalendarDay.objects.filter(year=year))
    return {"year": year, "loaded": bool(days), "working_hours": calendar.working_hours_text(), "days": days}


class CalendarYearsView(APIView):
    """The years that have a calendar loaded, with their counts of holidays and make-up working days."""

    @extend_schema(responses={200: s.CalendarYearSummarySerializer(many=True)})
    def get(self, request):
        rows = (CalendarDay.objects.values("year").order_by("year")
                .annotate(holidays=Count("pk", filter=Q(kind=CalendarDay.Kind.HOLIDAY)),
                          makeup_workdays=Count("pk", filter=Q(kind=CalendarDay.Kind.MAKEUP_WORKDAY))))
        return Response(s.CalendarYearSummarySerializer(rows, many=True).data)


class CalendarYearView(ChangeContextMixin, APIView):
    """One year's holidays and make-up working days (every other day follows the weekly rule). Anyone signed in
    reads it; administrators replace it as a whole, from a JSON body or a CSV file."""

    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(responses={200: s.CalendarYearSerializer, **INVALID})
    def get(self, request, year):
        services.check_year(year)
        return Response(s.CalendarYearSerializer(_year_body(year)).data)

    @extend_schema(request={"application/json": s.CalendarReplaceSerializer,
                            "multipart/form-data": s.CalendarUploadSerializer},
                   responses={200: s.CalendarYearSerializer, **INVALID, **FORBIDDEN})
    def put(self, request, year):
        services.ensure_may_manage_calendar(request.user)
        upload = request.FILES.get("file")
        if upload is not None:
            days = services.rows_from_csv(upload.read(services.MAX_CSV_BYTES + 1))
        elif isinstance(request.data, dict) and "days" in request.data:
            days = request.data["days"]
        else:
            raise DomainError(_("Send {\"days\": [...]} or a CSV file in the field \"file\"."), field="days")
        services.do_replace_year(year, days, actor=request.user)
        return Response(s.CalendarYearSerializer(_year_body(year)).data)


class DueView(APIView):
    """The due moment of a limit of working hours or working days counted from `start`, on the work calendar."""

    @extend_schema(parameters=[s.DueQuerySerializer], responses={200: s.DueSerializer, **INVALID})
    def get(self, request):
        query = s.DueQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        start, amount, unit = (query.validated_data[key] for key in ("start", "amount", "unit"))
        try:
            due = calendar.add_working_time(start, amount if unit == "hours" else int(amount), unit)
        except ValueError as exc:
            raise DomainError(_("The limit cannot be computed: %(reason)s.") % {"reason": exc}, field="amount") from exc
        return Response(s.DueSerializer({
            "start": start.astimezone(calendar.zone()), "amount": amount, "unit": unit, "due": due,
            "warning_at": calendar.warning_moment(start, due), "working_hours": calendar.working_hours_text(),
            "missing_years": calendar.missing_years(start, due)}).data)
