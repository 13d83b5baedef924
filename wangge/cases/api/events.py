"""Events (案卷) of the closed loop: list and detail (with the timeline), report, act.

Reads: the events in the user's grid scope for cases.view_event, plus the events assigned to a department the user
is an active member of. Every write goes through services.do_report_event / services.do_act, which hold the rules.
"""

from django.db.models import Q
from django.http import FileResponse, Http404
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework_gis.fields import GeometryField

from wangge.accounts.roles import VIEW_EVENT, VIEW_PERSON, VIEW_PLACE
from wangge.core.api import ChangeContextMixin, InputSerializer
from wangge.core.errors import DomainError

from .. import services, workflow
from ..models import (
    Category,
    CategoryKind,
    ClockLevel,
    Event,
    EventAttachment,
    EventSource,
    EventState,
    EventTimeline,
    Urgency,
)

NOT_FOUND = {404: OpenApiResponse(description="Not found, or outside your scope (the same answer).")}
CONFLICT = {409: OpenApiResponse(description="Stale version: someone acted first; reload and retry.")}


class EventPagination(CursorPagination):
    page_size = 50
    ordering = ("-created_at", "-id")


class EventCategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "kind", "code", "name", "parent", "ownership", "limit_unit", "limit_normal", "limit_urgent",
                  "limit_emergency", "self_handling", "skip_level_from"]


class EventAttachmentSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text=_("Download (scoped like the event)."))

    class Meta:
        model = EventAttachment
        fields = ["id", "name", "content_type", "size", "width", "height", "url", "uploaded_at", "timeline"]
        read_only_fields = fields

    def get_url(self, attachment) -> str:
        return reverse("event-attachment", kwargs={"pk": attachment.event_id, "attachment_id": attachment.pk})


class EventTimelineSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", read_only=True, allow_null=True,
                                  help_text=_("Empty for the system (the clock job)."))
    actor_name = serializers.SerializerMethodField(help_text=_("The actor's display name; empty for the system."))
    location = GeometryField(read_only=True, allow_null=True)
    attachments = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = EventTimeline
        fields = ["id", "at", "actor", "actor_name", "action", "from_state", "to_state", "note", "location",
                  "attachments"]

    def get_actor_name(self, entry) -> str:
        return str(entry.actor) if entry.actor_id else ""


class RelatedRecordSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField(help_text=_("person, building or organization."))
    label = serializers.CharField(help_text=_("Name and masked number for persons; name or number for places."))
    grid_code = serializers.CharField()


related_records = extend_schema_field(RelatedRecordSerializer(many=True))


class EventListSerializer(serializers.ModelSerializer):
    location = GeometryField(read_only=True)
    category = EventCategorySerializer(read_only=True)
    state = serializers.CharField(read_only=True, help_text=_(
        "reported, accepted, voided, dispatched, signed, handled, fed_back, verified, closed or evaluated."))
    department_name = serializers.CharField(source="department.name", read_only=True, allow_null=True)
    routed_department_name = serializers.CharField(source="routed_department.name", read_only=True, allow_null=True)
    holder_code = serializers.SerializerMethodField(help_text=_("The area whose command centre holds the case."))

    def get_holder_code(self, event) -> str:
        return services.holder_code(event)

    def to_representation(self, event):
        """The fields of Meta, read straight from the row: reporting (≥ 200 events/s) and the queue's pages skip
        building a ModelSerializer's fields per event. The declarations above stay the schema; the tests check
        this against DRF's own rendering of the same fields."""
        return event_row(event)

    class Meta:
        model = Event
        fields = ["id", "case_number", "district_code", "grid_code", "source", "reporter", "location", "address",
                  "description", "category", "urgency", "emergency", "state", "version", "department",
                  "dispatcher", "handler", "verifier", "rework_count", "satisfaction", "dispatched_at", "due_at",
                  "clock_level", "carded_at", "extension_due_at", "extension_count", "return_count", "holder_code",
                  "routed_department", "routed_department_name", "department_name", "accepted_at", "handled_at",
                  "closed_at", "created_at", "updated_at"]
        read_only_fields = fields


class EventDetailSerializer(EventListSerializer):
    timeline = EventTimelineSerializer(many=True, read_only=True)
    attachments = EventAttachmentSerializer(many=True, read_only=True)
    actions = serializers.SerializerMethodField(help_text=_("The actions you may perform now."))
    related_persons = serializers.SerializerMethodField()
    related_buildings = serializers.SerializerMethodField()
    related_organizations = serializers.SerializerMethodField()

    class Meta(EventListSerializer.Meta):
        fields = [*EventListSerializer.Meta.fields, "timeline", "attachments", "actions", "related_persons",
                  "related_buildings", "related_organizations"]
        read_only_fields = fields

    def _user(self):
        request = self.context.get("request")
        return getattr(request, "user", None)

    def to_representation(self, event):
        """As EventListSerializer's, with the timeline, the photos, the reader's actions and the linked records."""
        row = event_row(event)
        row["timeline"] = [timeline_row(entry) for entry in event.timeline.all()]
        row["attachments"] = [attachment_row(attachment) for attachment in event.attachments.all()]
        row["actions"] = self.get_actions(event)
        row["related_persons"] = self.get_related_persons(event)
        row["related_buildings"] = self.get_related_buildings(event)
        row["related_organizations"] = self.get_related_organizations(event)
        return row

    def get_actions(self, event) -> list[str]:
        user = self._user()
        return services.available_actions(event, user) if user is not None else []

    def _records(self, manager, action, kind, label):
        """Linked records the reader may see themselves (masked); the others are left out, never revealed."""
        user = self._user()
        if user is None or not getattr(manager.instance, "has_links", True):
            return []
        rows = manager.model.objects.restrict(user, action).filter(pk__in=manager.values("pk"))
        return RelatedRecordSerializer([{"id": row.pk, "kind": kind, "label": label(row), "grid_code": row.grid_code}
                                        for row in rows], many=True).data

    @related_records
    def get_related_persons(self, event):
        return self._records(event.related_persons, VIEW_PERSON, "person",
                             lambda person: f"{person.name} {person.id_number_masked}".strip())

    @related_records
    def get_related_buildings(self, event):
        return self._records(event.related_buildings, VIEW_PLACE, "building", str)

    @related_records
    def get_related_organizations(self, event):
        return self._records(event.related_organizations, VIEW_PLACE, "organization", lambda org: org.name)


_MOMENT = serializers.DateTimeField()
_LIMIT = serializers.DecimalField(max_digits=6, decimal_places=1)
_GEOMETRY = GeometryField()
_EVENT_MOMENTS = ("dispatched_at", "due_at", "carded_at", "extension_due_at", "accepted_at", "handled_at",
                  "closed_at", "created_at", "updated_at")
_EVENT_VALUES = ("id", "case_number", "district_code", "grid_code", "source", "address", "description", "urgency",
                 "emergency", "state", "version", "rework_count", "satisfaction", "extension_count", "return_count",
                 "clock_level")
_EVENT_REFERENCES = ("reporter", "department", "dispatcher", "handler", "verifier", "routed_department")


def _geojson(geometry):
    """GeoJSON of a location: a point directly (every event and timeline location is one), else through GDAL."""
    if geometry is None:
        return None
    if geometry.geom_typeid == 0:
        return {"type": "Point", "coordinates": [geometry.x, geometry.y]}
    return _GEOMETRY.to_representation(geometry)


def _moment(value):
    return _MOMENT.to_representation(value) if value is not None else None


def category_row(category):
    limit = _LIMIT.to_representation
    return {"id": category.pk, "kind": category.kind, "code": category.code, "name": category.name,
            "parent": category.parent_id, "ownership": category.ownership, "limit_unit": category.limit_unit,
            "limit_normal": limit(category.limit_normal), "limit_urgent": limit(category.limit_urgent),
            "limit_emergency": limit(category.limit_emergency), "self_handling": category.self_handling,
            "skip_level_from": category.skip_level_from}


def event_row(event):
    """EventListSerializer's fields of `event` (its category, department and routed department loaded with it)."""
    row = {name: getattr(event, name) for name in _EVENT_VALUES}
    row.update({name: getattr(event, f"{name}_id") for name in _EVENT_REFERENCES})
    row.update({name: _moment(getattr(event, name)) for name in _EVENT_MOMENTS})
    row["state"] = str(event.state)
    row["location"] = _geojson(event.location)
    row["category"] = category_row(event.category)
    row["department_name"] = event.department.name if event.department_id else None
    row["routed_department_name"] = event.routed_department.name if event.routed_department_id else None
    row["holder_code"] = services.holder_code(event)
    return {name: row[name] for name in EventListSerializer.Meta.fields}


