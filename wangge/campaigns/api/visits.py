"""Visits and the person proposals they raise.

Visits are listed in your VIEW_CAMPAIGN scope without their answers (result, time, grid, flags, members counted,
whether the worker stood inside the grid); the answers are read one visit at a time through reveal/, which needs
VIEW_ANSWERS in the visit's grid and a reason, and is audited. A visit is written only by services.do_record_visit.
Proposals (members the registry does not know) are listed masked in your registry scope and reviewed by those who
may change the registry.
"""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from wangge.accounts.roles import CHANGE_PERSON, VIEW_ANSWERS, VIEW_CAMPAIGN, VIEW_PERSON, VISIT_HOUSEHOLD
from wangge.core.api import ChangeContextMixin
from wangge.core.errors import DomainError
from wangge.core.scope import scope_codes

from .. import services
from ..models import PersonProposal, ProposalState, Visit, VisitSource, VisitStatus
from . import serializers as s
from .campaigns import BAD_INPUT, FORBIDDEN, ID, NOT_FOUND, WRITE


class VisitPagination(CursorPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    ordering = ("-visited_at", "-id")


class ProposalPagination(CursorPagination):
    page_size = 100
    ordering = ("-created_at", "-id")


def _int_param(params, name):
    value = params.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise DomainError(_("Give a whole number."), field=name)
    return int(value)


def _area_param(params, name="grid"):
    value = params.get(name, "").strip()
    if value and not (value.isdigit() and len(value) in (6, 9, 12, 15)):
        raise DomainError(_("Give an area code of 6, 9, 12 or 15 digits."), field=name)
    return value


def _choice_param(params, name, allowed):
    value = params.get(name, "").strip()
    if value and value not in allowed:
        raise DomainError(_("Unknown value; one of: %(all)s.") % {"all": ", ".join(allowed)}, field=name)
    return value


VISIT_FILTERS = [
    OpenApiParameter("campaign", int),
    OpenApiParameter("round", int),
    OpenApiParameter("household", int),
    OpenApiParameter("status", str, enum=VisitStatus.values),
    OpenApiParameter("grid", str, description=_("An area code: the visits in its subtree.")),
    OpenApiParameter("flagged", bool, description=_("Only visits that raised a flag.")),
]


class VisitViewSet(ChangeContextMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Door-to-door visits in your scope, without their answers."""

    serializer_class = s.VisitSerializer
    pagination_class = VisitPagination
    lookup_value_regex = ID

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Visit.objects.none()
        queryset = Visit.objects.restrict(self.request.user, VIEW_CAMPAIGN).select_related("household", "worker")
        if self.action != "list":
            return queryset
        params = self.request.query_params
        for name in ("campaign", "round", "household"):
            value = _int_param(params, name)
            if value is not None:
                queryset = queryset.filter(**{name: value})
        wanted = _choice_param(params, "status", VisitStatus.values)
        if wanted:
            queryset = queryset.filter(status=wanted)
        grid = _area_param(params)
        if grid:
            queryset = queryset.filter(grid_code__startswith=grid)
        flagged = _choice_param(params, "flagged", ("true", "false", "1", "0"))
        if flagged:
            queryset = queryset.exclude(flags=[]) if flagged in ("true", "1") else queryset.filter(flags=[])
        return queryset

    @extend_schema(parameters=VISIT_FILTERS)
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=s.VisitWriteSerializer,
                   responses={201: s.VisitSerializer,
                              200: OpenApiResponse(s.VisitSerializer, description=_(
                                  "The instance id was seen before: the first visit, nothing written.")),
                              **WRITE})
    def create(self, request):
        """Records a call at a household (VISIT_HOUSEHOLD in its grid). Answers are checked against the campaign's
        form (every problem named by its path, e.g. members[0].fever); a household outside your grids is a 404; the
        same instance_id again answers the first visit."""
        if not scope_codes(request.user, VISIT_HOUSEHOLD):
            raise DomainError(_("Your role may not record visits."), code="forbidden")
        data = s.VisitWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        # read as the service takes it (form version and flag rules with it): the service reads neither again
        campaign = services.visit_campaigns(request.user).filter(pk=values.pop("campaign")).first()
        if campaign is None:
            raise DomainError(_("Unknown campaign."), field="campaign")
        started = timezone.now()
        visit = services.do_record_visit(campaign, actor=request.user, source=VisitSource.API, **values)
        replay = visit.created_at < started  # the service answered a repeated instance id with the first visit
        return Response(s.VisitSerializer(visit).data, status=status.HTTP_200_OK if replay else status.HTTP_201_CREATED)

    @extend_schema(request=s.AnswerRevealSerializer, responses={200: s.AnswerRevealResultSerializer, **WRITE},
                   description=_("The visit's answers (health, whereabouts: sensitive). Needs VIEW_ANSWERS in the "
                                 "visit's grid and a reason; every reading is audited."))
    @action(detail=True, methods=["post"])
    def reveal(self, request, pk=None):
        codes = scope_codes(request.user, VIEW_ANSWERS)
        if not codes:
            raise DomainError(_("Your role may not read screening answers."), code="forbidden")
        visit = Visit.objects.get_for(request.user, VIEW_ANSWERS, pk=pk)
        data = s.AnswerRevealSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        answers = services.do_reveal_answers(visit, actor=request.user, reason=data.validated_data["reason"],
                                             request_id=getattr(request, "request_id", ""))
        response = Response({"visit": visit.pk, "answers": answers, "form_version": visit.form_version_id})
        response["Cache-Control"] = "no-store"
        return response


PROPOSAL_FILTERS = [
    OpenApiParameter("campaign", int),
    OpenApiParameter("state", str, enum=ProposalState.values),
    OpenApiParameter("grid", str, description=_("An area code: the proposals in its subtree.")),
]


class ProposalViewSet(ChangeContextMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Members screened at the door whom the registry does not know, proposed for review (numbers masked)."""

    serializer_class = s.ProposalSerializer
    pagination_class = ProposalPagination
    lookup_value_regex = ID

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return PersonProposal.objects.none()
        queryset = PersonProposal.objects.restrict(self.request.user, VIEW_PERSON).select_related("visit")
        if self.action != "list":
            return queryset
        params = self.request.query_params
        campaign = _int_param(params, "campaign")
        if campaign is not None:
            queryset = queryset.filter(visit__campaign_id=campaign)
        wanted = _choice_param(params, "state", ProposalState.values)
        if wanted:
            queryset = queryset.filter(state=wanted)
        grid = _area_param(params)
        if grid:
            queryset = queryset.filter(grid_code__startswith=grid)
        return queryset

    @extend_schema(parameters=PROPOSAL_FILTERS)
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=s.ReviewSerializer, responses={200: s.ProposalSerializer, **BAD_INPUT, **FORBIDDEN,
                                                          **NOT_FOUND})
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        """Accept into the registry (a person in the household's grid, checked by the registry's service) or reject
        with a note. Needs the right to change the registry in the proposal's grid."""
        if not scope_codes(request.user, CHANGE_PERSON):
            raise DomainError(_("Your role may not change the registry."), code="forbidden")
        proposal = PersonProposal.objects.get_for(request.user, CHANGE_PERSON, pk=pk)
        data = s.ReviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        proposal = services.do_review_proposal(proposal, actor=request.user,
                                               accept=data.validated_data["decision"] == "accept",
                                               note=data.validated_data["note"])
        proposal = PersonProposal.objects.select_related("visit").get(pk=proposal.pk)
        return Response(s.ProposalSerializer(proposal).data)
