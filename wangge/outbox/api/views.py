"""The outbox API: your own outbound addresses (each user sees and edits only theirs), the configured channels, and
for administrators (accounts.manage_users) the outbox messages of the users in their scope, read-only."""

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from wangge.accounts.models import User
from wangge.accounts.roles import MANAGE_USERS
from wangge.core.api import ChangeContextMixin
from wangge.core.scope import scope_codes

from .. import channels as outbound_channels
from .. import services
from ..filters import OutboxMessageFilter
from ..models import OutboundAddress, OutboxMessage
from . import serializers as s

NOT_FOUND = {404: OpenApiResponse(description="Not found, or not yours (the same answer).")}


class OutboundAddressViewSet(ChangeContextMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                             mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Where you are reached outside the application: one address per channel, masked in every answer."""

    serializer_class = s.OutboundAddressSerializer
    queryset = OutboundAddress.objects.none()
    pagination_class = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return OutboundAddress.objects.none()
        return services.addresses_of(self.request.user)

    @extend_schema(request=s.OutboundAddressSerializer, responses={201: s.OutboundAddressSerializer})
    def create(self, request):
        data = s.OutboundAddressSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = services.do_add_address(actor=request.user, **data.validated_data)
        return Response(s.OutboundAddressSerializer(row).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.OutboundAddressUpdateSerializer,
                   responses={200: s.OutboundAddressSerializer, **NOT_FOUND})
    def partial_update(self, request, pk=None):
        data = s.OutboundAddressUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = services.do_update_address(self.get_object(), actor=request.user, **data.validated_data)
        return Response(s.OutboundAddressSerializer(row).data)

    def perform_destroy(self, instance):
        services.do_remove_address(instance, actor=self.request.user)

    @extend_schema(responses={200: s.ChannelSerializer(many=True)})
    @action(detail=False, methods=["get"], pagination_class=None)
    def channels(self, request):
        """The channels configured on this installation."""
        return Response([{"name": name, "needs_address": channel.needs_address}
                         for name, channel in outbound_channels.configured().items()])


class OutboxPagination(CursorPagination):
    page_size = 100
    ordering = ("-created_at", "-id")


class OutboxMessageViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Outbox messages of the users inside your accounts.manage_users scope, newest first; `?status=dead` lists
    what was given up."""

    serializer_class = s.OutboxMessageSerializer
    queryset = OutboxMessage.objects.none()
    pagination_class = OutboxPagination
    filterset_class = OutboxMessageFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return OutboxMessage.objects.none()
        user = self.request.user
        if not scope_codes(user, MANAGE_USERS):
            raise Http404
        return (OutboxMessage.objects.filter(recipient__in=User.objects.restrict(user, MANAGE_USERS))
                .select_related("recipient", "notification"))