def timeline_row(entry):
    return {"id": entry.pk, "at": _moment(entry.at), "actor": entry.actor.username if entry.actor_id else None,
            "actor_name": str(entry.actor) if entry.actor_id else "", "action": entry.action,
            "from_state": entry.from_state, "to_state": entry.to_state, "note": entry.note,
            "location": _geojson(entry.location),
            "attachments": [attachment.pk for attachment in entry.attachments.all()]}


def attachment_row(attachment):
    return {"id": attachment.pk, "name": attachment.name, "content_type": attachment.content_type,
            "size": attachment.size, "width": attachment.width, "height": attachment.height,
            "url": reverse("event-attachment", kwargs={"pk": attachment.event_id, "attachment_id": attachment.pk}),
            "uploaded_at": _moment(attachment.uploaded_at), "timeline": attachment.timeline_id}


class EventReportSerializer(InputSerializer):
    photos = serializers.ListField(child=serializers.FileField(), required=False, default=list,
                                   help_text=_("multipart only: up to 9 JPEG/PNG/WebP images, 10 MB each."))
    related_persons = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    related_buildings = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    related_organizations = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    location = serializers.JSONField(help_text=_("GeoJSON Point, WGS84; decides the grid."))
    category = serializers.IntegerField(help_text=_("The id of a subclass category."))
    description = serializers.CharField(max_length=4000)
    address = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    source = serializers.CharField(max_length=12, required=False, default="grid_worker")
    urgency = serializers.CharField(max_length=10, required=False, default="normal")
    emergency = serializers.BooleanField(required=False, default=False)


class EventActSerializer(InputSerializer):
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
    location = serializers.JSONField(required=False, allow_null=True, default=None,
                                     help_text=_("GeoJSON Point, WGS84: where you stand (the phone's GPS)."))
    photos = serializers.ListField(child=serializers.FileField(), required=False, default=list,
                                   help_text=_("multipart only: up to 9 JPEG/PNG/WebP images, 10 MB each."))


FILTERS = {
    "state": EventState.values, "urgency": Urgency.values, "clock_level": ClockLevel.values,
    "source": EventSource.values,
}


def filter_events(queryset, params, user):
    """The queue's filters; an unknown value is a 400 naming the filter (never silently ignored)."""
    for name, allowed in FILTERS.items():
        values = [value for value in params.get(name, "").split(",") if value]
        if not values:
            continue
        unknown = [value for value in values if value not in allowed]
        if unknown:
            raise DomainError(_("Unknown value %(value)r; one of: %(all)s.") % {
                "value": unknown[0], "all": ", ".join(allowed)}, field=name)
        queryset = queryset.filter(**{f"{name}__in": values})
    emergency = params.get("emergency", "")
    if emergency:
        if emergency not in ("true", "false", "1", "0"):
            raise DomainError(_("Use true or false."), field="emergency")
        queryset = queryset.filter(emergency=emergency in ("true", "1"))
    category = params.get("category", "")
    if category:
        if not category.isdigit():
            raise DomainError(_("Give a category id or code."), field="category")
        by_code = Q(category__code=category) | Q(category__parent__code=category)
        queryset = queryset.filter(Q(category_id=int(category)) | Q(category__parent_id=int(category)) | by_code)
    kind = params.get("kind", "")
    if kind:
        if kind not in CategoryKind.values:
            raise DomainError(_("Use event or part."), field="kind")
        queryset = queryset.filter(category__kind=kind)
    area = params.get("area", "")
    if area:
        if not area.isdigit() or len(area) not in (6, 9, 12, 15):
            raise DomainError(_("Give an area code of 6, 9, 12 or 15 digits."), field="area")
        queryset = queryset.filter(grid_code__startswith=area)
    department = params.get("department", "")
    if department:
        if not department.isdigit():
            raise DomainError(_("Give a department id."), field="department")
        queryset = queryset.filter(department_id=int(department))
    if params.get("open", "") in ("true", "1"):
        queryset = queryset.filter(state__in=workflow.OPEN_STATES)
    text = params.get("q", "").strip()
    if text:
        queryset = queryset.filter(Q(case_number__icontains=text) | Q(address__icontains=text))
    if params.get("tasks", "") in ("true", "1"):
        queryset = services.tasks_for(user, queryset)
    return queryset


