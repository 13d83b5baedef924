"""Outbound notifications (issue 4 §5): where each user may be reached, and the outbox of messages to deliver.

An `OutboxMessage` is written in the same transaction as the in-app `Notification` it carries (nothing is lost if
the process dies), one per notification per channel; the delivery job sends it and keeps its state.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from wangge.core import pii
from wangge.core.changelog import track_changes


def address_purpose(channel):
    """The associated data an address is sealed under: an address sealed for one channel opens for no other."""
    return f"outbox.address.{channel}"


@track_changes(exclude=["address_enc"])
class OutboundAddress(models.Model):
    """Where one user is reached on one channel: a mobile number for SMS, an account id for an IM robot.

    The address is personal data: stored encrypted (wangge/core/pii.py) with its masked form beside it; lists and the
    API only ever show the mask, and only the delivery job decrypts it, to hand it to the channel."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="outbound_addresses")
    channel = models.CharField(_("channel"), max_length=32)
    address_enc = models.TextField(editable=False)
    address_masked = models.CharField(_("address"), max_length=64, editable=False)
    active = models.BooleanField(pgettext_lazy("outbound address", "active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("outbound address")
        verbose_name_plural = _("outbound addresses")
        ordering = ["channel", "id"]
        constraints = [models.UniqueConstraint(fields=["user", "channel"], name="outbound_address_unique_channel")]

    def __str__(self):
        return f"{self.user_id} {self.channel}: {self.address_masked}"

    @property
    def address(self):
        """The plain address (decrypts: for the delivery job only)."""
        return pii.decrypt(self.address_enc, purpose=address_purpose(self.channel))


class OutboxMessage(models.Model):
    """One notification to deliver on one channel, with its delivery state.

    pending → sent; a transient failure → failed (retried at `next_attempt_at`, backing off) → … → sent, or dead after
    the channel's maximum attempts; a permanent failure → dead at once. `last_error` never holds personal data."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed (will retry)")
        DEAD = "dead", _("dead (given up)")

    DUE = (Status.PENDING, Status.FAILED)

    notification = models.ForeignKey("cases.Notification", on_delete=models.CASCADE, related_name="outbox_messages")
    channel = models.CharField(_("channel"), max_length=32)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="outbox_messages")
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["notification", "channel"], name="outbox_one_per_channel")]
        indexes = [
            # What the delivery job claims: the due rows, oldest first; sent and dead rows stay out of the index.
            models.Index(fields=["next_attempt_at", "id"], name="outbox_due",
                         condition=Q(status__in=["pending", "failed"])),
            models.Index(fields=["status", "-created_at"], name="outbox_status_created"),
        ]

    def __str__(self):
        return f"{self.pk} {self.channel} → {self.recipient_id} ({self.status})"


class CapturedMessage(models.Model):
    """What the `capture` channel "sent": the rendered message, for tests and the offline demo. Holds no address."""

    message = models.OneToOneField(OutboxMessage, on_delete=models.CASCADE, related_name="capture")
    channel = models.CharField(_("channel"), max_length=32)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    title = models.CharField(_("title"), max_length=200)
    text = models.TextField(_("text"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("captured message")
        verbose_name_plural = _("captured messages")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.recipient_id}: {self.title}"
