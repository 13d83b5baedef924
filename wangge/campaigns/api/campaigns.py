"""Campaigns (摸排活动) and their forms: reads through Campaign.objects.visible_to(user, VIEW_CAMPAIGN); every
change through the campaign services (which check MANAGE_CAMPAIGN in the organising area: 403 without the right,
404 outside one's scope). A worker's household list comes from worklists.worker_households."""

from django.db.models import Prefetch
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from wangge.accounts.models import User
from wangge.accounts.roles import MANAGE_CAMPAIGN, VIEW_CAMPAIGN
from wangge.core.api import ChangeContextMixin
from wangge.core.errors import DomainError
from wangge.core.scope import code_in_scope, scope_codes

from .. import services
from ..models import Campaign, CampaignState, CampaignWorker, Form, FormVersion
from ..worklists import household_count, worker_areas, worker_households
from . import serializers as s

NOT_FOUND = {404: OpenApiResponse(description="Not found, or outside your scope (the same answer).")}
FORBIDDEN = {403: OpenApiResponse(description="Your role may not do this.")}
BAD_INPUT = {400: OpenApiResponse(description="Bad input or a refused transition; the body names the field.")}
WRITE = {**BAD_INPUT, **FORBIDDEN, **NOT_FOUND}
MAX_WORKLIST = 5000  # households in one answer; beyond it, ask for one grid at a time
ID = r"\d+"  # ids only, so routes others add beside ours (forms/upload/, …) are never taken for a detail


class CampaignPagination(CursorPagination):
    page_size = 50
    ordering = ("-created_at", "-id")