QUEUE_PARAMETERS = [
    OpenApiParameter("state", str, description=_("Comma-separated states.")),
    OpenApiParameter("urgency", str, description=_("Comma-separated: normal, urgent, emergency.")),
    OpenApiParameter("clock_level", str, description=_("Comma-separated: on_time, warning, overdue, red.")),
    OpenApiParameter("source", str, description=_("Comma-separated sources.")),
    OpenApiParameter("emergency", bool),
    OpenApiParameter("category", str, description=_(
        "A category id (a class includes its subclasses), or a 2- or 4-digit code (kind tells 事件 from 部件).")),
    OpenApiParameter("kind", str, description=_("event (事件) or part (部件).")),
    OpenApiParameter("area", str, description=_("An area code: the events in its subtree.")),
    OpenApiParameter("department", int, description=_("The assigned department's id.")),
    OpenApiParameter("open", bool, description=_("Only events not yet closed or voided.")),
    OpenApiParameter("q", str, description=_("Case number or address contains.")),
    OpenApiParameter("tasks", bool, description=_("Only the events you can act on now.")),
]


def with_links(queryset):
    """Marks each event with whether it links any registry record, so a detail without links (most of them) skips
    the three lookups of linked records."""
    from django.db.models import Exists, OuterRef

    through = [Event.related_persons.through, Event.related_buildings.through, Event.related_organizations.through]
    condition = Exists(through[0].objects.filter(event_id=OuterRef("pk")))
    for model in through[1:]:
        condition |= Exists(model.objects.filter(event_id=OuterRef("pk")))
    return queryset.annotate(has_links=condition)


class EventViewSet(ChangeContextMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Events in your scope (and your departments' events)."""

    queryset = Event.objects.all()
    pagination_class = EventPagination
    parser_classes = [JSONParser, MultiPartParser]

    def get_serializer_class(self):
        return EventDetailSerializer if self.action != "list" else EventListSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Event.objects.none()
        queryset = (Event.objects.visible_to(self.request.user, VIEW_EVENT)
                    .select_related("category", "department", "routed_department"))
        if self.action == "list":
            queryset = filter_events(queryset, self.request.query_params, self.request.user)
        else:
            queryset = with_links(queryset).prefetch_related("timeline__actor", "timeline__attachments",
                                                             "attachments")
        return queryset

    @extend_schema(parameters=QUEUE_PARAMETERS)
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request={"application/json": EventReportSerializer, "multipart/form-data": EventReportSerializer},
                   responses={201: EventDetailSerializer, **NOT_FOUND})
    def create(self, request):
        data = EventReportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        event = services.do_report_event(actor=request.user, **data.validated_data)
        # The service hands the event back with its timeline and photos in hand: answered without a re-read.
        body = EventDetailSerializer(event, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request={"application/json": EventActSerializer, "multipart/form-data": EventActSerializer},
                   responses={200: EventDetailSerializer, **NOT_FOUND, **CONFLICT})
    @action(detail=True, methods=["post"])
    def act(self, request, pk=None):
        event = self.get_object()
        data = EventActSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        event = services.do_act(event, actor=request.user, **data.validated_data)
        return Response(self._detail(event))

    @extend_schema(responses={(200, "image/*"): OpenApiTypes.BINARY, **NOT_FOUND})
    @action(detail=True, methods=["get"], url_path=r"attachments/(?P<attachment_id>\d+)",
            url_name="attachment")
    def attachment(self, request, pk=None, attachment_id=None):
        """A photo of the event, for those who may see the event (the same 404 otherwise)."""
        event = self.get_object()
        found = event.attachments.filter(pk=attachment_id).first()
        if found is None:
            raise Http404
        response = FileResponse(found.file.open("rb"), content_type=found.content_type)
        response["Content-Disposition"] = f'inline; filename="{found.pk}.{found.extension}"'
        response["Cache-Control"] = "private, max-age=3600"
        response["X-Content-Type-Options"] = "nosniff"
        return response

    def _detail(self, event):
        found = (with_links(Event.objects.select_related("category", "department", "routed_department"))
                 .prefetch_related("timeline__actor", "timeline__attachments", "attachments")
                 .filter(pk=event.pk).first())
        if found is None:
            raise Http404
        return EventDetailSerializer(found, context=self.get_serializer_context()).data
