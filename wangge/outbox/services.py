"""The outbox's writes: users' outbound addresses, queueing messages with their notifications, and delivery.

- `enqueue(notifications)` runs inside the transaction that writes the notifications (cases.notifications.notify):
  the messages commit with them or not at all, and the delivery job is deferred once the transaction commits.
  `enqueue_ids(ids, recipient ids)` is the same for many notifications at once, without instances (the clock job).
- `deliver_due()` is what the jobs run: it claims one due message at a time (SELECT … FOR UPDATE SKIP LOCKED, so
  workers running side by side never send one message twice), sends it, and records the outcome in the same
  transaction. A crash between the send and the commit sends that message again on the next run (at least once;
  the `Idempotency-Key` header lets a receiver drop the repeat).
"""

import logging
import re
from collections import Counter
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from wangge.core import pii
from wangge.core.bulk import new_row_values
from wangge.core.errors import DomainError

from . import channels
from .models import OutboundAddress, OutboxMessage, address_purpose

logger = logging.getLogger("wangge.outbox")

Status = OutboxMessage.Status


# Addresses -----------------------------------------------------------------------------------------------------------

def addresses_of(user):
    return OutboundAddress.objects.filter(user=user)


def _channel_for_address(name):
    channel = channels.addressable().get(name)
    if channel is None:
        raise DomainError(_("Unknown channel, or one that needs no address."), field="channel")
    return channel


def _seal(address_row, channel, value):
    clean = channel.clean_address(value)
    address_row.address_enc = pii.encrypt(clean, purpose=address_purpose(channel.name))
    address_row.address_masked = channel.mask(clean)


@transaction.atomic
def do_add_address(*, actor, channel, address, active=True):
    """The actor's own address on `channel` (one per channel)."""
    target = _channel_for_address(channel)
    row = OutboundAddress(user=actor, channel=target.name, active=active)
    _seal(row, target, address)
    if OutboundAddress.objects.filter(user=actor, channel=target.name).exists():
        raise DomainError(_("You already have an address for this channel: change that one."), field="channel")
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:  # the same request twice at once
        raise DomainError(_("You already have an address for this channel: change that one."),
                          field="channel") from None
    return row


def _own(address_row, actor):
    """Re-read under lock, and only if it is the actor's own: someone else's answers 404 (the same as unknown)."""
    row = OutboundAddress.objects.select_for_update().filter(pk=address_row.pk, user=actor).first()
    if row is None:
        raise Http404
    return row


@transaction.atomic
def do_update_address(address_row, *, actor, address=None, active=None):
    row = _own(address_row, actor)
    fields = []
    if address is not None:
        channel = channels.configured().get(row.channel)
        if channel is None or not channel.needs_address:
            raise DomainError(_("This channel is no longer configured: remove the address."), field="address")
        _seal(row, channel, address)
        fields += ["address_enc", "address_masked"]
    if active is not None:
        row.active = bool(active)
        fields.append("active")
    if fields:
        row.save(update_fields=[*fields, "updated_at"])
    return row


@transaction.atomic
def do_remove_address(address_row, *, actor):
    _own(address_row, actor).delete()


# Queueing ------------------------------------------------------------------------------------------------------------

def enqueue(notifications):
    """Outbox messages for freshly written notifications (saved instances), in the caller's transaction: per
    notification, one for every configured channel the recipient (an active user) has an active address for, and one
    for every channel that needs none (capture). Returns the number of messages written."""
    saved = [(n.pk, n.recipient_id) for n in notifications if n.pk is not None]
    return enqueue_ids([pk for pk, _recipient in saved], [recipient for _pk, recipient in saved])


