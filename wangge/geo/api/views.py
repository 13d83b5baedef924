from django.db.models import Count
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from wangge.accounts.roles import CHANGE_AREA, VIEW_AREA, VIEW_HISTORY
from wangge.core.api import ChangeContextMixin, ScopedReadOnlyViewSet
from wangge.core.errors import DomainError
from wangge.core.history import history_of
from wangge.core.scope import scope_codes

from .. import services
from ..filters import AreaFilter
from ..jobs import validate_generation
from ..lookup import lookup_chain
from ..models import Area, Generation
from . import serializers as s


def _require_any_scope(user, action_name):
    if not user.is_superuser and not scope_codes(user, action_name):
        raise DomainError(_("You may not do this."), code="forbidden")


class GenerationViewSet(ChangeContextMixin, mixins.DestroyModelMixin, viewsets.ReadOnlyModelViewSet):
    """Boundary generations: list, create a draft, validate, activate, discard."""

    queryset = Generation.objects.annotate(area_count=Count("areas"))
    serializer_class = s.GenerationSerializer
    pagination_class = None

    def get_queryset(self):
        _require_any_scope(self.request.user, VIEW_AREA)
        return super().get_queryset()

    def get_serializer_class(self):
        return s.GenerationDetailSerializer if self.action == "retrieve" else s.GenerationSerializer

    @extend_schema(request=s.DraftCreateSerializer, responses={201: s.GenerationSerializer})
    def create(self, request):
        data = s.DraftCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        draft = services.do_create_draft(actor=request.user, **data.validated_data)
        draft.area_count = draft.areas.count()
        return Response(s.GenerationSerializer(draft).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.do_discard_draft(instance, actor=self.request.user)

    @extend_schema(request=None, responses={200: s.GenerationDetailSerializer, 202: dict},
                   parameters=[OpenApiParameter("background", bool, description=_(
                       "Queue the validation as a job (for city-sized drafts) and answer 202 at once."))])
    @action(detail=True, methods=["post"])
    def validate(self, request, pk=None):
        generation = self.get_object()
        if request.query_params.get("background") in ("1", "true"):
            services.ensure_may_manage(request.user)
            job_id = validate_generation.defer(generation_id=generation.pk, actor_id=request.user.pk)
            return Response({"job": job_id, "generation": generation.pk}, status=status.HTTP_202_ACCEPTED)
        services.do_validate_generation(generation, actor=request.user)
        return Response(s.GenerationDetailSerializer(self.get_queryset().get(pk=generation.pk)).data)

    @extend_schema(request=s.ActivateSerializer, responses={200: s.GenerationDetailSerializer})
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        generation = self.get_object()
        data = s.ActivateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.do_activate_generation(generation, actor=request.user, **data.validated_data)
        return Response(s.GenerationDetailSerializer(self.get_queryset().get(pk=generation.pk)).data)

    @extend_schema(request=s.AreaCreateSerializer, responses={201: s.AreaDetailSerializer})
    @action(detail=True, methods=["post"], url_path="areas")
    def create_area(self, request, pk=None):
        generation = self.get_object()
        data = s.AreaCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        area = services.do_create_area(generation, actor=request.user, **data.validated_data)
        return Response(s.AreaDetailSerializer(area).data, status=status.HTTP_201_CREATED)


class AreaViewSet(ScopedReadOnlyViewSet):
    """Areas of any generation (default: the active one), restricted to the user's scope."""

    queryset = Area.objects.select_related("parent")
    view_action = VIEW_AREA
    filterset_class = AreaFilter
    serializer_class = s.AreaSerializer

    def base_queryset(self):
        queryset = super().base_queryset()
        if self.action == "list" and "generation" not in self.request.query_params:
            queryset = queryset.current()
        return queryset

    def get_serializer_class(self):
        return s.AreaDetailSerializer if self.action != "list" else s.AreaSerializer

    @extend_schema(request=s.AreaWriteSerializer, responses={200: s.AreaDetailSerializer})
    def partial_update(self, request, pk=None):
        area = self.get_object()
        data = s.AreaWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        area = services.do_update_area(area, actor=request.user, **data.validated_data)
        return Response(s.AreaDetailSerializer(area).data)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request, pk=None):
        services.do_retire_area(self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=s.SplitSerializer, responses={200: s.AreaDetailSerializer(many=True)})
    @action(detail=True, methods=["post"])
    def split(self, request, pk=None):
        data = s.SplitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        areas = services.do_split_area(self.get_object(), actor=request.user, **data.validated_data)
        return Response(s.AreaDetailSerializer(areas, many=True).data)

    @extend_schema(request=s.MergeSerializer, responses={200: s.AreaDetailSerializer})
    @action(detail=False, methods=["post"])
    def merge(self, request):
        data = s.MergeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        areas = list(Area.objects.restrict(request.user, CHANGE_AREA).filter(pk__in=data.validated_data["areas"]))
        if len(areas) != len(set(data.validated_data["areas"])):
            raise DomainError(_("Some of these areas do not exist or are outside your scope."), field="areas",
                              code="not_found")
        return Response(s.AreaDetailSerializer(services.do_merge_areas(areas, actor=request.user)).data)

    @extend_schema(request=None, responses={200: dict})
    @action(detail=True, methods=["post"])
    def renumber(self, request, pk=None):
        return Response({"renumbered": services.do_renumber_grids(self.get_object(), actor=request.user)})

    @extend_schema(responses={200: dict})
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        """The change log of this area: every insert, update and delete, with who, when and the request."""
        area = Area.objects.get_for(request.user, VIEW_HISTORY, pk=pk)
        return Response({"results": history_of(area)})


class LookupView(ChangeContextMixin, APIView):
    """Which district, subdistrict, community and grid hold a point — now, or on a past date (`at`)."""

    @extend_schema(parameters=[s.LookupQuerySerializer], responses={200: s.LookupResultSerializer},
                   description=_("An empty chain, not an error, for a point outside every area you can see."))
    def get(self, request):
        query = s.LookupQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(lookup_chain(request.user, **query.validated_data))

