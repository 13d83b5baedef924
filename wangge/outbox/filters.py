"""Filters of the outbox API."""

import django_filters
from django.utils.translation import gettext_lazy as _

from .models import OutboxMessage


class OutboxMessageFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=OutboxMessage.Status.choices)
    channel = django_filters.CharFilter(label=_("channel"))
    recipient = django_filters.NumberFilter(field_name="recipient_id", label=_("recipient (user id)"))

    class Meta:
        model = OutboxMessage
        fields = ["status", "channel", "recipient"]
