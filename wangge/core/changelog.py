"""The change log: database triggers (django-pghistory) record every insert, update and delete of a tracked
model — bulk updates and raw SQL included — with the request context (user, request id, url) bound by
RequestContextMiddleware or by a command."""

import pghistory


def track_changes(**kwargs):
    """Class decorator: record inserts, updates and deletes of the model in its event table."""
    return pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent(), **kwargs)