def enqueue_ids(notification_ids, recipient_ids):
    """`enqueue` for notifications given by id, with their recipients' ids in the same order (no instances: the clock
    job queues tens of thousands at once). One INSERT … SELECT: the notifications × the configured channels, those
    needing an address kept only where the recipient, an active user, has an active one; the messages are numbered
    in the order given, channel by channel as configured. The addresses stay sealed: only their presence is read."""
    configured = channels.configured()
    if not notification_ids or not configured:
        return 0
    # the other columns take what a new message holds: pending, no attempts, due now
    fixed = {field.column: value for field, value in
             new_row_values(OutboxMessage, ("notification", "channel", "recipient")).items()}
    names = list(configured)
    needs = [configured[name].needs_address for name in names]
    message, address, user = OutboxMessage._meta, OutboundAddress._meta, get_user_model()._meta
    quote = connection.ops.quote_name
    column = {name: quote(message.get_field(name).column) for name in ("notification", "channel", "recipient")}
    sql = (f"INSERT INTO {quote(message.db_table)} ({column['notification']}, {column['recipient']}, "
           f"{column['channel']}, {', '.join(quote(name) for name in fixed)}) "
           f"SELECT n.id, n.recipient_id, c.name, {', '.join(['%s'] * len(fixed))} "
           "FROM unnest(%s::bigint[], %s::bigint[]) WITH ORDINALITY AS n(id, recipient_id, position) "
           "CROSS JOIN unnest(%s::text[], %s::boolean[]) WITH ORDINALITY AS c(name, needs_address, position) "
           "WHERE NOT c.needs_address OR EXISTS ("
           f"SELECT 1 FROM {quote(address.db_table)} a JOIN {quote(user.db_table)} u "
           f"ON u.{quote(user.pk.column)} = a.{quote(address.get_field('user').column)} "
           f"WHERE a.{quote(address.get_field('user').column)} = n.recipient_id "
           f"AND a.{quote(address.get_field('channel').column)} = c.name "
           f"AND a.{quote(address.get_field('active').column)} AND u.{quote(user.get_field('is_active').column)}) "
           "ORDER BY n.position, c.position")
    with connection.cursor() as cursor:
        cursor.execute(sql, [*fixed.values(), list(notification_ids), list(recipient_ids), names, needs])
        written = cursor.rowcount
    if written:
        transaction.on_commit(schedule_delivery, robust=True)
    return written


def schedule_delivery():
    """Defers the delivery job, unless one is already waiting (its queueing lock): a burst of notifications queues
    one job, not one each. The periodic job picks up anything a lost defer missed."""
    from procrastinate.exceptions import AlreadyEnqueued

    from .jobs import deliver

    try:
        with transaction.atomic():
            deliver.defer()
    except AlreadyEnqueued:
        pass


# Delivery ------------------------------------------------------------------------------------------------------------

_DIGITS = re.compile(r"\+?\d[\d\s-]{5,}\d")


def scrub(text):
    """An error for the record and the log: long digit runs (a number that slipped in) blanked, at most 500 chars."""
    return _DIGITS.sub("[number]", str(text))[:500]


def _claim(now):
    return (OutboxMessage.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("notification__event", "recipient")
            .filter(status__in=OutboxMessage.DUE, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "id").first())


def deliver_due(*, now=None, limit=500):
    """Sends up to `limit` due messages, each in its own transaction; returns {status: count} of this run."""
    counts = Counter()
    registry = channels.configured()
    for _i in range(limit):
        with transaction.atomic():
            moment = now or timezone.now()
            message = _claim(moment)
            if message is None:
                break
            counts[str(_attempt(message, registry.get(message.channel), moment))] += 1
    return dict(counts)


def _give_up(message, reason):
    message.status, message.last_error = Status.DEAD, scrub(reason)
    logger.warning("outbox message %s via %s: given up after %s attempt(s): %s",
                   message.pk, message.channel, message.attempts, message.last_error)
    return message.status


def _attempt(message, channel, now):
    """One attempt at one claimed message; saves and returns its new status."""
    message.attempts += 1
    status = _send(message, channel, now)
    message.save(update_fields=["status", "attempts", "next_attempt_at", "last_error", "sent_at"])
    return status


def _send(message, channel, now):
    if channel is None:
        return _give_up(message, "the channel is not configured")
    if not message.recipient.is_active:
        return _give_up(message, "the recipient's account is inactive")
    address = None
    if channel.needs_address:
        row = OutboundAddress.objects.filter(user_id=message.recipient_id, channel=message.channel,
                                             active=True).first()
        if row is None:
            return _give_up(message, "the recipient has no active address on this channel")
        address = row.address
    notification = message.notification
    payload = channels.Message(
        id=message.pk, channel=message.channel, recipient_id=message.recipient_id, kind=notification.kind,
        title=notification.title, text=notification.body,
        case_number=notification.event.case_number if notification.event_id else None, address=address)
    try:
        with transaction.atomic():  # a channel that writes (capture) and fails leaves this transaction usable
            channel.send(payload)
    except channels.PermanentError as exc:
        return _give_up(message, exc)
    except Exception as exc:
        # TransientError, and anything unexpected in a channel: try again later. Only the type of an unexpected
        # error is kept: its text could hold anything.
        error = str(exc) if isinstance(exc, channels.TransientError) else f"unexpected {type(exc).__name__}"
        if message.attempts >= channel.max_attempts:
            return _give_up(message, error)
        delay = channel.backoff(message.attempts)
        message.status, message.last_error = Status.FAILED, scrub(error)
        message.next_attempt_at = now + timedelta(seconds=delay)
        logger.info("outbox message %s via %s: attempt %s failed (%s), next in %ss",
                    message.pk, message.channel, message.attempts, message.last_error, delay)
        return message.status
    message.status, message.sent_at, message.last_error = Status.SENT, now, ""
    logger.info("outbox message %s via %s: sent", message.pk, message.channel)
    return message.status
