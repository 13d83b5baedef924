"""The work-team API. Reads go through `restrict(user, VIEW_WORKFORCE)` (not found and outside one's scope answer
the same 404); writes through the services, which re-check MANAGE_WORKFORCE for the area inside the transaction.
Rows are never deleted: `POST …/{id}/end/` ends a post, a membership, a volunteer period or a department."""

import datetime

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from wangge.accounts.models import User
from wangge.accounts.roles import MANAGE_WORKFORCE, VIEW_PERSON, VIEW_WORKFORCE
from wangge.core.api import ChangeContextMixin
from wangge.core.errors import DomainError
from wangge.core.scope import scope_codes
from wangge.registry.models import Person

from .. import coverage, filters, services
from ..models import Department, DepartmentMembership, GridPost, VolunteerAssignment
from . import serializers as s

NOT_FOUND = {404: OpenApiResponse(description="Not found, or outside your scope (the same answer).")}


def reference(queryset, pk, field, what):
    """A referenced row the user may use, else a 400 naming the field — unknown and out of scope alike."""
    if pk is None:
        return None
    found = queryset.filter(pk=pk).first()
    if found is None:
        raise DomainError(_("Unknown %(what)s.") % {"what": what}, field=field)
    return found


def _people(user):
    return Person.objects.restrict(user, VIEW_PERSON)


def _users(user):
    return User.objects.restrict(user, MANAGE_WORKFORCE).filter(is_active=True)


class WorkforceViewSet(ChangeContextMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                       viewsets.GenericViewSet):
    select = ()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset.none()
        if not scope_codes(self.request.user, VIEW_WORKFORCE):
            raise Http404
        return self.queryset.select_related(*self.select).restrict(self.request.user, VIEW_WORKFORCE)

    def input(self, serializer_class):
        data = serializer_class(data=self.request.data)
        data.is_valid(raise_exception=True)
        return dict(data.validated_data)

    def answer(self, record, code=status.HTTP_200_OK):
        return Response(self.get_serializer(record).data, status=code)


class DepartmentViewSet(WorkforceViewSet):
    """Departments (职能部门) and the command and supervision centres; users see those serving their area."""

    queryset = Department.objects.order_by("code")
    serializer_class = s.DepartmentSerializer
    filterset_class = filters.DepartmentFilter

    @extend_schema(request=s.DepartmentWriteSerializer, responses={201: s.DepartmentSerializer, **NOT_FOUND})
    def create(self, request):
        department = services.do_create_department(actor=request.user, **self.input(s.DepartmentWriteSerializer))
        return self.answer(department, status.HTTP_201_CREATED)

    @extend_schema(request=s.CloseSerializer, responses={200: s.DepartmentSerializer, **NOT_FOUND})
    @action(detail=True, methods=["post"])
    def end(self, request, pk=None):
        """Closes the department; its open memberships end the same day."""
        department = services.do_close_department(self.get_object(), actor=request.user,
                                                  **self.input(s.CloseSerializer))
        return self.answer(department)


class MembershipViewSet(WorkforceViewSet):
    """Department handlers: users linked to a department for a period."""

    queryset = DepartmentMembership.objects.all()
    serializer_class = s.MembershipSerializer
    filterset_class = filters.MembershipFilter
    select = ("department", "user")

    @extend_schema(request=s.MembershipWriteSerializer, responses={201: s.MembershipSerializer, **NOT_FOUND})
    def create(self, request):
        data = self.input(s.MembershipWriteSerializer)
        department = reference(Department.objects.restrict(request.user, VIEW_WORKFORCE), data.pop("department"),
                               "department", _("department"))
        # The department's scope is checked before the user is looked up: no probing for users from outside.
        services.require_manage(request.user, department.area_code)
        user = reference(_users(request.user), data.pop("user"), "user", _("user"))
        membership = services.do_add_member(department, actor=request.user, user=user, **data)
        return self.answer(membership, status.HTTP_201_CREATED)

    @extend_schema(request=s.EndMembershipSerializer, responses={200: s.MembershipSerializer, **NOT_FOUND})
    @action(detail=True, methods=["post"])
    def end(self, request, pk=None):
        membership = services.do_end_membership(self.get_object(), actor=request.user,
                                                **self.input(s.EndMembershipSerializer))
        return self.answer(membership)


