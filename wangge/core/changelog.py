"""The change log: database triggers (django-pghistory) record every insert, update and delete of a tracked
model — bulk updates and raw SQL included — with the request context (user, request id, url) bound by
RequestContextMiddleware or by a command."""

import pghistory
from django.contrib.gis.db.models import GeometryField


def track_changes(**kwargs):
    """Class decorator: record inserts, updates and deletes of the model in its event table.

    The event table is read by object and by request (its indexes are on those); a geometry is copied without the
    spatial index the tracked model has — nothing searches the log by place, and every tracked write would
    maintain it (settings.PGHISTORY_FOREIGN_KEY_FIELD does the same for foreign keys)."""

    def decorate(model):
        exclude, fields = kwargs.get("exclude") or [], kwargs.get("fields")
        unindexed = {}
        for field in model._meta.local_fields:
            if (isinstance(field, GeometryField) and field.spatial_index and field.name not in exclude
                    and (fields is None or field.name in fields)):
                _name, _path, args, options = field.deconstruct()
                options = {**options, "spatial_index": False, "db_index": False, "unique": False, "primary_key": False}
                unindexed[field.name] = type(field)(*args, **options)
        attrs = {**unindexed, **(kwargs.get("attrs") or {})}
        track = pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent(),
                                **{**kwargs, "attrs": attrs})
        return track(model)

    return decorate
