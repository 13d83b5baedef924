"""The in-app inbox: a user's own notifications only (unread first), mark one read, the unread count."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from .. import notifications
from ..models import Notification


class NotificationPagination(CursorPagination):
    page_size = 50
    ordering = ("-created_at", "-id")


class NotificationSerializer(serializers.ModelSerializer):
    case_number = serializers.CharField(source="event.case_number", read_only=True, allow_null=True)

    class Meta:
        model = Notification
        fields = ["id", "kind", "event", "case_number", "title", "body", "created_at", "read_at"]
        read_only_fields = fields


UnreadCount = inline_serializer("UnreadCount", {"unread": serializers.IntegerField()})


class NotificationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Your own notifications, newest first."""

    serializer_class = NotificationSerializer
    pagination_class = NotificationPagination
    queryset = Notification.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Notification.objects.none()
        return notifications.inbox(self.request.user).select_related("event")

    @extend_schema(request=None, responses={200: NotificationSerializer,
                                            404: OpenApiResponse(description="Not one of your notifications.")})
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        notification = notifications.do_mark_read(pk, user=request.user)
        return Response(NotificationSerializer(notification).data)

    @extend_schema(responses={200: UnreadCount})
    @action(detail=False, methods=["get"], url_path="unread-count")
    def unread_count(self, request):
        return Response({"unread": notifications.unread_count(request.user)})