class GridPostViewSet(WorkforceViewSet):
    """Grid posts: chiefs, full- and part-time workers, instructors, leader assignments (包挂). History is kept."""

    queryset = GridPost.objects.order_by("grid_code", "kind", "pk")
    serializer_class = s.GridPostSerializer
    filterset_class = filters.GridPostFilter
    select = ("holder_person",)

    @extend_schema(request=s.GridPostWriteSerializer, responses={201: s.GridPostSerializer, **NOT_FOUND})
    def create(self, request):
        data = self.input(s.GridPostWriteSerializer)
        data["holder_person"] = reference(_people(request.user), data["holder_person"], "holder_person", _("person"))
        data["holder_user"] = reference(_users(request.user), data["holder_user"], "holder_user", _("user"))
        return self.answer(services.do_appoint(actor=request.user, **data), status.HTTP_201_CREATED)

    @extend_schema(request=s.EndPostSerializer, responses={200: s.GridPostSerializer, **NOT_FOUND})
    @action(detail=True, methods=["post"])
    def end(self, request, pk=None):
        return self.answer(services.do_end_post(self.get_object(), actor=request.user,
                                                **self.input(s.EndPostSerializer)))


class VolunteerViewSet(WorkforceViewSet):
    """Party-member volunteers (党员突击队员) sent down from departments to communities or grids for a period."""

    queryset = VolunteerAssignment.objects.order_by("grid_code", "pk")
    serializer_class = s.VolunteerSerializer
    filterset_class = filters.VolunteerFilter
    select = ("department",)

    @extend_schema(request=s.VolunteerWriteSerializer, responses={201: s.VolunteerSerializer, **NOT_FOUND})
    def create(self, request):
        data = self.input(s.VolunteerWriteSerializer)
        data["department"] = reference(Department.objects.restrict(request.user, VIEW_WORKFORCE), data["department"],
                                       "department", _("department"))
        data["person"] = reference(_people(request.user), data["person"], "person", _("person"))
        data["user"] = reference(_users(request.user), data["user"], "user", _("user"))
        return self.answer(services.do_assign_volunteer(actor=request.user, **data), status.HTTP_201_CREATED)

    @extend_schema(request=s.EndVolunteerSerializer, responses={200: s.VolunteerSerializer, **NOT_FOUND})
    @action(detail=True, methods=["post"])
    def end(self, request, pk=None):
        return self.answer(services.do_end_volunteer(self.get_object(), actor=request.user,
                                                     **self.input(s.EndVolunteerSerializer)))


def _date(request):
    raw = request.query_params.get("date")
    if not raw:
        return None
    try:
        return datetime.date.fromisoformat(raw)
    except ValueError as exc:
        raise DomainError(_("Not a date (YYYY-MM-DD)."), field="date") from exc


DATE = OpenApiParameter("date", str, description="The day (YYYY-MM-DD); default: today.")


class CoverageView(APIView):
    """Grids of an area missing a chief or a grid worker on the day, with counts per community."""

    @extend_schema(parameters=[OpenApiParameter("area", str, description="Area code (6, 9, 12 or 15 digits); "
                                                                         "default: the caller's area."), DATE],
                   responses={200: s.WorkforceCoverageSerializer, **NOT_FOUND})
    def get(self, request):
        return Response(s.WorkforceCoverageSerializer(coverage.report(request.user, request.query_params.get("area"),
                                                             _date(request))).data)


class RosterView(APIView):
    """A community's posts on the day, per grid, with holders' names and masked phones."""

    @extend_schema(parameters=[OpenApiParameter("community", str, required=True,
                                                description="Community code (12 digits)."), DATE],
                   responses={200: s.WorkforceRosterSerializer, **NOT_FOUND})
    def get(self, request):
        return Response(s.WorkforceRosterSerializer(coverage.roster(request.user, request.query_params.get("community"),
                                                           _date(request))).data)
