"""Events (案卷) of the closed loop: list and detail (with the timeline), report, act.

Reads: the events in the user's grid scope for cases.view_event, plus the events assigned to a department the user
is an active member of. Every write goes through services.do_report_event / services.do_act, which hold the rules.
"""

from django.http import Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework_gis.fields import GeometryField

from wangge.accounts.roles import VIEW_EVENT
from wangge.core.api import ChangeContextMixin

from .. import services, workflow
from ..models import Category, Event, EventTimeline

NOT_FOUND = {404: OpenApiResponse(description="Not found, or outside your scope (the same answer).")}
CONFLICT = {409: OpenApiResponse(description="Stale version: someone acted first; reload and retry.")}


class EventPagination(CursorPagination):
    page_size = 50
    ordering = ("-created_at", "-id")


class EventCategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "kind", "code", "name", "ownership", "limit_unit", "limit_normal", "limit_urgent",
                  "limit_emergency", "self_handling"]


class EventTimelineSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", read_only=True, allow_null=True,
                                  help_text=_("Empty for the system (the clock job)."))

    class Meta:
        model = EventTimeline
        fields = ["at", "actor", "action", "from_state", "to_state", "note"]


class EventListSerializer(serializers.ModelSerializer):
    location = GeometryField(read_only=True)
    category = EventCategorySerializer(read_only=True)
    state = serializers.CharField(read_only=True, help_text=_(
        "reported, accepted, voided, dispatched, signed, handled, fed_back, verified, closed or evaluated."))

    class Meta:
        model = Event
        fields = ["id", "case_number", "district_code", "grid_code", "source", "reporter", "location", "address",
                  "description", "category", "urgency", "emergency", "state", "version", "department",
                  "dispatcher", "handler", "verifier", "rework_count", "satisfaction", "dispatched_at", "due_at",
                  "clock_level", "carded_at", "extension_due_at", "extension_count", "closed_at", "created_at",
                  "updated_at"]
        read_only_fields = fields


class EventDetailSerializer(EventListSerializer):
    timeline = EventTimelineSerializer(many=True, read_only=True)

    class Meta(EventListSerializer.Meta):
        fields = [*EventListSerializer.Meta.fields, "timeline"]
        read_only_fields = fields


class EventReportSerializer(serializers.Serializer):
    location = serializers.JSONField(help_text=_("GeoJSON Point, WGS84; decides the grid."))
    category = serializers.IntegerField(help_text=_("The id of a subclass category."))
    description = serializers.CharField(max_length=4000)
    address = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    source = serializers.CharField(max_length=12, required=False, default="grid_worker")
    urgency = serializers.CharField(max_length=10, required=False, default="normal")
    emergency = serializers.BooleanField(required=False, default=False)


class EventActSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=list(workflow.ACTIONS))
    version = serializers.IntegerField(help_text=_("The version you loaded; a stale one answers 409."))
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    department = serializers.IntegerField(required=False, allow_null=True, default=None,
                                          help_text=_("dispatch: the functional department."))
    satisfaction = serializers.IntegerField(required=False, allow_null=True, default=None,
                                            help_text=_("evaluate: 1–5."))
    new_due = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                        help_text=_("request_extension: the new due moment (ISO 8601)."))
    amount = serializers.DecimalField(max_digits=8, decimal_places=2, required=False, allow_null=True, default=None,
                                      help_text=_("request_extension: working time to add to the current due."))
    unit = serializers.ChoiceField(choices=["hours", "days"], required=False, allow_null=True, default=None,
                                   help_text=_("request_extension: the unit of amount (default days)."))


class EventViewSet(ChangeContextMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Events in your scope (and your departments' events)."""

    queryset = Event.objects.all()
    pagination_class = EventPagination

    def get_serializer_class(self):
        return EventDetailSerializer if self.action != "list" else EventListSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Event.objects.none()
        queryset = Event.objects.visible_to(self.request.user, VIEW_EVENT).select_related("category")
        if self.action != "list":
            queryset = queryset.prefetch_related("timeline__actor")
        return queryset

    @extend_schema(request=EventReportSerializer, responses={201: EventDetailSerializer, **NOT_FOUND})
    def create(self, request):
        data = EventReportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        event = services.do_report_event(actor=request.user, **data.validated_data)
        return Response(EventDetailSerializer(self._reload(event)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=EventActSerializer, responses={200: EventDetailSerializer, **NOT_FOUND, **CONFLICT})
    @action(detail=True, methods=["post"])
    def act(self, request, pk=None):
        event = self.get_object()
        data = EventActSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        event = services.do_act(event, actor=request.user, **data.validated_data)
        return Response(EventDetailSerializer(self._reload(event)).data)

    def _reload(self, event):
        found = Event.objects.select_related("category").prefetch_related("timeline__actor").filter(pk=event.pk).first()
        if found is None:
            raise Http404
        return found
