"""Accounts API: who am I, the users a manager looks after, their area assignments, API keys, unlocking."""

from django.db.models import Q
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from wangge.core.api import ChangeContextMixin
from wangge.core.errors import DomainError

from .. import services
from ..models import ApiKey, AreaAssignment, User
from ..roles import MANAGE_USERS
from . import serializers as s


class MeView(ChangeContextMixin, APIView):
    """The signed-in user (or the API key's user) and its area assignments with their roles' actions."""

    @extend_schema(responses={200: s.MeSerializer})
    def get(self, request):
        user = User.objects.prefetch_related("assignments__role").get(pk=request.user.pk)
        return Response(s.MeSerializer(user).data)


class UserViewSet(ChangeContextMixin, viewsets.ReadOnlyModelViewSet):
    """Users a manager looks after: those with at least one assignment inside the manager's scope."""

    queryset = User.objects.none()  # the schema's model; requests use get_queryset()
    serializer_class = s.UserSerializer

    def get_queryset(self):
        return User.objects.restrict(self.request.user, MANAGE_USERS).prefetch_related("assignments__role")

    @extend_schema(request=None, responses={200: s.UserSerializer})
    @action(detail=True, methods=["post"])
    def unlock(self, request, pk=None):
        """Lifts a login lock at once and clears the failure count."""
        user = self.get_object()
        services.do_unlock_user(user, actor=request.user)
        return Response(s.UserSerializer(self.get_queryset().get(pk=user.pk)).data)


def _target_user(actor, user_id):
    """A user the actor may act on, else the same 400 whether the user is missing or outside the scope."""
    managed = User.objects.restrict(actor, MANAGE_USERS)
    user = User.objects.filter(Q(pk__in=managed.values("pk")) | Q(assignments__isnull=True), pk=user_id).first()
    if user is None:
        raise DomainError(_("No such user among those you manage."), field="user", code="not_found")
    return user


class AssignmentViewSet(ChangeContextMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin,
                        viewsets.ReadOnlyModelViewSet):
    """Area assignments inside the manager's scope. A manager can grant only areas inside its own scope, and only
    roles whose actions it holds there."""

    queryset = AreaAssignment.objects.none()
    serializer_class = s.AssignmentSerializer

    def get_queryset(self):
        return AreaAssignment.objects.restrict(self.request.user, MANAGE_USERS).select_related("user", "role")

    @extend_schema(request=s.AssignmentCreateSerializer, responses={201: s.AssignmentSerializer})
    def create(self, request):
        services.ensure_may_manage(request.user)  # no permission at all: 403 before anything is looked up
        data = s.AssignmentCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = _target_user(request.user, data.validated_data["user"])
        assignment = services.do_assign_area(user, data.validated_data["area_code"], data.validated_data["role"],
                                             actor=request.user)
        return Response(s.AssignmentSerializer(assignment).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.do_remove_assignment(instance, actor=self.request.user)


class ApiKeyViewSet(ChangeContextMixin, viewsets.ReadOnlyModelViewSet):
    """Your own API keys and those of the users you manage. Only the prefix is ever shown after creation."""

    queryset = ApiKey.objects.none()
    serializer_class = s.ApiKeySerializer

    def get_queryset(self):
        user = self.request.user
        managed = User.objects.restrict(user, MANAGE_USERS)
        return ApiKey.objects.filter(Q(user=user) | Q(user__in=managed.values("pk"))).select_related("user")

    @extend_schema(request=s.ApiKeyCreateSerializer, responses={201: s.ApiKeyCreatedSerializer})
    def create(self, request):
        """Creates a key and returns it in full, once. Only its hash is stored."""
        data = s.ApiKeyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user_id = data.validated_data.get("user")
        user = request.user if user_id is None or user_id == request.user.pk else _target_user(request.user, user_id)
        key, raw = services.do_create_api_key(user, data.validated_data["name"], actor=request.user,
                                              expires_at=data.validated_data["expires_at"])
        key.key = raw
        return Response(s.ApiKeyCreatedSerializer(key).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: s.ApiKeySerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        """Revokes a key for good; requests with it are refused from now on."""
        key = self.get_object()
        services.do_revoke_api_key(key, actor=request.user)
        return Response(s.ApiKeySerializer(self.get_queryset().get(pk=key.pk)).data)