class CampaignViewSet(ChangeContextMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                      mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Screening campaigns whose targets touch your area: what for, under which law, which form, which round."""

    queryset = Campaign.objects.all()
    pagination_class = CampaignPagination
    lookup_value_regex = ID
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_serializer_class(self):
        if self.action in ("create", "partial_update"):
            return s.CampaignWriteSerializer
        return s.CampaignSerializer if self.action == "list" else s.CampaignDetailSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Campaign.objects.none()
        queryset = (Campaign.objects.visible_to(self.request.user, VIEW_CAMPAIGN)
                    .select_related("form_version__form"))
        if self.action == "list":
            wanted = self.request.query_params.get("state", "")
            if wanted:
                if wanted not in CampaignState.values:
                    raise DomainError(_("Unknown state; one of: %(all)s.") % {
                        "all": ", ".join(CampaignState.values)}, field="state")
                queryset = queryset.filter(state=wanted)
        elif self.action == "retrieve":
            queryset = queryset.prefetch_related("rounds")
        return queryset

    def _detail(self, campaign, code=status.HTTP_200_OK):
        campaign = Campaign.objects.select_related("form_version__form").prefetch_related("rounds").get(
            pk=campaign.pk)
        return Response(s.CampaignDetailSerializer(campaign, context=self.get_serializer_context()).data,
                        status=code)

    @extend_schema(parameters=[OpenApiParameter("state", str, enum=CampaignState.values)])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=s.CampaignWriteSerializer, responses={201: s.CampaignDetailSerializer, **WRITE})
    def create(self, request, *args, **kwargs):
        """A draft campaign (needs MANAGE_CAMPAIGN in the organising area)."""
        data = s.CampaignWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        if "target_codes" not in values:
            values["target_codes"] = [values["area_code"]]
        campaign = services.do_create_campaign(actor=request.user, **values)
        return self._detail(campaign, status.HTTP_201_CREATED)

    @extend_schema(request=s.CampaignWriteSerializer, responses={200: s.CampaignDetailSerializer, **WRITE})
    def partial_update(self, request, *args, **kwargs):
        """Changes a draft (the organising area stays)."""
        campaign = self.get_object()
        data = s.CampaignWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        campaign = services.do_update_campaign(campaign, actor=request.user, **data.validated_data)
        return self._detail(campaign)

    @extend_schema(request=s.StartSerializer, responses={200: s.CampaignDetailSerializer, **WRITE})
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        """draft → running: round 1 opens, the ledger counts each grid's households, the work team is assigned."""
        campaign = self.get_object()  # scope first: someone from elsewhere learns nothing from a 400
        data = s.StartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._detail(services.do_start_campaign(campaign, actor=request.user,
                                                       deadline=data.validated_data["deadline"]))

    @extend_schema(request=None, responses={200: s.CampaignDetailSerializer, **WRITE})
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        """running → closed: answers are frozen; the purge falls due after the retention period."""
        return self._detail(services.do_close_campaign(self.get_object(), actor=request.user))

    @extend_schema(request=s.RescreenSerializer, responses={200: s.CampaignDetailSerializer, **WRITE})
    @action(detail=True, methods=["post"])
    def rescreen(self, request, pk=None):
        """A new round (risk areas changed): coverage starts again with its deadline; earlier rounds stay."""
        campaign = self.get_object()
        data = s.RescreenSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._detail(services.do_rescreen(campaign, actor=request.user, **data.validated_data))

    @extend_schema(request=None, responses={200: s.CampaignDetailSerializer, **WRITE})
    @action(detail=True, methods=["post"])
    def purge(self, request, pk=None):
        """closed → purged once the retention period is over: personal answers deleted, the counts kept."""
        return self._detail(services.do_purge_campaign(self.get_object(), actor=request.user))

    @extend_schema(methods=["get"], request=None, responses={200: s.WorkerSerializer(many=True), **NOT_FOUND})
    @extend_schema(methods=["post"], request=s.WorkerAssignSerializer,
                   responses={201: s.WorkerSerializer, **WRITE})
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def workers(self, request, pk=None):
        """The workers and volunteers assigned to the campaign's grids (in your scope); POST assigns one."""
        campaign = self.get_object()
        if request.method == "POST":
            data = s.WorkerAssignSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            user = User.objects.filter(pk=data.validated_data["user"], is_active=True).first()
            if user is None:
                raise DomainError(_("Unknown user."), field="user")
            worker = services.do_assign_worker(campaign, actor=request.user, grid_code=data.validated_data[
                "grid_code"], user=user, role=data.validated_data["role"])
            worker = CampaignWorker.objects.select_related("user").get(pk=worker.pk)
            return Response(s.WorkerSerializer(worker).data, status=status.HTTP_201_CREATED)
        rows = (CampaignWorker.objects.restrict(request.user, VIEW_CAMPAIGN).filter(campaign=campaign)
                .select_related("user").order_by("grid_code", "user_id"))
        return Response(s.WorkerSerializer(rows, many=True).data)

    @extend_schema(methods=["get"], request=None, responses={200: s.FlagRuleSerializer(many=True), **NOT_FOUND})
    @extend_schema(methods=["post"], request=s.FlagRuleWriteSerializer,
                   responses={201: s.FlagRuleSerializer, **WRITE})
    @action(detail=True, methods=["get", "post"], url_path="flag-rules", url_name="flag-rules",
            pagination_class=None)
    def flag_rules(self, request, pk=None):
        """Rules on answers (fever → an urgent event); POST adds one, checked against the campaign's form."""
        campaign = self.get_object()
        if request.method == "POST":
            data = s.FlagRuleWriteSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            rule = services.do_add_flag_rule(campaign, actor=request.user, **data.validated_data)
            return Response(s.FlagRuleSerializer(rule).data, status=status.HTTP_201_CREATED)
        return Response(s.FlagRuleSerializer(campaign.flag_rules.order_by("code"), many=True).data)

    @extend_schema(parameters=[OpenApiParameter("grid", str, description=_("One grid's households (15 digits)."))],
                   responses={200: s.HouseholdStandingSerializer(many=True), **BAD_INPUT, **NOT_FOUND})
    @action(detail=True, methods=["get"], pagination_class=None)
    def households(self, request, pk=None):
        """Your households to visit in the current round — your assigned grids (staff: your scope) — with each
        household's standing and address. No person's name or number."""
        campaign = self.get_object()
        grid = request.query_params.get("grid", "").strip()
        areas = worker_areas(campaign, request.user)
        if grid:
            if not (grid.isdigit() and len(grid) == 15):
                raise DomainError(_("Give a grid code of 15 digits."), field="grid")
            if not code_in_scope(grid, areas):
                raise Http404
        elif any(len(code) < 15 for code in areas) and household_count(areas) > MAX_WORKLIST:
            raise DomainError(_("More than %(count)s households: ask for one grid at a time.") % {
                "count": MAX_WORKLIST}, field="grid")
        rows = worker_households(campaign, request.user, grid_code=grid or None)
        return Response(s.HouseholdStandingSerializer(rows, many=True).data)


class FormViewSet(ChangeContextMixin, viewsets.ReadOnlyModelViewSet):
    """Screening forms and their versions (read-only here), for those who see or run campaigns."""

    serializer_class = s.FormSerializer
    lookup_value_regex = ID

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Form.objects.none()
        user = self.request.user
        if not (scope_codes(user, VIEW_CAMPAIGN) or scope_codes(user, MANAGE_CAMPAIGN)):
            return Form.objects.none()
        return Form.objects.prefetch_related(Prefetch("versions", queryset=FormVersion.objects.only(
            "id", "form_id", "number")))

    @extend_schema(responses={200: s.FormVersionSerializer(many=True), **NOT_FOUND})
    @action(detail=True, methods=["get"], pagination_class=None)
    def versions(self, request, pk=None):
        """Every version of the form, oldest first, with its definition."""
        form = self.get_object()
        return Response(s.FormVersionSerializer(form.versions.order_by("number"), many=True).data)
