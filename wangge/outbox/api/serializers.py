from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from ..models import OutboundAddress, OutboxMessage


class OutboundAddressSerializer(serializers.ModelSerializer):
    """One of your own addresses. The address itself is write-only: answers show its mask."""

    address = serializers.CharField(write_only=True, max_length=200, help_text=_(
        "SMS: a mobile number (11 digits). IM webhook: your account id on the IM. Never shown again: answers carry "
        "the masked form."))

    class Meta:
        model = OutboundAddress
        fields = ["id", "channel", "address", "address_masked", "active", "created_at", "updated_at"]
        read_only_fields = ["address_masked", "created_at", "updated_at"]
        extra_kwargs = {"channel": {"help_text": _("A configured channel that needs an address (GET channels/).")}}


class OutboundAddressUpdateSerializer(serializers.Serializer):
    address = serializers.CharField(required=False, max_length=200)
    active = serializers.BooleanField(required=False)


class ChannelSerializer(serializers.Serializer):
    name = serializers.CharField()
    needs_address = serializers.BooleanField()


class OutboxMessageSerializer(serializers.ModelSerializer):
    recipient_username = serializers.CharField(source="recipient.username", read_only=True)
    kind = serializers.CharField(source="notification.kind", read_only=True)
    title = serializers.CharField(source="notification.title", read_only=True)

    class Meta:
        model = OutboxMessage
        fields = ["id", "notification", "kind", "title", "channel", "recipient", "recipient_username", "status",
                  "attempts", "next_attempt_at", "last_error", "created_at", "sent_at"]
        read_only_fields = fields
