"""The in-app inbox (issue 4 §5): `notify` writes one row per recipient; the API lists a user's own rows only.

Titles and bodies name the case number and what happened — never a person's name, ID number or phone — because an
inbox is shown in headers and may be forwarded to outbound channels later.
"""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from wangge.core.errors import DomainError
from wangge.outbox import services as outbox

from .models import Notification


def notify(users, kind, event, title, body=""):
    """One Notification per distinct active user in `users` (users or ids); returns the rows written. Their outbound
    messages (SMS, IM, …: wangge/outbox) are queued in the same transaction."""
    ids = {getattr(user, "pk", user) for user in users if user is not None}
    ids.discard(None)
    if not ids:
        return []
    rows = [Notification(recipient_id=user_id, event=event, kind=kind, title=title[:200], body=body)
            for user_id in sorted(ids)]
    with transaction.atomic():  # the outbox messages commit with their notifications, or neither does
        rows = Notification.objects.bulk_create(rows, batch_size=1000)
        outbox.enqueue(rows)
    return rows


def inbox(user):
    return Notification.objects.filter(recipient=user)


def unread_count(user):
    return inbox(user).filter(read_at__isnull=True).count()


@transaction.atomic
def do_mark_read(notification_id, *, user):
    """Marks one of the user's own notifications read (someone else's answers 404: the same as unknown)."""
    from django.http import Http404

    if not str(notification_id).isdigit():
        raise DomainError(_("Unknown notification."), field="id")
    notification = inbox(user).select_for_update().filter(pk=notification_id).first()
    if notification is None:
        raise Http404
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification
