from django.contrib import admin

from wangge.core.admin import ReadOnlyAdmin

from .models import CapturedMessage, OutboundAddress, OutboxMessage


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "channel", "recipient", "status", "attempts", "next_attempt_at", "created_at", "sent_at"]
    list_filter = ["status", "channel"]
    list_select_related = ["recipient"]
    date_hierarchy = "created_at"


@admin.register(OutboundAddress)
class OutboundAddressAdmin(ReadOnlyAdmin):
    """Masked addresses only: users set their own through the API."""

    list_display = ["user", "channel", "address_masked", "active", "updated_at"]
    list_filter = ["channel", "active"]
    list_select_related = ["user"]


@admin.register(CapturedMessage)
class CapturedMessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "channel", "recipient", "title", "created_at"]
    list_filter = ["channel"]
    list_select_related = ["recipient"]
